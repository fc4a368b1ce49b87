//! SCIM filters (RFC 7644 §3.4.2.2): parsed into a tree, bounded in size and depth, then
//! either translated to SQL for `GET /Users?filter=` (only whitelisted columns, values
//! bound) or evaluated on JSON values (the value filters of PATCH paths).

use serde_json::Value;

/// Longest filter accepted, in bytes.
const MAX_LEN: usize = 2048;
/// Deepest nesting of parentheses, `not` and value paths.
const MAX_DEPTH: usize = 16;

/// A malformed or unsupported filter (`scimType: invalidFilter`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidFilter(pub String);

fn invalid(message: impl Into<String>) -> InvalidFilter {
    InvalidFilter(message.into())
}

/// An attribute path: `name` or `name.sub`, schema URN prefix removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    /// The attribute.
    pub attr: String,
    /// Its sub-attribute.
    pub sub: Option<String>,
}

impl AttrPath {
    /// Parses `[urn:...:]attr[.sub]`.
    pub fn parse(text: &str) -> Result<Self, InvalidFilter> {
        let local = strip_schema(text);
        let (attr, sub) = match local.split_once('.') {
            Some((a, s)) => (a, Some(s)),
            None => (local, None),
        };
        let name_ok = |n: &str| {
            !n.is_empty()
                && n.chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '$')
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
        };
        if !name_ok(attr) || sub.is_some_and(|s| !name_ok(s)) {
            return Err(invalid(format!("{text:?} is not an attribute path")));
        }
        Ok(Self {
            attr: attr.to_owned(),
            sub: sub.map(str::to_owned),
        })
    }

    /// True when this path is `attr` (no sub-attribute), case-insensitively.
    pub fn is(&self, attr: &str) -> bool {
        self.sub.is_none() && self.attr.eq_ignore_ascii_case(attr)
    }
}

