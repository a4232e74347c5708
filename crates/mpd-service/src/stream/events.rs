//! `mpd fetch events --stdout`: export request by request (one day each by default), exactly
//! once on the writer under faults.

use std::cell::Cell;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use chrono::NaiveDate;
use futures_util::StreamExt;

use super::assemble::{BadLine, LineAssembler, OutputShape};
use super::quarantine::Quarantine;
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

/// Days covered by one export request, both inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DayRange {
    from: NaiveDate,
    to: NaiveDate,
}

impl DayRange {
    /// `[from, to]` cut into ranges of `chunk_days` days (the last one may be shorter).
    fn split(from: NaiveDate, to: NaiveDate, chunk_days: u32) -> Vec<DayRange> {
        let days: Vec<NaiveDate> = from.iter_days().take_while(|d| *d <= to).collect();
        days.chunks(chunk_days.max(1) as usize)
            .filter_map(|chunk| Some(DayRange { from: *chunk.first()?, to: *chunk.last()? }))
            .collect()
    }

    fn n_days(self) -> u64 {
        (self.to - self.from).num_days().unsigned_abs() + 1
    }
}

impl std::fmt::Display for DayRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.from == self.to {
            write!(f, "{}", self.from)
        } else {
            write!(f, "{}..={}", self.from, self.to)
        }
    }
}

/// One finished request, ready to be written.
struct DayOutput {
    range: DayRange,
    spool: Spool,
    records: u64,
    bad: Vec<BadLine>,
    retries: u64,
    bytes_received: u64,
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
            None => self.store_location()?.quarantine_dir().join(format!(
                "events-{}-{}-{}.jsonl",
                request.from,
                request.to,
                chrono::Utc::now().format("%Y%m%dT%H%M%S")
            )),
        };
        let mut quarantine = Quarantine::new(quarantine_path);
        let mut summary = StreamSummary { days: n_days, ..StreamSummary::default() };
        reporter.started("events", n_days);
        // A limit is a budget shared by all days, so those days must run one after another.
        let workers = if request.limit.is_some() { 1 } else { request.workers.max(1) };
        let client = self.client()?;
        let remaining = Cell::new(request.limit);
        let mut outputs = futures_util::stream::iter(ranges.iter().copied())
            .map(|range| self.fetch_range(client, request, range, reporter, remaining.get()))
            .buffered(workers);
        while let Some(output) = outputs.next().await {
            let output = output?;
            summary.records += output.records;
            summary.bytes_written += output.spool.len();
            summary.bytes_received += output.bytes_received;
            summary.retries += output.retries;
            quarantine.record(output.range.from, output.range.to, &output.bad)?;
            output
                .spool
                .copy_to(out)
                .and_then(|()| out.flush())
                .map_err(|source| Error::Write { what: "output".to_owned(), source })?;
            reporter.days_finished(output.range.from, output.range.n_days(), output.records);
            if let Some(left) = remaining.get() {
                let left = left.saturating_sub(output.records.min(u64::from(u32::MAX)) as u32);
                remaining.set(Some(left));
                if left == 0 {
                    break;
                }
            }
        }
        drop(outputs);
        reporter.finished();
        summary.quarantined = quarantine.count();
        summary.elapsed_secs = started.elapsed().as_secs_f64();
        if quarantine.count() > 0 {
            summary.quarantine_file = Some(quarantine.path().to_path_buf());
            if quarantine.count() > request.allow_bad_lines {
                return Err(Error::BadLines {
                    count: quarantine.count(),
                    allowed: request.allow_bad_lines,
                    path: quarantine.path().to_path_buf(),
                });
            }
        }
        Ok(summary)
    }

    async fn fetch_range(
        &self,
        client: &mpd_api::Client,
        request: &StreamEventsRequest,
        range: DayRange,
        reporter: &dyn Reporter,
        limit: Option<u32>,
    ) -> Result<DayOutput> {
        let policy = *client.retry_policy();
        let export = mpd_api::ExportRequest {
            from: range.from,
            to: range.to,
            events: request.events.clone(),
            where_expr: request.where_expr.clone(),
            limit,
            time_in_ms: false,
        };
        let shape = if request.raw { OutputShape::Raw } else { OutputShape::Normalized };
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            reporter.day_started(range.from);
            match self.try_fetch_range(client, &export, shape, range, reporter, limit).await {
                Ok(mut output) => {
                    output.retries = u64::from(attempt - 1);
                    return Ok(output);
                }
                Err(DayError::Local(error)) => return Err(error),
                Err(DayError::Open(error)) => return Err(self.api_error(error)),
                Err(DayError::Body(error))
                    if error.is_retryable() && attempt < policy.max_attempts =>
                {
                    let delay = error.retry_after().unwrap_or_else(|| policy.backoff(attempt));
                    tracing::warn!(days = %range, attempt, delay_ms = delay.as_millis() as u64, %error, "retrying the request");
                    reporter.retrying(range.from, attempt, delay, &error.to_string());
                    tokio::time::sleep(delay).await;
                }
                Err(DayError::Body(error)) => return Err(self.api_error(error)),
            }
        }
    }

    async fn try_fetch_range(
        &self,
        client: &mpd_api::Client,
        export: &mpd_api::ExportRequest,
        shape: OutputShape,
        range: DayRange,
        reporter: &dyn Reporter,
        limit: Option<u32>,
    ) -> std::result::Result<DayOutput, DayError> {
        let mut body = client.export(export).await.map_err(DayError::Open)?;
        let mut work = DayWork {
            assembler: LineAssembler::new(shape),
            spool: Spool::new(SPOOL_MEMORY_LIMIT),
            bad: Vec::new(),
            buffer: Vec::with_capacity(1 << 16),
            records: 0,
            cap: limit.map_or(u64::MAX, u64::from),
        };
        while let Some(batch) = body.next_lines().await.map_err(DayError::Body)? {
            let before = work.records;
            // Validation and normalisation are CPU work: they run on the blocking pool so that
            // several days decode on several cores while this task keeps the sockets moving.
            work = tokio::task::spawn_blocking(move || work.consume(&batch))
                .await
                .map_err(|e| {
                    DayError::Local(Error::Internal(format!("decoding task failed: {e}")))
                })?
                .map_err(DayError::Local)?;
            reporter.records_written(work.records - before);
            if work.records >= work.cap {
                break;
            }
        }
        let DayWork { mut assembler, spool, mut bad, records, cap, .. } = work;
        if records < cap {
            assembler.finish(&mut bad);
        }
        Ok(DayOutput {
            range,
            spool,
            records,
            bad,
            retries: 0,
            bytes_received: body.bytes_received(),
        })
    }
}

