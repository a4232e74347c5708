//! `mpd sync [events|profiles|identity|all]`.

use mpd_service::{ChunkChoice, RequestPlan, SyncReport, SyncRequest, Workspace};

use crate::cli::{Format, GlobalArgs, SyncArgs};
use crate::commands::{print_result, status, workspace_options};
use crate::progress::BarReporter;

pub(crate) async fn run(global: &GlobalArgs, args: SyncArgs) -> anyhow::Result<()> {
    let request = SyncRequest {
        target: args.target.into(),
        from: args.from,
        lookback_days: args.lookback.map(|l| l.0),
        backfill: args.backfill.as_deref().and_then(|days| match days {
            [from, to] => Some((*from, *to)),
            _ => None,
        }),
        dry_run: args.dry_run,
        workers: usize::from(args.workers),
        allow_bad_lines: args.allow_bad_lines,
        chunk_days: args.chunk_days,
    };
    let workspace = Workspace::open(workspace_options(global))?;
    let reporter = BarReporter::new(!global.no_progress && !global.quiet);
    let result = workspace.sync(&request, &reporter).await;
    let closed = workspace.close().await;
    let report = result?;
    closed?;
    for line in summary_lines(&report) {
        status(global, &line);
    }
    print_result(global, Format::Json, &report)
}

/// One human line per part of the sync, for stderr.
fn summary_lines(report: &SyncReport) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(plan) = &report.plan {
        if let Some(window) = &plan.events {
            let cursor = plan.cursor.map_or("none".to_owned(), |c| c.to_string());
            lines.push(format!(
                "dry run: events {} to {} ({} day(s), {}, cursor {cursor}): {} export request(s), {:.0}% of the {}/hour export budget",
                window.from,
                window.to,
                window.n_days(),
                window.mode,
                plan.export_requests,
                plan.export_budget_percent(),
                plan.export_budget_per_hour,
            ));
            if let Some(requests) = &plan.requests {
                lines.push(format!("dry run: {}", requests_line(requests)));
            }
        }
        if plan.identity {
            lines.push(
                "dry run: identity mappings derived from the new events (no request)".to_owned(),
            );
        }
        if plan.profiles {
            lines.push(
                "dry run: profiles replaced by a new snapshot (one engage request per page)"
                    .to_owned(),
            );
        }
        return lines;
    }
    if let Some(events) = &report.events {
        lines.extend(super::split_days_line(&events.split_days));
        let cursor = |c: Option<chrono::NaiveDate>| c.map_or("none".to_owned(), |c| c.to_string());
        lines.push(format!(
            "events: {} row(s) added from {} to {} in {} commit(s); {} fetched, {} already present, {} true duplicate(s) audited{}; cursor {} -> {} ({:.2}s)",
            events.counts.written,
            events.window.from,
            events.window.to,
            events.commits,
            events.fetched,
            events.counts.already_present,
            events.counts.duplicates_rejected,
            match events.counts.erased_dropped {
                0 => String::new(),
                n => format!(", {n} row(s) of erased users dropped"),
            },
            cursor(events.cursor_before),
            cursor(events.cursor_after),
            events.elapsed_secs,
        ));
    }
    if let Some(identity) = &report.identity {
        lines.push(format!(
            "identity: {} mapping(s) added from {} device(s) seen; {} id(s) already mapped",
            identity.written, identity.devices_seen, identity.already_mapped
        ));
    }
    if let Some(profiles) = &report.profiles {
        lines.push(format!(
            "profiles: snapshot of {} profile(s) (version {})",
            profiles.written, profiles.version
        ));
    }
    lines
}

/// How the days are cut into requests, and the wait that takes.
fn requests_line(plan: &RequestPlan) -> String {
    let days = match plan.chunk_days {
        1 => "1 day".to_owned(),
        n => format!("{n} days"),
    };
    let why = match plan.choice {
        ChunkChoice::Forced => "as --chunk-days says".to_owned(),
        ChunkChoice::OneDayFits => "day by day fits the budget".to_owned(),
        ChunkChoice::FitsBudget => "the fewest requests that fit one hour of the budget".to_owned(),
        ChunkChoice::BoundedByVolume => format!(
            "to keep a response under {} events at the {} events of the busiest recent day",
            plan.max_events_per_request,
            plan.daily_events.unwrap_or_default()
        ),
        ChunkChoice::ProbeFirstDay => {
            "no volume known yet: the first day is read alone and the rest cut by its volume"
                .to_owned()
        }
    };
    let wait = match plan.budget_wait_secs {
        0 => "no waiting on the budget".to_owned(),
        secs => format!("at least {} waiting on the export budget", duration(secs)),
    };
    format!("{days} per request ({why}); {wait}")
}

fn duration(secs: u64) -> String {
    match (secs / 3600, secs % 3600 / 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}
