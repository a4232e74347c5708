//! Turns tokens into clauses, refusing anything outside the grammar in the crate docs.

use std::iter::Peekable;
use std::vec::IntoIter;

use crate::ast::{Cast, Clause, Literal, Operand};
use crate::datetime::datetime_seconds;
use crate::error::ParseError;
use crate::tokenizer::Token;

pub(crate) fn parse(tokens: Vec<Token>) -> Result<Vec<Clause>, ParseError> {
    let mut parser = Parser { tokens: tokens.into_iter().peekable() };
    let mut clauses = Vec::new();
    // Parentheses can only group clauses that are and-ed anyway, so counting the open ones is
    // all the parser needs; without recursion no nesting depth can overflow the stack.
    let mut open_parens: usize = 0;
    'clauses: loop {
        while parser.tokens.next_if_eq(&Token::LParen).is_some() {
            open_parens += 1;
        }
        clauses.push(parser.clause()?);
        loop {
            if let Some(Token::Ident(word)) = parser.tokens.peek() {
                match word.to_ascii_lowercase().as_str() {
                    "and" => {
                        parser.tokens.next();
                        continue 'clauses;
                    }
                    "or" => return Err(ParseError::new("`or` is not supported")),
                    _ => return Err(ParseError::new(format!("unexpected `{word}`"))),
                }
            }
            if open_parens == 0 {
                break 'clauses;
            }
            parser.expect(&Token::RParen)?;
            open_parens -= 1;
        }
    }
    match parser.tokens.next() {
        Some(token) => Err(ParseError::new(format!("unexpected {token:?}"))),
        None => Ok(clauses),
    }
}

struct Parser {
    tokens: Peekable<IntoIter<Token>>,
}

impl Parser {
    fn next(&mut self) -> Result<Token, ParseError> {
        self.tokens.next().ok_or_else(|| ParseError::new("it ends too early"))
    }

    fn expect(&mut self, expected: &Token) -> Result<(), ParseError> {
        let found = self.next()?;
        if &found == expected {
            Ok(())
        } else {
            Err(ParseError::new(format!("expected {expected:?}, found {found:?}")))
        }
    }

    /// `name` as the next token, consumed when it is there.
    fn word(&mut self, name: &str) -> bool {
        self.tokens.next_if(|token| matches!(token, Token::Ident(word) if word == name)).is_some()
    }

    /// `defined(property)` or `operand OP literal`.
    fn clause(&mut self) -> Result<Clause, ParseError> {
        if self.word("defined") {
            return Ok(Clause::Defined(self.in_parens(Self::property)?));
        }
        let operand = self.operand()?;
        let op = match self.next()? {
            Token::Op(op) => op,
            other => {
                return Err(ParseError::new(format!("expected a comparison, found {other:?}")));
            }
        };
        let literal = self.literal()?;
        Ok(Clause::Compare { operand, op, literal })
    }

    fn operand(&mut self) -> Result<Operand, ParseError> {
        let cast = if self.word("number") {
            Cast::Number
        } else if self.word("string") {
            Cast::String
        } else {
            return Ok(Operand { property: self.property()?, cast: Cast::None });
        };
        Ok(Operand { property: self.in_parens(Self::property)?, cast })
    }

    /// `(inside)`.
    fn in_parens<T>(
        &mut self,
        inside: impl FnOnce(&mut Self) -> Result<T, ParseError>,
    ) -> Result<T, ParseError> {
        self.expect(&Token::LParen)?;
        let value = inside(self)?;
        self.expect(&Token::RParen)?;
        Ok(value)
    }

    /// `properties["name"]`, `user["name"]` or `event["name"]`: the name.
    fn property(&mut self) -> Result<String, ParseError> {
        match self.next()? {
            Token::Ident(word) if matches!(word.as_str(), "properties" | "user" | "event") => {}
            other => {
                return Err(ParseError::new(format!(
                    "expected properties[\"name\"], found {other:?}"
                )));
            }
        }
        self.expect(&Token::LBracket)?;
        let name = match self.next()? {
            Token::Str(name) => name,
            other => {
                return Err(ParseError::new(format!(
                    "expected a quoted property name, found {other:?}"
                )));
            }
        };
        self.expect(&Token::RBracket)?;
        Ok(name)
    }

    fn literal(&mut self) -> Result<Literal, ParseError> {
        match self.next()? {
            Token::Str(text) => Ok(Literal::Str(text)),
            Token::Num(number) => Ok(Literal::Num(number)),
            Token::Ident(word) if word == "true" => Ok(Literal::Bool(true)),
            Token::Ident(word) if word == "false" => Ok(Literal::Bool(false)),
            Token::Ident(word) if word == "datetime" => {
                self.in_parens(Self::datetime_argument).map(Literal::Num)
            }
            other => Err(ParseError::new(format!("expected a literal, found {other:?}"))),
        }
    }

