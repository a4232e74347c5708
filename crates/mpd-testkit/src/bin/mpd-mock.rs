//! `mpd-mock`: the mock Mixpanel as a process, for xtask, benchmarks and manual poking.
//!
//! ```text
//! mpd-mock [--port N] [--scenario FILE.toml] [--events-per-day N] [--jsonl FILE] [--ignore-stdin]
//! mpd-mock pipelines --out DIR --from DAY --to DAY [--hourly-day DAY]... [--uncompressed-day DAY]...
//!          [--files-per-day N] [--late DAY=N]... [--scenario FILE.toml] [--events-per-day N]
//! ```
//! Prints `listening on http://127.0.0.1:PORT` once ready, then serves until killed, interrupted,
//! or its stdin closes (so a parent that dies takes the mock with it; `--ignore-stdin` when
//! stdin is `/dev/null`).
//!
//! The server answers export, engage and every Query API endpoint (see the `mpd_testkit` crate
//! docs), plus the `/__mock/` control endpoints (`truth`, `requests`, `late`, `rekey`, `faults`).
//!
//! `pipelines` writes the JSON-pipelines tree of the scenario's project instead (late files
//! after the first export, in the order given), prints the project folder it wrote, and exits.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::NaiveDate;
use mpd_testkit::pipelines::{PipelinesOptions, PipelinesTree};
use mpd_testkit::{MockConfig, MockServer, Project};

const USAGE: &str = "usage: mpd-mock [--port N] [--scenario FILE.toml] [--events-per-day N] [--jsonl FILE] [--ignore-stdin]
       mpd-mock pipelines --out DIR --from DAY --to DAY [--hourly-day DAY]... [--uncompressed-day DAY]... [--files-per-day N] [--late DAY=N]... [--scenario FILE.toml] [--events-per-day N]";

struct Args {
    config: MockConfig,
    watch_stdin: bool,
}

struct PipelinesArgs {
    config: MockConfig,
    out: PathBuf,
    options: PipelinesOptions,
    late: Vec<(NaiveDate, u32)>,
}

fn main() -> ExitCode {
    let mut raw = std::env::args().skip(1).peekable();
    if raw.peek().is_some_and(|a| a == "pipelines") {
        return match parse_pipelines_args(raw.skip(1)) {
            Ok(args) => write_pipelines(args),
            Err(msg) => fail(&msg),
        };
    }
    let args = match parse_args(raw) {
        Ok(args) => args,
        Err(msg) => return fail(&msg),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return fail(&format!("cannot start the runtime: {e}")),
    };
    runtime.block_on(async move {
        let server = match MockServer::start(args.config).await {
            Ok(server) => server,
            Err(e) => return fail(&error_chain(&e)),
        };
        announce(&server);
        let stdin_closed = async {
            if !args.watch_stdin {
                return std::future::pending().await;
            }
            let (closed_tx, closed_rx) = tokio::sync::oneshot::channel::<()>();
            // A blocking read on a plain thread: tokio's stdin needs a feature we do not enable.
            std::thread::spawn(move || {
                let mut sink = [0u8; 1024];
                let mut stdin = std::io::stdin();
                while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
                let _ = closed_tx.send(());
            });
            let _ = closed_rx.await;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = stdin_closed => {}
        }
        drop(server);
        ExitCode::SUCCESS
    })
}

#[allow(clippy::print_stdout, reason = "the ready line is this binary's interface")]
fn announce(server: &MockServer) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on {}", server.base_url());
    let _ = out.flush();
}

fn write_pipelines(args: PipelinesArgs) -> ExitCode {
    let written = Project::new(&args.config).and_then(|project| {
        let mut tree = PipelinesTree::write(&project, &args.out, &args.options)?;
        for (day, n) in &args.late {
            tree.add_late_file(&project, *day, *n)?;
        }
        Ok(tree)
    });
    match written {
        Ok(tree) => {
            report_tree(&tree);
            ExitCode::SUCCESS
        }
        Err(e) => fail(&error_chain(&e)),
    }
}

#[allow(clippy::print_stdout, reason = "the folder written is this subcommand's output")]
fn report_tree(tree: &PipelinesTree) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", tree.project_dir().display());
    let _ = out.flush();
}

