//! Fetching into tables of the store: decode to Arrow, deduplicate, write Delta commits.

pub(crate) mod batch_spool;
pub(crate) mod day_spill;
pub(crate) mod dedup;
pub(crate) mod erased;
mod fetch_events;
mod fetch_profiles;
pub(crate) mod ingest;
pub(crate) mod layout;

pub use fetch_events::{FetchEventsRequest, FetchSummary, TableMode};
pub use fetch_profiles::ProfileFetchSummary;
pub use ingest::IngestCounts;

/// The `_sync_id` of the rows a run adds to `table`: the version its first commit will have.
pub(crate) async fn next_sync_id(store: &mpd_store::Store, table: &str) -> crate::Result<i64> {
    Ok(if store.exists(table).await? { store.version(table).await? + 1 } else { 0 })
}
