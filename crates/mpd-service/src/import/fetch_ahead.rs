//! Reading a pipelines tree's files in order. In a bucket, objects are fetched ahead of the
//! decoder, several at once, while the bytes fetched and not yet decoded stay within a memory
//! budget; a folder's files are opened as the decoder reaches them.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use futures_util::StreamExt as _;
use mpd_store::Bucket;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use super::files::{PipelineFile, Tree};
use crate::error::{Error, Result};
use crate::source::FileChunks;

/// Objects requested at once.
const OBJECTS_IN_FLIGHT: usize = 8;
/// Bytes fetched and not yet decoded, at most (an object larger than this is fetched alone).
const BUDGET_BYTES: u64 = 256 << 20;
/// The budget's unit, so the semaphore's count fits its type.
const PERMIT_BYTES: u64 = 1 << 20;

/// The files of a tree, handed out in the order they were given.
pub(crate) enum FileReader {
    Folder,
    Bucket {
        bucket: Bucket,
        fetched: mpsc::Receiver<Result<Fetched>>,
        fetcher: tokio::task::JoinHandle<()>,
    },
}

/// An object's bytes, holding their share of the budget until dropped.
pub(crate) struct Fetched {
    key: String,
    bytes: std::io::Cursor<bytes::Bytes>,
    _budget: OwnedSemaphorePermit,
}

impl Read for Fetched {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.bytes.read(buf)
    }
}

impl FileReader {
    /// A reader of `files` of `tree`, which must then be asked for them in this order.
    pub(crate) fn new(tree: &Tree, files: Vec<PipelineFile>) -> Self {
        let Tree::Bucket { bucket, .. } = tree else { return FileReader::Folder };
        let (sender, fetched) = mpsc::channel(OBJECTS_IN_FLIGHT);
        let budget = Arc::new(Semaphore::new(permits(BUDGET_BYTES) as usize));
        let source = bucket.clone();
        let fetcher = tokio::spawn(async move {
            let mut objects = futures_util::stream::iter(files)
                .map(|file| fetch(&source, file, Arc::clone(&budget)))
                .buffered(OBJECTS_IN_FLIGHT);
            while let Some(object) = objects.next().await {
                let failed = object.is_err();
                if sender.send(object).await.is_err() || failed {
                    return;
                }
            }
        });
        FileReader::Bucket { bucket: bucket.clone(), fetched, fetcher }
    }

    /// The bytes of `file`, the next file of the list, a chunk at a time.
    pub(crate) async fn chunks(&mut self, file: &PipelineFile) -> Result<FileChunks> {
        let FileReader::Bucket { bucket, fetched, .. } = self else {
            return FileChunks::open(&file.path);
        };
        let key = file.path.to_string_lossy();
        let object = fetched.recv().await.ok_or_else(|| {
            Error::Internal(format!("{} was not fetched: the fetcher stopped", bucket.url_of(&key)))
        })??;
        if object.key != key {
            return Err(Error::Internal(format!(
                "asked for {} but {} was fetched next",
                bucket.url_of(&key),
                bucket.url_of(&object.key)
            )));
        }
        FileChunks::from_reader(PathBuf::from(bucket.url_of(&key)), Box::new(object))
    }
}

impl Drop for FileReader {
    fn drop(&mut self) {
        if let FileReader::Bucket { fetcher, .. } = self {
            fetcher.abort();
        }
    }
}

/// Waits for `file`'s share of the budget, then fetches it.
async fn fetch(bucket: &Bucket, file: PipelineFile, budget: Arc<Semaphore>) -> Result<Fetched> {
    let share = permits(file.size.min(BUDGET_BYTES));
    let permit = budget
        .acquire_many_owned(share)
        .await
        .map_err(|e| Error::Internal(format!("the fetch budget was closed: {e}")))?;
    let key = file.path.to_string_lossy().into_owned();
    let bytes = bucket.get(&key).await?;
    Ok(Fetched { key, bytes: std::io::Cursor::new(bytes), _budget: permit })
}

/// Budget units covering `bytes` (at least one, so empty objects also take a place).
fn permits(bytes: u64) -> u32 {
    u32::try_from(bytes.div_ceil(PERMIT_BYTES).max(1)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_object_takes_a_share_of_the_budget_and_none_more_than_all() {
        assert_eq!(permits(0), 1);
        assert_eq!(permits(1), 1);
        assert_eq!(permits(PERMIT_BYTES + 1), 2);
        assert_eq!(permits(BUDGET_BYTES.min(10 * BUDGET_BYTES)), permits(BUDGET_BYTES));
        assert!(permits(BUDGET_BYTES) as usize <= Semaphore::MAX_PERMITS);
    }
}
