//! `cargo xtask bench sql`: the questions analysts ask every day, timed in mpd and in DuckDB
//! on the same events, on three stores the release `mpd` writes from the export-shaped file of
//! `bench ingest` (so they have the layout this build writes):
//! - **fetched**: `mpd fetch events` from the mock serving the file, the way analysts fill a
//!   store (requests day by day, so each day's rows come together);
//! - **imported**: `mpd import export FILE`, where the file mixes its seven days line by line
//!   (the worst case for the sorted runs a write makes in bounded memory);
//! - **compacted**: that import after `mpd tables compact events` (each day one file sorted
//!   by event and time).
//!
//! Each query runs in one `mpd query sql` process per store, its repeats timed in-process
//! (`--repeat`); whole processes are timed on the fetched store. DuckDB loads the same file
//! into memory (`xtask/bench/duckdb_sql.py`) and times the same questions in its dialect. The
//! answers must agree across the stores and with DuckDB.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::{Runner, cargo, project_root};

/// The questions, as mpd asks them; `xtask/bench/duckdb_sql.py` has DuckDB's wording.
const QUERIES: [(&str, &str); 5] = [
    (
        "count by event",
        "SELECT event_name, count(*) AS n FROM events GROUP BY 1 ORDER BY 2 DESC, 1",
    ),
    (
        "daily uniques",
        "SELECT CAST(date_trunc('day', time) AS DATE) AS day, \
         count(DISTINCT distinct_id) AS users FROM events GROUP BY 1 ORDER BY 1",
    ),
    (
        "$browser breakdown",
        "SELECT properties->>'$browser' AS browser, count(*) AS n \
         FROM events GROUP BY 1 ORDER BY 2 DESC, 1",
    ),
    (
        "revenue of Purchase",
        "SELECT round(sum(json_get_float(properties, 'amount')), 2) AS revenue \
         FROM events WHERE event_name = 'Purchase'",
    ),
    ("3-step funnel", FUNNEL),
];

const FUNNEL: &str = "WITH viewed AS ( \
       SELECT distinct_id, min(time) AS at FROM events WHERE event_name = 'Page View' GROUP BY 1), \
     carted AS ( \
       SELECT e.distinct_id, min(e.time) AS at FROM events e \
       JOIN viewed v ON e.distinct_id = v.distinct_id AND e.time > v.at \
       WHERE e.event_name = 'Add To Cart' GROUP BY 1), \
     bought AS ( \
       SELECT e.distinct_id, min(e.time) AS at FROM events e \
       JOIN carted c ON e.distinct_id = c.distinct_id AND e.time > c.at \
       WHERE e.event_name = 'Purchase' GROUP BY 1) \
     SELECT (SELECT count(*) FROM viewed) AS viewed, (SELECT count(*) FROM carted) AS carted, \
            (SELECT count(*) FROM bought) AS bought";

/// DuckDB's threads: the machine's cores, as mpd's DataFusion session uses.
const THREADS: &str = "2";

/// The stores every question runs on, as the release build writes them.
const STORES: [&str; 3] = ["fetched", "imported", "compacted"];

struct Measured {
    name: &'static str,
    /// In-process timings on each of [`STORES`].
    store_ms: Vec<Vec<f64>>,
    /// Whole processes on the fetched store.
    process_ms: Vec<f64>,
    duckdb_ms: Vec<f64>,
    mpd_answer: String,
    duckdb_answer: String,
}

