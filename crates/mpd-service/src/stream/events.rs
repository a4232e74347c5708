//! `mpd fetch events --stdout`: export request by request (one day each by default), exactly
//! once on the writer under faults.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use chrono::NaiveDate;
use futures_util::StreamExt;

use super::assemble::{BadLine, LineAssembler, OutputShape, TextSink};
use super::quarantine::Quarantine;
use super::range::{DayRange, ExportFilter, RangeWork, SharedLimit};
use super::spool::Spool;
use crate::error::{Error, Result};
use crate::report::Reporter;
use crate::workspace::Workspace;

/// Bytes of one day kept in memory before the day's spool moves to a temporary file.
const SPOOL_MEMORY_LIMIT: usize = 16 << 20;

/// What to stream.
#[derive(Debug, Clone)]
pub struct StreamEventsRequest {
    /// First day, inclusive.
    pub from: NaiveDate,
    /// Last day, inclusive.
    pub to: NaiveDate,
    /// Only these event names (all when empty).
    pub events: Vec<String>,
    /// A Mixpanel segmentation expression, passed through.
    pub where_expr: Option<String>,
    /// At most this many events in total.
    pub limit: Option<u32>,
    /// Emit Mixpanel's lines unchanged instead of normalised records.
    pub raw: bool,
    /// Requests run concurrently (output stays in day order).
    pub workers: usize,
    /// Days covered by one request (1 = day by day). Larger chunks spend fewer of Mixpanel's
    /// 60 export requests an hour; a failed request is retried whole.
    pub chunk_days: u32,
    /// Malformed lines accepted before the run fails.
    pub allow_bad_lines: u64,
    /// Where malformed lines go; default: the store's `_quarantine/` folder.
    pub quarantine_path: Option<PathBuf>,
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
    /// Malformed lines quarantined.
    pub quarantined: u64,
    /// The quarantine file, when lines were quarantined.
    pub quarantine_file: Option<PathBuf>,
    /// Wall-clock seconds.
    pub elapsed_secs: f64,
}

impl Workspace {
    /// Streams events day by day to `out`. Each day is held back until its request completed,
    /// so a day retried after a fault never writes a line twice, and days are written in order.
    pub async fn stream_events(
        &self,
        request: &StreamEventsRequest,
        out: &mut dyn Write,
        reporter: &dyn Reporter,
    ) -> Result<StreamSummary> {
        if request.from > request.to {
            return Err(Error::InvalidArgument(format!(
                "--from {} is after --to {}: the range must start on or before its end",
                request.from, request.to
            )));
        }
        let started = Instant::now();
        let ranges = DayRange::split(request.from, request.to, request.chunk_days);
        let n_days: u64 = ranges.iter().map(|r| r.n_days()).sum();
        let quarantine_path = match &request.quarantine_path {
            Some(path) => path.clone(),
            None => self.quarantine_file_path("events", request.from, request.to)?,
        };
        let mut quarantine = Quarantine::new(quarantine_path);
        let mut summary = StreamSummary { days: n_days, ..StreamSummary::default() };
        reporter.started("events", n_days);
        // A limit is a budget shared by all days, so those days must run one after another.
        let workers = if request.limit.is_some() { 1 } else { request.workers.max(1) };
        let client = self.client()?;
        let remaining = SharedLimit::new(request.limit);
        let filter =
            ExportFilter { events: request.events.clone(), where_expr: request.where_expr.clone() };
        let shape = if request.raw { OutputShape::Raw } else { OutputShape::Normalized };
        let mut outputs = futures_util::stream::iter(ranges.iter().copied())
            .map(|range| {
                let limit = remaining.remaining();
                self.fetch_range(client, &filter, range, limit, reporter, move || TextWork {
                    assembler: LineAssembler::default(),
                    sink: TextSink::new(shape),
                    spool: Spool::new(SPOOL_MEMORY_LIMIT),
                    bad: Vec::new(),
                    records: 0,
                    cap: limit.map_or(u64::MAX, u64::from),
                })
            })
            .buffered(workers);
        while let Some(output) = outputs.next().await {
            let output = output?;
            summary.records += output.records;
            summary.bytes_written += output.output.len();
            summary.bytes_received += output.bytes_received;
            summary.retries += output.retries;
            quarantine.record(output.range.from, output.range.to, &output.bad)?;
            output
                .output
                .copy_to(out)
                .and_then(|()| out.flush())
                .map_err(|source| Error::Write { what: "output".to_owned(), source })?;
            reporter.days_finished(output.range.from, output.range.n_days(), output.records);
            if remaining.spend(output.records) {
                break;
            }
        }
        drop(outputs);
        reporter.finished();
        summary.elapsed_secs = started.elapsed().as_secs_f64();
        (summary.quarantined, summary.quarantine_file) =
            quarantine.finish(request.allow_bad_lines)?;
        Ok(summary)
    }
}

/// One attempt at a request for `--stdout`: lines become text in a spool.
struct TextWork {
    assembler: LineAssembler,
    sink: TextSink,
    spool: Spool,
    bad: Vec<BadLine>,
    records: u64,
    cap: u64,
}

impl RangeWork for TextWork {
    type Output = Spool;

    fn consume(mut self, batch: &mpd_api::LineBatch) -> Result<Self> {
        self.sink.out.clear();
        for line in batch.iter() {
            self.records +=
                self.assembler.push(line.number, line.bytes, &mut self.sink, &mut self.bad);
            if self.records >= self.cap {
                break;
            }
        }
        self.spool
            .write(&self.sink.out)
            .map_err(|source| Error::Write { what: "the day's spool file".to_owned(), source })?;
        Ok(self)
    }

    fn records(&self) -> u64 {
        self.records
    }

    fn finish(mut self, hit_cap: bool) -> Result<(Spool, Vec<BadLine>)> {
        if !hit_cap {
            self.assembler.finish(&mut self.bad);
        }
        Ok((self.spool, self.bad))
    }
}
