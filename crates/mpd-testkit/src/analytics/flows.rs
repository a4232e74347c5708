//! Saved flows (`/arb_funnels`): from each user's first start event, the next few events in
//! time order (same-second events keep their served order).
//!
//! The answers take the shapes of bodies recorded from Mixpanel's servers and published as
//! parse vectors with Mixpanel's Python client `mixpanel-headless`
//! (`conformance/vectors/authored/parse/storybook/arb_funnels.jsonl`; bookmarks 60327697 for
//! a sankey, 60391517 for top paths, 87176748 for an empty report):
//! - counts are `totalCount` strings of digits, never a numeric `count`;
//! - a sankey step's users are split into event nodes (`ANCHOR` at the start, `FORWARD`
//!   after), one `PRUNED` node (events too rare to show, `event` empty) and one `DROPOFF` node
//!   (users with no further event, `event` empty, dropping off for good); each node lists
//!   `edges` to the next step with `step` as a string;
//! - a non-empty sankey has no `overallConversionRate`; an empty report has the string
//!   `"NaN"` and a `{"nodes": []}` per step;
//! - top paths are `flows: [{flowSteps, segments}]` with `foundCount`/`returnedCount` strings;
//!   a position's `totalCount` counts the users whose path starts with the path so far. The
//!   recorded paths end in `EMPTY` steps where users stopped short; whether such a path's last
//!   count includes the users who went on is not known, so the mock lists whole paths only.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Value, json};

use crate::project::QueryEvent;

/// Event nodes shown per sankey step; rarer events go to the step's `PRUNED` node.
const SHOWN_PER_STEP: usize = 3;
/// Paths a top-paths answer returns.
const TOP_PATHS: usize = 10;

/// Where a user is at one step of the sankey.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Node {
    Event(String),
    Pruned,
    DropOff,
}

impl Node {
    fn event(&self) -> &str {
        match self {
            Node::Event(name) => name,
            Node::Pruned | Node::DropOff => "",
        }
    }

    fn node_type(&self, step: usize) -> &'static str {
        match self {
            Node::Event(_) if step == 0 => "ANCHOR",
            Node::Event(_) => "FORWARD",
            Node::Pruned => "PRUNED",
            Node::DropOff => "DROPOFF",
        }
    }
}

/// Each user's events from their first `start`, at most `depth + 1` of them.
fn user_paths<'a>(
    events: impl Iterator<Item = &'a QueryEvent>,
    start: &str,
    depth: usize,
) -> Vec<Vec<String>> {
    let mut by_user: BTreeMap<&str, Vec<&QueryEvent>> = BTreeMap::new();
    for e in events {
        by_user.entry(e.resolved.as_str()).or_default().push(e);
    }
    let mut paths = Vec::new();
    for (_, mut events) in by_user {
        events.sort_by_key(|e| e.time_secs);
        if let Some(at) = events.iter().position(|e| e.name == start) {
            paths.push(events[at..].iter().take(depth + 1).map(|e| e.name.clone()).collect());
        }
    }
    paths
}

/// Which answer of a flows report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlowsView {
    Sankey,
    TopPaths,
}

/// The report's answer (without `computed_at`): users' paths from their first `start`, at most
/// `depth` events after it; the empty report when nobody started.
pub(crate) fn flows_json<'a>(
    events: impl Iterator<Item = &'a QueryEvent>,
    start: &str,
    depth: usize,
    view: FlowsView,
) -> Value {
    let paths = user_paths(events, start, depth);
    match view {
        _ if paths.is_empty() => empty_json(depth),
        FlowsView::Sankey => sankey_json(&paths, depth),
        FlowsView::TopPaths => top_paths_json(&paths, depth),
    }
}

