//! `mpd fetch events --stdout`: export request by request (one day each by default), exactly
//! once on the writer under faults.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use mpd_decode::{EventTextBuilder, LineFormat, TextShape, TimeCorrection};

use super::range::EventSelection;
use super::requests::BadLinePolicy;
use super::spool::Spool;
use super::work::DecodeWork;
use crate::error::{Error, Result};
use crate::report::Reporter;
use crate::workspace::Workspace;

/// Bytes of one day kept in memory before the day's spool moves to a temporary file.
const SPOOL_MEMORY_LIMIT: usize = 16 << 20;
/// Text handed from the decoder to the spool at once.
const TEXT_BATCH_BYTES: usize = 256 << 10;

/// What to stream.
#[derive(Debug, Clone)]
pub struct StreamEventsRequest {
    /// Which events, and how they are requested.
    pub selection: EventSelection,
    /// Emit Mixpanel's lines unchanged instead of normalised records.
    pub raw: bool,
}

/// What a streaming run did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct StreamSummary {
    /// Days requested.
    pub days: u64,
    /// Records written.
    pub records: u64,
    /// Bytes written to the output.
    pub bytes_written: u64,
    /// Bytes received from Mixpanel (compressed when gzip was used).
    pub bytes_received: u64,
    /// Day requests that were retried after a failure.
    pub retries: u64,
    /// Days Mixpanel cut short on every try, fetched in smaller requests instead.
    pub split_days: Vec<chrono::NaiveDate>,
    /// Malformed lines quarantined.
    pub quarantined: u64,
    /// The quarantine file, when lines were quarantined.
    pub quarantine_file: Option<PathBuf>,
    /// Wall-clock seconds.
    pub elapsed_secs: f64,
}

/// Streams events day by day to `out`. Each day is held back until its request completed,
/// so a day retried after a fault never writes a line twice, and days are written in order.
pub(crate) async fn stream_events(
    ws: &Workspace,
    request: &StreamEventsRequest,
    out: &mut dyn Write,
    reporter: &dyn Reporter,
) -> Result<StreamSummary> {
    let started = Instant::now();
    let plan = ws.plan(&request.selection)?;
    let mut summary = StreamSummary { days: plan.n_days, ..StreamSummary::default() };
    let shape = if request.raw { TextShape::Raw } else { TextShape::Normalized };
    let new_work = move |cap| {
        let text = EventTextBuilder::new(
            LineFormat::Export,
            TimeCorrection::None,
            shape,
            TEXT_BATCH_BYTES,
        );
        DecodeWork::new(text, Spool::new(SPOOL_MEMORY_LIMIT), cap)
    };
    let policy = BadLinePolicy::AtEnd(request.selection.allow_bad_lines);
    let mut bytes_written = 0;
    let totals = ws
        .run_requests(plan, policy, reporter, new_work, async |output| {
            bytes_written += output.output.len();
            output
                .output
                .copy_to(out)
                .and_then(|()| out.flush())
                .map_err(|source| Error::Write { what: "output".to_owned(), source })
        })
        .await;
    reporter.finished();
    let totals = totals?;
    summary.records = totals.records;
    summary.bytes_written = bytes_written;
    summary.bytes_received = totals.bytes_received;
    summary.retries = totals.retries;
    summary.split_days = totals.split_days;
    (summary.quarantined, summary.quarantine_file) = (totals.quarantined, totals.quarantine_file);
    summary.elapsed_secs = started.elapsed().as_secs_f64();
    Ok(summary)
}
