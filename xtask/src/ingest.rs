//! `cargo xtask bench ingest`: the same export-shaped file into deduplicated Parquet by
//! DuckDB's strongest hand-written way (one statement), DuckDB in steps, `mpd import export
//! FILE`, and `mpd fetch events` from the mock serving that file over loopback. Every tool
//! runs as a whole process, several times, alternating; the table shows wall time, CPU time
//! and peak RSS (min/median/max) and the ratios to DuckDB's one statement.
//!
//! The DuckDB scripts are `xtask/bench/duckdb_*.py`; DuckDB is installed with pip into a
//! virtual environment under the target folder on first use.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::bench::{Mock, Usage, wait_with_usage};
use crate::{Runner, cargo, project_root, take_value};

/// Threads DuckDB may use: the machine's cores.
const DUCKDB_THREADS: &str = "2";

struct Tool {
    name: &'static str,
    runs: Vec<Usage>,
    rows: Option<u64>,
}

#[allow(clippy::print_stdout, reason = "xtask talks to the developer")]
pub(crate) fn run(runner: &Runner, args: &[String]) -> Result<()> {
    let mut args = args.to_vec();
    let events: u64 = take_value(&mut args, "--events").map_or(Ok(1_000_000), |v| v.parse())?;
    let repeat: usize = take_value(&mut args, "--repeat").map_or(Ok(3), |v| v.parse())?;
    let only = take_value(&mut args, "--only");
    if let Some(extra) = args.first() {
        bail!("unknown argument {extra:?}: bench ingest takes --events N, --repeat N, --only TOOL");
    }
    let target = crate::target_dir();
    let work = target.join("bench-ingest");
    runner.run(cargo().args(["build", "--release", "-p", "mpd-cli", "-p", "mpd-testkit"]))?;
    if runner.explain() {
        return Ok(());
    }
    std::fs::create_dir_all(&work)?;
    let input = work.join(format!("events-{events}.jsonl"));
    if !input.exists() {
        println!("generating {events} events...");
        crate::gen_events::write(&input, events)?;
    }
    let input_mb = std::fs::metadata(&input)?.len() as f64 / 1e6;
    let bin = target.join("release");
    let scripts = project_root().join("xtask").join("bench");
    let wants = |name: &str| only.as_deref().is_none_or(|o| name.contains(o));
    // `--only` matches the tools' full names, as the table prints them.
    let duckdb_wanted = wants("duckdb one statement") || wants("duckdb in steps");
    let python = if duckdb_wanted { Some(python_with_duckdb(&work)?) } else { None };

    let mock =
        if wants("mpd fetch events") { Some(serve_file(&bin, &work, &input)?) } else { None };

    let mut tools: Vec<Tool> =
        ["duckdb one statement", "duckdb in steps", "mpd import export", "mpd fetch events"]
            .into_iter()
            .filter(|name| wants(name))
            .map(|name| Tool { name, runs: Vec::new(), rows: None })
            .collect();
    let result = (|| -> Result<()> {
        // A first round warms the page cache and the mock's day cache; it is not counted.
        for round in 0..=repeat {
            for tool in &mut tools {
                let (usage, rows) = match tool.name {
                    "duckdb one statement" | "duckdb in steps" => {
                        let script = if tool.name == "duckdb one statement" {
                            "duckdb_oneshot.py"
                        } else {
                            "duckdb_staged.py"
                        };
                        let python = python.as_ref().context("python")?;
                        duckdb(python, &scripts.join(script), &input, &work.join("duckdb"))?
                    }
                    "mpd import export" => mpd_import(&bin, &input, &work)?,
                    _ => {
                        let url = &mock.as_ref().context("mock")?.url;
                        mpd_fetch(&bin, url, &work, &work.join("store-fetch"))?
                    }
                };
                if let Some(before) = tool.rows
                    && before != rows
                {
                    bail!("{} kept {rows} rows, earlier {before}", tool.name);
                }
                tool.rows = Some(rows);
                if round > 0 {
                    tool.runs.push(usage);
                }
                println!("  {} run {round}: {:.2}s", tool.name, usage.wall);
            }
        }
        Ok(())
    })();
    drop(mock);
    result?;
    let rows: Vec<u64> = tools.iter().filter_map(|t| t.rows).collect();
    if rows.windows(2).any(|w| w[0] != w[1]) {
        bail!("the tools kept different numbers of rows: {rows:?}");
    }
    print_table(&tools, events, input_mb, repeat);
    Ok(())
}

