//! Reading discovery answers: names, properties, values, funnels, cohorts, top events.

use serde_json::Value;

use crate::json::{Why, array, count, id, kind, number, object, text};
use crate::result::{CohortInfo, FunnelInfo, PropertyCount, TopEvent};

/// `/events/names`: `["Login", ...]`, most common first.
pub(super) fn event_names(root: &Value) -> Result<Vec<String>, Why> {
    list(root, "the event names")?
        .iter()
        .map(|v| {
            v.as_str().map(str::to_owned).ok_or_else(|| format!("an event name is {}", kind(v)))
        })
        .collect()
}

/// `/events/properties/top`: `{"<name>": {"count": 295}, ...}`, entries sometimes `{}`;
/// most frequent first, then by name.
pub(super) fn properties(root: &Value) -> Result<Vec<PropertyCount>, Why> {
    let map = object(root, "the properties")?;
    let mut out = Vec::with_capacity(map.len());
    for (name, entry) in map {
        let count = match entry {
            Value::Object(fields) => count(fields.get("count"), &format!("the count of {name:?}"))?,
            // A bare number is the count itself.
            Value::Number(_) => count(Some(entry), &format!("the count of {name:?}"))?,
            Value::Null => None,
            other => return Err(format!("property {name:?} is {}", kind(other))),
        };
        out.push(PropertyCount { name: name.clone(), count });
    }
    out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
    Ok(out)
}

/// `/events/properties/values`: `["cat", "dog", ...]`; numbers and booleans become their text,
/// `null` entries are left out.
pub(super) fn property_values(root: &Value) -> Result<Vec<String>, Why> {
    Ok(list(root, "the property values")?
        .iter()
        .filter(|v| !v.is_null())
        .map(|v| text(Some(v)).unwrap_or_else(|| v.to_string()))
        .collect())
}

/// `/funnels/list`: `[{"funnel_id": 7509, "name": "Signup funnel"}, ...]`.
pub(super) fn funnels(root: &Value) -> Result<Vec<FunnelInfo>, Why> {
    list(root, "the funnel list")?
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            let fields = object(entry, &format!("funnel #{}", i + 1))?;
            Ok(FunnelInfo {
                funnel_id: id(fields.get("funnel_id"), &format!("funnel_id of funnel #{}", i + 1))?,
                name: text(fields.get("name")).unwrap_or_default(),
            })
        })
        .collect()
}

/// `/cohorts/list`: `[{"count", "is_visible" (0/1 or bool), "description", "created",
/// "project_id", "id", "name"}, ...]`.
pub(super) fn cohorts(root: &Value) -> Result<Vec<CohortInfo>, Why> {
    list(root, "the cohort list")?
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            let what = format!("cohort #{}", i + 1);
            let fields = object(entry, &what)?;
            Ok(CohortInfo {
                id: id(fields.get("id"), &format!("id of {what}"))?,
                name: text(fields.get("name")).unwrap_or_default(),
                count: count(fields.get("count"), &format!("count of {what}"))?,
                description: text(fields.get("description")),
                created: text(fields.get("created")),
                is_visible: flag(fields.get("is_visible")),
                project_id: fields.get("project_id").and_then(|v| id(Some(v), "project_id").ok()),
            })
        })
        .collect()
}

/// `/events/top`: `{"events": [{"amount", "event", "percent_change"?}], "type": "general"}`,
/// largest first.
pub(super) fn top_events(root: &Value) -> Result<Vec<TopEvent>, Why> {
    let fields = object(root, "the top events")?;
    let events = fields.get("events").ok_or("the `events` member is missing")?;
    let mut out = array(events, "`events`")?
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            let what = format!("top event #{}", i + 1);
            let fields = object(entry, &what)?;
            Ok(TopEvent {
                event: text(fields.get("event")).ok_or_else(|| format!("{what} has no name"))?,
                count: count(fields.get("amount"), &format!("amount of {what}"))?.unwrap_or(0),
                percent_change: number(fields.get("percent_change"), "percent_change")?,
            })
        })
        .collect::<Result<Vec<_>, Why>>()?;
    out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.event.cmp(&b.event)));
    Ok(out)
}

