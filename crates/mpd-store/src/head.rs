//! A table's head: its newest version's protocol, metadata and schema, and its files listed on
//! demand, without the file list Delta's table state materialises on every load.
//!
//! Loading a [`DeltaTable`] replays the log into one in-memory list of every live file with
//! its statistics parsed, a cost that grows with history (3,671 files at ten years of hourly
//! syncs: ~19 ms a run). A sync needs little of it: the version, the schema, its cursor, the
//! files of the days it re-reads, and a commit of new files on top of the version it read.
//! The head serves those from the log directly; SQL, maintenance and replacing writes still
//! load the full state.

use std::sync::Arc;

use arrow_schema::SchemaRef;
use chrono::NaiveDate;
use deltalake::kernel::transaction::{CommitData, TransactionError};
use deltalake::kernel::{Action, Add, Metadata, Snapshot, Transaction};
use deltalake::logstore::{CommitOrBytes, LogStoreRef, ObjectStoreRef};
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::{DeltaTable, DeltaTableError};
use futures::TryStreamExt;
use serde_json::Value;

use crate::query::DATE_COLUMN;
use crate::{Error, Result};

/// The commit a head writes itself, with everything Delta's commit builder would record.
pub(crate) struct AppendCommit {
    pub(crate) adds: Vec<Add>,
    pub(crate) partition_by: Vec<String>,
    pub(crate) app_metadata: std::collections::HashMap<String, Value>,
    pub(crate) txn: Option<Transaction>,
}

/// The newest version of one table, without its file list.
#[derive(Clone)]
pub(crate) struct Head {
    snapshot: Arc<Snapshot>,
    log_store: LogStoreRef,
}

impl std::fmt::Debug for Head {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Head").field("version", &self.snapshot.version()).finish_non_exhaustive()
    }
}

impl Head {
    /// The head of the table `handle` points at (an unloaded handle is enough).
    pub(crate) async fn load(table: &str, handle: &DeltaTable) -> Result<Head> {
        let log_store = handle.log_store();
        let snapshot = Snapshot::try_new(log_store.as_ref(), None)
            .await
            .map_err(|source| Error::delta(table, source))?;
        Ok(Head { snapshot: Arc::new(snapshot), log_store })
    }

    pub(crate) fn version(&self) -> i64 {
        i64::try_from(self.snapshot.version()).unwrap_or(i64::MAX)
    }

    pub(crate) fn metadata(&self) -> &Metadata {
        self.snapshot.metadata()
    }

    /// The Arrow schema the table reads back as.
    pub(crate) fn arrow_schema(&self) -> SchemaRef {
        self.snapshot.arrow_schema()
    }

    pub(crate) fn object_store(&self) -> ObjectStoreRef {
        self.log_store.object_store(None)
    }

    /// The newest version recorded for `app_id` by an application transaction (a cursor).
    pub(crate) async fn app_transaction_version(
        &self,
        table: &str,
        app_id: &str,
    ) -> Result<Option<i64>> {
        // Delta's snapshot keeps this lookup to its materialised state; the kernel answers
        // from the log (the checkpoint's and newer commits' `txn` actions).
        let engine = self.log_store.engine(None);
        let root = table_root(&self.log_store);
        let version = self.snapshot.version();
        let app_id = app_id.to_owned();
        let found = tokio::task::spawn_blocking(move || {
            let snapshot = delta_kernel::snapshot::Snapshot::builder_for(root)
                .at_version(version)
                .build(engine.as_ref())?;
            snapshot.get_app_id_version(&app_id, engine.as_ref())
        })
        .await
        .map_err(|join| Error::delta(table, DeltaTableError::Generic(join.to_string())))?;
        found.map_err(|source| Error::delta(table, DeltaTableError::from(source)))
    }

    /// The live files of `dates` (a replay of the log without statistics).
    pub(crate) async fn files_of_days(
        &self,
        table: &str,
        dates: &[NaiveDate],
    ) -> Result<Vec<deltalake::kernel::LogicalFileView>> {
        let wanted: std::collections::HashSet<String> =
            dates.iter().map(|d| d.format("%Y-%m-%d").to_string()).collect();
        self.snapshot
            .file_views(self.log_store.as_ref(), None)
            .try_filter(|file| {
                let day = file.partition_values_map().get(DATE_COLUMN).cloned().flatten();
                std::future::ready(day.is_some_and(|day| wanted.contains(&day)))
            })
            .try_collect()
            .await
            .map_err(|source| Error::delta(table, source))
    }

    /// Whether [`Head::append`] can write the next commit: a plain append lands in the log as
    /// the next version, written by put-if-absent, and is not due a checkpoint (those go
    /// through Delta's commit builder, which writes them). A table another writer moved to a
    /// writer protocol above 2 (table features) also goes there, to have its features checked.
    pub(crate) fn can_append(&self) -> bool {
        let next = self.snapshot.version() + 1;
        let interval =
            self.snapshot.table_properties().checkpoint_interval.map_or(100, |n| n.get());
        // Delta's commit builder checkpoints a commit whose version + 1 is a multiple.
        self.log_store.name() == "DefaultLogStore"
            && self.snapshot.protocol().min_writer_version() <= 2
            && !(next + 1).is_multiple_of(interval)
    }

    /// Writes `commit` as the version after this head's; another writer's commit there first
    /// is [`Error::ConcurrentCommit`]. Returns the new version.
    pub(crate) async fn append(&self, table: &str, commit: AppendCommit) -> Result<i64> {
        let AppendCommit { adds, partition_by, app_metadata, txn } = commit;
        let operation = DeltaOperation::Write {
            mode: SaveMode::Append,
            partition_by: (!partition_by.is_empty()).then_some(partition_by),
            predicate: None,
        };
        let actions = adds.into_iter().map(Action::Add).collect();
        let data = CommitData::new(actions, operation, app_metadata, txn.into_iter().collect());
        let bytes = data
            .get_bytes()
            .map_err(|source| Error::delta(table, DeltaTableError::from(source)))?;
        let read = self.version();
        let version = self.snapshot.version() + 1;
        match self
            .log_store
            .write_commit_entry(version, CommitOrBytes::LogBytes(bytes), uuid::Uuid::new_v4())
            .await
        {
            Ok(()) => Ok(i64::try_from(version).unwrap_or(i64::MAX)),
            Err(TransactionError::VersionAlreadyExists(_)) => {
                Err(Error::ConcurrentCommit { table: table.to_owned(), read: Some(read) })
            }
            Err(other) => Err(Error::delta(table, DeltaTableError::from(other))),
        }
    }
}

/// The table's root URL with the trailing slash the kernel joins paths onto.
fn table_root(log_store: &LogStoreRef) -> url::Url {
    let mut root = log_store.config().location().clone();
    if !root.path().ends_with('/') {
        let path = format!("{}/", root.path());
        root.set_path(&path);
    }
    root
}
