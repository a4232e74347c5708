//! `gdpr delete`: no row of the user is left in any table, no file on disk holds their ids, and
//! a re-sync of those days does not bring them back.

use std::path::Path;

use mpd_service::{SilentReporter, SyncRequest, SyncTarget};
use mpd_testkit::{MockConfig, MockServer};

use crate::support::{day, workspace_with};

const TODAY: &str = "2024-03-12";

/// Files under `root` that hold `needle`: in a decoded string value of a Parquet file (data
/// pages are compressed, so their bytes cannot be searched), or in the bytes of any other file
/// (the JSON of the Delta log, its statistics).
fn files_containing(root: &Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir").flatten() {
            let path = entry.path();
            let holds = if path.is_dir() {
                stack.push(path);
                continue;
            } else if path.extension().is_some_and(|e| e == "parquet") {
                parquet_holds(&path, needle)
            } else {
                std::fs::read(&path)
                    .is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
            };
            if holds {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

/// Whether any string value (or statistic) of a Parquet file contains `needle`.
fn parquet_holds(path: &Path, needle: &str) -> bool {
    use arrow_array::cast::AsArray;
    let file = std::fs::File::open(path).expect("open parquet");
    let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .expect("a parquet file");
    let in_stats = format!("{:?}", builder.metadata()).contains(needle);
    let reader = builder.build().expect("a reader");
    in_stats
        || reader.into_iter().any(|batch| {
            let batch = batch.expect("a batch");
            batch.columns().iter().any(|column| {
                let text = arrow_cast::cast(column, &arrow_schema::DataType::Utf8)
                    .expect("castable to text");
                text.as_string::<i32>().iter().flatten().any(|v| v.contains(needle))
            })
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_user_leaves_no_row_no_byte_and_does_not_come_back() {
    let config = MockConfig {
        events_per_day: 150,
        n_users: 40,
        first_day: day("2024-03-01"),
        today: Some(day(TODAY)),
        // The control search below proves the search finds the ids before the erasure.
        ..MockConfig::default()
    };
    let mock = MockServer::start(config).await.expect("mock");
    let store = tempfile::tempdir().expect("temp dir");
    let workspace = workspace_with(&mock, store.path(), &[("MPD_TODAY", TODAY)]);
    let all = SyncRequest { from: Some(day("2024-03-01")), ..SyncRequest::new(SyncTarget::All) };
    workspace.sync(&all, &SilentReporter).await.expect("sync");

    // The busiest identified user with an anonymous past.
    let pick = workspace
        .sql(
            "SELECT e.user_id AS user_id, min(e.device_id) AS device_id FROM events e \
             JOIN identity_mappings m ON m.resolved_distinct_id = e.user_id \
             WHERE e.user_id IS NOT NULL GROUP BY e.user_id ORDER BY count(*) DESC LIMIT 1",
        )
        .await
        .expect("pick");
    let user = pick.rows[0]["user_id"].as_str().expect("a user").to_owned();
    let device = pick.rows[0]["device_id"].as_str().expect("a device").to_owned();
    let rows_of = |table: &str| {
        format!(
            "SELECT count(*) AS n FROM {table} WHERE distinct_id IN ('{user}', '$device:{device}') \
             OR device_id = '{device}' OR user_id = '{user}'"
        )
    };
    let before = workspace.sql(&rows_of("events")).await.expect("count");
    assert!(before.rows[0]["n"].as_u64().unwrap_or(0) > 0);
    assert!(!files_containing(&store.path().join("events"), &device).is_empty(), "control search");

    let report = workspace.gdpr_delete(std::slice::from_ref(&user)).await.expect("gdpr delete");
    let tables: Vec<&str> = report.tables.iter().map(|t| t.table.as_str()).collect();
    assert!(tables.contains(&"events") && tables.contains(&"identity_mappings"), "{tables:?}");
    assert!(tables.contains(&"profiles"), "{tables:?}");

    for table in ["events", "rejected_duplicates"] {
        let left = workspace.sql(&rows_of(table)).await.expect("count");
        assert_eq!(left.rows[0]["n"].as_u64(), Some(0), "{table}");
    }
    let mapped = workspace
        .sql(&format!(
            "SELECT count(*) AS n FROM identity_mappings WHERE resolved_distinct_id = '{user}' \
             OR distinct_id IN ('{user}', '$device:{device}', '{device}')"
        ))
        .await
        .expect("mappings");
    assert_eq!(mapped.rows[0]["n"].as_u64(), Some(0));
    let profile = workspace
        .sql(&format!("SELECT count(*) AS n FROM profiles WHERE distinct_id = '{user}'"))
        .await
        .expect("profiles");
    assert_eq!(profile.rows[0]["n"].as_u64(), Some(0));
    for needle in [user.as_str(), device.as_str()] {
        assert_eq!(files_containing(store.path(), needle), Vec::<String>::new(), "{needle}");
    }

    // A re-read of every day, and a new profiles snapshot, drop the user again.
    let backfill = SyncRequest {
        backfill: Some((day("2024-03-01"), day(TODAY))),
        ..SyncRequest::new(SyncTarget::Events)
    };
    let resync = workspace.sync(&backfill, &SilentReporter).await.expect("backfill");
    let events = resync.events.expect("events part");
    assert!(events.counts.erased_dropped > 0);
    assert_eq!(events.counts.written, 0);
    let profiles = workspace
        .sync(&SyncRequest::new(SyncTarget::Profiles), &SilentReporter)
        .await
        .expect("profiles")
        .profiles
        .expect("profiles part");
    assert_eq!(profiles.erased_dropped, 1);
    let left = workspace.sql(&rows_of("events")).await.expect("count");
    assert_eq!(left.rows[0]["n"].as_u64(), Some(0));
}