#[allow(clippy::print_stderr, reason = "a binary reports its own usage errors")]
fn fail(msg: &str) -> ExitCode {
    eprintln!("mpd-mock: {msg}");
    ExitCode::from(2)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let _ = write!(msg, ": {s}");
        source = s.source();
    }
    msg
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut scenario: Option<PathBuf> = None;
    let mut port: Option<u16> = None;
    let mut events_per_day: Option<u32> = None;
    let mut jsonl: Option<PathBuf> = None;
    let mut watch_stdin = true;
    while let Some(arg) = args.next() {
        let mut value =
            |name: &str| args.next().ok_or_else(|| format!("{name} needs a value\n{USAGE}"));
        match arg.as_str() {
            "--port" => {
                port = Some(
                    value("--port")?.parse().map_err(|_| "--port must be a number".to_owned())?,
                )
            }
            "--scenario" => scenario = Some(value("--scenario")?.into()),
            "--events-per-day" => {
                events_per_day = Some(
                    value("--events-per-day")?
                        .parse()
                        .map_err(|_| "--events-per-day must be a number".to_owned())?,
                );
            }
            "--jsonl" => jsonl = Some(value("--jsonl")?.into()),
            "--ignore-stdin" => watch_stdin = false,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    let mut config = load_config(scenario, events_per_day)?;
    if let Some(port) = port {
        config.port = port;
    }
    if jsonl.is_some() {
        config.jsonl_file = jsonl;
    }
    Ok(Args { config, watch_stdin })
}

fn parse_pipelines_args(mut args: impl Iterator<Item = String>) -> Result<PipelinesArgs, String> {
    let mut scenario: Option<PathBuf> = None;
    let mut events_per_day: Option<u32> = None;
    let mut out: Option<PathBuf> = None;
    let mut from: Option<NaiveDate> = None;
    let mut to: Option<NaiveDate> = None;
    let mut files_per_day: Option<u32> = None;
    let mut hourly_days = Vec::new();
    let mut uncompressed_days = Vec::new();
    let mut late = Vec::new();
    while let Some(arg) = args.next() {
        let mut value =
            |name: &str| args.next().ok_or_else(|| format!("{name} needs a value\n{USAGE}"));
        match arg.as_str() {
            "--out" => out = Some(value("--out")?.into()),
            "--from" => from = Some(parse_day("--from", &value("--from")?)?),
            "--to" => to = Some(parse_day("--to", &value("--to")?)?),
            "--hourly-day" => hourly_days.push(parse_day("--hourly-day", &value("--hourly-day")?)?),
            "--uncompressed-day" => uncompressed_days
                .push(parse_day("--uncompressed-day", &value("--uncompressed-day")?)?),
            "--files-per-day" => {
                files_per_day = Some(parse_number("--files-per-day", &value("--files-per-day")?)?)
            }
            "--late" => late.push(parse_late(&value("--late")?)?),
            "--scenario" => scenario = Some(value("--scenario")?.into()),
            "--events-per-day" => {
                events_per_day =
                    Some(parse_number("--events-per-day", &value("--events-per-day")?)?);
            }
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    let required = |name: &str| format!("pipelines needs {name}\n{USAGE}");
    let out = out.ok_or_else(|| required("--out"))?;
    let (from, to) = (from.ok_or_else(|| required("--from"))?, to.ok_or_else(|| required("--to"))?);
    let mut options = PipelinesOptions::new(from, to);
    options.hourly_days = hourly_days;
    options.uncompressed_days = uncompressed_days;
    if let Some(n) = files_per_day {
        options.files_per_day = n;
    }
    let config = load_config(scenario, events_per_day)?;
    Ok(PipelinesArgs { config, out, options, late })
}

fn parse_day(flag: &str, raw: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map_err(|_| format!("{flag} must be a date like 2024-01-31, got {raw:?}"))
}

fn parse_number(flag: &str, raw: &str) -> Result<u32, String> {
    raw.parse().map_err(|_| format!("{flag} must be a number, got {raw:?}"))
}

/// `DAY=N`: N late events for DAY.
fn parse_late(raw: &str) -> Result<(NaiveDate, u32), String> {
    let (day, n) = raw
        .split_once('=')
        .ok_or_else(|| format!("--late must look like 2024-01-31=5, got {raw:?}"))?;
    Ok((parse_day("--late", day)?, parse_number("--late", n)?))
}

/// The scenario file's config (or the default), with `--events-per-day` on top.
fn load_config(
    scenario: Option<PathBuf>,
    events_per_day: Option<u32>,
) -> Result<MockConfig, String> {
    let mut config = match scenario {
        Some(path) => {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read scenario {}: {e}", path.display()))?;
            MockConfig::from_toml(&text).map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => MockConfig::default(),
    };
    if let Some(n) = events_per_day {
        config.events_per_day = n;
    }
    Ok(config)
}
