//! The batches of one export request, held until the request completed (so a retried request
//! never writes rows twice), in memory up to a limit and then in an Arrow IPC temporary file.
//! Requests in flight at once share one memory budget ([`SpoolBudget`]).

use std::fs::File;
use std::io::{BufReader, BufWriter, Seek, SeekFrom};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use arrow_array::RecordBatch;
use arrow_ipc::reader::StreamReader;
use arrow_ipc::writer::StreamWriter;
use arrow_schema::SchemaRef;

use crate::error::{Error, Result};

/// Bytes of batches the spools sharing it may hold in memory, all together: one request may
/// use all of it, several at once never more. A spool whose next batch does not fit continues
/// in its temporary file.
#[derive(Debug, Clone)]
pub struct SpoolBudget(Arc<Budget>);

#[derive(Debug)]
struct Budget {
    limit: usize,
    used: AtomicUsize,
}

impl SpoolBudget {
    pub fn new(limit: usize) -> Self {
        Self(Arc::new(Budget { limit, used: AtomicUsize::new(0) }))
    }

    /// Takes `bytes` of the budget if they fit.
    fn take(&self, bytes: usize) -> bool {
        let fits = |used: usize| used.checked_add(bytes).filter(|total| *total <= self.0.limit);
        self.0.used.fetch_update(Ordering::AcqRel, Ordering::Acquire, fits).is_ok()
    }

    fn give_back(&self, bytes: usize) {
        self.0.used.fetch_sub(bytes, Ordering::AcqRel);
    }

    /// Bytes taken now.
    #[cfg(test)]
    fn used(&self) -> usize {
        self.0.used.load(Ordering::Acquire)
    }
}

pub struct BatchSpool {
    schema: SchemaRef,
    memory: Vec<RecordBatch>,
    in_memory_bytes: usize,
    budget: SpoolBudget,
    file: Option<StreamWriter<BufWriter<File>>>,
    rows: u64,
}

impl BatchSpool {
    pub fn new(schema: SchemaRef, budget: SpoolBudget) -> Self {
        Self { schema, memory: Vec::new(), in_memory_bytes: 0, budget, file: None, rows: 0 }
    }

    pub fn push(&mut self, batch: RecordBatch) -> Result<()> {
        self.rows += batch.num_rows() as u64;
        if let Some(file) = &mut self.file {
            return file.write(&batch).map_err(spool_error);
        }
        let bytes = batch.get_array_memory_size();
        if self.budget.take(bytes) {
            self.in_memory_bytes += bytes;
            self.memory.push(batch);
            return Ok(());
        }
        let temp = tempfile::tempfile().map_err(|e| spool_error(e.into()))?;
        let mut writer =
            StreamWriter::try_new(BufWriter::with_capacity(1 << 20, temp), &self.schema)
                .map_err(spool_error)?;
        for held in self.memory.drain(..).chain(std::iter::once(batch)) {
            writer.write(&held).map_err(spool_error)?;
        }
        self.budget.give_back(std::mem::take(&mut self.in_memory_bytes));
        self.file = Some(writer);
        Ok(())
    }

    /// Appends every batch of `other` (a later piece of the same request), in order.
    pub fn append(&mut self, other: BatchSpool) -> Result<()> {
        for batch in other.into_batches()? {
            self.push(batch?)?;
        }
        Ok(())
    }

    #[cfg(test)]
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Every batch, in the order pushed.
    pub fn into_batches(mut self) -> Result<SpooledBatches> {
        let Some(writer) = self.file.take() else {
            let batches = std::mem::take(&mut self.memory).into_iter();
            let held = std::mem::take(&mut self.in_memory_bytes);
            return Ok(SpooledBatches::Memory(InMemory {
                batches,
                budget: self.budget.clone(),
                held,
            }));
        };
        let mut file = writer
            .into_inner()
            .map_err(spool_error)?
            .into_inner()
            .map_err(|e| spool_error(e.into_error().into()))?;
        file.seek(SeekFrom::Start(0)).map_err(|e| spool_error(e.into()))?;
        let reader = StreamReader::try_new(BufReader::with_capacity(1 << 20, file), None)
            .map_err(spool_error)?;
        Ok(SpooledBatches::File(Box::new(reader)))
    }
}

impl Drop for BatchSpool {
    fn drop(&mut self) {
        self.budget.give_back(self.in_memory_bytes);
    }
}

