//! `mpd gdpr delete`: a user's rows removed from every table of the store, the old files
//! vacuumed so the bytes are gone, and the user's ids recorded (hashed) so later syncs and
//! imports drop their re-exported events.
//!
//! Raw ids never reach the Delta log: rows are matched by the SHA-256 of their id columns
//! (the delete predicate is stored in the log), and commit metadata carries counts only.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use arrow_array::cast::AsArray;
use arrow_array::{ArrayRef, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use mpd_ingest::dedup::normalize_strings;
use mpd_ingest::erased::{ERASURES_TABLE, hash_id};
use mpd_store::CommitInfo;
use mpd_store::{Store, VacuumOptions, WriteMode};

use crate::error::{Error, Result};
use crate::workspace::Workspace;

/// Columns that identify a user, in any table that has them.
const ID_COLUMNS: [&str; 4] = ["distinct_id", "device_id", "user_id", "resolved_distinct_id"];

/// What was erased from one table.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TableErasure {
    /// The table.
    pub table: String,
    /// Rows removed.
    pub rows_removed: u64,
    /// Data files rewritten without the rows.
    pub files_rewritten: u64,
    /// Files physically deleted by the vacuum that followed.
    pub files_vacuumed: u64,
}

/// What `mpd gdpr delete` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct GdprReport {
    /// Users named.
    pub users: usize,
    /// Ids erased: the users' ids plus the devices and anonymous ids linked to them.
    pub ids_erased: usize,
    /// Per table, only tables that held rows of the users.
    pub tables: Vec<TableErasure>,
    /// Quarantined lines (malformed input kept for inspection) removed because they named a user.
    pub quarantine_lines_removed: u64,
    /// Wall-clock seconds.
    pub elapsed_secs: f64,
}

/// Erases `distinct_ids` from the store (see the module docs).
pub(crate) async fn gdpr_delete(ws: &Workspace, distinct_ids: &[String]) -> Result<GdprReport> {
    let started = Instant::now();
    let users: BTreeSet<String> =
        distinct_ids.iter().map(|id| id.trim().to_owned()).filter(|id| !id.is_empty()).collect();
    if users.is_empty() {
        return Err(Error::InvalidArgument(
            "name at least one user: --distinct-id ID (repeatable) or --file FILE with one id per line"
                .to_owned(),
        ));
    }
    let store = ws.store().await?;
    let _lock = store.lock_for_writing("gdpr delete")?;
    let ids = linked_ids(store, &users).await?;
    let hashes: Vec<String> = ids.iter().map(|id| hash_id(id)).collect();
    // Recorded first: if the run stops before the deletes, the next sync already drops the
    // users' events, and running the command again finishes the deletes.
    record_erasures(store, &hashes).await?;
    let mut tables = Vec::new();
    for table in store.table_names().await? {
        if table == ERASURES_TABLE {
            continue;
        }
        if let Some(erasure) = erase_from(store, &table, &hashes, users.len()).await? {
            tables.push(erasure);
        }
    }
    // Quarantined lines are raw events too: a folder store keeps them inside, an object
    // store in ~/.mp/quarantine; an in-memory store has none.
    let object_store =
        store.root().is_none() && ws.store_location().is_ok_and(|l| l.root().is_none());
    let quarantine_lines_removed = if store.root().is_some() || object_store {
        scrub_quarantine(&ws.quarantine_dir()?, &ids)?
    } else {
        0
    };
    Ok(GdprReport {
        users: users.len(),
        ids_erased: ids.len(),
        tables,
        quarantine_lines_removed,
        elapsed_secs: started.elapsed().as_secs_f64(),
    })
}

