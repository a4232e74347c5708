//! The `--local` twins of the live queries: the same answers computed with SQL over the
//! events a store holds, for a caller that runs the SQL ([`EventsSql`]).
//!
//! What it offers: [`segmentation`], [`event_counts`], [`funnel`], [`retention`], each taking
//! the same request as its live query and giving the same result type (`Source::Local`).
//!
//! Every number follows the live-query semantics the mock Mixpanel also follows: events with
//! identities resolved, UTC buckets, zero-filled bucket labels.
//! Answers cover what the store holds: a span partly outside the synced days is not an error,
//! its missing days simply count nothing.
//!
//! The SQL is DataFusion's dialect with the store's JSON functions (`json_get_str`,
//! `json_as_text`, ...); this crate only writes it and reads the rows back.

mod buckets;
mod filter;
mod funnel;
mod retention;
mod segmentation;
mod sql;

use std::future::Future;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::request::DateSpan;

pub use funnel::funnel;
pub use retention::retention;
pub use segmentation::{event_counts, segmentation};

/// Where the local answers' SQL runs: a store's SQL session.
pub trait EventsSql: Sync {
    /// The runner's error; this crate's refusals (an invalid request, unreadable rows) become
    /// one through `From`.
    type Error: From<Error> + Send;

    /// A `SELECT` giving the events with columns `event_name`, `time` (UTC timestamp),
    /// `date`, `properties` (JSON text) and `person` (the event's resolved user, `''` when
    /// it has none); an error (not found) while the store holds no events.
    fn resolved_events(&self) -> impl Future<Output = Result<String, Self::Error>> + Send;

    /// Runs a read-only query and gives its rows as JSON objects keyed by column name.
    fn rows(&self, query: &str) -> impl Future<Output = Result<Vec<Value>, Self::Error>> + Send;
}

/// The name the generated queries read events by: a CTE over [`EventsSql::resolved_events`].
const RESOLVED: &str = "resolved_events";

/// Runs `body` (either ` SELECT ...` or `, more AS (...) SELECT ...`) after a CTE
/// [`RESOLVED`] of the resolved events.
async fn local_query<S: EventsSql>(sql: &S, body: &str) -> Result<Vec<Value>, S::Error> {
    let events = sql.resolved_events().await?;
    run_over(sql, &events, body).await
}

/// [`local_query`] with the runner's events already asked for (`events`), for an answer that
/// needs several queries: the runner checks that the store holds events once.
async fn run_over<S: EventsSql>(sql: &S, events: &str, body: &str) -> Result<Vec<Value>, S::Error> {
    let query = format!("WITH {RESOLVED} AS ({events}){body}");
    tracing::debug!(%query, "local query");
    sql.rows(&query).await
}

fn check_span(span: DateSpan) -> Result<()> {
    if span.from > span.to {
        return Err(Error::InvalidArgument(format!(
            "the range starts after it ends ({} > {})",
            span.from, span.to
        )));
    }
    Ok(())
}

/// The SQL condition selecting the span's `date` partitions.
fn span_sql(span: DateSpan) -> String {
    format!("date BETWEEN {} AND {}", sql::date(span.from), sql::date(span.to))
}

/// A text column of a generated query's row (NULL as None).
fn text(row: &Value, column: &str) -> Result<Option<String>> {
    match row.get(column) {
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Null) => Ok(None),
        other => Err(unexpected(column, other)),
    }
}

/// A count or sum column of a generated query's row (NULL as 0).
fn int(row: &Value, column: &str) -> Result<i64> {
    match row.get(column) {
        Some(Value::Null) => Ok(0),
        Some(value) => value.as_i64().ok_or_else(|| unexpected(column, Some(value))),
        None => Err(unexpected(column, None)),
    }
}

fn count(row: &Value, column: &str) -> Result<u64> {
    let value = int(row, column)?;
    u64::try_from(value).map_err(|_| unexpected(column, row.get(column)))
}

fn unexpected(column: &str, value: Option<&Value>) -> Error {
    Error::Internal(format!("local query gave an unexpected `{column}`: {value:?}"))
}

/// The generated SQL pieces run through the store's own SQL session, so DataFusion's and the
/// JSON functions' behaviour (formats, typing, quoting) is checked, not assumed.
#[cfg(test)]
mod tests {
    use arrow_cast::display::array_value_to_string;

