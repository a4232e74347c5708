//! Rewriting an events table: typed columns added or dropped, rows, ids and cursor kept, days
//! sorted, other tables refused.

use arrow_array::{Float64Array, Int64Array};
use mpd_decode::{EventBatchBuilder, LineFormat, PropertyKind, TimeCorrection, TypedProperty};
use mpd_store::{CommitInfo, StoreMode};

use super::*;

fn lines() -> Vec<String> {
    // Two days, names out of order within each.
    let rows = [
        ("View", 1_700_000_100, r#""$browser":"Chrome""#),
        ("Buy", 1_700_000_200, r#""amount":"9.5""#),
        ("View", 1_700_090_000, r#""$browser":"Safari","amount":2"#),
        ("Add", 1_700_090_100, r#""amount":1"#),
    ];
    rows.iter()
        .enumerate()
        .map(|(i, (name, time, props))| {
            format!(
                r#"{{"event":"{name}","properties":{{"time":{time},"$insert_id":"i{i}",{props}}}}}"#
            )
        })
        .collect()
}

async fn store_with(typed: &TypedProperties) -> Store {
    let mut builder = EventBatchBuilder::with_typed(
        LineFormat::Export,
        TimeCorrection::None,
        3,
        64,
        typed.clone(),
    );
    for line in lines() {
        builder.push_line(line.as_bytes()).expect("valid");
    }
    let store = Store::open(StoreMode::InMemory).await.expect("store");
    let mut writer =
        events_writer(&store, "events", WriteMode::Create, typed).await.expect("writer");
    writer.write(builder.finish().expect("rows")).await.expect("write");
    let metadata = CommitInfo::new("sync events").to_metadata();
    writer.commit_with_txn(metadata, "mpd-cursor", 19_000).await.expect("commit");
    store
}

fn amount_and_browser() -> TypedProperties {
    TypedProperties::new(vec![
        TypedProperty::new("amount", PropertyKind::Float),
        TypedProperty::new("$browser", PropertyKind::Text),
    ])
    .expect("valid")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_without_typed_columns_gets_them_in_one_commit() {
    let store = store_with(&TypedProperties::none()).await;
    let typed = amount_and_browser();
    let metadata = CommitInfo::new("tables evolve").to_metadata();
    let summary = rewrite_events(&store, "events", &typed, metadata).await.expect("rewrite");
    assert_eq!(summary.columns_before, Vec::<String>::new());
    assert_eq!(summary.columns_after, vec!["prop_amount", "prop_browser"]);
    assert_eq!((summary.rows, summary.days, summary.commit.version), (4, 2, 1));

    let stored = store.schema("events").await.expect("schema");
    assert_eq!(TypedProperties::from_schema(&stored), typed);
    let sum = store
        .sql("SELECT sum(prop_amount) AS s, count(prop_browser) AS b, sum(_sync_id) AS ids FROM events")
        .await
        .expect("query");
    let row = &sum.batches[0];
    let s = row.column(0).as_any().downcast_ref::<Float64Array>().expect("f64").value(0);
    let b = row.column(1).as_any().downcast_ref::<Int64Array>().expect("i64").value(0);
    let ids = row.column(2).as_any().downcast_ref::<Int64Array>().expect("i64").value(0);
    assert_eq!((s, b, ids), (12.5, 2, 12), "values from the JSON, _sync_id kept");
    assert_eq!(
        store.app_transaction_version("events", "mpd-cursor").await.expect("txn"),
        Some(19_000),
        "the sync cursor survives"
    );

    // Each day's rows are stored sorted by event name.
    let names = store
        .sql("SELECT event_name FROM events WHERE date = DATE '2023-11-14'")
        .await
        .expect("query");
    let names = arrow_cast::cast(names.batches[0].column(0), &DataType::Utf8).expect("utf8");
    let names = names.as_any().downcast_ref::<StringArray>().expect("utf8");
    assert_eq!(names.iter().flatten().collect::<Vec<_>>(), vec!["Buy", "View"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn columns_can_be_dropped_too_and_the_audit_table_is_refused() {
    let store = store_with(&amount_and_browser()).await;
    let metadata = CommitInfo::new("tables evolve").to_metadata();
    let summary = rewrite_events(&store, "events", &TypedProperties::none(), metadata)
        .await
        .expect("rewrite");
    assert_eq!(summary.columns_before, vec!["prop_amount", "prop_browser"]);
    let stored = store.schema("events").await.expect("schema");
    assert_eq!(stored.fields().len(), mpd_decode::events_schema().fields().len());
    assert!(stored.field_with_name("prop_amount").is_err());

    let mut audit = store
        .writer(
            "not_events",
            Arc::new(arrow_schema::Schema::new(vec![arrow_schema::Field::new(
                "x",
                DataType::Int64,
                false,
            )])),
            &[],
            WriteMode::Create,
        )
        .await
        .expect("writer");
    audit
        .write(
            RecordBatch::try_new(audit.schema().clone(), vec![Arc::new(Int64Array::from(vec![1]))])
                .expect("batch"),
        )
        .await
        .expect("write");
    audit.commit(CommitInfo::new("test").to_metadata()).await.expect("commit");
    let error = rewrite_events(&store, "not_events", &TypedProperties::none(), Map::new())
        .await
        .expect_err("not an events table");
    assert_eq!(
        error.to_string(),
        "table not_events: column `event_name` should be Utf8 (an events table) but is missing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sorting_days_rewrites_only_those_days_and_keeps_columns_rows_and_cursor() {
    let typed = amount_and_browser();
    let store = store_with(&typed).await;
    // A later sync adds a second file to the first day.
    let mut builder = EventBatchBuilder::with_typed(
        LineFormat::Export,
        TimeCorrection::None,
        4,
        64,
        typed.clone(),
    );
    let late = r#"{"event":"Add","properties":{"time":1700000300,"$insert_id":"late","amount":3}}"#;
    builder.push_line(late.as_bytes()).expect("valid");
    let mut writer =
        events_writer(&store, "events", WriteMode::Append, &typed).await.expect("writer");
    writer.write(builder.finish().expect("rows")).await.expect("write");
    writer.commit(CommitInfo::new("sync events").to_metadata()).await.expect("commit");
    let unsorted = store.unsorted_days("events", "event_name").await.expect("layout");
    assert_eq!(unsorted, vec![chrono::NaiveDate::from_ymd_opt(2023, 11, 14).expect("day")]);

    let metadata = CommitInfo::new("tables compact").to_metadata();
    let summary = sort_days(&store, "events", &unsorted, metadata).await.expect("sort");
    assert_eq!((summary.rows, summary.days), (3, 1));
    assert_eq!((summary.commit.files_removed, summary.commit.files_added), (2, 1));
    assert_eq!(summary.columns_after, summary.columns_before);
    assert!(store.unsorted_days("events", "event_name").await.expect("layout").is_empty());
    assert_eq!(TypedProperties::from_schema(&store.schema("events").await.expect("schema")), typed);
    let names = store
        .sql("SELECT event_name, _sync_id FROM events WHERE date = DATE '2023-11-14'")
        .await
        .expect("query");
    let batch = &names.batches[0];
    let names = arrow_cast::cast(batch.column(0), &DataType::Utf8).expect("utf8");
    let names = names.as_any().downcast_ref::<StringArray>().expect("utf8");
    assert_eq!(names.iter().flatten().collect::<Vec<_>>(), vec!["Add", "Buy", "View"]);
    let ids = batch.column(1).as_any().downcast_ref::<Int64Array>().expect("i64");
    assert_eq!(ids.values().to_vec(), vec![4, 3, 3], "each row keeps its sync id");
    assert_eq!(
        store.app_transaction_version("events", "mpd-cursor").await.expect("txn"),
        Some(19_000),
        "the sync cursor survives"
    );
    let total = store.sql("SELECT count(*) FROM events").await.expect("count");
    let total = total.batches[0].column(0).as_any().downcast_ref::<Int64Array>().expect("i64");
    assert_eq!(total.value(0), 5, "the other day is still there");
    // The typed columns are read back as stored, not lost.
    let sums = store
        .sql("SELECT sum(prop_amount) AS a, count(prop_browser) AS b FROM events")
        .await
        .expect("typed columns");
    let row = &sums.batches[0];
    let amount = row.column(0).as_any().downcast_ref::<Float64Array>().expect("f64").value(0);
    let browsers = row.column(1).as_any().downcast_ref::<Int64Array>().expect("i64").value(0);
    assert_eq!((amount, browsers), (15.5, 2));
}

#[test]
fn events_tables_are_told_from_their_audit_table() {
    assert!(is_events_table(&mpd_decode::events_schema()));
    assert!(is_events_table(&mpd_decode::events_schema_with(&amount_and_browser())));
    assert!(!is_events_table(&mpd_decode::rejected_duplicates_schema()));
    assert!(!is_events_table(&mpd_decode::profiles_schema()));
}
