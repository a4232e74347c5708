//! Arrow output: builders that turn JSON lines into [`RecordBatch`]es of the tables' schemas.
//!
//! Each builder decodes one line into column builders (a bad line adds nothing) and hands out
//! the rows so far on [`LineBatchBuilder::finish`]. Strings that needed no unescaping are copied
//! straight from the line into the column buffers, so a row costs no allocation of its own.

mod dated;
mod event;
mod identity;
mod profile;

use std::sync::Arc;

use arrow_array::builder::{StringBuilder, TimestampMicrosecondBuilder};
use arrow_array::{ArrayRef, Int64Array, RecordBatch};
use arrow_schema::SchemaRef;

use crate::error::LineError;

pub use dated::DatedEventBatchBuilder;
pub use event::EventBatchBuilder;
pub use identity::{IdentityBatchBuilder, IdentitySource};
pub use profile::ProfileBatchBuilder;

/// Rows built from JSON lines, a batch at a time; what [`StreamDecoder`](crate::StreamDecoder)
/// drives. The table builders make Arrow [`RecordBatch`]es; [`EventTextBuilder`](crate::EventTextBuilder)
/// makes JSON-lines text.
pub trait LineBatchBuilder {
    /// What [`finish`](Self::finish) hands out.
    type Batch;

    /// Decodes one line (without its line terminator) into one row.
    ///
    /// # Errors
    ///
    /// The line breaks the table's rules; it then adds no row.
    fn push_line(&mut self, line: &[u8]) -> Result<(), LineError>;

    /// Rows pushed since the last [`finish`](Self::finish).
    fn len(&self) -> usize;

    /// No rows pushed since the last [`finish`](Self::finish).
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// At least the batch size given at construction has been pushed.
    fn is_full(&self) -> bool;

    /// The rows pushed so far as one batch, `None` if there are none; the builder is empty and
    /// reusable afterwards.
    fn finish(&mut self) -> Option<Self::Batch>;
}

/// Sizing of the column builders: arrow's builders give their buffers away on `finish`, so each
/// batch starts from fresh ones, sized for a full batch so they do not grow row by row.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Capacity {
    /// Rows in a full batch (at least 1).
    pub(crate) rows: usize,
}

impl Capacity {
    pub(crate) fn new(batch_rows: usize) -> Self {
        Self { rows: batch_rows.max(1) }
    }

    pub(crate) fn timestamps(self) -> TimestampMicrosecondBuilder {
        TimestampMicrosecondBuilder::with_capacity(self.rows).with_timezone("UTC")
    }
}

/// A string column plus the bytes it is given per batch: an initial guess for the first
/// batch, then an eighth more than the first batch needed, or what the biggest batch so far
/// needed if that is more, so steady-state batches never reallocate.
pub(crate) struct Utf8Column {
    builder: StringBuilder,
    rows: usize,
    bytes: usize,
    /// Whether `bytes` was learned from a finished batch (else it is the initial guess).
    learned: bool,
}

impl Utf8Column {
    pub(crate) fn new(capacity: Capacity, bytes_per_row: usize) -> Self {
        let bytes = capacity.rows.saturating_mul(bytes_per_row);
        Self {
            builder: StringBuilder::with_capacity(capacity.rows, bytes),
            rows: capacity.rows,
            bytes,
            learned: false,
        }
    }

    #[inline]
    pub(crate) fn append(&mut self, s: &str) {
        self.builder.append_value(s);
    }

    #[inline]
    pub(crate) fn append_option(&mut self, s: Option<&str>) {
        self.builder.append_option(s);
    }

    /// The column so far; the builder starts over with the learned capacity.
    pub(crate) fn finish(&mut self) -> ArrayRef {
        self.finish_sized(self.rows)
    }

    /// As [`finish`](Self::finish), the builder starting over with room for `rows` rows.
    pub(crate) fn finish_sized(&mut self, rows: usize) -> ArrayRef {
        let used = self.builder.values_slice().len();
        self.bytes = if self.learned { self.bytes.max(used) } else { used + used / 8 };
        self.learned = true;
        self.rows = rows;
        let mut builder = StringBuilder::with_capacity(self.rows, self.bytes);
        std::mem::swap(&mut builder, &mut self.builder);
        Arc::new(builder.finish())
    }
}

/// The `_sync_id` column: the same run id on every row.
pub(crate) fn sync_id_column(sync_id: i64, rows: usize) -> ArrayRef {
    Arc::new(Int64Array::from_value(sync_id, rows))
}

/// Assembles a batch from columns built in schema order for `capacity` rows. A batch of less
/// than half its capacity (the last of a file or a request, a small file) gives its unused
/// room back: its columns were sized for a full batch (16 MB and more of text), and a batch
/// waiting to be written would otherwise hold all of it.
pub(crate) fn record_batch(
    schema: SchemaRef,
    mut columns: Vec<ArrayRef>,
    capacity: Capacity,
) -> RecordBatch {
    let rows = columns.first().map_or(0, |column| column.len());
    if rows < capacity.rows / 2 {
        for column in &mut columns {
            if let Some(column) = Arc::get_mut(column) {
                column.shrink_to_fit();
            }
        }
    }
    // The builders append exactly one value per row to every column, in schema order, with
    // nulls only in nullable columns; a mismatch is a bug in this crate, not bad input.
    RecordBatch::try_new(schema, columns).expect("columns are built to match their schema")
}
