//! Parquet encoding and compression are most of a write's CPU: a table writer hands its
//! batches to part writers running as tasks of their own, so encoding runs on every core and
//! beside whatever produces the batches (decoding, dedup).
//!
//! The first rows all go to one part writer, so a small write makes one file per partition as
//! before; past that, batches go to the part writers in turn. The choice depends on the rows
//! alone, never on timing, so the files a write makes are the same on every run.

use arrow_array::RecordBatch;
use deltalake::kernel::Add;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::part::{PartConfig, PartWriter};
use crate::{Error, Result};

/// Batches waiting for each part writer: enough to keep it busy while the producer prepares
/// the next ones, few enough to bound memory.
const QUEUED: usize = 1;
/// Rows written by the first part writer alone before batches are spread.
const SPREAD_AFTER_ROWS: u64 = 256 * 1024;

struct Shard {
    sender: mpsc::Sender<RecordBatch>,
    task: JoinHandle<Result<Vec<Add>>>,
}

/// Part writers on tasks.
pub(super) struct Shards {
    table: String,
    shards: Vec<Shard>,
    next: usize,
    rows: u64,
}

impl Shards {
    /// Starts `n` part writers (at least one).
    pub(super) fn start(config: &PartConfig, n: usize) -> Result<Self> {
        let mut shards = Vec::with_capacity(n.max(1));
        for _ in 0..n.max(1) {
            let mut part = PartWriter::new(config.clone())?;
            let (sender, mut receiver) = mpsc::channel::<RecordBatch>(QUEUED);
            let task = tokio::spawn(async move {
                while let Some(batch) = receiver.recv().await {
                    part.write(batch).await?;
                }
                part.close().await
            });
            shards.push(Shard { sender, task });
        }
        Ok(Self { table: config.table.clone(), shards, next: 0, rows: 0 })
    }

    /// Hands `batch` to its part writer; a writer that failed reports its error here.
    pub(super) async fn write(&mut self, batch: RecordBatch) -> Result<()> {
        let index = if self.rows < SPREAD_AFTER_ROWS {
            0
        } else {
            self.next = (self.next + 1) % self.shards.len();
            self.next
        };
        self.rows += batch.num_rows() as u64;
        if self.shards[index].sender.send(batch).await.is_ok() {
            return Ok(());
        }
        // The task ended, which it only does on an error: take the error from it.
        let shard = self.shards.remove(index);
        drop(shard.sender);
        match shard.task.await {
            Ok(Err(error)) => Err(error),
            Ok(Ok(_)) => Err(Error::Io {
                path: self.table.clone().into(),
                source: std::io::Error::other("a part writer stopped early"),
            }),
            Err(join) => Err(task_failed(&self.table, &join)),
        }
    }

    /// Closes every part writer; returns every file written, or the first error.
    pub(super) async fn finish(self) -> Result<Vec<Add>> {
        let mut adds = Vec::new();
        let mut first_error = None;
        for shard in self.shards {
            drop(shard.sender);
            match shard.task.await {
                Ok(Ok(files)) => adds.extend(files),
                Ok(Err(error)) => {
                    first_error.get_or_insert(error);
                }
                Err(join) => {
                    first_error.get_or_insert(task_failed(&self.table, &join));
                }
            }
        }
        match first_error {
            Some(error) => Err(error),
            None => Ok(adds),
        }
    }

    /// Stops every part writer once what it holds is written (cancelling one could leave an
    /// upload finishing after the caller cleaned up); what they wrote is the caller's to delete.
    pub(super) async fn stop(self) -> Vec<Add> {
        match self.finish().await {
            Ok(adds) => adds,
            Err(error) => {
                tracing::debug!(%error, "a part writer failed while it was stopped");
                Vec::new()
            }
        }
    }
}

fn task_failed(table: &str, join: &tokio::task::JoinError) -> Error {
    Error::Io {
        path: table.into(),
        source: std::io::Error::other(format!("a part writer of table `{table}` failed: {join}")),
    }
}
