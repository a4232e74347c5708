//! The store-wide write lock: one writing `mpd` per store folder at a time.
//!
//! Overlapping cron runs, or a GDPR vacuum with zero retention while a sync is mid-commit,
//! would otherwise race on the same tables. The lock is an OS advisory lock on a file in the
//! store's `_mpd` folder, so it is released whenever the holder exits, even when killed.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::location::MPD_DIR;
use crate::{Error, Result, Store};

/// Name of the lock file inside the store's [`MPD_DIR`] folder.
pub const WRITE_LOCK_FILE: &str = "write.lock";

/// The store's write lock, held until dropped. In-memory and ephemeral stores belong to one
/// process, so their lock holds nothing.
#[derive(Debug)]
pub struct WriteLock {
    /// The open, locked file; None for a store no other process can see.
    file: Option<File>,
    path: Option<PathBuf>,
}

impl WriteLock {
    /// The lock file; None when the lock holds nothing.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }
}

impl Drop for WriteLock {
    fn drop(&mut self) {
        if let Some(file) = self.file.take() {
            // Closing the file releases the lock too; unlocking first only makes it explicit.
            if let Err(error) = file.unlock() {
                tracing::warn!(path = ?self.path, %error, "cannot release the store write lock");
            }
        }
    }
}

impl Store {
    /// Takes the store's write lock, or fails at once with [`Error::StoreLocked`] when another
    /// process (or another [`Store`] of the same folder) holds it. `purpose` ("sync", "gdpr
    /// delete") is written into the lock file with the process id, for the message others get.
    ///
    /// The store's own operations do not take the lock: callers hold it around a whole
    /// command (a sync, or a delete followed by [`Store::vacuum`]).
    pub fn lock_for_writing(&self, purpose: &str) -> Result<WriteLock> {
        match &self.backend.location {
            crate::backend::Location::Folder(root) => acquire(root, purpose),
            crate::backend::Location::Temp(_) | crate::backend::Location::Memory => {
                Ok(WriteLock { file: None, path: None })
            }
            // No lock on an object store: each commit must land right after the version its
            // writer read, or it fails (`Error::ConcurrentCommit`).
            crate::backend::Location::Object(_) => Ok(WriteLock { file: None, path: None }),
        }
    }
}

fn acquire(root: &Path, purpose: &str) -> Result<WriteLock> {
    let dir = root.join(MPD_DIR);
    std::fs::create_dir_all(&dir).map_err(|source| Error::Io { path: dir.clone(), source })?;
    let path = dir.join(WRITE_LOCK_FILE);
    let io = |source| Error::Io { path: path.clone(), source };
    // No truncation on open: the holder's note must survive until the lock is ours.
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let holder = read_holder(&mut file);
            return Err(Error::StoreLocked { path, holder });
        }
        Err(TryLockError::Error(source)) => return Err(io(source)),
    }
    let note = format!("pid {} ({purpose})", std::process::id());
    // The note is a courtesy for the message of the next process: failing to write it must
    // not fail the lock.
    let written = file
        .set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| file.write_all(note.as_bytes()))
        .and_then(|()| file.flush());
    if let Err(error) = written {
        tracing::warn!(path = %path.display(), %error, "cannot note the write lock's holder");
    }
    tracing::debug!(path = %path.display(), purpose, "store write lock taken");
    Ok(WriteLock { file: Some(file), path: Some(path) })
}

/// The holder's note, if it is short readable text.
fn read_holder(file: &mut File) -> Option<String> {
    const MAX_NOTE_BYTES: u64 = 256;
    let mut note = String::new();
    file.rewind().ok()?;
    file.take(MAX_NOTE_BYTES).read_to_string(&mut note).ok()?;
    let note = note.trim();
    (!note.is_empty()).then(|| note.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_of_the_same_folder_fails_until_the_first_drops() {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = acquire(dir.path(), "sync").expect("first lock");
        assert_eq!(first.path(), Some(dir.path().join(MPD_DIR).join(WRITE_LOCK_FILE).as_path()));
        let error = acquire(dir.path(), "gdpr delete").expect_err("held");
        match &error {
            Error::StoreLocked { holder, .. } => {
                let expected = format!("pid {} (sync)", std::process::id());
                assert_eq!(holder.as_deref(), Some(expected.as_str()));
            }
            other => panic!("unexpected {other:?}"),
        }
        let message = error.to_string();
        assert!(message.contains("another mpd is writing this store"), "{message}");
        assert!(message.contains("retry later"), "{message}");
        drop(first);
        let again = acquire(dir.path(), "gdpr delete").expect("free again");
        drop(again);
    }
}