    use super::buckets::label_sql;
    use super::filter::where_sql;
    use super::sql::{PropertyReads, quote};
    use crate::request::TimeUnit;

    /// Each expression's value as text ("NULL" for null) over one row with `properties` and
    /// `time` = 2024-03-06 (a Wednesday) 10:11:12 UTC.
    async fn eval(properties: &str, exprs: &[String]) -> Vec<String> {
        let store = mpd_store::Store::open(mpd_store::StoreMode::InMemory).await.unwrap();
        let select: Vec<String> = exprs
            .iter()
            .enumerate()
            .map(|(i, e)| format!("CAST(({e}) AS VARCHAR) AS c{i}"))
            .collect();
        let query = format!(
            "SELECT {} FROM (SELECT {} AS properties, \
             arrow_cast('2024-03-06T10:11:12Z', 'Timestamp(Microsecond, Some(\"UTC\"))') AS time)",
            select.join(", "),
            quote(properties)
        );
        let result = store.sql(&query).await.unwrap();
        let batch = &result.batches[0];
        (0..exprs.len())
            .map(|i| {
                let column = batch.column(i);
                if column.is_null(0) {
                    "NULL".to_owned()
                } else {
                    array_value_to_string(column, 0).unwrap()
                }
            })
            .collect()
    }

    #[tokio::test]
    async fn bucket_labels_match_the_semantics() {
        let units =
            [TimeUnit::Minute, TimeUnit::Hour, TimeUnit::Day, TimeUnit::Week, TimeUnit::Month];
        let exprs: Vec<String> = units.iter().map(|u| label_sql(*u, "time")).collect();
        assert_eq!(
            eval("{}", &exprs).await,
            [
                "2024-03-06 10:11:00",
                "2024-03-06 10:00:00",
                "2024-03-06",
                "2024-03-04",
                "2024-03-01"
            ]
        );
    }

    #[tokio::test]
    async fn property_text_reads_like_serde_json_writes() {
        let props = r#"{"s":"it's \"x\"","i":3,"f":12.50,"w":12.00,"n":-0.5,"t":true,"z":false,"nil":null,"o":{"a":1},"e":""}"#;
        let names = ["s", "i", "f", "w", "n", "t", "z", "nil", "o", "e", "missing"];
        let exprs: Vec<String> = names.iter().map(|n| PropertyReads::new(n).text()).collect();
        assert_eq!(
            eval(props, &exprs).await,
            [
                "it's \"x\"",
                "3",
                "12.5",
                "12.0",
                "-0.5",
                "true",
                "false",
                "NULL",
                "NULL",
                "",
                "NULL"
            ]
        );
    }