/// Batches coming back out of a [`BatchSpool`].
pub enum SpooledBatches {
    Memory(InMemory),
    File(Box<StreamReader<BufReader<File>>>),
}

/// Batches held in memory; each gives its bytes back to the budget as it is taken.
pub struct InMemory {
    batches: std::vec::IntoIter<RecordBatch>,
    budget: SpoolBudget,
    held: usize,
}

impl Iterator for InMemory {
    type Item = RecordBatch;

    fn next(&mut self) -> Option<RecordBatch> {
        let batch = self.batches.next()?;
        let bytes = batch.get_array_memory_size().min(self.held);
        self.held -= bytes;
        self.budget.give_back(bytes);
        Some(batch)
    }
}

impl Drop for InMemory {
    fn drop(&mut self) {
        self.budget.give_back(self.held);
    }
}

impl Iterator for SpooledBatches {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            SpooledBatches::Memory(batches) => batches.next().map(Ok),
            SpooledBatches::File(reader) => reader.next().map(|r| r.map_err(spool_error)),
        }
    }
}

fn spool_error(error: arrow_schema::ArrowError) -> Error {
    Error::Write {
        what: "the request's batch spool".to_owned(),
        source: std::io::Error::other(error),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{Int64Array, StringArray};
    use arrow_schema::{DataType, Field, Schema};

    use super::*;

    fn batch(schema: &SchemaRef, start: i64, n: i64) -> RecordBatch {
        let ids = Int64Array::from_iter_values(start..start + n);
        let names = StringArray::from_iter_values((start..start + n).map(|i| format!("row {i}")));
        RecordBatch::try_new(schema.clone(), vec![Arc::new(ids), Arc::new(names)]).unwrap()
    }

    fn round_trip(memory_limit: usize) -> (Vec<RecordBatch>, bool, Vec<RecordBatch>) {
        let schema: SchemaRef = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, false),
        ]));
        let input: Vec<RecordBatch> = (0..10).map(|i| batch(&schema, i * 1000, 1000)).collect();
        let budget = SpoolBudget::new(memory_limit);
        let mut spool = BatchSpool::new(schema, budget.clone());
        for b in &input {
            spool.push(b.clone()).unwrap();
        }
        assert_eq!(spool.rows(), 10_000);
        let spilled = spool.file.is_some();
        let output = spool.into_batches().unwrap().collect::<Result<Vec<_>>>().unwrap();
        assert_eq!(budget.used(), 0, "every byte given back");
        (input, spilled, output)
    }

    #[test]
    fn memory_spool_returns_the_batches() {
        let (input, spilled, output) = round_trip(usize::MAX);
        assert!(!spilled);
        assert_eq!(input, output);
    }

    #[test]
    fn spools_sharing_a_budget_hold_no_more_than_it_together() {
        let schema: SchemaRef = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, false),
        ]));
        let one = batch(&schema, 0, 1000);
        let budget = SpoolBudget::new(one.get_array_memory_size() * 3);
        let mut first = BatchSpool::new(schema.clone(), budget.clone());
        let mut second = BatchSpool::new(schema.clone(), budget.clone());
        for spool in [&mut first, &mut second] {
            for _ in 0..2 {
                spool.push(one.clone()).unwrap();
            }
        }
        assert!(first.file.is_none(), "the first spool fits");
        assert!(second.file.is_some(), "the second would pass the shared budget");
        assert_eq!(budget.used(), one.get_array_memory_size() * 2);
        let mut batches = first.into_batches().unwrap();
        batches.next().unwrap().unwrap();
        assert_eq!(
            budget.used(),
            one.get_array_memory_size(),
            "a taken batch gives its bytes back"
        );
        drop(batches);
        assert_eq!(budget.used(), 0);
        let mut third = BatchSpool::new(schema, budget.clone());
        third.push(one.clone()).unwrap();
        assert!(third.file.is_none(), "the budget is free again");
        assert_eq!(second.into_batches().unwrap().count(), 2);
        drop(third);
        assert_eq!(budget.used(), 0, "a spool dropped unread gives its bytes back");
    }

    #[test]
    fn spilled_spool_returns_the_same_batches_in_order() {
        let (input, spilled, output) = round_trip(1);
        assert!(spilled);
        assert_eq!(input, output);
    }
}
