//! Mixpanel `where` expressions as SQL predicates over `properties`, for the subset the mock
//! Mixpanel accepts: `properties["x"] OP literal` (also `user[..]`/`event[..]`, optionally
//! inside `number(..)` or `string(..)`), `defined(properties["x"])`, `and`, parentheses.
//! Literals are strings, numbers, `true`/`false` and `datetime(..)`.
//!
//! Comparisons follow Mixpanel's typing: a value compares only with a literal of its own
//! type; a missing value or another type is never equal and never ordered, so `!=` holds.

use chrono::NaiveDateTime;

use super::sql::{PropertyReads, number, quote};
use crate::error::{Error, Result};

/// The SQL predicate for a `where` expression.
pub(super) fn where_sql(expr: &str) -> Result<String> {
    let tokens = tokenize(expr).map_err(unsupported)?;
    let mut parser = Parser { tokens, pos: 0 };
    let mut clauses = Vec::new();
    parser.expr(&mut clauses).map_err(unsupported)?;
    if let Some(token) = parser.peek() {
        return Err(unsupported(format!("unexpected {token:?}")));
    }
    if clauses.is_empty() {
        return Err(unsupported("the expression is empty".to_owned()));
    }
    let sql: Vec<String> = clauses.iter().map(Clause::sql).collect::<Result<_>>()?;
    Ok(sql.iter().map(|c| format!("({c})")).collect::<Vec<_>>().join(" AND "))
}

fn unsupported(reason: String) -> Error {
    Error::InvalidArgument(format!(
        "--local supports only simple where expressions (properties[\"x\"] compared with a \
         string, number or boolean, defined(properties[\"x\"]), `and`, parentheses): {reason}; \
         use `mpd query sql` for anything else"
    ))
}

