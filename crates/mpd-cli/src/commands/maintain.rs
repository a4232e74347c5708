//! `mpd import pipelines`, `mpd gdpr delete` and `mpd tables compact|vacuum|history`.

use std::time::Duration;

use mpd_service::{CompactReport, EvolveReport, Workspace};

use crate::cli::{Format, GdprCommand, GlobalArgs, ImportCommand, TablesCommand};
use crate::commands::{print_result, status, usage, workspace_options};
use crate::progress::BarReporter;

pub(crate) async fn gdpr(global: &GlobalArgs, command: GdprCommand) -> anyhow::Result<()> {
    let GdprCommand::Delete { mut distinct_ids, file } = command;
    if let Some(path) = file {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| usage(format!("cannot read the ids in {}: {e}", path.display())))?;
        distinct_ids
            .extend(text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned));
    }
    let workspace = Workspace::open(workspace_options(global))?;
    let result = workspace.gdpr_delete(&distinct_ids).await;
    let closed = workspace.close().await;
    let report = result?;
    closed?;
    let rows: u64 = report.tables.iter().map(|t| t.rows_removed).sum();
    status(
        global,
        &format!(
            "erased {} user(s) ({} linked id(s)): {rows} row(s) removed from {} table(s), old files vacuumed; later syncs and imports drop their events",
            report.users,
            report.ids_erased,
            report.tables.len()
        ),
    );
    print_result(global, Format::Table, &report.tables)
}

/// What a rewrite with typed property columns did, in one line.
fn evolved_line(report: &EvolveReport) -> String {
    let list = |columns: &[String]| {
        if columns.is_empty() { "none".to_owned() } else { columns.join(", ") }
    };
    if !report.rewritten {
        return format!(
            "{}: typed property columns already as configured ({})",
            report.table,
            list(&report.columns_after)
        );
    }
    format!(
        "{}: rewrote {} row(s) of {} day(s) into {} file(s), sorted; typed property columns {} \
         (were {})",
        report.table,
        report.rows,
        report.days,
        report.files_added,
        list(&report.columns_after),
        list(&report.columns_before)
    )
}

pub(crate) async fn tables(global: &GlobalArgs, command: TablesCommand) -> anyhow::Result<()> {
    let workspace = Workspace::open(workspace_options(global))?;
    let result = run_tables(global, &workspace, command).await;
    let closed = workspace.close().await;
    result?;
    Ok(closed?)
}

async fn run_tables(
    global: &GlobalArgs,
    workspace: &Workspace,
    command: TablesCommand,
) -> anyhow::Result<()> {
    match command {
        TablesCommand::Compact { table } => match workspace.compact_table(&table).await? {
            CompactReport::Merged(summary) => {
                status(
                    global,
                    &format!(
                        "{table}: {} file(s) merged into {} in {} partition(s)",
                        summary.files_removed, summary.files_added, summary.partitions_optimized
                    ),
                );
                let value = serde_json::json!({
                    "table": table,
                    "files_removed": summary.files_removed,
                    "files_added": summary.files_added,
                    "partitions_optimized": summary.partitions_optimized,
                    "version": summary.version,
                });
                print_result(global, Format::Json, &value)
            }
            CompactReport::Upgraded(report) => {
                status(global, &evolved_line(&report));
                print_result(global, Format::Json, &report)
            }
            CompactReport::Sorted { summary, rows } => {
                let line = if summary.partitions_optimized == 0 {
                    format!("{table}: every day is already sorted by event and time")
                } else {
                    format!(
                        "{table}: {} day(s) rewritten sorted by event and time, {rows} row(s): \
                         {} file(s) into {}",
                        summary.partitions_optimized, summary.files_removed, summary.files_added
                    )
                };
                status(global, &line);
                let value = serde_json::json!({
                    "table": table,
                    "files_removed": summary.files_removed,
                    "files_added": summary.files_added,
                    "partitions_optimized": summary.partitions_optimized,
                    "rows_rewritten": rows,
                    "version": summary.version,
                });
                print_result(global, Format::Json, &value)
            }
        },
        TablesCommand::Evolve { table } => {
            let report = workspace.evolve_table(&table).await?;
            status(global, &evolved_line(&report));
            print_result(global, Format::Json, &report)
        }
        TablesCommand::Vacuum { retention_hours, dry_run, table } => {
            let retention = Duration::from_secs(retention_hours.saturating_mul(3600));
            let summary = workspace.vacuum_table(&table, retention, dry_run).await?;
            let verb = if dry_run { "would delete" } else { "deleted" };
            status(
                global,
                &format!(
                    "{table}: {verb} {} file(s) no longer needed (retention {retention_hours} h)",
                    summary.files_deleted
                ),
            );
            let value = serde_json::json!({
                "table": table,
                "files_deleted": summary.files_deleted,
                "bytes_deleted": summary.bytes_deleted,
                "dry_run": summary.dry_run,
            });
            print_result(global, Format::Json, &value)
        }
        TablesCommand::History { table, limit } => {
            let history = workspace.table_history(&table, limit).await?;
            if global.format.unwrap_or(Format::Table) == Format::Table && global.jq.is_none() {
                let rows: Vec<serde_json::Value> = history
                    .iter()
                    .map(|h| {
                        serde_json::json!({
                            "version": h.version,
                            "timestamp": h.timestamp,
                            "operation": h.operation,
                            "command": h.command,
                            "written": h.written,
                            "already_present": h.already_present,
                            "duplicates_rejected": h.duplicates_rejected,
                            "cursor": h.cursor,
                        })
                    })
                    .collect();
                return print_result(global, Format::Table, &rows);
            }
            print_result(global, Format::Table, &history)
        }
    }
}

