//! One export request (a range of days) from first byte to a finished, retried-if-needed
//! result. What happens to the lines is a [`RangeWork`]: text for `--stdout`, Arrow batches
//! for tables.

use chrono::NaiveDate;

use super::assemble::BadLine;
use crate::error::{Error, Result};
use crate::report::Reporter;
use crate::workspace::Workspace;

/// Days covered by one export request, both inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DayRange {
    pub(crate) from: NaiveDate,
    pub(crate) to: NaiveDate,
}

impl DayRange {
    /// `[from, to]` cut into ranges of `chunk_days` days (the last one may be shorter).
    pub(crate) fn split(from: NaiveDate, to: NaiveDate, chunk_days: u32) -> Vec<DayRange> {
        let days: Vec<NaiveDate> = from.iter_days().take_while(|d| *d <= to).collect();
        days.chunks(chunk_days.max(1) as usize)
            .filter_map(|chunk| Some(DayRange { from: *chunk.first()?, to: *chunk.last()? }))
            .collect()
    }

    pub(crate) fn n_days(self) -> u64 {
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

/// Which events to export and how: shared by streaming (`--stdout`) and fetching into tables.
#[derive(Debug, Clone)]
pub struct EventSelection {
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
    /// Requests run concurrently (results are still handled in day order).
    pub workers: usize,
    /// Days covered by one request (1 = day by day). Larger chunks spend fewer of Mixpanel's
    /// 60 export requests an hour; a failed request is retried whole.
    pub chunk_days: u32,
    /// Malformed lines accepted before the run fails.
    pub allow_bad_lines: u64,
    /// Where malformed lines go; default: the store's `_quarantine/` folder.
    pub quarantine_path: Option<std::path::PathBuf>,
}

impl EventSelection {
    /// Rejects a selection no request can serve (a range that ends before it starts), before
    /// credentials or the network are involved.
    pub fn validate(&self) -> Result<()> {
        if self.from > self.to {
            return Err(Error::InvalidArgument(format!(
                "--from {} is after --to {}: the range must start on or before its end",
                self.from, self.to
            )));
        }
        Ok(())
    }

    /// Every event of `[from, to]`, day by day, 4 requests at a time, no malformed line allowed.
    pub fn days(from: NaiveDate, to: NaiveDate) -> Self {
        Self {
            from,
            to,
            events: Vec::new(),
            where_expr: None,
            limit: None,
            workers: 4,
            chunk_days: 1,
            allow_bad_lines: 0,
            quarantine_path: None,
        }
    }
}

/// What every run over an [`EventSelection`] starts from.
pub(crate) struct RunPlan {
    pub(crate) ranges: Vec<DayRange>,
    pub(crate) n_days: u64,
    pub(crate) quarantine: super::quarantine::Quarantine,
    pub(crate) filter: ExportFilter,
    pub(crate) remaining: SharedLimit,
    pub(crate) workers: usize,
}

impl Workspace {
    /// Checks the selection and cuts it into requests.
    pub(crate) fn plan(&self, selection: &EventSelection) -> Result<RunPlan> {
        selection.validate()?;
        // Every plan ends in export requests: a missing account is reported before anything
        // else (such as the default store, which also needs the account's project).
        self.credentials()?;
        let ranges = DayRange::split(selection.from, selection.to, selection.chunk_days);
        let quarantine_path = match &selection.quarantine_path {
            Some(path) => path.clone(),
            None => self.quarantine_file_path("events", selection.from, selection.to)?,
        };
        Ok(RunPlan {
            n_days: ranges.iter().map(|r| r.n_days()).sum(),
            ranges,
            quarantine: super::quarantine::Quarantine::new(quarantine_path),
            filter: ExportFilter {
                events: selection.events.clone(),
                where_expr: selection.where_expr.clone(),
            },
            remaining: SharedLimit::new(selection.limit),
            // A limit is a budget shared by all requests, so they must run one after another.
            workers: if selection.limit.is_some() { 1 } else { selection.workers.max(1) },
        })
    }
}

/// A limit on the total number of events, shared by the requests of one run (which then run
/// one after another).
pub(crate) struct SharedLimit(std::cell::Cell<Option<u32>>);

impl SharedLimit {
    pub(crate) fn new(limit: Option<u32>) -> Self {
        Self(std::cell::Cell::new(limit))
    }

    /// What the next request may still return.
    pub(crate) fn remaining(&self) -> Option<u32> {
        self.0.get()
    }

    /// Counts `records` against the limit; true when it is used up.
    pub(crate) fn spend(&self, records: u64) -> bool {
        let Some(left) = self.0.get() else { return false };
        let left = left.saturating_sub(records.min(u64::from(u32::MAX)) as u32);
        self.0.set(Some(left));
        left == 0
    }
}

/// What an export request filters.
#[derive(Debug, Clone, Default)]
pub(crate) struct ExportFilter {
    pub(crate) events: Vec<String>,
    pub(crate) where_expr: Option<String>,
}

/// The work done on the lines of one attempt at a request. A fresh value is made for every
/// attempt, so a retried request starts from nothing.
pub(crate) trait RangeWork: Sized + Send + 'static {
    /// What a finished attempt hands back.
    type Output: Send;
    /// Takes one batch of lines; runs on the blocking pool.
    fn consume(self, batch: &mpd_api::LineBatch) -> Result<Self>;
    /// Records accepted so far.
    fn records(&self) -> u64;
    /// The body ended; returns the output and the bad lines.
    fn finish(self, hit_cap: bool) -> Result<(Self::Output, Vec<BadLine>)>;
}

/// A finished request.
pub(crate) struct RangeOutput<O> {
    pub(crate) range: DayRange,
    pub(crate) output: O,
    pub(crate) records: u64,
    pub(crate) bad: Vec<BadLine>,
    pub(crate) retries: u64,
    pub(crate) bytes_received: u64,
}

/// Why one attempt at a request failed.
enum AttemptError {
    /// The request failed before its body started; the client already retried it as its
    /// policy allows, so retrying again here would square the number of attempts.
    Open(mpd_api::Error),
    /// The body broke off (reset, `terminated early`, idle timeout): only the whole request
    /// can be sent again.
    Body(mpd_api::Error),
    /// This machine failed (spool, decoding task); never retried.
    Local(Error),
}

impl Workspace {
    /// Runs one export request to completion, retrying it whole when its body breaks off.
    pub(crate) async fn fetch_range<W: RangeWork>(
        &self,
        client: &mpd_api::Client,
        filter: &ExportFilter,
        range: DayRange,
        limit: Option<u32>,
        reporter: &dyn Reporter,
        new_work: impl Fn() -> W,
    ) -> Result<RangeOutput<W::Output>> {
        let policy = *client.retry_policy();
        let export = mpd_api::ExportRequest {
            from: range.from,
            to: range.to,
            events: filter.events.clone(),
            where_expr: filter.where_expr.clone(),
            limit,
            time_in_ms: false,
        };
        let cap = limit.map_or(u64::MAX, u64::from);
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            reporter.day_started(range.from);
            match attempt_range(client, &export, cap, reporter, new_work()).await {
                Ok((output, records, bad, bytes_received)) => {
                    return Ok(RangeOutput {
                        range,
                        output,
                        records,
                        bad,
                        retries: u64::from(attempt - 1),
                        bytes_received,
                    });
                }
                Err(AttemptError::Local(error)) => return Err(error),
                Err(AttemptError::Open(error)) => return Err(self.api_error(error)),
                Err(AttemptError::Body(error))
                    if error.is_retryable() && attempt < policy.max_attempts =>
                {
                    let delay = error.retry_after().unwrap_or_else(|| policy.backoff(attempt));
                    tracing::warn!(days = %range, attempt, delay_ms = delay.as_millis() as u64, %error, "retrying the request");
                    reporter.retrying(range.from, attempt, delay, &error.to_string());
                    tokio::time::sleep(delay).await;
                }
                Err(AttemptError::Body(error)) => return Err(self.api_error(error)),
            }
        }
    }
}

async fn attempt_range<W: RangeWork>(
    client: &mpd_api::Client,
    export: &mpd_api::ExportRequest,
    cap: u64,
    reporter: &dyn Reporter,
    mut work: W,
) -> std::result::Result<(W::Output, u64, Vec<BadLine>, u64), AttemptError> {
    let mut body = client.export(export).await.map_err(AttemptError::Open)?;
    while let Some(batch) = body.next_lines().await.map_err(AttemptError::Body)? {
        let before = work.records();
        // Validation and decoding are CPU work: they run on the blocking pool so that several
        // requests decode on several cores while this task keeps the sockets moving.
        work = tokio::task::spawn_blocking(move || work.consume(&batch))
            .await
            .map_err(|e| {
                AttemptError::Local(Error::Internal(format!("decoding task failed: {e}")))
            })?
            .map_err(AttemptError::Local)?;
        reporter.records_written(work.records() - before);
        if work.records() >= cap {
            break;
        }
    }
    let records = work.records();
    let bytes_received = body.bytes_received();
    let (output, bad) = work.finish(records >= cap).map_err(AttemptError::Local)?;
    Ok((output, records, bad, bytes_received))
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
