//! The `path` of a PATCH operation (RFC 7644 §3.5.2): `attr`, `attr.sub`,
//! `attr[filter]`, `attr[filter].sub`, each optionally prefixed with an extension URN.

use super::errors::ScimError;
use super::filter::{AttrPath, ENTERPRISE_SCHEMA, Filter};

/// A path: an attribute, optionally a value filter on it, optionally a sub-attribute, and
/// the extension schema it lives in (`None`: the core schema, top level).
pub(super) struct Path {
    pub(super) extension: Option<String>,
    pub(super) attr: String,
    pub(super) filter: Option<Filter>,
    pub(super) sub: Option<String>,
}

/// The extension schemas a path may name (besides the core User schema).
const EXTENSIONS: [&str; 1] = [ENTERPRISE_SCHEMA];

pub(super) fn parse_path(text: &str) -> Result<Path, ScimError> {
    let mut extension = None;
    let mut rest = text;
    if let Some(schema) = EXTENSIONS
        .iter()
        .find(|s| text.len() >= s.len() && text[..s.len()].eq_ignore_ascii_case(s))
    {
        extension = Some((*schema).to_owned());
        rest = text[schema.len()..].strip_prefix(':').unwrap_or("");
        if rest.is_empty() {
            // The whole extension object.
            return Ok(Path {
                extension: None,
                attr: (*schema).to_owned(),
                filter: None,
                sub: None,
            });
        }
    }
    let bad = |why: &str| ScimError::invalid_path(format!("{text:?}: {why}"));
    let (head, filter, tail) = match rest.find('[') {
        Some(open) => {
            let close = rest.rfind(']').ok_or_else(|| bad("\"[\" is not closed"))?;
            let filter = Filter::parse(&rest[open + 1..close])
                .map_err(|e| ScimError::invalid_path(format!("{text:?}: {e}")))?;
            let tail = rest[close + 1..].strip_prefix('.');
            if tail.is_none() && close + 1 != rest.len() {
                return Err(bad("unexpected text after \"]\""));
            }
            (&rest[..open], Some(filter), tail)
        }
        None => (rest, None, None),
    };
    let parsed = AttrPath::parse(head).map_err(|e| bad(&e.0))?;
    if parsed.sub.is_some() && (filter.is_some() || tail.is_some()) {
        return Err(bad("too many levels"));
    }
    let sub = match (parsed.sub, tail) {
        (Some(s), None) => Some(s),
        (None, Some(t)) => Some(AttrPath::parse(t).map_err(|e| bad(&e.0))?.attr),
        (None, None) => None,
        (Some(_), Some(_)) => return Err(bad("too many levels")),
    };
    Ok(Path {
        extension,
        attr: parsed.attr,
        filter,
        sub,
    })
}
