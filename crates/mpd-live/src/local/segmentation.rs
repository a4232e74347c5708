//! Segmentation and event counts: events and distinct users per bucket (and segment).

use std::collections::BTreeMap;

use crate::request::{CountType, EventCountsQuery, SegmentationQuery, TimeUnit};
use crate::result::{EventCountsResult, SegmentationResult, Series, Source, TimeSeries};
use serde_json::Value;

use super::sql::{PropertyReads, on_property, quote};
use super::{EventsSql, RESOLVED, buckets, check_span, count, filter, local_query, span_sql, text};
use crate::error::{Error, Result};

/// Mixpanel's default number of segments.
const DEFAULT_SEGMENT_LIMIT: u32 = 60;

/// Events and users of one bucket and segment.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Cell {
    pub(super) bucket: String,
    pub(super) segment: String,
    pub(super) events: u64,
    pub(super) users: u64,
}

/// Events and distinct resolved users per (bucket, segment) of the events matching every
/// condition.
async fn cells<S: EventsSql>(
    sql: &S,
    unit: TimeUnit,
    segment: &str,
    conditions: &[String],
) -> Result<Vec<Cell>, S::Error> {
    let query = format!(
        " SELECT {bucket} AS bucket, {segment} AS segment, count(*) AS events, \
         count(DISTINCT person) AS users \
         FROM {RESOLVED} WHERE {conditions} GROUP BY 1, 2",
        bucket = buckets::label_sql(unit, "time"),
        conditions = conditions.join(" AND "),
    );
    let rows = local_query(sql, &query).await?;
    Ok(rows.iter().map(cell).collect::<Result<_>>()?)
}

/// `segmentation --local`: one event per time bucket, optionally split by a property, from
/// the store. Without `on` the one series is named after the event; with it, one series
/// per property value (events without the property left out), the `limit` largest
/// (default 60). Every bucket of the span is present, zero when nothing happened.
pub async fn segmentation<S: EventsSql>(
    sql: &S,
    q: &SegmentationQuery,
) -> Result<SegmentationResult, S::Error> {
    check_span(q.span)?;
    let segment = match &q.on {
        Some(on) => Some(PropertyReads::new(&on_property(on)?).text()),
        None => None,
    };
    let mut conditions = vec![format!("event_name = {}", quote(&q.event)), span_sql(q.span)];
    if let Some(expr) = &q.where_expr {
        conditions.push(filter::where_sql(expr)?);
    }
    let cells = match segment {
        Some(segment) => {
            conditions.push(format!("({segment}) IS NOT NULL"));
            cells(sql, q.unit, &segment, &conditions).await?
        }
        None => cells(sql, q.unit, &quote(&q.event), &conditions).await?,
    };
    let names = if q.on.is_some() { Vec::new() } else { vec![q.event.clone()] };
    let limit = q.limit.unwrap_or(DEFAULT_SEGMENT_LIMIT);
    let series =
        time_series(buckets::labels(q.unit, q.span), names, cells, q.count_type).limited(limit);
    Ok(SegmentationResult::answer(Source::Local, q, series))
}

/// `event-counts --local`: each event per time bucket, one series per event asked for
/// (zero-filled even when it never happened).
pub async fn event_counts<S: EventsSql>(
    sql: &S,
    q: &EventCountsQuery,
) -> Result<EventCountsResult, S::Error> {
    check_span(q.span)?;
    let mut events: Vec<String> = Vec::new();
    for event in &q.events {
        if !events.contains(event) {
            events.push(event.clone());
        }
    }
    if events.is_empty() {
        return Err(Error::InvalidArgument("name at least one event to count".to_owned()).into());
    }
    let names: Vec<String> = events.iter().map(|e| quote(e)).collect();
    let conditions = [format!("event_name IN ({})", names.join(", ")), span_sql(q.span)];
    let cells = cells(sql, q.unit, "event_name", &conditions).await?;
    let series = time_series(buckets::labels(q.unit, q.span), events, cells, q.count_type);
    Ok(EventCountsResult::answer(Source::Local, q, series))
}

