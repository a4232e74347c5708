//! The `--local` equivalents: the same answers computed from the store with SQL.
//!
//! Every number follows the live-query semantics the mock Mixpanel also follows: events with
//! identities resolved as the `events_resolved` view does, UTC buckets, zero-filled bucket
//! labels.
//! Answers cover what the store holds: a span partly outside the synced days is not an error,
//! its missing days simply count nothing.

mod buckets;
mod filter;
pub(crate) mod funnel;
pub(crate) mod retention;
pub(crate) mod segmentation;
mod sql;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::workspace::Workspace;
use mpd_live::request::DateSpan;

/// The table the local queries read; its absence means nothing was synced yet.
const EVENTS: &str = "events";

/// The name the generated queries read events by; a CTE over `events` with each event's
/// resolved user as `person`.
const RESOLVED: &str = "resolved_events";

impl Workspace {
    /// Runs `body` (either ` SELECT ...` or `, more AS (...) SELECT ...`) after a CTE
    /// [`RESOLVED`] of the events with their resolved user; NotFound until events are synced.
    async fn local_query(&self, body: &str) -> Result<Vec<Value>> {
        let query = format!("WITH {RESOLVED} AS ({}){body}", self.local_resolved_events().await?);
        tracing::debug!(%query, "local query");
        Ok(self.sql(&query).await?.rows)
    }

    /// The events with `person` = their resolved user, from the store's `events_resolved`
    /// view (one mapping per id, a `pipelines` mapping before a `derived` one, else the
    /// `distinct_id` itself).
    async fn local_resolved_events(&self) -> Result<String> {
        let store = self.store().await?;
        if !store.exists(EVENTS).await? {
            return Err(Error::Store(Box::new(mpd_store::Error::TableNotFound {
                table: EVENTS.to_owned(),
                available: store.table_names().await?,
            })));
        }
        Ok(format!(
            "SELECT event_name, time, date, properties, \
             coalesce(resolved_distinct_id, '') AS person FROM {}",
            mpd_store::EVENTS_RESOLVED_VIEW
        ))
    }
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
    use mpd_live::request::TimeUnit;

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
