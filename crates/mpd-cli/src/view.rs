//! Flat views of query results for the table, csv and plain formats, and the charts of
//! time series. Json and jsonl print the typed results themselves.

use mpd_service::{
    ActivityFeed, CohortInfo, FlowsResult, FrequencyResult, FunnelResult, FunnelStep,
    PropertyCount, RetentionResult, TimeSeries, TopEvent,
};
use serde_json::{Map, Value, json};

use crate::chart::{Chart, ChartLine, LegendValue};

/// Whether a time series' values add up to something meaningful over the range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Totals<'a> {
    /// Counts of events or sums: a total row is shown.
    Additive,
    /// Unique users, averages, rates: adding buckets up would double count.
    NotAdditive,
    /// Only the series with these names add up (a saved report mixing metrics).
    Only(&'a [String]),
}

impl Totals<'_> {
    fn adds_up(self, name: &str) -> bool {
        match self {
            Totals::Additive => true,
            Totals::NotAdditive => false,
            Totals::Only(names) => names.iter().any(|n| n == name),
        }
    }
}

/// One row per bucket, a column per series; a `total` row when values add up (a column whose
/// values do not add up stays empty in it).
pub(crate) fn series_rows(series: &TimeSeries, totals: Totals<'_>) -> Value {
    let mut rows: Vec<Value> = series
        .dates
        .iter()
        .map(|date| {
            let mut row = Map::new();
            row.insert("date".to_owned(), json!(date));
            for line in &series.series {
                let cell = line.values.get(date).map(|v| number(*v)).unwrap_or(Value::Null);
                row.insert(line.name.clone(), cell);
            }
            Value::Object(row)
        })
        .collect();
    if series.series.iter().any(|line| totals.adds_up(&line.name)) && series.dates.len() > 1 {
        let mut row = Map::new();
        row.insert("date".to_owned(), json!("total"));
        for line in &series.series {
            let cell = if totals.adds_up(&line.name) { number(line.total()) } else { Value::Null };
            row.insert(line.name.clone(), cell);
        }
        rows.push(Value::Object(row));
    }
    Value::Array(rows)
}

/// A number for a table cell: whole numbers stay whole, others get at most 3 decimals.
pub(crate) fn number(value: f64) -> Value {
    if value.fract() == 0.0 && value.abs() < 9e15 {
        json!(value as i64)
    } else {
        let rounded = (value * 1000.0).round() / 1000.0;
        serde_json::Number::from_f64(rounded).map(Value::Number).unwrap_or(Value::Null)
    }
}

fn percent(ratio: f64) -> Value {
    json!(format!("{:.1}%", ratio * 100.0))
}

/// Seconds as `45s`, `12m 05s`, `3h 07m`, `2d 04h`.
pub(crate) fn duration(seconds: Option<f64>) -> Value {
    let Some(seconds) = seconds.filter(|s| s.is_finite() && *s >= 0.0) else {
        return Value::Null;
    };
    let s = seconds.round() as u64;
    let text = match s {
        0..60 => format!("{s}s"),
        60..3_600 => format!("{}m {:02}s", s / 60, s % 60),
        3_600..86_400 => format!("{}h {:02}m", s / 3_600, (s % 3_600) / 60),
        _ => format!("{}d {:02}h", s / 86_400, (s % 86_400) / 3_600),
    };
    json!(text)
}

fn step_rows(steps: &[FunnelStep], segment: Option<&str>) -> Vec<Value> {
    steps
        .iter()
        .map(|step| {
            let mut row = Map::new();
            if let Some(segment) = segment {
                row.insert("segment".to_owned(), json!(segment));
            }
            row.insert("step".to_owned(), json!(step.step));
            row.insert("event".to_owned(), json!(step.event));
            row.insert("count".to_owned(), json!(step.count));
            row.insert("step_conversion".to_owned(), percent(step.step_conv_ratio));
            row.insert("overall_conversion".to_owned(), percent(step.overall_conv_ratio));
            row.insert("avg_time".to_owned(), duration(step.avg_time));
            Value::Object(row)
        })
        .collect()
}

