//! Fetching into tables of the store: decode to Arrow, deduplicate, write Delta commits.

mod batch_spool;
mod dedup;
mod fetch_events;
mod fetch_profiles;

pub use fetch_events::{FetchEventsRequest, FetchSummary, TableMode};
pub use fetch_profiles::ProfileFetchSummary;
