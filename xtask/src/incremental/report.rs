//! The summary: medians, the BIG/SMALL ratio against the bar, and a block for
//! docs/PERFORMANCE.md.

use super::day::Day;
use super::mpd::{Sample, Shape};

/// The incremental bar: a 1-day sync into 365 days of history costs at most this much more than into 7.
pub(crate) const BAR: f64 = 1.1;

/// Median, min and max of some values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Spread {
    pub(crate) median: f64,
    pub(crate) min: f64,
    pub(crate) max: f64,
}

impl Spread {
    pub(crate) fn of(values: &[f64]) -> Option<Self> {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let (first, last) = (*sorted.first()?, *sorted.last()?);
        let mid = sorted.len() / 2;
        let median = if sorted.len().is_multiple_of(2) {
            (sorted[mid - 1] + sorted[mid]) / 2.0
        } else {
            sorted[mid]
        };
        Some(Self { median, min: first, max: last })
    }
}

/// The timed runs of one operation on one store.
pub(crate) struct Series {
    pub(crate) samples: Vec<Sample>,
}

impl Series {
    fn wall(&self) -> Option<Spread> {
        Spread::of(&self.samples.iter().map(|s| s.wall_secs).collect::<Vec<_>>())
    }

    fn in_process(&self) -> Option<Spread> {
        Spread::of(&self.samples.iter().map(|s| s.elapsed_secs).collect::<Vec<_>>())
    }

    fn peak_rss_mb(&self) -> f64 {
        self.samples.iter().map(|s| s.peak_rss_kb).max().unwrap_or(0) as f64 / 1024.0
    }
}

/// One measured operation on both stores.
pub(crate) struct Operation {
    pub(crate) name: String,
    pub(crate) small: Series,
    pub(crate) big: Series,
}

impl Operation {
    /// BIG over SMALL, by median wall time.
    pub(crate) fn ratio(&self) -> Option<f64> {
        Some(self.big.wall()?.median / self.small.wall()?.median)
    }

    pub(crate) fn passes(&self) -> bool {
        self.ratio().is_some_and(|r| r <= BAR)
    }
}

/// A store as the bench built it.
pub(crate) struct Store {
    pub(crate) label: &'static str,
    pub(crate) days: i64,
    pub(crate) build: Sample,
    pub(crate) before: Shape,
    pub(crate) after: Shape,
}

/// Everything the summary prints.
pub(crate) struct Summary {
    pub(crate) command_line: String,
    pub(crate) events_per_day: u32,
    pub(crate) repeat: u32,
    pub(crate) anchor: Day,
    pub(crate) stores: [Store; 2],
    pub(crate) operations: Vec<Operation>,
}

impl Summary {
    /// Markdown, ready to paste into docs/PERFORMANCE.md.
    pub(crate) fn markdown(&self) -> String {
        let mut out = Vec::new();
        out.push("## Incremental sync (history size)".to_owned());
        out.push(String::new());
        out.push(format!("```sh\n{}\n```", self.command_line));
        out.push(String::new());
        out.push(format!(
            "What it does: builds `mpd` and `mpd-mock` in release mode; one mock with {} synthetic \
             events a day (gzip off: on loopback the compressor would share the two cores). Store \
             SMALL is built by `mpd sync events --from {}` and store BIG by `mpd sync events --from \
             {}`, both with today = {}, so they hold {} and {} days and the same data for the last \
             {} days. Then, in each of {} rounds, alternating which store goes first, each store gets \
             a 1-day sync of a new day (`--backfill D D`, D = {} onwards, the same D for both in a \
             round) and a re-read of a day it already holds (`--backfill {} {}`, all rows already \
             present, as an hourly cron mostly does). Times are the `mpd` process's wall time, \
             spawn to exit (the sync's own `elapsed_secs` beside it); peak RSS from `wait4`; the \
             ratio compares median wall times. The mock days are generated before timing.",
            thousands(u64::from(self.events_per_day)),
            self.anchor.plus(1 - self.stores[0].days),
            self.anchor.plus(1 - self.stores[1].days),
            self.anchor,
            self.stores[0].days,
            self.stores[1].days,
            self.stores[0].days,
            self.repeat,
            self.anchor.plus(1),
            self.anchor.plus(-1),
            self.anchor.plus(-1),
        ));
        out.push(String::new());
        out.push(format!("Measured {}:", Day::today_utc()));
        out.push(String::new());
        out.extend(self.operations_table());
        out.push(String::new());
        for op in &self.operations {
            let (ratio, verdict) = match op.ratio() {
                Some(r) => (format!("{r:.2}x"), if op.passes() { "PASS" } else { "FAIL" }),
                None => ("n/a".to_owned(), "FAIL"),
            };
            out.push(format!(
                "- {}: BIG/SMALL = **{ratio}** (bar ≤ {BAR:.2}x): **{verdict}**",
                op.name
            ));
        }
        out.push(String::new());
        out.extend(self.stores_table());
        out.push(String::new());
        for store in &self.stores {
            out.push(format!(
                "- {} tables after the runs: {}",
                store.label,
                store.after.tables.join(", ")
            ));
        }
        out.join("\n")
    }

