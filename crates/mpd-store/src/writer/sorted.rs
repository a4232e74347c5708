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
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, RecordBatch, UInt32Array};
use arrow_schema::ArrowError;
use arrow_select::concat::concat;
use arrow_select::interleave::interleave_record_batch;
use deltalake::arrow::compute::{SortColumn, lexsort_to_indices, take, take_record_batch};

use super::part::PartitionKey;
use crate::{Error, Result};

/// Rows of one sorted run at most. A run is held up to three times while it is written (waiting
/// in a part writer's queue, then the rows and their sorted copy), and two part writers each
/// hold one: 64 Ki rows (about 21 MB of export rows) took a fetch of day-ordered events from
/// 494 to 607 MB (docs/PERFORMANCE.md).
pub(super) const RUN_ROWS: usize = 32 * 1024;
/// Bytes of rows waiting, all partitions together. One budget for the whole write (not one per
/// part writer) gives each partition's runs twice the rows for the same memory. 24 MiB instead
/// of 32 MiB came with the smaller batches and one malloc arena per core that together took a
/// 1M-event import from 373–422 to 275–291 MB; the SQL benchmark's queries did not measurably
/// slow (docs/PERFORMANCE.md).
pub(super) const WAITING_BYTES: usize = 24 * 1024 * 1024;

/// Rows of one partition: a whole batch, or some rows of a batch that holds nothing else (the
/// rest are rows a dedup dropped). The run's sort leaves the other rows out, so the batch is
/// not copied without them first: a fetch's batches are one day each and almost every one has
/// a duplicate, so a fetch copied nearly all its rows twice (docs/PERFORMANCE.md).
#[derive(Debug, Clone)]
pub(super) struct Slice {
    pub(super) batch: RecordBatch,
    /// Row numbers into `batch`, ascending; `None`: every row.
    pub(super) rows: Option<Arc<[u32]>>,
}

impl Slice {
    pub(super) fn whole(batch: RecordBatch) -> Self {
        Self { batch, rows: None }
    }

    pub(super) fn num_rows(&self) -> usize {
        self.rows.as_ref().map_or(self.batch.num_rows(), |rows| rows.len())
    }

    /// Calls `row` with each of the slice's row numbers, in order.
    fn each_row(&self, mut row: impl FnMut(usize)) {
        match &self.rows {
            None => (0..self.batch.num_rows()).for_each(row),
            Some(rows) => rows.iter().for_each(|r| row(*r as usize)),
        }
    }
}

#[derive(Default)]
struct Waiting {
    slices: Vec<Slice>,
    rows: usize,
    bytes: usize,
    /// [`SortedRuns::pushed`] after this partition's last rows came.
    last_pushed: u64,
}

/// The bytes of `batch`'s rows: its buffers' lengths, not their capacity. Decoded batches
/// come with room to spare, and counting it made a fetch's runs a third of their size (8 Ki
/// rows instead of 24 Ki: the budget seemed spent after two batches).
fn used_bytes(batch: &RecordBatch) -> usize {
    batch
        .columns()
        .iter()
        .map(|column| {
            column
                .to_data()
                .get_slice_memory_size()
                .unwrap_or_else(|_| column.get_array_memory_size())
        })
        .sum()
}

/// The rows of one partition to be written as one sorted run.
pub(super) struct Run {
    pub(super) key: PartitionKey,
    pub(super) slices: Vec<Slice>,
    pub(super) rows: usize,
}

/// Waiting rows of each partition.
pub(super) struct SortedRuns {
    run_rows: usize,
    budget: usize,
    waiting: HashMap<PartitionKey, Waiting>,
    bytes: usize,
    /// Rows pushed so far, all partitions together.
    pushed: u64,
    /// Runs made so far of each partition.
    runs_made: HashMap<PartitionKey, usize>,
}

impl SortedRuns {
    pub(super) fn new() -> Self {
        Self {
            run_rows: RUN_ROWS,
            budget: WAITING_BYTES,
            waiting: HashMap::new(),
            bytes: 0,
            pushed: 0,
            runs_made: HashMap::new(),
        }
    }

    #[cfg(test)]
    fn with_limits(mut self, run_rows: usize, budget: usize) -> Self {
        self.run_rows = run_rows;
        self.budget = budget;
        self
    }

