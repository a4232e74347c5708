//! SQL over the store: JSON properties, aggregation, the events_resolved view, errors.

use std::sync::Arc;

use arrow_array::{RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use futures::TryStreamExt;
use mpd_store::{Error, ErrorClass, Store, StoreMode, WriteMode};

use crate::support::*;

async fn store_with_events() -> Store {
    let store = Store::open(StoreMode::InMemory).await.expect("open");
    write_events(&store, "events", &sample_rows(), WriteMode::Create).await;
    store
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_properties_are_queryable() {
    let store = store_with_events().await;
    let plans = strings(
        &store,
        "SELECT properties->>'plan' FROM events WHERE event_name = 'purchase' ORDER BY insert_id",
    )
    .await;
    assert_eq!(plans, vec![Some("pro".into()), Some("pro".into())]);
    let countries = strings(
        &store,
        "SELECT json_get_str(properties, 'country') AS c FROM events GROUP BY c ORDER BY c",
    )
    .await;
    assert_eq!(countries, vec![Some("DE".into()), Some("FR".into())]);
    let revenue =
        scalar_i64(&store, "SELECT sum(json_get_int(properties, 'price')) FROM events").await;
    assert_eq!(revenue, 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_by_counts_events() {
    let store = store_with_events().await;
    let names = strings(
        &store,
        "SELECT event_name || ':' || CAST(count(*) AS VARCHAR) FROM events \
         GROUP BY event_name ORDER BY event_name",
    )
    .await;
    assert_eq!(names, vec![Some("purchase:2".into()), Some("view:2".into())]);
    let days = scalar_i64(&store, "SELECT count(DISTINCT date) FROM events").await;
    assert_eq!(days, 3);
    let result =
        store.sql("SELECT date, count(*) AS n FROM events GROUP BY date").await.expect("query");
    assert_eq!(result.schema.field(0).data_type(), &DataType::Date32);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_resolved_without_identity_mappings_keeps_distinct_id() {
    let store = store_with_events().await;
    let resolved =
        strings(&store, "SELECT resolved_distinct_id FROM events_resolved ORDER BY insert_id")
            .await;
    assert_eq!(
        resolved,
        vec![Some("u1".into()), Some("u1".into()), Some("d9".into()), Some("u2".into())]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_resolved_uses_identity_mappings() {
    let store = store_with_events().await;
    // The view before the mappings exist...
    assert_eq!(scalar_i64(&store, "SELECT count(*) FROM events_resolved").await, 4);
    let schema = Arc::new(Schema::new(vec![
        Field::new("distinct_id", DataType::Utf8, false),
        Field::new("resolved_distinct_id", DataType::Utf8, false),
        Field::new("source", DataType::Utf8, false),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(vec!["d9", "x"])),
            Arc::new(StringArray::from(vec!["u1", "y"])),
            Arc::new(StringArray::from(vec!["derived", "derived"])),
        ],
    )
    .expect("batch");
    let mut writer =
        store.writer("identity_mappings", schema, &[], WriteMode::Create).await.expect("writer");
    writer.write(batch).await.expect("write");
    writer.commit(metadata("identity")).await.expect("commit");

    // ...and after: the session was rebuilt by the commit.
    let resolved =
        strings(&store, "SELECT resolved_distinct_id FROM events_resolved ORDER BY insert_id")
            .await;
    assert_eq!(
        resolved,
        vec![Some("u1".into()), Some("u1".into()), Some("u1".into()), Some("u2".into())]
    );
    let users =
        scalar_i64(&store, "SELECT count(DISTINCT resolved_distinct_id) FROM events_resolved")
            .await;
    assert_eq!(users, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syntax_errors_carry_line_and_column() {
    let store = store_with_events().await;
    let error = store.sql("SELECT event_name\nFROM events WHERE ) = 1").await.expect_err("bad SQL");
    assert!(matches!(error, Error::Sql { line: Some(2), column: Some(19), .. }), "{error:?}");
    assert_eq!(error.class(), ErrorClass::Usage);
    // A query that stops short points at its end.
    let error = store.sql("SELECT event_name\nFROM events WHERE").await.expect_err("bad SQL");
    assert!(matches!(error, Error::Sql { line: Some(2), column: Some(18), .. }), "{error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planning_errors_are_sql_errors() {
    let store = store_with_events().await;
    let error = store.sql("SELECT * FROM nope").await.expect_err("unknown table");
    assert!(matches!(error, Error::Sql { .. }), "{error:?}");
    assert!(error.to_string().contains("nope"), "{error}");
    let error = store
        .sql("SELECT event_name,\n  missing_column FROM events")
        .await
        .expect_err("unknown column");
    assert!(matches!(error, Error::Sql { line: Some(2), column: Some(3), .. }), "{error:?}");
    assert!(error.to_string().contains("missing_column"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_cannot_write() {
    let store = store_with_events().await;
    let error = store.sql("DELETE FROM events").await.expect_err("read-only");
    assert!(matches!(error, Error::Sql { .. }), "{error:?}");
    let error = store.sql("CREATE TABLE t AS SELECT 1").await.expect_err("read-only");
    assert!(matches!(error, Error::Sql { .. }), "{error:?}");
    assert_eq!(scalar_i64(&store, "SELECT count(*) FROM events").await, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_stream_yields_every_row() {
    let store = store_with_events().await;
    let stream = store.sql_stream("SELECT insert_id FROM events").await.expect("stream");
    let batches: Vec<RecordBatch> = stream.try_collect().await.expect("batches");
    assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 4);
}

/// Writes identity mappings (distinct_id, resolved_distinct_id[, source]).
async fn write_mappings(store: &Store, rows: &[(&str, &str, &str)], with_source: bool) {
    let mut fields = vec![
        Field::new("distinct_id", DataType::Utf8, false),
        Field::new("resolved_distinct_id", DataType::Utf8, false),
    ];
    let mut columns: Vec<Arc<dyn arrow_array::Array>> = vec![
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1))),
    ];
    if with_source {
        fields.push(Field::new("source", DataType::Utf8, false));
        columns.push(Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.2))));
    }
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), columns).expect("batch");
    let mut writer =
        store.writer("identity_mappings", schema, &[], WriteMode::Create).await.expect("writer");
    writer.write(batch).await.expect("write");
    writer.commit(metadata("identity")).await.expect("commit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelines_mappings_win_over_derived_ones() {
    let store = store_with_events().await;
    write_mappings(
        &store,
        &[
            // d9: both sources; the derived target sorts first, the pipelines one must win.
            ("d9", "a-derived", "derived"),
            ("d9", "u1", "pipelines"),
            // u2: only derived mappings, two of them: one target, never two rows.
            ("u2", "z-derived", "derived"),
            ("u2", "m-derived", "derived"),
            // u1: two pipelines mappings.
            ("u1", "p2", "pipelines"),
            ("u1", "p1", "pipelines"),
        ],
        true,
    )
    .await;
    let resolved =
        strings(&store, "SELECT resolved_distinct_id FROM events_resolved ORDER BY insert_id")
            .await;
    assert_eq!(
        resolved,
        vec![Some("p1".into()), Some("p1".into()), Some("u1".into()), Some("m-derived".into())]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mappings_without_a_source_column_still_resolve() {
    let store = store_with_events().await;
    write_mappings(&store, &[("d9", "u1", ""), ("d9", "u0", "")], false).await;
    let resolved =
        strings(&store, "SELECT resolved_distinct_id FROM events_resolved ORDER BY insert_id")
            .await;
    assert_eq!(
        resolved,
        vec![Some("u1".into()), Some("u1".into()), Some("u0".into()), Some("u2".into())]
    );
}
