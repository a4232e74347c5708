//! `mpd fetch events|profiles`.

use std::io::Write;

use mpd_service::{
    EventSelection, FetchEventsRequest, StreamEventsRequest, StreamProfilesRequest, TableMode,
    Workspace,
};

use crate::cli::Format;
use crate::cli::{FetchCommand, FetchEvents, FetchProfiles, GlobalArgs};
use crate::commands::{print_result, split_days_line, status, usage, workspace_options};
use crate::progress::BarReporter;

pub(crate) async fn run(global: &GlobalArgs, command: FetchCommand) -> anyhow::Result<()> {
    match command {
        FetchCommand::Events(args) => events(global, args).await,
        FetchCommand::Profiles(args) => profiles(global, args).await,
    }
}

async fn events(global: &GlobalArgs, args: FetchEvents) -> anyhow::Result<()> {
    selection(&args).validate()?;
    if !args.stdout {
        return events_into_table(global, args).await;
    }
    reject_jq(global)?;
    let workspace = Workspace::open(workspace_options(global))?;
    let request = StreamEventsRequest { selection: selection(&args), raw: args.raw };
    let reporter = BarReporter::new(!global.no_progress && !global.quiet);
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
    let summary = workspace.stream_events(&request, &mut out, &reporter).await?;
    out.flush().or_else(ignore_broken_pipe)?;
    let rate = summary.records as f64 / summary.elapsed_secs.max(1e-9);
    if let Some(line) = split_days_line(&summary.split_days) {
        status(global, &line);
    }
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

async fn events_into_table(global: &GlobalArgs, args: FetchEvents) -> anyhow::Result<()> {
    let workspace = Workspace::open(workspace_options(global))?;
    let request = FetchEventsRequest {
        table: args.table.clone().unwrap_or_else(|| "events".to_owned()),
        mode: table_mode(args.append, args.replace),
        selection: selection(&args),
    };
    let reporter = BarReporter::new(!global.no_progress && !global.quiet);
    let result = workspace.fetch_events(&request, &reporter).await;
    let closed = workspace.close().await;
    let summary = result?;
    closed?;
    if let Some(line) = split_days_line(&summary.split_days) {
        status(global, &line);
    }
    status(
        global,
        &format!(
            "{} rows added to {} (version {}); {} fetched, {} already present, {} true duplicate(s) audited in {}s",
            summary.written,
            summary.table,
            summary.version,
            summary.fetched,
            summary.already_present,
            summary.duplicates_rejected,
            format_args!("{:.2}", summary.elapsed_secs),
        ),
    );
    print_result(global, Format::Json, &summary)
}

/// The events the flags select, shared by `--stdout` and fetching into a table.
fn selection(args: &FetchEvents) -> EventSelection {
    EventSelection {
        from: args.from,
        to: args.to,
        events: args.events.clone(),
        where_expr: args.where_expr.clone(),
        limit: args.limit,
        workers: usize::from(args.workers),
        chunk_days: args.chunk_days,
        allow_bad_lines: args.allow_bad_lines,
        quarantine_path: args.quarantine.clone(),
    }
}

fn table_mode(append: bool, replace: bool) -> TableMode {
    match (append, replace) {
        (true, _) => TableMode::Append,
        (_, true) => TableMode::Replace,
        _ => TableMode::Create,
    }
}

async fn profiles(global: &GlobalArgs, args: FetchProfiles) -> anyhow::Result<()> {
    let table = args.table.clone().unwrap_or_else(|| "profiles".to_owned());
    let mode = table_mode(args.append, args.replace);
    if args.stdout {
        reject_jq(global)?;
    }
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
    if !args.stdout {
        let result = workspace.fetch_profiles(&table, mode, &request, &reporter).await;
        let closed = workspace.close().await;
        let summary = result?;
        closed?;
        status(
            global,
            &format!(
                "{} profiles added to {} (version {}); {} fetched, {} already present",
                summary.written,
                summary.table,
                summary.version,
                summary.fetched,
                summary.already_present
            ),
        );
        return print_result(global, Format::Json, &summary);
    }
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
