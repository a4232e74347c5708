//! One module per command group; each turns arguments into a service call and prints the result.

mod auth;
mod demo;
mod fetch;
mod live;
mod local;
mod maintain;
mod mcp;
mod sync;

use std::io::Write;

use clap::CommandFactory;
use serde::Serialize;

use crate::cli::{Cli, Command, ConfigCommand, Format, GlobalArgs, QueryCommand};
use crate::{EXIT_USAGE, Exit};

/// Runs the parsed command line.
pub(crate) async fn run(cli: Cli) -> anyhow::Result<()> {
    // Debug builds only: lets the end-to-end tests see how a panic reaches the user.
    #[cfg(debug_assertions)]
    if std::env::var_os("MPD_TEST_PANIC").is_some() {
        panic!("MPD_TEST_PANIC is set");
    }
    let global = &cli.global;
    match cli.command {
        Command::Auth(command) => auth::run(global, command).await,
        Command::Fetch(command) => fetch::run(global, command).await,
        Command::Demo => demo::run(global).await,
        Command::Config(ConfigCommand::Show) => auth::config_show(global),
        Command::Completions { shell } => {
            let mut out = std::io::stdout();
            clap_complete::generate(shell, &mut Cli::command(), "mpd", &mut out);
            Ok(())
        }
        Command::Sync(args) => sync::run(global, args).await,
        Command::Import(command) => maintain::import(global, command).await,
        Command::Query(QueryCommand::Sql(args)) => local::sql(global, args).await,
        Command::Query(command) => live::query(global, command).await,
        Command::Inspect(command) => local::inspect(global, command).await,
        Command::Gdpr(command) => maintain::gdpr(global, command).await,
        Command::Tables(command) => maintain::tables(global, command).await,
        Command::Mcp(args) => mcp::run(global, args).await,
    }
}

/// The workspace options every command that talks to Mixpanel starts from.
pub(crate) fn workspace_options(global: &GlobalArgs) -> mpd_service::WorkspaceOptions {
    mpd_service::WorkspaceOptions {
        account: global.account.clone(),
        config_path: None,
        env: mpd_service::EnvVars::from_process(),
        overrides: mpd_service::SettingsOverrides {
            store: global.store.clone(),
            ..mpd_service::SettingsOverrides::default()
        },
        store_kind: mpd_service::StoreKind::default(),
    }
}

/// Prints a result to stdout in the chosen format (or the command's default).
pub(crate) fn print_result<T: Serialize>(
    global: &GlobalArgs,
    default: Format,
    value: &T,
) -> anyhow::Result<()> {
    let mut value = serde_json::to_value(value)?;
    let mut format = global.format.unwrap_or(default);
    if let Some(expr) = &global.jq {
        format = match global.format {
            None | Some(Format::Json) => Format::Json,
            Some(Format::Jsonl) => Format::Jsonl,
            Some(_) => return Err(usage("--jq works with --format json or jsonl".to_owned())),
        };
        let mut outputs = crate::jq::apply(expr, &value).map_err(usage)?;
        value = match (format, outputs.len()) {
            (Format::Json, 1) => outputs.remove(0),
            _ => serde_json::Value::Array(outputs),
        };
    }
    let mut out = std::io::stdout().lock();
    match crate::output::render(&value, format, &mut out).and_then(|()| out.flush()) {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// The status line for days Mixpanel cut short on every try, when there were any.
pub(crate) fn split_days_line(days: &[chrono::NaiveDate]) -> Option<String> {
    if days.is_empty() {
        return None;
    }
    let list: Vec<String> = days.iter().map(ToString::to_string).collect();
    Some(format!(
        "Mixpanel cut the export of {} short on every try; fetched in smaller requests instead",
        list.join(", ")
    ))
}

pub(crate) fn usage(message: String) -> anyhow::Error {
    Exit { code: EXIT_USAGE, message }.into()
}

/// Prints a status line to stderr unless `--quiet`.
#[allow(clippy::print_stderr, reason = "status lines go to stderr; data goes to stdout")]
pub(crate) fn status(global: &GlobalArgs, message: &str) {
    if !global.quiet {
        eprintln!("{message}");
    }
}
