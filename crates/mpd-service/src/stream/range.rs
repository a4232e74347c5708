//! One export request (a range of days) from first byte to a finished, retried-if-needed
//! result. What happens to the lines is a [`RangeWork`]: text for `--stdout`, Arrow batches
//! for tables.
//!
//! Mixpanel cuts exports that are too large (the body ends in `terminated early`), on every
//! try. A request cut on every attempt is split before the run gives up: a range of days into
//! single days, a day into four windows of its `$time`, and each window into six. Windows are
//! sent as `where` filters beside the same `from_date`/`to_date`; the first and last window of
//! a day are open-ended, so every event of the day falls in exactly one window whatever the
//! project's time zone. The pieces' results are joined in order into one output.

use chrono::NaiveDate;
use mpd_decode::BadLine;

use super::work::WorkError;
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

/// The work done on the bytes of one attempt at a request (`work::DecodeWork`). A fresh value
/// is made for every attempt, so a retried request starts from nothing.
pub(crate) trait RangeWork: Sized + Send + 'static {
    /// What a finished attempt hands back.
    type Output: Send;
    /// Appends the output of a later piece of a split request to `output`.
    fn append(output: &mut Self::Output, piece: Self::Output) -> Result<()>;
    /// Takes one chunk of the body; runs on the blocking pool.
    fn consume(self, chunk: &[u8]) -> std::result::Result<Self, WorkError>;
    /// Records accepted so far.
    fn records(&self) -> u64;
    /// The body ended; returns the output and the bad lines.
    fn finish(self) -> std::result::Result<(Self::Output, Vec<BadLine>), WorkError>;
}

/// A finished request.
pub(crate) struct RangeOutput<O> {
    pub(crate) range: DayRange,
    pub(crate) output: O,
    pub(crate) records: u64,
    pub(crate) bad: Vec<BadLine>,
    pub(crate) retries: u64,
    pub(crate) bytes_received: u64,
    /// Days Mixpanel cut short on every try, fetched in smaller requests instead.
    pub(crate) split_days: Vec<NaiveDate>,
}

/// A window of `$time` (unix seconds, `from` inclusive, `to` exclusive; `None` is open).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TimeWindow {
    from: Option<i64>,
    to: Option<i64>,
}

/// One request of a possibly split range: its days, a window of `$time` within them, and how
/// many times a single day was split to get here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Piece {
    range: DayRange,
    window: Option<TimeWindow>,
    depth: u8,
}

/// Windows a day is split into first, and each window after that.
const DAY_PIECES: i64 = 4;
const WINDOW_PIECES: i64 = 6;
const HOUR: i64 = 3600;

impl Piece {
    fn whole(range: DayRange) -> Self {
        Piece { range, window: None, depth: 0 }
    }

    /// The smaller requests this one is split into, in time order; `None` when it is already
    /// as small as mpd asks for (a day split twice: windows of an hour).
    fn split(self) -> Option<Vec<Piece>> {
        if self.range.from != self.range.to {
            let days = self.range.from.iter_days().take_while(|d| *d <= self.range.to);
            return Some(days.map(|d| Piece::whole(DayRange { from: d, to: d })).collect());
        }
        let (first, last, cuts) = match (self.depth, self.window) {
            // A whole day: cut at 6:00, 12:00 and 18:00 UTC; the outer windows stay open.
            (0, _) => {
                let midnight = self.range.from.and_hms_opt(0, 0, 0)?.and_utc().timestamp();
                let cuts = (1..DAY_PIECES).map(|i| midnight + i * 24 * HOUR / DAY_PIECES).collect();
                (None, None, cuts)
            }
            // A window of the day: hours, counted from its closed end when the other is open.
            (1, Some(TimeWindow { from, to })) => {
                let cuts: Vec<i64> = match (from, to) {
                    (Some(a), Some(b)) => {
                        (1..WINDOW_PIECES).map(|i| a + i * (b - a) / WINDOW_PIECES).collect()
                    }
                    (None, Some(b)) => (1..WINDOW_PIECES).rev().map(|i| b - i * HOUR).collect(),
                    (Some(a), None) => (1..WINDOW_PIECES).map(|i| a + i * HOUR).collect(),
                    (None, None) => return None,
                };
                (from, to, cuts)
            }
            _ => return None,
        };
        let mut edges = vec![first];
        edges.extend(cuts.into_iter().map(Some));
        edges.push(last);
        let pieces = edges
            .windows(2)
            .map(|w| Piece {
                range: self.range,
                window: Some(TimeWindow { from: w[0], to: w[1] }),
                depth: self.depth + 1,
            })
            .collect();
        Some(pieces)
    }