#[derive(Debug, Clone, PartialEq)]
enum Clause {
    Defined(String),
    Compare { property: String, cast: Cast, op: Op, literal: Literal },
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Cast {
    None,
    Number,
    String,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Str(String),
    Num(f64),
    Bool(bool),
}

/// Mixpanel calls the export's `time` `$time` in expressions.
const TIME: &str = "$time";

impl Clause {
    fn sql(&self) -> Result<String> {
        match self {
            Clause::Defined(name) if name == TIME => Ok(format!(
                "CASE WHEN {} THEN {} ELSE {} END",
                PropertyReads::new(TIME).present(),
                PropertyReads::new(TIME).defined(),
                PropertyReads::new("time").defined()
            )),
            Clause::Defined(name) => Ok(PropertyReads::new(name).defined()),
            Clause::Compare { property, cast, op, literal } => {
                let value = if property == TIME {
                    let own = typed_read(&PropertyReads::new(TIME), *cast, literal);
                    let time = typed_read(&PropertyReads::new("time"), *cast, literal);
                    match (own, time) {
                        (Some(own), Some(time)) => Some(seconds(
                            &format!(
                                "CASE WHEN {} THEN {own} ELSE {time} END",
                                PropertyReads::new(TIME).present()
                            ),
                            literal,
                        )),
                        _ => None,
                    }
                } else {
                    typed_read(&PropertyReads::new(property), *cast, literal)
                };
                let literal = match literal {
                    Literal::Str(s) => quote(s),
                    Literal::Num(n) => number(*n)
                        .map_err(|_| unsupported(format!("{n} is not a usable number")))?,
                    Literal::Bool(b) => b.to_string(),
                };
                Ok(match (value, op) {
                    (None, Op::Ne) => "true".to_owned(),
                    (None, _) => "false".to_owned(),
                    (Some(value), Op::Ne) => format!("NOT coalesce(({value}) = {literal}, false)"),
                    (Some(value), op) => {
                        format!("coalesce(({value}) {} {literal}, false)", op.sql())
                    }
                })
            }
        }
    }
}

/// The read of the value as the literal's type after `cast`; None when it can never have it.
fn typed_read(reads: &PropertyReads, cast: Cast, literal: &Literal) -> Option<String> {
    match (cast, literal) {
        (Cast::None, Literal::Str(_)) => Some(reads.string()),
        (Cast::None, Literal::Num(_)) => Some(reads.number()),
        (Cast::None, Literal::Bool(_)) => Some(reads.boolean()),
        (Cast::Number, Literal::Num(_)) => Some(reads.as_number()),
        (Cast::String, Literal::Str(_)) => Some(reads.text()),
        _ => None,
    }
}

/// `$time` literals are seconds while a value may hold milliseconds.
fn seconds(value: &str, literal: &Literal) -> String {
    match literal {
        Literal::Num(_) => {
            format!("CASE WHEN ({value}) > 100000000000.0 THEN ({value}) / 1000.0 ELSE {value} END")
        }
        _ => value.to_owned(),
    }
}

impl Op {
    fn sql(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "<>",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Str(String),
    Num(f64),
    Op(Op),
    LBracket,
    RBracket,
    LParen,
    RParen,
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

type Parsed<T> = std::result::Result<T, String>;

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Parsed<Token> {
        let token = self.tokens.get(self.pos).cloned().ok_or("it ends too early")?;
        self.pos += 1;
        Ok(token)
    }

    fn expect(&mut self, want: &Token) -> Parsed<()> {
        let got = self.next()?;
        if &got == want { Ok(()) } else { Err(format!("expected {want:?}, found {got:?}")) }
    }

    fn expr(&mut self, out: &mut Vec<Clause>) -> Parsed<()> {
        self.term(out)?;
        while let Some(Token::Ident(word)) = self.peek() {
            match word.to_ascii_lowercase().as_str() {
                "and" => {
                    self.pos += 1;
                    self.term(out)?;
                }
                "or" => return Err("`or` is not supported".to_owned()),
                _ => return Err(format!("unexpected `{word}`")),
            }
        }
        Ok(())
    }

    fn term(&mut self, out: &mut Vec<Clause>) -> Parsed<()> {
        if self.peek() == Some(&Token::LParen) {
            self.pos += 1;
            self.expr(out)?;
            return self.expect(&Token::RParen);
        }
        if matches!(self.peek(), Some(Token::Ident(w)) if w == "defined") {
            self.pos += 1;
            self.expect(&Token::LParen)?;
            let property = self.property()?;
            self.expect(&Token::RParen)?;
            out.push(Clause::Defined(property));
            return Ok(());
        }
        let cast = match self.peek() {
            Some(Token::Ident(w)) if w == "number" => Cast::Number,
            Some(Token::Ident(w)) if w == "string" => Cast::String,
            _ => Cast::None,
        };
        let property = if cast == Cast::None {
            self.property()?
        } else {
            self.pos += 1;
            self.expect(&Token::LParen)?;
            let property = self.property()?;
            self.expect(&Token::RParen)?;
            property
        };
        let op = match self.next()? {
            Token::Op(op) => op,
            other => return Err(format!("expected a comparison, found {other:?}")),
        };
        let literal = self.literal()?;
        out.push(Clause::Compare { property, cast, op, literal });
        Ok(())
    }

    fn property(&mut self) -> Parsed<String> {
        match self.next()? {
            Token::Ident(w) if matches!(w.as_str(), "properties" | "user" | "event") => {}
            other => return Err(format!("expected properties[\"name\"], found {other:?}")),
        }
        self.expect(&Token::LBracket)?;
        let name = match self.next()? {
            Token::Str(s) => s,
            other => return Err(format!("expected a quoted property name, found {other:?}")),
        };
        self.expect(&Token::RBracket)?;
        Ok(name)
    }

    fn literal(&mut self) -> Parsed<Literal> {
        match self.next()? {
            Token::Str(s) => Ok(Literal::Str(s)),
            Token::Num(n) => Ok(Literal::Num(n)),
            Token::Ident(w) if w == "true" => Ok(Literal::Bool(true)),
            Token::Ident(w) if w == "false" => Ok(Literal::Bool(false)),
            Token::Ident(w) if w == "datetime" => {
                self.expect(&Token::LParen)?;
                let secs = match self.next()? {
                    Token::Num(n) => n,
                    Token::Str(s) => datetime_seconds(&s)?,
                    other => return Err(format!("expected a datetime argument, found {other:?}")),
                };
                self.expect(&Token::RParen)?;
                Ok(Literal::Num(secs))
            }
            other => Err(format!("expected a literal, found {other:?}")),
        }
    }
}

fn datetime_seconds(text: &str) -> Parsed<f64> {
    let parsed = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| {
            NaiveDateTime::parse_from_str(&format!("{text}T00:00:00"), "%Y-%m-%dT%H:%M:%S")
        })
        .map_err(|_| format!("invalid datetime {text:?}: use YYYY-MM-DDTHH:MM:SS"))?;
    Ok(parsed.and_utc().timestamp() as f64)
}

fn tokenize(text: &str) -> Parsed<Vec<Token>> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '[' | ']' | '(' | ')' => {
                chars.next();
                tokens.push(match c {
                    '[' => Token::LBracket,
                    ']' => Token::RBracket,
                    '(' => Token::LParen,
                    _ => Token::RParen,
                });
            }
            '"' | '\'' => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        None => return Err("a string is not terminated".to_owned()),
                        Some((_, '\\')) => match chars.next() {
                            Some((_, escaped)) => s.push(escaped),
                            None => return Err("a string is not terminated".to_owned()),
                        },
                        Some((_, q)) if q == c => break,
                        Some((_, other)) => s.push(other),
                    }
                }
                tokens.push(Token::Str(s));
            }
            '=' | '!' | '<' | '>' => {
                chars.next();
                let eq = chars.next_if(|&(_, n)| n == '=').is_some();
                let op = match (c, eq) {
                    ('=', true) => Op::Eq,
                    ('!', true) => Op::Ne,
                    ('<', false) => Op::Lt,
                    ('<', true) => Op::Le,
                    ('>', false) => Op::Gt,
                    ('>', true) => Op::Ge,
                    _ => return Err(format!("unsupported operator at byte {i}")),
                };
                tokens.push(Token::Op(op));
            }
            c if c.is_ascii_digit() || c == '-' || c == '.' => {
                let mut end = i;
                while let Some(&(j, d)) = chars.peek() {
                    if d.is_ascii_digit() || d == '.' || (j == i && d == '-') {
                        end = j + d.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                let text = &text[i..end];
                let n = text.parse().map_err(|_| format!("invalid number {text:?}"))?;
                tokens.push(Token::Num(n));
            }
            c if c.is_alphabetic() || c == '_' => {
                let mut word = String::new();
                while let Some((_, d)) = chars.next_if(|&(_, d)| d.is_alphanumeric() || d == '_') {
                    word.push(d);
                }
                tokens.push(Token::Ident(word));
            }
            other => return Err(format!("unsupported character {other:?} at byte {i}")),
        }
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_equality_reads_only_json_strings() {
        assert_eq!(
            where_sql(r#"properties["plan"] == "pro""#).unwrap(),
            "(coalesce((json_get_str(properties, 'plan')) = 'pro', false))"
        );
    }

    #[test]
    fn inequality_holds_for_missing_values() {
        assert_eq!(
            where_sql(r#"properties["plan"] != "pro""#).unwrap(),
            "(NOT coalesce((json_get_str(properties, 'plan')) = 'pro', false))"
        );
        // A cast that can never give the literal's type: never equal, so `!=` always holds.
        assert_eq!(where_sql(r#"number(properties["n"]) != "x""#).unwrap(), "(true)");
        assert_eq!(where_sql(r#"number(properties["n"]) == "x""#).unwrap(), "(false)");
    }

    #[test]
    fn quotes_in_names_and_literals_are_doubled() {
        let sql = where_sql(r#"properties["it's"] == 'Tom\'s'"#).unwrap();
        assert!(sql.contains("json_get_str(properties, 'it''s')"), "{sql}");
        assert!(sql.ends_with("= 'Tom''s', false))"), "{sql}");
        let injection = where_sql(r#"properties["x"] == "'; DROP TABLE events; --""#).unwrap();
        assert!(injection.contains("= '''; DROP TABLE events; --', false)"), "{injection}");
    }

    #[test]
    fn numbers_booleans_casts_and_ands() {
        let sql = where_sql(
            r#"(number(properties["n"]) >= 2) and properties["ok"] == true AND defined(user["x"])"#,
        )
        .unwrap();
        let clauses: Vec<&str> = sql.split(" AND ").collect();
        assert_eq!(clauses.len(), 3, "{sql}");
        assert!(clauses[0].contains("TRY_CAST(trim(json_get_str(properties, 'n')) AS DOUBLE)"));
        assert!(clauses[0].ends_with(">= 2.0, false))"), "{}", clauses[0]);
        assert!(clauses[1].contains("json_get_bool(properties, 'ok')"));
        assert!(clauses[1].ends_with("= true, false))"), "{}", clauses[1]);
        assert_eq!(clauses[2], "(json_as_text(properties, 'x') IS NOT NULL)");
        let text = where_sql(r#"string(properties["n"]) < "5""#).unwrap();
        assert!(text.contains("regexp_replace"), "{text}");
    }

    #[test]
    fn time_reads_seconds_from_time_when_there_is_no_dollar_time() {
        let sql = where_sql(r#"properties["$time"] >= datetime("2024-01-02")"#).unwrap();
        assert!(sql.contains("json_contains(properties, '$time')"), "{sql}");
        assert!(sql.contains("json_get_float(properties, 'time')"), "{sql}");
        assert!(sql.contains("/ 1000.0"), "{sql}");
        assert!(sql.contains(">= 1704153600.0"), "{sql}");
    }

    #[test]
    fn everything_else_is_refused_with_the_way_out() {
        let huge = format!(r#"properties["a"] == 1{}"#, "0".repeat(400));
        for bad in [
            "",
            r#"properties["a"] == 1 or properties["b"] == 2"#,
            r#"properties["a"] in [1, 2]"#,
            r#"properties["a"] = 1"#,
            r#"properties["a"] == "unterminated"#,
            r#"foo["a"] == 1"#,
            r#"properties["a"] == 1 properties["b"] == 2"#,
            huge.as_str(),
            r#"not defined(properties["a"])"#,
        ] {
            let error = where_sql(bad).unwrap_err();
            let message = error.to_string();
            assert!(matches!(error, Error::InvalidArgument(_)), "{bad}");
            assert!(message.contains("--local supports only"), "{bad}: {message}");
            assert!(message.contains("mpd query sql"), "{bad}: {message}");
        }
    }
}