/// The schema URNs whose prefix a path may carry (the core User schema's attributes are
/// top-level; the enterprise extension is matched by callers through the full path).
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// `urn:ietf:params:scim:schemas:core:2.0:User:userName` -> `userName`.
fn strip_schema(text: &str) -> &str {
    match text.get(..USER_SCHEMA.len()) {
        Some(prefix) if prefix.eq_ignore_ascii_case(USER_SCHEMA) => text
            .get(USER_SCHEMA.len() + 1..)
            .filter(|_| text.as_bytes().get(USER_SCHEMA.len()) == Some(&b':'))
            .unwrap_or(text),
        _ => text,
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// Both.
    And(Box<Filter>, Box<Filter>),
    /// Either.
    Or(Box<Filter>, Box<Filter>),
    /// Not.
    Not(Box<Filter>),
    /// `path op value`.
    Compare(AttrPath, Op, Value),
    /// `path pr`.
    Present(AttrPath),
    /// `path[filter]`: some element of the multi-valued `path` matches.
    Any(AttrPath, Box<Filter>),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Value(Value),
    Open,
    Close,
    OpenBracket,
    CloseBracket,
}

fn tokenize(text: &str) -> Result<Vec<Token>, InvalidFilter> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        match c {
            ' ' | '\t' | '\n' | '\r' => {
                chars.next();
            }
            '(' | ')' | '[' | ']' => {
                chars.next();
                tokens.push(match c {
                    '(' => Token::Open,
                    ')' => Token::Close,
                    '[' => Token::OpenBracket,
                    _ => Token::CloseBracket,
                });
            }
            '"' => {
                // A JSON string: find its closing quote, honouring escapes.
                chars.next();
                let mut escaped = false;
                let mut end = None;
                for (i, c) in chars.by_ref() {
                    match (escaped, c) {
                        (true, _) => escaped = false,
                        (false, '\\') => escaped = true,
                        (false, '"') => {
                            end = Some(i);
                            break;
                        }
                        _ => {}
                    }
                }
                let end = end.ok_or_else(|| invalid("a string is not closed"))?;
                let value: Value = serde_json::from_str(&text[start..=end])
                    .map_err(|_| invalid("a string is not valid JSON"))?;
                tokens.push(Token::Value(value));
            }
            _ => {
                let mut end = start;
                while let Some(&(i, c)) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | '"') {
                        break;
                    }
                    end = i + c.len_utf8();
                    chars.next();
                }
                tokens.push(Token::Word(text[start..end].to_owned()));
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek_word(&self, word: &str) -> bool {
        matches!(self.tokens.get(self.at), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn or(&mut self, depth: usize) -> Result<Filter, InvalidFilter> {
        let mut left = self.and(depth)?;
        while self.peek_word("or") {
            self.at += 1;
            left = Filter::Or(Box::new(left), Box::new(self.and(depth)?));
        }
        Ok(left)
    }

    fn and(&mut self, depth: usize) -> Result<Filter, InvalidFilter> {
        let mut left = self.unary(depth)?;
        while self.peek_word("and") {
            self.at += 1;
            left = Filter::And(Box::new(left), Box::new(self.unary(depth)?));
        }
        Ok(left)
    }

    fn unary(&mut self, depth: usize) -> Result<Filter, InvalidFilter> {
        if depth >= MAX_DEPTH {
            return Err(invalid(format!("nested deeper than {MAX_DEPTH}")));
        }
        if self.peek_word("not") {
            self.at += 1;
            self.expect(&Token::Open, "\"(\" after not")?;
            let inner = self.or(depth + 1)?;
            self.expect(&Token::Close, "\")\"")?;
            return Ok(Filter::Not(Box::new(inner)));
        }
        match self.next() {
            Some(Token::Open) => {
                let inner = self.or(depth + 1)?;
                self.expect(&Token::Close, "\")\"")?;
                Ok(inner)
            }
            Some(Token::Word(word)) => self.attribute_expression(&word, depth),
            Some(other) => Err(invalid(format!("unexpected {other:?}"))),
            None => Err(invalid("the filter ends too early")),
        }
    }

    fn attribute_expression(&mut self, word: &str, depth: usize) -> Result<Filter, InvalidFilter> {
        let path = AttrPath::parse(word)?;
        if self.tokens.get(self.at) == Some(&Token::OpenBracket) {
            self.at += 1;
            let inner = self.or(depth + 1)?;
            self.expect(&Token::CloseBracket, "\"]\"")?;
            return Ok(Filter::Any(path, Box::new(inner)));
        }
        let op = match self.next() {
            Some(Token::Word(op)) => op.to_ascii_lowercase(),
            _ => return Err(invalid(format!("an operator must follow {word:?}"))),
        };
        if op == "pr" {
            return Ok(Filter::Present(path));
        }
        let op = match op.as_str() {
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "co" => Op::Co,
            "sw" => Op::Sw,
            "ew" => Op::Ew,
            "gt" => Op::Gt,
            "ge" => Op::Ge,
            "lt" => Op::Lt,
            "le" => Op::Le,
            other => return Err(invalid(format!("{other:?} is not a SCIM operator"))),
        };
        let value = match self.next() {
            Some(Token::Value(v)) => v,
            Some(Token::Word(w)) => match w.to_ascii_lowercase().as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "null" => Value::Null,
                _ => serde_json::from_str::<serde_json::Number>(&w)
                    .map(Value::Number)
                    .map_err(|_| invalid(format!("{w:?} is not a value (quote strings)")))?,
            },
            _ => return Err(invalid("a comparison needs a value")),
        };
        Ok(Filter::Compare(path, op, value))
    }

    fn expect(&mut self, token: &Token, what: &str) -> Result<(), InvalidFilter> {
        if self.next().as_ref() == Some(token) {
            Ok(())
        } else {
            Err(invalid(format!("expected {what}")))
        }
    }
}

impl Filter {
    /// Parses a filter expression.
    pub fn parse(text: &str) -> Result<Self, InvalidFilter> {
        if text.len() > MAX_LEN {
            return Err(invalid(format!("longer than {MAX_LEN} bytes")));
        }
        let mut parser = Parser {
            tokens: tokenize(text)?,
            at: 0,
        };
        let filter = parser.or(0)?;
        if parser.at < parser.tokens.len() {
            return Err(invalid("unexpected text after the filter"));
        }
        Ok(filter)
    }

    /// True when `element` (an object, e.g. one of `emails`) matches. Strings compare
    /// case-insensitively (the default of RFC 7643 §2.2).
    pub fn matches(&self, element: &Value) -> bool {
        match self {
            Self::And(a, b) => a.matches(element) && b.matches(element),
            Self::Or(a, b) => a.matches(element) || b.matches(element),
            Self::Not(a) => !a.matches(element),
            Self::Present(path) => lookup(element, path).is_some_and(|v| !v.is_null()),
            Self::Compare(path, op, value) => {
                lookup(element, path).is_some_and(|found| compare(found, *op, value))
            }
            Self::Any(path, inner) => match lookup(element, path) {
                Some(Value::Array(items)) => items.iter().any(|i| inner.matches(i)),
                Some(item) => inner.matches(item),
                None => false,
            },
        }
    }
}

/// The value at `path` in `object` (attribute names case-insensitive); for a bare
/// sub-attribute filter inside brackets (`type eq "work"`) `path.attr` is the sub-attribute.
fn lookup<'a>(object: &'a Value, path: &AttrPath) -> Option<&'a Value> {
    let get = |v: &'a Value, name: &str| -> Option<&'a Value> {
        v.as_object()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    };
    let top = get(object, &path.attr)?;
    match &path.sub {
        None => Some(top),
        Some(sub) => get(top, sub),
    }
}

