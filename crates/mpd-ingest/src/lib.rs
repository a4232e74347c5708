//! Exactly-once rows into mpd's Delta tables, the part of every load that is the same for
//! `fetch`, `sync` and `import`:
//! - [`Ingest`]: decoded batches filtered (erased users), deduplicated against the store and
//!   written, true duplicates going to the audit table; at most a given number of keys held
//!   in memory, the rest waiting on disk with their days' late rows;
//! - [`dedup`]: the keys (first stored copy wins, re-reads vs true duplicates) and the Arrow
//!   helpers the loads share;
//! - [`erased`]: the ids erased with `mpd gdpr delete`, dropped on the way in;
//! - [`layout`]: each table's schema, partitioning and statistics columns;
//! - [`evolve`]: a stored events table rewritten with other typed property columns;
//! - [`BatchSpool`]: a request's batches, in memory up to a budget, then in a temporary file.
//!
//! **Invariant:** no network and no printing; knows the store and the decoder's schemas, not
//! Mixpanel's API or where the rows came from.

pub mod batch_spool;
mod day_spill;
pub mod dedup;
pub mod erased;
mod error;
pub mod evolve;
mod ingest;
pub mod layout;

pub use batch_spool::{BatchSpool, SpoolBudget};
pub use error::{Error, Result};
pub use ingest::{Ingest, IngestCounts, IngestOptions, audit_table_name, date32_to_day};
