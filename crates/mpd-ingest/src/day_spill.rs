//! Rows set aside by `date`, so that a large input whose days come mixed (an export dump) is
//! deduplicated one day at a time and the deduper holds the keys of one day, not of the input.
//!
//! Rows gather in memory up to [`RUN_BYTES`]; each such run is written to an Arrow IPC
//! temporary file as one batch per date (rows in input order). Reading back walks the dates in
//! order and, within a date, the runs in order: the rows of a date come out in the order they
//! came in, so "the first copy wins" picks the same copy as without the spill.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom};

use arrow_array::RecordBatch;
use arrow_ipc::reader::FileReader;
use arrow_ipc::writer::FileWriter;

use crate::error::{Error, Result};

/// Arrow memory of the rows gathered before they are written out as a run.
const RUN_BYTES: usize = 32 * 1024 * 1024;

/// Where a date's rows of one run are: the run, and the batch within its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Piece {
    run: usize,
    batch: usize,
    rows: usize,
}

/// Rows being set aside by date.
pub(crate) struct DaySpill {
    pending: Vec<RecordBatch>,
    pending_bytes: usize,
    run_bytes: usize,
    runs: Vec<File>,
    days: BTreeMap<i32, Vec<Piece>>,
}

impl DaySpill {
    pub(crate) fn new() -> Self {
        Self {
            pending: Vec::new(),
            pending_bytes: 0,
            run_bytes: RUN_BYTES,
            runs: Vec::new(),
            days: BTreeMap::new(),
        }
    }

    /// Sets `batch` (an events batch with a `date` column) aside.
    pub(crate) fn push(&mut self, batch: RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        self.pending_bytes += batch.get_array_memory_size();
        self.pending.push(batch);
        if self.pending_bytes >= self.run_bytes {
            self.write_run()?;
        }
        Ok(())
    }

    /// Writes the gathered rows out as one run: a batch per date.
    fn write_run(&mut self) -> Result<()> {
        let Some(first) = self.pending.first() else {
            return Ok(());
        };
        let schema = first.schema();
        let mut rows_by_date: BTreeMap<i32, Vec<(usize, usize)>> = BTreeMap::new();
        for (index, batch) in self.pending.iter().enumerate() {
            for (row, date) in super::dedup::date_values(batch)?.iter().enumerate() {
                rows_by_date.entry(*date).or_default().push((index, row));
            }
        }
        let file = tempfile::tempfile().map_err(spill_error)?;
        let mut writer = FileWriter::try_new(BufWriter::with_capacity(1 << 20, file), &schema)
            .map_err(arrow_error)?;
        let sources: Vec<&RecordBatch> = self.pending.iter().collect();
        let run = self.runs.len();
        for (batch, (date, rows)) in rows_by_date.into_iter().enumerate() {
            let day = arrow_select::interleave::interleave_record_batch(&sources, &rows)
                .map_err(arrow_error)?;
            writer.write(&day).map_err(arrow_error)?;
            self.days.entry(date).or_default().push(Piece { run, batch, rows: rows.len() });
        }
        writer.finish().map_err(arrow_error)?;
        let file = writer
            .into_inner()
            .map_err(arrow_error)?
            .into_inner()
            .map_err(|e| spill_error(e.into_error()))?;
        self.runs.push(file);
        self.pending.clear();
        self.pending_bytes = 0;
        Ok(())
    }

    /// The rows set aside, day after day.
    pub(crate) fn into_days(mut self) -> Result<SpilledDays> {
        self.write_run()?;
        let mut readers = Vec::with_capacity(self.runs.len());
        for mut file in self.runs {
            file.seek(SeekFrom::Start(0)).map_err(spill_error)?;
            // Unbuffered: batches are read whole, one at a time, from anywhere in the file, and
            // a buffer for each of hundreds of runs would cost more memory than it saves.
            readers.push(FileReader::try_new(file, None).map_err(arrow_error)?);
        }
        Ok(SpilledDays { readers, days: self.days.into_iter() })
    }
}

/// Reads set-aside rows back, one date at a time.
pub(crate) struct SpilledDays {
    readers: Vec<FileReader<File>>,
    days: std::collections::btree_map::IntoIter<i32, Vec<Piece>>,
}

/// One date's set-aside rows.
pub(crate) struct SpilledDay<'a> {
    /// Days since the epoch.
    pub(crate) date: i32,
    /// How many rows it has.
    pub(crate) rows: usize,
    readers: &'a mut [FileReader<File>],
    pieces: std::vec::IntoIter<Piece>,
}

