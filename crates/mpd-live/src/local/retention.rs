//! Retention: cohorts of users by the bucket of their born event, and how many of them came
//! back in each interval after the cohort's start.

use std::collections::BTreeMap;

use crate::request::{RetentionQuery, RetentionType, TimeUnit};
use crate::result::{RetentionCohort, RetentionResult, Source};
use chrono::NaiveDate;

use super::sql::{date, quote};
use super::{
    EventsSql, RESOLVED, buckets, check_span, count, filter, int, run_over, span_sql, text,
};
use crate::error::{Error, Result};

/// The last day the events table holds: retention's "today".
async fn last_synced_day<S: EventsSql>(sql: &S, events: &str) -> Result<NaiveDate, S::Error> {
    let body = format!(" SELECT CAST(max(date) AS VARCHAR) AS last FROM {RESOLVED}");
    let rows = run_over(sql, events, &body).await?;
    let last = rows.first().map(|row| text(row, "last")).transpose()?.flatten();
    match last {
        Some(day) => Ok(NaiveDate::parse_from_str(&day, "%Y-%m-%d").map_err(|_| {
            Error::Internal(format!("the events table's last date {day:?} is unreadable"))
        })?),
        // No events: no cohort either, so any day does.
        None => Ok(NaiveDate::MIN),
    }
}

/// `retention --local` from the store. Birth: a user's cohort is the bucket of their
/// first born event in the span (the birth time); compounded: every bucket in which they
/// did it (birth time: their first born event of that bucket). `counts[i]` = cohort users
/// with a return event (any event when none is named) at or after the birth time in
/// interval i, `[start + i·interval, start + (i+1)·interval)` units; unbounded counts a
/// user in every interval up to their last return. Only intervals starting on or before
/// the last synced day are listed.
pub async fn retention<S: EventsSql>(
    sql: &S,
    q: &RetentionQuery,
) -> Result<RetentionResult, S::Error> {
    let interval = checked_interval(q)?;
    let query = retention_sql(q, interval)?;
    let events = sql.resolved_events().await?;
    let rows = run_over(sql, &events, &query).await?;
    let today = last_synced_day(sql, &events).await?;

    // (cohort start, interval index or None for the cohort's size) -> users.
    let mut sizes: BTreeMap<String, u64> = BTreeMap::new();
    let mut hits: BTreeMap<String, BTreeMap<i64, u64>> = BTreeMap::new();
    for row in &rows {
        let Some(cohort) = text(row, "cohort")? else { continue };
        let users = count(row, "users")?;
        match text(row, "kind")?.as_deref() {
            Some("size") => *sizes.entry(cohort).or_default() += users,
            _ => {
                *hits.entry(cohort).or_default().entry(int(row, "i")?).or_default() += users;
            }
        }
    }

    let mut cohorts = Vec::new();
    for (label, size) in sizes {
        let start = NaiveDate::parse_from_str(&label, "%Y-%m-%d").map_err(|_| {
            Error::Internal(format!("local retention gave an unreadable cohort {label:?}"))
        })?;
        let listed = (0..=q.interval_count)
            .take_while(|i| {
                buckets::next_start(q.unit, start, u64::from(*i) * u64::from(interval))
                    .is_some_and(|begins| begins <= today)
            })
            .count();
        let returned = hits.remove(&label).unwrap_or_default();
        let counts: Vec<u64> = (0..listed)
            .map(|i| {
                let i = i as i64;
                if q.unbounded {
                    // Rows hold each user's last interval: count those at or after i.
                    returned.range(i..).map(|(_, n)| n).sum()
                } else {
                    returned.get(&i).copied().unwrap_or(0)
                }
            })
            .collect();
        let rates = counts.iter().map(|c| if size == 0 { 0.0 } else { *c as f64 / size as f64 });
        cohorts.push(RetentionCohort { date: label, size, rates: rates.collect(), counts });
    }
    Ok(RetentionResult::answer(Source::Local, q, cohorts))
}

/// The request's interval (1 unless given), once the request is one `--local` answers.
fn checked_interval(q: &RetentionQuery) -> Result<u32> {
    check_span(q.span)?;
    if !matches!(q.unit, TimeUnit::Day | TimeUnit::Week | TimeUnit::Month) {
        return Err(Error::InvalidArgument(format!(
            "retention intervals are days, weeks or months, not {}s",
            q.unit.as_str()
        )));
    }
    if q.on.is_some() {
        return Err(Error::InvalidArgument(
            "--local retention is not segmented: leave out --on, or use `mpd query sql`".to_owned(),
        ));
    }
    match q.interval.unwrap_or(1) {
        0 => Err(Error::InvalidArgument("the retention interval must be at least 1".into())),
        interval => Ok(interval),
    }
}