#[allow(clippy::print_stdout, reason = "xtask talks to the developer")]
pub(crate) fn run(runner: &Runner, args: &[String]) -> Result<()> {
    let (events, repeat) = crate::bench::events_and_repeat(args, "sql")?;
    let target = crate::target_dir();
    runner.run(cargo().args(["build", "--release", "-p", "mpd-cli", "-p", "mpd-testkit"]))?;
    if runner.explain() {
        return Ok(());
    }
    let input_dir = target.join("bench-ingest");
    std::fs::create_dir_all(&input_dir)?;
    let input = input_dir.join(format!("events-{events}.jsonl"));
    if !input.exists() {
        println!("generating {events} events...");
        crate::gen_events::write(&input, events)?;
    }
    let work = target.join("bench-sql");
    std::fs::create_dir_all(&work)?;
    let release = target.join("release");
    let bin = release.join("mpd");
    let stores = STORES.map(|store| work.join(format!("store-{store}")));
    let [fetched, imported, compacted] = &stores;

    let started = Instant::now();
    let mock = crate::ingest::serve_file(&release, &work, &input)?;
    crate::ingest::mpd_fetch(&release, &mock.url, &work, fetched)?;
    drop(mock);
    println!("store fetched by `mpd fetch events` in {:.2}s", started.elapsed().as_secs_f64());
    let started = Instant::now();
    build_store(&bin, &work, &input, imported)?;
    println!("store built by `mpd import export` in {:.2}s", started.elapsed().as_secs_f64());
    build_store(&bin, &work, &input, compacted)?;
    let started = Instant::now();
    compact(&bin, &work, compacted)?;
    println!("a copy compacted by `mpd tables compact` in {:.2}s", started.elapsed().as_secs_f64());

    let python = crate::ingest::python_with_duckdb(&input_dir)?;
    let script = project_root().join("xtask").join("bench").join("duckdb_sql.py");
    let duckdb = run_duckdb(&python, &script, &input, repeat)?;

    let mut measured = Vec::new();
    for (name, query) in QUERIES {
        let mut store_ms = Vec::new();
        let mut mpd_answer: Option<String> = None;
        for (store, path) in STORES.iter().zip(&stores) {
            let (ms, answer) = in_process(&bin, &work, path, query, repeat)?;
            match &mpd_answer {
                Some(first) if !same_answer(first, &answer) => {
                    bail!("{name}: {first} on the {} store but {answer} {store}", STORES[0])
                }
                Some(_) => {}
                None => mpd_answer = Some(answer),
            }
            store_ms.push(ms);
        }
        let mut process_ms = Vec::new();
        for _ in 0..repeat {
            let started = Instant::now();
            in_process(&bin, &work, fetched, query, 0)?;
            process_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        let (duckdb_ms, duckdb_answer) = duckdb
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, ms, answer)| (ms.clone(), answer.clone()))
            .with_context(|| format!("DuckDB did not answer {name:?}"))?;
        measured.push(Measured {
            name,
            store_ms,
            process_ms,
            duckdb_ms,
            mpd_answer: mpd_answer.unwrap_or_default(),
            duckdb_answer,
        });
    }
    print_table(&measured, events, repeat);
    let differing: Vec<_> =
        measured.iter().filter(|m| !same_answer(&m.mpd_answer, &m.duckdb_answer)).collect();
    for m in &differing {
        println!("{}: mpd {} but DuckDB {}", m.name, m.mpd_answer, m.duckdb_answer);
    }
    if !differing.is_empty() {
        bail!("{} question(s) answered differently", differing.len());
    }
    Ok(())
}

/// A new store at `store` holding `input`, written by `mpd import export`.
pub(crate) fn build_store(bin: &Path, work: &Path, input: &Path, store: &Path) -> Result<()> {
    let _ = std::fs::remove_dir_all(store);
    let args = [OsStr::new("import"), OsStr::new("export"), OsStr::new("-q"), input.as_os_str()];
    run_on_store(bin, work, &args, store)
}

/// `mpd tables compact events` on `store`.
fn compact(bin: &Path, work: &Path, store: &Path) -> Result<()> {
    let args = ["tables", "compact", "events", "-q"].map(OsStr::new);
    run_on_store(bin, work, &args, store)
}

/// `mpd ARGS --store STORE`, its output discarded; an error unless it succeeds.
fn run_on_store(bin: &Path, work: &Path, args: &[&OsStr], store: &Path) -> Result<()> {
    let status = mpd(bin, work)
        .args(args)
        .arg("--store")
        .arg(store)
        .stdout(Stdio::null())
        .status()
        .context("cannot start mpd")?;
    if !status.success() {
        bail!(
            "mpd {} failed",
            args.iter().map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" ")
        );
    }
    Ok(())
}

/// The release `mpd` with a clean environment and `work` as its home.
pub(crate) fn mpd(bin: &Path, work: &Path) -> Command {
    let mut command = Command::new(bin);
    command.env_clear().env("HOME", work).env("PATH", std::env::var_os("PATH").unwrap_or_default());
    // DataFusion settings under test (`DATAFUSION_EXECUTION_TARGET_PARTITIONS=4 cargo xtask
    // bench sql`) reach mpd.
    command.envs(std::env::vars().filter(|(key, _)| key.starts_with("DATAFUSION_")));
    command
}