    fn operations_table(&self) -> Vec<String> {
        let mut rows = vec![
            "| operation | store | runs | median s | min s | max s | mpd elapsed_secs (median) | peak RSS MB | rows written / already present (last run) |".to_owned(),
            "|---|---|---|---|---|---|---|---|---|".to_owned(),
        ];
        for op in &self.operations {
            for (store, series) in [(&self.stores[0], &op.small), (&self.stores[1], &op.big)] {
                let (Some(wall), Some(inner), Some(last)) =
                    (series.wall(), series.in_process(), series.samples.last())
                else {
                    continue;
                };
                rows.push(format!(
                    "| {} | {} ({} days) | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.0} | {} / {} |",
                    op.name,
                    store.label,
                    store.days,
                    series.samples.len(),
                    wall.median,
                    wall.min,
                    wall.max,
                    inner.median,
                    series.peak_rss_mb(),
                    thousands(last.written),
                    thousands(last.already_present),
                ));
            }
        }
        rows
    }

    fn stores_table(&self) -> Vec<String> {
        let mut rows = vec![
            "| store | days | building sync s | its peak RSS MB | rows | events data files (before → after) | events Delta version | Delta log entries, all tables | checkpoints | data files, all tables |".to_owned(),
            "|---|---|---|---|---|---|---|---|---|---|".to_owned(),
        ];
        for store in &self.stores {
            let (b, a) = (&store.before, &store.after);
            rows.push(format!(
                "| {} | {} | {:.2} | {:.0} | {} | {} → {} | {} → {} | {} → {} | {} → {} | {} → {} |",
                store.label,
                store.days,
                store.build.wall_secs,
                store.build.peak_rss_kb as f64 / 1024.0,
                thousands(store.build.written),
                b.events_files,
                a.events_files,
                b.events_version,
                a.events_version,
                b.log_entries,
                a.log_entries,
                b.checkpoints,
                a.checkpoints,
                b.all_files,
                a.all_files,
            ));
        }
        rows
    }
}

/// `1234567` as `1,234,567`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(wall_secs: f64) -> Sample {
        Sample {
            wall_secs,
            peak_rss_kb: 2048,
            fetched: 10,
            written: 10,
            already_present: 0,
            commits: 1,
            elapsed_secs: wall_secs / 2.0,
        }
    }

    fn operation(small: &[f64], big: &[f64]) -> Operation {
        let series = |v: &[f64]| Series { samples: v.iter().copied().map(sample).collect() };
        Operation { name: "new day".to_owned(), small: series(small), big: series(big) }
    }

    #[test]
    fn spread_takes_the_middle_of_odd_and_even_counts() {
        assert_eq!(Spread::of(&[3.0, 1.0, 2.0]), Some(Spread { median: 2.0, min: 1.0, max: 3.0 }));
        assert_eq!(Spread::of(&[4.0, 1.0, 2.0, 3.0]).map(|s| s.median), Some(2.5));
        assert_eq!(Spread::of(&[]), None);
    }

    #[test]
    fn the_ratio_compares_medians_against_the_bar() {
        let within = operation(&[1.0, 1.0, 9.0], &[1.05, 1.1, 1.0]);
        assert_eq!(within.ratio(), Some(1.05));
        assert!(within.passes());
        let over = operation(&[1.0, 1.0, 1.0], &[1.2, 1.2, 0.5]);
        assert!(!over.passes());
        assert!(!operation(&[], &[1.0]).passes());
    }

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(3_650_000), "3,650,000");
    }
}
