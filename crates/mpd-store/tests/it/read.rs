//! `read_columns`: projection and partition pruning.

use arrow_array::RecordBatch;
use arrow_schema::DataType;
use mpd_store::{Error, Store, StoreMode, WriteMode};

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_requested_columns_come_back() {
    let store = Store::open(StoreMode::InMemory).await.expect("open");
    write_events(&store, "events", &sample_rows(), WriteMode::Create).await;
    let batches = store.read_columns("events", &["insert_id", "time"], None).await.expect("read");
    let schema = batches[0].schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, vec!["insert_id", "time"]);
    assert_eq!(insert_ids(&batches), vec!["i1", "i2", "i3", "i4"]);
    // The table's own types, not DataFusion's string views.
    assert_eq!(schema.field(0).data_type(), &DataType::Utf8);
    assert_eq!(
        events_schema().field_with_name("time").expect("time").data_type(),
        schema.field(1).data_type()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_requested_days_are_read() {
    let store = Store::open(StoreMode::InMemory).await.expect("open");
    write_events(&store, "events", &sample_rows(), WriteMode::Create).await;
    let batches = store
        .read_columns("events", &["insert_id", "date"], Some(&[day(1), day(3)]))
        .await
        .expect("read");
    assert_eq!(insert_ids(&batches), vec!["i1", "i2", "i4"]);
    let none = store.read_columns("events", &["insert_id"], Some(&[day(9)])).await.expect("read");
    assert_eq!(none.iter().map(RecordBatch::num_rows).sum::<usize>(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_of_other_days_are_never_opened() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(StoreMode::Persistent(dir.path().to_path_buf())).await.expect("open");
    write_events(&store, "events", &sample_rows(), WriteMode::Create).await;
    // Destroy day 2's data file: a read of day 1 must still work, so it never touched it.
    let day2 = dir.path().join("events").join("date=2024-01-02");
    for entry in std::fs::read_dir(&day2).expect("partition folder").flatten() {
        std::fs::write(entry.path(), b"not parquet").expect("overwrite");
    }
    let batches =
        store.read_columns("events", &["insert_id"], Some(&[day(1)])).await.expect("read day 1");
    assert_eq!(insert_ids(&batches), vec!["i1", "i2"]);
    // Reading every day does hit the broken file (the check above can fail).
    let error = store.read_columns("events", &["insert_id"], None).await.expect_err("broken file");
    assert!(matches!(error, Error::Query { .. } | Error::Delta { .. }), "{error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_columns_and_tables_are_errors() {
    let store = Store::open(StoreMode::InMemory).await.expect("open");
    write_events(&store, "events", &sample_rows(), WriteMode::Create).await;
    let error = store.read_columns("events", &["nope"], None).await.expect_err("no column");
    assert!(matches!(error, Error::SchemaMismatch { .. }), "{error:?}");
    let error = store.read_columns("profiles", &["x"], None).await.expect_err("no table");
    assert!(matches!(error, Error::TableNotFound { .. }), "{error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_predicate_narrows_the_rows_and_a_bad_one_is_an_error() {
    let store = Store::open(StoreMode::InMemory).await.expect("open");
    write_events(&store, "events", &sample_rows(), WriteMode::Create).await;
    let days = [day(1), day(3)];
    let batches = store
        .read_columns_where("events", &["insert_id"], Some(&days), Some("insert_id <> 'i1'"))
        .await
        .expect("read");
    assert_eq!(insert_ids(&batches), vec!["i2", "i4"]);
    let error = store
        .read_columns_where("events", &["insert_id"], None, Some("no_such_column = 1"))
        .await
        .expect_err("unknown column");
    assert!(matches!(error, Error::Query { .. } | Error::Sql { .. }), "{error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_file_removed_outside_mpd_is_named_in_one_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(StoreMode::Persistent(dir.path().to_path_buf())).await.expect("open");
    write_events(&store, "events", &sample_rows(), WriteMode::Create).await;
    let day2 = dir.path().join("events").join("date=2024-01-02");
    for entry in std::fs::read_dir(&day2).expect("partition folder").flatten() {
        std::fs::remove_file(entry.path()).expect("remove");
    }
    let error = store
        .sql("SELECT event_name, count(*) FROM events GROUP BY 1")
        .await
        .expect_err("a file is gone");
    let Error::MissingDataFile { path, .. } = &error else { panic!("{error:?}") };
    assert!(path.contains("date=2024-01-02"), "{path}");
    let message = error.to_string();
    assert!(message.starts_with("a data file of the store is missing: "), "{message}");
    assert!(message.contains("mpd inspect drop TABLE"), "{message}");
    assert!(!message.contains('\n'), "one line: {message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_read_names_a_missing_or_damaged_file_of_that_day() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(StoreMode::Persistent(dir.path().to_path_buf())).await.expect("open");
    write_events(&store, "events", &sample_rows(), WriteMode::Create).await;
    let files = |d: &str| -> Vec<std::path::PathBuf> {
        let folder = dir.path().join("events").join(format!("date=2024-01-0{d}"));
        std::fs::read_dir(folder).expect("partition folder").flatten().map(|e| e.path()).collect()
    };
    for path in files("1") {
        std::fs::write(path, b"not parquet").expect("overwrite");
    }
    for path in files("3") {
        std::fs::remove_file(path).expect("remove");
    }

    let error =
        store.read_columns("events", &["insert_id"], Some(&[day(1)])).await.expect_err("damaged");
    let Error::UnreadableDataFile { table, path, .. } = &error else { panic!("{error:?}") };
    assert_eq!(table, "events");
    assert!(path.starts_with("events/date=2024-01-01/"), "{path}");
    let message = error.to_string();
    assert!(message.starts_with("a data file of table `events` cannot be read: "), "{message}");

    let error =
        store.read_columns("events", &["insert_id"], Some(&[day(3)])).await.expect_err("gone");
    let Error::MissingDataFile { path, .. } = &error else { panic!("{error:?}") };
    assert!(path.starts_with("events/date=2024-01-03/"), "{path}");
    // The day between is intact and still reads.
    let batches =
        store.read_columns("events", &["insert_id"], Some(&[day(2)])).await.expect("day 2");
    assert_eq!(insert_ids(&batches), vec!["i3"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_predicate_on_a_day_may_name_columns_not_read_and_opens_no_other_day() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(StoreMode::Persistent(dir.path().to_path_buf())).await.expect("open");
    write_events(&store, "events", &sample_rows(), WriteMode::Create).await;
    let day2 = dir.path().join("events").join("date=2024-01-02");
    for entry in std::fs::read_dir(&day2).expect("partition folder").flatten() {
        std::fs::write(entry.path(), b"not parquet").expect("overwrite");
    }
    let batches = store
        .read_columns_where("events", &["insert_id"], Some(&[day(1)]), Some("distinct_id = 'u1'"))
        .await
        .expect("read");
    assert_eq!(insert_ids(&batches), vec!["i1", "i2"]);
    assert_eq!(batches[0].schema().fields().len(), 1, "only the columns asked for come back");
    let none = store
        .read_columns_where("events", &["insert_id"], Some(&[day(1)]), Some("insert_id IS NULL"))
        .await
        .expect("read");
    assert_eq!(none.iter().map(RecordBatch::num_rows).sum::<usize>(), 0);
    let error = store
        .read_columns_where("events", &["insert_id"], Some(&[day(1)]), Some("no_such_column = 1"))
        .await
        .expect_err("unknown column");
    assert!(matches!(error, Error::Sql { .. }), "{error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_read_of_a_table_in_one_folder_opens_only_files_whose_dates_cover_it() {
    // The audit table's layout: not partitioned, `date` statistics per file.
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(StoreMode::Persistent(dir.path().to_path_buf())).await.expect("open");
    let rows = sample_rows();
    for (chunk, sync_id) in [(&rows[..3], 1), (&rows[3..], 2)] {
        let mut writer =
            store.writer("audit", events_schema(), &[], WriteMode::Append).await.expect("writer");
        writer.write(events_batch(chunk, sync_id)).await.expect("write");
        writer.commit(metadata("test")).await.expect("commit");
    }
    let read = |days: Vec<chrono::NaiveDate>| {
        let store = &store;
        async move { store.read_columns("audit", &["insert_id", "date"], Some(&days)).await }
    };
    // The first file holds days 1 and 2: a day's read keeps that day's rows only.
    assert_eq!(insert_ids(&read(vec![day(1)]).await.expect("day 1")), vec!["i1", "i2"]);
    assert_eq!(insert_ids(&read(vec![day(2), day(3)]).await.expect("days 2, 3")), vec!["i3", "i4"]);
    // Destroy the second file (day 3): day 1 still reads, so it was never opened.
    let second = parquet_paths(dir.path())
        .into_iter()
        .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).expect("mtime"));
    std::fs::write(second.expect("a data file"), b"not parquet").expect("overwrite");
    assert_eq!(insert_ids(&read(vec![day(1)]).await.expect("day 1")), vec!["i1", "i2"]);
    let error = read(vec![day(3)]).await.expect_err("the damaged file");
    assert!(matches!(error, Error::UnreadableDataFile { .. }), "{error:?}");
}

fn parquet_paths(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    files_under(root)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect()
}
