//! GDPR erasure: after a delete and an immediate vacuum, no byte of the table folder (data
//! files and Delta log alike) may still hold the erased user's id.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use mpd_store::{Store, StoreMode, VacuumOptions, WriteMode, WriterOptions};
use serde_json::Value;

use crate::support::*;

pub(crate) const VICTIM: &str = "gdpr-victim-42";
const VICTIM_PROPERTIES: &str = r#"{"distinct_id":"gdpr-victim-42","plan":"pro"}"#;

/// Victim rows sit alone in a day (its file is dropped whole) and among others (its file is
/// rewritten); the victim's id is the smallest in that file, so min statistics would show it.
fn rows() -> Vec<Row<'static>> {
    vec![
        ("view", day(1), VICTIM, "v1", VICTIM_PROPERTIES),
        ("view", day(1), VICTIM, "v2", VICTIM_PROPERTIES),
        ("view", day(2), VICTIM, "v3", VICTIM_PROPERTIES),
        ("view", day(2), "zoe", "z1", VIEW),
        ("purchase", day(3), "zoe", "z2", PURCHASE),
    ]
}

/// Writes the rows in two commits with `options`.
pub(crate) async fn write(store: &Store, options: &WriterOptions) {
    let all = rows();
    for (i, part) in [&all[..3], &all[3..]].into_iter().enumerate() {
        let mut writer = store
            .writer_with("events", events_schema(), &["date"], WriteMode::Append, options.clone())
            .await
            .expect("writer");
        writer.write(events_batch(part, i as i64)).await.expect("write");
        writer.commit(metadata("fetch")).await.expect("commit");
    }
}

/// A delete predicate that names the victim only by a hash of the id: Delta keeps the
/// predicate's text in the commit info.
pub(crate) async fn hashed_predicate(store: &Store) -> String {
    let query = format!("SELECT encode(sha256('{VICTIM}'), 'hex')");
    let hash = strings(store, &query).await.remove(0).expect("a hash");
    format!("encode(sha256(distinct_id), 'hex') IN ('{hash}')")
}

/// Delete, then vacuum at once, as `mpd gdpr delete` does; `rows_left` remain.
pub(crate) async fn erase(store: &Store, predicate: &str, rows_left: i64) {
    let deleted =
        store.delete_rows("events", predicate, metadata("gdpr delete")).await.expect("delete");
    assert_eq!(deleted.rows_removed, 3);
    let vacuumed = store.vacuum("events", VacuumOptions::immediately()).await.expect("vacuum");
    assert!(vacuumed.files_deleted >= 2, "{vacuumed:?}");
    assert_eq!(scalar_i64(store, "SELECT count(*) FROM events").await, rows_left);
}

/// Files under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|path| {
            let bytes = std::fs::read(path).expect("readable file");
            bytes.windows(needle.len()).any(|window| window == needle.as_bytes())
        })
        .collect()
}

/// Columns with min/max statistics in any `add` action of any commit file.
fn columns_with_statistics(table_dir: &Path) -> BTreeSet<String> {
    let mut columns = BTreeSet::new();
    for path in files_under(&table_dir.join("_delta_log")) {
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("readable commit");
        for line in text.lines() {
            let action: Value = serde_json::from_str(line).expect("a JSON action");
            let Some(stats) = action.pointer("/add/stats").and_then(Value::as_str) else {
                continue;
            };
            let stats: Value = serde_json::from_str(stats).expect("JSON statistics");
            if let Some(Value::Object(min)) = stats.get("minValues") {
                columns.extend(min.keys().cloned());
            }
        }
    }
    columns
}

async fn checkpoint(table_dir: &Path) {
    let url = url::Url::from_directory_path(table_dir).expect("absolute path");
    let table = deltalake::open_table(url).await.expect("open table");
    deltalake::checkpoints::create_checkpoint(&table, None).await.expect("checkpoint");
}

/// Delta's default statistics cover every column, but the store writes no Parquet statistics
/// of ids (nor of whole JSON documents): with default options the log holds min/max values of
/// other columns only, and an erased id leaves no trace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_statistics_hold_no_id() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(StoreMode::Persistent(dir.path().to_path_buf())).await.expect("open");
    write(&store, &WriterOptions::default()).await;
    let table_dir = dir.path().join("events");
    let columns = columns_with_statistics(&table_dir);
    assert!(columns.contains("event_name") && columns.contains("time"), "{columns:?}");
    for column in ["distinct_id", "device_id", "user_id", "insert_id", "properties"] {
        assert!(!columns.contains(column), "{column} has statistics: {columns:?}");
    }
    let holding = files_containing(&table_dir, VICTIM);
    assert!(!holding.is_empty(), "the victim's rows are in the data files");
    assert!(
        holding.iter().all(|p| !p.components().any(|c| c.as_os_str() == "_delta_log")),
        "the log names the victim before any erasure: {holding:?}"
    );

    erase(&store, &hashed_predicate(&store).await, 2).await;
    let leaks = files_containing(&table_dir, VICTIM);
    assert!(leaks.is_empty(), "{leaks:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limited_statistics_leave_no_trace_of_an_erased_id() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(StoreMode::Persistent(dir.path().to_path_buf())).await.expect("open");
    let options = WriterOptions {
        stats_columns: Some(vec!["time".into(), "_sync_id".into()]),
        ..WriterOptions::default()
    };
    write(&store, &options).await;
    let table_dir = dir.path().join("events");
    // A later writer with default options inherits the table's setting.
    write_events(&store, "events", &[("view", day(3), "zoe", "z3", VIEW)], WriteMode::Append).await;
    // Checkpoints copy `add` actions with their statistics: one before the delete too.
    checkpoint(&table_dir).await;
    assert!(files_under(&table_dir).iter().any(|p| p.to_string_lossy().contains("checkpoint")));

    erase(&store, &hashed_predicate(&store).await, 3).await;
    let compacted = store.compact("events", None, metadata("compact")).await.expect("compact");
    assert_eq!(compacted.files_added, 1, "day 3's two files merged");
    checkpoint(&table_dir).await;
    store.vacuum("events", VacuumOptions::immediately()).await.expect("vacuum");

    // Writer, delete rewrite and compaction all kept to the table's statistics columns.
    let columns = columns_with_statistics(&table_dir);
    let allowed = BTreeSet::from(["time".to_owned(), "_sync_id".to_owned()]);
    assert!(!columns.is_empty() && columns.is_subset(&allowed), "{columns:?}");
    assert_eq!(files_containing(&table_dir, VICTIM), Vec::<PathBuf>::new());
    assert_eq!(scalar_i64(&store, "SELECT count(*) FROM events").await, 3);
}

/// Delta writes the delete predicate into the commit info: ids named in it stay in the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_predicate_naming_the_id_stays_in_the_log() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(StoreMode::Persistent(dir.path().to_path_buf())).await.expect("open");
    let options = WriterOptions { stats_columns: Some(Vec::new()), ..WriterOptions::default() };
    write(&store, &options).await;
    let table_dir = dir.path().join("events");
    assert_eq!(columns_with_statistics(&table_dir), BTreeSet::new());
    let info = store.table_info("events").await.expect("info");
    assert_eq!(info.n_rows, Some(5), "row counts are kept without column statistics");

    erase(&store, &format!("distinct_id = '{VICTIM}'"), 2).await;
    let leaks = files_containing(&table_dir, VICTIM);
    assert_eq!(leaks.len(), 1, "{leaks:?}");
    let commit = std::fs::read_to_string(&leaks[0]).expect("readable commit");
    assert!(commit.contains("\"operation\":\"DELETE\""), "{commit}");
}
