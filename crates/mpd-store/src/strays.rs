//! Files a failed write leaves behind: data files of a writer that never committed, including
//! the one being written when the disk filled up. Deleting them on the failure path keeps the
//! store as it was before the command, not only the table's log.
//!
//! A file is a stray when it lies under the table, outside `_delta_log/`, is not referenced by
//! the table's current version, and was last modified at or after the writer opened. The store
//! admits one writer at a time (its write lock), so no other writer's fresh files can match.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use deltalake::DeltaTable;
use deltalake::logstore::object_store::ObjectStoreExt;
use futures::TryStreamExt;

/// The paths of the table's live files at its newest version.
async fn referenced_files(table: &DeltaTable) -> deltalake::DeltaResult<HashSet<String>> {
    let mut loaded = table.clone();
    loaded.load().await?;
    Ok(loaded.snapshot()?.log_data().iter().map(|f| f.path().to_string()).collect())
}

/// Deletes the strays of a writer of `table` opened at `since`; returns how many were deleted.
/// Best effort: a file that cannot be listed or deleted is logged and left.
pub(crate) async fn delete_strays(
    name: &str,
    table: &DeltaTable,
    existing: bool,
    since: DateTime<Utc>,
) -> u64 {
    let referenced = if existing {
        match referenced_files(table).await {
            Ok(paths) => paths,
            Err(error) => {
                // Without the file list every unreferenced file looks like a stray: keep them.
                tracing::warn!(table = name, %error, "cannot read the table's files; leaving any unused files");
                return 0;
            }
        }
    } else {
        HashSet::new()
    };
    let store = table.object_store();
    let listed: Vec<_> = match store.list(None).try_collect().await {
        Ok(listed) => listed,
        Err(error) => {
            tracing::warn!(table = name, %error, "cannot list the table's files; leaving any unused files");
            return 0;
        }
    };
    // File times may be kept to the second: anything from the second the writer opened counts.
    let since = since - chrono::Duration::seconds(1);
    let mut deleted = 0;
    for meta in listed {
        let path = meta.location.to_string();
        let stray = !path.starts_with("_delta_log/")
            && meta.last_modified >= since
            && !referenced.contains(&path);
        if !stray {
            continue;
        }
        match store.delete(&meta.location).await {
            Ok(()) => deleted += 1,
            Err(error) => {
                tracing::warn!(table = name, %path, %error, "cannot delete an unused file")
            }
        }
    }
    if let Ok(root) = table.table_url().to_file_path() {
        remove_empty_folders(&root);
        if !existing {
            // A table this write was creating: nothing of it may stay.
            let _ = std::fs::remove_dir(&root);
        }
    }
    if deleted > 0 {
        tracing::info!(table = name, deleted, "deleted the files of a write that did not commit");
    }
    deleted
}

/// Local stores keep folders an object store would not: partition folders left empty by the
/// deletions (or by the write that failed) are removed; `_delta_log/` is never touched.
fn remove_empty_folders(folder: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(folder) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() && entry.file_name() != "_delta_log" {
            remove_empty_folders(&path);
            // Fails, as it should, on a folder that still holds something.
            let _ = std::fs::remove_dir(&path);
        }
    }
}
