//! Saved Insights reports: `{"computed_at", "date_range", "headers", "meta", "series"}`, series
//! nested as deep as `headers` (see `fixtures/mixpanel/` for recorded shapes):
//!
//! - event reports: `series[metric][segment...][date] = n`, with `$overall` roll-ups beside
//!   the segments at every level when the report has a breakdown;
//! - single-number reports: `{"all": n}` in place of the dates;
//! - funnel-type bookmarks: `series[funnel][segment][metric][step]["all"]`, where `p_value`
//!   holds objects with booleans and the first step's times are `null`;
//! - retention-type bookmarks: rates in `series`, counts in `secondary.series`.
//!
//! A leaf that is not a map of numbers never sinks the report: it is kept, as sent, in
//! [`InsightsAnswer::other_values`].

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::parse_series::time_series;
use crate::json::{Why, array, object, text};
use crate::result::{ReportSeries, Series, TimeSeries};

/// Separator of nested series names (`Purchase / Chrome`).
const NAME_SEPARATOR: &str = " / ";
/// The key of Mixpanel's roll-up over a breakdown's segments.
const ROLLUP: &str = "$overall";

/// What an Insights answer holds besides the bookmark id.
#[derive(Debug, PartialEq)]
pub(super) struct InsightsAnswer {
    pub(super) computed_at: Option<String>,
    pub(super) from: Option<String>,
    pub(super) to: Option<String>,
    pub(super) headers: Vec<String>,
    pub(super) series: TimeSeries,
    pub(super) series_info: Vec<ReportSeries>,
    pub(super) secondary: Option<TimeSeries>,
    pub(super) other_values: BTreeMap<String, Value>,
}

pub(super) fn insights_answer(root: &Value) -> Result<InsightsAnswer, Why> {
    let fields = object(root, "the report")?;
    let range = fields.get("date_range").and_then(Value::as_object);
    let headers: Vec<String> = match fields.get("headers") {
        Some(h) => array(h, "`headers`")?.iter().filter_map(|h| text(Some(h))).collect(),
        None => Vec::new(),
    };
    let series = fields.get("series").ok_or("the `series` member is missing")?;
    let mut main = Flattened::default();
    main.walk(object(series, "`series`")?, &mut Vec::new());
    let mut other_values = main.other;
    let secondary = match fields.get("secondary").and_then(|s| s.get("series")) {
        Some(secondary) => {
            let mut flat = Flattened::default();
            flat.walk(object(secondary, "`secondary.series`")?, &mut Vec::new());
            other_values.extend(
                flat.other.into_iter().map(|(k, v)| (format!("secondary{NAME_SEPARATOR}{k}"), v)),
            );
            Some(time_series(flat.series.into_iter().map(|(s, _)| s).collect(), Vec::new()))
        }
        None => None,
    };
    let series_info =
        main.series.iter().map(|(series, path)| describe(&series.name, path, &headers)).collect();
    Ok(InsightsAnswer {
        computed_at: text(fields.get("computed_at")),
        from: range.and_then(|r| text(r.get("from_date"))),
        to: range.and_then(|r| text(r.get("to_date"))),
        series: time_series(main.series.into_iter().map(|(s, _)| s).collect(), Vec::new()),
        headers,
        series_info,
        secondary,
        other_values,
    })
}

/// Series found in a nested `series` object, with the keys that led to each, and every other
/// value found where a series was expected.
#[derive(Default)]
struct Flattened {
    series: Vec<(Series, Vec<String>)>,
    other: BTreeMap<String, Value>,
}

impl Flattened {
    /// Walks nested objects down to maps of numbers: each such map is one series, named by the
    /// keys on the way down. Anything else (booleans, strings, a number where segments were
    /// expected) is kept as sent under its path.
    fn walk(&mut self, map: &Map<String, Value>, path: &mut Vec<String>) {
        for (key, value) in map {
            path.push(key.clone());
            match value {
                Value::Object(inner) if inner.values().any(Value::is_object) => {
                    self.walk(inner, path)
                }
                Value::Object(inner) if inner.values().all(|v| v.is_number() || v.is_null()) => {
                    let values = inner
                        .iter()
                        .filter_map(|(bucket, v)| Some((bucket.clone(), v.as_f64()?)))
                        .collect();
                    let name = path.join(NAME_SEPARATOR);
                    self.series.push((Series { name, values }, path.clone()));
                }
                other => {
                    self.other.insert(path.join(NAME_SEPARATOR), other.clone());
                }
            }
            path.pop();
        }
    }
}

/// What a series' values are: its metric (by the report's headers), whether it is an
/// `$overall` roll-up, and whether its values add up over buckets.
fn describe(name: &str, path: &[String], headers: &[String]) -> ReportSeries {
    let kind = headers.first().map(String::as_str).unwrap_or("$event");
    // Funnel-type bookmarks name the metric (`count`, `step_conv_ratio`, ...) at the level
    // headed `Metric`; every other report names it first.
    let metric = headers
        .iter()
        .position(|h| h == "Metric")
        .and_then(|at| path.get(at))
        .or_else(|| path.first())
        .cloned()
        .unwrap_or_default();
    ReportSeries {
        name: name.to_owned(),
        additive: additive(kind, &metric),
        rollup: path.iter().skip(1).any(|key| key == ROLLUP),
        metric,
    }
}

/// Only totals add up over time buckets: event and session totals do; unique users, averages,
/// rates, conversion, funnel and retention metrics do not (summing them double counts). A
/// metric whose kind is not told by its name is taken as not additive.
fn additive(kind: &str, metric: &str) -> bool {
    if matches!(kind, "$funnel" | "$retention" | "$cohort") {
        return false;
    }
    match metric.rfind('[') {
        // "Sign Up [Total Events]", "View Item [Total Sessions]", "[Unique Users]", ...
        Some(at) => metric[at..].starts_with("[Total"),
        // A bare event name: Insights' default measure, total events.
        None => kind == "$event",
    }
}

#[cfg(test)]
#[path = "parse_report_tests.rs"]
mod tests;
