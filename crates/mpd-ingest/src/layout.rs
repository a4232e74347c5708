//! How each kind of table is laid out: schema, partitioning and which columns get file
//! statistics in the Delta log.
//!
//! The log outlives deletes and vacuums, so statistics (min/max values per file) are kept only
//! for columns that hold no personal data: an id erased with `mpd gdpr delete` must not survive
//! in an old commit's statistics.

use mpd_store::{Store, TableWriter, WriteMode, WriterOptions};

use crate::error::Result;

/// Event columns with statistics: enough to prune by time, name and sync run.
const EVENT_STATS: [&str; 4] = ["event_name", "time", "mp_processing_time", "_sync_id"];
/// Profile columns with statistics.
const PROFILE_STATS: [&str; 2] = ["last_seen", "_sync_id"];
/// Identity-mapping columns with statistics (`_sync_id` lets a scan skip old files).
const IDENTITY_STATS: [&str; 1] = ["_sync_id"];
/// Audit columns with statistics.
const AUDIT_STATS: [&str; 5] =
    ["event_name", "time", "mp_processing_time", "_sync_id", "rejected_at"];

/// Events are written sorted by name, then time, within each day: a query about one event
/// reads that event's pages only (Parquet page statistics), in mpd and in any other reader.
const EVENT_ORDER: [&str; 2] = ["event_name", "time"];

fn options(columns: &[&str]) -> WriterOptions {
    WriterOptions {
        stats_columns: Some(columns.iter().map(|c| (*c).to_owned()).collect()),
        sort_by: Vec::new(),
    }
}

fn sorted_options(columns: &[&str]) -> WriterOptions {
    WriterOptions { sort_by: EVENT_ORDER.map(str::to_owned).to_vec(), ..options(columns) }
}

/// A writer of an events table (partitioned by `date`).
pub async fn events_writer(store: &Store, table: &str, mode: WriteMode) -> Result<TableWriter> {
    let schema = mpd_decode::events_schema();
    Ok(store
        .writer_with(table, schema, &[mpd_store::DATE_COLUMN], mode, sorted_options(&EVENT_STATS))
        .await?)
}

/// A writer of an events table's audit table (partitioned by `date`).
pub async fn audit_writer(store: &Store, table: &str, mode: WriteMode) -> Result<TableWriter> {
    let schema = mpd_decode::rejected_duplicates_schema();
    Ok(store
        .writer_with(table, schema, &[mpd_store::DATE_COLUMN], mode, sorted_options(&AUDIT_STATS))
        .await?)
}

/// A writer of a profiles table.
pub async fn profiles_writer(store: &Store, table: &str, mode: WriteMode) -> Result<TableWriter> {
    let schema = mpd_decode::profiles_schema();
    Ok(store.writer_with(table, schema, &[], mode, options(&PROFILE_STATS)).await?)
}

/// A writer of `identity_mappings`.
pub async fn identity_writer(store: &Store, table: &str, mode: WriteMode) -> Result<TableWriter> {
    let schema = mpd_decode::identity_schema();
    Ok(store.writer_with(table, schema, &[], mode, options(&IDENTITY_STATS)).await?)
}
