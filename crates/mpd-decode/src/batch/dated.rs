//! Event lines whose dates come mixed (an export dump) to one `events` batch per date.

use std::fmt;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use super::event::Part;
use super::{Capacity, LineBatchBuilder};
use crate::error::LineError;
use crate::event::{EventDecoder, LineFormat, TimeCorrection};
use crate::typed::{TypedProperties, events_schema_with};

/// Builds [`events_schema_with`] batches of one `date` each: every row goes into its date's
/// batch as it is decoded, so that rows of a dump whose dates come mixed need not be copied
/// apart by date afterwards (the writer keeps each date's rows apart).
///
/// It is full when the rows of all dates together reach the batch size, and
/// [`finish`](Self::finish) hands out one batch per date, in date order: the rows held are
/// those of one batch, however many dates they spread over.
///
/// ```
/// use mpd_decode::{DatedEventBatchBuilder, LineFormat, TimeCorrection, TypedProperties};
///
/// let mut builder = DatedEventBatchBuilder::new(
///     LineFormat::Export, TimeCorrection::None, 7, 1024, TypedProperties::none());
/// for time in [1_700_000_000, 1_700_100_000, 1_700_000_001] {
///     let line = format!(r#"{{"event":"A","properties":{{"time":{time}}}}}"#);
///     builder.push_line(line.as_bytes())?;
/// }
/// let batches = builder.finish().expect("three rows");
/// let rows: Vec<usize> = batches.iter().map(|b| b.num_rows()).collect();
/// assert_eq!(rows, [2, 1], "two rows of 2023-11-14, one of 2023-11-16");
/// # Ok::<(), mpd_decode::LineError>(())
/// ```
pub struct DatedEventBatchBuilder {
    decoder: EventDecoder,
    sync_id: i64,
    batch_rows: usize,
    rows: usize,
    /// The dates with rows in the batch being built (or in the last one), in date order.
    parts: Vec<(i32, Part)>,
    /// The index in `parts` of the last row's date: rows of one date often come together.
    last: usize,
    typed: TypedProperties,
    schema: SchemaRef,
}

impl fmt::Debug for DatedEventBatchBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatedEventBatchBuilder")
            .field("decoder", &self.decoder)
            .field("sync_id", &self.sync_id)
            .field("batch_rows", &self.batch_rows)
            .field("rows", &self.rows)
            .field("dates", &self.parts.len())
            .finish_non_exhaustive()
    }
}

impl DatedEventBatchBuilder {
    /// A builder for lines of `format`, applying `correction` to every `time`, stamping every
    /// row with `sync_id`, with `typed`'s columns after the base columns, full after
    /// `batch_rows` rows (at least 1) of all dates together.
    #[must_use]
    pub fn new(
        format: LineFormat,
        correction: TimeCorrection,
        sync_id: i64,
        batch_rows: usize,
        typed: TypedProperties,
    ) -> Self {
        Self {
            decoder: EventDecoder::new(format, correction),
            sync_id,
            batch_rows: batch_rows.max(1),
            rows: 0,
            parts: Vec::new(),
            last: 0,
            schema: events_schema_with(&typed),
            typed,
        }
    }

    /// The schema of the batches this builder makes.
    #[must_use]
    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    /// Decodes one line (without its `\n`) into one row of its date's batch.
    ///
    /// # Errors
    ///
    /// As [`EventDecoder::decode`]; the line then adds no row.
    pub fn push_line(&mut self, line: &[u8]) -> Result<(), LineError> {
        let Self { decoder, parts, last, typed, batch_rows, .. } = self;
        let record = if typed.is_empty() {
            decoder.decode(line)?
        } else {
            let (held, at, rows, props) = (&mut *parts, &mut *last, *batch_rows, &*typed);
            let pick = move |day| {
                // Moving `held` in makes this closure FnOnce, so it can hand out its borrow.
                let held = held;
                let i = part_index(held, at, day, props, rows);
                &mut held[i].1.typed
            };
            decoder.decode_typed(line, typed, pick)?
        };
        let i = part_index(parts, last, record.day, typed, *batch_rows);
        parts[i].1.push(&record);
        self.rows += 1;
        Ok(())
    }

    /// Rows of all dates pushed since the last [`finish`](Self::finish).
    #[must_use]
    pub fn len(&self) -> usize {
        self.rows
    }

    /// No rows pushed since the last [`finish`](Self::finish).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// `len() >= batch_rows`.
    #[must_use]
    pub fn is_full(&self) -> bool {
        self.rows >= self.batch_rows
    }

    /// The rows so far as one batch per date, in date order, `None` if there are none; the
    /// builder is empty and reusable afterwards. Each date's builders start over sized for
    /// the rows that date just had; a date that had none is let go of.
    pub fn finish(&mut self) -> Option<Vec<RecordBatch>> {
        if self.rows == 0 {
            return None;
        }
        self.rows = 0;
        self.last = 0;
        let (schema, sync_id) = (&self.schema, self.sync_id);
        let mut batches = Vec::with_capacity(self.parts.len());
        self.parts.retain_mut(|(_, part)| {
            let next = Capacity::new((part.rows + part.rows / 8).max(MIN_PART_ROWS));
            part.finish(schema, sync_id, next).map(|batch| batches.push(batch)).is_some()
        });
        Some(batches)
    }
}

/// Room a date's builders start with, in rows, at least: they learn from their last batch.
const MIN_PART_ROWS: usize = 16;

/// The index of `day`'s part, made if `day` has none yet (sized for an eighth of a batch, as
/// a dump spreads a batch over several days; it grows if that is too little).
fn part_index(
    parts: &mut Vec<(i32, Part)>,
    last: &mut usize,
    day: i32,
    typed: &TypedProperties,
    batch_rows: usize,
) -> usize {
    if parts.get(*last).is_some_and(|(d, _)| *d == day) {
        return *last;
    }
    let i = parts.partition_point(|(d, _)| *d < day);
    if parts.get(i).is_none_or(|(d, _)| *d != day) {
        let capacity = Capacity::new((batch_rows / 8).max(MIN_PART_ROWS));
        parts.insert(i, (day, Part::new(capacity, typed)));
    }
    *last = i;
    i
}

impl LineBatchBuilder for DatedEventBatchBuilder {
    type Batch = Vec<RecordBatch>;

    fn push_line(&mut self, line: &[u8]) -> Result<(), LineError> {
        DatedEventBatchBuilder::push_line(self, line)
    }

    fn len(&self) -> usize {
        self.rows
    }

    fn is_full(&self) -> bool {
        DatedEventBatchBuilder::is_full(self)
    }

    fn finish(&mut self) -> Option<Vec<RecordBatch>> {
        DatedEventBatchBuilder::finish(self)
    }
}

#[cfg(test)]
mod tests;
