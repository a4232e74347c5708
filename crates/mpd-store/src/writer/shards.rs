//! Parquet encoding and compression are most of a write's CPU: a table writer hands its
//! batches to part writers running as tasks of their own, so encoding runs on every core and
//! beside whatever produces the batches (decoding, dedup).
//!
//! Unsorted rows: the first rows all go to one part writer, so a small write makes one file per
//! partition; past that, batches go to the part writers in turn. Sorted rows wait here, in one
//! budget for the whole write ([`SortedRuns`]). When at least as many partitions wait as there
//! are part writers (input not in partition order, such as a dump whose days are mixed), each
//! run goes to the part writer that owns its partition: each open file costs memory (its row
//! group, upload buffer and compression contexts), and a partition written by one part writer
//! is one open file, not one per part writer. Otherwise (input in partition order, such as a
//! fetch, day after day) runs go to the part writers in turn, so a day's runs are encoded on
//! every core. A write told its input comes in partition order (`in_partition_order`) counts
//! only the partitions still coming, those that got rows within the last run's worth of
//! input: each day of a fetch leaves its last rows waiting while the next day comes, and
//! counting them made every later day look mixed, so one part writer wrote it while the
//! other waited. Every choice depends on the rows alone, never on timing, so the files a
//! write makes are the same on every run.

use std::collections::HashMap;

use arrow_array::{RecordBatch, UInt32Array};
use deltalake::arrow::compute::take_record_batch;
use deltalake::kernel::Add;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::part::{PartConfig, PartWriter, PartitionKey, PartitionTracker};
use super::sorted::{Run, Slice, SortedRuns};
use crate::{Error, Result};

/// Pieces waiting for each part writer: enough to keep it busy while the producer prepares
/// the next ones, few enough to bound memory.
const QUEUED: usize = 1;
/// Rows written by the first part writer alone before batches are spread.
const SPREAD_AFTER_ROWS: u64 = 256 * 1024;

/// What a part writer is given to write.
pub(super) enum Piece {
    /// Rows written as they come.
    Rows(RecordBatch),
    /// Rows of one partition, sorted by the part writer before it writes them.
    Run(Vec<Slice>),
}

struct Shard {
    sender: mpsc::Sender<Piece>,
    task: JoinHandle<Result<Vec<Add>>>,
}

/// Sorted rows on their way to the part writers.
struct Sorting {
    partitions: PartitionTracker,
    runs: SortedRuns,
}

/// Which part writer gets each piece (see the module docs).
struct Routes {
    writers: usize,
    next: usize,
    rows: u64,
    /// Each partition's number, in the order the write first touched them.
    ordinals: HashMap<PartitionKey, usize>,
}

impl Routes {
    fn new(writers: usize) -> Self {
        Self { writers: writers.max(1), next: 0, rows: 0, ordinals: HashMap::new() }
    }

    /// The next part writer in turn, after the first rows all went to the first one.
    fn spread(&mut self, rows: usize) -> usize {
        let index = if self.rows < SPREAD_AFTER_ROWS {
            0
        } else {
            self.next = (self.next + 1) % self.writers;
            self.next
        };
        self.rows += rows as u64;
        index
    }

    /// The part writer of a sorted run of the partition `key`, while `waiting` partitions
    /// (this one included) have rows waiting.
    fn run(&mut self, key: PartitionKey, rows: usize, waiting: usize) -> usize {
        if waiting >= self.writers { self.owner(key, rows) } else { self.spread(rows) }
    }

    /// The part writer that owns the partition `key`: partitions in turn, by the order the
    /// write first touched them.
    fn owner(&mut self, key: PartitionKey, rows: usize) -> usize {
        let touched = self.ordinals.len();
        let ordinal = *self.ordinals.entry(key).or_insert(touched);
        self.rows += rows as u64;
        ordinal % self.writers
    }
}

/// Part writers on tasks.
pub(super) struct Shards {
    table: String,
    shards: Vec<Shard>,
    routes: Routes,
    sorting: Option<Sorting>,
    /// Set for rows that come sorted, one partition after another: each partition's rows go
    /// to the part writer that owns it, as they come.
    presorted: Option<PartitionTracker>,
    /// Routes sorted runs by the partitions still coming, not all those waiting.
    in_partition_order: bool,
}