#[allow(clippy::print_stdout, reason = "xtask talks to the developer")]
fn print_table(tools: &[Tool], events: u64, input_mb: f64, repeat: usize) {
    let median = |values: &mut Vec<f64>| -> f64 {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let spread = |values: &[f64]| -> String {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        format!(
            "{:.2} / {:.2} / {:.2}",
            sorted[0],
            sorted[sorted.len() / 2],
            sorted[sorted.len() - 1]
        )
    };
    let reference = tools
        .iter()
        .find(|t| t.name == "duckdb one statement")
        .map(|t| median(&mut t.runs.iter().map(|u| u.wall).collect()));
    println!(
        "\ningest: {events} export-shaped events ({input_mb:.0} MB JSONL), release build, 2 cores, {repeat} runs each (after a warm-up)"
    );
    println!(
        "| tool | wall s (min / median / max) | CPU s (median) | peak RSS MB (median) | rows kept | speed vs DuckDB one statement |"
    );
    println!("|---|---|---|---|---|---|");
    for tool in tools {
        let walls: Vec<f64> = tool.runs.iter().map(|u| u.wall).collect();
        let wall = median(&mut walls.clone());
        let cpu = median(&mut tool.runs.iter().map(|u| u.user + u.system).collect());
        let rss = median(&mut tool.runs.iter().map(|u| u.peak_rss_kb as f64 / 1024.0).collect());
        let ratio = reference.map_or("-".to_owned(), |r| format!("{:.2}x", r / wall));
        println!(
            "| {} | {} | {cpu:.2} | {rss:.0} | {} | {ratio} |",
            tool.name,
            spread(&walls),
            tool.rows.unwrap_or_default()
        );
    }
}

fn duckdb(python: &Path, script: &Path, input: &Path, out: &Path) -> Result<(Usage, u64)> {
    let started = Instant::now();
    let child = Command::new(python)
        .arg(script)
        .arg(input)
        .arg(out)
        .arg(DUCKDB_THREADS)
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {}", script.display()))?;
    let (code, usage, stdout) = wait_with_usage(child, started)?;
    if code != 0 {
        bail!("{} failed:\n{stdout}", script.display());
    }
    let rows = stdout
        .lines()
        .find_map(|l| l.strip_prefix("rows\t"))
        .and_then(|v| v.trim().parse().ok())
        .context("the DuckDB script printed no row count")?;
    Ok((usage, rows))
}

/// `mpd-mock` of the release folder `bin` serving the export-shaped file `input`, its
/// scenario file in `work`.
pub(crate) fn serve_file(bin: &Path, work: &Path, input: &Path) -> Result<Mock> {
    // The mock serves the file without gzip: on loopback a compressor would only compete with
    // mpd for the same two cores.
    let scenario = work.join("scenario.toml");
    std::fs::write(&scenario, "gzip = false\n")?;
    let args =
        [OsStr::new("--scenario"), scenario.as_os_str(), OsStr::new("--jsonl"), input.as_os_str()];
    Mock::spawn(bin, &args)
}

fn mpd(bin: &Path, work: &Path) -> Command {
    let mut command = Command::new(bin.join("mpd"));
    command
        .env_clear()
        .env("HOME", work)
        .env("MP_USERNAME", "mock-user")
        .env("MP_SECRET", "mock-secret")
        .env("MP_PROJECT_ID", "1234")
        .env("MP_REGION", "us");
    command
}

fn mpd_import(bin: &Path, input: &Path, work: &Path) -> Result<(Usage, u64)> {
    let store = work.join("store-import");
    let _ = std::fs::remove_dir_all(&store);
    let started = Instant::now();
    let child = mpd(bin, work)
        .args(["import", "export", "-q", "-f", "json"])
        .arg(input)
        .arg("--store")
        .arg(&store)
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot start mpd")?;
    let (code, usage, stdout) = wait_with_usage(child, started)?;
    if code != 0 {
        bail!("mpd import export failed with exit code {code}");
    }
    Ok((usage, written(&stdout)?))
}

/// `mpd fetch events` of the generated days from the mock at `url` into a new store at `store`.
pub(crate) fn mpd_fetch(bin: &Path, url: &str, work: &Path, store: &Path) -> Result<(Usage, u64)> {
    let _ = std::fs::remove_dir_all(store);
    let last = chrono_day(crate::gen_events::START + (crate::gen_events::DAYS - 1) * 86_400);
    let first = chrono_day(crate::gen_events::START);
    let started = Instant::now();
    let child = mpd(bin, work)
        .args(["fetch", "events", "--from", &first, "--to", &last, "-q", "-f", "json", "--store"])
        .arg(store)
        .env("MP_BASE_URL", url)
        .env("MPD_EXPORT_PER_SECOND", "100")
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot start mpd")?;
    let (code, usage, stdout) = wait_with_usage(child, started)?;
    if code != 0 {
        bail!("mpd fetch events failed with exit code {code}");
    }
    Ok((usage, written(&stdout)?))
}

fn written(summary: &str) -> Result<u64> {
    let value: serde_json::Value = serde_json::from_str(summary).context("mpd's summary")?;
    value["written"].as_u64().context("`written` in mpd's summary")
}

/// `YYYY-MM-DD` of a unix second (UTC), without a date library.
fn chrono_day(secs: i64) -> String {
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = secs.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

pub(crate) fn python_with_duckdb(work: &Path) -> Result<PathBuf> {
    crate::venv::python_with(&work.join("venv"), &["duckdb"])
}

#[cfg(test)]
mod tests {
    #[test]
    fn unix_days_to_dates() {
        assert_eq!(super::chrono_day(0), "1970-01-01");
        assert_eq!(super::chrono_day(crate::gen_events::START), "2025-01-01");
        assert_eq!(super::chrono_day(951_782_400), "2000-02-29");
    }
}
