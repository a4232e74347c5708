//! The summary: per store and operation the medians, then each longer history against the
//! baseline (the shortest) — the ratio of medians and the spread of the round-by-round ratios —
//! with its verdict against the bar, and a block for docs/PERFORMANCE.md.

use super::day::Day;
use super::mpd::{Sample, Shape};

/// The incremental bar: a 1-day sync into a longer history costs at most this much more than the
/// same sync into the baseline history.
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

/// The timed runs of one operation on one store, one per round in round order.
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

    /// This series' wall time over `baseline`'s, round by round: the two runs of a round were
    /// taken back to back, so a slow moment of the machine weighs on both sides of one ratio.
    fn pair_ratios(&self, baseline: &Self) -> Vec<f64> {
        self.samples.iter().zip(&baseline.samples).map(|(s, b)| s.wall_secs / b.wall_secs).collect()
    }
}

/// One measured operation on every store.
pub(crate) struct Operation {
    pub(crate) name: String,
    /// One series per store, in the order of [`Summary::stores`]: the baseline first.
    pub(crate) series: Vec<Series>,
}

impl Operation {
    /// Store `store` over the baseline, by median wall time.
    pub(crate) fn ratio(&self, store: usize) -> Option<f64> {
        Some(self.series.get(store)?.wall()?.median / self.series.first()?.wall()?.median)
    }

    /// Min, median and max of store `store` over the baseline, round by round.
    pub(crate) fn pair_ratios(&self, store: usize) -> Option<Spread> {
        Spread::of(&self.series.get(store)?.pair_ratios(self.series.first()?))
    }

    /// The bar holds the median ratio: single pairs are too noisy at ~0.1 s a run.
    pub(crate) fn passes(&self, store: usize) -> bool {
        self.ratio(store).is_some_and(|r| r <= BAR)
    }
}

