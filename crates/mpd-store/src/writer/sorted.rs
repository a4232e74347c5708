//! Rows held back per partition and written in sorted runs, so that each stretch of a file holds
//! few values of the sort columns: Parquet's page statistics (the page index) then let a reader
//! skip the pages of every other value (`WHERE event_name = 'Purchase'` reads the Purchase
//! pages of `properties`, not all of them).
//!
//! The rows of a partition wait until they fill a run or the byte budget of all waiting rows is
//! spent (then the largest partition's rows go first), so memory stays bounded however many
//! partitions a write touches.

use std::collections::HashMap;

use arrow_array::RecordBatch;
use arrow_select::concat::concat;
use arrow_select::interleave::interleave_record_batch;
use deltalake::arrow::compute::{SortColumn, lexsort_to_indices, take_record_batch};

use super::part::PartitionKey;
use crate::{Error, Result};

/// Rows of one sorted run at most.
pub(super) const RUN_ROWS: usize = 64 * 1024;
/// Bytes of rows waiting in one part writer, all partitions together.
pub(super) const WAITING_BYTES: usize = 16 * 1024 * 1024;

#[derive(Default)]
struct Waiting {
    batches: Vec<RecordBatch>,
    rows: usize,
    bytes: usize,
}

/// Waiting rows of each partition.
pub(super) struct SortedRuns {
    table: String,
    sort_by: Vec<usize>,
    run_rows: usize,
    budget: usize,
    waiting: HashMap<PartitionKey, Waiting>,
    bytes: usize,
}

impl SortedRuns {
    pub(super) fn new(table: &str, sort_by: Vec<usize>) -> Self {
        Self {
            table: table.to_owned(),
            sort_by,
            run_rows: RUN_ROWS,
            budget: WAITING_BYTES,
            waiting: HashMap::new(),
            bytes: 0,
        }
    }

    #[cfg(test)]
    fn with_limits(mut self, run_rows: usize, budget: usize) -> Self {
        self.run_rows = run_rows;
        self.budget = budget;
        self
    }

    /// Keeps `batch` (rows of the partition `key`); returns the runs ready to be written.
    pub(super) fn push(
        &mut self,
        key: PartitionKey,
        batch: RecordBatch,
    ) -> Result<Vec<RecordBatch>> {
        let bytes = batch.get_array_memory_size();
        self.bytes += bytes;
        let waiting = self.waiting.entry(key.clone()).or_default();
        waiting.rows += batch.num_rows();
        waiting.bytes += bytes;
        waiting.batches.push(batch);
        let mut ready = Vec::new();
        if waiting.rows >= self.run_rows {
            ready.push(self.take(&key)?);
        }
        while self.bytes > self.budget {
            let Some(largest) =
                self.waiting.iter().max_by_key(|(_, w)| w.bytes).map(|(k, _)| k.clone())
            else {
                break;
            };
            ready.push(self.take(&largest)?);
        }
        Ok(ready)
    }

    /// Every waiting run, sorted.
    pub(super) fn drain(&mut self) -> Result<Vec<RecordBatch>> {
        let keys: Vec<PartitionKey> = self.waiting.keys().cloned().collect();
        keys.iter().map(|key| self.take(key)).collect()
    }

