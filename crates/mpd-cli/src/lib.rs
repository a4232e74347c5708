//! `mpd`: Mixpanel data into a local Delta Lake, deduplicated, queryable with SQL.
//!
//! The command line as a library: [`run`] is the whole of `mpd` (the binary's `main`, and the
//! `mpd` command a Python install provides). It is a thin client of `mpd_service::Workspace`; it parses arguments, draws
//! progress, prints results and maps errors to exit codes (0 ok, 1 general, 2 auth, 3 usage,
//! 4 not found, 5 rate limited, 130 interrupted).
//!
//! ```text
//! $ mpd demo                                   # no account needed
//! $ mpd auth add prod -u sa.user -p 1234 -r eu # secret from a hidden prompt
//! $ mpd fetch events --from 2024-01-01 --to 2024-01-07 --stdout --raw > events.jsonl
//! ```

mod chart;
mod cli;
mod commands;
mod freed_memory;
mod jq;
mod output;
mod panic_report;
mod progress;
mod view;

pub use freed_memory::{one_arena_per_core, return_freed_memory_in_background};

use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;

use crate::cli::Cli;

/// An error with the exit code the CLI should end with.
#[derive(Debug)]
pub(crate) struct Exit {
    pub(crate) code: u8,
    pub(crate) message: String,
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Exit {}

/// Exit code for invalid arguments and usage errors.
pub(crate) const EXIT_USAGE: u8 = 3;
const EXIT_INTERRUPTED: u8 = 130;

/// Runs `mpd` with `args` (the first is the program name) and returns its exit code; prints
/// to stdout and stderr as the binary does.
pub fn run<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    ExitCode::from(run_to_code(args))
}

/// [`run`], with the exit code as its number (0 ok, 1 general, 2 auth, 3 usage, 4 not found,
/// 5 rate limited, 130 interrupted).
pub fn run_to_code<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            let code = match error.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => 0,
                _ => EXIT_USAGE,
            };
            // clap renders its own help/usage text; printing it is this binary's job.
            let _ = error.print();
            return code;
        }
    };
    init_logging(cli.global.verbose, cli.global.quiet);
    let backtrace = std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v != "0");
    panic_report::install(cli.global.verbose >= 3 || backtrace);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => return report(&anyhow::anyhow!("cannot start the async runtime: {error}")),
    };
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runtime.block_on(async {
            tokio::select! {
                result = commands::run(cli) => Some(result),
                _ = tokio::signal::ctrl_c() => None,
            }
        })
    }));
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(_) => {
            print_error(&panic_report::error_line(panic_report::last().as_ref()));
            print_hint(panic_report::HINT);
            // The runtime's threads may hold what panicked; leave without waiting for them.
            runtime.shutdown_background();
            return 1;
        }
    };
    match outcome {
        None => {
            print_error("interrupted");
            EXIT_INTERRUPTED
        }
        Some(Ok(())) => 0,
        Some(Err(error)) => report(&error),
    }
}

fn report(error: &anyhow::Error) -> u8 {
    if let Some(exit) = error.downcast_ref::<Exit>() {
        print_error(&exit.message);
        return exit.code;
    }
    if let Some(service) = error.downcast_ref::<mpd_service::Error>() {
        if service.is_broken_pipe() {
            return 0;
        }
        print_error(&service.to_string());
        if let Some(hint) = service.hint() {
            print_hint(&hint);
        }
        // A task that panicked reaches the user as an internal error: it is a bug to report.
        if service.is_internal() && panic_report::last().is_some() {
            print_hint(panic_report::HINT);
        }
        return exit_code(service.class());
    }
    // `Accounts` (auth, config show) answers with the config file's own errors.
    if let Some(config) = error.downcast_ref::<mpd_service::ConfigError>() {
        print_error(&config.to_string());
        return exit_code(mpd_service::ErrorClass::of_config(config));
    }
    print_error(&format!("{error:#}"));
    1
}

fn exit_code(class: mpd_service::ErrorClass) -> u8 {
    use mpd_service::ErrorClass;
    match class {
        ErrorClass::General => 1,
        ErrorClass::Auth => 2,
        ErrorClass::Usage => EXIT_USAGE,
        ErrorClass::NotFound => 4,
        ErrorClass::RateLimited => 5,
    }
}

#[allow(clippy::print_stderr, reason = "the CLI is the one place that prints errors")]
fn print_error(message: &str) {
    eprintln!("error: {message}");
}

#[allow(clippy::print_stderr, reason = "the CLI is the one place that prints errors")]
fn print_hint(message: &str) {
    eprintln!("hint: {message}");
}

fn init_logging(verbose: u8, quiet: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        // deltalake warns that a failed upload's parts are left for the object store to clean
        // up; mpd deletes a failed write's files itself, so by default that is only noise.
        (false, 0) => "warn,deltalake_core::datafile::writer=error",
        (false, 1) => "info",
        (false, 2) => "debug",
        (false, _) => "trace",
    };
    let filter = std::env::var("MPD_LOG")
        .ok()
        .and_then(|v| tracing_subscriber::EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(verbose >= 2)
        .with_ansi(
            std::env::var_os("NO_COLOR").is_none()
                && std::io::IsTerminal::is_terminal(&std::io::stderr()),
        );
    if verbose == 0 {
        // A second run in one process (the Python package's `mpd`) keeps the first subscriber.
        let _ = builder.without_time().try_init();
    } else {
        let _ = builder.try_init();
    }
}
