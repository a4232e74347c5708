//! Tests of the event batch builder: every column of a decoded line, and what it does with odd values.

use arrow_array::cast::AsArray as _;
use arrow_array::types::{Date32Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, RecordBatch};

use super::*;

fn strings(batch: &RecordBatch, name: &str) -> Vec<Option<String>> {
    let column = batch.column_by_name(name).unwrap().as_string::<i32>();
    column.iter().map(|s| s.map(str::to_owned)).collect()
}

fn times(batch: &RecordBatch, name: &str) -> Vec<Option<i64>> {
    batch.column_by_name(name).unwrap().as_primitive::<TimestampMicrosecondType>().iter().collect()
}

fn days(batch: &RecordBatch) -> Vec<i32> {
    batch.column_by_name("date").unwrap().as_primitive::<Date32Type>().values().to_vec()
}

fn sync_ids(batch: &RecordBatch) -> Vec<i64> {
    batch.column_by_name("_sync_id").unwrap().as_primitive::<Int64Type>().values().to_vec()
}

fn some(values: &[&str]) -> Vec<Option<String>> {
    values.iter().map(|s| Some((*s).to_owned())).collect()
}

const FULL: &[u8] = br#"{"event":"Purchase","properties":{"time":1700000000,"distinct_id":"u_42","$device_id":"d1","$user_id":"u_42","$insert_id":"i-1","mp_processing_time_ms":1700000002345,"amount":9.99}}"#;
const BARE: &[u8] =
    br#"{"properties":{"time":1700000000123,"x":"caf\u00e9"},"event":"L\u00f6gin"}"#;

#[test]
fn every_column_of_export_lines() {
    let mut b = EventBatchBuilder::new(LineFormat::Export, TimeCorrection::None, 17, 100);
    b.push_line(FULL).unwrap();
    b.push_line(BARE).unwrap();
    assert_eq!(b.len(), 2);
    let batch = b.finish().unwrap();
    assert_eq!(batch.schema(), crate::events_schema());
    assert_eq!(batch.num_rows(), 2);

    assert_eq!(strings(&batch, "event_name"), some(&["Purchase", "Lögin"]));
    // Seconds and milliseconds are both microseconds in the column.
    assert_eq!(times(&batch, "time"), [Some(1_700_000_000_000_000), Some(1_700_000_000_123_000)]);
    // 2023-11-14 is day 19675 after 1970-01-01.
    assert_eq!(days(&batch), [19_675, 19_675]);
    // A missing distinct id is an empty string, never null.
    assert_eq!(strings(&batch, "distinct_id"), some(&["u_42", ""]));
    assert_eq!(strings(&batch, "device_id"), [Some("d1".to_owned()), None]);
    assert_eq!(strings(&batch, "user_id"), [Some("u_42".to_owned()), None]);
    assert_eq!(strings(&batch, "insert_id"), [Some("i-1".to_owned()), None]);
    // Milliseconds stored as microseconds.
    assert_eq!(times(&batch, "mp_processing_time"), [Some(1_700_000_002_345_000), None]);
    assert_eq!(
        strings(&batch, "properties"),
        some(&[
            r#"{"time":1700000000,"distinct_id":"u_42","$device_id":"d1","$user_id":"u_42","$insert_id":"i-1","mp_processing_time_ms":1700000002345,"amount":9.99}"#,
            r#"{"time":1700000000123,"x":"caf\u00e9"}"#,
        ])
    );
    assert_eq!(sync_ids(&batch), [17, 17]);
    for name in ["event_name", "time", "date", "distinct_id", "properties", "_sync_id"] {
        assert_eq!(batch.column_by_name(name).unwrap().null_count(), 0, "{name}");
    }
}

