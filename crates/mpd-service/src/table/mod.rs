//! Fetching into tables of the store: decode to Arrow, deduplicate, write Delta commits.

pub(crate) mod batch_spool;
pub(crate) mod dedup;
pub(crate) mod erased;
mod fetch_events;
mod fetch_profiles;
pub(crate) mod ingest;

pub use fetch_events::{FetchEventsRequest, FetchSummary, TableMode};
pub use fetch_profiles::ProfileFetchSummary;
pub use ingest::IngestCounts;