/// The whole-range steps, then each segment's.
pub(crate) fn funnel_rows(result: &FunnelResult) -> Value {
    if result.segments.is_empty() {
        return Value::Array(step_rows(&result.steps, None));
    }
    let mut rows = step_rows(&result.steps, Some("$overall"));
    for segment in &result.segments {
        rows.extend(step_rows(&segment.steps, Some(&segment.segment)));
    }
    Value::Array(rows)
}

/// A cohort per row: its size, then `count (rate)` per interval.
pub(crate) fn retention_rows(result: &RetentionResult) -> Value {
    let unit = result.unit.as_str();
    let rows = result
        .cohorts
        .iter()
        .map(|cohort| {
            let mut row = Map::new();
            row.insert("cohort".to_owned(), json!(cohort.date));
            row.insert("size".to_owned(), json!(cohort.size));
            for (i, count) in cohort.counts.iter().enumerate() {
                let rate = cohort.rates.get(i).copied().unwrap_or(0.0);
                row.insert(format!("{unit} {i}"), json!(format!("{count} ({:.0}%)", rate * 100.0)));
            }
            Value::Object(row)
        })
        .collect();
    Value::Array(rows)
}

/// A bucket per row, `>=k` columns up to the last one anybody reached.
pub(crate) fn frequency_rows(result: &FrequencyResult) -> Value {
    let width = result
        .rows
        .iter()
        .map(|row| row.counts.iter().rposition(|c| *c > 0).map_or(0, |i| i + 1))
        .max()
        .unwrap_or(0)
        .max(1);
    let unit = result.addiction_unit.as_str();
    let rows = result
        .rows
        .iter()
        .map(|row| {
            let mut out = Map::new();
            out.insert("date".to_owned(), json!(row.date));
            for k in 0..width {
                let plural = if k == 0 { "" } else { "s" };
                out.insert(
                    format!(">={} {unit}{plural}", k + 1),
                    json!(row.counts.get(k).copied().unwrap_or(0)),
                );
            }
            Value::Object(out)
        })
        .collect();
    Value::Array(rows)
}

/// An event per row with its properties as compact JSON.
pub(crate) fn activity_rows(feed: &ActivityFeed) -> Value {
    let rows = feed
        .events
        .iter()
        .map(|event| {
            let mut props = serde_json::to_string(&event.properties).unwrap_or_default();
            if props.chars().count() > 80 {
                props = props.chars().take(79).chain(['…']).collect();
            }
            json!({
                "time": event.time.format("%Y-%m-%d %H:%M:%S").to_string(),
                "event": event.event,
                "distinct_id": event.distinct_id,
                "properties": props,
            })
        })
        .collect();
    Value::Array(rows)
}

/// Top paths, one per row; a sankey report, one node per row with its share of the step's
/// users (edges stay in the json output).
pub(crate) fn flows_rows(flows: &FlowsResult) -> Value {
    if !flows.paths.is_empty() {
        let with_segment = flows.paths.iter().any(|p| p.segment.is_some());
        let rows = flows
            .paths
            .iter()
            .map(|path| {
                let mut row = Map::new();
                if with_segment {
                    row.insert("segment".to_owned(), json!(path.segment));
                }
                row.insert("path".to_owned(), json!(path.labels().join(" → ")));
                row.insert("users".to_owned(), json!(path.count));
                Value::Object(row)
            })
            .collect();
        return Value::Array(rows);
    }
    let rows = flows
        .steps
        .iter()
        .flat_map(|step| {
            let users: u64 = step.nodes.iter().map(|n| n.count).sum();
            step.nodes.iter().map(move |node| {
                let share = if users == 0 { 0.0 } else { node.count as f64 / users as f64 };
                json!({"step": step.step, "node": node.label(), "users": node.count, "share": percent(share)})
            })
        })
        .collect();
    Value::Array(rows)
}

