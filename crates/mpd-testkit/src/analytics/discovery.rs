//! `/events/names`, `/events/top`, `/events/properties/top` and `/events/properties/values`.
//!
//! `/events/names` orders by event count whatever `type` says; `/events/top` counts `amount`
//! with the requested `type` and lists every event seen today or yesterday.

use std::collections::HashMap;

use super::{CountType, Tally, top_by_total, value_text};
use crate::project::QueryEvent;

/// Keys Mixpanel does not report as event properties.
const HIDDEN_KEYS: [&str; 4] = ["time", "distinct_id", "$insert_id", "mp_processing_time_ms"];

/// Event names with their counts, most frequent first (ties by name).
pub(crate) fn names<'a>(events: impl Iterator<Item = &'a QueryEvent>) -> Vec<(String, u64)> {
    let mut counts: HashMap<&str, u64> = HashMap::new();
    for e in events {
        *counts.entry(e.name.as_str()).or_default() += 1;
    }
    sorted_counts(counts.into_iter().map(|(k, n)| (k.to_owned(), n)))
}

/// One `/events/top` entry.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TopEvent {
    pub(crate) event: String,
    pub(crate) amount: f64,
    pub(crate) percent_change: f64,
}

/// Events of today against yesterday, largest `amount` first (ties by name).
pub(crate) fn top<'a>(
    today: impl Iterator<Item = &'a QueryEvent>,
    yesterday: impl Iterator<Item = &'a QueryEvent>,
    count: CountType,
) -> Vec<TopEvent> {
    let mut tallies: HashMap<&str, [Tally<'a>; 2]> = HashMap::new();
    for (slot, events) in [(0, today.collect::<Vec<_>>()), (1, yesterday.collect())] {
        for e in events {
            tallies.entry(e.name.as_str()).or_default()[slot].add(e);
        }
    }
    let items = tallies
        .into_iter()
        .map(|(name, [now, before])| {
            let (amount, prev) = (now.number(count), before.number(count));
            let percent_change = if prev == 0.0 { 0.0 } else { (amount - prev) / prev };
            (name.to_owned(), amount, percent_change)
        })
        .collect();
    top_by_total(items, usize::MAX)
        .into_iter()
        .map(|(event, amount, percent_change)| TopEvent { event, amount, percent_change })
        .collect()
}

/// Property keys of `event` with the number of events carrying each, most common first;
/// `None` when no such event happened.
pub(crate) fn property_keys<'a>(
    events: impl Iterator<Item = &'a QueryEvent>,
    event: &str,
) -> Option<Vec<(String, u64)>> {
    let mut counts: HashMap<&str, u64> = HashMap::new();
    let mut seen = false;
    for e in events.filter(|e| e.name == event) {
        seen = true;
        for key in e.properties.keys().filter(|k| !HIDDEN_KEYS.contains(&k.as_str())) {
            *counts.entry(key.as_str()).or_default() += 1;
        }
    }
    seen.then(|| sorted_counts(counts.into_iter().map(|(k, n)| (k.to_owned(), n))))
}

/// Values of property `name` (on `event` when given) as text, most frequent first.
pub(crate) fn property_values<'a>(
    events: impl Iterator<Item = &'a QueryEvent>,
    event: Option<&str>,
    name: &str,
) -> Vec<(String, u64)> {
    let mut counts: HashMap<String, u64> = HashMap::new();
    for e in events.filter(|e| event.is_none_or(|ev| e.name == ev)) {
        if let Some(text) = e.properties.get(name).and_then(value_text) {
            *counts.entry(text).or_default() += 1;
        }
    }
    sorted_counts(counts.into_iter())
}

fn sorted_counts(items: impl Iterator<Item = (String, u64)>) -> Vec<(String, u64)> {
    let mut items: Vec<(String, u64)> = items.collect();
    items.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    items
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ev(name: &str, user: &str, props: serde_json::Value) -> QueryEvent {
        let serde_json::Value::Object(mut properties) = props else { unreachable!("objects") };
        properties.insert("time".to_owned(), json!(1));
        properties.insert("distinct_id".to_owned(), json!(user));
        QueryEvent {
            name: name.to_owned(),
            time_secs: 1,
            distinct_id: user.to_owned(),
            resolved: user.to_owned(),
            properties,
        }
    }

    #[test]
    fn names_by_count_then_name() {
        let events = [
            ev("B", "a", json!({})),
            ev("A", "a", json!({})),
            ev("C", "a", json!({})),
            ev("C", "b", json!({})),
        ];
        let got: Vec<String> = names(events.iter()).into_iter().map(|(n, _)| n).collect();
        assert_eq!(got, ["C", "A", "B"]);
    }

    #[test]
    fn top_compares_today_with_yesterday() {
        let today = [ev("A", "a", json!({})), ev("A", "a", json!({})), ev("B", "a", json!({}))];
        let yesterday = [ev("A", "a", json!({})), ev("C", "a", json!({}))];
        let got = top(today.iter(), yesterday.iter(), CountType::General);
        let want = [("A", 2.0, 1.0), ("B", 1.0, 0.0), ("C", 0.0, -1.0)];
        assert_eq!(got.len(), 3);
        for (g, (e, a, p)) in got.iter().zip(want) {
            assert_eq!((g.event.as_str(), g.amount, g.percent_change), (e, a, p));
        }
        let unique = top(today.iter(), yesterday.iter(), CountType::Unique);
        assert_eq!(unique[0].amount, 1.0);
    }

    #[test]
    fn property_keys_and_values() {
        let events = [
            ev("E", "a", json!({"$insert_id": "x", "plan": "pro", "n": 3})),
            ev("E", "b", json!({"plan": "free"})),
            ev("E", "c", json!({"plan": "pro", "n": null})),
            ev("F", "c", json!({"plan": "gold"})),
        ];
        let keys = property_keys(events.iter(), "E").unwrap();
        assert_eq!(keys, [("plan".to_owned(), 3), ("n".to_owned(), 2)]);
        assert_eq!(property_keys(events.iter(), "Nope"), None);
        let values = property_values(events.iter(), Some("E"), "plan");
        assert_eq!(values, [("pro".to_owned(), 2), ("free".to_owned(), 1)]);
        assert_eq!(property_values(events.iter(), None, "plan").len(), 3);
        assert_eq!(property_values(events.iter(), None, "n"), [("3".to_owned(), 1)]);
    }
}
