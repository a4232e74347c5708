//! Tolerant readers for Query API answers: Mixpanel sends counts as integers or floats,
//! wraps some answers in `data` and not others, and leaves out fields. Readers return a
//! reason on failure; callers add the endpoint (see `wire::unreadable`).

use serde_json::{Map, Value};

/// Why a part of an answer could not be read.
pub(super) type Why = String;

/// The answer's `data` member when it has one, else the answer itself.
pub(super) fn unwrap_data(root: &Value) -> &Value {
    match root.get("data") {
        Some(data) if data.is_object() => data,
        _ => root,
    }
}

/// An object, or a reason naming `what` was expected.
pub(super) fn object<'a>(value: &'a Value, what: &str) -> Result<&'a Map<String, Value>, Why> {
    value.as_object().ok_or_else(|| format!("expected {what} as an object, got {}", kind(value)))
}

/// An array, or a reason naming `what` was expected.
pub(super) fn array<'a>(value: &'a Value, what: &str) -> Result<&'a Vec<Value>, Why> {
    value.as_array().ok_or_else(|| format!("expected {what} as an array, got {}", kind(value)))
}

/// A number (integer or float); `null` and a missing value read as `None`.
pub(super) fn number(value: Option<&Value>, what: &str) -> Result<Option<f64>, Why> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            n.as_f64().map(Some).ok_or_else(|| format!("{what} {n} is not a finite number"))
        }
        Some(other) => Err(format!("expected {what} as a number, got {}", kind(other))),
    }
}

/// A count: a non-negative number, rounded (Mixpanel sometimes writes `12.0`).
pub(super) fn count(value: Option<&Value>, what: &str) -> Result<Option<u64>, Why> {
    match number(value, what)? {
        None => Ok(None),
        Some(n) if n >= 0.0 && n.is_finite() => Ok(Some(n.round() as u64)),
        Some(n) => Err(format!("{what} {n} is not a count")),
    }
}

/// A string member; numbers become their text (ids are sometimes sent as numbers).
pub(super) fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// An id sent as a number or as a string of digits.
pub(super) fn id(value: Option<&Value>, what: &str) -> Result<u64, Why> {
    match value {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or_else(|| match value {
        Some(v) => format!("expected {what} as an id, got {}", kind(v)),
        None => format!("{what} is missing"),
    })
}

/// What a JSON value is, for messages.
pub(super) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn data_wrapper_is_optional() {
        let wrapped = json!({"data": {"a": 1}, "legend_size": 1});
        assert_eq!(unwrap_data(&wrapped), &json!({"a": 1}));
        let bare = json!({"a": 1});
        assert_eq!(unwrap_data(&bare), &bare);
        let odd = json!({"data": [1]});
        assert_eq!(unwrap_data(&odd), &odd);
    }

    #[test]
    fn numbers_and_counts_accept_ints_and_floats() {
        assert_eq!(number(Some(&json!(3)), "x"), Ok(Some(3.0)));
        assert_eq!(number(Some(&json!(2.5)), "x"), Ok(Some(2.5)));
        assert_eq!(number(Some(&Value::Null), "x"), Ok(None));
        assert_eq!(number(None, "x"), Ok(None));
        assert!(number(Some(&json!("3")), "x").unwrap_err().contains("a string"));
        assert_eq!(count(Some(&json!(12.0)), "count"), Ok(Some(12)));
        assert!(count(Some(&json!(-1)), "count").is_err());
    }

    #[test]
    fn ids_and_texts() {
        assert_eq!(id(Some(&json!(7001)), "funnel_id"), Ok(7001));
        assert_eq!(id(Some(&json!("7001")), "funnel_id"), Ok(7001));
        assert!(id(None, "funnel_id").unwrap_err().contains("missing"));
        assert!(id(Some(&json!([1])), "funnel_id").unwrap_err().contains("an array"));
        assert_eq!(text(Some(&json!(42))), Some("42".to_owned()));
        assert_eq!(text(Some(&json!({}))), None);
    }
}
