//! The store: a set of Delta tables under one root, and the operations on them.

use std::path::{Path, PathBuf};

use arrow_schema::SchemaRef;
use deltalake::DeltaTable;
use tokio::sync::Mutex;

use crate::backend::{Backend, Location, StoreOptions};
use crate::head::{self, Head};
use crate::history::{self, CommitRecord};
use crate::query::CachedSession;
use crate::writer::{StatsProperties, TableWriter, WriteMode, WriterOptions, WriterParts};
use crate::{Error, Result, schema};

/// Where a store keeps its tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreMode {
    /// A folder that outlives the process (created if needed).
    Persistent(PathBuf),
    /// A temporary folder, removed by [`Store::close`] or when the store drops.
    Ephemeral,
    /// No files at all: tables live in process memory.
    InMemory,
    /// An object store URL (`s3://bucket/prefix`); `file://` URLs are folders.
    Url(url::Url),
}

/// What the store knows about one table.
#[derive(Debug, Clone)]
pub struct TableInfo {
    /// The table's name (its folder).
    pub name: String,
    /// The current Delta version.
    pub version: i64,
    /// Live data files.
    pub n_files: usize,
    /// Rows, summed from file statistics; None when a file has none.
    pub n_rows: Option<u64>,
    /// Bytes of the live data files.
    pub size_bytes: u64,
    /// Columns the table is partitioned by.
    pub partition_columns: Vec<String>,
    /// The table's Arrow schema.
    pub schema: SchemaRef,
    /// The newest commit.
    pub last_commit: Option<CommitRecord>,
}

/// A set of Delta Lake tables under one root, with SQL over them.
pub struct Store {
    pub(crate) backend: Backend,
    pub(crate) session: Mutex<Option<CachedSession>>,
    /// Tables loaded before, brought up to date by reading only the commits since: a load
    /// then costs the same whatever the table's history (the first one replays the log).
    loaded: std::sync::Mutex<std::collections::HashMap<String, DeltaTable>>,
    /// Heads read before (`head.rs`): what a sync needs, without the file list.
    heads: std::sync::Mutex<std::collections::HashMap<String, Head>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("mode", &self.mode_label()).finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (and for a persistent store, creates the folder of) a store.
    pub async fn open(mode: StoreMode) -> Result<Store> {
        Self::open_with_options(mode, &StoreOptions::new()).await
    }

