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
/// those of one batch, however many dates they spread over. At most 32 dates
/// (`MAX_DATES_APART`) get a batch of their own; rows of further dates share one batch, and
/// after a batch that spread over more dates than that, the next keeps all its rows together,
/// dates mixed: so many batches of a few rows each would cost more than copying them apart
/// later.
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
    rows: usize,
    parts: Parts,
    typed: TypedProperties,
    schema: SchemaRef,
}

/// Above this many dates in a batch, the next batch keeps its rows together, dates mixed.
const MAX_DATES_APART: usize = 32;

impl fmt::Debug for DatedEventBatchBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatedEventBatchBuilder")
            .field("decoder", &self.decoder)
            .field("sync_id", &self.sync_id)
            .field("batch_rows", &self.parts.batch_rows)
            .field("rows", &self.rows)
            .field("parts", &self.parts.list.len())
            .field("mixed", &self.parts.mixed)
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
            rows: 0,
            parts: Parts {
                list: Vec::new(),
                last: 0,
                overflow: None,
                overflow_days: Vec::new(),
                batch_rows: batch_rows.max(1),
                mixed: false,
            },
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
        let Self { decoder, parts, typed, .. } = self;
        let (held, props) = (&mut *parts, &*typed);
        let pick = move |day| {
            // Moving `held` in makes this closure FnOnce, so it can hand out its borrow.
            let held = held;
            &mut held.part(day, props).typed
        };
        let record = decoder.decode_typed(line, typed, pick)?;
        parts.part(record.day, typed).push(&record);
        self.rows += 1;
        Ok(())
    }

    /// The rows so far as one batch per date, in date order (and one batch of mixed dates, see
    /// the type's docs), `None` if there are none; the builder is empty and reusable
    /// afterwards. Each date's builders start over sized for the rows that date just had; a
    /// date that had none is let go of.
    pub fn finish(&mut self) -> Option<Vec<RecordBatch>> {
        if self.rows == 0 {
            return None;
        }
        self.rows = 0;
        Some(self.parts.finish(&self.schema, self.sync_id))
    }
}

/// The parts of the batch being built: one per date, up to [`MAX_DATES_APART`], and one for
/// the rows of any further dates, or of all dates when mixed.
struct Parts {
    /// By date, in date order.
    list: Vec<(i32, Part)>,
    /// The index of the last row's part: rows of one date often come together.
    last: usize,
    /// Rows of several dates together.
    overflow: Option<Part>,
    /// The distinct dates of the rows in `overflow`, in order.
    overflow_days: Vec<i32>,
    batch_rows: usize,
    /// Whether every row of this batch goes to `overflow`.
    mixed: bool,
}

impl Parts {
    /// The part a row of `day` goes into, made if there is none yet (a date's part sized for
    /// an eighth of a batch, as a dump spreads a batch over several days; it grows if that is
    /// too little).
    fn part(&mut self, day: i32, typed: &TypedProperties) -> &mut Part {
        if !self.mixed && self.date_part(day, typed) {
            return &mut self.list[self.last].1;
        }
        if let Err(at) = self.overflow_days.binary_search(&day) {
            self.overflow_days.insert(at, day);
        }
        let rows = self.batch_rows;
        self.overflow.get_or_insert_with(|| Part::new(Capacity::new(rows), typed))
    }

    /// Points `last` at `day`'s part, made if there is room for one more; false if not.
    fn date_part(&mut self, day: i32, typed: &TypedProperties) -> bool {
        if self.list.get(self.last).is_some_and(|(d, _)| *d == day) {
            return true;
        }
        let mut i = self.list.partition_point(|(d, _)| *d < day);
        if self.list.get(i).is_none_or(|(d, _)| *d != day) {
            if self.list.len() == MAX_DATES_APART {
                // A date kept from the last batch without rows in this one gives up its place.
                let Some(stale) = self.list.iter().position(|(_, p)| p.rows == 0) else {
                    return false;
                };
                self.list.remove(stale);
                i = self.list.partition_point(|(d, _)| *d < day);
            }
            let capacity = Capacity::new((self.batch_rows / 8).max(MIN_PART_ROWS));
            self.list.insert(i, (day, Part::new(capacity, typed)));
        }
        self.last = i;
        true
    }

    /// Every part's rows as a batch (the dates apart in date order, then the rows of mixed
    /// dates); decides whether the next batch is mixed.
    fn finish(&mut self, schema: &SchemaRef, sync_id: i64) -> Vec<RecordBatch> {
        let learned = |part: &Part| Capacity::new((part.rows + part.rows / 8).max(MIN_PART_ROWS));
        let mut batches = Vec::with_capacity(self.list.len() + 1);
        self.list.retain_mut(|(_, part)| {
            let next = learned(part);
            part.finish(schema, sync_id, next).map(|batch| batches.push(batch)).is_some()
        });
        // The dates this batch had: those with a part of their own (parts kept from the last
        // batch without rows in this one were just let go of) and the further ones.
        let mixed = batches.len() + self.overflow_days.len() > MAX_DATES_APART;
        if let Some(part) = &mut self.overflow {
            let next = learned(part);
            match part.finish(schema, sync_id, next) {
                Some(batch) => batches.push(batch),
                None => self.overflow = None,
            }
        }
        if mixed {
            self.list.clear();
        }
        if mixed != self.mixed {
            // Sized for a few rows of further dates, or for a whole batch: made anew when needed.
            self.overflow = None;
        }
        self.mixed = mixed;
        self.overflow_days.clear();
        self.last = 0;
        batches
    }
}

/// Room a date's builders start with, in rows, at least: they learn from their last batch.
const MIN_PART_ROWS: usize = 16;

impl LineBatchBuilder for DatedEventBatchBuilder {
    type Batch = Vec<RecordBatch>;

    fn push_line(&mut self, line: &[u8]) -> Result<(), LineError> {
        DatedEventBatchBuilder::push_line(self, line)
    }

    fn len(&self) -> usize {
        self.rows
    }

    /// The rows of all dates together reach the batch size.
    fn is_full(&self) -> bool {
        self.rows >= self.parts.batch_rows
    }

    fn finish(&mut self) -> Option<Vec<RecordBatch>> {
        DatedEventBatchBuilder::finish(self)
    }
}

#[cfg(test)]
mod tests;