/// A list answer: the array itself, or the array under `results`/`data`.
fn list<'a>(root: &'a Value, what: &str) -> Result<&'a Vec<Value>, Why> {
    if let Value::Object(fields) = root
        && let Some(inner) = fields.get("results").or_else(|| fields.get("data"))
    {
        return array(inner, what);
    }
    array(root, what)
}

/// `1`, `0`, `true`, `false`, `"1"`, `"true"`.
fn flag(value: Option<&Value>) -> Option<bool> {
    match value? {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_f64().map(|n| n != 0.0),
        Value::String(s) => match s.trim() {
            "1" | "true" => Some(true),
            "0" | "false" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn event_names_from_an_array_or_a_results_wrapper() {
        let names = event_names(&json!(["battle", "click signup button"])).unwrap();
        assert_eq!(names, ["battle", "click signup button"]);
        assert_eq!(event_names(&json!({"results": ["a"]})).unwrap(), ["a"]);
        assert!(event_names(&json!([1])).unwrap_err().contains("a number"));
        assert!(event_names(&json!({"x": 1})).unwrap_err().contains("an array"));
    }

    #[test]
    fn properties_with_counts_and_empty_entries() {
        let got = properties(
            &json!({"$browser": {"count": 295}, "plan": {}, "amount": {"count": 301.0}, "$os": 7}),
        )
        .unwrap();
        let pairs: Vec<(&str, Option<u64>)> =
            got.iter().map(|p| (p.name.as_str(), p.count)).collect();
        assert_eq!(
            pairs,
            [("amount", Some(301)), ("$browser", Some(295)), ("$os", Some(7)), ("plan", None)]
        );
        assert!(properties(&json!({"x": "many"})).unwrap_err().contains("a string"));
        assert!(properties(&json!([])).unwrap_err().contains("an object"));
        assert!(properties(&json!({})).unwrap().is_empty());
    }

    #[test]
    fn property_values_turn_numbers_into_text() {
        let got = property_values(&json!(["cat", 3, 12.5, true, null])).unwrap();
        assert_eq!(got, ["cat", "3", "12.5", "true"]);
    }

    #[test]
    fn funnels_with_numeric_or_text_ids() {
        let got = funnels(&json!([{"funnel_id": 7001, "name": "Purchase funnel"}, {"funnel_id": "7002", "name": "Signup"}]))
            .unwrap();
        assert_eq!(got[0], FunnelInfo { funnel_id: 7001, name: "Purchase funnel".into() });
        assert_eq!(got[1].funnel_id, 7002);
        assert!(funnels(&json!([{"name": "x"}])).unwrap_err().contains("funnel_id of funnel #1"));
    }

    #[test]
    fn cohorts_with_visible_as_number_or_bool_and_any_created_text() {
        let got = cohorts(&json!([
            {"count": 150, "is_visible": 1, "description": "d", "created": "2019-03-19 23:49:51", "project_id": 1, "id": 1000, "name": "One"},
            {"count": 2.0, "is_visible": false, "created": "yesterday-ish", "id": "1001", "name": "Two"},
            {"id": 1002, "name": "Three", "is_visible": 0}
        ]))
        .unwrap();
        assert_eq!(got[0].is_visible, Some(true));
        assert_eq!(got[0].created.as_deref(), Some("2019-03-19 23:49:51"));
        assert_eq!(got[0].project_id, Some(1));
        assert_eq!((got[1].id, got[1].count, got[1].is_visible), (1001, Some(2), Some(false)));
        assert_eq!(got[1].created.as_deref(), Some("yesterday-ish"));
        assert_eq!(
            (got[2].count, got[2].description.as_deref(), got[2].is_visible),
            (None, None, Some(false))
        );
        assert!(cohorts(&json!([{"name": "no id"}])).is_err());
    }

    #[test]
    fn top_events_with_and_without_percent_change() {
        let got = top_events(&json!({"events": [
            {"amount": 2, "event": "funnel"},
            {"amount": 5.0, "event": "Login", "percent_change": -0.35}
        ], "type": "unique"}))
        .unwrap();
        assert_eq!(
            got[0],
            TopEvent { event: "Login".into(), count: 5, percent_change: Some(-0.35) }
        );
        assert_eq!(got[1].percent_change, None);
        assert!(top_events(&json!({"type": "general"})).unwrap_err().contains("`events`"));
        assert!(top_events(&json!({"events": [{"amount": 1}]})).unwrap_err().contains("no name"));
    }
}
