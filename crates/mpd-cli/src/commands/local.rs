//! `mpd query sql` and `mpd inspect info|tables|schema|sample|summarize|breakdown|drop`.

use std::io::{BufRead, IsTerminal, Write};

use mpd_service::Workspace;

use crate::cli::{Format, GlobalArgs, InspectCommand, QuerySql};
use crate::commands::{print_result, status, usage, workspace_options};

pub(crate) async fn sql(global: &GlobalArgs, args: QuerySql) -> anyhow::Result<()> {
    let query = match (&args.query, &args.file) {
        (Some(query), _) => query.clone(),
        (None, Some(file)) => std::fs::read_to_string(file).map_err(|e| crate::Exit {
            code: 4,
            message: format!("cannot read {}: {e}", file.display()),
        })?,
        (None, None) => return Err(usage("give a query or --file FILE".to_owned())),
    };
    let workspace = Workspace::open(workspace_options(global))?;
    if let Some(path) = &args.output {
        let written = workspace.sql_to_file(&query, path).await?;
        status(global, &format!("wrote {} rows to {}", written.rows, written.path.display()));
        return Ok(());
    }
    let table = workspace.sql(&query).await?;
    if let Some(repeat) = args.repeat {
        let mut timings = Vec::new();
        for _ in 0..repeat {
            let started = std::time::Instant::now();
            workspace.sql(&query).await?;
            timings.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        status(global, &format!("timings_ms: {}", serde_json::to_string(&timings)?));
    }
    if args.scalar {
        let value = match (table.rows.as_slice(), table.columns.len()) {
            ([serde_json::Value::Object(row)], 1) => {
                row.values().next().cloned().unwrap_or_default()
            }
            _ => {
                return Err(usage(format!(
                    "--scalar needs exactly one row and one column; the query returned {} row(s) and {} column(s)",
                    table.rows.len(),
                    table.columns.len()
                )));
            }
        };
        let text = match value {
            serde_json::Value::String(s) => s,
            serde_json::Value::Null => "null".to_owned(),
            other => other.to_string(),
        };
        let mut out = std::io::stdout().lock();
        writeln!(out, "{text}")?;
        return Ok(());
    }
    print_result(global, Format::Table, &table.rows)
}

pub(crate) async fn inspect(global: &GlobalArgs, command: InspectCommand) -> anyhow::Result<()> {
    if command.asks_mixpanel() {
        return super::live::inspect(global, command).await;
    }
    let workspace = Workspace::open(workspace_options(global))?;
    match command {
        InspectCommand::Info => print_result(global, Format::Table, &workspace.store_info().await?),
        InspectCommand::Tables => {
            print_result(global, Format::Table, &workspace.table_list().await?)
        }
        InspectCommand::Schema { table } => {
            print_result(global, Format::Table, &workspace.table_schema(&table).await?)
        }
        InspectCommand::Sample { table, rows } => {
            print_result(global, Format::Json, &workspace.sample(&table, rows).await?.rows)
        }
        InspectCommand::Summarize { table } => {
            print_result(global, Format::Table, &workspace.summarize(&table).await?)
        }
        InspectCommand::Breakdown { table } => {
            print_result(global, Format::Table, &workspace.breakdown(&table).await?.rows)
        }
        InspectCommand::Drop { table, yes } => {
            if !yes && !confirm(&format!("drop table {table} and delete its files? [y/N] "))? {
                return Err(usage(format!(
                    "not dropping {table}: confirm at the prompt, or pass --yes"
                )));
            }
            workspace.drop_table(&table).await?;
            status(global, &format!("dropped {table}"));
            Ok(())
        }
        InspectCommand::Events(_)
        | InspectCommand::Properties(_)
        | InspectCommand::Values(_)
        | InspectCommand::Funnels(_)
        | InspectCommand::Cohorts(_)
        | InspectCommand::TopEvents(_) => Ok(()),
    }
}

/// Asks on the terminal; without one there is nobody to ask, so the answer is no.
#[allow(clippy::print_stderr, reason = "the prompt goes to stderr")]
fn confirm(question: &str) -> anyhow::Result<bool> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Ok(false);
    }
    eprint!("{question}");
    let mut answer = String::new();
    stdin.lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}
