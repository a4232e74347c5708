//! Rows held back per partition and written in sorted runs, so that each stretch of a file holds
//! few values of the sort columns: Parquet's page statistics (the page index) then let a reader
//! skip the pages of every other value (`WHERE event_name = 'Purchase'` reads the Purchase
//! pages of `properties`, not all of them).
//!
//! The table writer keeps the waiting rows of every partition in one budget: a partition's rows
//! wait until they fill a run or the budget of all waiting rows is spent (then the largest
//! partition's rows go first), so memory stays bounded however many partitions a write touches.
//! A run leaves unsorted; the part writer that encodes it sorts it ([`sort_run`]), so sorting
//! runs on every core.

use std::collections::HashMap;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, ArrayRef, RecordBatch, UInt32Array};
use arrow_schema::{DataType, TimeUnit};
use arrow_select::concat::concat;
use arrow_select::interleave::interleave_record_batch;
use deltalake::arrow::compute::{SortColumn, lexsort_to_indices, take_record_batch};

use super::part::PartitionKey;
use crate::{Error, Result};

/// Rows of one sorted run at most. A run is held up to three times while it is written (waiting
/// in a part writer's queue, then the rows and their sorted copy), and two part writers each
/// hold one: 64 Ki rows (about 21 MB of export rows) took a fetch of day-ordered events from
/// 494 to 607 MB (docs/PERFORMANCE.md).
pub(super) const RUN_ROWS: usize = 32 * 1024;
/// Bytes of rows waiting, all partitions together. One budget for the whole write (not one per
/// part writer) gives each partition's runs twice the rows for the same memory.
pub(super) const WAITING_BYTES: usize = 32 * 1024 * 1024;

#[derive(Default)]
struct Waiting {
    batches: Vec<RecordBatch>,
    rows: usize,
    bytes: usize,
}

/// The rows of one partition to be written as one sorted run.
pub(super) struct Run {
    pub(super) key: PartitionKey,
    pub(super) batches: Vec<RecordBatch>,
    pub(super) rows: usize,
}

/// Waiting rows of each partition.
pub(super) struct SortedRuns {
    run_rows: usize,
    budget: usize,
    waiting: HashMap<PartitionKey, Waiting>,
    bytes: usize,
}

impl SortedRuns {
    pub(super) fn new() -> Self {
        Self { run_rows: RUN_ROWS, budget: WAITING_BYTES, waiting: HashMap::new(), bytes: 0 }
    }

    #[cfg(test)]
    fn with_limits(mut self, run_rows: usize, budget: usize) -> Self {
        self.run_rows = run_rows;
        self.budget = budget;
        self
    }

    /// Keeps `batch` (rows of the partition `key`); returns the runs ready to be written.
    pub(super) fn push(&mut self, key: PartitionKey, batch: RecordBatch) -> Vec<Run> {
        let bytes = batch.get_array_memory_size();
        self.bytes += bytes;
        let waiting = self.waiting.entry(key.clone()).or_default();
        waiting.rows += batch.num_rows();
        waiting.bytes += bytes;
        waiting.batches.push(batch);
        let mut ready = Vec::new();
        if waiting.rows >= self.run_rows {
            ready.push(self.take(key));
        }
        while self.bytes > self.budget {
            let Some(largest) =
                self.waiting.iter().max_by_key(|(_, w)| w.bytes).map(|(k, _)| k.clone())
            else {
                break;
            };
            ready.push(self.take(largest));
        }
        ready
    }

    /// Partitions with rows waiting.
    pub(super) fn partitions_waiting(&self) -> usize {
        self.waiting.len()
    }

    /// Every waiting run, in partition order (the same files on every run).
    pub(super) fn drain(&mut self) -> Vec<Run> {
        let mut keys: Vec<PartitionKey> = self.waiting.keys().cloned().collect();
        keys.sort();
        keys.into_iter().map(|key| self.take(key)).collect()
    }