impl Shards {
    /// Starts `n` part writers (at least one).
    pub(super) fn start(
        config: &PartConfig,
        n: usize,
        presorted: bool,
        in_partition_order: bool,
    ) -> Result<Self> {
        let mut shards = Vec::with_capacity(n.max(1));
        for _ in 0..n.max(1) {
            let mut part = PartWriter::new(config.clone())?;
            let (sender, mut receiver) = mpsc::channel::<Piece>(QUEUED);
            let task = tokio::spawn(async move {
                while let Some(piece) = receiver.recv().await {
                    part.write(piece).await?;
                }
                part.close().await
            });
            shards.push(Shard { sender, task });
        }
        let tracker = || PartitionTracker::new(&config.table, &config.schema, &config.partition_by);
        let presorted = if presorted { Some(tracker()?) } else { None };
        let sorting = if config.sort_by.is_empty() || presorted.is_some() {
            None
        } else {
            Some(Sorting { partitions: tracker()?, runs: SortedRuns::new() })
        };
        let routes = Routes::new(shards.len());
        Ok(Self {
            table: config.table.clone(),
            shards,
            routes,
            sorting,
            presorted,
            in_partition_order,
        })
    }

    /// Hands `batch` to its part writer (sorted tables: keeps its rows until their runs are
    /// ready); a writer that failed reports its error here.
    pub(super) async fn write(&mut self, batch: RecordBatch) -> Result<()> {
        if let Some(partitions) = &mut self.presorted {
            for (key, rows) in partitions.split(&self.table, batch)? {
                let index = self.routes.owner(key, rows.num_rows());
                self.send(index, Piece::Rows(rows)).await?;
            }
            return Ok(());
        }
        let Some(sorting) = &mut self.sorting else {
            let index = self.routes.spread(batch.num_rows());
            return self.send(index, Piece::Rows(batch)).await;
        };
        let mut ready = Vec::new();
        for (key, rows) in sorting.partitions.split(&self.table, batch)? {
            ready.extend(sorting.runs.push(key, Slice::whole(rows)));
        }
        for run in ready {
            self.send_run(run).await?;
        }
        Ok(())
    }

    /// Hands the rows `rows` (ascending row numbers) of `batch` to their part writer. A batch
    /// of one partition of a sorted table waits whole, and its run's sort leaves the other rows
    /// out; otherwise the rows are copied out first.
    pub(super) async fn write_rows(&mut self, batch: RecordBatch, rows: Vec<u32>) -> Result<()> {
        if let Some(sorting) = &mut self.sorting {
            let keys = sorting.partitions.keys(&self.table, &batch)?;
            if keys.len() <= 1 {
                let key: PartitionKey =
                    keys.iter().next().map(|k| k.as_ref().to_vec()).unwrap_or_default();
                let slice = Slice { batch, rows: Some(rows.into()) };
                for run in sorting.runs.push(key, slice) {
                    self.send_run(run).await?;
                }
                return Ok(());
            }
        }
        let taken = take_record_batch(&batch, &UInt32Array::from(rows))
            .map_err(|e| Error::delta(&self.table, deltalake::DeltaTableError::from(e)))?;
        self.write(taken).await
    }

    async fn send_run(&mut self, run: Run) -> Result<()> {
        // The run's own partition was just taken out of the waiting ones.
        let others = self.sorting.as_ref().map_or(0, |s| {
            if self.in_partition_order {
                s.runs.partitions_coming()
            } else {
                s.runs.partitions_waiting()
            }
        });
        let index = self.routes.run(run.key, run.rows, others + 1);
        self.send(index, Piece::Run(run.slices)).await
    }

