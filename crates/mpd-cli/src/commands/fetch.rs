//! `mpd fetch events|profiles`.

use std::io::Write;

use mpd_service::{StreamEventsRequest, StreamProfilesRequest, Workspace};

use crate::Exit;
use crate::cli::{FetchCommand, FetchEvents, FetchProfiles, GlobalArgs};
use crate::commands::{status, usage, workspace_options};
use crate::progress::BarReporter;

pub(crate) async fn run(global: &GlobalArgs, command: FetchCommand) -> anyhow::Result<()> {
    match command {
        FetchCommand::Events(args) => events(global, args).await,
        FetchCommand::Profiles(args) => profiles(global, args).await,
    }
}

async fn events(global: &GlobalArgs, args: FetchEvents) -> anyhow::Result<()> {
    if args.from > args.to {
        return Err(usage(format!(
            "--from {} is after --to {}: the range must start on or before its end",
            args.from, args.to
        )));
    }
    if !args.stdout {
        return Err(not_yet_stored("events", args.table.as_deref()));
    }
    reject_jq(global)?;
    let workspace = Workspace::open(workspace_options(global))?;
    let request = StreamEventsRequest {
        from: args.from,
        to: args.to,
        events: args.events,
        where_expr: args.where_expr,
        limit: args.limit,
        raw: args.raw,
        workers: usize::from(args.workers),
        chunk_days: args.chunk_days,
        allow_bad_lines: args.allow_bad_lines,
        quarantine_path: args.quarantine,
    };
    let reporter = BarReporter::new(!global.no_progress && !global.quiet);
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
    let summary = workspace.stream_events(&request, &mut out, &reporter).await?;
    out.flush().or_else(ignore_broken_pipe)?;
    let rate = summary.records as f64 / summary.elapsed_secs.max(1e-9);
    status(
        global,
        &format!(
            "streamed {} events from {} day(s) in {:.2}s ({:.0} events/s){}{}",
            summary.records,
            summary.days,
            summary.elapsed_secs,
            rate,
            match summary.retries {
                0 => String::new(),
                n => format!("; {n} day request(s) retried"),
            },
            match &summary.quarantine_file {
                Some(path) => format!(
                    "; {} malformed line(s) quarantined in {}",
                    summary.quarantined,
                    path.display()
                ),
                None => String::new(),
            }
        ),
    );
    Ok(())
}

async fn profiles(global: &GlobalArgs, args: FetchProfiles) -> anyhow::Result<()> {
    if !args.stdout {
        return Err(not_yet_stored("profiles", args.table.as_deref()));
    }
    reject_jq(global)?;
    let workspace = Workspace::open(workspace_options(global))?;
    let request = StreamProfilesRequest {
        where_expr: args.where_expr,
        cohort_id: args.cohort,
        output_properties: args.output_properties,
        distinct_ids: args.distinct_ids,
        group_id: args.group_id,
        raw: args.raw,
    };
    let reporter = BarReporter::new(!global.no_progress && !global.quiet);
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
    let summary = workspace.stream_profiles(&request, &mut out, &reporter).await?;
    out.flush().or_else(ignore_broken_pipe)?;
    status(
        global,
        &format!(
            "streamed {} profiles from {} page(s) in {:.2}s",
            summary.profiles, summary.pages, summary.elapsed_secs
        ),
    );
    Ok(())
}

/// Streamed lines are data, not a result: they go to jq through a pipe.
fn reject_jq(global: &GlobalArgs) -> anyhow::Result<()> {
    if global.jq.is_some() {
        return Err(usage(
            "--jq filters results, not streamed lines: pipe the output of --stdout to jq instead"
                .to_owned(),
        ));
    }
    Ok(())
}

fn ignore_broken_pipe(error: std::io::Error) -> std::io::Result<()> {
    if error.kind() == std::io::ErrorKind::BrokenPipe { Ok(()) } else { Err(error) }
}

fn not_yet_stored(what: &str, table: Option<&str>) -> anyhow::Error {
    Exit {
        code: 1,
        message: format!(
            "storing {what} into a table{} is not implemented in this version of mpd yet; add --stdout to stream them as JSON lines",
            table.map(|t| format!(" ({t})")).unwrap_or_default()
        ),
    }
    .into()
}
