//! What happens to the bytes of one export request: the one line decoder every source goes
//! through (`mpd_decode::StreamDecoder`), and a place to hold the decoded batches until the
//! request completed (a retried request must never deliver rows twice).

use mpd_decode::{BadLine, LineBatchBuilder, StreamDecoder};
use mpd_ingest::{BatchSpool, SpoolBudget};

use super::range::RangeWork;
use super::spool::Spool;
use crate::error::{Error, Result};

/// Where a request's batches wait until the request completed.
pub(crate) trait Holding: Send + 'static {
    /// What is held: text for `--stdout`, Arrow batches for tables.
    type Batch: Send + 'static;
    /// Keeps one batch.
    fn hold(&mut self, batch: Self::Batch) -> Result<()>;
    /// Appends everything a later piece of the same request held.
    fn append(&mut self, later: Self) -> Result<()>;
}

impl Holding for Spool {
    type Batch = Vec<u8>;

    fn hold(&mut self, text: Vec<u8>) -> Result<()> {
        self.write(&text).map_err(spool_error)
    }

    fn append(&mut self, later: Spool) -> Result<()> {
        Spool::append(self, later).map_err(spool_error)
    }
}

fn spool_error(source: std::io::Error) -> Error {
    Error::Write { what: "the day's spool file".to_owned(), source }
}

impl Holding for BatchSpool {
    type Batch = arrow_array::RecordBatch;

    fn hold(&mut self, batch: arrow_array::RecordBatch) -> Result<()> {
        Ok(self.push(batch)?)
    }

    fn append(&mut self, later: BatchSpool) -> Result<()> {
        Ok(BatchSpool::append(self, later)?)
    }
}

/// One attempt at a request: its bytes through a fresh decoder into a fresh holding.
pub(crate) struct DecodeWork<B: LineBatchBuilder, H> {
    decoder: StreamDecoder<B>,
    held: H,
    batches: Vec<B::Batch>,
}

impl<B, H> DecodeWork<B, H>
where
    B: LineBatchBuilder,
{
    /// `cap`: the rows this attempt may accept (`--limit`), all when `None`.
    pub(crate) fn new(builder: B, held: H, cap: Option<u32>) -> Self {
        let decoder = StreamDecoder::with_builder(builder)
            .stop_at_truncation_marker()
            .with_row_limit(cap.map_or(u64::MAX, u64::from));
        Self { decoder, held, batches: Vec::new() }
    }
}

/// Why taking a chunk failed: the body (cut short, not JSON lines) or this machine.
pub(crate) enum WorkError {
    Body(mpd_decode::Error),
    Local(Error),
}

impl<B, H> RangeWork for DecodeWork<B, H>
where
    B: LineBatchBuilder + Send + 'static,
    B::Batch: Send,
    H: Holding<Batch = B::Batch>,
{
    type Output = H;

    fn append(output: &mut H, later: H) -> Result<()> {
        output.append(later)
    }

    fn consume(mut self, chunk: &[u8]) -> std::result::Result<Self, WorkError> {
        self.decoder.feed_into(chunk, &mut self.batches).map_err(WorkError::Body)?;
        for batch in self.batches.drain(..) {
            self.held.hold(batch).map_err(WorkError::Local)?;
        }
        Ok(self)
    }

    fn records(&self) -> u64 {
        self.decoder.records_read()
    }

    fn finish(mut self) -> std::result::Result<(H, Vec<BadLine>), WorkError> {
        if let Some(last) = self.decoder.finish().map_err(WorkError::Body)? {
            self.held.hold(last).map_err(WorkError::Local)?;
        }
        Ok((self.held, self.decoder.take_bad_lines()))
    }
}

/// Rows per decoded batch of a table load. Each request in flight keeps a builder of this many
/// rows. 16 Ki instead of 32 Ki, with the smaller spool budget below and one malloc arena per
/// core, took a 1M-event fetch from 612–662 to 328–351 MB at the same speed (single runs);
/// 8 Ki instead of 16 Ki, with the requests read while a finished one is taken
/// (`requests.rs`), from 283–343 to 254–284 MB for 3% more wall time and 4% less CPU (6
/// rounds of whole fetches, docs/PERFORMANCE.md).
const BATCH_ROWS: usize = 8_192;
/// Bytes of batches the requests of a run keep in memory, all together, before a request's
/// batches go to a temporary file (Arrow IPC: written and read back at memory speed). 48 MiB
/// instead of 96 MiB is part of the change measured at [`BATCH_ROWS`].
const SPOOL_MEMORY_LIMIT: usize = 48 << 20;

/// The memory budget the requests of one run share.
pub(crate) fn spool_budget() -> SpoolBudget {
    SpoolBudget::new(SPOOL_MEMORY_LIMIT)
}

/// One attempt at an export request for a table: lines become Arrow batches in a spool that
/// shares `budget` with the run's other requests.
pub(crate) fn batch_work(
    sync_id: i64,
    typed: mpd_decode::TypedProperties,
    budget: &SpoolBudget,
    cap: Option<u32>,
) -> DecodeWork<mpd_decode::EventBatchBuilder, BatchSpool> {
    let builder = mpd_decode::EventBatchBuilder::with_typed(
        mpd_decode::LineFormat::Export,
        mpd_decode::TimeCorrection::None,
        sync_id,
        BATCH_ROWS,
        typed,
    );
    let spool = BatchSpool::new(builder.schema(), budget.clone());
    DecodeWork::new(builder, spool, cap)
}
