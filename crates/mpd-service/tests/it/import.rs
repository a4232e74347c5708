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