fn sankey_json(paths: &[Vec<String>], depth: usize) -> Value {
    // Each user's node per step.
    let mut nodes: Vec<Vec<Node>> = vec![Vec::with_capacity(paths.len()); depth + 1];
    for (step, at_step) in nodes.iter_mut().enumerate() {
        let mut users: HashMap<&str, usize> = HashMap::new();
        for path in paths {
            if let Some(event) = path.get(step) {
                *users.entry(event.as_str()).or_default() += 1;
            }
        }
        let mut ranked: Vec<(&str, usize)> = users.into_iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        let shown: Vec<&str> = ranked.iter().take(SHOWN_PER_STEP).map(|(e, _)| *e).collect();
        for path in paths {
            at_step.push(match path.get(step) {
                Some(event) if step == 0 || shown.contains(&event.as_str()) => {
                    Node::Event(event.clone())
                }
                Some(_) => Node::Pruned,
                None => Node::DropOff,
            });
        }
    }
    let steps: Vec<Value> = (0..=depth)
        .map(|step| {
            let mut users: BTreeMap<&Node, usize> = BTreeMap::new();
            let mut edges: BTreeMap<&Node, BTreeMap<&Node, usize>> = BTreeMap::new();
            for (user, node) in nodes[step].iter().enumerate() {
                *users.entry(node).or_default() += 1;
                if let Some(next) = nodes.get(step + 1) {
                    *edges.entry(node).or_default().entry(&next[user]).or_default() += 1;
                }
            }
            let mut listed: Vec<(&Node, usize)> = users.into_iter().collect();
            listed.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
            let nodes: Vec<Value> = listed
                .into_iter()
                .map(|(node, count)| {
                    let edges: Vec<Value> = edges
                        .get(node)
                        .into_iter()
                        .flatten()
                        .map(|(to, n)| {
                            json!({
                                "anchorType": "NORMAL", "breakdowns": [], "event": to.event(),
                                "isComputed": false, "isCustomEvent": false, "segments": [],
                                "step": (step + 1).to_string(), "totalCount": n.to_string(),
                                "type": to.node_type(step + 1),
                            })
                        })
                        .collect();
                    json!({
                        "anchorType": "NORMAL", "breakdowns": [], "conversionRateChange": 0,
                        "edges": edges, "event": node.event(), "isComputed": false,
                        "isCustomEvent": false, "segments": [], "totalCount": count.to_string(),
                        "type": node.node_type(step),
                    })
                })
                .collect();
            json!({"nodes": nodes})
        })
        .collect();
    json!({"breakdowns": [], "metadata": metadata(), "steps": steps})
}

fn top_paths_json(paths: &[Vec<String>], depth: usize) -> Value {
    let mut prefixes: HashMap<&[String], usize> = HashMap::new();
    let mut whole: HashMap<&[String], usize> = HashMap::new();
    for path in paths {
        for end in 1..=path.len() {
            *prefixes.entry(&path[..end]).or_default() += 1;
        }
        if path.len() == depth + 1 {
            *whole.entry(path.as_slice()).or_default() += 1;
        }
    }
    let found = whole.len();
    let mut ranked: Vec<(&[String], usize)> = whole.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    ranked.truncate(TOP_PATHS);
    let flows: Vec<Value> = ranked
        .iter()
        .map(|(path, _)| {
            let steps: Vec<Value> = path
                .iter()
                .enumerate()
                .map(|(position, event)| {
                    let count = prefixes[&path[..=position]];
                    let kind = if position == 0 { "ANCHOR" } else { "FORWARD" };
                    json!({
                        "anchorType": "NORMAL", "event": event, "isComputed": false,
                        "segments": [], "timeBucketsFromPrev": null, "timeBucketsFromStart": null,
                        "timePercentilesFromPrev": [], "timePercentilesFromStart": [],
                        "totalCount": count.to_string(), "type": kind,
                    })
                })
                .collect();
            json!({"flowSteps": steps, "segments": []})
        })
        .collect();
    json!({
        "flows": flows,
        "foundCount": found.to_string(),
        "metadata": metadata(),
        "returnedCount": ranked.len().to_string(),
    })
}

