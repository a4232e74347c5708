//! Event lines to `events` batches.

use std::fmt;
use std::sync::Arc;

use arrow_array::builder::{Date32Builder, TimestampMicrosecondBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::SchemaRef;

use super::{Capacity, LineBatchBuilder, Utf8Column, record_batch, sync_id_column};
use crate::error::LineError;
use crate::event::{EventDecoder, EventRecord, LineFormat, TimeCorrection};
use crate::typed::{TypedColumns, TypedProperties, events_schema_with};

/// Builds `events` batches ([`events_schema`](crate::events_schema)) from event lines, reusing one [`EventDecoder`].
///
/// ```
/// use arrow_array::{Array, StringArray};
/// use mpd_decode::{EventBatchBuilder, LineFormat, TimeCorrection};
///
/// let mut builder = EventBatchBuilder::new(LineFormat::Export, TimeCorrection::None, 7, 1024);
/// builder.push_line(br#"{"event":"Login","properties":{"time":1700000000,"distinct_id":"u1"}}"#)?;
/// assert!(builder.push_line(b"not json").is_err());
/// let batch = builder.finish().expect("one row");
/// assert_eq!(batch.num_rows(), 1);
/// let names = batch.column(0).as_any().downcast_ref::<StringArray>().unwrap();
/// assert_eq!(names.value(0), "Login");
/// # Ok::<(), mpd_decode::LineError>(())
/// ```
pub struct EventBatchBuilder {
    decoder: EventDecoder,
    sync_id: i64,
    capacity: Capacity,
    part: Part,
    typed: TypedProperties,
    schema: SchemaRef,
}

impl fmt::Debug for EventBatchBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventBatchBuilder")
            .field("decoder", &self.decoder)
            .field("sync_id", &self.sync_id)
            .field("batch_rows", &self.capacity.rows)
            .field("rows", &self.part.rows)
            .finish_non_exhaustive()
    }
}

/// The column builders, in schema order (`_sync_id` is filled in at `finish`).
struct Columns {
    event_name: Utf8Column,
    time: TimestampMicrosecondBuilder,
    date: Date32Builder,
    distinct_id: Utf8Column,
    device_id: Utf8Column,
    user_id: Utf8Column,
    insert_id: Utf8Column,
    mp_processing_time: TimestampMicrosecondBuilder,
    properties: Utf8Column,
}

impl Columns {
    /// Initial bytes per row are those of a typical export line (about 440 bytes, 350 of
    /// them properties); the columns learn the real sizes after the first batch.
    fn new(capacity: Capacity) -> Self {
        Self {
            event_name: Utf8Column::new(capacity, 16),
            time: capacity.timestamps(),
            date: Date32Builder::with_capacity(capacity.rows),
            distinct_id: Utf8Column::new(capacity, 24),
            device_id: Utf8Column::new(capacity, 24),
            user_id: Utf8Column::new(capacity, 24),
            insert_id: Utf8Column::new(capacity, 36),
            mp_processing_time: capacity.timestamps(),
            properties: Utf8Column::new(capacity, 512),
        }
    }
}

/// The rows of one batch being built: base and typed columns.
pub(super) struct Part {
    cols: Columns,
    pub(super) typed: TypedColumns,
    pub(super) rows: usize,
    /// What the builders were last sized for.
    capacity: Capacity,
}

impl Part {
    pub(super) fn new(capacity: Capacity, typed: &TypedProperties) -> Self {
        Self {
            cols: Columns::new(capacity),
            typed: TypedColumns::new(typed, capacity),
            rows: 0,
            capacity,
        }
    }

    /// Appends the base columns of a decoded event (its typed values are appended while
    /// decoding).
    pub(super) fn push(&mut self, record: &EventRecord<'_>) {
        let c = &mut self.cols;
        c.event_name.append(&record.event_name);
        c.time.append_value(record.time_us);
        c.date.append_value(record.day);
        c.distinct_id.append(&record.distinct_id);
        c.device_id.append_option(record.device_id.as_deref());
        c.user_id.append_option(record.user_id.as_deref());
        c.insert_id.append_option(record.insert_id.as_deref());
        // Milliseconds as microseconds: Delta Lake has no millisecond timestamps.
        c.mp_processing_time
            .append_option(record.mp_processing_time_ms.and_then(|ms| ms.checked_mul(1_000)));
        c.properties.append(record.properties);
        self.rows += 1;
    }

