//! The mpd store: one Delta Lake table per table name, and SQL over them (the contract is in docs/ARCHITECTURE.md).
//!
//! A [`Store`] lives in a folder ([`StoreMode::Persistent`]), a temporary folder removed on
//! close ([`StoreMode::Ephemeral`]), or process memory ([`StoreMode::InMemory`]). Rows arrive
//! as Arrow batches through a [`TableWriter`], which streams Parquet files into the table and
//! makes them visible in one Delta commit carrying the caller's metadata (and, optionally, an
//! application-transaction version: the sync cursor). [`Store::sql`] queries every table with
//! DataFusion ([`Store::sql_rows`] gives the rows as JSON objects, [`Store::sql_rows_capped`]
//! the first of them); [`Store::read_columns`] reads a few columns of a few days for dedup.
//!
//! Maintenance: [`Store::delete_rows`] rewrites the files holding matching rows,
//! [`Store::compact`] merges small files, [`Store::vacuum`] deletes files no version needs any
//! more. [`Store::lock_for_writing`] keeps a second `mpd` process from writing the same store
//! meanwhile. For erasure, note that the Delta log outlives deletes and vacuums: its `add`
//! actions carry per-file min/max values of the statistics columns (see
//! [`WriterOptions::stats_columns`]) and the delete commit carries the predicate's text.
//!
//! The tables are standard Delta tables (protocol, metadata, `add` actions with statistics,
//! Hive-style partition folders), readable by other Delta readers. This crate knows nothing of
//! Mixpanel's API, configuration or printing: schemas come in as [`SchemaRef`].
//!
//! ```
//! use std::sync::Arc;
//! use arrow_array::{Int64Array, RecordBatch};
//! use arrow_schema::{DataType, Field, Schema};
//! use mpd_store::{Store, StoreMode, WriteMode};
//!
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 1)]
//! # async fn main() -> mpd_store::Result<()> {
//! let store = Store::open(StoreMode::InMemory).await?;
//! let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
//! let mut writer = store.writer("numbers", schema.clone(), &[], WriteMode::Create).await?;
//! let batch = RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![1, 2, 3]))])
//!     .expect("valid batch");
//! writer.write(batch).await?;
//! let summary = writer.commit(serde_json::Map::new()).await?;
//! assert_eq!(summary.rows_added, 3);
//!
//! let result = store.sql("SELECT sum(n) AS total FROM numbers").await?;
//! let total = result.batches[0].column(0).as_any().downcast_ref::<Int64Array>().unwrap();
//! assert_eq!(total.value(0), 6);
//! store.close().await
//! # }
//! ```

mod backend;
mod bucket;
mod commit_info;
mod error;
mod export;
mod head;
mod history;
mod location;
mod lock;
mod maintenance;
mod query;
mod schema;
mod sorted_days;
mod store;
mod strays;
mod writer;

pub use arrow_schema::SchemaRef;
pub use datafusion::physical_plan::SendableRecordBatchStream;

pub use crate::backend::StoreOptions;
pub use crate::bucket::{Bucket, ObjectInfo};
pub use crate::commit_info::CommitInfo;
pub use crate::error::{Error, ErrorClass, Result};
pub use crate::export::{FileFormat, FileSummary};
pub use crate::history::{COMMIT_METADATA_KEY, CommitRecord};
pub use crate::location::{MPD_DIR, QUARANTINE_DIR, StoreLocation};
pub use crate::lock::{WRITE_LOCK_FILE, WriteLock};
pub use crate::maintenance::{
    CompactSummary, DEFAULT_VACUUM_RETENTION, DeleteSummary, VacuumOptions, VacuumSummary,
};
pub use crate::query::{
    CappedTable, ColumnView, DATE_COLUMN, EVENTS_RESOLVED_VIEW, KIND_METADATA_KEY,
    PROPERTY_METADATA_KEY, QueryResult, QueryTable,
};
pub use crate::store::{Store, StoreMode, TableInfo};
pub use crate::writer::{CommitSummary, TableWriter, WriteMode, WriterOptions};
