//! `/funnels`: each user enters at their first step-1 event in the range and walks the steps
//! greedily inside the conversion window.
//!
//! Open points decided here: `where` filters every step event (an event failing it is not a
//! step); `analysis.worst` is the 1-based step after which most users dropped (ties: the
//! first); `avg_time` is `null` when no user reached the step.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::{Buckets, DayRange, PropertyExpr, top_by_total};
use crate::filter::WhereExpr;
use crate::project::QueryEvent;

/// What a funnel query asks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FunnelSpec<'a> {
    pub(crate) steps: &'a [String],
    pub(crate) window_secs: i64,
    /// Days users may enter on.
    pub(crate) range: DayRange,
    pub(crate) where_expr: Option<&'a WhereExpr>,
    pub(crate) on: Option<&'a PropertyExpr>,
}

/// One user's way through the funnel.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Journey {
    /// The `on` value of the entry event.
    pub(crate) segment: Option<String>,
    /// Times (unix seconds) each reached step was reached at; `[0]` is the entry.
    pub(crate) reached: Vec<i64>,
}

/// Every user's journey, users who never entered left out.
pub(crate) fn journeys<'a>(
    events: impl Iterator<Item = &'a QueryEvent>,
    spec: FunnelSpec<'_>,
) -> Vec<Journey> {
    let mut by_user: HashMap<&str, Vec<(&QueryEvent, usize)>> = HashMap::new();
    for event in events {
        let Some(step) = spec.steps.iter().position(|s| *s == event.name) else { continue };
        if spec.where_expr.is_some_and(|w| !w.matches(&event.properties)) {
            continue;
        }
        by_user.entry(event.resolved.as_str()).or_default().push((event, step));
    }
    let mut out = Vec::new();
    for (_, mut events) in by_user {
        // Stable: same-second events keep their served order.
        events.sort_by_key(|(e, _)| e.time_secs);
        let Some(entry_at) = events
            .iter()
            .position(|(e, _)| e.name == spec.steps[0] && spec.range.contains(e.time_secs))
        else {
            continue;
        };
        let entry = events[entry_at].0;
        let deadline = entry.time_secs.saturating_add(spec.window_secs);
        let mut reached = vec![entry.time_secs];
        let mut at = entry_at;
        for step in &spec.steps[1..] {
            let last = reached[reached.len() - 1];
            let next = events[at + 1..].iter().position(|(e, _)| {
                e.name == *step && e.time_secs > last && e.time_secs <= deadline
            });
            match next {
                Some(offset) => {
                    at += 1 + offset;
                    reached.push(events[at].0.time_secs);
                }
                None => break,
            }
        }
        let segment = spec.on.and_then(|on| on.text(&entry.properties));
        out.push(Journey { segment, reached });
    }
    out
}

/// The `steps` array for a group of journeys.
pub(crate) fn steps_json(group: &[&Journey], steps: &[String]) -> Vec<Value> {
    let counts: Vec<usize> =
        (0..steps.len()).map(|k| group.iter().filter(|j| j.reached.len() > k).count()).collect();
    let mean = |k: usize, from: fn(&Journey, usize) -> i64| -> Value {
        if k == 0 {
            return Value::Null;
        }
        let gaps: Vec<i64> = group
            .iter()
            .filter(|j| j.reached.len() > k)
            .map(|j| j.reached[k] - from(j, k))
            .collect();
        if gaps.is_empty() {
            Value::Null
        } else {
            json!(gaps.iter().sum::<i64>() as f64 / gaps.len() as f64)
        }
    };
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    steps
        .iter()
        .enumerate()
        .map(|(k, name)| {
            let step_conv = if k == 0 { 1.0 } else { ratio(counts[k], counts[k - 1]) };
            json!({
                "count": counts[k],
                "avg_time": mean(k, |j, k| j.reached[k - 1]),
                "avg_time_from_start": mean(k, |j, _| j.reached[0]),
                "step_conv_ratio": step_conv,
                // As recorded from Mixpanel (airbyte's source-mixpanel integration records,
                // funnel 36152117): step 1 has ratio 1 even with a count of 0.
                "overall_conv_ratio": if k == 0 { 1.0 } else { ratio(counts[k], counts[0]) },
                "goal": name,
                "event": name,
                "step_label": name,
            })
        })
        .collect()
}

fn analysis_json(steps: &[Value]) -> Value {
    let counts: Vec<u64> = steps.iter().map(|s| s["count"].as_u64().unwrap_or(0)).collect();
    let mut worst = 0;
    let mut worst_drop = 0;
    for k in 1..counts.len() {
        let drop = counts[k - 1].saturating_sub(counts[k]);
        if worst == 0 || drop > worst_drop {
            worst = k;
            worst_drop = drop;
        }
    }
    json!({
        "completion": counts.last().copied().unwrap_or(0),
        "starting_amount": counts.first().copied().unwrap_or(0),
        "steps": counts.len(),
        "worst": worst,
    })
}

fn steps_and_analysis(group: &[&Journey], steps: &[String]) -> Value {
    let arr = steps_json(group, steps);
    json!({"analysis": analysis_json(&arr), "steps": arr})
}

