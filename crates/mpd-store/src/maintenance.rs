//! Table maintenance: deleting rows, compacting small files, vacuuming unreferenced ones.
//!
//! Each is one deltalake operation with the caller's metadata in its commit info, under the
//! key the writer uses, so `history()` tells what ran and why.

use std::num::NonZeroU64;
use std::time::Duration;

use arrow_schema::DataType;
use datafusion::common::{DFSchema, ExprSchema};
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::ExprSchemable;
use deltalake::DeltaTable;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::logstore::object_store::ObjectStoreExt;
use deltalake::logstore::object_store::path::Path as ObjectPath;
use deltalake::operations::vacuum::VacuumMode;
use serde_json::{Map, Value};

use crate::history::{self, COMMIT_METADATA_KEY};
use crate::writer::{TARGET_FILE_BYTES, parquet_properties};
use crate::{Error, Result, Store};

/// Delta's default retention of removed files: 7 days.
pub const DEFAULT_VACUUM_RETENTION: Duration = Duration::from_secs(168 * 60 * 60);

/// Retentions beyond this are clamped (they already keep everything).
const MAX_RETENTION: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// What [`Store::delete_rows`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteSummary {
    /// Rows that matched the predicate and are gone from the live files.
    pub rows_removed: u64,
    /// Files taken out of the table (they stay on disk until a vacuum).
    pub files_removed: u64,
    /// Files written with the rows of the removed files that did not match.
    pub files_added: u64,
    /// The table version after the delete (unchanged when nothing matched).
    pub version: i64,
}

/// What [`Store::compact`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompactSummary {
    /// Small files merged away.
    pub files_removed: u64,
    /// Files written in their place.
    pub files_added: u64,
    /// Partitions that had files merged.
    pub partitions_optimized: u64,
    /// The table version after compaction (unchanged when nothing needed it).
    pub version: i64,
}

/// How [`Store::vacuum`] chooses files.
#[derive(Debug, Clone, PartialEq)]
pub struct VacuumOptions {
    /// Files removed from the table (or never committed to it) longer ago than this are
    /// deleted; newer ones are kept for readers of older versions and for writers mid-commit.
    pub retention: Duration,
    /// List what would be deleted, delete nothing.
    pub dry_run: bool,
    /// Refuse a `retention` shorter than the table's `delta.deletedFileRetentionDuration`
    /// (7 days unless set). [`VacuumOptions::immediately`] turns this off.
    pub enforce_retention: bool,
    /// Stored under the `"mpd"` key of the vacuum's commits.
    pub metadata: Map<String, Value>,
}

impl Default for VacuumOptions {
    /// Delta's default: keep removed files for [`DEFAULT_VACUUM_RETENTION`].
    fn default() -> Self {
        Self {
            retention: DEFAULT_VACUUM_RETENTION,
            dry_run: false,
            enforce_retention: true,
            metadata: Map::new(),
        }
    }
}

impl VacuumOptions {
    /// Deletes every unreferenced file now, whatever its age: for GDPR erasure right after
    /// [`Store::delete_rows`], so the deleted rows' bytes are gone from disk. Readers of older
    /// versions lose them, and files of a writer that has not committed yet would be deleted
    /// too: hold [`Store::lock_for_writing`] around the delete and the vacuum so no other
    /// `mpd` writes meanwhile.
    pub fn immediately() -> Self {
        Self { retention: Duration::ZERO, enforce_retention: false, ..Self::default() }
    }
}

/// What [`Store::vacuum`] did (or, for a dry run, would do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VacuumSummary {
    /// Files deleted (dry run: files that would be).
    pub files_deleted: u64,
    /// Their bytes, when known.
    pub bytes_deleted: Option<u64>,
    /// Whether this was a dry run.
    pub dry_run: bool,
}

impl Store {
    /// Deletes the rows matching `predicate`, a SQL boolean expression over the table's columns
    /// (`distinct_id IN ('a', 'b') OR user_id IN ('a')`), in one commit carrying `metadata`.
    /// Files holding matching rows are rewritten without them (no deletion vectors), so the
    /// rows are physically absent from the live files; the old files stay on disk until
    /// [`Store::vacuum`]. Nothing matching: no commit.
    ///
    /// Delta records the predicate's text in the commit info (`operationParameters`), which
    /// stays in the log: a predicate naming personal ids leaves them there. For erasure,
    /// match on something that is not the id itself (a hash of it).
    pub async fn delete_rows(
        &self,
        table: &str,
        predicate: &str,
        metadata: Map<String, Value>,
    ) -> Result<DeleteSummary> {
        let delta = self.load(table).await?;
        check_predicate(table, &delta, predicate)?;
        let version_before = table_version(&delta);
        let rows_before = live_rows(table, &delta)?;
        let properties = parquet_properties(&*table_schema(table, &delta)?);
        let (after, metrics) = delta
            .delete()
            .with_predicate(predicate.to_owned())
            .with_writer_properties(properties)
            .with_commit_properties(commit_properties(metadata))
            .await
            .map_err(|source| Error::delta(table, source))?;
        self.forget_session().await;
        let version = table_version(&after);
        let rows_removed = match metrics.num_deleted_rows {
            Some(n) => n as u64,
            // Whole-file deletes of files without row counts; the log's sums are the fallback.
            None => {
                rows_before.zip(live_rows(table, &after)?).map_or(0, |(b, a)| b.saturating_sub(a))
            }
        };
        let summary = DeleteSummary {
            rows_removed,
            files_removed: metrics.num_removed_files as u64,
            files_added: metrics.num_added_files as u64,
            version,
        };
        tracing::info!(table, version, version_before, rows_removed, "rows deleted");
        Ok(summary)
    }

