//! Small events-like tables for the tests.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{
    Array, Date32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::NaiveDate;
use mpd_store::{CommitSummary, Store, WriteMode};
use serde_json::{Map, Value};

/// One events row: (event_name, day, distinct_id, insert_id, properties JSON).
pub(crate) type Row<'a> = (&'a str, NaiveDate, &'a str, &'a str, &'a str);

pub(crate) fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 1, d).expect("valid day")
}

pub(crate) fn events_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("event_name", DataType::Utf8, false),
        Field::new("time", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), false),
        Field::new("date", DataType::Date32, false),
        Field::new("distinct_id", DataType::Utf8, true),
        Field::new("insert_id", DataType::Utf8, true),
        Field::new("properties", DataType::Utf8, false),
        Field::new("_sync_id", DataType::Int64, false),
    ]))
}

pub(crate) fn events_batch(rows: &[Row<'_>], sync_id: i64) -> RecordBatch {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
    let days: Vec<i32> =
        rows.iter().map(|r| r.1.signed_duration_since(epoch).num_days() as i32).collect();
    // Each row sits at noon of its day plus its index in seconds.
    let times: Vec<i64> = days
        .iter()
        .enumerate()
        .map(|(i, d)| (i64::from(*d) * 86_400 + 43_200 + i as i64) * 1_000_000)
        .collect();
    let columns: Vec<Arc<dyn Array>> = vec![
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
        Arc::new(TimestampMicrosecondArray::from(times).with_timezone("UTC")),
        Arc::new(Date32Array::from(days)),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.2))),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.3))),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.4))),
        Arc::new(Int64Array::from(vec![sync_id; rows.len()])),
    ];
    RecordBatch::try_new(events_schema(), columns).expect("valid batch")
}

pub(crate) fn metadata(command: &str) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("command".into(), Value::from(command));
    map
}

/// Writes `rows` into `table` (partitioned by date) in one commit.
pub(crate) async fn write_events(
    store: &Store,
    table: &str,
    rows: &[Row<'_>],
    mode: WriteMode,
) -> CommitSummary {
    let mut writer =
        store.writer(table, events_schema(), &["date"], mode).await.expect("writer opens");
    writer.write(events_batch(rows, 1)).await.expect("write");
    writer.commit(metadata("test")).await.expect("commit")
}

/// The single Int64 value of a one-row query.
pub(crate) async fn scalar_i64(store: &Store, query: &str) -> i64 {
    let result = store.sql(query).await.expect("query runs");
    let batch = result.batches.iter().find(|b| b.num_rows() > 0).expect("a row");
    batch.column(0).as_any().downcast_ref::<Int64Array>().expect("an Int64 column").value(0)
}

/// All values of a Utf8 column of a query, in order.
pub(crate) async fn strings(store: &Store, query: &str) -> Vec<Option<String>> {
    let result = store.sql(query).await.expect("query runs");
    let mut values = Vec::new();
    for batch in &result.batches {
        let column = arrow_cast::cast(batch.column(0), &DataType::Utf8).expect("castable to Utf8");
        let column = column.as_any().downcast_ref::<StringArray>().expect("Utf8");
        values.extend(column.iter().map(|v| v.map(str::to_owned)));
    }
    values
}

pub(crate) const PURCHASE: &str = r#"{"plan":"pro","price":10,"country":"FR"}"#;
pub(crate) const VIEW: &str = r#"{"page":"home","country":"DE"}"#;

pub(crate) fn sample_rows() -> Vec<Row<'static>> {
    vec![
        ("purchase", day(1), "u1", "i1", PURCHASE),
        ("view", day(1), "u1", "i2", VIEW),
        ("view", day(2), "d9", "i3", VIEW),
        ("purchase", day(3), "u2", "i4", PURCHASE),
    ]
}

/// Every file under `dir`, recursively, sorted.
pub(crate) fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder).expect("readable folder").flatten() {
            let path = entry.path();
            if path.is_dir() { pending.push(path) } else { files.push(path) }
        }
    }
    files.sort();
    files
}

/// How many Parquet data files lie under the table folder `dir`, referenced or not
/// (checkpoints in `_delta_log` aside).
pub(crate) fn parquet_files(dir: &Path) -> usize {
    files_under(dir)
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .filter(|p| !p.components().any(|c| c.as_os_str() == "_delta_log"))
        .count()
}

/// The first column of `batches` as sorted strings (the insert ids a read returned).
pub(crate) fn insert_ids(batches: &[RecordBatch]) -> Vec<String> {
    let mut ids = Vec::new();
    for batch in batches {
        let column = arrow_cast::cast(batch.column(0), &DataType::Utf8).expect("castable");
        let column = column.as_any().downcast_ref::<StringArray>().expect("Utf8");
        ids.extend(column.iter().flatten().map(str::to_owned));
    }
    ids.sort();
    ids
}