    /// Keeps `slice` (rows of the partition `key`); returns the runs ready to be written.
    pub(super) fn push(&mut self, key: PartitionKey, slice: Slice) -> Vec<Run> {
        // The whole batch: the slice keeps all of it in memory.
        let bytes = used_bytes(&slice.batch);
        self.bytes += bytes;
        self.pushed += slice.num_rows() as u64;
        let waiting = self.waiting.entry(key.clone()).or_default();
        waiting.last_pushed = self.pushed;
        waiting.rows += slice.num_rows();
        waiting.bytes += bytes;
        waiting.slices.push(slice);
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

    /// Partitions with rows waiting that got some within the last run's worth of rows pushed
    /// (all partitions together): the end of a partition left waiting while input in
    /// partition order moved on stops counting once a run's worth of other rows came.
    pub(super) fn partitions_coming(&self) -> usize {
        let since = self.pushed.saturating_sub(self.run_rows as u64);
        self.waiting.values().filter(|w| w.last_pushed > since).count()
    }

    /// Every waiting run, in partition order (the same files on every run).
    pub(super) fn drain(&mut self) -> Vec<Run> {
        let mut keys: Vec<PartitionKey> = self.waiting.keys().cloned().collect();
        keys.sort();
        keys.into_iter().map(|key| self.take(key)).collect()
    }

    /// Partitions whose rows went out in more than one run so far: their files are sorted in
    /// stretches, not as a whole (`tables compact` sorts them whole).
    pub(super) fn partitions_in_several_runs(&self) -> usize {
        self.runs_made.values().filter(|runs| **runs > 1).count()
    }

    fn take(&mut self, key: PartitionKey) -> Run {
        let waiting = self.waiting.remove(&key).unwrap_or_default();
        self.bytes -= waiting.bytes;
        *self.runs_made.entry(key.clone()).or_default() += 1;
        Run { key, slices: waiting.slices, rows: waiting.rows }
    }
}

/// The rows of `slices` as one batch sorted by the columns `sort_by`. Only the sort columns
/// are read to find the order; the rows themselves are copied once, straight into their
/// sorted places.
pub(super) fn sort_run(table: &str, sort_by: &[usize], slices: &[Slice]) -> Result<RecordBatch> {
    let failed = |error| Error::delta(table, deltalake::DeltaTableError::from(error));
    // Every row as (slice, row number), in slice order: the order below permutes these.
    let mut places = Vec::with_capacity(slices.iter().map(Slice::num_rows).sum());
    for (index, slice) in slices.iter().enumerate() {
        slice.each_row(|row| places.push((index, row)));
    }
    let order = match name_then_time_order(sort_by, slices, &places) {
        Some(order) => order,
        None => compared_order(sort_by, slices).map_err(failed)?,
    };
    let sorted: Vec<(usize, usize)> = order.iter().map(|at| places[*at as usize]).collect();
    if let [single] = slices {
        let rows = sorted.iter().map(|(_, row)| u32::try_from(*row).unwrap_or(u32::MAX));
        return take_record_batch(&single.batch, &UInt32Array::from_iter_values(rows))
            .map_err(failed);
    }
    let batches: Vec<&RecordBatch> = slices.iter().map(|slice| &slice.batch).collect();
    interleave_record_batch(&batches, &sorted).map_err(failed)
}

/// Positions among the slices' rows (in slice order) in the order of the columns `sort_by`,
/// compared value by value (any column types, nulls first).
fn compared_order(
    sort_by: &[usize],
    slices: &[Slice],
) -> std::result::Result<Vec<u32>, ArrowError> {
    let mut columns = Vec::with_capacity(sort_by.len());
    for index in sort_by {
        let mut parts = Vec::with_capacity(slices.len());
        for slice in slices {
            let column = slice.batch.column(*index);
            parts.push(match &slice.rows {
                None => Arc::clone(column),
                Some(rows) => {
                    take(column, &UInt32Array::from_iter_values(rows.iter().copied()), None)?
                }
            });
        }
        let values = if let [single] = parts.as_slice() {
            Arc::clone(single)
        } else {
            concat(&parts.iter().map(AsRef::as_ref).collect::<Vec<&dyn Array>>())?
        };
        columns.push(SortColumn { values, options: None });
    }
    Ok(lexsort_to_indices(&columns, None)?.values().to_vec())
}

/// The order of the events' layout (a text column, then an integer or timestamp column, no
/// nulls), found without comparing texts row by row: each distinct text gets its rank among
/// the run's texts, and the rows sort as (rank, value, position) integers. A profile of an
/// import had the value-by-value comparison at 4% of its time (docs/PERFORMANCE.md). `None`
/// for any other sort order, which [`compared_order`] sorts.
fn name_then_time_order(
    sort_by: &[usize],
    slices: &[Slice],
    places: &[(usize, usize)],
) -> Option<Vec<u32>> {
    let [text, number] = sort_by else { return None };
    let mut names = Vec::with_capacity(slices.len());
    let mut times = Vec::with_capacity(slices.len());
    for slice in slices {
        let name = slice.batch.column(*text).as_string_opt::<i32>()?;
        let time = slice.batch.column(*number);
        if name.null_count() > 0 || time.null_count() > 0 {
            return None;
        }
        names.push(name);
        times.push(i64_values(time.as_ref())?);
    }
    u32::try_from(places.len()).ok()?;

    // Each row's text as the number of its first appearance, then those numbers as ranks.
    let mut firsts: HashMap<&str, u32> = HashMap::new();
    let mut seen = Vec::with_capacity(places.len());
    for (slice, row) in places {
        let next = u32::try_from(firsts.len()).ok()?;
        seen.push(*firsts.entry(names[*slice].value(*row)).or_insert(next));
    }
    let mut distinct: Vec<(&str, u32)> = firsts.into_iter().collect();
    distinct.sort_unstable();
    let mut rank_of = vec![0u32; distinct.len()];
    for (rank, (_, first)) in distinct.iter().enumerate() {
        rank_of[*first as usize] = u32::try_from(rank).ok()?;
    }

    // rank (32 bits) | time with its sign bit flipped, so it orders as unsigned (64) |
    // position (32).
    let mut keys: Vec<u128> = Vec::with_capacity(places.len());
    for (position, (first, (slice, row))) in seen.iter().zip(places).enumerate() {
        let rank = u128::from(rank_of[*first as usize]);
        let time_bits = u128::from(times[*slice][*row].cast_unsigned() ^ (1 << 63));
        keys.push(rank << 96 | time_bits << 32 | position as u128);
    }
    keys.sort_unstable();
    Some(keys.iter().map(|key| *key as u32).collect())
}

/// The values of an `Int64` or timestamp column.
fn i64_values(array: &dyn Array) -> Option<&[i64]> {
    use arrow_array::types::{
        Int64Type, TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
        TimestampSecondType,
    };
    use arrow_schema::{DataType, TimeUnit};
    let values: &[i64] = match array.data_type() {
        DataType::Int64 => array.as_primitive_opt::<Int64Type>()?.values(),
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            array.as_primitive_opt::<TimestampMicrosecondType>()?.values()
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            array.as_primitive_opt::<TimestampMillisecondType>()?.values()
        }
        DataType::Timestamp(TimeUnit::Second, _) => {
            array.as_primitive_opt::<TimestampSecondType>()?.values()
        }
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            array.as_primitive_opt::<TimestampNanosecondType>()?.values()
        }
        _ => return None,
    };
    Some(values)
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

    fn whole(rows: &[(&str, i64)]) -> Slice {
        Slice::whole(batch(rows))
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
        assert!(runs.push(key("d1"), whole(&[("b", 2), ("a", 9)])).is_empty());
        let ready = runs.push(key("d1"), whole(&[("b", 1), ("a", 3)]));
        assert_eq!(ready.len(), 1);
        assert_eq!((ready[0].key.as_slice(), ready[0].rows), (b"d1".as_slice(), 4));
        let sorted = sort_run("events", &[0, 1], &ready[0].slices).unwrap();
        let want = [("a", 3), ("a", 9), ("b", 1), ("b", 2)].map(|(n, t)| (n.to_owned(), t));
        assert_eq!(pairs(&sorted), want);
        assert!(runs.drain().is_empty(), "nothing waits after a full run");
    }

    /// Rows of `n` names drawn from a few that share prefixes, sort before and after each
    /// other in bytes (not in letters), and times with ties and negatives.
    fn scrambled(seed: u64, n: usize) -> RecordBatch {
        const NAMES: [&str; 7] = ["", "a", "ab", "a\u{0}", "B", "b", "\u{e9}v\u{e9}nement"];
        let mut state = seed;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            state >> 33
        };
        let rows: Vec<(&str, i64)> =
            (0..n).map(|_| (NAMES[next() as usize % NAMES.len()], next() as i64 % 7 - 3)).collect();
        batch(&rows)
    }

    /// Every row of `slices` as (slice, row), in slice order.
    fn places_of(slices: &[Slice]) -> Vec<(usize, usize)> {
        let mut places = Vec::new();
        for (index, slice) in slices.iter().enumerate() {
            slice.each_row(|row| places.push((index, row)));
        }
        places
    }

    fn in_order(slices: &[Slice], places: &[(usize, usize)], order: &[u32]) -> Vec<(String, i64)> {
        order
            .iter()
            .map(|at| {
                let (slice, row) = places[*at as usize];
                let names = slices[slice].batch.column(0).as_string::<i32>();
                let times = slices[slice].batch.column(1).as_primitive::<Int64Type>();
                (names.value(row).to_owned(), times.value(row))
            })
            .collect()
    }

    #[test]
    fn ranks_order_rows_as_comparing_values_does() {
        for (seed, sizes) in [(1, vec![50]), (2, vec![1, 40, 0, 33]), (3, vec![200, 200, 7])] {
            let slices: Vec<Slice> = sizes
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    let batch = scrambled(seed * 10 + i as u64, *n);
                    // Every other slice keeps only every third row.
                    let rows = (i % 2 == 1).then(|| (0..*n as u32).step_by(3).collect());
                    Slice { batch, rows }
                })
                .collect();
            let places = places_of(&slices);
            let fast = name_then_time_order(&[0, 1], &slices, &places).expect("text then integer");
            let compared = compared_order(&[0, 1], &slices).unwrap();
            assert_eq!(
                in_order(&slices, &places, &fast),
                in_order(&slices, &places, &compared),
                "seed {seed}"
            );
            let mut positions = fast.clone();
            positions.sort_unstable();
            positions.dedup();
            assert_eq!(positions.len(), places.len(), "every row once");
            // Equal names and times keep their arrival order, so runs come out the same each
            // time.
            for pair in fast.windows(2) {
                let [a, b] = [pair[0], pair[1]].map(|p| in_order(&slices, &places, &[p]));
                if a == b {
                    assert!(pair[0] < pair[1], "ties in arrival order: {pair:?}");
                }
            }
        }
    }

    #[test]
    fn a_run_leaves_out_the_rows_its_slices_do_not_name() {
        let first =
            Slice { batch: batch(&[("b", 2), ("x", 0), ("a", 9)]), rows: Some(vec![0, 2].into()) };
        let second = whole(&[("a", 4)]);
        let third = Slice { batch: batch(&[("y", 1), ("a", 1)]), rows: Some(vec![1].into()) };
        assert_eq!(first.num_rows(), 2);
        let sorted = sort_run("events", &[0, 1], &[first.clone(), second, third]).unwrap();
        let want = [("a", 1), ("a", 4), ("a", 9), ("b", 2)].map(|(n, t)| (n.to_owned(), t));
        assert_eq!(pairs(&sorted), want);
        let alone = sort_run("events", &[0, 1], &[first]).unwrap();
        assert_eq!(pairs(&alone), [("a".to_owned(), 9), ("b".to_owned(), 2)], "one slice");
        // The value-by-value order leaves them out as well.
        let by_value = sort_run(
            "events",
            &[1],
            &[Slice {
                batch: batch(&[("b", 2), ("x", 0), ("a", 9)]),
                rows: Some(vec![0, 2].into()),
            }],
        )
        .unwrap();
        assert_eq!(pairs(&by_value), [("b".to_owned(), 2), ("a".to_owned(), 9)]);
    }

    #[test]
    fn other_sort_orders_are_compared_value_by_value() {
        let nullable = Arc::new(Schema::new(vec![
            Field::new("event_name", DataType::Utf8, true),
            Field::new("time", DataType::Int64, false),
        ]));
        let with_null = RecordBatch::try_new(
            nullable,
            vec![
                Arc::new(StringArray::from(vec![Some("b"), None, Some("a")])),
                Arc::new(Int64Array::from(vec![1, 2, 3])),
            ],
        )
        .unwrap();
        let slices = [Slice::whole(with_null)];
        let places = places_of(&slices);
        assert!(name_then_time_order(&[0, 1], &slices, &places).is_none(), "a null name");
        assert!(name_then_time_order(&[1, 0], &slices, &places).is_none(), "integer first");
        assert!(name_then_time_order(&[0], &slices, &places).is_none(), "one column");
        let sorted = sort_run("events", &[0, 1], &slices).unwrap();
        let names = sorted.column(0).as_string::<i32>();
        let names: Vec<Option<&str>> = names.iter().collect();
        assert_eq!(names, [None, Some("a"), Some("b")], "nulls first, as before");
    }

    #[test]
    fn partitions_wait_apart_and_the_budget_sends_the_largest_first() {
        let one = batch(&[("z", 1)]);
        let budget = used_bytes(&one) * 3;
        let mut runs = SortedRuns::new().with_limits(100, budget);
        assert!(runs.push(key("d1"), whole(&[("z", 1)])).is_empty());
        assert!(runs.push(key("d1"), whole(&[("y", 2)])).is_empty());
        assert!(runs.push(key("d2"), whole(&[("x", 3)])).is_empty());
        let ready = runs.push(key("d2"), whole(&[("w", 4)]));
        assert_eq!(ready.len(), 1, "over budget: one partition's rows go");
        assert_eq!(ready[0].rows, 2);
        let rest = runs.drain();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].rows, 2);
        let sorted = sort_run("events", &[0, 1], &rest[0].slices).unwrap();
        assert_eq!(sorted.num_rows(), 2);
    }

    #[test]
    fn the_budget_counts_the_rows_a_batch_holds_not_the_room_around_them() {
        let rows: Vec<(String, i64)> = (0..1000).map(|i| (format!("event {i}"), i)).collect();
        let rows: Vec<(&str, i64)> = rows.iter().map(|(n, t)| (n.as_str(), *t)).collect();
        let big = batch(&rows);
        let small = big.slice(0, 10);
        assert!(small.get_array_memory_size() > 20 * used_bytes(&small), "a slice reports all");
        let budget = 3 * used_bytes(&small);
        let mut runs = SortedRuns::new().with_limits(100, budget);
        assert!(runs.push(key("d1"), Slice::whole(small.clone())).is_empty());
        assert!(runs.push(key("d1"), Slice::whole(small.clone())).is_empty(), "20 rows fit");
        let ready = runs.push(key("d1"), Slice::whole(small.clone()));
        assert!(ready.is_empty(), "30 rows fit a budget of 30 rows' bytes: {}", ready.len());
        assert_eq!(runs.push(key("d1"), Slice::whole(small)).len(), 1, "40 do not");
    }

    #[test]
    fn a_partition_stops_coming_once_a_run_of_other_rows_came_after_it() {
        let mut runs = SortedRuns::new().with_limits(3, usize::MAX);
        runs.push(key("d1"), whole(&[("a", 1), ("b", 2)]));
        assert_eq!(runs.partitions_coming(), 1);
        // The next day starts while d1's last two rows still wait.
        runs.push(key("d2"), whole(&[("a", 3), ("b", 4)]));
        assert_eq!(runs.partitions_coming(), 2, "d1 got rows two rows ago, within a run");
        let ready = runs.push(key("d2"), whole(&[("c", 5)]));
        assert_eq!(ready.len(), 1, "d2's first run");
        assert_eq!(runs.partitions_waiting(), 1, "d1 still waits");
        assert_eq!(runs.partitions_coming(), 0, "but three rows came after it");
        // Mixed input keeps every partition coming.
        runs.push(key("d3"), whole(&[("a", 6)]));
        runs.push(key("d4"), whole(&[("a", 7)]));
        assert_eq!(runs.partitions_coming(), 2, "d3 and d4, not d1");
    }

    #[test]
    fn a_partition_counts_as_in_several_runs_from_its_second_run() {
        let mut runs = SortedRuns::new().with_limits(2, usize::MAX);
        runs.push(key("d1"), whole(&[("a", 1), ("b", 2)]));
        runs.push(key("d2"), whole(&[("a", 1)]));
        assert_eq!(runs.partitions_in_several_runs(), 0, "one full run of d1, d2 waiting");
        runs.push(key("d1"), whole(&[("c", 3)]));
        runs.drain();
        assert_eq!(runs.partitions_in_several_runs(), 1, "d1 went out twice, d2 once");
    }
}
