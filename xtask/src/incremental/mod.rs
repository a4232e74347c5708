//! `cargo xtask bench incremental`: the incremental bar (docs/PERFORMANCE.md) — a 1-day sync into a store
//! holding 365 days costs at most 1.1x the same sync into a store holding 7 days.
//!
//! Two stores are built from one mock with the same data per day: SMALL holds the 7 days up to
//! the anchor day, BIG the 365 days up to it. Each round then syncs one new day after the anchor
//! (`--backfill D D`, the same D for both stores) and re-reads a day both hold, alternating
//! which store goes first so neither always benefits from warm caches.

mod day;
mod mpd;
mod report;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result, bail};

use self::day::Day;
use self::mpd::{Mpd, Sample};
use self::report::{Operation, Series, Store, Summary};
use crate::{Runner, cargo, take_value};

const SMALL_DAYS: i64 = 7;
const BIG_DAYS: i64 = 365;

/// What the developer asked for.
struct Options {
    events_per_day: u32,
    repeat: u32,
    keep: Option<PathBuf>,
}

#[allow(clippy::print_stdout, reason = "xtask talks to the developer")]
pub(crate) fn run(runner: &Runner, args: &[String]) -> Result<()> {
    let options = parse(args)?;
    runner.run(cargo().args([
        "build",
        "--release",
        "-p",
        "mpd-cli",
        "-p",
        "mpd-testkit",
        "--bins",
    ]))?;
    if runner.explain() {
        return Ok(());
    }
    let target = crate::target_dir();
    let work = match &options.keep {
        Some(dir) => dir.clone(),
        None => std::env::temp_dir().join(format!("mpd-bench-incremental-{}", std::process::id())),
    };
    for store in ["small", "big"] {
        if work.join(store).exists() {
            bail!("{} already holds a store: --keep needs a new or empty folder", work.display());
        }
    }
    std::fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;
    let summary = measure(&options, &target.join("release"), &work);
    match &options.keep {
        Some(dir) => println!("stores kept in {}", dir.display()),
        None => {
            let _ = std::fs::remove_dir_all(&work);
        }
    }
    println!("\n{}", summary?.markdown());
    Ok(())
}

fn parse(args: &[String]) -> Result<Options> {
    let mut args = args.to_vec();
    let events_per_day = take_value(&mut args, "--events-per-day")
        .map_or(Ok(10_000), |v| v.parse())
        .context("--events-per-day must be a whole number")?;
    let repeat = take_value(&mut args, "--repeat")
        .map_or(Ok(5), |v| v.parse())
        .context("--repeat must be a whole number")?;
    // Relative to the workspace root: xtask runs from there.
    let keep = take_value(&mut args, "--keep").map(PathBuf::from);
    if let Some(extra) = args.first() {
        bail!(
            "unknown argument {extra:?}: bench incremental [--events-per-day N] [--repeat N] [--keep DIR]"
        );
    }
    if events_per_day == 0 {
        bail!("--events-per-day must be at least 1");
    }
    if !(1..=100).contains(&repeat) {
        bail!("--repeat must be between 1 and 100");
    }
    Ok(Options { events_per_day, repeat, keep })
}

/// The mock process, killed however the bench ends.
struct Mock(Child);

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The days of the run: stores are built up to `anchor`, new days come after it.
struct Calendar {
    anchor: Day,
    mock_today: Day,
}

impl Calendar {
    fn new(repeat: u32) -> Self {
        // A fixed past day keeps the data (seeded by day) the same from run to run.
        let anchor = Day::from_ymd(2024, 6, 1);
        Self { anchor, mock_today: anchor.plus(i64::from(repeat) + 1) }
    }

    /// First day of a store holding `days` days up to the anchor.
    fn first_day(&self, days: i64) -> Day {
        self.anchor.plus(1 - days)
    }

    fn scenario(&self, events_per_day: u32) -> String {
        format!(
            "events_per_day = {events_per_day}\nfirst_day = \"{}\"\nlast_day = \"{}\"\ntoday = \"{}\"\n\
             # On loopback the compressor would share the two cores with mpd.\ngzip = false\n",
            self.first_day(BIG_DAYS),
            self.mock_today,
            self.mock_today,
        )
    }
}