    #[tokio::test]
    async fn where_predicates_follow_mixpanel_typing() {
        let props =
            r#"{"plan":"pro","n":"7","amount":10.5,"ok":true,"q":"a\\b 'c'","time":1709719872}"#;
        let cases: &[(&str, bool)] = &[
            (r#"properties["plan"] == "pro""#, true),
            (r#"properties["plan"] != "free""#, true),
            (r#"properties["missing"] != "x""#, true),
            (r#"properties["missing"] == "x""#, false),
            (r#"properties["n"] == 7"#, false),
            (r#"number(properties["n"]) == 7"#, true),
            (r#"number(properties["ok"]) == 1"#, true),
            (r#"string(properties["amount"]) == "10.5""#, true),
            (r#"properties["amount"] > 10 and properties["amount"] <= 10.5"#, true),
            (r#"properties["amount"] < -1"#, false),
            (r#"properties["amount"] == "10.5""#, false),
            (r#"properties["ok"] == true"#, true),
            (r#"properties["ok"] == "true""#, false),
            (r#"properties["q"] == 'a\\b \'c\''"#, true),
            (r#"defined(properties["plan"]) and (properties["plan"] >= "pro")"#, true),
            (r#"defined(properties["missing"])"#, false),
            (r#"properties["$time"] >= datetime("2024-03-06T10:11:12")"#, true),
            (r#"properties["$time"] < datetime(1709719872)"#, false),
        ];
        let exprs: Vec<String> = cases.iter().map(|(w, _)| where_sql(w).unwrap()).collect();
        let got = eval(props, &exprs).await;
        for ((expr, want), got) in cases.iter().zip(got) {
            assert_eq!(got, want.to_string(), "{expr}");
        }
    }
}

/// The contract with the runner, without a store: what runs, and what unreadable rows give.
#[cfg(test)]
mod runner_tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use chrono::NaiveDate;
    use serde_json::json;

    use super::*;
    use crate::request::{
        CountType, FunnelQuery, RetentionQuery, RetentionType, SegmentationQuery, TimeUnit,
    };

    /// Answers every query with the same rows and keeps the queries it was given.
    struct Canned {
        rows: Vec<Value>,
        ran: Mutex<Vec<String>>,
        events_asked: AtomicUsize,
    }

    impl Canned {
        fn new(rows: Vec<Value>) -> Self {
            Self { rows, ran: Mutex::new(Vec::new()), events_asked: AtomicUsize::new(0) }
        }

        fn ran(&self) -> Vec<String> {
            self.ran.lock().map(|ran| ran.clone()).unwrap_or_default()
        }
    }

    impl EventsSql for Canned {
        type Error = Error;

        async fn resolved_events(&self) -> Result<String> {
            self.events_asked.fetch_add(1, Ordering::Relaxed);
            Ok("SELECT * FROM stored".to_owned())
        }

        async fn rows(&self, query: &str) -> Result<Vec<Value>> {
            if let Ok(mut ran) = self.ran.lock() {
                ran.push(query.to_owned());
            }
            Ok(self.rows.clone())
        }
    }

    fn span() -> DateSpan {
        let day = NaiveDate::from_ymd_opt(2024, 1, 1).expect("day");
        DateSpan { from: day, to: day }
    }

    fn login_by_day() -> SegmentationQuery {
        SegmentationQuery {
            event: "Login".to_owned(),
            span: span(),
            on: None,
            unit: TimeUnit::Day,
            where_expr: None,
            count_type: CountType::General,
            limit: None,
        }
    }

    #[tokio::test]
    async fn queries_read_the_runners_events_through_one_cte() {
        let runner = Canned::new(vec![
            json!({"bucket": "2024-01-01", "segment": "Login", "events": 3, "users": 2}),
        ]);
        let answer = segmentation(&runner, &login_by_day()).await.expect("answer");
        assert_eq!(answer.series.get("Login").map(|s| s.total()), Some(3.0));
        let ran = runner.ran();
        assert_eq!(ran.len(), 1);
        assert!(ran[0].starts_with("WITH resolved_events AS (SELECT * FROM stored) SELECT"));
        assert!(ran[0].contains("event_name = 'Login'"), "{}", ran[0]);
    }

    #[tokio::test]
    async fn rows_of_another_shape_are_a_bug_report_naming_the_column() {
        let runner = Canned::new(vec![
            json!({"bucket": "2024-01-01", "segment": "Login", "events": "3", "users": 2}),
        ]);
        let error = segmentation(&runner, &login_by_day()).await.expect_err("bad rows");
        assert_eq!(
            error.to_string(),
            "internal error: local query gave an unexpected `events`: Some(String(\"3\"))"
        );
    }

    #[tokio::test]
    async fn an_invalid_request_runs_no_query() {
        let runner = Canned::new(Vec::new());
        let one_step = FunnelQuery {
            funnel_id: None,
            steps: vec!["Login".to_owned()],
            span: span(),
            unit: None,
            on: None,
            where_expr: None,
            window: None,
            limit: None,
        };
        let error = funnel(&runner, &one_step).await.expect_err("one step");
        assert_eq!(
            error.to_string(),
            "a --local funnel needs at least two steps (--steps A,B,...)"
        );
        assert!(runner.ran().is_empty());
    }

    #[tokio::test]
    async fn an_answer_of_several_queries_asks_for_the_events_once() {
        let runner = Canned::new(Vec::new());
        let retention_of_login = RetentionQuery {
            born_event: "Login".to_owned(),
            return_event: None,
            span: span(),
            born_where: None,
            return_where: None,
            retention_type: RetentionType::default(),
            interval: None,
            interval_count: 3,
            unit: TimeUnit::Day,
            unbounded: false,
            on: None,
        };
        let answer = retention(&runner, &retention_of_login).await.expect("answer");
        assert!(answer.cohorts.is_empty());
        assert_eq!(runner.ran().len(), 2, "the cohorts, then the last synced day");
        assert_eq!(runner.events_asked.load(Ordering::Relaxed), 1);
    }
}
