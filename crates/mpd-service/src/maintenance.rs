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
}

/// Merges a table's small files (hourly syncs make many) into large ones, in one commit; an
/// events table without the configured typed property columns is rewritten with them instead.
pub(crate) async fn compact_table(ws: &Workspace, table: &str) -> Result<CompactReport> {
    let store = ws.store().await?;
    let _lock = store.lock_for_writing("tables compact")?;
    if mpd_ingest::evolve::is_events_table(&*store.schema(table).await?) {
        let configured = ws.configured_typed_properties()?;
        if let Some(report) = evolve_locked(store, table, &configured, "tables compact").await? {
            return Ok(CompactReport::Upgraded(report));
        }
    }
    let metadata = CommitInfo::new("tables compact").to_metadata();
    Ok(CompactReport::Merged(store.compact(table, None, metadata).await?))
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
