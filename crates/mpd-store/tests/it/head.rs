//! The head a sync reads (version, schema, cursor, a day's files) from the index the store
//! saves under `_mpd/heads/`, kept right across other writers' commits, drops and damage.

use mpd_store::{Store, StoreMode, WriteMode};

use crate::support::*;

async fn day_ids(root: &std::path::Path, d: u32) -> Vec<String> {
    // A new store each time: what a new process sees, from the saved index.
    let store = Store::open(StoreMode::Persistent(root.to_path_buf())).await.expect("open");
    insert_ids(&store.read_columns("events", &["insert_id"], Some(&[day(d)])).await.expect("read"))
}

async fn append_with_cursor(store: &Store, rows: &[Row<'_>], sync_id: i64, cursor: i64) {
    let mut writer = store
        .writer("events", events_schema(), &["date"], WriteMode::Append)
        .await
        .expect("writer");
    writer.write(events_batch(rows, sync_id)).await.expect("write");
    writer.commit_with_txn(metadata("sync"), "mpd-sync-events", cursor).await.expect("commit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_head_follows_every_writer() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().to_path_buf();
    let index = root.join("_mpd").join("heads").join("events");
    let store = Store::open(StoreMode::Persistent(root.clone())).await.expect("open");
    write_events(&store, "events", &sample_rows(), WriteMode::Create).await;
    append_with_cursor(&store, &[("view", day(1), "u3", "i5", "{}")], 2, 19_723).await;
    assert_eq!(
        store.app_transaction_version("events", "mpd-sync-events").await.unwrap(),
        Some(19_723)
    );
    assert!(index.is_file(), "the head is saved once read");
    assert_eq!(day_ids(&root, 1).await, ["i1", "i2", "i5"]);

    // Appends after the index: a new process applies them to the saved head.
    for n in 0..10 {
        let id = format!("n{n}");
        append_with_cursor(&store, &[("view", day(2), "u4", &id, "{}")], 3 + n, 19_724 + n).await;
    }
    let reopened = Store::open(StoreMode::Persistent(root.clone())).await.expect("open");
    assert_eq!(reopened.version("events").await.unwrap(), 11);
    assert_eq!(
        reopened.app_transaction_version("events", "mpd-sync-events").await.unwrap(),
        Some(19_733)
    );
    assert_eq!(reopened.app_transaction_version("events", "other").await.unwrap(), None);
    assert_eq!(day_ids(&root, 2).await.len(), 11);
    assert_eq!(
        reopened.schema("events").await.unwrap(),
        reopened.table_info("events").await.unwrap().schema
    );

    // Another kind of writer: a delete rewrites day 1's file (a remove and an add).
    store.delete_rows("events", "insert_id = 'i2'", metadata("gdpr")).await.expect("delete");
    assert_eq!(day_ids(&root, 1).await, ["i1", "i5"]);
    // A replacement removes every file.
    write_events(&store, "events", &sample_rows()[3..], WriteMode::Replace).await;
    assert_eq!(day_ids(&root, 1).await, Vec::<String>::new());
    assert_eq!(day_ids(&root, 3).await, ["i4"]);

    // A damaged index is not trusted.
    std::fs::write(&index, "mpd-head 1\n{\"version\": 2, garbage").expect("damage");
    assert_eq!(day_ids(&root, 3).await, ["i4"]);

    // Dropped and written again as often: the index of the old table is not used, even
    // where the new log has a commit of the same version.
    store.drop_table("events").await.expect("drop");
    assert!(!index.exists());
    let store = Store::open(StoreMode::Persistent(root.clone())).await.expect("open");
    write_events(&store, "events", &sample_rows()[..1], WriteMode::Create).await;
    store.version("events").await.expect("version");
    let saved = std::fs::read_to_string(&index).expect("index of the new table");
    write_events(&store, "events", &sample_rows()[2..3], WriteMode::Replace).await;
    drop(store);
    let store = Store::open(StoreMode::Persistent(root.clone())).await.expect("open");
    store.drop_table("events").await.expect("drop");
    let store = Store::open(StoreMode::Persistent(root.clone())).await.expect("open");
    write_events(&store, "events", &sample_rows()[3..], WriteMode::Create).await;
    std::fs::write(&index, saved).expect("an index of the dropped table put back");
    assert_eq!(day_ids(&root, 1).await, Vec::<String>::new());
    assert_eq!(day_ids(&root, 3).await, ["i4"]);
}