/// A store as the bench built it.
pub(crate) struct Store {
    /// The history it holds, for people: "7 days", "10 years".
    pub(crate) label: String,
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
    /// Shortest history first: the baseline every other store is compared to.
    pub(crate) stores: Vec<Store>,
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
        out.push(self.what_it_does());
        out.push(String::new());
        out.push(format!("Measured {}:", Day::today_utc()));
        out.push(String::new());
        out.extend(self.operations_table());
        out.push(String::new());
        out.extend(self.verdicts());
        out.push(String::new());
        out.extend(self.stores_table());
        out.push(String::new());
        for store in &self.stores {
            out.push(format!(
                "- tables of the {} store after the runs: {}",
                store.label,
                store.after.tables.join(", ")
            ));
        }
        out.join("\n")
    }

    fn baseline_label(&self) -> &str {
        self.stores.first().map_or("?", |s| s.label.as_str())
    }

    /// The method, with the stores' days and commands taken from the run itself.
    fn what_it_does(&self) -> String {
        let builds: Vec<String> = self
            .stores
            .iter()
            .map(|s| {
                format!(
                    "\"{}\" by `mpd sync events --from {}` ({} days)",
                    s.label,
                    self.anchor.plus(1 - s.days),
                    thousands(s.days.unsigned_abs())
                )
            })
            .collect();
        let shared_days = self.stores.first().map_or(0, |s| s.days);
        let reread = self.anchor.plus(-1);
        format!(
            "What it does: builds `mpd` and `mpd-mock` in release mode; one mock with {} synthetic \
             events a day (gzip off: on loopback the compressor would share the two cores). One \
             store per history, all with today = {}: {}, so they hold the same data for the last {} \
             days. Then, in each of {} rounds, rotating the order so each store goes first in turn, \
             each store gets a 1-day sync of a new day (`--backfill D D`, D = {} onwards, the same \
             D for every store in a round) and a re-read of a day it already holds (`--backfill {} \
             {}`, all rows already present, as an hourly cron mostly does). Times are the `mpd` \
             process's wall time, spawn to exit (the sync's own `elapsed_secs` beside it); peak RSS \
             from `wait4`. Each longer history is compared with \"{}\", the baseline: the ratio of \
             median wall times, which the bar applies to, and the ratios round by round (min / \
             median / max), each from two runs taken in the same round. The mock days are generated \
             before timing.",
            thousands(u64::from(self.events_per_day)),
            self.anchor,
            list(&builds),
            shared_days,
            self.repeat,
            self.anchor.plus(1),
            reread,
            reread,
            self.baseline_label(),
        )
    }

    fn operations_table(&self) -> Vec<String> {
        let mut rows = vec![
            "| operation | store | runs | median s | min s | max s | mpd elapsed_secs (median) | peak RSS MB | rows written / already present (last run) |".to_owned(),
            "|---|---|---|---|---|---|---|---|---|".to_owned(),
        ];
        for op in &self.operations {
            for (store, series) in self.stores.iter().zip(&op.series) {
                let (Some(wall), Some(inner), Some(last)) =
                    (series.wall(), series.in_process(), series.samples.last())
                else {
                    continue;
                };
                rows.push(format!(
                    "| {} | {} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.0} | {} / {} |",
                    op.name,
                    store.label,
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

    /// One line per operation and longer history: both ratios and the verdict.
    fn verdicts(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for op in &self.operations {
            for (index, store) in self.stores.iter().enumerate().skip(1) {
                let median =
                    op.ratio(index).map_or_else(|| "n/a".to_owned(), |r| format!("{r:.2}x"));
                let pairs = op.pair_ratios(index).map_or_else(
                    || "n/a".to_owned(),
                    |p| format!("{:.2}x / {:.2}x / {:.2}x", p.min, p.median, p.max),
                );
                let verdict = if op.passes(index) { "PASS" } else { "FAIL" };
                lines.push(format!(
                    "- {}, {} / {}: median **{median}**, round by round {pairs} (min / median / \
                     max); bar ≤ {BAR:.2}x: **{verdict}**",
                    op.name,
                    store.label,
                    self.baseline_label(),
                ));
            }
        }
        lines
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
                thousands(store.days.unsigned_abs()),
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

/// `["a", "b", "c"]` as `a, b and c`.
fn list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [only] => only.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
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

    /// One operation with a series of wall times per store, the baseline first.
    fn operation(stores: &[&[f64]]) -> Operation {
        let series = |v: &[f64]| Series { samples: v.iter().copied().map(sample).collect() };
        Operation { name: "new day".to_owned(), series: stores.iter().map(|v| series(v)).collect() }
    }

    fn store(label: &str, days: i64) -> Store {
        Store {
            label: label.to_owned(),
            days,
            build: sample(1.0),
            before: Shape::default(),
            after: Shape::default(),
        }
    }

    #[test]
    fn spread_takes_the_middle_of_odd_and_even_counts() {
        assert_eq!(Spread::of(&[3.0, 1.0, 2.0]), Some(Spread { median: 2.0, min: 1.0, max: 3.0 }));
        assert_eq!(Spread::of(&[4.0, 1.0, 2.0, 3.0]).map(|s| s.median), Some(2.5));
        assert_eq!(Spread::of(&[]), None);
    }

    #[test]
    fn each_store_is_held_to_the_bar_by_its_median_against_the_baseline() {
        let op = operation(&[&[1.0, 1.0, 9.0], &[1.05, 1.1, 1.0], &[1.2, 1.2, 0.5]]);
        assert_eq!(op.ratio(1), Some(1.05));
        assert!(op.passes(1));
        assert_eq!(op.ratio(2), Some(1.2));
        assert!(!op.passes(2));
        assert_eq!(op.ratio(0), Some(1.0), "the baseline against itself");
        assert!(!op.passes(3), "no such store");
        assert!(!operation(&[&[], &[1.0]]).passes(1));
    }

    #[test]
    fn pair_ratios_divide_round_by_round_not_medians() {
        // Round by round: 2.0/1.0, 1.0/2.0, 3.0/3.0, 8.0/4.0.
        let op = operation(&[&[1.0, 2.0, 3.0, 4.0], &[2.0, 1.0, 3.0, 8.0]]);
        let pairs = op.pair_ratios(1).expect("four rounds");
        assert_eq!(pairs, Spread { median: 1.5, min: 0.5, max: 2.0 });
        // The ratio of medians (2.5 over 2.5) hides how far single rounds went.
        assert_eq!(op.ratio(1), Some(1.0));
        assert_eq!(op.pair_ratios(2), None);
        assert_eq!(operation(&[&[], &[1.0]]).pair_ratios(1), None);
    }

    #[test]
    fn the_summary_compares_every_longer_history_with_the_baseline() {
        let summary = Summary {
            command_line: "cargo xtask bench incremental".to_owned(),
            events_per_day: 1000,
            repeat: 2,
            anchor: Day::from_ymd(2024, 6, 1),
            stores: vec![store("7 days", 7), store("365 days", 365), store("10 years", 3650)],
            operations: vec![operation(&[&[1.0, 1.0], &[1.0, 1.1], &[1.5, 1.5]])],
        };
        let markdown = summary.markdown();
        assert!(markdown.contains("\"7 days\" by `mpd sync events --from 2024-05-26` (7 days), \"365 days\" by `mpd sync events --from 2023-06-03` (365 days) and \"10 years\" by `mpd sync events --from 2014-06-05` (3,650 days)"), "{markdown}");
        assert!(markdown.contains("- new day, 365 days / 7 days: median **1.05x**, round by round 1.00x / 1.05x / 1.10x (min / median / max); bar ≤ 1.10x: **PASS**"), "{markdown}");
        assert!(markdown.contains("- new day, 10 years / 7 days: median **1.50x**, round by round 1.50x / 1.50x / 1.50x (min / median / max); bar ≤ 1.10x: **FAIL**"), "{markdown}");
        assert!(!markdown.contains("7 days / 7 days"), "{markdown}");
        assert!(markdown.contains("| new day | 10 years | 2 | 1.500 |"), "{markdown}");
        assert!(markdown.contains("| 10 years | 3,650 | 1.00 |"), "{markdown}");
    }

    #[test]
    fn lists_read_as_prose() {
        let words = |w: &[&str]| w.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(list(&words(&["a"])), "a");
        assert_eq!(list(&words(&["a", "b"])), "a and b");
        assert_eq!(list(&words(&["a", "b", "c"])), "a, b and c");
    }

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(3_650_000), "3,650,000");
    }
}
