//! The one request loop of the export: `fetch --stdout`, `fetch` into tables and `sync` send
//! their plan's requests through it and differ only in what they do with each finished
//! request's output.

use std::collections::VecDeque;

use futures_util::StreamExt;

use super::range::{RangeOutput, RangeWork, RunPlan};
use crate::error::Result;
use crate::report::Reporter;
use crate::workspace::Workspace;

/// Finished requests that may wait while an earlier one's rows are taken.
const READ_AHEAD: usize = 2;

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
        // Finished requests waiting to be taken, in day order. The stream is polled while a
        // request's rows are taken, so that the requests in flight keep reading and decoding
        // (they live in this task's stream, which moves only while it is polled), until
        // `READ_AHEAD` finished ones wait.
        let mut ready: VecDeque<Result<RangeOutput<W::Output>>> = VecDeque::new();
        // False once the stream ended, failed, or the limit is spent.
        let mut more = true;
        let receive = |output: Option<Result<RangeOutput<W::Output>>>,
                       ready: &mut VecDeque<_>,
                       more: &mut bool| {
            match output {
                Some(Ok(output)) => {
                    // Spent as it arrives, before the stream is polled again, so that the
                    // requests started next ask for what is left.
                    *more = !remaining.spend(output.records);
                    ready.push_back(Ok(output));
                }
                Some(Err(error)) => {
                    *more = false;
                    ready.push_back(Err(error));
                }
                None => *more = false,
            }
        };
        loop {
            if ready.is_empty() && more {
                let output = outputs.next().await;
                receive(output, &mut ready, &mut more);
            }
            let Some(output) = ready.pop_front() else { break };
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
            let taken = take(output);
            tokio::pin!(taken);
            loop {
                if !more || ready.len() >= READ_AHEAD {
                    (&mut taken).await?;
                    break;
                }
                tokio::select! {
                    biased;
                    result = &mut taken => {
                        result?;
                        break;
                    }
                    output = outputs.next() => receive(output, &mut ready, &mut more),
                }
            }
            reporter.days_finished(range.from, range.n_days(), records);
        }
        drop(outputs);
        let allowed = match policy {
            BadLinePolicy::AtEnd(allowed) | BadLinePolicy::Early(allowed) => allowed,
        };
        (totals.quarantined, totals.quarantine_file) = quarantine.finish(allowed)?;
        Ok(totals)
    }
}
