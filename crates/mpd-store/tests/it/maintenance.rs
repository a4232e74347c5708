//! Delete, compact and vacuum on real Delta folders.

use std::time::Duration;

use mpd_store::{Error, ErrorClass, Store, StoreMode, VacuumOptions, WriteMode, WriterOptions};

use serde_json::Value;

use crate::support::*;

async fn persistent(dir: &tempfile::TempDir) -> Store {
    Store::open(StoreMode::Persistent(dir.path().to_path_buf())).await.expect("open")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_removes_exactly_the_matching_rows_in_one_commit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = persistent(&dir).await;
    write_events(&store, "events", &sample_rows(), WriteMode::Create).await;
    // Caches a SQL session on version 0.
    assert_eq!(scalar_i64(&store, "SELECT count(*) FROM events").await, 4);

    let mut meta = metadata("gdpr delete");
    meta.insert("ids".into(), 2.into());
    // Day 1 holds i1 and i2: rewritten with i2 only. Day 2 holds only d9: removed whole.
    let summary = store
        .delete_rows("events", "distinct_id IN ('d9') OR insert_id IN ('i1')", meta)
        .await
        .expect("delete");
    assert_eq!(summary.version, 1);
    assert_eq!((summary.rows_removed, summary.files_removed, summary.files_added), (2, 2, 1));
    let left = strings(&store, "SELECT insert_id FROM events ORDER BY insert_id").await;
    assert_eq!(left, vec![Some("i2".into()), Some("i4".into())]);
    let info = store.table_info("events").await.expect("info");
    assert_eq!((info.n_files, info.n_rows), (2, Some(2)));

    let history = store.history("events", None).await.expect("history");
    assert_eq!(history.len(), 2, "one commit for the delete");
    assert_eq!(history[0].operation.as_deref(), Some("DELETE"));
    assert_eq!(history[0].metadata.get("command"), Some(&"gdpr delete".into()));
    assert_eq!(history[0].metadata.get("ids"), Some(&2.into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_matching_nothing_makes_no_commit() {
    let store = Store::open(StoreMode::InMemory).await.expect("open");
    write_events(&store, "events", &sample_rows(), WriteMode::Create).await;
    let summary = store
        .delete_rows("events", "distinct_id = 'nobody'", metadata("gdpr delete"))
        .await
        .expect("delete");
    assert_eq!((summary.version, summary.rows_removed, summary.files_removed), (0, 0, 0));
    assert_eq!(store.history("events", None).await.expect("history").len(), 1);
    assert_eq!(scalar_i64(&store, "SELECT count(*) FROM events").await, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_predicate_is_a_usage_error_and_changes_nothing() {
    let store = Store::open(StoreMode::InMemory).await.expect("open");
    write_events(&store, "events", &sample_rows(), WriteMode::Create).await;
    for predicate in ["no_such_column = 'a'", "distinct_id IN (", "distinct_id"] {
        let error = store
            .delete_rows("events", predicate, metadata("gdpr delete"))
            .await
            .expect_err(predicate);
        assert!(matches!(error, Error::Predicate { .. }), "{predicate}: {error:?}");
        assert_eq!(error.class(), ErrorClass::Usage);
    }
    let missing = store.delete_rows("nope", "true", metadata("x")).await.expect_err("no table");
    assert!(matches!(missing, Error::TableNotFound { .. }), "{missing:?}");
    assert_eq!(store.table_info("events").await.expect("info").version, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compact_leaves_one_file_per_partition_and_the_same_rows() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = persistent(&dir).await;
    for i in 0..10u32 {
        let insert_id = format!("i{i}");
        let row = ("view", day(1 + i % 2), "u1", insert_id.as_str(), VIEW);
        write_events(&store, "events", &[row], WriteMode::Append).await;
    }
    let before = store.table_info("events").await.expect("info");
    assert_eq!((before.n_files, before.version), (10, 9));

    let summary = store.compact("events", None, metadata("compact")).await.expect("compact");
    assert_eq!((summary.files_removed, summary.files_added), (10, 2));
    assert_eq!((summary.partitions_optimized, summary.version), (2, 10));
    let after = store.table_info("events").await.expect("info");
    assert_eq!((after.n_files, after.n_rows), (2, Some(10)));
    assert_eq!(scalar_i64(&store, "SELECT count(DISTINCT insert_id) FROM events").await, 10);
    assert_eq!(
        scalar_i64(&store, "SELECT count(*) FROM events WHERE date = DATE '2024-01-02'").await,
        5
    );
    let history = store.history("events", Some(1)).await.expect("history");
    assert_eq!(history[0].operation.as_deref(), Some("OPTIMIZE"));
    assert_eq!(history[0].metadata.get("command"), Some(&"compact".into()));
    // The old files stay on disk until a vacuum.
    assert_eq!(parquet_files(&dir.path().join("events")), 12);

    let again = store.compact("events", None, metadata("compact")).await.expect("compact");
    assert_eq!((again.files_removed, again.files_added, again.version), (0, 0, 10));
    assert_eq!(store.history("events", None).await.expect("history").len(), 11);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vacuum_keeps_recent_files_by_default_and_deletes_them_immediately_on_request() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = persistent(&dir).await;
    let table_dir = dir.path().join("events");
    write_events(&store, "events", &sample_rows(), WriteMode::Create).await;
    write_events(&store, "events", &sample_rows()[..1], WriteMode::Replace).await;
    assert_eq!(parquet_files(&table_dir), 4, "3 replaced + 1 live");

    let kept = store.vacuum("events", VacuumOptions::default()).await.expect("vacuum");
    assert_eq!((kept.files_deleted, kept.bytes_deleted, kept.dry_run), (0, Some(0), false));
    assert_eq!(parquet_files(&table_dir), 4);

    let dry = VacuumOptions { dry_run: true, ..VacuumOptions::immediately() };
    let planned = store.vacuum("events", dry).await.expect("dry run");
    assert_eq!((planned.files_deleted, planned.dry_run), (3, true));
    assert!(planned.bytes_deleted.is_some_and(|b| b > 0), "{planned:?}");
    assert_eq!(parquet_files(&table_dir), 4, "a dry run deletes nothing");
    assert_eq!(store.history("events", None).await.expect("history").len(), 2);

    let mut now = VacuumOptions::immediately();
    now.metadata = metadata("gdpr vacuum");
    let done = store.vacuum("events", now).await.expect("vacuum");
    assert_eq!((done.files_deleted, done.bytes_deleted), (3, planned.bytes_deleted));
    assert_eq!(parquet_files(&table_dir), 1);
    assert_eq!(scalar_i64(&store, "SELECT count(*) FROM events").await, 1);

    let history = store.history("events", Some(2)).await.expect("history");
    let operations: Vec<_> = history.iter().map(|c| c.operation.as_deref()).collect();
    assert_eq!(operations, vec![Some("VACUUM END"), Some("VACUUM START")]);
    assert!(history.iter().all(|c| c.metadata.get("command") == Some(&"gdpr vacuum".into())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_retention_is_refused_unless_enforcement_is_off() {
    let store = Store::open(StoreMode::InMemory).await.expect("open");
    write_events(&store, "events", &sample_rows(), WriteMode::Create).await;
    let short = VacuumOptions { retention: Duration::from_secs(3600), ..VacuumOptions::default() };
    let error = store.vacuum("events", short.clone()).await.expect_err("below the minimum");
    assert!(matches!(error, Error::Delta { .. }), "{error:?}");
    let allowed = VacuumOptions { enforce_retention: false, ..short };
    assert_eq!(store.vacuum("events", allowed).await.expect("vacuum").files_deleted, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vacuum_removes_orphaned_parquet_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = persistent(&dir).await;
    let table_dir = dir.path().join("events");
    write_events(&store, "events", &sample_rows(), WriteMode::Create).await;
    // What a writer killed before its commit leaves: a data file the log never mentions.
    let partition = table_dir.join("date=2024-01-01");
    let live = files_under(&partition).into_iter().next().expect("a data file");
    let orphan = partition.join("part-00000-orphan-c000.snappy.parquet");
    std::fs::copy(&live, &orphan).expect("copy");

    let kept = store.vacuum("events", VacuumOptions::default()).await.expect("vacuum");
    assert_eq!(kept.files_deleted, 0, "a recent orphan may be a writer's file mid-commit");
    assert!(orphan.exists());

    let done = store.vacuum("events", VacuumOptions::immediately()).await.expect("vacuum");
    assert_eq!(done.files_deleted, 1);
    assert!(!orphan.exists());
    assert!(live.exists());
    assert_eq!(scalar_i64(&store, "SELECT count(*) FROM events").await, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacing_partitions_replaces_the_days_written_and_keeps_the_others() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = persistent(&dir).await;
    write_events(&store, "events", &sample_rows(), WriteMode::Create).await;
    let day_one = [("signup", day(1), "u5", "i9", VIEW)];
    let summary = write_events(&store, "events", &day_one, WriteMode::ReplacePartitions).await;
    assert_eq!((summary.files_removed, summary.files_added, summary.version), (1, 1, 1));
    let left = strings(&store, "SELECT insert_id FROM events ORDER BY insert_id").await;
    assert_eq!(left, vec![Some("i3".into()), Some("i4".into()), Some("i9".into())]);

    // The table keeps its columns: rows of another shape are refused before anything is written.
    let other = std::sync::Arc::new(arrow_schema::Schema::new(vec![
        arrow_schema::Field::new("date", arrow_schema::DataType::Date32, false),
        arrow_schema::Field::new("n", arrow_schema::DataType::Int64, false),
    ]));
    let error = store
        .writer("events", other, &["date"], WriteMode::ReplacePartitions)
        .await
        .expect_err("another schema");
    assert!(matches!(error, Error::SchemaMismatch { .. }), "{error:?}");
    assert!(error.to_string().contains("events"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn days_of_overlapping_files_are_unsorted_until_a_presorted_rewrite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = persistent(&dir).await;
    sort_a_day(&store).await;
    // The rewrite only rearranged rows: its files say so, as an OPTIMIZE's do; an append's
    // do not.
    let log = |version: u32| {
        let path = dir.path().join(format!("events/_delta_log/{version:020}.json"));
        std::fs::read_to_string(path).expect("commit file")
    };
    let data_changes = |text: &str| -> Vec<bool> {
        text.lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter_map(|action| {
                let file = action.get("add").or_else(|| action.get("remove"))?;
                file.get("dataChange")?.as_bool()
            })
            .collect()
    };
    assert_eq!(data_changes(&log(3)), vec![false; 3], "one file added, two removed");
    assert_eq!(data_changes(&log(1)), vec![true]);
    let history = store.history("events", None).await.expect("history");
    let operation = |version: i64| {
        history.iter().find(|c| c.version == version).and_then(|c| c.operation.clone())
    };
    assert_eq!(operation(3).as_deref(), Some("OPTIMIZE"));
    assert_eq!(operation(1).as_deref(), Some("WRITE"));
}

/// A file's layout is read from its footer once: later compactions take it from the saved
/// index (`_mpd/layouts/<table>`), which holds the live files only and goes with the table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn footers_are_read_once_and_the_layouts_saved() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = persistent(&dir).await;
    let first = [("view", day(1), "u1", "i1", VIEW), ("buy", day(1), "u1", "i2", PURCHASE)];
    write_events(&store, "events", &first, WriteMode::Append).await;
    write_events(&store, "events", &[("view", day(2), "u1", "i3", VIEW)], WriteMode::Append).await;
    assert!(store.unsorted_days("events", "event_name").await.expect("layout").is_empty());
    let index = dir.path().join("_mpd").join("layouts").join("events");
    let saved = std::fs::read_to_string(&index).expect("saved layouts");
    assert!(saved.starts_with("mpd-layouts 2 event_name\n"), "{saved}");
    assert_eq!(saved.lines().count(), 3, "a line per live file: {saved}");

    // Day 1's file is not read again: with its bytes damaged, the day's layout still stands.
    let day_one = data_files(&dir.path().join("events").join(format!("date={}", day(1))));
    assert_eq!(day_one.len(), 1);
    std::fs::write(&day_one[0], b"not parquet").expect("damage the file");
    assert!(store.unsorted_days("events", "event_name").await.expect("layout").is_empty());

    // A second write to day 2 adds a file whose footer is read; two small files are merged.
    write_events(&store, "events", &[("buy", day(2), "u2", "i4", PURCHASE)], WriteMode::Append)
        .await;
    assert_eq!(store.unsorted_days("events", "event_name").await.expect("layout"), vec![day(2)]);
    let saved = std::fs::read_to_string(&index).expect("saved layouts");
    assert_eq!(saved.lines().count(), 4, "{saved}");

    // A line whose size is not the one the log gives its file is read again: here, day 1's
    // damaged file, whose footer now fails.
    let day_one_folder = format!("date={}/", day(1));
    let tampered: String = saved
        .lines()
        .map(|line| match line.split_once('\t') {
            Some((path, rest)) if path.starts_with(&day_one_folder) => {
                let (_, layout) = rest.split_once('\t').expect("size, then layout");
                format!("{path}\t1\t{layout}\n")
            }
            _ => format!("{line}\n"),
        })
        .collect();
    assert_ne!(tampered, saved);
    std::fs::write(&index, tampered).expect("change a size");
    let error = store.unsorted_days("events", "event_name").await.expect_err("footer read");
    assert!(error.to_string().contains(&day_one_folder), "{error}");

    // A damaged index is not used: every footer is read again (day 1's, damaged, says so).
    std::fs::write(&index, "mpd-layouts 2 event_name\nhalf a line").expect("damage the index");
    let error = store.unsorted_days("events", "event_name").await.expect_err("footer read");
    assert!(error.to_string().contains(&format!("date={}", day(1))), "{error}");

    store.drop_table("events").await.expect("drop");
    assert!(!index.exists(), "the saved layouts go with the table");
}

/// The Parquet files under `folder`.
fn data_files(folder: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(folder)
        .expect("partition folder")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "parquet"))
        .collect()
}

/// Two writes to a day make it unsorted; a presorted rewrite of it, in place of its files, makes
/// it sorted and leaves the other day as it was.
pub(crate) async fn sort_a_day(store: &Store) {
    // Day 1 in two writes (two files, each holding both names); day 2 in one.
    let first = [("view", day(1), "u1", "i1", VIEW), ("buy", day(1), "u1", "i2", PURCHASE)];
    let second = [("view", day(1), "u2", "i3", VIEW), ("buy", day(1), "u2", "i4", PURCHASE)];
    write_events(store, "events", &first, WriteMode::Append).await;
    write_events(store, "events", &second, WriteMode::Append).await;
    write_events(store, "events", &[("view", day(2), "u1", "i5", VIEW)], WriteMode::Append).await;
    let unsorted = store.unsorted_days("events", "event_name").await.expect("layout");
    assert_eq!(unsorted, vec![day(1)]);

    // Day 1 read back sorted by name and written as it comes: one file, in one commit.
    let rows = [first[1], second[1], first[0], second[0]];
    let mut writer = store
        .writer("events", events_schema(), &["date"], WriteMode::ReplacePartitions)
        .await
        .expect("writer")
        .presorted()
        .rearranging();
    writer.write(events_batch(&rows, 1)).await.expect("write");
    let summary = writer.commit(metadata("tables compact")).await.expect("commit");
    assert_eq!((summary.files_removed, summary.files_added), (2, 1));
    assert!(store.unsorted_days("events", "event_name").await.expect("layout").is_empty());
    assert_eq!(scalar_i64(store, "SELECT count(DISTINCT insert_id) FROM events").await, 5);
    let info = store.table_info("events").await.expect("info");
    assert_eq!(info.n_files, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_presorted_day_larger_than_a_sorted_run_stays_in_one_file_sorted_whole() {
    // Past the first 256 Ki rows of a write, part writers take sorted runs (32 Ki rows) in
    // turn, unless the rows come presorted.
    let ids: Vec<String> = (0..320 * 1024).map(|i| format!("i{i:06}")).collect();
    let rows: Vec<Row<'_>> =
        ids.iter().map(|id| ("view", day(1), "u1", id.as_str(), VIEW)).collect();
    let mut files = Vec::new();
    for presorted in [false, true] {
        let store = Store::open(StoreMode::InMemory).await.expect("open");
        let options = WriterOptions {
            sort_by: vec!["event_name".into(), "time".into()],
            ..WriterOptions::default()
        };
        let writer = store
            .writer_with("events", events_schema(), &["date"], WriteMode::Create, options)
            .await
            .expect("writer")
            .with_shards(2);
        let mut writer = if presorted { writer.presorted() } else { writer };
        for chunk in rows.chunks(16 * 1024) {
            writer.write(events_batch(chunk, 1)).await.expect("write");
        }
        let summary = writer.commit(metadata("test")).await.expect("commit");
        files.push((summary.files_added, summary.partitions_in_several_runs));
    }
    // The day went out in ten runs of 32 Ki rows without presorting; the summary says so.
    assert_eq!(
        files,
        vec![(2, 1), (1, 0)],
        "files and days in several runs, without and with presorted"
    );
}
