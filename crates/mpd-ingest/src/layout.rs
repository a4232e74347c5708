//! How each kind of table is laid out: schema, partitioning and which columns get file
//! statistics in the Delta log.
//!
//! The log outlives deletes and vacuums, so statistics (min/max values per file) are kept only
//! for columns that hold no personal data: an id erased with `mpd gdpr delete` must not survive
//! in an old commit's statistics.

use mpd_decode::TypedProperties;
use mpd_store::{Store, TableWriter, WriteMode, WriterOptions};

use crate::error::Result;

/// Event columns with statistics: enough to prune by time, name and sync run.
const EVENT_STATS: [&str; 4] = ["event_name", "time", "mp_processing_time", "_sync_id"];
/// Profile columns with statistics.
const PROFILE_STATS: [&str; 2] = ["last_seen", "_sync_id"];
/// Identity-mapping columns with statistics (`_sync_id` lets a scan skip old files).
const IDENTITY_STATS: [&str; 1] = ["_sync_id"];
/// Audit columns with statistics (and `date`, when it is not the partition column).
const AUDIT_STATS: [&str; 5] =
    ["event_name", "time", "mp_processing_time", "_sync_id", "rejected_at"];

/// Events are written sorted by name, then time, within each day: a query about one event
/// reads that event's pages only (Parquet page statistics), in mpd and in any other reader.
pub(crate) const EVENT_ORDER: [&str; 2] = ["event_name", "time"];

fn options(columns: &[&str]) -> WriterOptions {
    WriterOptions {
        stats_columns: Some(columns.iter().map(|c| (*c).to_owned()).collect()),
        sort_by: Vec::new(),
    }
}

fn sorted_options(columns: &[&str]) -> WriterOptions {
    WriterOptions { sort_by: EVENT_ORDER.map(str::to_owned).to_vec(), ..options(columns) }
}

/// The typed properties of rows written to `table` in `mode`: the table's own when rows are
/// appended to it (its schema is kept), else `configured` (a new or replaced table).
/// `mpd tables evolve` is how a stored table takes up a changed list.
pub async fn events_typed(
    store: &Store,
    table: &str,
    mode: WriteMode,
    configured: &TypedProperties,
) -> Result<TypedProperties> {
    if mode == WriteMode::Replace || !store.exists(table).await? {
        return Ok(configured.clone());
    }
    let schema = store.schema(table).await?;
    Ok(TypedProperties::from_schema(&schema))
}

/// A writer of an events table (partitioned by `date`) with `typed`'s columns.
pub async fn events_writer(
    store: &Store,
    table: &str,
    mode: WriteMode,
    typed: &TypedProperties,
) -> Result<TableWriter> {
    let schema = mpd_decode::events_schema_with(typed);
    Ok(store
        .writer_with(table, schema, &[mpd_store::DATE_COLUMN], mode, sorted_options(&EVENT_STATS))
        .await?)
}

/// A writer of an events table's audit table.
///
/// A new audit table is not partitioned: it holds a few rows a day, and a folder per day
/// gave it as many files as the events table, a file list every sync loads (10 years of
/// daily syncs: 3,000 files of a few rows, ~20 ms per run). Its `date` statistics let a day's
/// read skip the other files. An audit table an earlier mpd partitioned by `date` keeps
/// that layout when rows are appended.
pub async fn audit_writer(store: &Store, table: &str, mode: WriteMode) -> Result<TableWriter> {
    let schema = mpd_decode::rejected_duplicates_schema();
    let by_date = mode == WriteMode::Append
        && store.exists(table).await?
        && store.partition_columns(table).await? == [mpd_store::DATE_COLUMN];
    let (partition_by, stats): (&[&str], Vec<&str>) = if by_date {
        (&[mpd_store::DATE_COLUMN], AUDIT_STATS.to_vec())
    } else {
        (&[], [mpd_store::DATE_COLUMN].into_iter().chain(AUDIT_STATS).collect())
    };
    Ok(store.writer_with(table, schema, partition_by, mode, sorted_options(&stats)).await?)
}

/// A writer of a profiles table.
pub async fn profiles_writer(store: &Store, table: &str, mode: WriteMode) -> Result<TableWriter> {
    let schema = mpd_decode::profiles_schema();
    Ok(store.writer_with(table, schema, &[], mode, options(&PROFILE_STATS)).await?)
}

/// A writer of `identity_mappings`.
pub async fn identity_writer(store: &Store, table: &str, mode: WriteMode) -> Result<TableWriter> {
    let schema = mpd_decode::identity_schema();
    Ok(store.writer_with(table, schema, &[], mode, options(&IDENTITY_STATS)).await?)
}

