//! The small subset of Mixpanel's `where` expression language the mock understands.
//!
//! Supported: `properties["x"] OP literal` (also `user[..]`/`event[..]`, optionally wrapped in
//! `number(..)` or `string(..)`), `defined(properties["x"])`, clauses joined by `and`, and
//! parentheses. Literals: strings, numbers, `true`/`false`, `datetime(<unix secs>)` and
//! `datetime("YYYY-MM-DDTHH:MM:SS")`. Anything else is rejected so a client never believes an
//! unsupported filter was applied.

use chrono::NaiveDateTime;
use serde_json::{Map, Value};

/// A parsed `where` expression: every clause must hold.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WhereExpr {
    clauses: Vec<Clause>,
}

#[derive(Debug, Clone, PartialEq)]
enum Clause {
    Defined(String),
    Compare { operand: Operand, op: Op, literal: Literal },
}

#[derive(Debug, Clone, PartialEq)]
struct Operand {
    property: String,
    cast: Cast,
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

impl WhereExpr {
    /// Parses `text`; the error names what was not understood.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let tokens = tokenize(text)?;
        let mut parser = Parser { tokens, pos: 0 };
        let mut clauses = Vec::new();
        parser.expr(&mut clauses)?;
        if let Some(tok) = parser.peek() {
            return Err(format!("unexpected {tok:?} in where expression"));
        }
        if clauses.is_empty() {
            return Err("empty where expression".to_owned());
        }
        Ok(Self { clauses })
    }

    /// Whether an object of properties satisfies every clause.
    pub(crate) fn matches(&self, props: &Map<String, Value>) -> bool {
        self.clauses.iter().all(|clause| clause.matches(props))
    }
}

impl Clause {
    fn matches(&self, props: &Map<String, Value>) -> bool {
        match self {
            Self::Defined(name) => lookup(props, name).is_some_and(|v| !v.is_null()),
            Self::Compare { operand, op, literal } => {
                let value = lookup(props, &operand.property).and_then(|v| cast(v, operand.cast));
                let value = match (value, operand.property.as_str()) {
                    // `$time` literals are seconds; files may hold ms.
                    (Some(Literal::Num(n)), "$time") if n > 1e11 => Some(Literal::Num(n / 1000.0)),
                    (v, _) => v,
                };
                compare(value.as_ref(), *op, literal)
            }
        }
    }
}

/// Mixpanel exposes the export's `time` as `$time` in expressions.
fn lookup<'a>(props: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    match props.get(name) {
        Some(v) => Some(v),
        None if name == "$time" => props.get("time"),
        None => None,
    }
}

fn cast(value: &Value, cast: Cast) -> Option<Literal> {
    match (cast, value) {
        (Cast::None | Cast::String, Value::String(s)) => Some(Literal::Str(s.clone())),
        (Cast::None | Cast::Number, Value::Number(n)) => n.as_f64().map(Literal::Num),
        (Cast::None, Value::Bool(b)) => Some(Literal::Bool(*b)),
        (Cast::Number, Value::String(s)) => s.trim().parse().ok().map(Literal::Num),
        (Cast::Number, Value::Bool(b)) => Some(Literal::Num(if *b { 1.0 } else { 0.0 })),
        (Cast::String, Value::Number(n)) => Some(Literal::Str(n.to_string())),
        (Cast::String, Value::Bool(b)) => Some(Literal::Str(b.to_string())),
        _ => None,
    }
}

