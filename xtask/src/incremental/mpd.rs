//! The release `mpd` run against the mock: one command at a time, timed from spawn to exit, with
//! the peak RSS of the process and the JSON report it prints.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use super::day::Day;
use crate::bench::wait_with_peak_rss;

/// How to start `mpd` against the mock, with nothing from the developer's environment.
pub(crate) struct Mpd {
    pub(crate) bin: PathBuf,
    pub(crate) url: String,
    /// `HOME` of every run, and where stdout and stderr of each run are kept.
    pub(crate) home: PathBuf,
}

/// One `mpd sync events` run.
#[derive(Debug, Clone)]
pub(crate) struct Sample {
    pub(crate) wall_secs: f64,
    pub(crate) peak_rss_kb: i64,
    pub(crate) fetched: u64,
    pub(crate) written: u64,
    pub(crate) already_present: u64,
    pub(crate) commits: u64,
    /// The sync's own time, without process start and store opening.
    pub(crate) elapsed_secs: f64,
}

/// How much history a store holds.
#[derive(Debug, Clone, Default)]
pub(crate) struct Shape {
    /// Live data files of the `events` table.
    pub(crate) events_files: u64,
    /// Delta version of the `events` table.
    pub(crate) events_version: i64,
    /// Live data files of all tables.
    pub(crate) all_files: u64,
    /// Commit files in the `_delta_log` folders of all tables.
    pub(crate) log_entries: u64,
    /// Checkpoint files in those folders.
    pub(crate) checkpoints: u64,
    /// Every table as `name (N files, version V)`.
    pub(crate) tables: Vec<String>,
}

impl Mpd {
    fn command(&self, store: &Path, today: Day) -> Command {
        let mut command = Command::new(self.bin.join("mpd"));
        command
            .env_clear()
            .env("HOME", &self.home)
            .env("MP_USERNAME", "mock-user")
            .env("MP_SECRET", "mock-secret")
            .env("MP_PROJECT_ID", "1234")
            .env("MP_REGION", "us")
            .env("MP_BASE_URL", &self.url)
            // The client's request budget must never be what the bench measures.
            .env("MPD_EXPORT_PER_SECOND", "1000")
            .env("MPD_EXPORT_PER_HOUR", "100000")
            .env("MPD_STORE", store)
            .env("MPD_TODAY", today.to_string());
        command
    }

    /// Runs `mpd <args> -q --no-progress -f json`; returns wall seconds, peak RSS and stdout.
    fn run(&self, store: &Path, today: Day, args: &[&str]) -> Result<(f64, i64, Value)> {
        let stdout_path = self.home.join("mpd-stdout.json");
        let stderr_path = self.home.join("mpd-stderr.txt");
        let mut command = self.command(store, today);
        command
            .args(args)
            .args(["-q", "--no-progress", "-f", "json"])
            .stdin(Stdio::null())
            .stdout(File::create(&stdout_path)?)
            .stderr(File::create(&stderr_path)?);
        let shown = format!("mpd {} (MPD_TODAY={today})", args.join(" "));
        let started = Instant::now();
        let child = command.spawn().with_context(|| format!("cannot start {shown}"))?;
        let (code, peak_rss_kb) = wait_with_peak_rss(&child)?;
        let wall_secs = started.elapsed().as_secs_f64();
        if code != 0 {
            let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
            bail!("`{shown}` failed with exit code {code}:\n{}", stderr.trim_end());
        }
        let stdout = std::fs::read(&stdout_path)?;
        let report = serde_json::from_slice(&stdout)
            .with_context(|| format!("`{shown}` printed no JSON report"))?;
        Ok((wall_secs, peak_rss_kb, report))
    }

    /// `mpd sync events ARGS` into `store`, with "today" at `today`.
    pub(crate) fn sync_events(&self, store: &Path, today: Day, args: &[&str]) -> Result<Sample> {
        let mut full = vec!["sync", "events"];
        full.extend_from_slice(args);
        let (wall_secs, peak_rss_kb, report) = self.run(store, today, &full)?;
        let events = &report["events"];
        let number = |key: &str| {
            events[key].as_u64().with_context(|| format!("no events.{key} in the sync report"))
        };
        Ok(Sample {
            wall_secs,
            peak_rss_kb,
            fetched: number("fetched")?,
            written: number("written")?,
            already_present: number("already_present")?,
            commits: number("commits")?,
            elapsed_secs: events["elapsed_secs"].as_f64().unwrap_or(f64::NAN),
        })
    }

    /// Fetches `from..=to` to stdout and drops it, so the mock has generated those days before
    /// they are timed: otherwise whichever store asks first pays for the generation.
    pub(crate) fn warm_mock(&self, from: Day, to: Day, today: Day) -> Result<()> {
        let (from, to) = (from.to_string(), to.to_string());
        let args =
            ["fetch", "events", "--stdout", "--raw", "--quiet", "--from", &from, "--to", &to];
        let status = self
            .command(&self.home.join("unused-store"), today)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .context("cannot start mpd fetch")?;
        if !status.success() {
            bail!("`mpd {}` failed with {status}", args.join(" "));
        }
        Ok(())
    }

    /// Data files per table (`mpd inspect tables`) and the Delta log files on disk.
    pub(crate) fn shape(&self, store: &Path, today: Day) -> Result<Shape> {
        let (_, _, tables) = self.run(store, today, &["inspect", "tables"])?;
        let mut shape = Shape::default();
        for table in tables.as_array().context("`mpd inspect tables` printed no JSON array")? {
            let files = table["files"].as_u64().unwrap_or(0);
            let version = table["version"].as_i64().unwrap_or(-1);
            let name = table["name"].as_str().unwrap_or("?");
            shape.all_files += files;
            if name == "events" {
                shape.events_files = files;
                shape.events_version = version;
            }
            shape.tables.push(format!("{name} ({files} files, version {version})"));
        }
        for entry in std::fs::read_dir(store)? {
            let log = entry?.path().join("_delta_log");
            if !log.is_dir() {
                continue;
            }
            for file in std::fs::read_dir(&log)? {
                let name = file?.file_name().to_string_lossy().into_owned();
                if name.contains(".checkpoint.") {
                    shape.checkpoints += 1;
                } else if name.ends_with(".json") {
                    shape.log_entries += 1;
                }
            }
        }
        Ok(shape)
    }
}
