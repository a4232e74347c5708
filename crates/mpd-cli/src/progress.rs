//! Progress bars on a terminal (indicatif), nothing otherwise.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::NaiveDate;
use indicatif::{ProgressBar, ProgressStyle};
use mpd_service::Reporter;

/// Draws one bar per run: days done, records so far, rate.
pub(crate) struct BarReporter {
    bar: Option<ProgressBar>,
    records: AtomicU64,
}

impl BarReporter {
    /// A reporter that draws only when stderr is a terminal and the user did not opt out.
    pub(crate) fn new(enabled: bool) -> Self {
        let show = enabled && std::io::stderr().is_terminal();
        Self { bar: show.then(ProgressBar::hidden), records: AtomicU64::new(0) }
    }
}

impl Reporter for BarReporter {
    fn started(&self, what: &str, n_days: u64) {
        let Some(bar) = &self.bar else { return };
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        let template = if n_days > 0 {
            "{spinner} {prefix} [{bar:30}] {pos}/{len} days · {msg} · {elapsed}"
        } else {
            "{spinner} {prefix} · {msg} · {elapsed}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_length(n_days);
        bar.set_prefix(what.to_owned());
        bar.set_message("0 records");
        bar.enable_steady_tick(Duration::from_millis(120));
    }

    fn days_finished(&self, _first: NaiveDate, n_days: u64, _n_lines: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(n_days);
        }
    }

    fn records_written(&self, n: u64) {
        if let Some(bar) = &self.bar {
            let total = self.records.fetch_add(n, Ordering::Relaxed) + n;
            bar.set_message(format!("{total} records"));
        }
    }

    fn retrying(&self, day: NaiveDate, attempt: u32, delay: Duration, reason: &str) {
        if let Some(bar) = &self.bar {
            bar.println(format!(
                "retrying {day} (attempt {attempt}) in {:.1}s: {reason}",
                delay.as_secs_f64()
            ));
        }
    }

    fn finished(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
