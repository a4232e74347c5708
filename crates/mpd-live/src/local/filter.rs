//! Mixpanel `where` expressions as SQL predicates over `properties`, for the subset `mpd_where`
//! parses: `properties["x"] OP literal` (also `user[..]`/`event[..]`, optionally inside
//! `number(..)` or `string(..)`), `defined(properties["x"])`, `and`, parentheses. Literals are
//! strings, numbers, `true`/`false` and `datetime(..)`.
//!
//! Comparisons follow Mixpanel's typing: a value compares only with a literal of its own
//! type; a missing value or another type is never equal and never ordered, so `!=` holds.

use mpd_where::{Cast, Clause, Comparison, Literal, Operand};

use super::sql::{PropertyReads, number, quote};
use crate::error::{Error, Result};

/// The SQL predicate for a `where` expression.
pub(super) fn where_sql(expr: &str) -> Result<String> {
    let clauses = mpd_where::parse(expr).map_err(|error| unsupported(error.to_string()))?;
    let sql: Vec<String> = clauses.iter().map(clause_sql).collect::<Result<_>>()?;
    Ok(sql.iter().map(|c| format!("({c})")).collect::<Vec<_>>().join(" AND "))
}

fn unsupported(reason: String) -> Error {
    Error::InvalidArgument(format!(
        "--local supports only simple where expressions (properties[\"x\"] compared with a \
         string, number or boolean, defined(properties[\"x\"]), `and`, parentheses): {reason}; \
         use `mpd query sql` for anything else"
    ))
}

/// Mixpanel calls the export's `time` `$time` in expressions.
const TIME: &str = "$time";

fn clause_sql(clause: &Clause) -> Result<String> {
    match clause {
        Clause::Defined(name) if name == TIME => Ok(format!(
            "CASE WHEN {} THEN {} ELSE {} END",
            PropertyReads::new(TIME).present(),
            PropertyReads::new(TIME).defined(),
            PropertyReads::new("time").defined()
        )),
        Clause::Defined(name) => Ok(PropertyReads::new(name).defined()),
        Clause::Compare { operand: Operand { property, cast }, op, literal } => {
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
                Literal::Num(n) => {
                    number(*n).map_err(|_| unsupported(format!("{n} is not a usable number")))?
                }
                Literal::Bool(b) => b.to_string(),
            };
            Ok(match (value, op) {
                (None, Comparison::Ne) => "true".to_owned(),
                (None, _) => "false".to_owned(),
                (Some(value), Comparison::Ne) => {
                    format!("NOT coalesce(({value}) = {literal}, false)")
                }
                (Some(value), op) => {
                    format!("coalesce(({value}) {} {literal}, false)", operator_sql(*op))
                }
            })
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

fn operator_sql(op: Comparison) -> &'static str {
    match op {
        Comparison::Eq => "=",
        Comparison::Ne => "<>",
        Comparison::Lt => "<",
        Comparison::Le => "<=",
        Comparison::Gt => ">",
        Comparison::Ge => ">=",
    }
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