    /// The request's `where`: the user's filter and the window, both required.
    fn where_expr(self, user: Option<&str>) -> Option<String> {
        let window = self.window.map(|w| {
            let clauses: Vec<String> = [
                w.from.map(|t| format!("properties[\"$time\"] >= datetime({t})")),
                w.to.map(|t| format!("properties[\"$time\"] < datetime({t})")),
            ]
            .into_iter()
            .flatten()
            .collect();
            clauses.join(" and ")
        });
        match (user, window) {
            (Some(user), Some(window)) => Some(format!("({user}) and {window}")),
            (Some(user), None) => Some(user.to_owned()),
            (None, window) => window,
        }
    }
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
    /// Runs one export request to completion, retrying it whole when its body breaks off, and
    /// splitting it into smaller requests when Mixpanel cuts it short on every try.
    /// `new_work(cap)` makes the work of one attempt that may accept `cap` records.
    pub(crate) async fn fetch_range<W: RangeWork>(
        &self,
        client: &mpd_api::Client,
        filter: &ExportFilter,
        range: DayRange,
        limit: Option<u32>,
        reporter: &dyn Reporter,
        new_work: impl Fn(Option<u32>) -> W,
    ) -> Result<RangeOutput<W::Output>> {
        let piece = Piece::whole(range);
        let mut output =
            self.fetch_piece(client, filter, piece, limit, reporter, &new_work).await?;
        output.range = range;
        Ok(output)
    }

