//! Funnels as a chain of CTEs: each user's entry (first step-1 event in the span), then each
//! next step's first event after the previous step and within the window from the entry.

use std::collections::BTreeMap;

use crate::request::{ConversionWindow, FunnelQuery, LengthUnit, TimeUnit};
use crate::result::{FunnelBucket, FunnelResult, FunnelSegment, FunnelStep, Source};
use serde_json::Value;

use super::sql::{PropertyReads, date, on_property, quote};
use super::{EventsSql, RESOLVED, buckets, check_span, count, filter, int, local_query, text};
use crate::error::{Error, Result};

/// The window when the query names none.
const DEFAULT_WINDOW: ConversionWindow = ConversionWindow { length: 30, unit: LengthUnit::Day };
/// Mixpanel's default number of segments of a funnel.
const DEFAULT_SEGMENT_LIMIT: u32 = 255;
const MICROS: i64 = 1_000_000;

/// Users reaching each step, and the summed microseconds from the previous step and from the
/// entry over those users.
#[derive(Debug, Clone, PartialEq, Default)]
struct Totals {
    counts: Vec<u64>,
    from_previous: Vec<i64>,
    from_start: Vec<i64>,
}

impl Totals {
    fn new(steps: usize) -> Self {
        Self { counts: vec![0; steps], from_previous: vec![0; steps], from_start: vec![0; steps] }
    }

    fn add(&mut self, other: &Totals) {
        let pairs = [
            (&mut self.from_previous, &other.from_previous),
            (&mut self.from_start, &other.from_start),
        ];
        for (mine, theirs) in pairs {
            mine.iter_mut().zip(theirs).for_each(|(a, b)| *a += b);
        }
        self.counts.iter_mut().zip(&other.counts).for_each(|(a, b)| *a += b);
    }

    fn steps(&self, names: &[String]) -> Vec<FunnelStep> {
        let first = self.counts.first().copied().unwrap_or(0);
        let mut previous = first;
        let mut steps = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            let count = self.counts.get(i).copied().unwrap_or(0);
            let mean = |sums: &[i64]| {
                let sum = sums.get(i).copied().unwrap_or(0);
                (i > 0 && count > 0).then(|| sum as f64 / MICROS as f64 / count as f64)
            };
            steps.push(FunnelStep {
                step: u32::try_from(i + 1).unwrap_or(u32::MAX),
                event: name.clone(),
                count,
                step_conv_ratio: match i {
                    0 => 1.0,
                    _ => ratio(count, previous),
                },
                // Mixpanel's value: the first step converts 1 of 1 even when nobody entered.
                overall_conv_ratio: if i == 0 { 1.0 } else { ratio(count, first) },
                avg_time: mean(&self.from_previous),
                avg_time_from_start: mean(&self.from_start),
            });
            previous = count;
        }
        steps
    }
}

fn ratio(count: u64, of: u64) -> f64 {
    if of == 0 { 0.0 } else { count as f64 / of as f64 }
}