#[allow(clippy::print_stdout, reason = "xtask talks to the developer")]
fn measure(options: &Options, bin: &Path, work: &Path) -> Result<Summary> {
    let calendar = Calendar::new(options.repeat);
    let scenario = work.join("scenario.toml");
    std::fs::write(&scenario, calendar.scenario(options.events_per_day))?;
    let mut mock = Mock(
        Command::new(bin.join("mpd-mock"))
            .arg("--scenario")
            .arg(&scenario)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .context("cannot start mpd-mock")?,
    );
    let url = crate::bench::mock_url(&mut mock.0)?;
    let mpd = Mpd { bin: bin.to_path_buf(), url, home: work.to_path_buf() };
    let dirs = [work.join("small"), work.join("big")];
    let labels = ["SMALL", "BIG"];

    let mut builds = Vec::new();
    for (dir, days) in dirs.iter().zip([SMALL_DAYS, BIG_DAYS]) {
        let from = calendar.first_day(days).to_string();
        println!("building a store of {days} days: mpd sync events --from {from}...");
        let build = mpd.sync_events(dir, calendar.anchor, &["--from", &from])?;
        println!(
            "  {:.2}s, {} rows, {} commit(s), peak RSS {:.0} MB",
            build.wall_secs,
            build.written,
            build.commits,
            build.peak_rss_kb as f64 / 1024.0
        );
        builds.push(build);
    }
    let today = calendar.mock_today;
    let new_days = (1..=i64::from(options.repeat)).map(|k| calendar.anchor.plus(k));
    // Twice: the mock's day cache starts over when full, which can drop days warmed just before.
    for _ in 0..2 {
        mpd.warm_mock(calendar.anchor.plus(1), calendar.anchor.plus(options.repeat.into()), today)?;
    }
    let before = [mpd.shape(&dirs[0], today)?, mpd.shape(&dirs[1], today)?];
    let reread_day = calendar.anchor.plus(-1).to_string();
    let reread = ["--backfill", reread_day.as_str(), reread_day.as_str()];
    // Not reported: the first runs pay for cold page caches of the binary and the stores.
    for dir in &dirs {
        mpd.sync_events(dir, today, &reread)?;
    }

    let mut new_day: [Vec<Sample>; 2] = Default::default();
    let mut reread_runs: [Vec<Sample>; 2] = Default::default();
    for (round, day) in new_days.enumerate() {
        let order = if round.is_multiple_of(2) { [0, 1] } else { [1, 0] };
        let day = day.to_string();
        for &i in &order {
            let sample = mpd.sync_events(&dirs[i], today, &["--backfill", &day, &day])?;
            println!("  new day {day} into {}: {}", labels[i], line(&sample));
            new_day[i].push(sample);
        }
        for &i in &order {
            let sample = mpd.sync_events(&dirs[i], today, &reread)?;
            println!("  re-read {reread_day} of {}: {}", labels[i], line(&sample));
            reread_runs[i].push(sample);
        }
        check_round(&new_day, &reread_runs, &day)?;
    }
    let after = [mpd.shape(&dirs[0], today)?, mpd.shape(&dirs[1], today)?];
    drop(mock);

    let [small_build, big_build] = <[Sample; 2]>::try_from(builds)
        .map_err(|_| anyhow::anyhow!("expected two store builds"))?;
    let [small_before, big_before] = before;
    let [small_after, big_after] = after;
    let [small_new, big_new] = new_day;
    let [small_reread, big_reread] = reread_runs;
    Ok(Summary {
        command_line: format!(
            "cargo xtask bench incremental --events-per-day {} --repeat {}",
            options.events_per_day, options.repeat
        ),
        events_per_day: options.events_per_day,
        repeat: options.repeat,
        anchor: calendar.anchor,
        stores: [
            Store {
                label: labels[0],
                days: SMALL_DAYS,
                build: small_build,
                before: small_before,
                after: small_after,
            },
            Store {
                label: labels[1],
                days: BIG_DAYS,
                build: big_build,
                before: big_before,
                after: big_after,
            },
        ],
        operations: vec![
            Operation {
                name: "1 new day".to_owned(),
                small: Series { samples: small_new },
                big: Series { samples: big_new },
            },
            Operation {
                name: format!("re-read of {reread_day}"),
                small: Series { samples: small_reread },
                big: Series { samples: big_reread },
            },
        ],
    })
}

