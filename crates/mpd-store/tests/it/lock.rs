//! The store-wide write lock.

use mpd_store::{Error, MPD_DIR, Store, StoreMode, WRITE_LOCK_FILE, WriteMode};

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_store_of_the_same_folder_cannot_lock_until_the_first_lock_drops() {
    let dir = tempfile::tempdir().expect("temp dir");
    let first = Store::open(StoreMode::Persistent(dir.path().to_path_buf())).await.expect("open");
    let second = Store::open(StoreMode::Persistent(dir.path().to_path_buf())).await.expect("open");
    write_events(&first, "events", &sample_rows(), WriteMode::Create).await;

    let lock = first.lock_for_writing("sync").expect("lock");
    let lock_path = dir.path().join(MPD_DIR).join(WRITE_LOCK_FILE);
    assert_eq!(lock.path(), Some(lock_path.as_path()));
    let error = second.lock_for_writing("gdpr delete").expect_err("held");
    match &error {
        Error::StoreLocked { path, holder } => {
            assert_eq!(path, &lock_path);
            assert_eq!(holder.clone(), Some(format!("pid {} (sync)", std::process::id())));
        }
        other => panic!("unexpected {other:?}"),
    }
    let message = error.to_string();
    assert!(message.contains("another mpd is writing this store"), "{message}");
    assert!(message.contains("(sync)"), "{message}");
    // The lock's folder is not a table.
    assert_eq!(second.table_names().await.expect("names"), vec!["events".to_owned()]);

    drop(lock);
    let taken = second.lock_for_writing("gdpr delete").expect("free after drop");
    assert!(first.lock_for_writing("sync").is_err());
    drop(taken);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_of_one_process_only_lock_nothing() {
    for mode in [StoreMode::InMemory, StoreMode::Ephemeral] {
        let store = Store::open(mode).await.expect("open");
        let first = store.lock_for_writing("sync").expect("lock");
        let second = store.lock_for_writing("sync").expect("no-op lock");
        assert_eq!((first.path(), second.path()), (None, None));
        if let Some(root) = store.root() {
            assert!(!root.join(MPD_DIR).exists());
        }
    }
}