#[test]
fn pipelines_lines_and_time_correction() {
    let line = br#"{"event_name":"Sign Up","time":1700000000,"distinct_id":"u1","device_id":"d9","user_id":null,"insert_id":"ins","properties":{"$user_id":"from-props"}}"#;
    let correction = TimeCorrection::FixedOffsetSecs(3600);
    let mut b = EventBatchBuilder::new(LineFormat::Pipelines, correction, 1, 10);
    b.push_line(line).unwrap();
    let batch = b.finish().unwrap();
    assert_eq!(strings(&batch, "event_name"), some(&["Sign Up"]));
    assert_eq!(times(&batch, "time"), [Some(1_699_996_400_000_000)]);
    assert_eq!(strings(&batch, "distinct_id"), some(&["u1"]));
    assert_eq!(strings(&batch, "device_id"), some(&["d9"]));
    // A null top-level id falls back to `properties`.
    assert_eq!(strings(&batch, "user_id"), some(&["from-props"]));
    assert_eq!(strings(&batch, "insert_id"), some(&["ins"]));
    assert_eq!(strings(&batch, "properties"), some(&[r#"{"$user_id":"from-props"}"#]));
}

#[test]
fn a_bad_line_adds_no_row() {
    let mut b = EventBatchBuilder::new(LineFormat::Export, TimeCorrection::None, 1, 10);
    b.push_line(FULL).unwrap();
    let err = b.push_line(br#"{"event":"x","properties":{"time":"soon"}}"#).unwrap_err();
    assert!(err.reason.contains("`properties.time` is not a number"), "{err}");
    assert!(b.push_line(b"{\"event\":").is_err());
    assert!(b.push_line(b"").is_err());
    assert_eq!(b.len(), 1);
    let batch = b.finish().unwrap();
    assert_eq!(batch.num_rows(), 1);
    for column in batch.columns() {
        assert_eq!(column.len(), 1);
    }
}

#[test]
fn finish_resets_and_the_builder_is_reusable() {
    let mut b = EventBatchBuilder::new(LineFormat::Export, TimeCorrection::None, 5, 2);
    assert!(b.is_empty() && !b.is_full());
    assert!(b.finish().is_none());
    b.push_line(FULL).unwrap();
    assert!(!b.is_full());
    b.push_line(BARE).unwrap();
    assert!(b.is_full());
    let first = b.finish().unwrap();
    assert!(b.is_empty() && !b.is_full() && b.finish().is_none());

    b.push_line(BARE).unwrap();
    let second = b.finish().unwrap();
    assert_eq!(second.num_rows(), 1);
    assert_eq!(strings(&second, "event_name"), some(&["Lögin"]));
    assert_eq!(strings(&second, "insert_id"), [None]);
    // The first batch is untouched by the builder's reuse.
    assert_eq!(strings(&first, "event_name"), some(&["Purchase", "Lögin"]));
    assert_eq!(sync_ids(&second), [5]);
}

#[test]
fn zero_batch_rows_means_one() {
    let mut b = EventBatchBuilder::new(LineFormat::Export, TimeCorrection::None, 1, 0);
    assert!(!b.is_full());
    b.push_line(FULL).unwrap();
    assert!(b.is_full());
}

#[test]
fn rows_before_1970_have_negative_days() {
    let mut b = EventBatchBuilder::new(LineFormat::Export, TimeCorrection::None, 1, 10);
    b.push_line(br#"{"event":"old","properties":{"time":-1}}"#).unwrap();
    let batch = b.finish().unwrap();
    assert_eq!(days(&batch), [-1]);
    assert_eq!(times(&batch, "time"), [Some(-1_000_000)]);
}

#[test]
fn a_small_batch_gives_back_the_room_of_a_full_one() {
    let mut b = EventBatchBuilder::new(LineFormat::Export, TimeCorrection::None, 1, 16_384);
    let empty = b.finish();
    assert!(empty.is_none());
    b.push_line(FULL).unwrap();
    b.push_line(BARE).unwrap();
    let small = b.finish().unwrap();
    // Sized for 16 Ki rows, the text columns alone took megabytes.
    assert!(small.get_array_memory_size() < 64 * 1024, "{}", small.get_array_memory_size());
    assert_eq!(strings(&small, "event_name"), some(&["Purchase", "Lögin"]));
    for _ in 0..16_384 {
        b.push_line(FULL).unwrap();
    }
    let full = b.finish().unwrap();
    assert_eq!(full.num_rows(), 16_384);
    assert_eq!(sync_ids(&full).len(), 16_384);
}
