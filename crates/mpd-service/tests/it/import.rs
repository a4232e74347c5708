//! `import pipelines`: a JSON-pipelines tree written from the mock project gives the same rows
//! as the API sync of that project; late files are picked up once; nothing is read twice.

use mpd_service::{SilentReporter, SyncRequest, SyncTarget, Workspace};
use mpd_testkit::pipelines::{PipelinesOptions, PipelinesTree};
use mpd_testkit::{MockConfig, MockServer};

use crate::support::{day, workspace_with};

const KEYS: &str = "SELECT coalesce(insert_id, '') || '/' || CAST(time AS VARCHAR) || '/' || event_name AS k \
                    FROM events ORDER BY k";

async fn keys(workspace: &Workspace) -> Vec<String> {
    let result = workspace.sql(KEYS).await.expect("keys");
    result.rows.iter().map(|r| r["k"].as_str().unwrap_or_default().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipelines_tree_equals_the_api_sync_and_late_files_are_read_once() {
    let config = MockConfig {
        events_per_day: 150,
        n_users: 50,
        first_day: day("2024-03-01"),
        today: Some(day("2024-03-20")),
        ..MockConfig::default()
    };
    let mock = MockServer::start(config).await.expect("mock");
    let bucket = tempfile::tempdir().expect("bucket");
    let options = PipelinesOptions {
        hourly_days: vec![day("2024-03-03")],
        uncompressed_days: vec![day("2024-03-04")],
        ..PipelinesOptions::new(day("2024-03-01"), day("2024-03-06"))
    };
    let mut tree = PipelinesTree::write(mock.project(), bucket.path(), &options).expect("tree");

    let imported_store = tempfile::tempdir().expect("store");
    let imported = workspace_with(&mock, imported_store.path(), &[]);
    let first = imported.import_pipelines(bucket.path(), 0, &SilentReporter).await.expect("import");
    assert_eq!(first.event_files_read as usize, tree.event_files().len());
    assert!(first.counts.duplicates_rejected > 0, "the tree carries Mixpanel's duplicates");
    assert!(first.profiles.unwrap_or(0) > 0 && first.identity_mappings.unwrap_or(0) > 0);

    let synced_store = tempfile::tempdir().expect("store");
    let synced = workspace_with(&mock, synced_store.path(), &[("MPD_TODAY", "2024-03-20")]);
    let backfill = SyncRequest {
        backfill: Some((day("2024-03-01"), day("2024-03-06"))),
        ..SyncRequest::new(SyncTarget::Events)
    };
    synced.sync(&backfill, &SilentReporter).await.expect("sync");
    let want = keys(&synced).await;
    assert_eq!(want.len(), mock.project().deduplicated(day("2024-03-01"), day("2024-03-06")).len());
    assert_eq!(keys(&imported).await, want, "same rows after dedup");
    let audit = "SELECT count(*) AS n FROM rejected_duplicates";
    let imported_audit = imported.sql(audit).await.expect("audit").rows[0]["n"].as_u64();
    let synced_audit = synced.sql(audit).await.expect("audit").rows[0]["n"].as_u64();
    assert_eq!(imported_audit, synced_audit);

    // Pipelines mappings are there, and win over derived ones in events_resolved.
    let sources = imported
        .sql("SELECT count(*) AS n FROM identity_mappings WHERE source = 'pipelines'")
        .await
        .expect("mappings");
    assert_eq!(sources.rows[0]["n"].as_u64(), first.identity_mappings);

    // Nothing new: nothing read.
    let again = imported.import_pipelines(bucket.path(), 0, &SilentReporter).await.expect("import");
    assert_eq!((again.event_files_read, again.counts.written), (0, 0));
    assert_eq!(again.profiles, None);

    // A late file in an old day folder: only it is read, its events are added once.
    let late = tree.add_late_file(mock.project(), day("2024-03-02"), 9).expect("late file");
    assert_eq!(late.len(), 1);
    let later = imported.import_pipelines(bucket.path(), 0, &SilentReporter).await.expect("import");
    assert_eq!((later.event_files_read, later.counts.written), (1, 9));
    synced.sync(&backfill, &SilentReporter).await.expect("sync");
    assert_eq!(keys(&imported).await, keys(&synced).await, "the API sees the late events too");
}

/// A table written by another tool, whose `time` is text: the import stops before writing and
/// says which table is not what mpd writes and how (a usage error, not an internal one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_events_table_of_another_shape_is_named_in_the_error() {
    use std::sync::Arc;

    use arrow_array::{Date32Array, RecordBatch, StringArray};
    use arrow_schema::{DataType, Field, Schema};

    let dir = tempfile::tempdir().expect("dir");
    let store_path = dir.path().join("store");
    let store = mpd_store::Store::open(mpd_store::StoreMode::Persistent(store_path.clone()))
        .await
        .expect("store");
    let schema = Arc::new(Schema::new(vec![
        Field::new("event_name", DataType::Utf8, false),
        Field::new("time", DataType::Utf8, false),
        Field::new("date", DataType::Date32, false),
        Field::new("distinct_id", DataType::Utf8, false),
        Field::new("insert_id", DataType::Utf8, true),
    ]));
    let rows = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(vec!["Login"])),
            Arc::new(StringArray::from(vec!["2024-03-01 10:00:00"])),
            Arc::new(Date32Array::from(vec![19783])), // 2024-03-01
            Arc::new(StringArray::from(vec!["u1"])),
            Arc::new(StringArray::from(vec!["i1"])),
        ],
    )
    .expect("batch");
    let mut writer = store
        .writer("events", schema, &["date"], mpd_store::WriteMode::Create)
        .await
        .expect("writer");
    writer.write(rows).await.expect("write");
    writer.commit(serde_json::Map::new()).await.expect("commit");
    store.close().await.expect("close");

    let dump = dir.path().join("dump.jsonl");
    let line = r#"{"event":"Login","properties":{"time":1709287200,"distinct_id":"u2","$insert_id":"i2"}}"#;
    std::fs::write(&dump, format!("{line}\n")).expect("dump");
    let settings = mpd_service::Settings { store: Some(store_path), ..Default::default() };
    let workspace = Workspace::for_store(settings);
    let error = workspace
        .import_export(&mpd_service::DumpSource::Path(dump), 0, &SilentReporter)
        .await
        .expect_err("a text time column cannot hold mpd's keys");
    let message = error.to_string();
    assert!(message.starts_with("schema of table `events` does not match"), "{message}");
    assert!(message.contains("time: Utf8") && message.contains("time: Timestamp"), "{message}");
    assert_eq!(error.class(), mpd_service::ErrorClass::Usage);
    assert!(!error.is_internal());
}