fn compare(found: &Value, op: Op, value: &Value) -> bool {
    match (found, value) {
        (Value::String(a), Value::String(b)) => {
            let (a, b) = (a.to_lowercase(), b.to_lowercase());
            match op {
                Op::Eq => a == b,
                Op::Ne => a != b,
                Op::Co => a.contains(&b),
                Op::Sw => a.starts_with(&b),
                Op::Ew => a.ends_with(&b),
                Op::Gt => a > b,
                Op::Ge => a >= b,
                Op::Lt => a < b,
                Op::Le => a <= b,
            }
        }
        (Value::Number(a), Value::Number(b)) => {
            let (Some(a), Some(b)) = (a.as_f64(), b.as_f64()) else {
                return false;
            };
            match op {
                Op::Eq => a == b,
                Op::Ne => a != b,
                Op::Gt => a > b,
                Op::Ge => a >= b,
                Op::Lt => a < b,
                Op::Le => a <= b,
                Op::Co | Op::Sw | Op::Ew => false,
            }
        }
        (a, b) => match op {
            Op::Eq => a == b,
            Op::Ne => a != b,
            _ => false,
        },
    }
}

/// A column `GET /Users` may filter on.
#[derive(Debug, Clone, Copy)]
struct Column {
    name: &'static str,
    /// Compared lowercased (`userName` and `displayName` are not case-exact).
    folded: bool,
}

fn column(path: &AttrPath) -> Result<Column, InvalidFilter> {
    let columns = [
        ("id", "user_id", false),
        ("userName", "user_name_key", true),
        ("externalId", "external_id", false),
        ("displayName", "display_name_key", true),
    ];
    columns
        .iter()
        .find(|(attr, _, _)| path.is(attr))
        .map(|(_, name, folded)| Column {
            name,
            folded: *folded,
        })
        .ok_or_else(|| {
            invalid(format!(
                "filtering on {:?} is not supported: use id, userName, externalId or displayName",
                path.attr
            ))
        })
}

