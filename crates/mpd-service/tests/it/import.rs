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

/// A store at `dir/store` holding one table written by another tool, and an export dump of
/// one event: what the import of that dump stops on.
async fn import_beside_foreign_table(
    dir: &std::path::Path,
    table: &str,
    columns: Vec<(&str, arrow_schema::DataType, arrow_array::ArrayRef)>,
    partition_by: &[&str],
) -> mpd_service::Error {
    use std::sync::Arc;

    let store_path = dir.join("store");
    let store = mpd_store::Store::open(mpd_store::StoreMode::Persistent(store_path.clone()))
        .await
        .expect("store");
    let fields: Vec<_> = columns
        .iter()
        .map(|(name, kind, _)| arrow_schema::Field::new(*name, kind.clone(), false))
        .collect();
    let schema = Arc::new(arrow_schema::Schema::new(fields));
    let arrays = columns.into_iter().map(|(_, _, array)| array).collect();
    let rows = arrow_array::RecordBatch::try_new(schema.clone(), arrays).expect("batch");
    let mut writer = store
        .writer(table, schema, partition_by, mpd_store::WriteMode::Create)
        .await
        .expect("writer");
    writer.write(rows).await.expect("write");
    writer.commit(serde_json::Map::new()).await.expect("commit");
    store.close().await.expect("close");

    let dump = dir.join("dump.jsonl");
    let line = r#"{"event":"Login","properties":{"time":1709287200,"distinct_id":"u2","$insert_id":"i2"}}"#;
    std::fs::write(&dump, format!("{line}\n")).expect("dump");
    let settings = mpd_service::Settings { store: Some(store_path), ..Default::default() };
    Workspace::for_store(settings)
        .import_export(&mpd_service::DumpSource::Path(dump), 0, &SilentReporter)
        .await
        .expect_err("the foreign table stops the import")
}

fn text(value: &str) -> arrow_array::ArrayRef {
    std::sync::Arc::new(arrow_array::StringArray::from(vec![value]))
}

/// A table written by another tool, whose `time` is text: the import stops before writing and
/// says which table is not what mpd writes and how (a usage error, not an internal one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_events_table_of_another_shape_is_named_in_the_error() {
    use arrow_schema::DataType::{Date32, Utf8};

    let dir = tempfile::tempdir().expect("dir");
    let date: arrow_array::ArrayRef =
        std::sync::Arc::new(arrow_array::Date32Array::from(vec![19783])); // 2024-03-01
    let columns = vec![
        ("event_name", Utf8, text("Login")),
        ("time", Utf8, text("2024-03-01 10:00:00")),
        ("date", Date32, date),
        ("distinct_id", Utf8, text("u1")),
        ("insert_id", Utf8, text("i1")),
    ];
    let error = import_beside_foreign_table(dir.path(), "events", columns, &["date"]).await;
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
    use arrow_schema::DataType::Utf8;

    let dir = tempfile::tempdir().expect("dir");
    let columns = vec![
        ("dataset", Utf8, text("export")),
        ("path", Utf8, text("/old/dump.jsonl")),
        ("size", Utf8, text("large")),
    ];
    let error = import_beside_foreign_table(dir.path(), "pipelines_files", columns, &[]).await;
    assert_eq!(
        error.to_string(),
        "table pipelines_files: column `size` should be Int64 but is Utf8"
    );
    assert_eq!(error.class(), mpd_service::ErrorClass::Usage);
    assert!(!error.is_internal());
}