/// `funnel --local`: the funnel of `q.steps` (at least two) from the store. A user enters
/// at their first step-1 event in the span; each next step is that step's first event
/// after the previous step and at most the window (default 30 days) after the entry, so
/// later steps may fall after the span. Buckets are entry buckets (day unless `unit`),
/// every bucket of the span listed; with `on`, segments are the property's value on the
/// entry event, largest first (`limit`, default 255). `where` applies to every step.
pub async fn funnel<S: EventsSql>(sql: &S, q: &FunnelQuery) -> Result<FunnelResult, S::Error> {
    check_span(q.span)?;
    if q.steps.len() < 2 {
        return Err(Error::InvalidArgument(
            "a --local funnel needs at least two steps (--steps A,B,...)".to_owned(),
        )
        .into());
    }
    let window = q.window.unwrap_or(DEFAULT_WINDOW);
    let window_micros = i64::from(window.length)
        .checked_mul(window.unit.seconds())
        .and_then(|s| s.checked_mul(MICROS))
        .ok_or_else(|| Error::InvalidArgument("the conversion window is too long".into()))?;
    let unit = q.unit.unwrap_or(TimeUnit::Day);
    let segment = match &q.on {
        Some(on) => PropertyReads::new(&on_property(on)?).text(),
        None => "CAST(NULL AS VARCHAR)".to_owned(),
    };
    let predicate = match &q.where_expr {
        Some(expr) => format!(" AND {}", filter::where_sql(expr)?),
        None => String::new(),
    };
    let query = funnel_sql(q, unit, window_micros, &segment, &predicate);
    let rows = local_query(sql, &query).await?;

    let n = q.steps.len();
    let labels = buckets::labels(unit, q.span);
    let mut by_bucket: BTreeMap<String, Totals> =
        labels.iter().map(|l| (l.clone(), Totals::new(n))).collect();
    let mut by_segment: BTreeMap<String, Totals> = BTreeMap::new();
    let mut overall = Totals::new(n);
    for row in &rows {
        let totals = totals(row, n)?;
        if let Some(bucket) = text(row, "bucket")?
            && let Some(slot) = by_bucket.get_mut(&bucket)
        {
            slot.add(&totals);
        }
        if let Some(segment) = text(row, "segment")? {
            by_segment.entry(segment).or_insert_with(|| Totals::new(n)).add(&totals);
        }
        overall.add(&totals);
    }
    let mut segments: Vec<(String, Totals)> = by_segment.into_iter().collect();
    segments.sort_by(|(a_name, a), (b_name, b)| {
        b.counts[0].cmp(&a.counts[0]).then_with(|| a_name.cmp(b_name))
    });
    let limit = q.limit.unwrap_or(DEFAULT_SEGMENT_LIMIT);
    segments.truncate(usize::try_from(limit).unwrap_or(usize::MAX));

    Ok(FunnelResult {
        source: Source::Local,
        funnel_id: None,
        name: None,
        span: q.span,
        window: Some(window),
        steps: overall.steps(&q.steps),
        buckets: labels
            .iter()
            .map(|label| FunnelBucket {
                date: label.clone(),
                steps: by_bucket.get(label).unwrap_or(&Totals::new(n)).steps(&q.steps),
            })
            .collect(),
        segments: segments
            .into_iter()
            .map(|(segment, totals)| FunnelSegment { segment, steps: totals.steps(&q.steps) })
            .collect(),
    })
}

fn totals(row: &Value, steps: usize) -> Result<Totals> {
    let mut totals = Totals::new(steps);
    for i in 0..steps {
        totals.counts[i] = count(row, &format!("c{i}"))?;
        if i > 0 {
            totals.from_previous[i] = int(row, &format!("p{i}"))?;
            totals.from_start[i] = int(row, &format!("s{i}"))?;
        }
    }
    Ok(totals)
}