    /// [`Store::open`] with options of an object store (over its environment variables).
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedStore`] for an option the object store does not know.
    pub async fn open_with_options(mode: StoreMode, options: &StoreOptions) -> Result<Store> {
        let location = match mode {
            StoreMode::Persistent(path) => Location::Folder(path),
            StoreMode::Ephemeral => {
                let dir = tempfile::Builder::new()
                    .prefix("mpd-store-")
                    .tempdir()
                    .map_err(|source| Error::Io { path: std::env::temp_dir(), source })?;
                Location::Temp(dir)
            }
            StoreMode::InMemory => Location::Memory,
            StoreMode::Url(url) if url.scheme() == "file" => {
                let path = url.to_file_path().map_err(|()| Error::UnsupportedStore {
                    url: url.to_string(),
                    why: "not a local path".to_owned(),
                })?;
                Location::Folder(path)
            }
            StoreMode::Url(url) => Location::Object(url),
        };
        let backend = Backend::new(location, options)?;
        tracing::debug!(root = ?backend.root_path(), "store opened");
        Ok(Store {
            backend,
            session: Mutex::new(None),
            loaded: std::sync::Mutex::default(),
            heads: std::sync::Mutex::default(),
        })
    }

    /// The store's folder; None for an in-memory store.
    pub fn root(&self) -> Option<&Path> {
        self.backend.root_path()
    }

    /// A short description of where the store lives, for messages.
    pub fn mode_label(&self) -> String {
        match &self.backend.location {
            Location::Folder(path) => format!("persistent {}", path.display()),
            Location::Temp(_) => "ephemeral".to_owned(),
            Location::Memory => "in-memory".to_owned(),
            Location::Object(url) => format!("object store {url}"),
        }
    }

    /// Whether the store holds a Delta table of that name.
    pub async fn exists(&self, table: &str) -> Result<bool> {
        validate_name(table)?;
        self.backend.has_delta_log(table).await
    }

    /// Names of every Delta table in the store (a folder holding a `_delta_log`), sorted.
    pub async fn table_names(&self) -> Result<Vec<String>> {
        let mut names = Vec::new();
        for folder in self.backend.folders().await? {
            if validate_name(&folder).is_ok() && self.backend.has_delta_log(&folder).await? {
                names.push(folder);
            }
        }
        names.sort();
        Ok(names)
    }

    /// Every Delta table in the store, sorted by name.
    pub async fn tables(&self) -> Result<Vec<TableInfo>> {
        let mut infos = Vec::new();
        for name in self.table_names().await? {
            infos.push(self.table_info(&name).await?);
        }
        Ok(infos)
    }

    /// Version, size, schema and last commit of a table.
    pub async fn table_info(&self, table: &str) -> Result<TableInfo> {
        let delta = self.load(table).await?;
        let state = delta.snapshot().map_err(|source| Error::delta(table, source))?;
        let files = state.log_data();
        let mut size_bytes = 0u64;
        let mut n_rows = Some(0u64);
        for file in files.iter() {
            size_bytes += u64::try_from(file.size()).unwrap_or_default();
            n_rows = n_rows.zip(file.num_records()).map(|(sum, n)| sum + n as u64);
        }
        let last_commit = history::read(table, &delta, Some(1)).await?.into_iter().next();
        Ok(TableInfo {
            name: table.to_owned(),
            version: i64::try_from(state.version()).unwrap_or(i64::MAX),
            n_files: files.num_files(),
            n_rows,
            size_bytes,
            partition_columns: state.metadata().partition_columns().to_vec(),
            schema: state.snapshot().arrow_schema(),
            last_commit,
        })
    }

    /// Rows per value of the partition column `column` (e.g. events per `date`), summed from
    /// the Delta log's file statistics: no data file is read. Files without a row count are
    /// left out.
    pub async fn rows_per_partition(
        &self,
        table: &str,
        column: &str,
    ) -> Result<std::collections::BTreeMap<String, u64>> {
        let delta = self.load(table).await?;
        let state = delta.snapshot().map_err(|source| Error::delta(table, source))?;
        let mut rows = std::collections::BTreeMap::new();
        for file in state.log_data().iter() {
            let (Some(n), Some(Some(value))) =
                (file.num_records(), file.partition_values_map().get(column).cloned())
            else {
                continue;
            };
            *rows.entry(value).or_insert(0) += n as u64;
        }
        Ok(rows)
    }

    /// The columns `table` is partitioned by (none: one folder).
    pub async fn partition_columns(&self, table: &str) -> Result<Vec<String>> {
        Ok(self.head(table).await?.metadata().partition_columns().to_vec())
    }

    /// The Arrow schema `table` reads back as (field metadata included).
    pub async fn schema(&self, table: &str) -> Result<SchemaRef> {
        Ok(self.head(table).await?.arrow_schema())
    }

    /// A writer into `table`. `schema` is the rows' schema; Delta stores it with its own types
    /// (see [`TableWriter::schema`]). An existing table must have the same columns and
    /// partitioning unless `mode` is [`WriteMode::Replace`].
    pub async fn writer(
        &self,
        table: &str,
        schema: SchemaRef,
        partition_by: &[&str],
        mode: WriteMode,
    ) -> Result<TableWriter> {
        self.writer_with(table, schema, partition_by, mode, WriterOptions::default()).await
    }

    /// [`Store::writer`] with options: which columns get statistics in the Delta log.
    pub async fn writer_with(
        &self,
        table: &str,
        schema: SchemaRef,
        partition_by: &[&str],
        mode: WriteMode,
        options: WriterOptions,
    ) -> Result<TableWriter> {
        validate_name(table)?;
        let (delta_schema, arrow_schema) = schema::to_delta(table, &schema)?;
        let partition_by: Vec<String> = partition_by.iter().map(|c| (*c).to_owned()).collect();
        if let Some(columns) = &options.stats_columns
            && let Some(unknown) = columns.iter().find(|c| arrow_schema.index_of(c).is_err())
        {
            return Err(Error::SchemaMismatch {
                table: table.to_owned(),
                expected: schema::describe(&arrow_schema),
                found: format!("a statistics column `{unknown}`"),
            });
        }
        let sort_by = options
            .sort_by
            .iter()
            .map(|column| {
                arrow_schema.index_of(column).map_err(|_| Error::SchemaMismatch {
                    table: table.to_owned(),
                    expected: schema::describe(&arrow_schema),
                    found: format!("a sort column `{column}`"),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let existing = self.backend.has_delta_log(table).await?;
        let mut stats = options.stats_columns.as_deref().map(StatsProperties::for_columns);
        let head = if existing {
            if mode == WriteMode::Create {
                return Err(Error::TableExists { table: table.to_owned() });
            }
            let head = self.head(table).await?;
            if matches!(mode, WriteMode::Append | WriteMode::ReplacePartitions) {
                check_same_layout(table, &head, &arrow_schema, &partition_by)?;
            }
            if stats.is_none() {
                stats = Some(StatsProperties::of_table(head.metadata().configuration()));
            }
            Some(head)
        } else {
            None
        };
        TableWriter::new(WriterParts {
            name: table.to_owned(),
            mode,
            table: self.backend.table(table)?,
            head,
            delta_schema,
            schema: arrow_schema,
            partition_by,
            stats: stats.unwrap_or_default(),
            sort_by,
        })
    }

    /// Removes a table and all its files.
    pub async fn drop_table(&self, table: &str) -> Result<()> {
        self.ensure_exists(table).await?;
        self.backend.remove_table(table).await?;
        head::forget(&self.backend, table).await;
        crate::sorted_days::layouts::forget(&self.backend, table).await;
        self.forget(table);
        tracing::info!(table, "table dropped");
        Ok(())
    }

    /// Commits of a table, newest first: version, time, operation and the `"mpd"` metadata.
    pub async fn history(&self, table: &str, limit: Option<usize>) -> Result<Vec<CommitRecord>> {
        let delta = self.load(table).await?;
        history::read(table, &delta, limit).await
    }

    /// The application-transaction version recorded for `app_id` (a sync cursor), or None.
    pub async fn app_transaction_version(&self, table: &str, app_id: &str) -> Result<Option<i64>> {
        let head = self.head(table).await?;
        let (version, learned) = head.app_transaction_version(table, app_id).await?;
        if learned {
            // The next run finds the cursor in the saved head instead of asking the log.
            head::save(&self.backend, table, &head.state_with_learned()).await;
        }
        Ok(version)
    }

    /// Closes the store; an ephemeral store's folder is removed now, reporting failures.
    pub async fn close(self) -> Result<()> {
        drop(self.session.into_inner());
        self.backend.close()
    }

    pub(crate) async fn ensure_exists(&self, table: &str) -> Result<()> {
        validate_name(table)?;
        if self.backend.has_delta_log(table).await? {
            Ok(())
        } else {
            Err(Error::TableNotFound {
                table: table.to_owned(),
                available: self.table_names().await?,
            })
        }
    }

    /// The table at its newest version.
    pub(crate) async fn load(&self, table: &str) -> Result<DeltaTable> {
        self.ensure_exists(table).await?;
        let cached = self.cached_tables().get(table).cloned();
        let newest = match cached.as_ref().and_then(DeltaTable::version) {
            Some(version) => !self.backend.has_commit(table, version + 1).await?,
            None => false,
        };
        if newest && let Some(delta) = cached {
            // No next commit: the cached state is the newest (one stat, not a log listing).
            return Ok(delta);
        }
        let delta = match cached {
            Some(mut delta) => match delta.update_incremental(None).await {
                Ok(()) => delta,
                Err(error) => {
                    // Dropped and re-created by someone else, or a damaged cache: start over.
                    tracing::debug!(table, %error, "reloading the table from its log");
                    self.load_fresh(table).await?
                }
            },
            None => self.load_fresh(table).await?,
        };
        self.cached_tables().insert(table.to_owned(), delta.clone());
        Ok(delta)
    }

    /// The table's current version.
    pub async fn version(&self, table: &str) -> Result<i64> {
        Ok(self.head(table).await?.version())
    }

    /// The table's newest version without its file list (`head.rs`), for what a sync asks.
    pub(crate) async fn head(&self, table: &str) -> Result<Head> {
        self.ensure_exists(table).await?;
        let cached = self.cached_heads().get(table).cloned();
        let head = match cached {
            Some(head) => head.refresh(&self.backend, table).await?,
            None => Head::load(&self.backend, table).await?,
        };
        self.cached_heads().insert(table.to_owned(), head.clone());
        Ok(head)
    }

    async fn load_fresh(&self, table: &str) -> Result<DeltaTable> {
        let mut delta = self.backend.table(table)?;
        delta.load().await.map_err(|source| Error::delta(table, source))?;
        Ok(delta)
    }

    /// Forgets a loaded table (it was dropped or replaced wholesale).
    pub(crate) fn forget(&self, table: &str) {
        self.cached_tables().remove(table);
        self.cached_heads().remove(table);
    }

    fn cached_heads(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, Head>> {
        self.heads.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn cached_tables(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, DeltaTable>> {
        self.loaded.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn check_same_layout(
    table: &str,
    head: &Head,
    schema: &SchemaRef,
    partition_by: &[String],
) -> Result<()> {
    let existing = head.arrow_schema();
    if !schema::same_columns(&existing, schema) {
        return Err(Error::SchemaMismatch {
            table: table.to_owned(),
            expected: schema::describe(&existing),
            found: schema::describe(schema),
        });
    }
    let partitions = head.metadata().partition_columns();
    if partitions != partition_by {
        return Err(Error::SchemaMismatch {
            table: table.to_owned(),
            expected: format!("partitioned by {partitions:?}"),
            found: format!("partitioned by {partition_by:?}"),
        });
    }
    Ok(())
}

/// Table names are folder names and SQL identifiers: `[a-z0-9_]`, not starting with `_`.
pub(crate) fn validate_name(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && !name.starts_with('_')
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if valid { Ok(()) } else { Err(Error::InvalidTableName { name: name.to_owned() }) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_can_cross_tasks() {
        fn send_sync<T: Send + Sync>() {}
        fn send<T: Send>() {}
        send_sync::<Store>();
        send::<TableWriter>();
    }

    #[test]
    fn table_names_are_checked() {
        for good in ["events", "identity_mappings", "t2"] {
            assert!(validate_name(good).is_ok(), "{good}");
        }
        for bad in ["", "_quarantine", "Events", "a-b", "a/b", "..", "é"] {
            assert!(matches!(validate_name(bad), Err(Error::InvalidTableName { .. })), "{bad}");
        }
    }
}