    /// The waiting rows of `key`, sorted. Only the sort columns are joined to find the order;
    /// the rows themselves are copied once, straight into their sorted places.
    fn take(&mut self, key: &PartitionKey) -> Result<RecordBatch> {
        let waiting = self.waiting.remove(key).unwrap_or_default();
        self.bytes -= waiting.bytes;
        if let [single] = waiting.batches.as_slice() {
            return self.sorted(single);
        }
        let mut columns = Vec::with_capacity(self.sort_by.len());
        for index in &self.sort_by {
            let parts: Vec<&dyn arrow_array::Array> =
                waiting.batches.iter().map(|b| b.column(*index).as_ref()).collect();
            let joined = concat(&parts).map_err(|e| self.failed(e))?;
            columns.push(SortColumn { values: joined, options: None });
        }
        let order = lexsort_to_indices(&columns, None).map_err(|e| self.failed(e))?;
        // Global row numbers → (batch, row) pairs.
        let mut starts = Vec::with_capacity(waiting.batches.len());
        let mut total = 0;
        for batch in &waiting.batches {
            starts.push(total);
            total += batch.num_rows();
        }
        let places: Vec<(usize, usize)> = order
            .values()
            .iter()
            .map(|row| {
                let row = *row as usize;
                let batch = starts.partition_point(|start| *start <= row) - 1;
                (batch, row - starts[batch])
            })
            .collect();
        let batches: Vec<&RecordBatch> = waiting.batches.iter().collect();
        interleave_record_batch(&batches, &places).map_err(|e| self.failed(e))
    }

    fn sorted(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let columns: Vec<SortColumn> = self
            .sort_by
            .iter()
            .map(|index| SortColumn { values: batch.column(*index).clone(), options: None })
            .collect();
        let order = lexsort_to_indices(&columns, None).map_err(|e| self.failed(e))?;
        take_record_batch(batch, &order).map_err(|e| self.failed(e))
    }

    fn failed(&self, error: deltalake::arrow::error::ArrowError) -> Error {
        Error::delta(&self.table, deltalake::DeltaTableError::from(error))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::cast::AsArray;
    use arrow_array::types::Int64Type;
    use arrow_array::{Int64Array, StringArray};
    use arrow_schema::{DataType, Field, Schema, SchemaRef};

    use super::*;

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("event_name", DataType::Utf8, false),
            Field::new("time", DataType::Int64, false),
        ]))
    }

    fn batch(rows: &[(&str, i64)]) -> RecordBatch {
        RecordBatch::try_new(
            schema(),
            vec![
                Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
            ],
        )
        .unwrap()
    }

    fn key(day: &str) -> PartitionKey {
        day.as_bytes().to_vec()
    }

    fn pairs(batch: &RecordBatch) -> Vec<(String, i64)> {
        let names = batch.column(0).as_string::<i32>();
        let times = batch.column(1).as_primitive::<Int64Type>();
        (0..batch.num_rows()).map(|i| (names.value(i).to_owned(), times.value(i))).collect()
    }

    #[test]
    fn a_full_run_comes_out_sorted_by_name_then_time() {
        let mut runs = SortedRuns::new("events", vec![0, 1]).with_limits(4, usize::MAX);
        assert!(runs.push(key("d1"), batch(&[("b", 2), ("a", 9)])).unwrap().is_empty());
        let ready = runs.push(key("d1"), batch(&[("b", 1), ("a", 3)])).unwrap();
        assert_eq!(ready.len(), 1);
        let want = [("a", 3), ("a", 9), ("b", 1), ("b", 2)].map(|(n, t)| (n.to_owned(), t));
        assert_eq!(pairs(&ready[0]), want);
        assert!(runs.drain().unwrap().is_empty(), "nothing waits after a full run");
    }

    #[test]
    fn partitions_wait_apart_and_the_budget_sends_the_largest_first() {
        let one = batch(&[("z", 1)]);
        let budget = one.get_array_memory_size() * 3;
        let mut runs = SortedRuns::new("events", vec![0, 1]).with_limits(100, budget);
        assert!(runs.push(key("d1"), batch(&[("z", 1)])).unwrap().is_empty());
        assert!(runs.push(key("d1"), batch(&[("y", 2)])).unwrap().is_empty());
        assert!(runs.push(key("d2"), batch(&[("x", 3)])).unwrap().is_empty());
        let ready = runs.push(key("d2"), batch(&[("w", 4)])).unwrap();
        assert_eq!(ready.len(), 1, "over budget: one partition's rows go");
        assert_eq!(ready[0].num_rows(), 2);
        let rest = runs.drain().unwrap();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].num_rows(), 2);
    }
}
