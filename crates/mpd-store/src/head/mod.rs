//! A table's head: its newest version's protocol, metadata, schema, cursors and live files,
//! kept up to date by reading only the commits since the last time.
//!
//! Loading a [`DeltaTable`] replays the log from its last checkpoint into a list of every live
//! file with parsed statistics, a cost that grows with history (3,671 files at ten years of
//! daily partitions: ~20 ms a run, the Delta kernel's fixed costs ~3 ms more for each further
//! lookup such as a cursor). A sync needs little of it: the version, the schema, its cursor,
//! the files of the days it re-reads, and a commit of new files on top of the version it read.
//!
//! The head keeps those in a small index saved under the store's `_mpd/heads/` (`cache.rs`),
//! tied to the exact bytes of the commit it was built at. A run reads the index, checks that
//! commit is still the one in the log, and applies the commits written since (`replay.rs`):
//! its cost is the commits since, not the history. A missing, stale or foreign index, or a
//! commit the replay does not understand, sends the load through Delta's full replay, which
//! rebuilds the index. An append between checkpoints is written by the head straight to the
//! log as the next version (put-if-absent); a new table, a replacement or a commit due a
//! checkpoint goes through Delta's commit builder on the full state.

mod cache;
mod files;
mod replay;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use arrow_schema::SchemaRef;
use chrono::NaiveDate;
use deltalake::kernel::transaction::{CommitData, TransactionError};
use deltalake::kernel::{Action, Add, Metadata, Protocol, Transaction};
use deltalake::logstore::{CommitOrBytes, LogStoreRef, ObjectStoreRef};
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::{DeltaTable, DeltaTableError};
use serde_json::Value;

use crate::backend::Backend;
use crate::query::DATE_COLUMN;
use crate::{Error, Result};

pub(crate) use cache::{forget, save};

/// Commits between two checkpoints when the table does not say (Delta's default).
const DEFAULT_CHECKPOINT_INTERVAL: u64 = 100;
/// A table property that makes cursors expire: their lookups then always go to the kernel.
const TXN_RETENTION: &str = "delta.setTransactionRetentionDuration";

/// The commit a head writes itself, with everything Delta's commit builder would record.
pub(crate) struct AppendCommit {
    pub(crate) adds: Vec<Add>,
    pub(crate) partition_by: Vec<String>,
    pub(crate) app_metadata: HashMap<String, Value>,
    pub(crate) txn: Option<Transaction>,
}

/// One live data file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LiveFile {
    pub(crate) size: u64,
    /// The `date` partition value, if the table has one.
    pub(crate) date: Option<String>,
    /// Whether a deletion vector hides some of its rows (another writer's doing).
    pub(crate) deletion_vector: bool,
    /// The first and last `date` of its rows, from its statistics, in a table not partitioned
    /// by `date` (the audit table): which files a day's read must open.
    pub(crate) date_range: Option<(String, String)>,
}

impl LiveFile {
    /// A file as the log describes it: its `date` partition value, or in a table not
    /// partitioned by `date`, the `date` range of its statistics (`stats`, Delta's JSON).
    pub(crate) fn new(
        size: i64,
        date: Option<String>,
        deletion_vector: bool,
        stats: Option<&str>,
        partitioned_by_date: bool,
    ) -> LiveFile {
        let date_range = if partitioned_by_date { None } else { stats.and_then(date_range) };
        LiveFile {
            size: u64::try_from(size).unwrap_or_default(),
            date,
            deletion_vector,
            date_range,
        }
    }

    /// Whether the file may hold rows of one of `days` (`YYYY-MM-DD`).
    fn may_hold(&self, days: &std::collections::HashSet<String>) -> bool {
        let (first, last) = self.date_range.as_ref().map_or(("", ""), |(a, b)| (a, b));
        may_hold(self.date.as_deref().unwrap_or_default(), first, last, days)
    }
}

/// Whether a file with the `date` partition value `date`, or else rows dated `first` to
/// `last` by its statistics (empty: unknown), may hold rows of one of `days`.
fn may_hold(date: &str, first: &str, last: &str, days: &std::collections::HashSet<String>) -> bool {
    if !date.is_empty() {
        return days.contains(date);
    }
    // No statistics: only reading it tells.
    first.is_empty() || days.iter().any(|day| first <= day.as_str() && day.as_str() <= last)
}

/// Whether a table with `metadata` maps column names (another writer's doing): its files'
/// column names then differ from the schema's, which a head and a direct read do not follow.
pub(crate) fn column_mapped(metadata: &Metadata) -> bool {
    metadata.configuration().get("delta.columnMapping.mode").is_some_and(|mode| mode != "none")
}

