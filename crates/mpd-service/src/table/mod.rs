//! Fetching into tables of the store: decode to Arrow, deduplicate, write Delta commits.

pub(crate) mod fetch_events;
pub(crate) mod fetch_profiles;
pub(crate) mod typed;

pub use fetch_events::{FetchEventsRequest, FetchSummary, TableMode};
pub use fetch_profiles::ProfileFetchSummary;
pub use mpd_ingest::IngestCounts;

/// The `_sync_id` of the rows a run adds to `table`: the version its first commit will have.
pub(crate) async fn next_sync_id(store: &mpd_store::Store, table: &str) -> crate::Result<i64> {
    Ok(if store.exists(table).await? { store.version(table).await? + 1 } else { 0 })
}

/// The serde name of a unit enum value (`TableMode::Append` → `append`).
pub(crate) fn mode_name(mode: &impl serde::Serialize) -> Option<String> {
    match serde_json::to_value(mode) {
        Ok(serde_json::Value::String(name)) => Some(name),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_mode_is_written_by_its_serde_name() {
        assert_eq!(super::mode_name(&super::TableMode::Append).as_deref(), Some("append"));
    }
}
