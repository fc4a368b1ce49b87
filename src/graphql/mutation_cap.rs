//! At most [`MAX_MUTATIONS`] mutation fields per request. Every `createApiKey` or
//! secret regeneration costs an argon2id hash (~25 ms); without a cap, one request of
//! aliased mutations within the complexity limit could hold the hashing pool for
//! seconds. Counted on the parsed document, before anything runs.

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet,
};
use async_graphql::{ServerError, ServerResult, Variables};
use std::sync::Arc;

/// Mutation fields one request may carry.
pub const MAX_MUTATIONS: usize = 10;

/// The extension (see the module documentation).
pub struct MutationCap;

impl ExtensionFactory for MutationCap {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(MutationCapExtension)
    }
}

struct MutationCapExtension;

#[async_trait::async_trait]
impl Extension for MutationCapExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let operations: Vec<_> = match &document.operations {
            DocumentOperations::Single(op) => vec![op],
            DocumentOperations::Multiple(ops) => ops.values().collect(),
        };
        for op in operations {
            if op.node.ty == OperationType::Mutation {
                let mut budget = MAX_MUTATIONS + 1;
                let fields = root_fields(&document, &op.node.selection_set.node, &mut budget, 0);
                if fields > MAX_MUTATIONS {
                    let mut error = ServerError::new(
                        format!("at most {MAX_MUTATIONS} mutations per request"),
                        Some(op.pos),
                    );
                    error.extensions = Some({
                        let mut ext = async_graphql::ErrorExtensionValues::default();
                        ext.set("code", "BAD_USER_INPUT");
                        ext
                    });
                    return Err(error);
                }
            }
        }
        Ok(document)
    }
}

/// Fields at the root of `set`, looking through fragments; stops counting once `budget`
/// is spent, and at a fragment nesting depth the parser's own limits already bound.
fn root_fields(
    document: &ExecutableDocument,
    set: &SelectionSet,
    budget: &mut usize,
    depth: usize,
) -> usize {
    let mut count = 0;
    for selection in &set.items {
        if *budget == 0 || depth > 16 {
            break;
        }
        count += match &selection.node {
            Selection::Field(_) => {
                *budget -= 1;
                1
            }
            Selection::InlineFragment(fragment) => root_fields(
                document,
                &fragment.node.selection_set.node,
                budget,
                depth + 1,
            ),
            Selection::FragmentSpread(spread) => document
                .fragments
                .get(&spread.node.fragment_name.node)
                .map_or(0, |f| {
                    root_fields(document, &f.node.selection_set.node, budget, depth + 1)
                }),
        };
    }
    count
}