#[cfg(test)]
mod tests {
    use mpd_decode::{EventBatchBuilder, LineFormat, PropertyKind, TimeCorrection, TypedProperty};
    use mpd_store::{CommitInfo, StoreMode};

    use super::*;

    /// Values of every JSON type, escapes, repeats and absences.
    const VALUES: [&str; 16] = [
        r#""Chrome""#,
        r#""Fire\u0066ox""#,
        r#""line\nbreak""#,
        "null",
        "12.50",
        "-3",
        "1e3",
        "18446744073709551615",
        "true",
        "false",
        r#"{"a": [1, 2]}"#,
        "[]",
        r#""4.5""#,
        r#"" 7""#,
        r#""inf""#,
        r#""""#,
    ];

    /// An in-memory store whose `events` table holds `lines` (export lines), decoded with the
    /// typed columns `prop_browser` (text) and `prop_amount` (float).
    async fn store_with_typed_events(lines: &[String]) -> Store {
        let typed = TypedProperties::new(vec![
            TypedProperty::new("$browser", PropertyKind::Text),
            TypedProperty::new("amount", PropertyKind::Float),
        ])
        .expect("valid");
        let mut builder = EventBatchBuilder::with_typed(
            LineFormat::Export,
            TimeCorrection::None,
            0,
            1024,
            typed.clone(),
        );
        for line in lines {
            builder.push_line(line.as_bytes()).expect("valid line");
        }
        let store = Store::open(StoreMode::InMemory).await.expect("store");
        let mut writer =
            events_writer(&store, "events", WriteMode::Create, &typed).await.expect("writer");
        writer.write(builder.finish().expect("rows")).await.expect("write");
        writer.commit(CommitInfo::new("test").to_metadata()).await.expect("commit");
        store
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn typed_columns_hold_what_the_json_functions_return() {
        let mut lines = vec![
            r#"{"event":"E","properties":{"time":1700000000,"distinct_id":"u"}}"#.to_owned(),
            r#"{"event":"E","properties":{"time":1700000000,"$browser":"a","$browser":"b","amount":1,"amount":2}}"#.to_owned(),
        ];
        for (i, value) in VALUES.iter().enumerate() {
            lines.push(format!(
                r#"{{"event":"E","properties":{{"time":1700000000,"$insert_id":"i{i}","$browser":{value},"amount":{value}}}}}"#
            ));
        }
        let store = store_with_typed_events(&lines).await;

        // `concat(properties, '')` is not the `properties` column, so these calls parse JSON.
        for (column, call) in [
            ("prop_browser", "json_as_text(concat(properties, ''), '$browser')"),
            ("prop_amount", "json_get_float(concat(properties, ''), 'amount')"),
        ] {
            let query = format!(
                "SELECT count(*) FILTER (WHERE {column} IS DISTINCT FROM {call}) AS differ, \
                 count({column}) AS valued FROM events"
            );
            let result = store.sql(&query).await.expect("query");
            let row = &result.batches[0];
            let differ = row.column(0).as_any().downcast_ref::<arrow_array::Int64Array>();
            let valued = row.column(1).as_any().downcast_ref::<arrow_array::Int64Array>();
            assert_eq!(differ.map(|a| a.value(0)), Some(0), "{column} differs from {call}");
            assert!(valued.is_some_and(|a| a.value(0) >= 6), "{column} mostly null");
        }
        assert!(store.schema("rejected_duplicates").await.is_err(), "no audit table here");
    }

    /// The decoder writes the typed columns' metadata and the store's SQL reads it: two crates
    /// that may not depend on each other share these names, so this checks they agree.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_store_rewrites_json_reads_of_the_columns_the_decoder_writes() {
        assert_eq!(mpd_decode::PROPERTY_METADATA_KEY, mpd_store::PROPERTY_METADATA_KEY);
        assert_eq!(mpd_decode::KIND_METADATA_KEY, mpd_store::KIND_METADATA_KEY);
        let line = r#"{"event":"E","properties":{"time":1700000000,"$browser":"Edge","amount":2}}"#;
        let store = store_with_typed_events(&[line.to_owned()]).await;
        for (query, column) in [
            ("SELECT properties->>'$browser' FROM events", "prop_browser"),
            ("SELECT json_get_float(properties, 'amount') FROM events", "prop_amount"),
        ] {
            let plan = store.sql(&format!("EXPLAIN {query}")).await.expect("explain");
            let text = arrow_cast::pretty::pretty_format_batches(&plan.batches).expect("text");
            let scan = text.to_string();
            let scan = scan.lines().find(|l| l.contains("TableScan")).unwrap_or_default();
            assert!(scan.contains(&format!("projection=[{column}]")), "{query}: {scan}");
        }
    }
}
