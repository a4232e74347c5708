//! The batches of one export request, held until the request completed (so a retried request
//! never writes rows twice), in memory up to a limit and then in an Arrow IPC temporary file.

use std::fs::File;
use std::io::{BufReader, BufWriter, Seek, SeekFrom};

use arrow_array::RecordBatch;
use arrow_ipc::reader::StreamReader;
use arrow_ipc::writer::StreamWriter;
use arrow_schema::SchemaRef;

use crate::error::{Error, Result};

pub struct BatchSpool {
    schema: SchemaRef,
    memory: Vec<RecordBatch>,
    in_memory_bytes: usize,
    memory_limit: usize,
    file: Option<StreamWriter<BufWriter<File>>>,
    rows: u64,
}

impl BatchSpool {
    pub fn new(schema: SchemaRef, memory_limit: usize) -> Self {
        Self { schema, memory: Vec::new(), in_memory_bytes: 0, memory_limit, file: None, rows: 0 }
    }

    pub fn push(&mut self, batch: RecordBatch) -> Result<()> {
        self.rows += batch.num_rows() as u64;
        if let Some(file) = &mut self.file {
            return file.write(&batch).map_err(spool_error);
        }
        self.in_memory_bytes += batch.get_array_memory_size();
        self.memory.push(batch);
        if self.in_memory_bytes > self.memory_limit {
            let temp = tempfile::tempfile().map_err(|e| spool_error(e.into()))?;
            let mut writer =
                StreamWriter::try_new(BufWriter::with_capacity(1 << 20, temp), &self.schema)
                    .map_err(spool_error)?;
            for batch in self.memory.drain(..) {
                writer.write(&batch).map_err(spool_error)?;
            }
            self.in_memory_bytes = 0;
            self.file = Some(writer);
        }
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
    pub fn into_batches(self) -> Result<SpooledBatches> {
        let Some(writer) = self.file else {
            return Ok(SpooledBatches::Memory(self.memory.into_iter()));
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

/// Batches coming back out of a [`BatchSpool`].
pub enum SpooledBatches {
    Memory(std::vec::IntoIter<RecordBatch>),
    File(Box<StreamReader<BufReader<File>>>),
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
        let mut spool = BatchSpool::new(schema, memory_limit);
        for b in &input {
            spool.push(b.clone()).unwrap();
        }
        assert_eq!(spool.rows(), 10_000);
        let spilled = spool.file.is_some();
        let output = spool.into_batches().unwrap().collect::<Result<Vec<_>>>().unwrap();
        (input, spilled, output)
    }

    #[test]
    fn memory_spool_returns_the_batches() {
        let (input, spilled, output) = round_trip(usize::MAX);
        assert!(!spilled);
        assert_eq!(input, output);
    }

    #[test]
    fn spilled_spool_returns_the_same_batches_in_order() {
        let (input, spilled, output) = round_trip(1);
        assert!(spilled);
        assert_eq!(input, output);
    }
}
