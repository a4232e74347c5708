//! Splits a `where` expression into tokens.
//!
//! Token names show up in error messages through their `Debug` form (`Ident("foo")`, `RParen`),
//! which the service's messages have always shown, so the names stay as they are.

use std::iter::Peekable;
use std::str::CharIndices;

use crate::ast::Comparison;
use crate::error::ParseError;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Token {
    /// A word: a keyword, a function name or `properties`/`user`/`event`.
    Ident(String),
    /// A quoted string, unescaped.
    Str(String),
    Num(f64),
    Op(Comparison),
    LBracket,
    RBracket,
    LParen,
    RParen,
}

type Chars<'a> = Peekable<CharIndices<'a>>;

pub(crate) fn tokenize(text: &str) -> Result<Vec<Token>, ParseError> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(start, first)) = chars.peek() {
        if first.is_whitespace() {
            chars.next();
            continue;
        }
        let token = match first {
            '[' | ']' | '(' | ')' => {
                chars.next();
                match first {
                    '[' => Token::LBracket,
                    ']' => Token::RBracket,
                    '(' => Token::LParen,
                    _ => Token::RParen,
                }
            }
            '"' | '\'' => {
                chars.next();
                Token::Str(quoted(&mut chars, first)?)
            }
            '=' | '!' | '<' | '>' => {
                chars.next();
                let with_equals = chars.next_if(|&(_, next)| next == '=').is_some();
                let op = comparison(first, with_equals)
                    .ok_or_else(|| ParseError::at_byte("unsupported operator", start))?;
                Token::Op(op)
            }
            digit if digit.is_ascii_digit() || digit == '-' || digit == '.' => {
                Token::Num(number(text, &mut chars, start)?)
            }
            letter if letter.is_alphabetic() || letter == '_' => {
                let mut word = String::new();
                while let Some((_, c)) = chars.next_if(|&(_, c)| c.is_alphanumeric() || c == '_') {
                    word.push(c);
                }
                Token::Ident(word)
            }
            other => {
                return Err(ParseError::at_byte(format!("unsupported character {other:?}"), start));
            }
        };
        tokens.push(token);
    }
    Ok(tokens)
}

/// The rest of a string opened by `quote`.
fn quoted(chars: &mut Chars<'_>, quote: char) -> Result<String, ParseError> {
    let unterminated = || ParseError::new("a string is not terminated");
    let mut unescaped = String::new();
    loop {
        match chars.next().ok_or_else(unterminated)? {
            // A backslash takes the next character as it is, quotes included.
            (_, '\\') => unescaped.push(chars.next().ok_or_else(unterminated)?.1),
            (_, c) if c == quote => return Ok(unescaped),
            (_, c) => unescaped.push(c),
        }
    }
}

/// The operator starting with `first`; `=` and `!` exist only before another `=`.
fn comparison(first: char, with_equals: bool) -> Option<Comparison> {
    match (first, with_equals) {
        ('=', true) => Some(Comparison::Eq),
        ('!', true) => Some(Comparison::Ne),
        ('<', false) => Some(Comparison::Lt),
        ('<', true) => Some(Comparison::Le),
        ('>', false) => Some(Comparison::Gt),
        ('>', true) => Some(Comparison::Ge),
        _ => None,
    }
}

/// A number starting at byte `start`: a sign or a digit or a dot, then digits and dots, read as
/// Rust reads an `f64` (so `1.`, `.5` and overflowing `1e400`-sized digit runs are numbers).
fn number(text: &str, chars: &mut Chars<'_>, start: usize) -> Result<f64, ParseError> {
    let mut end = start;
    if let Some((_, first)) = chars.next() {
        end += first.len_utf8();
    }
    while let Some((at, c)) = chars.next_if(|&(_, c)| c.is_ascii_digit() || c == '.') {
        end = at + c.len_utf8();
    }
    let digits = &text[start..end];
    digits.parse().map_err(|_| ParseError::new(format!("invalid number {digits:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<Token> {
        tokenize(text).unwrap()
    }

    #[test]
    fn punctuation_words_strings_numbers_and_operators() {
        assert_eq!(
            words(r#"number(properties["n"]) >= -1.5 and_x"#),
            vec![
                Token::Ident("number".to_owned()),
                Token::LParen,
                Token::Ident("properties".to_owned()),
                Token::LBracket,
                Token::Str("n".to_owned()),
                Token::RBracket,
                Token::RParen,
                Token::Op(Comparison::Ge),
                Token::Num(-1.5),
                Token::Ident("and_x".to_owned()),
            ]
        );
        assert_eq!(
            words("== != < <= > >= <>"),
            [
                Comparison::Eq,
                Comparison::Ne,
                Comparison::Lt,
                Comparison::Le,
                Comparison::Gt,
                Comparison::Ge,
                Comparison::Lt,
                Comparison::Gt
            ]
            .map(Token::Op)
        );
    }

    #[test]
    fn strings_take_either_quote_and_backslash_escapes() {
        assert_eq!(words(r#"'it\'s' "a\"b" 'say "hi"' "\n""#), {
            ["it's", "a\"b", "say \"hi\"", "n"].map(|s| Token::Str(s.to_owned())).to_vec()
        });
        assert_eq!(words(" Zürich_1 "), vec![Token::Ident("Zürich_1".to_owned())]);
    }

    #[test]
    fn numbers_are_read_as_rust_reads_floats() {
        assert_eq!(words("1. .5 -.5 007"), [1.0, 0.5, -0.5, 7.0].map(Token::Num).to_vec());
        // A minus only leads: `1-2` is two numbers.
        assert_eq!(words("1-2"), [1.0, -2.0].map(Token::Num).to_vec());
        let huge = format!("1{}", "0".repeat(400));
        assert_eq!(words(&huge), vec![Token::Num(f64::INFINITY)]);
    }

    #[test]
    fn errors_name_the_byte_or_the_text() {
        let message = |text: &str| tokenize(text).unwrap_err().to_string();
        assert_eq!(message(r#"properties["x"] in [1, 2]"#), "unsupported character ',' at byte 21");
        assert_eq!(message("a = 1"), "unsupported operator at byte 2");
        assert_eq!(message("a ! 1"), "unsupported operator at byte 2");
        assert_eq!(message("1.2.3"), r#"invalid number "1.2.3""#);
        assert_eq!(message("-"), r#"invalid number "-""#);
        assert_eq!(message(r#""open"#), "a string is not terminated");
        assert_eq!(message(r#""open\"#), "a string is not terminated");
        assert_eq!(message("é €"), "unsupported character '€' at byte 3");
    }
}
