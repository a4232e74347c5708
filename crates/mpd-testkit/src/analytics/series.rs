//! Counts over time buckets: `/segmentation`, `/events`, `/events/properties`, and the
//! per-bucket sums and means of `/segmentation/sum` and `/segmentation/average`.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::{Buckets, CountType, PropertyExpr, Tally, top_by_total};
use crate::project::QueryEvent;

/// One series: its name and a tally per bucket.
#[derive(Debug, Clone)]
pub(crate) struct Line<'a> {
    pub(crate) name: String,
    pub(crate) cells: Vec<Tally<'a>>,
}

impl Line<'_> {
    pub(crate) fn empty(name: &str, n_buckets: usize) -> Self {
        Self { name: name.to_owned(), cells: vec![Tally::default(); n_buckets] }
    }

    fn total(&self, count: CountType) -> f64 {
        self.cells.iter().map(|c| c.number(count)).sum()
    }
}

/// Tallies `events` per key and bucket; events whose key is `None` or outside every bucket
/// are left out. Lines come in no particular order.
pub(crate) fn tally<'a>(
    events: impl Iterator<Item = &'a QueryEvent>,
    buckets: &Buckets,
    key: impl Fn(&'a QueryEvent) -> Option<String>,
) -> Vec<Line<'a>> {
    let mut lines: HashMap<String, Vec<Tally<'a>>> = HashMap::new();
    for event in events {
        let Some(i) = buckets.index(event.time_secs) else { continue };
        let Some(k) = key(event) else { continue };
        let cells = lines.entry(k).or_insert_with(|| vec![Tally::default(); buckets.len()]);
        cells[i].add(event);
    }
    lines.into_iter().map(|(name, cells)| Line { name, cells }).collect()
}

/// The `limit` lines with the largest total over the range (ties by name), largest first.
pub(crate) fn keep_top(lines: Vec<Line<'_>>, count: CountType, limit: usize) -> Vec<Line<'_>> {
    let totals = lines.into_iter().map(|l| (l.name.clone(), l.total(count), l)).collect();
    top_by_total(totals, limit).into_iter().map(|(_, _, l)| l).collect()
}

/// `{"<series>": {"<label>": value, ...}, ...}` with every label of every series.
pub(crate) fn values_json(lines: &[Line<'_>], labels: &[String], count: CountType) -> Value {
    let values: Map<String, Value> = lines
        .iter()
        .map(|line| {
            let cells: Map<String, Value> = labels
                .iter()
                .zip(&line.cells)
                .map(|(label, cell)| (label.clone(), cell.json(count)))
                .collect();
            (line.name.clone(), Value::Object(cells))
        })
        .collect();
    Value::Object(values)
}

/// Per bucket: the sum of `number(on)` (missing or non-numeric add 0) or, with `average`, its
/// mean over the events where it is numeric (0 for a bucket without any).
pub(crate) fn metric<'a>(
    events: impl Iterator<Item = &'a QueryEvent>,
    buckets: &Buckets,
    on: &PropertyExpr,
    average: bool,
) -> Vec<f64> {
    let mut sums = vec![0.0; buckets.len()];
    let mut counts = vec![0_u64; buckets.len()];
    for event in events {
        let Some(i) = buckets.index(event.time_secs) else { continue };
        if let Some(x) = on.number(&event.properties) {
            sums[i] += x;
            counts[i] += 1;
        }
    }
    if average {
        for (sum, n) in sums.iter_mut().zip(&counts) {
            *sum = if *n == 0 { 0.0 } else { *sum / *n as f64 };
        }
    }
    sums
}

/// `{"<label>": x}` for a metric.
pub(crate) fn metric_json(values: &[f64], labels: &[String]) -> Value {
    Value::Object(labels.iter().zip(values).map(|(l, v)| (l.clone(), json!(v))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::{Unit, midnight, secs};
    use crate::config::date;

    fn event(name: &str, t: i64, user: &str, props: Value) -> QueryEvent {
        let Value::Object(properties) = props else { unreachable!("test props are objects") };
        QueryEvent {
            name: name.to_owned(),
            time_secs: t,
            distinct_id: user.to_owned(),
            resolved: user.to_owned(),
            properties,
        }
    }

    #[test]
    fn tallies_per_segment_and_bucket_then_keeps_the_top() {
        let d1 = secs(midnight(date(2024, 1, 1)));
        let d2 = d1 + 86_400;
        let events = [
            event("E", d1, "a", json!({"plan": "pro"})),
            event("E", d1 + 5, "a", json!({"plan": "pro"})),
            event("E", d2, "b", json!({"plan": "free"})),
            event("E", d2, "c", json!({})),
        ];
        let buckets = Buckets::new(Unit::Day, date(2024, 1, 1), date(2024, 1, 2));
        let on = PropertyExpr { name: "plan".to_owned() };
        let lines = tally(events.iter(), &buckets, |e| on.text(&e.properties));
        let lines = keep_top(lines, CountType::General, 10);
        assert_eq!(lines.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(), ["pro", "free"]);
        let v = values_json(&lines, &buckets.labels(), CountType::General);
        assert_eq!(
            v,
            json!({"pro": {"2024-01-01": 2, "2024-01-02": 0}, "free": {"2024-01-01": 0, "2024-01-02": 1}})
        );
        let u = values_json(&lines, &buckets.labels(), CountType::Unique);
        assert_eq!(u["pro"]["2024-01-01"], 1);
        let a = values_json(&lines, &buckets.labels(), CountType::Average);
        assert_eq!(a["pro"]["2024-01-01"], 2.0);
        assert_eq!(a["pro"]["2024-01-02"], 0.0);
        let top1 = keep_top(
            tally(events.iter(), &buckets, |e| on.text(&e.properties)),
            CountType::Unique,
            1,
        );
        assert_eq!(top1[0].name, "free", "ties on unique totals break by name");
    }

    #[test]
    fn sums_treat_missing_as_zero_and_averages_skip_it() {
        let d1 = secs(midnight(date(2024, 1, 1)));
        let events = [
            event("P", d1, "a", json!({"amount": 2.5})),
            event("P", d1, "a", json!({"amount": "1.5"})),
            event("P", d1, "a", json!({"amount": "x"})),
            event("P", d1, "a", json!({})),
        ];
        let buckets = Buckets::new(Unit::Day, date(2024, 1, 1), date(2024, 1, 2));
        let on = PropertyExpr { name: "amount".to_owned() };
        assert_eq!(metric(events.iter(), &buckets, &on, false), [4.0, 0.0]);
        assert_eq!(metric(events.iter(), &buckets, &on, true), [2.0, 0.0]);
    }
}