/// Translates `filter` into a SQL condition over `scim_users`, appending its values to
/// `params` (placeholders `$first`, `$first + 1`, ...). Only `eq`, `ne` and `pr` on the
/// columns above translate; anything else is `invalidFilter`.
pub fn to_sql(
    filter: &Filter,
    first: usize,
    params: &mut Vec<String>,
) -> Result<String, InvalidFilter> {
    Ok(match filter {
        Filter::And(a, b) => format!(
            "({} AND {})",
            to_sql(a, first, params)?,
            to_sql(b, first, params)?
        ),
        Filter::Or(a, b) => format!(
            "({} OR {})",
            to_sql(a, first, params)?,
            to_sql(b, first, params)?
        ),
        Filter::Not(a) => format!("(NOT {})", to_sql(a, first, params)?),
        Filter::Present(path) => format!("({} IS NOT NULL)", column(path)?.name),
        Filter::Compare(path, op, value) => {
            let column = column(path)?;
            let Value::String(text) = value else {
                return Err(invalid(format!("{} compares with a string", path.attr)));
            };
            params.push(if column.folded {
                text.to_lowercase()
            } else {
                text.clone()
            });
            let placeholder = first + params.len() - 1;
            match op {
                Op::Eq => format!("({} = ${placeholder})", column.name),
                Op::Ne => format!(
                    "({name} IS NULL OR {name} <> ${placeholder})",
                    name = column.name
                ),
                _ => {
                    return Err(invalid(
                        "only eq, ne and pr are supported in GET /Users filters",
                    ));
                }
            }
        }
        Filter::Any(..) => {
            return Err(invalid(
                "value filters ([...]) are supported in PATCH paths only",
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn what_directories_send_parses_and_translates() {
        let filter = Filter::parse(r#"userName eq "Alice@Example.com""#).unwrap();
        let mut params = Vec::new();
        assert_eq!(
            to_sql(&filter, 3, &mut params).unwrap(),
            "(user_name_key = $3)"
        );
        assert_eq!(params, ["alice@example.com"]);

        let filter =
            Filter::parse(r#"(externalId eq "00u1") or (userName eq "bob" and not (id pr))"#)
                .unwrap();
        let mut params = Vec::new();
        assert_eq!(
            to_sql(&filter, 1, &mut params).unwrap(),
            "((external_id = $1) OR ((user_name_key = $2) AND (NOT (user_id IS NOT NULL))))"
        );
        let urn = Filter::parse(&format!("{USER_SCHEMA}:userName EQ \"x\"")).unwrap();
        assert!(matches!(urn, Filter::Compare(ref p, Op::Eq, _) if p.is("userName")));
    }

    #[test]
    fn malformed_and_unsupported_filters_are_refused() {
        for bad in [
            "",
            "userName",
            "userName eq",
            "userName xx \"a\"",
            "userName eq \"a",
            "(userName eq \"a\"",
            "userName eq \"a\" extra",
            "userName eq bare",
            "1abc eq \"a\"",
        ] {
            assert!(Filter::parse(bad).is_err(), "{bad:?} parsed");
        }
        let deep = format!("{}userName pr{}", "(".repeat(40), ")".repeat(40));
        assert!(Filter::parse(&deep).is_err());
        assert!(Filter::parse(&"a".repeat(5000)).is_err());
        for unsupported in [
            "emails.value eq \"a\"",
            "userName co \"a\"",
            "active eq true",
        ] {
            let filter = Filter::parse(unsupported).unwrap();
            assert!(
                to_sql(&filter, 1, &mut Vec::new()).is_err(),
                "{unsupported}"
            );
        }
    }

    #[test]
    fn value_filters_match_elements_case_insensitively() {
        let filter = Filter::parse(r#"type eq "WORK" and primary eq true"#).unwrap();
        assert!(filter.matches(&json!({"type": "work", "primary": true, "value": "a@x"})));
        assert!(!filter.matches(&json!({"type": "home", "primary": true})));
        let filter = Filter::parse(r#"value sw "a@""#).unwrap();
        assert!(filter.matches(&json!({"Value": "A@x"})));
    }
}