    /// The rows so far as one batch, `None` if there are none; the builders start over with
    /// room for `next`.
    pub(super) fn finish(
        &mut self,
        schema: &SchemaRef,
        sync_id: i64,
        next: Capacity,
    ) -> Option<RecordBatch> {
        if self.rows == 0 {
            return None;
        }
        let rows = std::mem::take(&mut self.rows);
        let built = std::mem::replace(&mut self.capacity, next);
        let n = next.rows;
        let c = &mut self.cols;
        let mut columns: Vec<ArrayRef> = vec![
            c.event_name.finish_sized(n),
            Arc::new(std::mem::replace(&mut c.time, next.timestamps()).finish()),
            Arc::new(std::mem::replace(&mut c.date, Date32Builder::with_capacity(n)).finish()),
            c.distinct_id.finish_sized(n),
            c.device_id.finish_sized(n),
            c.user_id.finish_sized(n),
            c.insert_id.finish_sized(n),
            Arc::new(std::mem::replace(&mut c.mp_processing_time, next.timestamps()).finish()),
            c.properties.finish_sized(n),
            sync_id_column(sync_id, rows),
        ];
        columns.extend(self.typed.finish(next));
        Some(record_batch(Arc::clone(schema), columns, built))
    }
}

impl EventBatchBuilder {
    /// A builder for lines of `format`, applying `correction` to every `time`, stamping every
    /// row with `sync_id`, and full after `batch_rows` rows (at least 1).
    #[must_use]
    pub fn new(
        format: LineFormat,
        correction: TimeCorrection,
        sync_id: i64,
        batch_rows: usize,
    ) -> Self {
        Self::with_typed(format, correction, sync_id, batch_rows, TypedProperties::none())
    }

    /// As [`new`](Self::new), with `typed`'s columns after the base columns
    /// ([`events_schema_with`]).
    #[must_use]
    pub fn with_typed(
        format: LineFormat,
        correction: TimeCorrection,
        sync_id: i64,
        batch_rows: usize,
        typed: TypedProperties,
    ) -> Self {
        let capacity = Capacity::new(batch_rows);
        Self {
            decoder: EventDecoder::new(format, correction),
            sync_id,
            capacity,
            part: Part::new(capacity, &typed),
            schema: events_schema_with(&typed),
            typed,
        }
    }

    /// The schema of the batches this builder makes.
    #[must_use]
    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    /// Decodes one line (without its `\n`) into one row.
    ///
    /// # Errors
    ///
    /// As [`EventDecoder::decode`]; the line then adds no row.
    pub fn push_line(&mut self, line: &[u8]) -> Result<(), LineError> {
        let part = &mut self.part;
        let record = self.decoder.decode_typed(line, &self.typed, |_| &mut part.typed)?;
        part.push(&record);
        Ok(())
    }

    /// Rows pushed since the last [`finish`](Self::finish).
    #[must_use]
    pub fn len(&self) -> usize {
        self.part.rows
    }

    /// No rows pushed since the last [`finish`](Self::finish).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.part.rows == 0
    }

    /// `len() >= batch_rows`.
    #[must_use]
    pub fn is_full(&self) -> bool {
        self.part.rows >= self.capacity.rows
    }

    /// The rows so far as one [`events_schema`](crate::events_schema) batch, `None` if there are none; the builder
    /// is empty and reusable afterwards.
    pub fn finish(&mut self) -> Option<RecordBatch> {
        self.part.finish(&self.schema, self.sync_id, self.capacity)
    }
}

impl LineBatchBuilder for EventBatchBuilder {
    type Batch = RecordBatch;

    fn push_line(&mut self, line: &[u8]) -> Result<(), LineError> {
        EventBatchBuilder::push_line(self, line)
    }

    fn len(&self) -> usize {
        self.part.rows
    }

    fn is_full(&self) -> bool {
        EventBatchBuilder::is_full(self)
    }

    fn finish(&mut self) -> Option<RecordBatch> {
        EventBatchBuilder::finish(self)
    }
}

#[cfg(test)]
mod tests;