/// The `date` range in a file's statistics (`{"minValues":{"date":"2024-05-31",...},...}`).
fn date_range(stats: &str) -> Option<(String, String)> {
    let stats: Value = serde_json::from_str(stats).ok()?;
    let first = stats.get("minValues")?.get(DATE_COLUMN)?.as_str()?;
    let last = stats.get("maxValues")?.get(DATE_COLUMN)?.as_str()?;
    Some((first.to_owned(), last.to_owned()))
}

/// Whether a table with `metadata` is partitioned by `date`.
pub(crate) fn partitioned_by_date(metadata: &Metadata) -> bool {
    metadata.partition_columns().iter().any(|c| c == DATE_COLUMN)
}

/// What the head knows of one version.
#[derive(Debug, Clone)]
pub(crate) struct HeadState {
    pub(crate) version: u64,
    pub(crate) protocol: Protocol,
    pub(crate) metadata: Metadata,
    pub(crate) schema: SchemaRef,
    /// Live files by path (relative to the table, as the log writes it).
    pub(crate) files: files::LiveFiles,
    /// Cursors looked up or seen in replayed commits: app id → version (None: none recorded).
    pub(crate) txns: HashMap<String, Option<i64>>,
    /// Fingerprint of the bytes of the commit file of `version` (`cache.rs`).
    pub(crate) commit_fingerprint: u64,
}

impl HeadState {
    /// The state of a table Delta loaded in full.
    async fn from_delta(table: &str, backend: &Backend, delta: &DeltaTable) -> Result<Self> {
        let state = delta.snapshot().map_err(|source| Error::delta(table, source))?;
        let by_date = partitioned_by_date(state.metadata());
        let mut files = files::LiveFiles::default();
        for file in state.log_data().iter() {
            let stats = if by_date { None } else { file.stats() };
            let live = LiveFile::new(
                file.size(),
                file.partition_values_map().get(DATE_COLUMN).cloned().flatten(),
                file.deletion_vector_descriptor().is_some(),
                stats.as_deref(),
                by_date,
            );
            files.insert(file.path().into_owned(), live);
        }
        let version = state.version();
        let commit = backend.read(&replay::commit_path(table, version)).await?;
        Ok(HeadState {
            version,
            protocol: state.protocol().clone(),
            metadata: state.metadata().clone(),
            schema: state.snapshot().arrow_schema(),
            files,
            txns: HashMap::new(),
            commit_fingerprint: commit.as_deref().map_or(0, cache::fingerprint),
        })
    }
}

/// The newest version of one table, as far as this process has read it.
#[derive(Clone)]
pub(crate) struct Head {
    state: Arc<HeadState>,
    /// Cursor lookups answered since the state was read, shared by clones.
    learned: Arc<Mutex<HashMap<String, Option<i64>>>>,
    log_store: LogStoreRef,
}

impl std::fmt::Debug for Head {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Head").field("version", &self.state.version).finish_non_exhaustive()
    }
}

impl Head {
    /// The head of `table`: from its saved index and the commits since when the index is
    /// good, else from Delta's full replay (which saves a new index).
    pub(crate) async fn load(backend: &Backend, table: &str) -> Result<Head> {
        let started = std::time::Instant::now();
        let handle = backend.table(table)?;
        let saved = cache::read(backend, table).await;
        let read_at = started.elapsed();
        let state = match saved {
            Some(state) => replay::advance(backend, table, state).await?,
            None => None,
        };
        let state = match state {
            Some((state, replayed)) => {
                tracing::debug!(
                    table,
                    version = state.version,
                    files = state.files.len(),
                    replayed,
                    read_ms = read_at.as_secs_f64() * 1e3,
                    total_ms = started.elapsed().as_secs_f64() * 1e3,
                    "head from the saved index"
                );
                if replayed >= cache::SAVE_AFTER_COMMITS {
                    cache::save(backend, table, &state).await;
                }
                state
            }
            None => {
                let mut delta = handle.clone();
                delta.load().await.map_err(|source| Error::delta(table, source))?;
                let state = HeadState::from_delta(table, backend, &delta).await?;
                tracing::debug!(
                    table,
                    version = state.version,
                    files = state.files.len(),
                    total_ms = started.elapsed().as_secs_f64() * 1e3,
                    "head from a full load"
                );
                cache::save(backend, table, &state).await;
                state
            }
        };
        Ok(Head::new(state, handle.log_store()))
    }