    /// Seconds since the Unix epoch, given as such or as a date and time in UTC.
    fn datetime_argument(&mut self) -> Result<f64, ParseError> {
        match self.next()? {
            Token::Num(seconds) => Ok(seconds),
            // Seconds since 1970 of chrono's dates stay far below 2^53, so the f64 is exact.
            Token::Str(text) => {
                datetime_seconds(&text).map(|seconds| seconds as f64).ok_or_else(|| {
                    ParseError::new(format!("invalid datetime {text:?}: use YYYY-MM-DDTHH:MM:SS"))
                })
            }
            other => Err(ParseError::new(format!("expected a datetime argument, found {other:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::Comparison;

    fn parsed(text: &str) -> Vec<Clause> {
        crate::parse(text).unwrap()
    }

    fn refusal(text: &str) -> String {
        crate::parse(text).unwrap_err().to_string()
    }

    fn compare(property: &str, cast: Cast, op: Comparison, literal: Literal) -> Clause {
        Clause::Compare { operand: Operand { property: property.to_owned(), cast }, op, literal }
    }

    #[test]
    fn clauses_of_every_shape() {
        assert_eq!(
            parsed(
                r#"(number(properties["n"]) >= 2) and user["ok"] == true AND defined(event["x"])
                   and string(properties["s"]) != 'a' and properties["f"] < false"#
            ),
            vec![
                compare("n", Cast::Number, Comparison::Ge, Literal::Num(2.0)),
                compare("ok", Cast::None, Comparison::Eq, Literal::Bool(true)),
                Clause::Defined("x".to_owned()),
                compare("s", Cast::String, Comparison::Ne, Literal::Str("a".to_owned())),
                compare("f", Cast::None, Comparison::Lt, Literal::Bool(false)),
            ]
        );
    }

    #[test]
    fn datetime_literals_are_seconds() {
        assert_eq!(
            parsed(
                r#"properties["$time"] >= datetime(1704067200) and properties["$time"] < datetime("2024-01-02T00:00:00") and properties["d"] > datetime('2024-01-02')"#
            ),
            vec![
                compare("$time", Cast::None, Comparison::Ge, Literal::Num(1_704_067_200.0)),
                compare("$time", Cast::None, Comparison::Lt, Literal::Num(1_704_153_600.0)),
                compare("d", Cast::None, Comparison::Gt, Literal::Num(1_704_153_600.0)),
            ]
        );
    }

    #[test]
    fn parentheses_group_and_nest_deeply() {
        let nested = r#"((properties["a"] == 1) and ((properties["b"] == 2)))"#;
        assert_eq!(parsed(nested).len(), 2);
        let deep = format!(r#"{}properties["a"] == 1{}"#, "(".repeat(100_000), ")".repeat(100_000));
        assert_eq!(parsed(&deep).len(), 1);
        let unbalanced = format!(r#"{}properties["a"] == 1"#, "(".repeat(100_000));
        assert_eq!(refusal(&unbalanced), "it ends too early");
    }

    #[test]
    fn unsupported_syntax_is_rejected_with_a_reason() {
        for (bad, reason) in [
            ("", "it ends too early"),
            (r#"properties["a"] == 1 or properties["b"] == 2"#, "`or` is not supported"),
            (r#"properties["a"] == 1 OR properties["b"] == 2"#, "`or` is not supported"),
            (r#"properties["a"] in [1, 2]"#, "unsupported character ',' at byte 21"),
            (r#"properties["a"] = 1"#, "unsupported operator at byte 16"),
            (r#"properties["a"] == "unterminated"#, "a string is not terminated"),
            (r#"foo["a"] == 1"#, r#"expected properties["name"], found Ident("foo")"#),
            (r#"properties["a"] == 1 properties["b"] == 2"#, "unexpected `properties`"),
            (
                r#"not defined(properties["a"])"#,
                r#"expected properties["name"], found Ident("not")"#,
            ),
            (r#"properties["a"] == 1)"#, "unexpected RParen"),
            (r#"(properties["a"] == 1"#, "it ends too early"),
            (r#"(properties["a"] == 1 ]"#, "expected RParen, found RBracket"),
            (r#"properties["a"] == 1 and"#, "it ends too early"),
            (r#"properties[a] == 1"#, r#"expected a quoted property name, found Ident("a")"#),
            (r#"properties("a") == 1"#, "expected LBracket, found LParen"),
            (r#"properties["a"] 1"#, "expected a comparison, found Num(1.0)"),
            (r#"properties["a"] == null"#, r#"expected a literal, found Ident("null")"#),
            (r#"properties["a"] == True"#, r#"expected a literal, found Ident("True")"#),
            (
                r#"Defined(properties["a"])"#,
                r#"expected properties["name"], found Ident("Defined")"#,
            ),
            (r#"number properties["a"] == 1"#, r#"expected LParen, found Ident("properties")"#),
            (
                r#"properties["a"] == datetime(true)"#,
                r#"expected a datetime argument, found Ident("true")"#,
            ),
            (
                r#"properties["a"] == datetime("tomorrow")"#,
                r#"invalid datetime "tomorrow": use YYYY-MM-DDTHH:MM:SS"#,
            ),
            (r#"properties["a"] == 1.2.3"#, r#"invalid number "1.2.3""#),
        ] {
            assert_eq!(refusal(bad), reason, "{bad:?}");
        }
    }

    #[test]
    fn only_tokenizer_errors_name_a_byte() {
        let located = crate::parse(r#"properties["a"] in [1, 2]"#).unwrap_err();
        assert_eq!(located.byte_offset(), Some(21));
        assert_eq!(crate::parse("").unwrap_err().byte_offset(), None);
    }
}