    async fn send(&mut self, index: usize, piece: Piece) -> Result<()> {
        // A part writer that failed was taken out below: a caller that writes on after the
        // error gets one, not a write into the wrong part writer.
        let Some(shard) =
            self.shards.get(index).filter(|_| self.shards.len() == self.routes.writers)
        else {
            return Err(stopped_early(&self.table));
        };
        if shard.sender.send(piece).await.is_ok() {
            return Ok(());
        }
        // The task ended, which it only does on an error: take the error from it.
        let shard = self.shards.remove(index);
        drop(shard.sender);
        match shard.task.await {
            Ok(Err(error)) => Err(error),
            Ok(Ok(_)) => Err(stopped_early(&self.table)),
            Err(join) => Err(task_failed(&self.table, &join)),
        }
    }

    /// Writes the rows still waiting, closes every part writer; returns every file written
    /// and how many partitions were written in more than one sorted run, or the first error.
    pub(super) async fn finish(mut self) -> Result<(Vec<Add>, usize)> {
        let waiting = self.sorting.as_mut().map(|s| s.runs.drain()).unwrap_or_default();
        let in_several_runs =
            self.sorting.as_ref().map_or(0, |s| s.runs.partitions_in_several_runs());
        let partitions = waiting.len();
        for run in waiting {
            let index = self.routes.run(run.key, run.rows, partitions);
            if let Err(error) = self.send(index, Piece::Run(run.slices)).await {
                self.stop().await;
                return Err(error);
            }
        }
        Ok((self.close().await?, in_several_runs))
    }

    async fn close(self) -> Result<Vec<Add>> {
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
    /// upload finishing after the caller cleaned up); rows still waiting are dropped; what the
    /// part writers wrote is the caller's to delete.
    pub(super) async fn stop(self) -> Vec<Add> {
        match self.close().await {
            Ok(adds) => adds,
            Err(error) => {
                tracing::debug!(%error, "a part writer failed while it was stopped");
                Vec::new()
            }
        }
    }
}

fn stopped_early(table: &str) -> Error {
    Error::Io { path: table.into(), source: std::io::Error::other("a part writer stopped early") }
}

fn task_failed(table: &str, join: &tokio::task::JoinError) -> Error {
    Error::Io {
        path: table.into(),
        source: std::io::Error::other(format!("a part writer of table `{table}` failed: {join}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(n: u8) -> PartitionKey {
        vec![n]
    }

    #[test]
    fn one_big_partition_is_spread_after_its_first_rows() {
        let mut routes = Routes::new(2);
        let run = 64 * 1024;
        let writers: Vec<usize> = (0..8).map(|_| routes.run(day(1), run, 1)).collect();
        assert_eq!(writers, [0, 0, 0, 0, 1, 0, 1, 0], "256 Ki rows on the first, then in turn");
    }

    #[test]
    fn while_as_many_partitions_wait_as_writers_each_partition_keeps_one() {
        let mut routes = Routes::new(2);
        let order = [1, 2, 3, 1, 4, 2, 3, 3, 4, 1];
        let writers: Vec<(u8, usize)> =
            order.iter().map(|d| (*d, routes.run(day(*d), 10, 4))).collect();
        for (d, writer) in &writers {
            let first = writers.iter().find(|(e, _)| e == d).map(|(_, w)| *w);
            assert_eq!(Some(*writer), first, "day {d} moved between part writers: {writers:?}");
        }
        let used: std::collections::HashSet<usize> = writers.iter().map(|(_, w)| *w).collect();
        assert_eq!(used.len(), 2, "both part writers work: {writers:?}");
    }

    #[test]
    fn partitions_in_order_have_their_runs_spread() {
        let mut routes = Routes::new(2);
        let run = 128 * 1024;
        // Day after day, one partition waiting at a time: every day's runs go in turn.
        let writers: Vec<usize> =
            [1, 1, 1, 2, 2, 3, 3].iter().map(|d| routes.run(day(*d), run, 1)).collect();
        assert_eq!(writers, [0, 0, 1, 0, 1, 0, 1]);
    }

    #[test]
    fn unsorted_batches_go_in_turn_after_the_first_rows() {
        let mut routes = Routes::new(3);
        let writers: Vec<usize> = (0..6).map(|_| routes.spread(128 * 1024)).collect();
        assert_eq!(writers, [0, 0, 1, 2, 0, 1]);
    }
}