    fn new(state: HeadState, log_store: LogStoreRef) -> Head {
        Head { state: Arc::new(state), learned: Arc::default(), log_store }
    }

    /// This head brought up to the newest commit (the commits since, or a full load).
    pub(crate) async fn refresh(&self, backend: &Backend, table: &str) -> Result<Head> {
        if !backend.has_commit(table, self.state.version + 1).await? {
            return Ok(self.clone());
        }
        let state = self.state_with_learned();
        match replay::advance(backend, table, state).await? {
            Some((_, 0)) => Ok(self.clone()),
            Some((state, _)) => Ok(Head::new(state, self.log_store.clone())),
            None => Head::load(backend, table).await,
        }
    }

    /// The state with the cursors learned since it was read (what a saved index should hold).
    pub(crate) fn state_with_learned(&self) -> HeadState {
        let mut state = (*self.state).clone();
        let learned = self.learned.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for (app, version) in learned.iter() {
            state.txns.entry(app.clone()).or_insert(*version);
        }
        state
    }

    pub(crate) fn version(&self) -> i64 {
        i64::try_from(self.state.version).unwrap_or(i64::MAX)
    }

    pub(crate) fn metadata(&self) -> &Metadata {
        &self.state.metadata
    }

    /// The Arrow schema the table reads back as.
    pub(crate) fn arrow_schema(&self) -> SchemaRef {
        self.state.schema.clone()
    }

    pub(crate) fn object_store(&self) -> ObjectStoreRef {
        self.log_store.object_store(None)
    }

    /// The newest version recorded for `app_id` by an application transaction (a cursor),
    /// and whether it was new to this head (worth saving in the index).
    pub(crate) async fn app_transaction_version(
        &self,
        table: &str,
        app_id: &str,
    ) -> Result<(Option<i64>, bool)> {
        let expiring = self.state.metadata.configuration().contains_key(TXN_RETENTION);
        if !expiring {
            if let Some(known) = self.state.txns.get(app_id) {
                return Ok((*known, false));
            }
            let learned = self.learned.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(known) = learned.get(app_id) {
                return Ok((*known, false));
            }
        }
        // Not seen yet: the kernel answers from the log (the checkpoint's and newer commits'
        // `txn` actions), once.
        let engine = self.log_store.engine(None);
        let root = table_root(&self.log_store);
        let version = self.state.version;
        let app = app_id.to_owned();
        let found = tokio::task::spawn_blocking(move || {
            let snapshot = delta_kernel::snapshot::Snapshot::builder_for(root)
                .at_version(version)
                .build(engine.as_ref())?;
            snapshot.get_app_id_version(&app, engine.as_ref())
        })
        .await
        .map_err(|join| Error::delta(table, DeltaTableError::Generic(join.to_string())))?
        .map_err(|source| Error::delta(table, DeltaTableError::from(source)))?;
        if expiring {
            return Ok((found, false));
        }
        self.learned
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(app_id.to_owned(), found);
        Ok((found, true))
    }

    /// The live files that may hold rows of `dates`: (path, file). In a table partitioned by
    /// `date`, the days' files; otherwise the files whose `date` statistics cover a day.
    /// Every live file: its path (relative to the table) and what the log says of it.
    pub(crate) fn live_files(&self) -> Vec<(String, LiveFile)> {
        self.state.files.iter().collect()
    }

    pub(crate) fn files_of_days(&self, dates: &[NaiveDate]) -> Vec<(String, LiveFile)> {
        let wanted: std::collections::HashSet<String> =
            dates.iter().map(|d| d.format("%Y-%m-%d").to_string()).collect();
        self.state.files.of_days(&wanted)
    }

    /// Whether [`Head::append`] can write the next commit: a plain append lands in the log as
    /// the next version, written by put-if-absent, and is not due a checkpoint (those go
    /// through Delta's commit builder, which writes them). A table another writer moved to a
    /// writer protocol above 2 (table features) also goes there, to have its features checked.
    pub(crate) fn can_append(&self) -> bool {
        let next = self.state.version + 1;
        let interval = self
            .state
            .metadata
            .configuration()
            .get("delta.checkpointInterval")
            .and_then(|n| n.parse::<u64>().ok())
            .filter(|n| *n > 0)
            .unwrap_or(DEFAULT_CHECKPOINT_INTERVAL);
        // Delta's commit builder checkpoints a commit whose version + 1 is a multiple.
        self.log_store.name() == "DefaultLogStore"
            && self.state.protocol.min_writer_version() <= 2
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
        let version = self.state.version + 1;
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
