//! Activity feed answers: `{"status": "ok", "results": {"events": [{"event", "properties":
//! {"time", "$distinct_id", ...}}]}}`.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::json::{Why, array, kind, number, object, text};
use crate::result::ActivityEvent;

/// Events oldest first. `$distinct_id` may be a string or a number (turned into its text),
/// with `distinct_id` as a fallback; `time` is seconds, integer or float.
pub(super) fn activity_answer(root: &Value) -> Result<Vec<ActivityEvent>, Why> {
    let results = root.get("results").unwrap_or(root);
    let events = match results {
        Value::Array(_) => results,
        _ => results.get("events").ok_or("the `results.events` member is missing")?,
    };
    let mut out = array(events, "`events`")?
        .iter()
        .enumerate()
        .map(|(i, entry)| event(entry, i + 1))
        .collect::<Result<Vec<_>, Why>>()?;
    out.sort_by_key(|e| e.time);
    Ok(out)
}

fn event(entry: &Value, n: usize) -> Result<ActivityEvent, Why> {
    let what = format!("event #{n}");
    let fields = object(entry, &what)?;
    let name = text(fields.get("event")).ok_or_else(|| format!("{what} has no name"))?;
    let mut properties = match fields.get("properties") {
        Some(p) => object(p, &format!("the properties of {what}"))?.clone(),
        None => serde_json::Map::new(),
    };
    let secs = number(properties.get("time"), &format!("the time of {what}"))?
        .ok_or_else(|| format!("{what} has no time"))?;
    let time =
        seconds(secs).ok_or_else(|| format!("the time of {what} ({secs}) is out of range"))?;
    let distinct_id = ["$distinct_id", "distinct_id"]
        .iter()
        .find_map(|key| properties.get(*key).filter(|v| !v.is_null()))
        .map(|v| text(Some(v)).ok_or_else(|| format!("the distinct_id of {what} is {}", kind(v))))
        .transpose()?
        .ok_or_else(|| format!("{what} has no $distinct_id"))?;
    for key in ["time", "$distinct_id", "distinct_id"] {
        properties.remove(key);
    }
    Ok(ActivityEvent { time, event: name, distinct_id, properties })
}

fn seconds(secs: f64) -> Option<DateTime<Utc>> {
    if !secs.is_finite() {
        return None;
    }
    let whole = secs.floor();
    let nanos = ((secs - whole) * 1e9).round().min(999_999_999.0) as u32;
    DateTime::from_timestamp(whole as i64, nanos)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn documented_shape_sorted_oldest_first() {
        let feed = activity_answer(&json!({"status": "ok", "results": {"events": [
            {"event": "Game Played", "properties": {"time": 1599589453, "$distinct_id": "u_1", "level": 3}},
            {"event": "Login", "properties": {"time": 1599589400.5, "$distinct_id": 42, "distinct_id": "ignored"}}
        ]}}))
        .unwrap();
        assert_eq!(feed[0].event, "Login");
        assert_eq!(feed[0].distinct_id, "42");
        assert_eq!(feed[0].time.timestamp_millis(), 1_599_589_400_500);
        assert!(feed[0].properties.is_empty(), "time and ids are lifted out");
        assert_eq!(feed[1].distinct_id, "u_1");
        assert_eq!(feed[1].properties["level"], json!(3));
    }

    #[test]
    fn distinct_id_fallback_and_results_as_a_list() {
        let feed = activity_answer(&json!({"results": [
            {"event": "A", "properties": {"time": 1, "distinct_id": "d"}},
            {"event": "B", "properties": {"time": 2, "$distinct_id": ""}}
        ]}))
        .unwrap();
        assert_eq!(feed[0].distinct_id, "d");
        assert_eq!(feed[1].distinct_id, "", "the empty id is a user like any other");
    }

    #[test]
    fn unreadable_events_are_named() {
        let no_time =
            json!({"results": {"events": [{"event": "A", "properties": {"$distinct_id": "x"}}]}});
        assert!(activity_answer(&no_time).unwrap_err().contains("event #1 has no time"));
        let no_id = json!({"results": {"events": [{"event": "A", "properties": {"time": 1}}]}});
        assert!(activity_answer(&no_id).unwrap_err().contains("$distinct_id"));
        let odd_id = json!({"results": {"events": [{"event": "A", "properties": {"time": 1, "$distinct_id": []}}]}});
        assert!(activity_answer(&odd_id).unwrap_err().contains("an array"));
        assert!(
            activity_answer(&json!({"status": "ok", "results": {}}))
                .unwrap_err()
                .contains("events")
        );
        assert!(activity_answer(&json!({"results": {"events": []}})).unwrap().is_empty());
    }
}
