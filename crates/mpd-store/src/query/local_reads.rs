//! A folder store's Parquet bytes read where the scan asks for them.
//!
//! Through object_store, each ranged read of a local file is a task on tokio's blocking pool:
//! the file is opened again, and a thread is woken to read and another to take the bytes back.
//! A funnel's scans make thousands of small reads (a page of names is a few dozen bytes), and a
//! profile of 40 funnels on the bench's imported store put 7.7% of the samples in those tasks
//! and 3–4% more in handing them over and waking threads (docs/PERFORMANCE.md, "SQL"). Here
//! the scan's reader keeps the file open and reads each range with `pread` in its own thread.
//! A store's files sit on a local disk, mostly in the page cache, so a read is a copy;
//! a read that fails goes through object_store as before, which reports it.

use std::fs::File;
use std::ops::Range;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use object_store::local::LocalFileSystem;

/// One Parquet file of a folder store, opened at its first read.
pub(super) struct LocalFile {
    path: PathBuf,
    file: Option<File>,
}

impl LocalFile {
    /// The file at `location` (a path of the local file system's object store, as deltalake's
    /// scans name files) when it lies under `root`, the store's folder; None for any other.
    pub(super) fn under(root: &Path, location: &object_store::path::Path) -> Option<Self> {
        if !cfg!(unix) {
            return None;
        }
        let path = LocalFileSystem::new().path_to_filesystem(location).ok()?;
        path.starts_with(root).then_some(Self { path, file: None })
    }

    /// The bytes of `range`.
    pub(super) fn read(&mut self, range: Range<u64>) -> std::io::Result<Bytes> {
        let file = match &mut self.file {
            Some(file) => file,
            None => self.file.insert(File::open(&self.path)?),
        };
        let length = usize::try_from(range.end.saturating_sub(range.start))
            .map_err(std::io::Error::other)?;
        let mut bytes = vec![0; length];
        read_exact_at(file, &mut bytes, range.start)?;
        Ok(Bytes::from(bytes))
    }

    /// The bytes of each of `ranges`, in order.
    pub(super) fn read_all(&mut self, ranges: &[Range<u64>]) -> std::io::Result<Vec<Bytes>> {
        ranges.iter().map(|range| self.read(range.clone())).collect()
    }
}

#[cfg(unix)]
fn read_exact_at(file: &File, buffer: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buffer, offset)
}

/// Never called: off Unix, [`LocalFile::under`] gives no file and object_store reads them all.
#[cfg(not(unix))]
fn read_exact_at(_file: &File, _buffer: &mut [u8], _offset: u64) -> std::io::Result<()> {
    Err(std::io::Error::other("positioned reads are only used on Unix"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ranges_of_a_file_under_the_root_and_nothing_elsewhere() {
        let folder = tempfile::tempdir().expect("temp dir");
        let root = folder.path().canonicalize().expect("canonical");
        let path = root.join("date=2024-01-01").join("part.parquet");
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, b"0123456789").expect("write");
        let location = object_store::path::Path::from_absolute_path(&path).expect("location");

        let mut file = LocalFile::under(&root, &location).expect("a file under the root");
        assert_eq!(file.read(2..5).expect("read"), Bytes::from_static(b"234"));
        let ranges = file.read_all(&[0..1, 8..10, 4..4]).expect("read all");
        assert_eq!(ranges, vec![Bytes::from_static(b"0"), Bytes::from_static(b"89"), Bytes::new()]);
        // Past the end is an error, which the scan's reader hands to object_store.
        assert!(file.read(8..12).is_err());

        let elsewhere = tempfile::tempdir().expect("temp dir");
        let other = elsewhere.path().canonicalize().expect("canonical").join("x.parquet");
        let location = object_store::path::Path::from_absolute_path(&other).expect("location");
        assert!(LocalFile::under(&root, &location).is_none());
    }
}
