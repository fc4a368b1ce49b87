//! The filter grammar (RFC 7644 §3.4.2.2): tokens, then a recursive-descent parser with
//! `or` below `and` below `not` / parentheses / attribute expressions, bounded in depth.

use serde_json::Value;

use super::{AttrPath, Filter, InvalidFilter, MAX_DEPTH, Op, invalid};

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Token {
    Word(String),
    Value(Value),
    Open,
    Close,
    OpenBracket,
    CloseBracket,
}

pub(super) fn tokenize(text: &str) -> Result<Vec<Token>, InvalidFilter> {
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

pub(super) struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    pub(super) fn new(tokens: Vec<Token>) -> Self {
        Self { tokens, at: 0 }
    }

    /// True when every token was read.
    pub(super) fn done(&self) -> bool {
        self.at >= self.tokens.len()
    }

    fn peek_word(&self, word: &str) -> bool {
        matches!(self.tokens.get(self.at), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    pub(super) fn or(&mut self, depth: usize) -> Result<Filter, InvalidFilter> {
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