/// The imported-files ledger written by another tool with a text `size`: the error names the
/// ledger table, the column and both types.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ledger_of_another_shape_is_named_in_the_error() {
    use std::sync::Arc;

    use arrow_array::{RecordBatch, StringArray};
    use arrow_schema::{DataType, Field, Schema};

    let dir = tempfile::tempdir().expect("dir");
    let store_path = dir.path().join("store");
    let store = mpd_store::Store::open(mpd_store::StoreMode::Persistent(store_path.clone()))
        .await
        .expect("store");
    let schema = Arc::new(Schema::new(vec![
        Field::new("dataset", DataType::Utf8, false),
        Field::new("path", DataType::Utf8, false),
        Field::new("size", DataType::Utf8, false),
    ]));
    let rows = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(vec!["export"])),
            Arc::new(StringArray::from(vec!["/old/dump.jsonl"])),
            Arc::new(StringArray::from(vec!["large"])),
        ],
    )
    .expect("batch");
    let mut writer = store
        .writer("pipelines_files", schema, &[], mpd_store::WriteMode::Create)
        .await
        .expect("writer");
    writer.write(rows).await.expect("write");
    writer.commit(serde_json::Map::new()).await.expect("commit");
    store.close().await.expect("close");

    let dump = dir.path().join("dump.jsonl");
    let line = r#"{"event":"Login","properties":{"time":1709287200,"distinct_id":"u2","$insert_id":"i2"}}"#;
    std::fs::write(&dump, format!("{line}\n")).expect("dump");
    let settings = mpd_service::Settings { store: Some(store_path), ..Default::default() };
    let error = Workspace::for_store(settings)
        .import_export(&mpd_service::DumpSource::Path(dump), 0, &SilentReporter)
        .await
        .expect_err("a text size cannot be compared with a file's size");
    assert_eq!(
        error.to_string(),
        "table pipelines_files: column `size` should be Int64 but is Utf8"
    );
    assert_eq!(error.class(), mpd_service::ErrorClass::Usage);
    assert!(!error.is_internal());
}