pub(crate) async fn import(global: &GlobalArgs, command: ImportCommand) -> anyhow::Result<()> {
    let (source, allow_bad_lines) = match command {
        ImportCommand::Pipelines { source, allow_bad_lines } => (source, allow_bad_lines),
        ImportCommand::Export { source, allow_bad_lines } => {
            return import_export(global, source, allow_bad_lines).await;
        }
    };
    let workspace = Workspace::open(workspace_options(global))?;
    let reporter = BarReporter::new(!global.no_progress && !global.quiet);
    let result = workspace.import_pipelines(&source, allow_bad_lines, &reporter).await;
    let closed = workspace.close().await;
    let report = result?;
    closed?;
    status(
        global,
        &format!(
            "imported {} event file(s) from {} day folder(s) ({} already imported): {} row(s) added, {} already present, {} true duplicate(s) audited{}{}",
            report.event_files_read,
            report.days,
            report.event_files_skipped,
            report.counts.written,
            report.counts.already_present,
            report.counts.duplicates_rejected,
            report.profiles.map(|n| format!("; profiles replaced ({n})")).unwrap_or_default(),
            report
                .identity_mappings
                .map(|n| format!("; {n} identity mapping(s)"))
                .unwrap_or_default(),
        ),
    );
    print_result(global, Format::Json, &report)
}

async fn import_export(
    global: &GlobalArgs,
    source: std::path::PathBuf,
    allow_bad_lines: u64,
) -> anyhow::Result<()> {
    let source = if source.as_os_str() == "-" {
        mpd_service::DumpSource::Stdin
    } else {
        mpd_service::DumpSource::Path(source)
    };
    let workspace = Workspace::open(workspace_options(global))?;
    let reporter = BarReporter::new(!global.no_progress && !global.quiet);
    let result = workspace.import_export(&source, allow_bad_lines, &reporter).await;
    let closed = workspace.close().await;
    let report = result?;
    closed?;
    status(
        global,
        &format!(
            "imported {} file(s) ({} already imported): {} event(s) read, {} row(s) added, {} already present, {} true duplicate(s) audited{}",
            report.files.len(),
            report.files_skipped,
            report.fetched,
            report.counts.written,
            report.counts.already_present,
            report.counts.duplicates_rejected,
            report
                .quarantine_file
                .as_ref()
                .map(|p| format!(
                    "; {} malformed line(s) quarantined in {}",
                    report.quarantined,
                    p.display()
                ))
                .unwrap_or_default(),
        ),
    );
    if report.days_in_several_runs > 0 {
        status(
            global,
            &format!(
                "hint: {} day(s) are sorted in stretches, not as a whole (a dump mixing its days, or a day larger than one sorted run); `mpd tables compact events` sorts each day whole, so that queries filtering on event_name read less",
                report.days_in_several_runs
            ),
        );
    }
    print_result(global, Format::Json, &report)
}