pub(crate) fn property_rows(properties: &[PropertyCount]) -> Value {
    Value::Array(properties.iter().map(|p| json!({"property": p.name, "count": p.count})).collect())
}

pub(crate) fn names_rows(key: &str, names: &[String]) -> Value {
    Value::Array(names.iter().map(|n| json!({ key: n })).collect())
}

pub(crate) fn cohort_rows(cohorts: &[CohortInfo]) -> Value {
    let rows = cohorts
        .iter()
        .map(|c| json!({"id": c.id, "name": c.name, "count": c.count, "created": c.created}))
        .collect();
    Value::Array(rows)
}

pub(crate) fn top_event_rows(events: &[TopEvent]) -> Value {
    let rows = events
        .iter()
        .map(|e| {
            let change = e.percent_change.map_or(Value::Null, |p| {
                json!(format!("{}{:.1}%", if p > 0.0 { "+" } else { "" }, p * 100.0))
            });
            json!({"event": e.event, "count": e.count, "change": change})
        })
        .collect();
    Value::Array(rows)
}

/// A chart of every series of `series`, buckets on the x axis; the legend shows totals when
/// the values add up, else the last value.
pub(crate) fn series_chart(
    title: String,
    y_label: &str,
    series: &TimeSeries,
    totals: Totals<'_>,
) -> Chart {
    let lines = series
        .series
        .iter()
        .map(|line| ChartLine {
            name: line.name.clone(),
            values: series.dates.iter().map(|d| line.values.get(d).copied()).collect(),
        })
        .collect();
    let legend = if series.series.iter().all(|line| totals.adds_up(&line.name)) {
        LegendValue::Total
    } else {
        LegendValue::Last
    };
    Chart { title, y_label: y_label.to_owned(), x_labels: series.dates.clone(), lines, legend }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_a_clock() {
        assert_eq!(duration(Some(42.4)), json!("42s"));
        assert_eq!(duration(Some(725.0)), json!("12m 05s"));
        assert_eq!(duration(Some(11_220.0)), json!("3h 07m"));
        assert_eq!(duration(Some(187_200.0)), json!("2d 04h"));
        assert_eq!(duration(None), Value::Null);
        assert_eq!(duration(Some(f64::NAN)), Value::Null);
    }

    #[test]
    fn numbers_keep_integers_and_round_fractions() {
        assert_eq!(number(12.0), json!(12));
        assert_eq!(number(1.23456), json!(1.235));
    }

    #[test]
    fn series_rows_add_a_total_row_only_for_additive_values() {
        let series = TimeSeries {
            dates: vec!["2024-03-01".into(), "2024-03-02".into()],
            series: vec![mpd_service::Series {
                name: "Login".into(),
                values: [("2024-03-01".to_owned(), 2.0)].into_iter().collect(),
            }],
        };
        let rows = series_rows(&series, Totals::Additive);
        assert_eq!(
            rows,
            json!([
                {"date": "2024-03-01", "Login": 2},
                {"date": "2024-03-02", "Login": null},
                {"date": "total", "Login": 2}
            ])
        );
        assert_eq!(series_rows(&series, Totals::NotAdditive).as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn a_mixed_report_totals_only_the_columns_that_add_up() {
        let line = |name: &str| mpd_service::Series {
            name: name.into(),
            values: [("d1".to_owned(), 2.0), ("d2".to_owned(), 3.0)].into_iter().collect(),
        };
        let series = TimeSeries {
            dates: vec!["d1".into(), "d2".into()],
            series: vec![line("Sign Up [Total Events]"), line("Purchase [Unique Users]")],
        };
        let additive = ["Sign Up [Total Events]".to_owned()];
        let rows = series_rows(&series, Totals::Only(&additive));
        assert_eq!(
            rows[2],
            json!({"date": "total", "Sign Up [Total Events]": 5, "Purchase [Unique Users]": null})
        );
        let none: [String; 0] = [];
        assert_eq!(series_rows(&series, Totals::Only(&none)).as_array().map(Vec::len), Some(2));
    }
}