fn compare(value: Option<&Literal>, op: Op, literal: &Literal) -> bool {
    use std::cmp::Ordering;
    let ordering = match (value, literal) {
        (Some(Literal::Num(a)), Literal::Num(b)) => a.partial_cmp(b),
        (Some(Literal::Str(a)), Literal::Str(b)) => Some(a.as_str().cmp(b.as_str())),
        (Some(Literal::Bool(a)), Literal::Bool(b)) => Some(a.cmp(b)),
        // Mixed types and missing values are never equal and never ordered.
        _ => None,
    };
    match op {
        Op::Eq => ordering == Some(Ordering::Equal),
        Op::Ne => ordering != Some(Ordering::Equal),
        Op::Lt => ordering == Some(Ordering::Less),
        Op::Le => matches!(ordering, Some(Ordering::Less | Ordering::Equal)),
        Op::Gt => ordering == Some(Ordering::Greater),
        Op::Ge => matches!(ordering, Some(Ordering::Greater | Ordering::Equal)),
    }
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Result<Token, String> {
        let tok = self
            .tokens
            .get(self.pos)
            .cloned()
            .ok_or_else(|| "where expression ends too early".to_owned())?;
        self.pos += 1;
        Ok(tok)
    }

    fn expect(&mut self, want: &Token) -> Result<(), String> {
        let got = self.next()?;
        if &got == want {
            Ok(())
        } else {
            Err(format!("expected {want:?}, found {got:?} in where expression"))
        }
    }

    fn expr(&mut self, out: &mut Vec<Clause>) -> Result<(), String> {
        self.term(out)?;
        while let Some(Token::Ident(word)) = self.peek() {
            match word.to_ascii_lowercase().as_str() {
                "and" => {
                    self.pos += 1;
                    self.term(out)?;
                }
                "or" => return Err("the mock supports only `and` in where expressions".to_owned()),
                _ => return Err(format!("unexpected `{word}` in where expression")),
            }
        }
        Ok(())
    }

    fn term(&mut self, out: &mut Vec<Clause>) -> Result<(), String> {
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
        let operand = self.operand()?;
        let op = match self.next()? {
            Token::Op(op) => op,
            other => return Err(format!("expected a comparison, found {other:?}")),
        };
        let literal = self.literal()?;
        out.push(Clause::Compare { operand, op, literal });
        Ok(())
    }

    fn operand(&mut self) -> Result<Operand, String> {
        let cast = match self.peek() {
            Some(Token::Ident(w)) if w == "number" => Cast::Number,
            Some(Token::Ident(w)) if w == "string" => Cast::String,
            _ => Cast::None,
        };
        if cast == Cast::None {
            return Ok(Operand { property: self.property()?, cast });
        }
        self.pos += 1;
        self.expect(&Token::LParen)?;
        let property = self.property()?;
        self.expect(&Token::RParen)?;
        Ok(Operand { property, cast })
    }

    fn property(&mut self) -> Result<String, String> {
        match self.next()? {
            Token::Ident(w) if matches!(w.as_str(), "properties" | "user" | "event") => {}
            other => {
                return Err(format!(
                    "expected properties[\"name\"], found {other:?} (unsupported by the mock)"
                ));
            }
        }
        self.expect(&Token::LBracket)?;
        let name = match self.next()? {
            Token::Str(s) => s,
            other => return Err(format!("expected a quoted property name, found {other:?}")),
        };
        self.expect(&Token::RBracket)?;
        Ok(name)
    }

    fn literal(&mut self) -> Result<Literal, String> {
        match self.next()? {
            Token::Str(s) => Ok(Literal::Str(s)),
            Token::Num(n) => Ok(Literal::Num(n)),
            Token::Ident(w) if w == "true" => Ok(Literal::Bool(true)),
            Token::Ident(w) if w == "false" => Ok(Literal::Bool(false)),
            Token::Ident(w) if w == "datetime" => {
                self.expect(&Token::LParen)?;
                let secs = match self.next()? {
                    Token::Num(n) => n,
                    Token::Str(s) => parse_datetime(&s)?,
                    other => return Err(format!("expected a datetime argument, found {other:?}")),
                };
                self.expect(&Token::RParen)?;
                Ok(Literal::Num(secs))
            }
            other => Err(format!("expected a literal, found {other:?}")),
        }
    }
}