    fn take(&mut self, key: PartitionKey) -> Run {
        let waiting = self.waiting.remove(&key).unwrap_or_default();
        self.bytes -= waiting.bytes;
        Run { key, batches: waiting.batches, rows: waiting.rows }
    }
}

/// The rows of `batches` as one batch sorted by the columns `sort_by`. Only the sort columns
/// are joined to find the order; the rows themselves are copied once, straight into their
/// sorted places.
pub(super) fn sort_run(
    table: &str,
    sort_by: &[usize],
    batches: &[RecordBatch],
) -> Result<RecordBatch> {
    let failed = |error| Error::delta(table, deltalake::DeltaTableError::from(error));
    let mut columns = Vec::with_capacity(sort_by.len());
    for index in sort_by {
        let joined = match batches {
            [single] => single.column(*index).clone(),
            _ => {
                let parts: Vec<&dyn Array> =
                    batches.iter().map(|b| b.column(*index).as_ref()).collect();
                concat(&parts).map_err(failed)?
            }
        };
        columns.push(joined);
    }
    let order = match name_then_integer_order(&columns) {
        Some(order) => order,
        None => {
            let columns: Vec<SortColumn> =
                columns.into_iter().map(|values| SortColumn { values, options: None }).collect();
            lexsort_to_indices(&columns, None).map_err(failed)?
        }
    };
    if let [single] = batches {
        return take_record_batch(single, &order).map_err(failed);
    }
    // Global row numbers → (batch, row) pairs.
    let mut starts = Vec::with_capacity(batches.len());
    let mut total = 0;
    for batch in batches {
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
    let batches: Vec<&RecordBatch> = batches.iter().collect();
    interleave_record_batch(&batches, &places).map_err(failed)
}

/// The order of rows sorted by a text column, then a 64-bit integer or timestamp one, without
/// nulls (the events' `event_name`, `time`), computed on integers: each name becomes its rank
/// among the run's few distinct names, and `(rank, time, row)` triples are sorted. Arrow's
/// general comparator compares the strings at every step of the sort. The order of
/// [`lexsort_to_indices`], with rows of equal keys in row order. `None` for any other sort key.
fn name_then_integer_order(columns: &[ArrayRef]) -> Option<UInt32Array> {
    let [names, numbers] = columns else { return None };
    if names.null_count() > 0 || numbers.null_count() > 0 {
        return None;
    }
    let names = names.as_string_opt::<i32>()?;
    let numbers: &[i64] = match numbers.data_type() {
        DataType::Int64 => numbers.as_primitive_opt::<Int64Type>()?.values(),
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            numbers.as_primitive_opt::<TimestampMicrosecondType>()?.values()
        }
        _ => return None,
    };
    let rows = u32::try_from(names.len()).ok()?;
    let mut ranks: HashMap<&str, u32> = HashMap::new();
    for name in names.iter().flatten() {
        let next = ranks.len() as u32;
        ranks.entry(name).or_insert(next);
    }
    let mut distinct: Vec<&str> = ranks.keys().copied().collect();
    distinct.sort_unstable();
    for (rank, name) in distinct.iter().enumerate() {
        ranks.insert(name, rank as u32);
    }
    let mut keys: Vec<(u32, i64, u32)> = (0..rows)
        .zip(names.iter().flatten())
        .zip(numbers)
        .map(|((row, name), number)| (ranks[name], *number, row))
        .collect();
    keys.sort_unstable();
    Some(UInt32Array::from_iter_values(keys.into_iter().map(|(_, _, row)| row)))
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
        let mut runs = SortedRuns::new().with_limits(4, usize::MAX);
        assert!(runs.push(key("d1"), batch(&[("b", 2), ("a", 9)])).is_empty());
        let ready = runs.push(key("d1"), batch(&[("b", 1), ("a", 3)]));
        assert_eq!(ready.len(), 1);
        assert_eq!((ready[0].key.as_slice(), ready[0].rows), (b"d1".as_slice(), 4));
        let sorted = sort_run("events", &[0, 1], &ready[0].batches).unwrap();
        let want = [("a", 3), ("a", 9), ("b", 1), ("b", 2)].map(|(n, t)| (n.to_owned(), t));
        assert_eq!(pairs(&sorted), want);
        assert!(runs.drain().is_empty(), "nothing waits after a full run");
    }

    #[test]
    fn partitions_wait_apart_and_the_budget_sends_the_largest_first() {
        let one = batch(&[("z", 1)]);
        let budget = one.get_array_memory_size() * 3;
        let mut runs = SortedRuns::new().with_limits(100, budget);
        assert!(runs.push(key("d1"), batch(&[("z", 1)])).is_empty());
        assert!(runs.push(key("d1"), batch(&[("y", 2)])).is_empty());
        assert!(runs.push(key("d2"), batch(&[("x", 3)])).is_empty());
        let ready = runs.push(key("d2"), batch(&[("w", 4)]));
        assert_eq!(ready.len(), 1, "over budget: one partition's rows go");
        assert_eq!(ready[0].rows, 2);
        let rest = runs.drain();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].rows, 2);
        let sorted = sort_run("events", &[0, 1], &rest[0].batches).unwrap();
        assert_eq!(sorted.num_rows(), 2);
    }

    proptest::proptest! {
        /// The integer path orders rows as Arrow's general sort does, over one batch or
        /// several, with timestamps or plain integers, and keeps equal rows in row order.
        #[test]
        fn the_integer_order_is_arrows_order(
            rows in proptest::collection::vec((0usize..6, -3i64..4), 0..200),
            cut in 0usize..200,
            timestamps: bool,
        ) {
            const NAMES: [&str; 6] = ["Purchase", "Page View", "", "Ä", "a", "Add To Cart"];
            let names = StringArray::from_iter_values(rows.iter().map(|r| NAMES[r.0]));
            let times: ArrayRef = if timestamps {
                Arc::new(
                    arrow_array::TimestampMicrosecondArray::from_iter_values(rows.iter().map(|r| r.1))
                        .with_timezone("UTC"),
                )
            } else {
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1)))
            };
            let columns: Vec<ArrayRef> = vec![Arc::new(names), times];
            let fast = name_then_integer_order(&columns).expect("the integer path applies");
            let general: Vec<SortColumn> = columns
                .iter()
                .map(|values| SortColumn { values: values.clone(), options: None })
                .collect();
            let general = lexsort_to_indices(&general, None).unwrap();
            let key = |row: &u32| (NAMES[rows[*row as usize].0], rows[*row as usize].1);
            let fast_keys: Vec<_> = fast.values().iter().map(key).collect();
            let general_keys: Vec<_> = general.values().iter().map(key).collect();
            proptest::prop_assert_eq!(&fast_keys, &general_keys);
            for pair in fast.values().windows(2) {
                if key(&pair[0]) == key(&pair[1]) {
                    proptest::prop_assert!(pair[0] < pair[1], "equal rows keep their order");
                }
            }

            // Through `sort_run`, one batch or two, the rows come out in that order.
            let field = Field::new("time", columns[1].data_type().clone(), false);
            let schema = Arc::new(Schema::new(vec![
                Field::new("event_name", DataType::Utf8, false),
                field,
            ]));
            let whole = RecordBatch::try_new(schema, columns).unwrap();
            let cut = cut.min(whole.num_rows());
            let parts = [whole.slice(0, cut), whole.slice(cut, whole.num_rows() - cut)];
            for batches in [std::slice::from_ref(&whole), &parts[..]] {
                let sorted = sort_run("events", &[0, 1], batches).unwrap();
                let names = sorted.column(0).as_string::<i32>();
                let got: Vec<&str> = (0..sorted.num_rows()).map(|i| names.value(i)).collect();
                let want: Vec<&str> = fast_keys.iter().map(|k| k.0).collect();
                proptest::prop_assert_eq!(got, want);
            }
        }
    }
}