fn line(sample: &Sample) -> String {
    format!(
        "{:.3}s wall ({:.3}s in sync), {} fetched, {} written, {} already present, {} commit(s), peak RSS {:.0} MB",
        sample.wall_secs,
        sample.elapsed_secs,
        sample.fetched,
        sample.written,
        sample.already_present,
        sample.commits,
        sample.peak_rss_kb as f64 / 1024.0
    )
}

/// Both stores must have done the same work, or their times say nothing about history size.
fn check_round(new_day: &[Vec<Sample>; 2], reread: &[Vec<Sample>; 2], day: &str) -> Result<()> {
    let (Some(small), Some(big)) = (new_day[0].last(), new_day[1].last()) else {
        bail!("no runs recorded for {day}");
    };
    if small.written == 0 || small.written != big.written {
        bail!(
            "the new day {day} added {} row(s) to SMALL and {} to BIG: expected the same, non-zero",
            small.written,
            big.written
        );
    }
    for (label, runs) in ["SMALL", "BIG"].iter().zip(reread) {
        if let Some(run) = runs.last()
            && (run.written != 0 || run.already_present == 0)
        {
            bail!(
                "the re-read of {label} wrote {} row(s) and found {} already present: expected 0 and all",
                run.written,
                run.already_present
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn options_default_and_parse() {
        let default = parse(&[]).expect("defaults");
        assert_eq!((default.events_per_day, default.repeat, default.keep), (10_000, 5, None));
        let given = parse(&args(&["--repeat", "3", "--events-per-day", "1000", "--keep", "out"]))
            .expect("given");
        assert_eq!(given.events_per_day, 1000);
        assert_eq!(given.repeat, 3);
        assert_eq!(given.keep, Some(PathBuf::from("out")));
    }

    #[test]
    fn bad_options_are_refused() {
        assert!(parse(&args(&["--repeat", "0"])).is_err());
        assert!(parse(&args(&["--events-per-day", "ten"])).is_err());
        assert!(parse(&args(&["--days", "3"])).is_err());
    }

    #[test]
    fn stores_end_on_the_anchor_and_the_mock_serves_every_measured_day() {
        let calendar = Calendar::new(5);
        assert_eq!(calendar.first_day(SMALL_DAYS).to_string(), "2024-05-26");
        assert_eq!(calendar.first_day(BIG_DAYS).to_string(), "2023-06-03");
        assert_eq!(calendar.mock_today.to_string(), "2024-06-07");
        let scenario = calendar.scenario(1000);
        assert!(scenario.contains("first_day = \"2023-06-03\""), "{scenario}");
        assert!(scenario.contains("last_day = \"2024-06-07\""), "{scenario}");
        assert!(scenario.contains("today = \"2024-06-07\""), "{scenario}");
        assert!(scenario.contains("gzip = false"), "{scenario}");
    }

    fn sample(written: u64, already_present: u64) -> Sample {
        Sample {
            wall_secs: 1.0,
            peak_rss_kb: 1,
            fetched: written + already_present,
            written,
            already_present,
            commits: 1,
            elapsed_secs: 1.0,
        }
    }

    #[test]
    fn rounds_where_the_stores_did_different_work_are_refused() {
        let reread = [vec![sample(0, 10)], vec![sample(0, 10)]];
        assert!(check_round(&[vec![sample(10, 0)], vec![sample(10, 0)]], &reread, "d").is_ok());
        assert!(check_round(&[vec![sample(10, 0)], vec![sample(9, 0)]], &reread, "d").is_err());
        assert!(check_round(&[vec![sample(0, 0)], vec![sample(0, 0)]], &reread, "d").is_err());
        let rewrote = [vec![sample(0, 10)], vec![sample(3, 7)]];
        assert!(check_round(&[vec![sample(10, 0)], vec![sample(10, 0)]], &rewrote, "d").is_err());
    }
}