fn cell(row: &Value) -> Result<Cell> {
    Ok(Cell {
        bucket: text(row, "bucket")?.unwrap_or_default(),
        segment: text(row, "segment")?.unwrap_or_default(),
        events: count(row, "events")?,
        users: count(row, "users")?,
    })
}

/// The series of `cells` over every label: one per name of `names` (even without cells) and
/// one per other segment found, each with every label, ordered largest total first.
pub(super) fn time_series(
    labels: Vec<String>,
    names: Vec<String>,
    cells: Vec<Cell>,
    count_type: CountType,
) -> TimeSeries {
    let zeros: BTreeMap<String, f64> = labels.iter().map(|l| (l.clone(), 0.0)).collect();
    let mut by_name: BTreeMap<String, BTreeMap<String, f64>> =
        names.into_iter().map(|n| (n, zeros.clone())).collect();
    for cell in cells {
        let value = match count_type {
            CountType::General => cell.events as f64,
            CountType::Unique => cell.users as f64,
            CountType::Average if cell.users == 0 => 0.0,
            CountType::Average => cell.events as f64 / cell.users as f64,
        };
        let values = by_name.entry(cell.segment).or_insert_with(|| zeros.clone());
        // A bucket outside the labels cannot come from a span filter; keep the labels exact.
        if let Some(slot) = values.get_mut(&cell.bucket) {
            *slot += value;
        }
    }
    let mut series: Vec<Series> =
        by_name.into_iter().map(|(name, values)| Series { name, values }).collect();
    series.sort_by(|a, b| b.total().total_cmp(&a.total()).then_with(|| a.name.cmp(&b.name)));
    TimeSeries { dates: labels, series }
}

trait Limited {
    fn limited(self, limit: u32) -> Self;
}

impl Limited for TimeSeries {
    /// Keeps the `limit` largest series (they come largest first, ties by name).
    fn limited(mut self, limit: u32) -> Self {
        self.series.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(bucket: &str, segment: &str, events: u64, users: u64) -> Cell {
        Cell { bucket: bucket.into(), segment: segment.into(), events, users }
    }

    fn labels() -> Vec<String> {
        vec!["2024-01-01".into(), "2024-01-02".into()]
    }

    #[test]
    fn every_label_is_present_and_named_series_exist_without_cells() {
        let series = time_series(
            labels(),
            vec!["Login".into(), "Sign Up".into()],
            vec![cell("2024-01-02", "Login", 4, 2)],
            CountType::General,
        );
        assert_eq!(series.series.len(), 2);
        let login = series.get("Login").unwrap();
        assert_eq!(login.values.get("2024-01-01"), Some(&0.0));
        assert_eq!(login.values.get("2024-01-02"), Some(&4.0));
        assert_eq!(series.get("Sign Up").unwrap().total(), 0.0);
        assert_eq!(series.series[0].name, "Login");
    }

    #[test]
    fn unique_and_average_and_ordering_with_ties_by_name() {
        let cells = vec![
            cell("2024-01-01", "b", 6, 3),
            cell("2024-01-01", "a", 2, 2),
            cell("2024-01-02", "a", 4, 1),
            cell("2024-01-02", "c", 1, 0),
        ];
        let unique = time_series(labels(), Vec::new(), cells.clone(), CountType::Unique);
        let names: Vec<&str> = unique.series.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"], "a and b tie at 3 users");
        let average = time_series(labels(), Vec::new(), cells, CountType::Average);
        assert_eq!(average.get("a").unwrap().values["2024-01-02"], 4.0);
        assert_eq!(average.get("b").unwrap().values["2024-01-01"], 2.0);
        assert_eq!(average.get("c").unwrap().values["2024-01-02"], 0.0, "no users: 0");
        assert_eq!(average.limited(1).series.len(), 1);
    }
}
