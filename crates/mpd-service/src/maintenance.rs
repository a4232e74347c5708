//! `mpd tables compact|vacuum|history TABLE`: Delta maintenance of one table.

use std::time::Duration;

use mpd_store::CommitInfo;
use mpd_store::{CompactSummary, VacuumOptions, VacuumSummary};

use crate::error::Result;
use crate::table::typed::{EvolveReport, evolve_locked};
use crate::workspace::Workspace;

/// One commit of a table's history, for display.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HistoryEntry {
    /// The table version the commit made.
    pub version: i64,
    /// When, in RFC 3339 (UTC).
    pub timestamp: Option<String>,
    /// Delta's operation (`WRITE`, `DELETE`, `OPTIMIZE`, ...).
    pub operation: Option<String>,
    /// The command that made it (`sync events`, `fetch events`, `gdpr delete`, ...).
    pub command: Option<String>,
    /// Rows the commit added, as the command counted them.
    pub written: Option<u64>,
    /// Re-read rows skipped.
    pub already_present: Option<u64>,
    /// True duplicates audited.
    pub duplicates_rejected: Option<u64>,
    /// The sync cursor the commit set.
    pub cursor: Option<String>,
    /// Everything mpd recorded with the commit.
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

/// What `mpd tables compact` did: merged small files, or rewrote an events table whose typed
/// property columns were not the configured ones (an upgrade of a store written by an
/// earlier mpd or under another `typed_properties` setting).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompactReport {
    /// Small files merged (Delta OPTIMIZE).
    Merged(CompactSummary),
    /// The table rewritten, sorted, with the configured typed columns.
    Upgraded(EvolveReport),
    /// An events table's days that were not one sequence sorted by event name and time
    /// rewritten so (`partitions_optimized` days; none: nothing to do, no commit).
    Sorted {
        /// Files replaced and written, days rewritten, the version after.
        summary: CompactSummary,
        /// Rows rewritten.
        rows: u64,
    },
}

/// Merges a table's small files (hourly syncs make many) into large ones, in one commit. An
/// events table is rewritten instead: whole, when its typed property columns are not the
/// configured ones; else the days whose files are not one sequence sorted by event name (and
/// time), each into one sorted file, which also merges their small files. Delta's OPTIMIZE
/// would concatenate the sorted files of a day, leaving runs a filter on the event reads a
/// piece of each.
pub(crate) async fn compact_table(ws: &Workspace, table: &str) -> Result<CompactReport> {
    let store = ws.store().await?;
    let _lock = store.lock_for_writing("tables compact")?;
    if mpd_ingest::evolve::is_events_table(&*store.schema(table).await?) {
        let configured = ws.configured_typed_properties()?;
        if let Some(report) = evolve_locked(store, table, &configured, "tables compact").await? {
            return Ok(CompactReport::Upgraded(report));
        }
        return sort_days(store, table).await;
    }
    let metadata = CommitInfo::new("tables compact").to_metadata();
    Ok(CompactReport::Merged(store.compact(table, None, metadata).await?))
}

/// Rewrites the days of the events table `table` that are not laid out sorted.
async fn sort_days(store: &mpd_store::Store, table: &str) -> Result<CompactReport> {
    let days = store.unsorted_days(table, "event_name").await?;
    if days.is_empty() {
        let version = store.version(table).await?;
        let summary =
            CompactSummary { files_removed: 0, files_added: 0, partitions_optimized: 0, version };
        return Ok(CompactReport::Sorted { summary, rows: 0 });
    }
    let metadata = CommitInfo::new("tables compact").to_metadata();
    let sorted = mpd_ingest::evolve::sort_days(store, table, &days, metadata)
        .await
        .map_err(|e| e.in_table(table))?;
    let summary = CompactSummary {
        files_removed: sorted.commit.files_removed as u64,
        files_added: sorted.commit.files_added as u64,
        partitions_optimized: sorted.days,
        version: sorted.commit.version,
    };
    Ok(CompactReport::Sorted { summary, rows: sorted.rows })
}

/// Deletes files no version younger than `retention` needs (Delta's VACUUM).
pub(crate) async fn vacuum_table(
    ws: &Workspace,
    table: &str,
    retention: Duration,
    dry_run: bool,
) -> Result<VacuumSummary> {
    if retention < mpd_store::DEFAULT_VACUUM_RETENTION {
        return Err(crate::error::Error::InvalidArgument(format!(
            "a retention of {} h is below Delta's minimum of {} h: files younger than that may \
             still be read by time travel or by a writer in progress (to erase a user's data \
             now, use `mpd gdpr delete`)",
            retention.as_secs() / 3600,
            mpd_store::DEFAULT_VACUUM_RETENTION.as_secs() / 3600
        )));
    }
    let store = ws.store().await?;
    let _lock = store.lock_for_writing("tables vacuum")?;
    let options = VacuumOptions {
        retention,
        dry_run,
        metadata: CommitInfo::new("tables vacuum").to_metadata(),
        ..VacuumOptions::default()
    };
    Ok(store.vacuum(table, options).await?)
}

/// The table's commits, newest first, with each sync's counts.
pub(crate) async fn table_history(
    ws: &Workspace,
    table: &str,
    limit: Option<usize>,
) -> Result<Vec<HistoryEntry>> {
    let store = ws.store().await?;
    let commits = store.history(table, limit).await?;
    Ok(commits
        .into_iter()
        .map(|commit| {
            let info = CommitInfo::from_metadata(&commit.metadata);
            HistoryEntry {
                version: commit.version,
                timestamp: commit
                    .timestamp
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                operation: commit.operation.clone(),
                command: (!info.command.is_empty()).then_some(info.command),
                written: info.written,
                already_present: info.already_present,
                duplicates_rejected: info.duplicates_rejected,
                cursor: info.cursor.map(|day| day.to_string()),
                metadata: commit.metadata,
            }
        })
        .collect())
}
