//! Mixpanel's `where` expression language, for the subset mpd understands: parsed once here into
//! a small typed syntax tree that the local SQL engine renders and the mock evaluates.
//!
//! The grammar:
//!
//! ```text
//! expression := term ("and" term)*            ("and" in any case; "or" is refused)
//! term       := "(" expression ")" | "defined" "(" property ")" | operand OP literal
//! operand    := property | "number" "(" property ")" | "string" "(" property ")"
//! property   := ("properties" | "user" | "event") "[" string "]"
//! OP         := "==" | "!=" | "<" | "<=" | ">" | ">="
//! literal    := string | number | "true" | "false"
//!             | "datetime" "(" (number | string) ")"
//! ```
//!
//! Strings take double or single quotes, with `\` taking the next character literally.
//! `datetime` takes seconds since the Unix epoch or `"YYYY-MM-DDTHH:MM:SS"` / `"YYYY-MM-DD"` in
//! UTC, and becomes a number of seconds. What the expression means (how a missing value or a
//! value of another type compares) is left to the callers.

mod ast;
mod datetime;
mod error;
mod parser;
mod tokenizer;

pub use ast::{Cast, Clause, Comparison, Literal, Operand};
pub use error::ParseError;

/// Parses a `where` expression into its clauses, all of which must hold; there is at least one.
pub fn parse(text: &str) -> Result<Vec<Clause>, ParseError> {
    parser::parse(tokenizer::tokenize(text)?)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_text_parses_or_is_refused_without_panicking(text in r#"[a-z"'()\[\]=!<>0-9. \-]{0,60}|.{0,60}"#) {
            let _ = crate::parse(&text);
        }
    }
}