/// The part of the query after the [`RESOLVED`] CTE: one row per (entry bucket, segment): `c<i>` users reaching step i, `p<i>`/`s<i>` summed
/// microseconds from step i-1 / from the entry. Times are microseconds since the epoch.
fn funnel_sql(
    q: &FunnelQuery,
    unit: TimeUnit,
    window_micros: i64,
    segment: &str,
    predicate: &str,
) -> String {
    let names: Vec<String> = q.steps.iter().map(|s| quote(s)).collect();
    let mut ctes = vec![
        format!(
            "ev AS (SELECT person AS u, event_name AS e, \
             CAST(time AS BIGINT) AS ts, date AS d, {bucket} AS bucket, {segment} AS seg \
             FROM {RESOLVED} WHERE date >= {from} AND event_name IN ({names}){predicate})",
            bucket = buckets::label_sql(unit, "time"),
            from = date(q.span.from),
            names = names.join(", "),
        ),
        format!(
            "first_entry AS (SELECT u, min(ts) AS t0 FROM ev \
             WHERE e = {first} AND d <= {to} GROUP BY u)",
            first = names[0],
            to = date(q.span.to),
        ),
        // Two step-1 events at the same instant: the smallest segment, deterministically.
        format!(
            "s0 AS (SELECT f.u, f.t0, min(ev.bucket) AS bucket, min(ev.seg) AS seg \
             FROM first_entry f JOIN ev ON ev.u = f.u AND ev.e = {first} AND ev.ts = f.t0 \
             GROUP BY f.u, f.t0)",
            first = names[0],
        ),
    ];
    let mut carried = vec!["p.u".to_owned(), "p.t0".into(), "p.bucket".into(), "p.seg".into()];
    for (i, name) in names.iter().enumerate().skip(1) {
        let previous = format!("p.t{}", i - 1);
        let group = carried.join(", ");
        ctes.push(format!(
            "s{i} AS (SELECT {group}, min(ev.ts) AS t{i} FROM s{prev} p LEFT JOIN ev \
             ON ev.u = p.u AND ev.e = {name} AND ev.ts > {previous} \
             AND ev.ts <= p.t0 + {window_micros} GROUP BY {group})",
            prev = i - 1,
        ));
        carried.push(format!("p.t{i}"));
    }
    let mut select = vec!["bucket".to_owned(), "seg AS segment".into(), "count(*) AS c0".into()];
    for i in 1..names.len() {
        select.push(format!("count(t{i}) AS c{i}"));
        select.push(format!("sum(t{i} - t{}) AS p{i}", i - 1));
        select.push(format!("sum(t{i} - t0) AS s{i}"));
    }
    format!(
        ", {} SELECT {} FROM s{} GROUP BY bucket, seg",
        ctes.join(", "),
        select.join(", "),
        names.len() - 1
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_compute_ratios_and_mean_times_from_sums() {
        let totals = Totals {
            counts: vec![10, 4, 0],
            from_previous: vec![0, 4 * 90 * MICROS, 0],
            from_start: vec![0, 4 * 90 * MICROS, 0],
        };
        let names = ["A".to_owned(), "B".to_owned(), "C".to_owned()];
        let steps = totals.steps(&names);
        assert_eq!(steps[0].step_conv_ratio, 1.0);
        assert_eq!(steps[0].overall_conv_ratio, 1.0);
        assert_eq!((steps[0].avg_time, steps[0].avg_time_from_start), (None, None));
        assert_eq!(steps[1].step_conv_ratio, 0.4);
        assert_eq!(steps[1].avg_time, Some(90.0));
        assert_eq!(steps[2].count, 0);
        assert_eq!(steps[2].step_conv_ratio, 0.0);
        assert_eq!(steps[2].avg_time, None, "nobody reached it");
        let empty = Totals::new(3).steps(&names);
        assert_eq!((empty[0].step_conv_ratio, empty[0].overall_conv_ratio), (1.0, 1.0));
        assert_eq!((empty[1].step_conv_ratio, empty[1].overall_conv_ratio), (0.0, 0.0));
    }

    #[test]
    fn the_query_chains_one_cte_per_step_and_quotes_step_names() {
        let q = FunnelQuery {
            funnel_id: None,
            steps: vec!["View".into(), "Tom's Buy".into(), "Pay".into()],
            span: crate::request::DateSpan {
                from: "2024-01-01".parse().unwrap(),
                to: "2024-01-07".parse().unwrap(),
            },
            unit: None,
            on: None,
            where_expr: None,
            window: None,
            limit: None,
        };
        let sql = funnel_sql(&q, TimeUnit::Day, 60 * MICROS, "NULL", "");
        assert!(sql.contains("event_name IN ('View', 'Tom''s Buy', 'Pay')"), "{sql}");
        assert!(sql.contains("ev.ts > p.t1 AND ev.ts <= p.t0 + 60000000"), "{sql}");
        assert!(sql.ends_with("FROM s2 GROUP BY bucket, seg"), "{sql}");
    }
}
