//! Evaluation of Mixpanel `where` expressions against event or profile properties, for the
//! subset `mpd_where` parses: `properties["x"] OP literal` (also `user[..]`/`event[..]`,
//! optionally wrapped in `number(..)` or `string(..)`), `defined(properties["x"])`, clauses
//! joined by `and`, and parentheses. Literals: strings, numbers, `true`/`false`,
//! `datetime(<unix secs>)` and `datetime("YYYY-MM-DDTHH:MM:SS")`. Anything else is rejected so a
//! client never believes an unsupported filter was applied.

use mpd_where::{Cast, Clause, Comparison, Literal, Operand};
use serde_json::{Map, Value};

/// A parsed `where` expression: every clause must hold.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WhereExpr {
    clauses: Vec<Clause>,
}

impl WhereExpr {
    /// Parses `text`; the error names what was not understood.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        match mpd_where::parse(text) {
            Ok(clauses) => Ok(Self { clauses }),
            // A byte offset has to say what it counts in (the e2e snapshots pin this wording).
            Err(error) if error.byte_offset().is_some() => {
                Err(format!("{error} of where expression"))
            }
            Err(error) => Err(error.to_string()),
        }
    }

    /// Whether an object of properties satisfies every clause.
    pub(crate) fn matches(&self, props: &Map<String, Value>) -> bool {
        self.clauses.iter().all(|clause| clause_matches(clause, props))
    }
}

fn clause_matches(clause: &Clause, props: &Map<String, Value>) -> bool {
    match clause {
        Clause::Defined(name) => lookup(props, name).is_some_and(|v| !v.is_null()),
        Clause::Compare { operand: Operand { property, cast: wanted }, op, literal } => {
            let value = lookup(props, property).and_then(|v| cast(v, *wanted));
            let value = match (value, property.as_str()) {
                // `$time` literals are seconds; files may hold ms.
                (Some(Literal::Num(n)), "$time") if n > 1e11 => Some(Literal::Num(n / 1000.0)),
                (v, _) => v,
            };
            compare(value.as_ref(), *op, literal)
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

fn compare(value: Option<&Literal>, op: Comparison, literal: &Literal) -> bool {
    use std::cmp::Ordering;
    let ordering = match (value, literal) {
        (Some(Literal::Num(a)), Literal::Num(b)) => a.partial_cmp(b),
        (Some(Literal::Str(a)), Literal::Str(b)) => Some(a.as_str().cmp(b.as_str())),
        (Some(Literal::Bool(a)), Literal::Bool(b)) => Some(a.cmp(b)),
        // Mixed types and missing values are never equal and never ordered.
        _ => None,
    };
    match op {
        Comparison::Eq => ordering == Some(Ordering::Equal),
        Comparison::Ne => ordering != Some(Ordering::Equal),
        Comparison::Lt => ordering == Some(Ordering::Less),
        Comparison::Le => matches!(ordering, Some(Ordering::Less | Ordering::Equal)),
        Comparison::Gt => ordering == Some(Ordering::Greater),
        Comparison::Ge => matches!(ordering, Some(Ordering::Greater | Ordering::Equal)),
    }
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
    fn a_refusal_says_what_its_byte_offset_counts_in() {
        let located = WhereExpr::parse(r#"properties["x"] in [1, 2]"#).unwrap_err();
        assert_eq!(located, "unsupported character ',' at byte 21 of where expression");
        let unlocated = WhereExpr::parse(r#"properties["a"] == 1 or properties["b"] == 2"#);
        assert_eq!(unlocated.unwrap_err(), "`or` is not supported");
    }
}