    /// One piece with retries; on a cut that outlasts the retries, its smaller pieces in turn.
    fn fetch_piece<'a, W: RangeWork>(
        &'a self,
        client: &'a mpd_api::Client,
        filter: &'a ExportFilter,
        piece: Piece,
        limit: Option<u32>,
        reporter: &'a dyn Reporter,
        new_work: &'a dyn Fn(Option<u32>) -> W,
    ) -> futures_util::future::LocalBoxFuture<'a, Result<RangeOutput<W::Output>>> {
        Box::pin(async move {
            let cut =
                match self.attempt_piece(client, filter, piece, limit, reporter, new_work).await? {
                    Ok(output) => return Ok(output),
                    Err(cut) => cut,
                };
            let Some(pieces) = piece.split() else { return Err(self.api_error(cut)) };
            tracing::warn!(days = %piece.range, pieces = pieces.len(), %cut, "Mixpanel cut the export short on every try; asking for smaller pieces");
            let mut joined: Option<RangeOutput<W::Output>> = None;
            for smaller in pieces {
                let remaining = match (limit, &joined) {
                    (Some(limit), Some(done)) => {
                        let left = u64::from(limit).saturating_sub(done.records);
                        if left == 0 {
                            break;
                        }
                        Some(u32::try_from(left).unwrap_or(u32::MAX))
                    }
                    (limit, _) => limit,
                };
                let part = self
                    .fetch_piece(client, filter, smaller, remaining, reporter, new_work)
                    .await?;
                joined = Some(match joined {
                    None => part,
                    Some(mut done) => {
                        W::append(&mut done.output, part.output)?;
                        done.records += part.records;
                        done.bad.extend(part.bad);
                        done.retries += part.retries;
                        done.bytes_received += part.bytes_received;
                        done.split_days.extend(part.split_days);
                        done
                    }
                });
            }
            let mut joined = joined
                .ok_or_else(|| Error::Internal("a split request has no pieces".to_owned()))?;
            joined.range = piece.range;
            if piece.range.from == piece.range.to && piece.window.is_none() {
                joined.split_days.push(piece.range.from);
            }
            joined.split_days.sort();
            joined.split_days.dedup();
            Ok(joined)
        })
    }

    /// Sends `piece` until it completes, or until it was cut short on every attempt the
    /// retry policy allows (the inner `Err`, for the caller to split).
    async fn attempt_piece<W: RangeWork>(
        &self,
        client: &mpd_api::Client,
        filter: &ExportFilter,
        piece: Piece,
        limit: Option<u32>,
        reporter: &dyn Reporter,
        new_work: &dyn Fn(Option<u32>) -> W,
    ) -> Result<std::result::Result<RangeOutput<W::Output>, mpd_api::Error>> {
        let policy = *client.retry_policy();
        let range = piece.range;
        let export = mpd_api::ExportRequest {
            from: range.from,
            to: range.to,
            events: filter.events.clone(),
            where_expr: piece.where_expr(filter.where_expr.as_deref()),
            limit,
            time_in_ms: false,
        };
        let cap = limit.map_or(u64::MAX, u64::from);
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            reporter.day_started(range.from);
            match attempt_range(client, &export, cap, reporter, new_work(limit)).await {
                Ok((output, records, bad, bytes_received)) => {
                    return Ok(Ok(RangeOutput {
                        range,
                        output,
                        records,
                        bad,
                        retries: u64::from(attempt - 1),
                        bytes_received,
                        split_days: Vec::new(),
                    }));
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
                Err(AttemptError::Body(error @ mpd_api::Error::TerminatedEarly { .. })) => {
                    return Ok(Err(error));
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
    let endpoint = body.endpoint().to_owned();
    let failed = |error: WorkError| match error {
        WorkError::Body(error) => AttemptError::Body(body_error(&endpoint, error)),
        WorkError::Local(error) => AttemptError::Local(error),
    };
    while let Some(chunk) = body.next_chunk().await.map_err(AttemptError::Body)? {
        let before = work.records();
        // Decoding is CPU work: it runs on the blocking pool so that several requests decode
        // on several cores while this task keeps the sockets moving.
        work = tokio::task::spawn_blocking(move || work.consume(&chunk))
            .await
            .map_err(|e| {
                AttemptError::Local(Error::Internal(format!("decoding task failed: {e}")))
            })?
            .map_err(failed)?;
        reporter.records_written(work.records() - before);
        if work.records() >= cap {
            break;
        }
    }
    let records = work.records();
    let bytes_received = body.bytes_received();
    let (output, bad) = work.finish().map_err(failed)?;
    Ok((output, records, bad, bytes_received))
}

/// The decoder's verdict on a body, as the export's error: a `terminated early` body is
/// retried (then split) like any other cut body.
fn body_error(endpoint: &str, error: mpd_decode::Error) -> mpd_api::Error {
    match error {
        mpd_decode::Error::TerminatedEarly { line, .. } => {
            tracing::warn!(endpoint = %endpoint, line, "export terminated early");
            mpd_api::Error::TerminatedEarly { endpoint: endpoint.into(), line }
        }
        mpd_decode::Error::LineTooLong { line, limit, .. } => {
            mpd_api::Error::LineTooLong { endpoint: endpoint.into(), line, limit }
        }
        other => {
            mpd_api::Error::InvalidResponse { endpoint: endpoint.into(), reason: other.to_string() }
        }
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

    fn window(p: &Piece) -> (Option<i64>, Option<i64>) {
        p.window.map_or((None, None), |w| (w.from, w.to))
    }

    #[test]
    fn a_range_of_days_splits_into_single_days() {
        let pieces = Piece::whole(DayRange { from: day(1), to: day(3) }).split().unwrap();
        assert_eq!(pieces.len(), 3);
        assert!(pieces.iter().all(|p| p.range.from == p.range.to && p.window.is_none()));
    }

    #[test]
    fn a_day_splits_into_open_ended_quarters_then_hours_then_stops() {
        let midnight = 1_704_067_200; // 2024-01-01T00:00:00Z
        let quarters = Piece::whole(DayRange { from: day(1), to: day(1) }).split().unwrap();
        let bounds: Vec<_> = quarters.iter().map(window).collect();
        assert_eq!(
            bounds,
            [
                (None, Some(midnight + 6 * HOUR)),
                (Some(midnight + 6 * HOUR), Some(midnight + 12 * HOUR)),
                (Some(midnight + 12 * HOUR), Some(midnight + 18 * HOUR)),
                (Some(midnight + 18 * HOUR), None),
            ]
        );
        let hours = quarters[1].split().unwrap();
        assert_eq!(hours.len(), 6);
        assert_eq!(window(&hours[0]), (Some(midnight + 6 * HOUR), Some(midnight + 7 * HOUR)));
        assert_eq!(window(&hours[5]), (Some(midnight + 11 * HOUR), Some(midnight + 12 * HOUR)));
        let early = quarters[0].split().unwrap();
        assert_eq!(window(&early[0]), (None, Some(midnight + HOUR)));
        assert_eq!(window(&early[5]), (Some(midnight + 5 * HOUR), Some(midnight + 6 * HOUR)));
        let late = quarters[3].split().unwrap();
        assert_eq!(window(&late[5]), (Some(midnight + 23 * HOUR), None));
        assert_eq!(hours[0].split(), None, "an hour is as small as it gets");
        // The pieces of each level cover the day without gaps or overlaps.
        for level in [&quarters, &early, &late] {
            assert!(level.windows(2).all(|w| window(&w[0]).1 == window(&w[1]).0));
        }
    }

    #[test]
    fn windows_become_where_filters_beside_the_users() {
        let piece = Piece {
            range: DayRange { from: day(1), to: day(1) },
            window: Some(TimeWindow { from: Some(10), to: Some(20) }),
            depth: 1,
        };
        assert_eq!(
            piece.where_expr(None).as_deref(),
            Some(r#"properties["$time"] >= datetime(10) and properties["$time"] < datetime(20)"#)
        );
        assert_eq!(
            piece.where_expr(Some(r#"properties["plan"] == "pro""#)).as_deref(),
            Some(
                r#"(properties["plan"] == "pro") and properties["$time"] >= datetime(10) and properties["$time"] < datetime(20)"#
            )
        );
        let open = Piece { window: Some(TimeWindow { from: None, to: Some(5) }), ..piece };
        assert_eq!(open.where_expr(None).as_deref(), Some(r#"properties["$time"] < datetime(5)"#));
        assert_eq!(Piece::whole(piece.range).where_expr(Some("x")).as_deref(), Some("x"));
    }
}