/// A report nobody entered: `"NaN"` as the rate, no nodes.
fn empty_json(depth: usize) -> Value {
    let steps: Vec<Value> = (0..=depth).map(|_| json!({"nodes": []})).collect();
    json!({
        "breakdowns": [],
        "metadata": {"min_sampling_factor": 1, "starting_priority": "INVOCATION_PRIORITY_SIMPLE"},
        "overallConversionRate": "NaN",
        "steps": steps,
    })
}

fn metadata() -> Value {
    json!({"min_sampling_factor": 1, "starting_priority": "INVOCATION_PRIORITY_HIGH"})
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

    fn events() -> Vec<QueryEvent> {
        vec![
            ev("X", 1, "a"),
            ev("P", 2, "a"),
            ev("Q", 3, "a"),
            ev("P", 4, "a"),
            ev("R", 5, "a"),
            ev("P", 1, "b"),
            ev("Q", 2, "b"),
            ev("X", 9, "c"),
        ]
    }

    fn summary(step: &Value) -> Vec<(String, String, String)> {
        step["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| {
                let text = |k: &str| n[k].as_str().unwrap().to_owned();
                (text("type"), text("event"), text("totalCount"))
            })
            .collect()
    }

    #[test]
    fn sankey_steps_split_users_into_events_and_drop_offs() {
        let v = flows_json(events().iter(), "P", 3, FlowsView::Sankey);
        let s = |t: &str, e: &str, n: &str| (t.to_owned(), e.to_owned(), n.to_owned());
        assert_eq!(summary(&v["steps"][0]), [s("ANCHOR", "P", "2")]);
        assert_eq!(summary(&v["steps"][1]), [s("FORWARD", "Q", "2")]);
        assert_eq!(summary(&v["steps"][2]), [s("FORWARD", "P", "1"), s("DROPOFF", "", "1")]);
        assert_eq!(summary(&v["steps"][3]), [s("FORWARD", "R", "1"), s("DROPOFF", "", "1")]);
        assert_eq!(v.get("overallConversionRate"), None);
        let edges = &v["steps"][1]["nodes"][0]["edges"];
        assert_eq!(edges.as_array().unwrap().len(), 2);
        assert_eq!(edges[0]["step"], "2");
        assert!(v["steps"][3]["nodes"][0]["edges"].as_array().unwrap().is_empty());
    }

    #[test]
    fn rare_events_are_pruned_into_one_node() {
        let mut events = Vec::new();
        for (user, next) in ["A", "B", "C", "D", "D"].iter().enumerate() {
            let user = format!("u{user}");
            events.push(ev("S", 1, &user));
            events.push(ev(next, 2, &user));
        }
        let v = flows_json(events.iter(), "S", 1, FlowsView::Sankey);
        let types: Vec<String> = summary(&v["steps"][1]).into_iter().map(|n| n.0).collect();
        assert_eq!(types, ["FORWARD", "FORWARD", "FORWARD", "PRUNED"]);
        assert_eq!(summary(&v["steps"][1])[3].2, "1", "the fourth most common event");
    }

    #[test]
    fn top_paths_are_whole_paths_counted_by_prefix() {
        let v = flows_json(events().iter(), "P", 3, FlowsView::TopPaths);
        assert_eq!((v["foundCount"].as_str(), v["returnedCount"].as_str()), (Some("1"), Some("1")));
        let steps = v["flows"][0]["flowSteps"].as_array().unwrap();
        let counts: Vec<&str> = steps.iter().map(|s| s["totalCount"].as_str().unwrap()).collect();
        // [P, Q, P, R]: both users share its first two positions, one goes on.
        assert_eq!(counts, ["2", "2", "1", "1"]);
        let events: Vec<&str> = steps.iter().map(|s| s["event"].as_str().unwrap()).collect();
        assert_eq!(events, ["P", "Q", "P", "R"]);
    }

    #[test]
    fn nobody_started_is_the_nan_report() {
        let v = flows_json(events().iter(), "Never", 2, FlowsView::Sankey);
        assert_eq!(v["overallConversionRate"], "NaN");
        assert_eq!(v["steps"], json!([{"nodes": []}, {"nodes": []}, {"nodes": []}]));
    }
}