/// The part of the query after the [`RESOLVED`] CTE: rows `(cohort, kind, i, users)`: kind `size` gives each cohort's size; kind `hit` the
/// users who returned in interval i (bounded), or whose last return was in i (unbounded).
fn retention_sql(q: &RetentionQuery, interval: u32) -> Result<String> {
    let unit = q.unit.as_str();
    let mut born = vec![format!("event_name = {}", quote(&q.born_event)), span_sql(q.span)];
    if let Some(expr) = &q.born_where {
        born.push(filter::where_sql(expr)?);
    }
    let mut returns = vec![format!("date >= {}", date(q.span.from))];
    if let Some(event) = &q.return_event {
        returns.push(format!("event_name = {}", quote(event)));
    }
    if let Some(expr) = &q.return_where {
        returns.push(filter::where_sql(expr)?);
    }
    let cohort = match q.retention_type {
        RetentionType::Birth => format!(
            "first_born AS (SELECT person AS u, min(time) AS bt \
             FROM {RESOLVED} WHERE {born} GROUP BY 1), \
             cohort AS (SELECT u, bt, date_trunc('{unit}', bt) AS b FROM first_born)",
            born = born.join(" AND "),
        ),
        RetentionType::Compounded => format!(
            "cohort AS (SELECT person AS u, \
             date_trunc('{unit}', time) AS b, min(time) AS bt \
             FROM {RESOLVED} WHERE {born} GROUP BY 1, 2)",
            born = born.join(" AND "),
        ),
    };
    let index = match q.unit {
        TimeUnit::Month => format!(
            "((CAST(date_part('year', r.t) AS BIGINT) * 12 + CAST(date_part('month', r.t) AS BIGINT)) \
             - (CAST(date_part('year', c.b) AS BIGINT) * 12 + CAST(date_part('month', c.b) AS BIGINT))) \
             / {interval}"
        ),
        _ => {
            let days = if q.unit == TimeUnit::Week { 7 } else { 1 };
            let micros = i64::from(interval) * days * 86_400 * 1_000_000;
            format!("(CAST(r.t AS BIGINT) - CAST(c.b AS BIGINT)) / {micros}")
        }
    };
    let per_user = if q.unbounded { "max(i)" } else { "i" };
    let group = if q.unbounded { "b, u" } else { "b, u, i" };
    Ok(format!(
        ", {cohort}, \
         ret AS (SELECT person AS u, time AS t FROM {RESOLVED} WHERE {returns}), \
         hits AS (SELECT c.b, c.u, {index} AS i FROM cohort c JOIN ret r \
                  ON r.u = c.u AND r.t >= c.bt), \
         per_user AS (SELECT b, u, {per_user} AS i FROM hits WHERE i <= {last} GROUP BY {group}) \
         SELECT to_char(b, '%Y-%m-%d') AS cohort, 'size' AS kind, CAST(NULL AS BIGINT) AS i, \
                count(*) AS users FROM cohort GROUP BY b \
         UNION ALL \
         SELECT to_char(b, '%Y-%m-%d') AS cohort, 'hit' AS kind, i, count(*) AS users \
                FROM per_user GROUP BY b, i",
        returns = returns.join(" AND "),
        last = q.interval_count,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::DateSpan;

    fn query() -> RetentionQuery {
        RetentionQuery {
            born_event: "Sign Up".into(),
            return_event: Some("Tom's Login".into()),
            span: DateSpan {
                from: "2024-01-01".parse().unwrap(),
                to: "2024-01-07".parse().unwrap(),
            },
            born_where: None,
            return_where: Some(r#"properties["plan"] == "pro""#.into()),
            retention_type: RetentionType::Birth,
            interval: None,
            interval_count: 3,
            unit: TimeUnit::Week,
            unbounded: false,
            on: None,
        }
    }

    #[test]
    fn weeks_count_whole_seven_day_intervals_from_the_cohort_start() {
        let sql = retention_sql(&query(), 2).unwrap();
        assert!(sql.contains("/ 1209600000000"), "{sql}");
        assert!(sql.contains("event_name = 'Tom''s Login'"), "{sql}");
        assert!(sql.contains("json_get_str(properties, 'plan')) = 'pro'"), "{sql}");
        assert!(sql.contains("WHERE i <= 3 GROUP BY b, u, i"), "{sql}");
    }

    #[test]
    fn unbounded_keeps_each_users_last_interval() {
        let q = RetentionQuery { unbounded: true, ..query() };
        let sql = retention_sql(&q, 1).unwrap();
        assert!(sql.contains("max(i) AS i FROM hits WHERE i <= 3 GROUP BY b, u)"), "{sql}");
    }
}
