//! `cargo xtask bench ingest`: 1M export-shaped events served by the mock, fetched into a new
//! store by the release `mpd`, against the DuckDB baseline (read_json + dedup + Parquet) on
//! the same file in the same run. Reports both times, the ratio and both peak RSS values.
//!
//! The generator and the DuckDB script are the baseline supplied with the product brief;
//! `--baseline-dir` names the folder that holds `gen_events.py` and `anchor_duckdb.py`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::bench::wait_with_peak_rss;
use crate::{Runner, cargo, project_root, take_value};

#[allow(clippy::print_stdout, reason = "xtask talks to the developer")]
pub(crate) fn run(runner: &Runner, args: &[String]) -> Result<()> {
    let mut args = args.to_vec();
    let baseline = take_value(&mut args, "--baseline-dir").map(PathBuf::from).context(
        "--baseline-dir DIR is required: the folder with gen_events.py and anchor_duckdb.py",
    )?;
    let events: u64 = take_value(&mut args, "--events").map_or(Ok(1_000_000), |v| v.parse())?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| project_root().join("target"), PathBuf::from);
    let work = target.join("bench-ingest");
    runner.run(cargo().args(["build", "--release", "-p", "mpd-cli", "-p", "mpd-testkit"]))?;
    if runner.explain() {
        return Ok(());
    }
    std::fs::create_dir_all(&work)?;
    let python = python_with_duckdb(&work)?;
    let input = work.join(format!("events-{events}.jsonl"));
    if !input.exists() {
        println!("generating {events} events...");
        let status = Command::new(&python)
            .arg(baseline.join("gen_events.py"))
            .arg(events.to_string())
            .arg(&input)
            .status()?;
        if !status.success() {
            bail!("gen_events.py failed");
        }
    }
    let input_mb = std::fs::metadata(&input)?.len() as f64 / 1e6;

    println!("running the DuckDB baseline...");
    let duckdb_dir = work.join("duckdb");
    let started = Instant::now();
    let child = Command::new(&python)
        .arg(baseline.join("anchor_duckdb.py"))
        .arg(&input)
        .arg(&duckdb_dir)
        .arg("2")
        .stdout(Stdio::piped())
        .spawn()?;
    let mut stdout = String::new();
    let mut child = child;
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines() {
            let line = line?;
            stdout.push_str(&line);
            stdout.push('\n');
        }
    }
    let (code, duckdb_rss_kb) = wait_with_peak_rss(&child)?;
    let duckdb_total = started.elapsed().as_secs_f64();
    if code != 0 {
        bail!("anchor_duckdb.py failed:\n{stdout}");
    }
    let stage = |name: &str| -> f64 {
        stdout
            .lines()
            .find(|l| l.starts_with(&format!("{name}\t")))
            .and_then(|l| l.split('\t').nth(1))
            .and_then(|v| v.trim_end_matches('s').parse().ok())
            .unwrap_or(f64::NAN)
    };
    let duckdb_ingest = stage("ingest") + stage("dedup") + stage("parquet");
    let duckdb_rows = stdout
        .lines()
        .find(|l| l.starts_with("count\t"))
        .and_then(|l| l.split('\t').nth(2))
        .map(|v| v.trim_matches(|c: char| !c.is_ascii_digit()).to_owned())
        .unwrap_or_default();

    println!("serving the file from the mock and fetching it with mpd...");
    let bin = target.join("release");
    let scenario = work.join("scenario.toml");
    // Loopback needs no compression; with gzip on, the mock's compressor would compete with
    // mpd for the same two cores and the benchmark would measure the mock.
    std::fs::write(&scenario, "gzip = false\n")?;
    let mut mock = Command::new(bin.join("mpd-mock"))
        .args(["--port", "0", "--scenario"])
        .arg(&scenario)
        .arg("--jsonl")
        .arg(&input)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot start mpd-mock")?;
    let result = fetch_with_mpd(&bin, &mut mock, &work);
    let _ = mock.kill();
    let _ = mock.wait();
    let (mpd_seconds, mpd_rss_kb, written) = result?;

    println!("\ningest: {events} events ({input_mb:.0} MB JSONL), release build, 2 cores");
    println!("| tool | seconds | rows kept | peak RSS MB |");
    println!("|---|---|---|---|");
    println!(
        "| DuckDB baseline (read_json + dedup + Parquet; process total {duckdb_total:.2}s) | {duckdb_ingest:.2} | {duckdb_rows} | {:.0} |",
        duckdb_rss_kb as f64 / 1024.0
    );
    println!(
        "| mpd fetch events (mock over loopback → dedup → Delta) | {mpd_seconds:.2} | {written} | {:.0} |",
        mpd_rss_kb as f64 / 1024.0
    );
    println!("speed ratio (DuckDB seconds / mpd seconds): {:.2}x", duckdb_ingest / mpd_seconds);
    Ok(())
}

fn fetch_with_mpd(
    bin: &Path,
    mock: &mut std::process::Child,
    work: &Path,
) -> Result<(f64, i64, String)> {
    let url = crate::bench::mock_url(mock)?;
    let store = work.join("store");
    let _ = std::fs::remove_dir_all(&store);
    let summary = work.join("mpd-summary.json");
    let started = Instant::now();
    let child = Command::new(bin.join("mpd"))
        .args(["fetch", "events", "--from", "2025-01-01", "--to", "2025-01-07", "-q", "-f", "json"])
        .arg("--store")
        .arg(&store)
        .env_clear()
        .env("HOME", work)
        .env("MP_USERNAME", "mock-user")
        .env("MP_SECRET", "mock-secret")
        .env("MP_PROJECT_ID", "1234")
        .env("MP_REGION", "us")
        .env("MP_BASE_URL", &url)
        .stdout(std::fs::File::create(&summary)?)
        .spawn()
        .context("cannot start mpd")?;
    let (code, rss) = wait_with_peak_rss(&child)?;
    let seconds = started.elapsed().as_secs_f64();
    if code != 0 {
        bail!("mpd failed with exit code {code}");
    }
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(&summary)?)?;
    Ok((seconds, rss, summary["written"].to_string()))
}

fn python_with_duckdb(work: &Path) -> Result<PathBuf> {
    let venv = work.join("venv");
    let python = venv.join("bin").join("python");
    // pytz: DuckDB's Python client needs it to return timestamps with time zones.
    let packages = ["duckdb", "pytz"];
    let marker = venv.join(".installed");
    if std::fs::read_to_string(&marker).ok().as_deref() != Some(packages.join(" ").as_str()) {
        let status = Command::new("python3").args(["-m", "venv"]).arg(&venv).status()?;
        if !status.success() {
            bail!("python3 -m venv failed");
        }
        let status = Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check"])
            .args(packages)
            .status()?;
        if !status.success() {
            bail!("pip install {} failed", packages.join(" "));
        }
        std::fs::write(&marker, packages.join(" "))?;
    }
    Ok(python)
}