/// Why one attempt at a day failed.
enum DayError {
    /// The request failed before its body started; the client already retried it as its
    /// policy allows, so retrying again here would square the number of attempts.
    Open(mpd_api::Error),
    /// The body broke off (reset, `terminated early`, idle timeout): only the whole day can be
    /// requested again.
    Body(mpd_api::Error),
    /// This machine failed (spool, decoding task); never retried.
    Local(Error),
}

/// The state of one day's attempt, moved to the blocking pool for each batch.
struct DayWork {
    assembler: LineAssembler,
    spool: Spool,
    bad: Vec<BadLine>,
    buffer: Vec<u8>,
    records: u64,
    cap: u64,
}

impl DayWork {
    /// Turns a batch of lines into output in the spool, stopping at the record cap.
    fn consume(mut self, batch: &mpd_api::LineBatch) -> Result<Self> {
        self.buffer.clear();
        for line in batch.iter() {
            self.records +=
                self.assembler.push(line.number, line.bytes, &mut self.buffer, &mut self.bad);
            if self.records >= self.cap {
                break;
            }
        }
        self.spool
            .write(&self.buffer)
            .map_err(|source| Error::Write { what: "the day's spool file".to_owned(), source })?;
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 1, d).unwrap()
    }

    #[test]
    fn ranges_cover_every_day_once_in_order() {
        let ranges = DayRange::split(day(1), day(10), 3);
        let bounds: Vec<(u32, u32)> = ranges
            .iter()
            .map(|r| (chrono::Datelike::day(&r.from), chrono::Datelike::day(&r.to)))
            .collect();
        assert_eq!(bounds, vec![(1, 3), (4, 6), (7, 9), (10, 10)]);
        assert_eq!(ranges.iter().map(|r| r.n_days()).sum::<u64>(), 10);
    }

    #[test]
    fn one_day_chunks_and_zero_are_day_by_day() {
        assert_eq!(DayRange::split(day(1), day(3), 1).len(), 3);
        assert_eq!(DayRange::split(day(1), day(3), 0).len(), 3);
        assert_eq!(DayRange::split(day(2), day(2), 7), vec![DayRange { from: day(2), to: day(2) }]);
    }
}
