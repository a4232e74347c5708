//! `cargo xtask bench python`: a whole table from the store into a Polars DataFrame, two ways,
//! each as whole processes on the same store: the module's zero-copy path
//! (`polars.DataFrame(ws.sql("SELECT * FROM events"))`, release build of the module) against
//! what a user of the CLI does (`mpd query sql ... --output x.parquet`, then
//! `polars.read_parquet`). Pairs alternate; wall time and peak RSS per pair.

use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::bench::{Usage, wait_with_usage};
use crate::{Runner, cargo, project_root};

const PACKAGES: [&str; 2] = ["maturin==1.10.2", "polars==2.1.0"];
const QUERY: &str = "SELECT * FROM events";

#[allow(clippy::print_stdout, reason = "xtask talks to the developer")]
pub(crate) fn run(runner: &Runner, args: &[String]) -> Result<()> {
    let (events, repeat) = crate::bench::events_and_repeat(args, "python")?;
    let target = crate::target_dir();
    runner.run(cargo().args(["build", "--release", "-p", "mpd-cli"]))?;
    let work = target.join("bench-python");
    let venv = work.join("venv");
    let python = if runner.explain() {
        venv.join("bin").join("python")
    } else {
        std::fs::create_dir_all(&work)?;
        crate::venv::python_with(&venv, &PACKAGES)?
    };
    let mut develop = Command::new(venv.join("bin").join("maturin"));
    develop
        .args(["develop", "--release", "--quiet"])
        .current_dir(project_root().join("crates").join("mpd-python"))
        .env("CARGO_TARGET_DIR", &target)
        .env("VIRTUAL_ENV", &venv);
    runner.run(&mut develop)?;
    if runner.explain() {
        return Ok(());
    }

    let input = target.join("bench-ingest").join(format!("events-{events}.jsonl"));
    if !input.exists() {
        std::fs::create_dir_all(target.join("bench-ingest"))?;
        println!("generating {events} events...");
        crate::gen_events::write(&input, events)?;
    }
    let bin = target.join("release").join("mpd");
    let store = work.join("store");
    crate::sql_bench::build_store(&bin, &work, &input, &store)?;

    let parquet = work.join("events.parquet");
    let zero_copy = format!(
        "import mpd, polars as pl\n\
         df = pl.DataFrame(mpd.Workspace(store={store:?}).sql({QUERY:?}))\n\
         print(df.height)",
        store = store.display().to_string()
    );
    let read_file = format!(
        "import polars as pl\nprint(pl.read_parquet({:?}).height)",
        parquet.display().to_string()
    );
    let mut arrow = Vec::new();
    let mut via_file = Vec::new();
    for _ in 0..repeat {
        let (rows, usage) =
            timed(Command::new(&python).args(["-c", &zero_copy]).env("HOME", &work))?;
        let _ = std::fs::remove_file(&parquet);
        let mut export = crate::sql_bench::mpd(&bin, &work);
        export.args(["query", "sql", QUERY, "--store"]).arg(&store).arg("--output").arg(&parquet);
        let (_, written) = timed(&mut export)?;
        let (read_rows, read) = timed(Command::new(&python).args(["-c", &read_file]))?;
        if rows.trim() != read_rows.trim() {
            bail!("the zero-copy path read {rows:?} rows but the Parquet path {read_rows:?}");
        }
        arrow.push(usage);
        via_file.push(Usage {
            wall: written.wall + read.wall,
            user: written.user + read.user,
            system: written.system + read.system,
            peak_rss_kb: written.peak_rss_kb.max(read.peak_rss_kb),
        });
    }
    println!(
        "\npython: `SELECT * FROM events` ({events} events) into a Polars DataFrame; release \
         build; {repeat} pairs (min / median / max)"
    );
    println!("| path | wall s | peak RSS MB |");
    println!("|---|---|---|");
    for (name, runs) in [
        ("`polars.DataFrame(ws.sql(...))` (Arrow stream, one process)", &arrow),
        ("`mpd query sql --output x.parquet` + `polars.read_parquet` (two processes)", &via_file),
    ] {
        let wall: Vec<f64> = runs.iter().map(|u| u.wall).collect();
        let rss: Vec<f64> = runs.iter().map(|u| u.peak_rss_kb as f64 / 1024.0).collect();
        println!("| {name} | {} | {} |", spread(&wall, 2), spread(&rss, 0));
    }
    let ratios: Vec<f64> = arrow.iter().zip(&via_file).map(|(a, f)| a.wall / f.wall).collect();
    println!("zero-copy / file, pair by pair: {}", spread(&ratios, 2));
    Ok(())
}

/// Runs `command` to the end; its stdout and usage.
fn timed(command: &mut Command) -> Result<(String, Usage)> {
    let started = Instant::now();
    let child = command.stdout(Stdio::piped()).spawn().context("cannot start the benchmark")?;
    let (code, usage, stdout) = wait_with_usage(child, started)?;
    if code != 0 {
        bail!("{command:?} exited with {code}");
    }
    Ok((stdout, usage))
}

fn spread(values: &[f64], decimals: usize) -> String {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let at = |i: usize| sorted.get(i).copied().unwrap_or(f64::NAN);
    format!(
        "{:.decimals$} / {:.decimals$} / {:.decimals$}",
        at(0),
        at(sorted.len() / 2),
        at(sorted.len().saturating_sub(1))
    )
}
