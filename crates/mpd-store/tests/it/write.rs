//! Create, append, replace, drop, history and application transactions.

use arrow_schema::{DataType, TimeUnit};
use mpd_store::{Error, ErrorClass, Store, StoreMode, WriteMode};

use crate::support::*;

async fn create_append_replace(store: &Store) {
    let first = write_events(store, "events", &sample_rows()[..2], WriteMode::Create).await;
    assert_eq!(first.version, 0);
    assert_eq!((first.rows_added, first.files_added, first.files_removed), (2, 1, 0));

    let again = store.writer("events", events_schema(), &["date"], WriteMode::Create).await;
    assert!(matches!(again, Err(Error::TableExists { .. })), "{again:?}");

    let second = write_events(store, "events", &sample_rows()[2..], WriteMode::Append).await;
    assert_eq!((second.version, second.rows_added, second.files_added), (1, 2, 2));
    assert_eq!(scalar_i64(store, "SELECT count(*) FROM events").await, 4);

    let replaced = write_events(store, "events", &sample_rows()[..1], WriteMode::Replace).await;
    assert_eq!((replaced.version, replaced.files_added, replaced.files_removed), (2, 1, 3));
    assert_eq!(scalar_i64(store, "SELECT count(*) FROM events").await, 1);

    let info = store.table_info("events").await.expect("info");
    assert_eq!((info.version, info.n_files, info.n_rows), (2, 1, Some(1)));
    assert_eq!(info.partition_columns, vec!["date".to_owned()]);
    assert!(info.size_bytes > 0);
    // Delta keeps the types the callers rely on.
    let time = info.schema.field_with_name("time").expect("time column");
    assert_eq!(time.data_type(), &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())));
    let date = info.schema.field_with_name("date").expect("date column");
    assert_eq!(date.data_type(), &DataType::Date32);
    assert_eq!(info.last_commit.map(|c| c.version), Some(2));
    assert_eq!(store.tables().await.expect("tables").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_store_writes_a_delta_folder() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("lake");
    let store = Store::open(StoreMode::Persistent(root.clone())).await.expect("open");
    assert_eq!(store.root(), Some(root.as_path()));
    assert!(store.mode_label().starts_with("persistent "), "{}", store.mode_label());
    // The store's own side folders are not tables.
    std::fs::create_dir_all(root.join(mpd_store::QUARANTINE_DIR)).expect("quarantine");
    create_append_replace(&store).await;
    assert!(root.join("events").join("_delta_log").is_dir());
    assert!(root.join("events").join("date=2024-01-01").is_dir());
    store.close().await.expect("close");
    // A persistent store survives and reopens.
    let reopened = Store::open(StoreMode::Persistent(root)).await.expect("reopen");
    assert_eq!(scalar_i64(&reopened, "SELECT count(*) FROM events").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ephemeral_store_is_removed_on_close() {
    let store = Store::open(StoreMode::Ephemeral).await.expect("open");
    let root = store.root().expect("ephemeral stores have a folder").to_path_buf();
    assert_eq!(store.mode_label(), "ephemeral");
    create_append_replace(&store).await;
    assert!(root.join("events").is_dir());
    store.close().await.expect("close");
    assert!(!root.exists(), "{} still exists", root.display());
    // Dropping without close cleans up too.
    let dropped = Store::open(StoreMode::Ephemeral).await.expect("open");
    let root = dropped.root().expect("a folder").to_path_buf();
    assert!(root.is_dir());
    drop(dropped);
    assert!(!root.exists(), "{} still exists", root.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory_store_writes_no_files() {
    let store = Store::open(StoreMode::InMemory).await.expect("open");
    assert_eq!(store.root(), None);
    assert_eq!(store.mode_label(), "in-memory");
    create_append_replace(&store).await;
    // A second in-memory store is a different, empty store.
    let other = Store::open(StoreMode::InMemory).await.expect("open");
    assert!(!other.exists("events").await.expect("exists"));
    store.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replace_is_one_commit_and_readers_see_old_or_new() {
    let store = Store::open(StoreMode::InMemory).await.expect("open");
    write_events(&store, "events", &sample_rows(), WriteMode::Create).await;
    let mut writer = store
        .writer("events", events_schema(), &["date"], WriteMode::Replace)
        .await
        .expect("writer");
    writer.write(events_batch(&sample_rows()[..1], 2)).await.expect("write");
    // Written but not committed: readers still see the old table.
    assert_eq!(scalar_i64(&store, "SELECT count(*) FROM events").await, 4);
    let summary = writer.commit(metadata("replace")).await.expect("commit");
    assert_eq!(summary.version, 1);
    assert_eq!(scalar_i64(&store, "SELECT count(*) FROM events").await, 1);
    assert_eq!(scalar_i64(&store, "SELECT max(_sync_id) FROM events").await, 2);

    let history = store.history("events", None).await.expect("history");
    let versions: Vec<i64> = history.iter().map(|c| c.version).collect();
    assert_eq!(versions, vec![1, 0], "replace is exactly one commit");
    assert_eq!(history[0].metadata.get("command"), Some(&"replace".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replace_may_change_the_schema() {
    let store = Store::open(StoreMode::InMemory).await.expect("open");
    write_events(&store, "events", &sample_rows(), WriteMode::Create).await;
    let schema = std::sync::Arc::new(arrow_schema::Schema::new(vec![arrow_schema::Field::new(
        "n",
        DataType::Int64,
        false,
    )]));
    let mut writer =
        store.writer("events", schema.clone(), &[], WriteMode::Replace).await.expect("writer");
    let batch = arrow_array::RecordBatch::try_new(
        schema,
        vec![std::sync::Arc::new(arrow_array::Int64Array::from(vec![7]))],
    )
    .expect("batch");
    writer.write(batch).await.expect("write");
    let summary = writer.commit(metadata("replace")).await.expect("commit");
    assert_eq!(summary.files_removed, 3);
    assert_eq!(scalar_i64(&store, "SELECT sum(n) FROM events").await, 7);
    assert!(store.table_info("events").await.expect("info").partition_columns.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn append_with_another_schema_is_refused() {
    let store = Store::open(StoreMode::InMemory).await.expect("open");
    write_events(&store, "events", &sample_rows(), WriteMode::Create).await;
    let schema = std::sync::Arc::new(arrow_schema::Schema::new(vec![arrow_schema::Field::new(
        "n",
        DataType::Int64,
        false,
    )]));
    let error = store.writer("events", schema, &[], WriteMode::Append).await.expect_err("mismatch");
    assert!(matches!(error, Error::SchemaMismatch { .. }), "{error:?}");
    assert_eq!(error.class(), ErrorClass::Usage);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_leaves_the_table_and_no_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(StoreMode::Persistent(dir.path().to_path_buf())).await.expect("open");
    write_events(&store, "events", &sample_rows()[..1], WriteMode::Create).await;
    let mut writer = store
        .writer("events", events_schema(), &["date"], WriteMode::Append)
        .await
        .expect("writer");
    writer.write(events_batch(&sample_rows()[2..], 5)).await.expect("write");
    writer.abort().await.expect("abort");
    assert_eq!(scalar_i64(&store, "SELECT count(*) FROM events").await, 1);
    assert_eq!(parquet_files(&dir.path().join("events")), 1);
    assert_eq!(store.table_info("events").await.expect("info").version, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_shows_the_metadata_newest_first() {
    let store = Store::open(StoreMode::InMemory).await.expect("open");
    write_events(&store, "events", &sample_rows()[..1], WriteMode::Create).await;
    let mut writer = store
        .writer("events", events_schema(), &["date"], WriteMode::Append)
        .await
        .expect("writer");
    writer.write(events_batch(&sample_rows()[1..], 2)).await.expect("write");
    let mut meta = metadata("fetch events");
    meta.insert("from".into(), "2024-01-01".into());
    meta.insert("rows".into(), 3.into());
    writer.commit(meta).await.expect("commit");

    let history = store.history("events", None).await.expect("history");
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].version, 1);
    assert_eq!(history[0].operation.as_deref(), Some("WRITE"));
    assert_eq!(history[0].metadata.get("command"), Some(&"fetch events".into()));
    assert_eq!(history[0].metadata.get("rows"), Some(&3.into()));
    assert!(history[0].timestamp.is_some());
    assert_eq!(history[1].version, 0);
    assert_eq!(history[1].metadata.get("command"), Some(&"test".into()));
    let latest = store.history("events", Some(1)).await.expect("history");
    assert_eq!(latest.len(), 1);
    assert_eq!(latest[0].version, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_transaction_version_round_trips() {
    let store = Store::open(StoreMode::InMemory).await.expect("open");
    let mut writer = store
        .writer("events", events_schema(), &["date"], WriteMode::Append)
        .await
        .expect("writer");
    writer.write(events_batch(&sample_rows()[..1], 1)).await.expect("write");
    writer.commit_with_txn(metadata("sync"), "mpd-sync-events", 19_723).await.expect("commit");
    assert_eq!(
        store.app_transaction_version("events", "mpd-sync-events").await.expect("txn"),
        Some(19_723)
    );
    assert_eq!(store.app_transaction_version("events", "other").await.expect("txn"), None);

    // An empty sync still advances the cursor, in its own commit.
    let writer = store
        .writer("events", events_schema(), &["date"], WriteMode::Append)
        .await
        .expect("writer");
    let summary =
        writer.commit_with_txn(metadata("sync"), "mpd-sync-events", 19_724).await.expect("commit");
    assert_eq!((summary.version, summary.files_added, summary.rows_added), (1, 0, 0));
    assert_eq!(
        store.app_transaction_version("events", "mpd-sync-events").await.expect("txn"),
        Some(19_724)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_table_removes_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(StoreMode::Persistent(dir.path().to_path_buf())).await.expect("open");
    write_events(&store, "events", &sample_rows(), WriteMode::Create).await;
    write_events(&store, "profiles_copy", &sample_rows(), WriteMode::Create).await;
    assert_eq!(scalar_i64(&store, "SELECT count(*) FROM events").await, 4);
    store.drop_table("events").await.expect("drop");
    assert!(!dir.path().join("events").exists());
    assert!(!store.exists("events").await.expect("exists"));

    let missing = store.table_info("events").await.expect_err("gone");
    match &missing {
        Error::TableNotFound { table, available } => {
            assert_eq!(table, "events");
            assert_eq!(available, &vec!["profiles_copy".to_owned()]);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(missing.class(), ErrorClass::NotFound);
    // The SQL session notices the drop.
    let error = store.sql("SELECT count(*) FROM events").await.expect_err("no table");
    assert!(matches!(error, Error::Sql { .. }), "{error:?}");
    assert!(matches!(store.drop_table("events").await, Err(Error::TableNotFound { .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_table_names_are_refused() {
    let store = Store::open(StoreMode::InMemory).await.expect("open");
    for name in ["Events", "_quarantine", "a/b", ""] {
        let error =
            store.writer(name, events_schema(), &[], WriteMode::Create).await.expect_err(name);
        assert!(matches!(error, Error::InvalidTableName { .. }), "{error:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_partitions_are_written_in_rounds() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(StoreMode::Persistent(dir.path().to_path_buf())).await.expect("open");
    let mut writer = store
        .writer("events", events_schema(), &["date"], WriteMode::Create)
        .await
        .expect("writer");
    // Twenty days, one batch each: more than the writer keeps open at once.
    for d in 1..=20 {
        writer.write(events_batch(&[("view", day(d), "u", "i", VIEW)], 1)).await.expect("write");
    }
    let summary = writer.commit(metadata("backfill")).await.expect("commit");
    assert_eq!((summary.rows_added, summary.files_added), (20, 20));
    assert_eq!(scalar_i64(&store, "SELECT count(DISTINCT date) FROM events").await, 20);
    assert_eq!(parquet_files(&dir.path().join("events")), 20);
}

/// A table written with `sort_by`: each file holds its partition's rows sorted by the sort
/// columns, however they came, and carries the page index readers skip pages by.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sorted_tables_write_sorted_files_with_a_page_index() {
    use arrow_array::cast::AsArray;
    use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
    use parquet::file::metadata::PageIndexPolicy;

    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("lake");
    let store = Store::open(StoreMode::Persistent(root.clone())).await.expect("open");
    let names = ["view", "purchase", "signup", "view", "login", "purchase", "view", "signup"];
    let rows: Vec<Row<'_>> = names
        .iter()
        .enumerate()
        .map(|(i, name)| (*name, day(1 + (i as u32 % 2)), "u1", "i", VIEW))
        .collect();
    let options = mpd_store::WriterOptions {
        sort_by: vec!["event_name".into(), "time".into()],
        ..mpd_store::WriterOptions::default()
    };
    let mut writer = store
        .writer_with("events", events_schema(), &["date"], WriteMode::Create, options)
        .await
        .expect("writer");
    // Two batches per day, in no order: the file of each day must still come out sorted.
    for half in rows.chunks(3) {
        writer.write(events_batch(half, 0)).await.expect("write");
    }
    writer.commit(metadata("test")).await.expect("commit");

    let files: Vec<_> = files_under(&root.join("events"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .filter(|p| !p.components().any(|c| c.as_os_str() == "_delta_log"))
        .collect();
    assert_eq!(files.len(), 2, "one file per day: {files:?}");
    for path in files {
        let file = std::fs::File::open(&path).expect("file");
        let options = ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Required);
        let builder =
            ParquetRecordBatchReaderBuilder::try_new_with_options(file, options).expect("reader");
        assert!(builder.metadata().column_index().is_some(), "{path:?} has no page index");
        // The columns every query reads are cheap to decode; the rest is zstd.
        let chunk = |name: &str| {
            let columns = builder.metadata().row_group(0).columns();
            columns.iter().find(|c| c.column_path().string() == name).cloned().expect(name)
        };
        use parquet::basic::{Compression, Encoding};
        for (name, compression) in [
            ("event_name", Compression::UNCOMPRESSED),
            ("time", Compression::UNCOMPRESSED),
            ("distinct_id", Compression::SNAPPY),
        ] {
            assert_eq!(chunk(name).compression(), compression, "{name} in {path:?}");
        }
        assert!(matches!(chunk("properties").compression(), Compression::ZSTD(_)));
        assert!(chunk("time").encodings().any(|e| e == Encoding::DELTA_BINARY_PACKED));
        let mut pairs = Vec::new();
        for batch in builder.build().expect("build") {
            let batch = batch.expect("batch");
            let names = batch.column_by_name("event_name").expect("name").as_string::<i32>();
            let times = batch
                .column_by_name("time")
                .expect("time")
                .as_primitive::<arrow_array::types::TimestampMicrosecondType>();
            for i in 0..batch.num_rows() {
                pairs.push((names.value(i).to_owned(), times.value(i)));
            }
        }
        let mut sorted = pairs.clone();
        sorted.sort();
        assert_eq!(pairs, sorted, "{path:?} is not sorted by name, then time");
        assert_eq!(pairs.len(), 4);
    }
    assert_eq!(
        scalar_i64(&store, "SELECT count(*) FROM events WHERE event_name = 'view'").await,
        3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_onto_a_version_another_writer_moved_past_fails() {
    let store = Store::open(StoreMode::InMemory).await.expect("open");
    write_events(&store, "events", &sample_rows(), WriteMode::Create).await;
    let rows = sample_rows();

    // Two writers read version 0; the first to commit wins, the second adds nothing.
    let mut first = store
        .writer("events", events_schema(), &["date"], WriteMode::Append)
        .await
        .expect("writer");
    let mut second = store
        .writer("events", events_schema(), &["date"], WriteMode::Append)
        .await
        .expect("writer");
    first.write(events_batch(&rows, 2)).await.expect("write");
    second.write(events_batch(&rows, 3)).await.expect("write");
    assert_eq!(first.commit(metadata("a")).await.expect("commit").version, 1);
    let error = second.commit(metadata("b")).await.expect_err("moved past");
    assert_eq!(
        error.to_string(),
        "another writer committed to table `events` while this command was writing to it; \
         this command's last commit was not made: run it again"
    );
    assert_eq!(scalar_i64(&store, "SELECT count(*) FROM events").await, 8);

    // A writer told which version its rows were checked against refuses a newer table.
    let mut late = store
        .writer("events", events_schema(), &["date"], WriteMode::Append)
        .await
        .expect("writer")
        .expect_version(Some(0));
    late.write(events_batch(&rows, 4)).await.expect("write");
    assert!(matches!(
        late.commit(metadata("c")).await,
        Err(Error::ConcurrentCommit { read: Some(0), .. })
    ));
    let mut current = store
        .writer("events", events_schema(), &["date"], WriteMode::Append)
        .await
        .expect("writer")
        .expect_version(Some(1));
    current.write(events_batch(&rows, 5)).await.expect("write");
    assert_eq!(current.commit(metadata("d")).await.expect("commit").version, 2);

    // A run that found no table refuses one that appeared since.
    let mut late = store
        .writer("events", events_schema(), &["date"], WriteMode::Append)
        .await
        .expect("writer")
        .expect_version(None);
    late.write(events_batch(&rows, 6)).await.expect("write");
    assert!(matches!(
        late.commit(metadata("e")).await,
        Err(Error::ConcurrentCommit { read: None, .. })
    ));
}

/// The `commitInfo` of one commit file, without its timestamp.
fn commit_info(log: &std::path::Path, version: u64) -> serde_json::Value {
    let text = std::fs::read_to_string(log.join(format!("{version:020}.json"))).expect("commit");
    let line = text.lines().find(|line| line.contains("\"commitInfo\"")).expect("commitInfo");
    let mut action: serde_json::Value = serde_json::from_str(line).expect("json");
    let info = action["commitInfo"].as_object_mut().expect("object");
    info.remove("timestamp");
    action["commitInfo"].take()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_between_checkpoints_read_back_like_delta_commits() {
    // An append between checkpoints is written straight to the log by the store; the one due
    // a checkpoint (version 9, every 10th) goes through Delta's commit builder, which writes it.
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(StoreMode::Persistent(dir.path().to_path_buf())).await.expect("open");
    write_events(&store, "events", &sample_rows()[..1], WriteMode::Create).await;
    for version in 1..=11 {
        let mut writer = store
            .writer("events", events_schema(), &["date"], WriteMode::Append)
            .await
            .expect("writer")
            .expect_version(Some(version - 1));
        writer.write(events_batch(&sample_rows()[1..2], version)).await.expect("write");
        let summary = writer
            .commit_with_txn(metadata("sync"), "mpd-sync-events", 100 + version)
            .await
            .expect("commit");
        assert_eq!((summary.version, summary.rows_added), (version, 1));
    }
    let log = dir.path().join("events").join("_delta_log");
    assert!(log.join("00000000000000000009.checkpoint.parquet").is_file());
    assert!(!log.join("00000000000000000010.checkpoint.parquet").exists());
    // Both ways record the same commit info: operation, parameters, the mpd metadata.
    assert_eq!(commit_info(&log, 8), commit_info(&log, 9));
    assert_eq!(commit_info(&log, 10), commit_info(&log, 9));
    assert_eq!(commit_info(&log, 10)["operation"], "WRITE");
    assert_eq!(commit_info(&log, 10)["mpd"]["command"], "sync");

    // A fresh reader (no cache of this store) sees every row, the cursor and the history.
    let reopened =
        Store::open(StoreMode::Persistent(dir.path().to_path_buf())).await.expect("open");
    assert_eq!(scalar_i64(&reopened, "SELECT count(*) FROM events").await, 12);
    assert_eq!(scalar_i64(&reopened, "SELECT max(_sync_id) FROM events").await, 11);
    assert_eq!(
        reopened.app_transaction_version("events", "mpd-sync-events").await.expect("txn"),
        Some(111)
    );
    let history = reopened.history("events", None).await.expect("history");
    assert_eq!(history.len(), 12);
    assert!(history[..11].iter().all(|c| c.metadata.get("command") == Some(&"sync".into())));
    let info = reopened.table_info("events").await.expect("info");
    assert_eq!((info.version, info.n_rows), (11, Some(12)));
}

/// `write_rows` stores only the rows it names: of a batch of one day (kept whole until its run
/// is sorted) and of a batch of two days (copied out first), in sorted and unsorted tables.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn written_rows_are_only_those_named() {
    for sort_by in [vec!["event_name".to_owned(), "time".to_owned()], Vec::new()] {
        let store = Store::open(StoreMode::InMemory).await.expect("open");
        let options = mpd_store::WriterOptions { sort_by, ..mpd_store::WriterOptions::default() };
        let mut writer = store
            .writer_with("events", events_schema(), &["date"], WriteMode::Create, options)
            .await
            .expect("writer");
        let one_day: Vec<Row<'_>> = ["e0", "e1", "e2", "e3", "e4"]
            .iter()
            .map(|name| (*name, day(1), "u1", "i", VIEW))
            .collect();
        writer.write_rows(events_batch(&one_day, 0), vec![0, 2, 3]).await.expect("one day");
        let two_days: Vec<Row<'_>> = ["f0", "f1", "f2", "f3"]
            .iter()
            .enumerate()
            .map(|(i, name)| (*name, day(1 + i as u32 % 2), "u1", "i", VIEW))
            .collect();
        writer.write_rows(events_batch(&two_days, 0), vec![1, 2]).await.expect("two days");

        let beyond = writer.write_rows(events_batch(&two_days, 0), vec![1, 4]).await;
        let message = beyond.expect_err("row 4 of 4").to_string();
        assert!(message.contains("row 4 asked of a batch of 4 rows"), "{message}");

        let summary = writer.commit(metadata("test")).await.expect("commit");
        assert_eq!(summary.rows_added, 5);
        let names = strings(&store, "SELECT event_name FROM events ORDER BY event_name").await;
        let want = ["e0", "e2", "e3", "f1", "f2"].map(|n| Some(n.to_owned()));
        assert_eq!(names, want);
    }
}