fn parse_datetime(text: &str) -> Result<f64, String> {
    let parsed = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| {
            NaiveDateTime::parse_from_str(&format!("{text}T00:00:00"), "%Y-%m-%dT%H:%M:%S")
        })
        .map_err(|_| format!("invalid datetime {text:?}: use YYYY-MM-DDTHH:MM:SS"))?;
    Ok(parsed.and_utc().timestamp() as f64)
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
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
                        None => return Err("unterminated string in where expression".to_owned()),
                        Some((_, '\\')) => match chars.next() {
                            Some((_, e)) => s.push(e),
                            None => {
                                return Err("unterminated string in where expression".to_owned());
                            }
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
                    _ => {
                        return Err(format!(
                            "unsupported operator at byte {i} of where expression"
                        ));
                    }
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
                let number = &text[i..end];
                let n = number
                    .parse()
                    .map_err(|_| format!("invalid number {number:?} in where expression"))?;
                tokens.push(Token::Num(n));
            }
            c if c.is_alphabetic() || c == '_' => {
                let mut word = String::new();
                while let Some((_, d)) = chars.next_if(|&(_, d)| d.is_alphanumeric() || d == '_') {
                    word.push(d);
                }
                tokens.push(Token::Ident(word));
            }
            other => {
                return Err(format!(
                    "unsupported character {other:?} at byte {i} of where expression"
                ));
            }
        }
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn props(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    fn eval(expr: &str, v: Value) -> bool {
        WhereExpr::parse(expr).unwrap().matches(&props(v))
    }

    #[test]
    fn equality_and_inequality_on_strings() {
        let p = json!({"$city": "Zürich", "plan": "pro"});
        assert!(eval(r#"properties["$city"] == "Zürich""#, p.clone()));
        assert!(!eval(r#"properties["$city"] == "Berlin""#, p.clone()));
        assert!(eval(r#"properties["plan"] != "free""#, p.clone()));
        assert!(eval(r#"properties["missing"] != "x""#, p));
    }

    #[test]
    fn numbers_compare_numerically_and_types_never_mix() {
        let p = json!({"amount": 10.5, "n": "7"});
        assert!(eval(r#"properties["amount"] > 10"#, p.clone()));
        assert!(eval(r#"properties["amount"] <= 10.5"#, p.clone()));
        assert!(!eval(r#"properties["amount"] < -1"#, p.clone()));
        assert!(!eval(r#"properties["n"] == 7"#, p.clone()));
        assert!(eval(r#"number(properties["n"]) == 7"#, p));
    }

    #[test]
    fn and_defined_and_parentheses() {
        let p = json!({"a": 1, "b": "x"});
        assert!(eval(r#"defined(properties["a"]) and properties["b"] == "x""#, p.clone()));
        assert!(!eval(r#"defined(properties["c"]) AND properties["b"] == "x""#, p.clone()));
        assert!(eval(r#"(properties["a"] >= 1) and (properties["a"] < 2)"#, p));
    }

    #[test]
    fn time_ranges_use_datetime_literals() {
        let p = json!({"time": 1_704_067_200, "x": 1});
        assert!(eval(
            r#"properties["$time"] >= datetime(1704067200) and properties["$time"] < datetime("2024-01-02T00:00:00")"#,
            p.clone()
        ));
        assert!(!eval(r#"event["$time"] >= datetime("2024-01-02")"#, p));
        let in_ms = json!({"time": 1_704_067_200_123_i64});
        assert!(eval(r#"properties["$time"] < datetime(1704067201)"#, in_ms));
    }

    #[test]
    fn unsupported_syntax_is_rejected_with_a_reason() {
        for bad in [
            "",
            r#"properties["a"] == 1 or properties["b"] == 2"#,
            r#"properties["a"] in [1, 2]"#,
            r#"properties["a"] = 1"#,
            r#"properties["a"] == "unterminated"#,
            r#"foo["a"] == 1"#,
            r#"properties["a"] == 1 properties["b"] == 2"#,
        ] {
            let err = WhereExpr::parse(bad).unwrap_err();
            assert!(!err.is_empty(), "{bad:?}");
        }
    }
}