    /// Merges each partition's small files into files of about `target_file_bytes` (default:
    /// the writer's 128 MiB), in one commit carrying `metadata` (Delta's OPTIMIZE, bin-packing).
    /// The merged-away files stay on disk until [`Store::vacuum`]. Nothing to merge: no commit.
    pub async fn compact(
        &self,
        table: &str,
        target_file_bytes: Option<u64>,
        metadata: Map<String, Value>,
    ) -> Result<CompactSummary> {
        let delta = self.load(table).await?;
        let target = target_file_bytes
            .and_then(NonZeroU64::new)
            .or(NonZeroU64::new(TARGET_FILE_BYTES))
            .unwrap_or(NonZeroU64::MIN);
        let properties = parquet_properties(&*table_schema(table, &delta)?);
        let (after, metrics) = delta
            .optimize()
            .with_target_size(target)
            .with_writer_properties(properties)
            .with_commit_properties(commit_properties(metadata))
            .await
            .map_err(|source| Error::delta(table, source))?;
        self.forget_session().await;
        let summary = CompactSummary {
            files_removed: metrics.num_files_removed,
            files_added: metrics.num_files_added,
            partitions_optimized: metrics.partitions_optimized,
            version: table_version(&after),
        };
        tracing::info!(
            table,
            version = summary.version,
            files_removed = summary.files_removed,
            files_added = summary.files_added,
            "table compacted"
        );
        Ok(summary)
    }

    /// Deletes files the table no longer references and that were removed longer than
    /// `options.retention` ago: files taken out by deletes, replaces and compactions, and
    /// orphaned files that never made it into the log (a writer killed before committing),
    /// judged by their age on disk. Delta records a real vacuum as two commits,
    /// `VACUUM START` and `VACUUM END`, both carrying `options.metadata`; a vacuum with nothing
    /// to delete, or a dry run, makes none.
    pub async fn vacuum(&self, table: &str, options: VacuumOptions) -> Result<VacuumSummary> {
        let delta = self.load(table).await?;
        let retention = chrono::Duration::from_std(options.retention.min(MAX_RETENTION))
            .unwrap_or(chrono::Duration::MAX);
        let store = delta.object_store();
        let (after, metrics) = delta
            .vacuum()
            .with_retention_period(retention)
            .with_enforce_retention_duration(options.enforce_retention)
            .with_dry_run(options.dry_run)
            // Full mode also deletes untracked files, not only those the log says it removed.
            .with_mode(VacuumMode::Full)
            .with_commit_properties(commit_properties(options.metadata))
            .await
            .map_err(|source| Error::delta(table, source))?;
        let files_deleted = metrics.files_deleted.len() as u64;
        let bytes_deleted = if metrics.files_deleted.is_empty() {
            Some(0)
        } else if options.dry_run {
            let mut total = Some(0u64);
            for file in &metrics.files_deleted {
                let size = store.head(&ObjectPath::from(file.as_str())).await.ok().map(|m| m.size);
                total = total.zip(size).map(|(sum, size)| sum + size);
            }
            total
        } else {
            self.forget_session().await;
            // The VACUUM START commit, just before the end one, records the bytes it planned.
            let start = table_version(&after) - 1;
            history::operation_metrics(table, &after, start)
                .await?
                .get("sizeOfDataToDelete")
                .and_then(Value::as_u64)
        };
        tracing::info!(table, files_deleted, ?bytes_deleted, dry_run = options.dry_run, "vacuumed");
        Ok(VacuumSummary { files_deleted, bytes_deleted, dry_run: options.dry_run })
    }

    /// Drops the cached SQL session: its table providers hold the files of the old version.
    async fn forget_session(&self) {
        *self.session.lock().await = None;
    }
}

fn commit_properties(metadata: Map<String, Value>) -> CommitProperties {
    CommitProperties::default()
        .with_metadata([(COMMIT_METADATA_KEY.to_owned(), Value::Object(metadata))])
}

fn table_version(table: &DeltaTable) -> i64 {
    table.version().and_then(|v| i64::try_from(v).ok()).unwrap_or_default()
}

/// The table's columns, for the Parquet settings of the files an operation rewrites.
fn table_schema(name: &str, table: &DeltaTable) -> Result<arrow_schema::SchemaRef> {
    let state = table.snapshot().map_err(|source| Error::delta(name, source))?;
    Ok(state.snapshot().arrow_schema())
}

/// Rows of the live files, from their statistics; None when a file has no row count.
fn live_rows(name: &str, table: &DeltaTable) -> Result<Option<u64>> {
    let state = table.snapshot().map_err(|source| Error::delta(name, source))?;
    let mut rows = Some(0u64);
    for file in state.log_data().iter() {
        rows = rows.zip(file.num_records()).map(|(sum, n)| sum + n as u64);
    }
    Ok(rows)
}

/// Parses `predicate` against the table's columns, so a typo is the user's error, reported
/// before any file is touched.
fn check_predicate(name: &str, table: &DeltaTable, predicate: &str) -> Result<()> {
    let invalid = |message: String| Error::Predicate { table: name.to_owned(), message };
    let state = table.snapshot().map_err(|source| Error::delta(name, source))?;
    let schema = state.snapshot().arrow_schema();
    let schema = DFSchema::try_from(schema.as_ref().clone())
        .map_err(|error| invalid(error.strip_backtrace()))?;
    let expr = SessionContext::new()
        .parse_sql_expr(predicate, &schema)
        .map_err(|error| invalid(error.strip_backtrace()))?;
    let data_type = expr
        .get_type(&schema as &dyn ExprSchema)
        .map_err(|error| invalid(error.strip_backtrace()))?;
    if data_type != DataType::Boolean {
        return Err(invalid(format!("`{predicate}` is of type {data_type}, not a condition")));
    }
    Ok(())
}
