//! Progress reporting: the service says what happens, the CLI decides how to show it.

use std::time::Duration;

use chrono::NaiveDate;

/// Receives progress events of long operations. Implementations must be cheap: they are called
/// from the streaming loop. The CLI draws progress bars with it; library users may ignore it.
pub trait Reporter: Send + Sync {
    /// A run over `n_days` days starts.
    fn started(&self, _what: &str, _n_days: u64) {}
    /// A day's request is about to be sent.
    fn day_started(&self, _day: NaiveDate) {}
    /// `n_days` days starting at `first` completed and their `n_lines` lines were written.
    fn days_finished(&self, _first: NaiveDate, _n_days: u64, _n_lines: u64) {}
    /// `n` more records were written in total.
    fn records_written(&self, _n: u64) {}
    /// A day's request failed and is retried after `delay`.
    fn retrying(&self, _day: NaiveDate, _attempt: u32, _delay: Duration, _reason: &str) {}
    /// The run finished (successfully or not).
    fn finished(&self) {}
}

/// A reporter that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct SilentReporter;

impl Reporter for SilentReporter {}
