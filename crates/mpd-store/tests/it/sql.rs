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

/// An events table with two typed columns beside `properties`. Their values are not in the
/// rows' JSON (which has no `$browser` or `amount`), so a test can tell which one a query read.
async fn store_with_typed_columns() -> Store {
    use std::collections::HashMap;
    let typed = |name: &str, key: &str, kind: &str, data_type: DataType| {
        Field::new(name, data_type, true).with_metadata(HashMap::from([
            (mpd_store::PROPERTY_METADATA_KEY.to_owned(), key.to_owned()),
            (mpd_store::KIND_METADATA_KEY.to_owned(), kind.to_owned()),
        ]))
    };
    let mut fields: Vec<Field> =
        events_schema().fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(typed("prop_browser", "$browser", "text", DataType::Utf8));
    fields.push(typed("prop_amount", "amount", "float", DataType::Float64));
    let schema = Arc::new(Schema::new(fields));
    let rows = sample_rows();
    let base = events_batch(&rows, 1);
    let browsers = StringArray::from(vec![Some("Chrome"), None, Some("Safari"), Some("Chrome")]);
    let amounts = arrow_array::Float64Array::from(vec![Some(1.5), None, Some(2.0), Some(100.0)]);
    let mut columns = base.columns().to_vec();
    columns.push(Arc::new(browsers));
    columns.push(Arc::new(amounts));
    let batch = RecordBatch::try_new(Arc::clone(&schema), columns).expect("batch");
    let store = Store::open(StoreMode::InMemory).await.expect("open");
    let mut writer =
        store.writer("events", schema, &["date"], WriteMode::Create).await.expect("writer");
    writer.write(batch).await.expect("write");
    writer.commit(metadata("test")).await.expect("commit");
    store
}

async fn plan_text(store: &Store, query: &str) -> String {
    let result = store.sql(&format!("EXPLAIN {query}")).await.expect("explain");
    let mut text = String::new();
    for batch in &result.batches {
        let plans = arrow_cast::cast(batch.column(1), &DataType::Utf8).expect("utf8");
        let plans = plans.as_any().downcast_ref::<StringArray>().expect("utf8");
        for i in 0..arrow_array::Array::len(plans) {
            text.push_str(plans.value(i));
            text.push('\n');
        }
    }
    text
}

/// The columns the logical plan of `query` reads from `events`.
async fn scanned(store: &Store, query: &str) -> String {
    let plan = plan_text(store, query).await;
    let scan = plan.lines().find_map(|l| l.trim().strip_prefix("TableScan: events projection="));
    scan.unwrap_or_else(|| panic!("no scan of events in {plan}")).to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_reads_of_typed_properties_read_the_typed_columns() {
    let store = store_with_typed_columns().await;
    let stored = store.table_info("events").await.expect("info");
    let field = stored.schema.field_with_name("prop_amount").expect("typed column");
    assert_eq!(
        field.metadata().get(mpd_store::KIND_METADATA_KEY).map(String::as_str),
        Some("float")
    );

    // The JSON has no amount: 103 shows the typed column was read.
    let query = "SELECT CAST(sum(json_get_float(properties, 'amount')) AS BIGINT) FROM events";
    assert_eq!(scalar_i64(&store, query).await, 103);
    assert_eq!(scanned(&store, query).await, "[prop_amount]");

    let query =
        "SELECT e.properties->>'$browser' AS b, count(*) AS n FROM events e GROUP BY 1 ORDER BY 1";
    let result = store.sql(query).await.expect("query");
    assert_eq!(result.schema.field(0).name(), "b");
    assert_eq!(
        strings(&store, &query.replace("count(*) AS n", "CAST(count(*) AS VARCHAR)")).await,
        vec![Some("Chrome".into()), Some("Safari".into()), None]
    );
    assert_eq!(scanned(&store, query).await, "[prop_browser]");

    // Through the view too, and an unnamed expression keeps its name.
    let scan = scanned(&store, "SELECT properties->>'$browser' FROM events_resolved").await;
    assert_eq!(scan, "[prop_browser]");
    let result = store.sql("SELECT properties->>'$browser' FROM events").await.expect("query");
    assert_eq!(result.schema.field(0).name(), "properties ->> '$browser'");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_json_reads_still_parse_the_json() {
    let store = store_with_typed_columns().await;
    // Another key, another function, or another kind than the column's: no rewrite.
    for query in [
        "SELECT json_get_str(properties, '$browser') FROM events",
        "SELECT properties->>'amount' FROM events",
        "SELECT json_get_float(properties, '$browser') FROM events",
        "SELECT properties->>'plan' FROM events",
        "SELECT json_as_text(concat(properties, ''), '$browser') FROM events",
    ] {
        assert_eq!(scanned(&store, query).await, "[properties]", "{query}");
    }
    assert_eq!(
        scalar_i64(&store, "SELECT CAST(sum(json_get_float(concat(properties, ''), 'amount')) AS BIGINT) FROM events").await,
        0,
        "sample rows have no amount in their JSON"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_utc_day_of_time_is_read_from_date() {
    let store = store_with_events().await;
    for (query, scan) in [
        (
            "SELECT CAST(date_trunc('day', time) AS DATE) AS d, count(*) AS n FROM events GROUP BY 1",
            "[date]",
        ),
        ("SELECT DISTINCT CAST(e.time AS DATE) FROM events e", "[date]"),
        // Filters keep computing the day (see the rule's comment on partition filters).
        ("SELECT count(*) FROM events WHERE date <> CAST(time AS DATE)", "[time, date]"),
        ("SELECT CAST(date_trunc('DAY', time) AS DATE) FROM events_resolved", "[date]"),
        // Not the day: computed from time.
        ("SELECT CAST(date_trunc('hour', time) AS DATE) FROM events", "[time]"),
        ("SELECT date_trunc('day', time) FROM events", "[time]"),
    ] {
        assert_eq!(scanned(&store, query).await, scan, "{query}");
    }
    // The same days either way.
    let by_date =
        strings(&store, "SELECT CAST(date AS VARCHAR) FROM events ORDER BY insert_id").await;
    let by_time = strings(
        &store,
        "SELECT CAST(CAST(date_trunc('day', time) AS DATE) AS VARCHAR) FROM events ORDER BY insert_id",
    )
    .await;
    assert_eq!(by_date, by_time);
    assert_eq!(by_date.len(), 4);
    let misplaced = "SELECT count(*) FROM events WHERE date <> CAST(time AS DATE)";
    assert_eq!(scalar_i64(&store, misplaced).await, 0);
}
