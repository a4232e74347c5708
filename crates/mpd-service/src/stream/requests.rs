//! The one request loop of the export: `fetch --stdout`, `fetch` into tables and `sync` send
//! their plan's requests through it and differ only in what they do with each finished
//! request's output.

use futures_util::StreamExt;

use super::range::{RangeOutput, RangeWork, RunPlan};
use crate::error::Result;
use crate::report::Reporter;
use crate::workspace::Workspace;

/// What the requests of a run added up to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RequestTotals {
    /// Records accepted.
    pub(crate) records: u64,
    /// Bytes received from Mixpanel (compressed when gzip was used).
    pub(crate) bytes_received: u64,
    /// Requests sent again after a broken body.
    pub(crate) retries: u64,
    /// Days Mixpanel cut short on every try, fetched in smaller requests instead.
    pub(crate) split_days: Vec<chrono::NaiveDate>,
    /// Malformed lines quarantined, and the file, when there were any.
    pub(crate) quarantined: u64,
    pub(crate) quarantine_file: Option<std::path::PathBuf>,
}

/// When the run stops on malformed lines.
#[derive(Debug, Clone, Copy)]
pub(crate) enum BadLinePolicy {
    /// At the end of the run, once every request is in.
    AtEnd(u64),
    /// As soon as a request brings the count over the allowance, before its output is taken:
    /// what a sync needs so that the cursor never passes a day with too many bad lines.
    Early(u64),
}

impl Workspace {
    /// Sends `plan`'s requests, `workers` at a time, and hands each finished one to `take` in
    /// day order, after its bad lines went to the quarantine. Stops when `take` says so or
    /// when the plan's limit is spent.
    pub(crate) async fn run_requests<W: RangeWork>(
        &self,
        plan: RunPlan,
        policy: BadLinePolicy,
        reporter: &dyn Reporter,
        new_work: impl Fn(Option<u32>) -> W + Copy,
        mut take: impl AsyncFnMut(RangeOutput<W::Output>) -> Result<()>,
    ) -> Result<RequestTotals> {
        let RunPlan { ranges, n_days, mut quarantine, filter, remaining, workers } = plan;
        reporter.started("events", n_days);
        let client = self.client()?;
        let mut totals = RequestTotals::default();
        let mut outputs = futures_util::stream::iter(ranges.iter().copied())
            .map(|range| {
                let limit = remaining.remaining();
                self.fetch_range(client, &filter, range, limit, reporter, new_work)
            })
            .buffered(workers);
        let mut next = outputs.next().await;
        while let Some(output) = next {
            let output = output?;
            totals.records += output.records;
            totals.bytes_received += output.bytes_received;
            totals.retries += output.retries;
            totals.split_days.extend(&output.split_days);
            quarantine.record(output.range.from, output.range.to, &output.bad)?;
            if let BadLinePolicy::Early(allowed) = policy {
                (totals.quarantined, totals.quarantine_file) = quarantine.finish(allowed)?;
            }
            let (range, records) = (output.range, output.records);
            // Spent before the next requests start, so that they ask for what is left.
            let more = !remaining.spend(records);
            // The requests in flight keep reading and decoding while this one's rows are
            // taken: they live in this task's stream, which moves only while it is polled.
            let following = async { if more { outputs.next().await } else { None } };
            let (taken, following) = futures_util::future::join(take(output), following).await;
            taken?;
            reporter.days_finished(range.from, range.n_days(), records);
            next = following;
        }
        drop(outputs);
        let allowed = match policy {
            BadLinePolicy::AtEnd(allowed) | BadLinePolicy::Early(allowed) => allowed,
        };
        (totals.quarantined, totals.quarantine_file) = quarantine.finish(allowed)?;
        Ok(totals)
    }
}
