//! `mpd-mock`: the mock Mixpanel as a process, for xtask, benchmarks and manual poking.
//!
//! ```text
//! mpd-mock [--port N] [--scenario FILE.toml] [--events-per-day N] [--jsonl FILE] [--ignore-stdin]
//! ```
//! Prints `listening on http://127.0.0.1:PORT` once ready, then serves until killed, interrupted,
//! or its stdin closes (so a parent that dies takes the mock with it; `--ignore-stdin` when
//! stdin is `/dev/null`).

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use mpd_testkit::{MockConfig, MockServer};

const USAGE: &str = "usage: mpd-mock [--port N] [--scenario FILE.toml] [--events-per-day N] [--jsonl FILE] [--ignore-stdin]";

struct Args {
    config: MockConfig,
    watch_stdin: bool,
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
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
    let mut config = match scenario {
        Some(path) => {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read scenario {}: {e}", path.display()))?;
            MockConfig::from_toml(&text).map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => MockConfig::default(),
    };
    if let Some(port) = port {
        config.port = port;
    }
    if let Some(n) = events_per_day {
        config.events_per_day = n;
    }
    if jsonl.is_some() {
        config.jsonl_file = jsonl;
    }
    Ok(Args { config, watch_stdin })
}
