//! Project automation: `cargo xtask ci | test | soak | e2e | tidy | bench stream|ingest|incremental | demo | mock`.
//!
//! Every subcommand prints the commands it runs; `--explain` prints them without running.

mod azure_emulator;
mod bench;
mod gen_events;
mod incremental;
mod ingest;
mod python_bench;
mod python_suite;
mod s3_emulator;
mod sql_bench;
mod tidy;
mod venv;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

fn main() -> Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let explain = take_flag(&mut args, "--explain");
    let Some(task) = args.first().cloned() else {
        print_usage();
        bail!("no task given");
    };
    let rest = &args[1..];
    let root = project_root();
    std::env::set_current_dir(&root)?;
    let runner = Runner { explain };
    match task.as_str() {
        "ci" => ci(&runner),
        "test" => test(&runner, rest, None),
        "soak" => soak(&runner, rest),
        "e2e" => e2e(&runner, rest),
        "tidy" => tidy::run(&runner),
        "bench" => bench::run(&runner, rest),
        "demo" => runner.run(cargo().args(["run", "--quiet", "-p", "mpd-cli", "--", "demo"])),
        "mock" => runner.run(
            cargo()
                .args(["run", "--quiet", "-p", "mpd-testkit", "--bin", "mpd-mock", "--"])
                .args(rest),
        ),
        "help" | "--help" | "-h" => {
            print_usage();
            Ok(())
        }
        other => {
            print_usage();
            bail!("unknown task {other:?}")
        }
    }
}

#[allow(clippy::print_stdout, reason = "xtask talks to the developer")]
fn print_usage() {
    println!(
        "usage: cargo xtask [--explain] TASK\n\
         tasks:\n  \
         ci            fmt check, clippy -D warnings, tidy, the whole test suite (what .ci/run runs)\n  \
         test [ARGS]   the whole test suite (unit, integration, e2e with cargo nextest; the Python module's and `mpd mcp`'s pytest suites when no ARGS)\n  \
         soak [--cases N]  the property tests with fresh random cases (default 20000 each)\n  \
         e2e [--case NAME] [--accept]  only the CLI end-to-end cases; --accept updates snapshots\n  \
         tidy          check crate layering and dependency rules\n  \
         bench stream [--events-per-day N] [--days D]  streaming throughput against the mock (release build)\n  \
         bench ingest [--events N] [--repeat N] [--only TOOL]  DuckDB vs mpd import export and fetch, same file (release build)\n  \
         bench sql [--events N] [--repeat N]  DuckDB in-process vs mpd query sql on the same events (release build)\n  \
         bench python [--events N] [--repeat N]  a whole table into Polars: the module's Arrow stream vs Parquet file + read_parquet (release build)
  \
         bench incremental [--events-per-day N] [--repeat N] [--histories 7,365,3650] [--keep DIR]  1-day sync cost against 7 days, 365 days and 10 years of history\n  \
         demo          run `mpd demo`\n  \
         mock [ARGS]   run the mock Mixpanel server"
    );
}

/// The gate draws the same property-test cases on every run, so a red run is the code's doing
/// and replays exactly; `cargo xtask soak` is where fresh cases are drawn. A seed already set in
/// the environment wins, to replay a soak failure through the gate.
const GATE_PROPTEST_SEED: &str = "5";