/// The whole `/funnels` answer: `{"meta": {"dates": [...]}, "data": {...}}`; with `on`, each
/// date holds `$overall` and one steps array per kept segment; `with_overall` adds the
/// range-wide `"$overall"` entry next to the dates (a shape variant).
pub(crate) fn funnel_json(
    journeys: &[Journey],
    steps: &[String],
    buckets: &Buckets,
    segmented: Option<usize>,
    with_overall: bool,
) -> Value {
    let labels = buckets.labels();
    let mut per_bucket: Vec<Vec<&Journey>> = vec![Vec::new(); buckets.len()];
    for j in journeys {
        if let Some(i) = buckets.index(j.reached[0]) {
            per_bucket[i].push(j);
        }
    }
    let mut data = Map::new();
    match segmented {
        None => {
            for (label, group) in labels.iter().zip(&per_bucket) {
                data.insert(label.clone(), steps_and_analysis(group, steps));
            }
            if with_overall {
                let all: Vec<&Journey> = per_bucket.iter().flatten().copied().collect();
                data.insert("$overall".to_owned(), steps_and_analysis(&all, steps));
            }
        }
        Some(limit) => {
            let mut totals: HashMap<&str, usize> = HashMap::new();
            for j in per_bucket.iter().flatten() {
                if let Some(s) = &j.segment {
                    *totals.entry(s.as_str()).or_default() += 1;
                }
            }
            let kept: Vec<String> = top_by_total(
                totals.into_iter().map(|(s, n)| (s.to_owned(), n as f64, ())).collect(),
                limit,
            )
            .into_iter()
            .map(|(s, _, ())| s)
            .collect();
            for (label, group) in labels.iter().zip(&per_bucket) {
                let mut by_segment = Map::new();
                by_segment.insert("$overall".to_owned(), json!(steps_json(group, steps)));
                for segment in &kept {
                    let members: Vec<&Journey> = group
                        .iter()
                        .filter(|j| j.segment.as_deref() == Some(segment.as_str()))
                        .copied()
                        .collect();
                    by_segment.insert(segment.clone(), json!(steps_json(&members, steps)));
                }
                data.insert(label.clone(), Value::Object(by_segment));
            }
        }
    }
    json!({"meta": {"dates": labels}, "data": data})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::{Unit, midnight, secs};
    use crate::config::date;

    fn ev(name: &str, t: i64, user: &str) -> QueryEvent {
        QueryEvent {
            name: name.to_owned(),
            time_secs: t,
            distinct_id: user.to_owned(),
            resolved: user.to_owned(),
            properties: serde_json::from_str(r#"{"plan":"pro"}"#).unwrap(),
        }
    }

    fn steps() -> Vec<String> {
        vec!["A".to_owned(), "B".to_owned(), "C".to_owned()]
    }

    #[test]
    fn greedy_steps_inside_the_window() {
        let d = secs(midnight(date(2024, 1, 2)));
        let events = [
            ev("A", d - 10, "before"), // entry before the range: ignored
            ev("B", d, "before"),
            ev("A", d + 10, "u"),
            ev("B", d + 10, "u"), // same second as the entry: not after it
            ev("A", d + 20, "u"),
            ev("B", d + 30, "u"),
            ev("C", d + 100, "u"),
            ev("A", d + 50, "late"),
            ev("B", d + 50 + 3_601, "late"), // outside a one-hour window
        ];
        let steps = steps();
        let spec = FunnelSpec {
            steps: &steps,
            window_secs: 3_600,
            range: DayRange { from: date(2024, 1, 2), to: date(2024, 1, 2) },
            where_expr: None,
            on: None,
        };
        let mut js = journeys(events.iter(), spec);
        js.sort_by_key(|j| j.reached.len());
        assert_eq!(js.len(), 2);
        assert_eq!(js[0].reached, [d + 50]);
        assert_eq!(js[1].reached, [d + 10, d + 30, d + 100]);

        let refs: Vec<&Journey> = js.iter().collect();
        let s = steps_json(&refs, &steps);
        assert_eq!(s[0]["count"], 2);
        assert_eq!(s[0]["avg_time"], Value::Null);
        assert_eq!(s[1]["count"], 1);
        assert_eq!(s[1]["step_conv_ratio"], 0.5);
        assert_eq!(s[2]["avg_time"], 70.0);
        assert_eq!(s[2]["avg_time_from_start"], 90.0);
        assert_eq!(s[2]["overall_conv_ratio"], 0.5);
        assert_eq!(
            analysis_json(&s),
            json!({"completion": 1, "starting_amount": 2, "steps": 3, "worst": 1})
        );
    }

    #[test]
    fn shapes_with_and_without_segments() {
        let d = secs(midnight(date(2024, 1, 2)));
        let events = [ev("A", d, "u"), ev("B", d + 5, "u")];
        let steps = steps();
        let on = PropertyExpr { name: "plan".to_owned() };
        let range = DayRange { from: date(2024, 1, 1), to: date(2024, 1, 2) };
        let spec =
            FunnelSpec { steps: &steps, window_secs: 60, range, where_expr: None, on: Some(&on) };
        let js = journeys(events.iter(), spec);
        let buckets = Buckets::new(Unit::Day, range.from, range.to);
        let plain = funnel_json(&js, &steps, &buckets, None, true);
        assert_eq!(plain["meta"]["dates"], json!(["2024-01-01", "2024-01-02"]));
        assert_eq!(plain["data"]["2024-01-01"]["steps"][0]["count"], 0);
        assert_eq!(plain["data"]["2024-01-02"]["steps"][1]["count"], 1);
        assert_eq!(plain["data"]["$overall"]["analysis"]["starting_amount"], 1);
        let seg = funnel_json(&js, &steps, &buckets, Some(10), false);
        assert_eq!(seg["data"]["2024-01-02"]["pro"][1]["count"], 1);
        assert_eq!(seg["data"]["2024-01-02"]["$overall"][0]["count"], 1);
        assert_eq!(seg["data"]["2024-01-01"]["pro"][0]["count"], 0);
    }
}