/// One `mpd query sql` process: the first run's answer (first row, values as text) and the
/// in-process milliseconds of `repeat` more runs.
fn in_process(
    bin: &Path,
    work: &Path,
    store: &Path,
    query: &str,
    repeat: u32,
) -> Result<(Vec<f64>, String)> {
    let mut command = mpd(bin, work);
    command.args(["query", "sql", "-f", "json", "--no-progress", "--store"]).arg(store);
    if repeat > 0 {
        command.args(["--repeat", &repeat.to_string()]);
    }
    let output = command.arg(query).output().context("cannot start mpd")?;
    if !output.status.success() {
        bail!("mpd query sql failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    let rows: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let first: Vec<String> = rows
        .get(0)
        .and_then(serde_json::Value::as_object)
        .map(|row| row.values().map(value_text).collect())
        .unwrap_or_default();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let timings = match stderr.lines().find_map(|l| l.strip_prefix("timings_ms: ")) {
        Some(list) => serde_json::from_str(list)?,
        None => Vec::new(),
    };
    Ok((timings, serde_json::to_string(&vec![first])?))
}

fn value_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

type DuckDbAnswer = (String, Vec<f64>, String);

fn run_duckdb(
    python: &Path,
    script: &Path,
    input: &Path,
    repeat: u32,
) -> Result<Vec<DuckDbAnswer>> {
    let output = Command::new(python)
        .arg(script)
        .arg(input)
        .args([THREADS, &repeat.to_string()])
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run the DuckDB script")?;
    if !output.status.success() {
        bail!("the DuckDB script failed");
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| {
            let mut parts = line.splitn(3, '\t');
            let (Some(name), Some(ms), Some(answer)) = (parts.next(), parts.next(), parts.next())
            else {
                bail!("unexpected DuckDB output line {line:?}");
            };
            let ms = ms.split(',').map(str::parse).collect::<Result<Vec<f64>, _>>()?;
            Ok((name.to_owned(), ms, answer.to_owned()))
        })
        .collect()
}

/// Answers agree when every value does, numbers compared as numbers (DuckDB writes `31.0`
/// where mpd writes `31`) and dates by their day.
fn same_answer(mpd: &str, duckdb: &str) -> bool {
    let parse = |text: &str| serde_json::from_str::<Vec<Vec<String>>>(text).unwrap_or_default();
    let (a, b) = (parse(mpd), parse(duckdb));
    a.len() == b.len()
        && a.iter().zip(&b).all(|(x, y)| {
            x.len() == y.len()
                && x.iter().zip(y).all(|(u, v)| match (u.parse::<f64>(), v.parse::<f64>()) {
                    (Ok(p), Ok(q)) => (p - q).abs() <= 1e-6 * p.abs().max(1.0),
                    _ => u == v || same_day(u, v),
                })
        })
}

/// `2025-01-01` and `2025-01-01 00:00:00` name the same day.
fn same_day(a: &str, b: &str) -> bool {
    day_of(a).is_some() && day_of(a) == day_of(b)
}

fn day_of(text: &str) -> Option<&str> {
    text.get(..10).filter(|d| d.as_bytes()[4] == b'-' && d.as_bytes()[7] == b'-')
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN)
}

fn spread(values: &[f64]) -> String {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{min:.0} / {:.0} / {max:.0}", median(values))
}

#[allow(clippy::print_stdout, reason = "xtask talks to the developer")]
fn print_table(measured: &[Measured], events: u64, repeat: u32) {
    println!(
        "\nsql: {events} export-shaped events, deduplicated; release build, 2 cores; {repeat} runs per \
         query after a warm-up (ms, min / median / max)"
    );
    let mut header = String::from("| query | DuckDB in-process |");
    for store in STORES {
        header.push_str(&format!(" mpd, {store} | / DuckDB |"));
    }
    header.push_str(" mpd whole process, fetched |");
    println!("{header}");
    println!("|---|---|{}---|", "---|---|".repeat(STORES.len()));
    let mut log_sums = [0.0; STORES.len()];
    for m in measured {
        let mut line = format!("| {} | {} |", m.name, spread(&m.duckdb_ms));
        for (ms, log_sum) in m.store_ms.iter().zip(&mut log_sums) {
            let ratio = median(ms) / median(&m.duckdb_ms);
            *log_sum += ratio.ln();
            line.push_str(&format!(" {} | {ratio:.2}x |", spread(ms)));
        }
        line.push_str(&format!(" {} |", spread(&m.process_ms)));
        println!("{line}");
    }
    let n = measured.len() as f64;
    let means: Vec<String> = STORES
        .iter()
        .zip(log_sums)
        .map(|(store, log_sum)| format!("{:.2}x {store}", (log_sum / n).exp()))
        .collect();
    println!("geometric mean of mpd / DuckDB: {}", means.join(", "));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_compare_numbers_as_numbers_and_dates_by_day() {
        assert!(same_answer(r#"[["31","Login"]]"#, r#"[["31.0","Login"]]"#));
        assert!(same_answer(r#"[["2025-01-01"]]"#, r#"[["2025-01-01 00:00:00"]]"#));
        assert!(!same_answer(r#"[["30"]]"#, r#"[["31"]]"#));
        assert!(!same_answer(r#"[["Login"]]"#, r#"[["Logout"]]"#));
        assert!(!same_answer("[]", r#"[["1"]]"#));
    }

    #[test]
    fn the_median_of_an_even_list_is_the_upper_middle() {
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 3.0);
        assert!(median(&[]).is_nan());
    }
}