fn ci(runner: &Runner) -> Result<()> {
    runner.run(cargo().args(["fmt", "--all", "--", "--check"]))?;
    runner.run(cargo().args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;
    // The binary without the bundled mock (`cargo install --no-default-features`) must build too.
    runner.run(cargo().args([
        "clippy",
        "-p",
        "mpd-cli",
        "--no-default-features",
        "--",
        "-D",
        "warnings",
    ]))?;
    tidy::run(runner)?;
    let seed = std::env::var("PROPTEST_RNG_SEED").unwrap_or_else(|_| GATE_PROPTEST_SEED.into());
    test(runner, &[], Some(&seed))
}

#[allow(clippy::print_stderr, reason = "xtask talks to the developer")]
fn test(runner: &Runner, extra: &[String], proptest_seed: Option<&str>) -> Result<()> {
    let mut suite = cargo();
    // The object-store tests run against an S3 server started here; without it they skip and
    // say so.
    let emulator = if runner.explain() {
        None
    } else {
        let target = crate::target_dir();
        match s3_emulator::S3Emulator::start(&target) {
            Ok(emulator) => Some(emulator),
            Err(error) => {
                eprintln!(
                    "!!! S3 TESTS WILL SKIP: cannot install or start the S3 emulator: {error:#}"
                );
                None
            }
        }
    };
    for (key, value) in emulator.iter().flat_map(s3_emulator::S3Emulator::env) {
        suite.env(key, value);
    }
    let target = crate::target_dir();
    let azure = match &emulator {
        Some(s3) => match azure_emulator::AzureEmulator::start(&target, s3.python()) {
            Ok(azure) => Some(azure),
            Err(error) => {
                eprintln!("!!! AZURE TESTS WILL SKIP: cannot install or start Azurite: {error:#}");
                None
            }
        },
        None => None,
    };
    for (key, value) in azure.iter().flat_map(azure_emulator::AzureEmulator::env) {
        suite.env(key, value);
    }
    if has_nextest() {
        suite.args(["nextest", "run", "--workspace", "--no-fail-fast"]);
    } else {
        suite.args(["test", "--workspace", "--no-fail-fast"]);
    }
    suite.args(extra);
    if let Some(seed) = proptest_seed {
        suite.env("PROPTEST_RNG_SEED", seed);
    }
    runner.run(&mut suite)?;
    if has_nextest() {
        // nextest does not run doctests.
        runner.run(cargo().args(["test", "--workspace", "--doc"]))?;
    }
    // The Python suites (the module's, `mpd mcp`'s), with the whole suite (not with a subset's arguments).
    if extra.is_empty() {
        python_suite::run(runner, &target)?;
    }
    Ok(())
}

/// Property tests with many fresh cases. A failure is saved under
/// `tests/proptest-regressions/`, which every later run (the gate included) replays first:
/// commit that file with the fix.
fn soak(runner: &Runner, args: &[String]) -> Result<()> {
    let mut args = args.to_vec();
    let cases = take_value(&mut args, "--cases").unwrap_or_else(|| "20000".into());
    if !args.is_empty() {
        bail!("soak takes only --cases N, not {args:?}");
    }
    let mut command = cargo();
    if has_nextest() {
        command.args(["nextest", "run", "-p", "mpd-decode", "--no-fail-fast"]);
    } else {
        command.args(["test", "-p", "mpd-decode", "--no-fail-fast"]);
    }
    runner.run(command.env("PROPTEST_CASES", cases).env_remove("PROPTEST_RNG_SEED"))
}

fn e2e(runner: &Runner, args: &[String]) -> Result<()> {
    let mut args = args.to_vec();
    let accept = take_flag(&mut args, "--accept");
    let case = take_value(&mut args, "--case");
    let mut command = cargo();
    if has_nextest() {
        command.args(["nextest", "run", "-p", "mpd-cli", "--test", "e2e"]);
    } else {
        command.args(["test", "-p", "mpd-cli", "--test", "e2e", "--"]);
    }
    if let Some(case) = case {
        command.arg(case);
    }
    if accept {
        command.env("INSTA_UPDATE", "always").env("INSTA_FORCE_PASS", "1");
    }
    runner.run(&mut command)
}

/// Runs commands, or only shows them with `--explain`.
pub(crate) struct Runner {
    explain: bool,
}

impl Runner {
    #[allow(clippy::print_stdout, reason = "xtask talks to the developer")]
    pub(crate) fn run(&self, command: &mut Command) -> Result<()> {
        println!("$ {}", show(command));
        if self.explain {
            return Ok(());
        }
        let status = command.status().with_context(|| format!("cannot run {}", show(command)))?;
        if !status.success() {
            bail!("`{}` failed with {status}", show(command));
        }
        Ok(())
    }

    pub(crate) fn explain(&self) -> bool {
        self.explain
    }
}

fn show(command: &Command) -> String {
    let mut words: Vec<String> = command
        .get_envs()
        .filter_map(|(key, value)| {
            Some(format!("{}={}", key.to_string_lossy(), value?.to_string_lossy()))
        })
        .collect();
    words.push(command.get_program().to_string_lossy().into_owned());
    words.extend(command.get_args().map(|a| a.to_string_lossy().into_owned()));
    words.join(" ")
}

/// A cargo command without the variables `cargo run` set for the xtask package itself: build
/// scripts such as ring's rerun when `CARGO_MANIFEST_DIR` or `CARGO_PKG_*` change, so passing
/// xtask's values on rebuilt every dependency above them after each plain `cargo build`.
pub(crate) fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    for (key, _) in std::env::vars_os() {
        let key_text = key.to_string_lossy();
        let set_for_xtask = key_text.starts_with("CARGO_PKG_")
            || key_text.starts_with("CARGO_MANIFEST_")
            || matches!(
                key_text.as_ref(),
                "CARGO_CRATE_NAME" | "CARGO_BIN_NAME" | "CARGO_PRIMARY_PACKAGE" | "OUT_DIR"
            );
        if set_for_xtask {
            command.env_remove(&key);
        }
    }
    command
}

fn has_nextest() -> bool {
    cargo().args(["nextest", "--version"]).output().map(|o| o.status.success()).unwrap_or(false)
}

/// `cargo run` tells the running xtask where its manifest is; the compile-time path is only a
/// fallback, since a build shared between checkouts may have been compiled in another one.
/// The cargo target folder (`CARGO_TARGET_DIR`, else `target/` of the checkout), where the
/// benchmarks and the test servers keep their inputs and virtualenvs.
pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| project_root().join("target"), PathBuf::from)
}

pub(crate) fn project_root() -> PathBuf {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    manifest_dir.parent().map(Path::to_path_buf).unwrap_or_default()
}

pub(crate) fn take_flag(args: &mut Vec<String>, flag: &str) -> bool {
    let before = args.len();
    args.retain(|a| a != flag);
    args.len() != before
}

pub(crate) fn take_value(args: &mut Vec<String>, flag: &str) -> Option<String> {
    let index = args.iter().position(|a| a == flag)?;
    if index + 1 >= args.len() {
        return None;
    }
    let value = args.remove(index + 1);
    args.remove(index);
    Some(value)
}
