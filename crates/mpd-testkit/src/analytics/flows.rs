//! Saved flows (`/arb_funnels?query_type=flows_sankey`): from each user's first start event,
//! the next few events in time order (same-second events keep their served order).

use std::collections::HashMap;

use serde_json::{Value, json};

use super::top_by_total;
use crate::project::QueryEvent;

/// Most common full paths listed.
const TOP_PATHS: usize = 10;

/// `{"steps": [...], "flows": [...], "overallConversionRate": x}` (no `computed_at`).
pub(crate) fn flows_json<'a>(
    events: impl Iterator<Item = &'a QueryEvent>,
    start: &str,
    depth: usize,
) -> Value {
    let mut by_user: HashMap<&str, Vec<&QueryEvent>> = HashMap::new();
    for e in events {
        by_user.entry(e.resolved.as_str()).or_default().push(e);
    }
    let mut paths: Vec<Vec<&str>> = Vec::new();
    for (_, mut events) in by_user {
        events.sort_by_key(|e| e.time_secs);
        if let Some(at) = events.iter().position(|e| e.name == start) {
            paths.push(events[at..].iter().take(depth + 1).map(|e| e.name.as_str()).collect());
        }
    }
    let starting = paths.len();
    let mut steps = vec![json!({"step": 0, "nodes": [{"event": start, "count": starting}]})];
    for step in 1..=depth {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for p in paths.iter().filter_map(|p| p.get(step)) {
            *counts.entry(*p).or_default() += 1;
        }
        let nodes: Vec<Value> = top_by_total(
            counts.into_iter().map(|(e, n)| (e.to_owned(), n as f64, n)).collect(),
            usize::MAX,
        )
        .into_iter()
        .map(|(event, _, count)| json!({"event": event, "count": count}))
        .collect();
        steps.push(json!({"step": step, "nodes": nodes}));
    }
    let mut full: HashMap<Vec<&str>, usize> = HashMap::new();
    for p in paths.iter().filter(|p| p.len() == depth + 1) {
        *full.entry(p.clone()).or_default() += 1;
    }
    let n_full: usize = full.values().sum();
    let mut flows: Vec<(Vec<&str>, usize)> = full.into_iter().collect();
    flows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    flows.truncate(TOP_PATHS);
    let rate = if starting == 0 { 0.0 } else { n_full as f64 / starting as f64 };
    json!({
        "steps": steps,
        "flows": flows.into_iter().map(|(path, count)| json!({"path": path, "count": count})).collect::<Vec<_>>(),
        "overallConversionRate": rate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(name: &str, t: i64, user: &str) -> QueryEvent {
        QueryEvent {
            name: name.to_owned(),
            time_secs: t,
            distinct_id: user.to_owned(),
            resolved: user.to_owned(),
            properties: serde_json::Map::new(),
        }
    }

    #[test]
    fn paths_from_the_first_start_event() {
        let events = [
            ev("X", 1, "a"),
            ev("P", 2, "a"),
            ev("Q", 3, "a"),
            ev("P", 4, "a"),
            ev("R", 5, "a"),
            ev("P", 1, "b"),
            ev("Q", 2, "b"),
            ev("X", 9, "c"),
        ];
        let v = flows_json(events.iter(), "P", 3);
        assert_eq!(v["steps"][0]["nodes"], json!([{"event": "P", "count": 2}]));
        assert_eq!(v["steps"][1]["nodes"], json!([{"event": "Q", "count": 2}]));
        assert_eq!(v["steps"][2]["nodes"], json!([{"event": "P", "count": 1}]));
        assert_eq!(v["flows"], json!([{"path": ["P", "Q", "P", "R"], "count": 1}]));
        assert_eq!(v["overallConversionRate"], 0.5);
    }
}