/// The users' ids plus the devices seen with them and the anonymous ids mapped to them.
async fn linked_ids(store: &Store, users: &BTreeSet<String>) -> Result<BTreeSet<String>> {
    let mut ids = users.clone();
    let list = sql_list(users.iter().map(String::as_str));
    let mut queries = Vec::new();
    if store.exists("events").await? {
        queries.push(format!(
            "SELECT DISTINCT device_id AS id FROM events WHERE device_id IS NOT NULL AND device_id <> '' \
             AND (user_id IN ({list}) OR distinct_id IN ({list}))"
        ));
    }
    if store.exists("identity_mappings").await? {
        queries.push(format!(
            "SELECT DISTINCT distinct_id AS id FROM identity_mappings WHERE resolved_distinct_id IN ({list})"
        ));
    }
    for query in queries {
        for batch in store.sql(&query).await?.batches {
            let batch = normalize_strings(batch)?;
            if let Some(column) = batch.column(0).as_string_opt::<i32>() {
                ids.extend(column.iter().flatten().filter(|id| !id.is_empty()).map(str::to_owned));
            }
        }
    }
    // Anonymous ids of a device: `$device:<id>` (simplified ID merge) as well as the bare id.
    let devices: Vec<String> =
        ids.iter().filter_map(|id| id.strip_prefix("$device:")).map(str::to_owned).collect();
    ids.extend(devices);
    let anonymous: Vec<String> = ids
        .iter()
        .filter(|id| !id.starts_with("$device:") && !users.contains(*id))
        .map(|id| format!("$device:{id}"))
        .collect();
    ids.extend(anonymous);
    Ok(ids)
}

/// Deletes the rows whose id columns hash to one of `hashes`, then vacuums the old files.
async fn erase_from(
    store: &Store,
    table: &str,
    hashes: &[String],
    users: usize,
) -> Result<Option<TableErasure>> {
    let schema = store.table_info(table).await?.schema;
    let columns: Vec<&str> =
        ID_COLUMNS.into_iter().filter(|c| schema.field_with_name(c).is_ok()).collect();
    if columns.is_empty() {
        return Ok(None);
    }
    let list = sql_list(hashes.iter().map(String::as_str));
    let predicate = columns
        .iter()
        .map(|c| format!("encode(sha256({c}), 'hex') IN ({list})"))
        .collect::<Vec<_>>()
        .join(" OR ");
    let metadata = CommitInfo {
        users: Some(users as u64),
        ids: Some(hashes.len() as u64),
        ..CommitInfo::new("gdpr delete")
    }
    .to_metadata();
    let deleted = store.delete_rows(table, &predicate, metadata.clone()).await?;
    if deleted.rows_removed == 0 {
        return Ok(None);
    }
    let vacuumed =
        store.vacuum(table, VacuumOptions { metadata, ..VacuumOptions::immediately() }).await?;
    tracing::info!(table, rows = deleted.rows_removed, files = vacuumed.files_deleted, "erased");
    Ok(Some(TableErasure {
        table: table.to_owned(),
        rows_removed: deleted.rows_removed,
        files_rewritten: deleted.files_removed,
        files_vacuumed: vacuumed.files_deleted,
    }))
}

async fn record_erasures(store: &Store, hashes: &[String]) -> Result<()> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id_sha256", DataType::Utf8, false),
        Field::new(
            "erased_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
    ]));
    let now = chrono::Utc::now().timestamp_micros();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(hashes)),
        Arc::new(
            TimestampMicrosecondArray::from_iter_values(hashes.iter().map(|_| now))
                .with_timezone("UTC"),
        ),
    ];
    let batch = RecordBatch::try_new(Arc::clone(&schema), columns)
        .map_err(|e| Error::Internal(format!("cannot build the erasure records: {e}")))?;
    let mut writer = store.writer(ERASURES_TABLE, schema, &[], WriteMode::Append).await?;
    writer.write(batch).await?;
    writer
        .commit(
            CommitInfo { ids: Some(hashes.len() as u64), ..CommitInfo::new("gdpr delete") }
                .to_metadata(),
        )
        .await?;
    Ok(())
}

/// Removes quarantined lines that mention an erased id; returns how many.
fn scrub_quarantine(dir: &std::path::Path, ids: &BTreeSet<String>) -> Result<u64> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(0) };
    let mut removed = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        let io =
            |source| Error::Write { what: format!("quarantine file {}", path.display()), source };
        let text = std::fs::read_to_string(&path).map_err(io)?;
        let kept: Vec<&str> =
            text.lines().filter(|line| !ids.iter().any(|id| line.contains(id.as_str()))).collect();
        let dropped = text.lines().count() - kept.len();
        if dropped > 0 {
            let mut out = kept.join("\n");
            if !out.is_empty() {
                out.push('\n');
            }
            std::fs::write(&path, out).map_err(io)?;
            removed += dropped as u64;
        }
    }
    Ok(removed)
}

fn sql_list<'a>(values: impl Iterator<Item = &'a str>) -> String {
    values.map(|v| format!("'{}'", v.replace('\'', "''"))).collect::<Vec<_>>().join(", ")
}