impl SpilledDays {
    /// The next date in order, or None when every date was read.
    pub(crate) fn next_day(&mut self) -> Option<SpilledDay<'_>> {
        let (date, pieces) = self.days.next()?;
        let rows = pieces.iter().map(|p| p.rows).sum();
        Some(SpilledDay { date, rows, readers: &mut self.readers, pieces: pieces.into_iter() })
    }
}

impl SpilledDay<'_> {
    /// The date's next batch of rows, in input order.
    pub(crate) fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        let Some(piece) = self.pieces.next() else {
            return Ok(None);
        };
        let reader = &mut self.readers[piece.run];
        reader.set_index(piece.batch).map_err(arrow_error)?;
        match reader.next() {
            Some(batch) => batch.map(Some).map_err(arrow_error),
            None => Err(Error::Internal(format!(
                "the day spill lost batch {} of run {}",
                piece.batch, piece.run
            ))),
        }
    }
}

fn arrow_error(error: arrow_schema::ArrowError) -> Error {
    match error {
        arrow_schema::ArrowError::IoError(_, source) => spill_error(source),
        other => spill_error(std::io::Error::other(other)),
    }
}

fn spill_error(source: std::io::Error) -> Error {
    Error::Write { what: "rows set aside by day in the temporary folder".to_owned(), source }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::cast::AsArray;
    use arrow_array::types::Int64Type;
    use arrow_array::{Date32Array, Int64Array};
    use arrow_schema::{DataType, Field, Schema};

    use super::*;

    fn batch(rows: &[(i32, i64)]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("date", DataType::Date32, false),
            Field::new("n", DataType::Int64, false),
        ]));
        let dates = Date32Array::from_iter_values(rows.iter().map(|(d, _)| *d));
        let numbers = Int64Array::from_iter_values(rows.iter().map(|(_, n)| *n));
        RecordBatch::try_new(schema, vec![Arc::new(dates), Arc::new(numbers)]).unwrap()
    }

    fn read_all(spill: DaySpill) -> Vec<(i32, usize, Vec<i64>)> {
        let mut days = spill.into_days().unwrap();
        let mut out = Vec::new();
        while let Some(mut day) = days.next_day() {
            let mut numbers = Vec::new();
            while let Some(batch) = day.next_batch().unwrap() {
                numbers.extend(batch.column(1).as_primitive::<Int64Type>().values());
            }
            out.push((day.date, day.rows, numbers));
        }
        out
    }

    #[test]
    fn days_come_back_in_date_order_with_rows_in_input_order() {
        let mut spill = DaySpill::new();
        spill.push(batch(&[(3, 30), (1, 10), (3, 31)])).unwrap();
        spill.push(batch(&[])).unwrap();
        spill.push(batch(&[(2, 20), (1, 11)])).unwrap();
        assert_eq!(read_all(spill), [(1, 2, vec![10, 11]), (2, 1, vec![20]), (3, 2, vec![30, 31])]);
    }

    #[test]
    fn rows_of_a_day_keep_their_order_across_runs() {
        // Every push makes a run of its own.
        let mut spill = DaySpill { run_bytes: 1, ..DaySpill::new() };
        let rows = |date: i32, from: i64| -> RecordBatch {
            let mut rows: Vec<(i32, i64)> = (from..from + 1000).map(|n| (date, n)).collect();
            rows.push((9, from));
            batch(&rows)
        };
        spill.push(rows(5, 0)).unwrap();
        spill.push(rows(4, 1000)).unwrap();
        spill.push(rows(5, 2000)).unwrap();
        assert_eq!(spill.runs.len(), 3, "one run per push");
        let days = read_all(spill);
        let sizes: Vec<(i32, usize)> = days.iter().map(|d| (d.0, d.1)).collect();
        assert_eq!(sizes, [(4, 1000), (5, 2000), (9, 3)]);
        let fives = &days[1].2;
        assert_eq!(fives.len(), 2000);
        assert!(fives.windows(2).all(|w| w[0] < w[1]), "rows of day 5 in input order");
        assert_eq!(days[2].2, [0, 1000, 2000]);
    }

    #[test]
    fn an_empty_spill_has_no_days() {
        assert!(read_all(DaySpill::new()).is_empty());
    }
}
