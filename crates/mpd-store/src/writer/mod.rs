//! Streaming writes into a table, made visible by one Delta commit.
//!
//! Batches are encoded to Parquet by part writers (Hive-style partition folders, file
//! statistics, a new file at the target size): on this machine's disk straight into the files
//! (`local_files`), on an object store through deltalake's data-file writer and its uploads.
//! Each open partition holds a row group in memory, so the writer also caps how many
//! partitions are open at once: past the cap it closes its files and starts fresh ones.

mod file_stats;
mod local_files;
mod part;
mod shards;
mod sorted;

use std::collections::HashMap;

use arrow_array::RecordBatch;
use arrow_schema::{DataType, SchemaRef};
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties};
use deltalake::kernel::{Action, Add, StructType, Transaction};
use deltalake::logstore::object_store::ObjectStoreExt;
use deltalake::logstore::object_store::path::Path as ObjectPath;
use deltalake::operations::create::CreateBuilder;
use deltalake::parquet::basic::{Compression, Encoding, ZstdLevel};
use deltalake::parquet::file::properties::{EnabledStatistics, WriterProperties};
use deltalake::parquet::schema::types::ColumnPath;
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::{DeltaTable, DeltaTableError, TableProperty};
use serde_json::{Map, Value};

use crate::head::{AppendCommit, Head};
use crate::history::COMMIT_METADATA_KEY;
use crate::{Error, Result, schema};

/// Commits between two checkpoints of tables the store creates.
const CHECKPOINT_INTERVAL: &str = "10";
/// Files are closed once they reach this size (compaction aims at it too).
pub(crate) const TARGET_FILE_BYTES: u64 = 128 * 1024 * 1024;
/// Row groups are flushed at this many rows or compressed bytes, whichever comes first. Each
/// open file holds two or three row groups' bytes until they reach the disk, so the byte bound
/// sets most of the writer's memory (16 MiB: 900 MB peak importing 10M day-ordered events;
/// 4 MiB: 760 MB, docs/PERFORMANCE.md).
const ROW_GROUP_ROWS: usize = 128 * 1024;
const ROW_GROUP_BYTES: usize = 4 * 1024 * 1024;
/// Rows of one data page at most. A write that mixes days sorts each day in runs of about
/// 12,000 rows, and a page spanning two runs holds names from both ends of the alphabet, so the
/// page index cannot skip it: with pages of 4096 rows, reading one event of a tenth of the rows
/// of the bench's import decoded 72% of the rows' names, with 1024 rows 31%, and its funnel
/// took 8% less time; a scan of a whole column (count by event) about 1 ms more
/// (docs/PERFORMANCE.md, "SQL"). The import's time did not change.
const PAGE_ROWS: usize = 1024;
/// Open partitions (each buffering a row group) before the writer closes its files, unless
/// [`TableWriter::with_open_partitions`] says otherwise.
const MAX_OPEN_PARTITIONS: usize = 2;

/// What a writer does to an existing table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// Make a new table; [`Error::TableExists`] if it is already there.
    Create,
    /// Add rows; creates the table if absent.
    Append,
    /// Replace every row (and the schema) in one commit; creates the table if absent.
    Replace,
    /// Replace the rows of each partition the write adds rows to, in one commit; the other
    /// partitions stay (Delta's dynamic partition overwrite). The table keeps its columns.
    ReplacePartitions,
}

/// Options of [`crate::Store::writer_with`]; the default is what [`crate::Store::writer`] uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriterOptions {
    /// Columns whose min/max values Delta records in the log for every data file
    /// (`delta.dataSkippingStatsColumns`). The log outlives deletes and vacuums, so columns
    /// holding personal data (ids, free-form JSON) should be left out. An empty list records
    /// no column values at all (row counts still are). The choice is stored in the table when
    /// the writer creates it, and later writers inherit it. None: the table's setting, or
    /// Delta's default (the first 32 columns) for a new table.
    pub stats_columns: Option<Vec<String>>,
    /// Columns rows are sorted by within each partition, in runs of up to 32 Ki rows, so page
    /// statistics let readers skip what a filter on them excludes. Empty: rows are written in
    /// the order they come.
    pub sort_by: Vec<String>,
}

/// Which column statistics files get: the two Delta table properties that decide it, as
/// stored in the table's configuration (empty: Delta's defaults).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct StatsProperties(HashMap<String, Option<String>>);

impl StatsProperties {
    const KEYS: [TableProperty; 2] =
        [TableProperty::DataSkippingStatsColumns, TableProperty::DataSkippingNumIndexedCols];

    /// The properties that give files statistics on exactly `columns`.
    pub(crate) fn for_columns(columns: &[String]) -> Self {
        let (key, value) = if columns.is_empty() {
            // Delta splits the list on commas, so an empty one would name a column "": ask for
            // zero indexed columns instead.
            (TableProperty::DataSkippingNumIndexedCols, "0".to_owned())
        } else {
            (TableProperty::DataSkippingStatsColumns, columns.join(","))
        };
        Self(HashMap::from([(key.as_ref().to_owned(), Some(value))]))
    }

    /// The properties a table was created with.
    pub(crate) fn of_table(configuration: &HashMap<String, String>) -> Self {
        Self(
            Self::KEYS
                .iter()
                .filter_map(|key| {
                    let value = configuration.get(key.as_ref())?;
                    Some((key.as_ref().to_owned(), Some(value.clone())))
                })
                .collect(),
        )
    }

    fn entries(&self) -> impl Iterator<Item = (String, Option<String>)> + '_ {
        self.0.iter().map(|(key, value)| (key.clone(), value.clone()))
    }
}

/// Columns whose values are (nearly) all different, or as many as the users: a dictionary
/// would cost more time than it saves bytes (measured in docs/PERFORMANCE.md).
const UNIQUE_COLUMNS: [&str; 7] = [
    "insert_id",
    "properties",
    "time",
    "mp_processing_time",
    "distinct_id",
    "device_id",
    "user_id",
];

/// Columns without Parquet statistics (with the typed text columns, see
/// [`parquet_properties`]).
const NO_STATISTICS_COLUMNS: [&str; 5] =
    ["properties", "insert_id", "distinct_id", "device_id", "user_id"];

/// Columns every query reads, compressed for reading speed rather than size (the rest is
/// zstd): a profile of a funnel's scans spent 15% decompressing zstd pages and 7% making the
/// zstd contexts the Parquet reader builds for every compressed column chunk. The times are
/// stored as deltas, small within a run sorted by name and time (3.7 MB each on 1M events,
/// against 5.0 MB with zstd); names and sync ids are dictionary indices already; `distinct_id`
/// is snappy (5.6 MB against 3.2). The funnel's median went from 93 to 74 ms and the files
/// from 92.0 to 91.3 MB (docs/PERFORMANCE.md). Snappy rather than LZ4_RAW, which was as fast:
/// older Spark and Trino readers do not know LZ4_RAW.
const COLUMN_COMPRESSION: [(&str, Compression); 5] = [
    ("event_name", Compression::UNCOMPRESSED),
    ("time", Compression::UNCOMPRESSED),
    ("mp_processing_time", Compression::UNCOMPRESSED),
    ("_sync_id", Compression::UNCOMPRESSED),
    ("distinct_id", Compression::SNAPPY),
];

/// Parquet settings of every file the store writes (writer, delete rewrites, compaction) of a
/// table of `schema`. Settings go by column name, and a store holds tables of other shapes
/// too, so an encoding is only chosen for a column of a type that has it.
pub(crate) fn parquet_properties(schema: &arrow_schema::Schema) -> WriterProperties {
    let mut builder = WriterProperties::builder()
        // zstd at level 1 encodes as fast as snappy here and makes 40% smaller files
        // (docs/PERFORMANCE.md).
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_max_row_group_bytes(Some(ROW_GROUP_BYTES))
        // Small pages give the page index (written by default) narrow ranges of each sort
        // column to skip by.
        .set_data_page_row_count_limit(PAGE_ROWS)
        // Row groups' statistics whole: a maximum cut to 64 bytes (the Parquet crate's
        // default) is rounded up, so a long event name running on from one row group into
        // the next would make a sorted file look unsorted to `tables compact`, which would
        // then rewrite its day every time. Whole JSON documents and event ids have no
        // statistics (NO_STATISTICS_COLUMNS, typed text below); what keeps them holds names,
        // times, numbers and short texts such as a rejection's reason.
        .set_statistics_truncate_length(None)
        // The same for the page index, which `tables compact` reads the same way.
        .set_column_index_truncate_length(None);
    for column in UNIQUE_COLUMNS {
        builder = builder.set_column_dictionary_enabled(ColumnPath::from(column), false);
    }
    for (column, compression) in COLUMN_COMPRESSION {
        builder = builder.set_column_compression(ColumnPath::from(column), compression);
    }
    for column in ["time", "mp_processing_time"] {
        let integers = schema.field_with_name(column).is_ok_and(|f| {
            f.data_type().is_integer() || matches!(f.data_type(), DataType::Timestamp(..))
        });
        if integers {
            builder = builder
                .set_column_encoding(ColumnPath::from(column), Encoding::DELTA_BINARY_PACKED);
        }
    }
    let typed_text: Vec<&str> = schema
        .fields()
        .iter()
        .filter(|f| crate::query::is_typed_text(f))
        .map(|f| f.name().as_str())
        .collect();
    // Typed text properties are dictionary indices of a few values: zstd made their pages no
    // smaller (54 KB either way for `prop_city` in one day's file of 1M events) and cost a
    // compression per page on write and a decompression context per column chunk on read.
    for column in &typed_text {
        builder =
            builder.set_column_compression(ColumnPath::from(*column), Compression::UNCOMPRESSED);
    }
    // Min/max of whole JSON documents, of ids and of typed text properties prune nothing (no
    // file or page is sorted by them: rows are sorted by event and time) and cost a string
    // comparison per value.
    for column in NO_STATISTICS_COLUMNS.into_iter().chain(typed_text) {
        builder = builder
            .set_column_statistics_enabled(ColumnPath::from(column), EnabledStatistics::None);
    }
    builder.build()
}

/// What a commit did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitSummary {
    /// The table version the commit produced.
    pub version: i64,
    /// Data files the commit added.
    pub files_added: usize,
    /// Data files the commit removed (Replace).
    pub files_removed: usize,
    /// Rows in the added files.
    pub rows_added: u64,
    /// Partitions (days) whose rows this write sorted in more than one run, so that their
    /// files are sorted in stretches, not as a whole: a write holds a bounded amount of rows,
    /// shared by every day it touches. `tables compact` sorts such days whole, which lets
    /// readers skip more.
    pub partitions_in_several_runs: usize,
}

/// Streams batches into one table; nothing is visible to readers until [`TableWriter::commit`].
///
/// Dropping a writer without [`TableWriter::commit`] or [`TableWriter::abort`] leaves the
/// table untouched but may leave unreferenced data files behind (Delta's vacuum removes them).
pub struct TableWriter {
    name: String,
    mode: WriteMode,
    /// An unloaded handle (its log and object stores).
    table: DeltaTable,
    /// The version the writer opened on, when the table existed.
    head: Option<Head>,
    existing: bool,
    delta_schema: StructType,
    schema: SchemaRef,
    partition_by: Vec<String>,
    stats: StatsProperties,
    sort_by: Vec<usize>,
    /// The table version the rows were deduplicated against, when the caller read it before
    /// this writer opened (a run committing several times); `Some(None)`: the table did not
    /// exist then.
    expected_version: Option<Option<i64>>,
    properties: WriterProperties,
    /// The part writers, started by the first batch.
    shards: Option<shards::Shards>,
    n_shards: usize,
    rows: u64,
    /// When the writer opened: files modified since then and never committed are its own.
    opened_at: chrono::DateTime<chrono::Utc>,
    max_open_partitions: usize,
    /// Rows come sorted, one partition after another ([`TableWriter::presorted`]).
    presorted: bool,
    /// Rows come one partition after another ([`TableWriter::in_partition_order`]).
    in_partition_order: bool,
    /// The write only rearranges rows already stored ([`TableWriter::rearranging`]).
    rearranging: bool,
}

impl std::fmt::Debug for TableWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableWriter")
            .field("table", &self.name)
            .field("mode", &self.mode)
            .field("existing", &self.existing)
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

/// Everything [`crate::Store::writer`] resolved before the first batch.
pub(crate) struct WriterParts {
    pub(crate) name: String,
    pub(crate) mode: WriteMode,
    pub(crate) table: DeltaTable,
    pub(crate) head: Option<Head>,
    pub(crate) delta_schema: StructType,
    pub(crate) schema: SchemaRef,
    pub(crate) partition_by: Vec<String>,
    pub(crate) stats: StatsProperties,
    pub(crate) sort_by: Vec<usize>,
}

impl TableWriter {
    pub(crate) fn new(parts: WriterParts) -> Result<Self> {
        let WriterParts {
            name,
            mode,
            table,
            head,
            delta_schema,
            schema,
            partition_by,
            stats,
            sort_by,
        } = parts;
        let properties = parquet_properties(&schema);
        let writer = Self {
            name,
            mode,
            table,
            existing: head.is_some(),
            head,
            delta_schema,
            schema,
            partition_by,
            stats,
            sort_by,
            properties,
            shards: None,
            n_shards: default_shards(),
            rows: 0,
            opened_at: chrono::Utc::now(),
            max_open_partitions: MAX_OPEN_PARTITIONS,
            expected_version: None,
            presorted: false,
            in_partition_order: false,
            rearranging: false,
        };
        // Checks the partition columns now rather than at the first batch.
        part::PartWriter::new(writer.part_config())?;
        Ok(writer)
    }

    /// Encodes with `n` part writers at once (default: one per core, at most four).
    #[must_use]
    pub fn with_shards(mut self, n: usize) -> Self {
        self.n_shards = n.max(1);
        self
    }

    fn part_config(&self) -> part::PartConfig {
        part::PartConfig {
            table: self.name.clone(),
            store: self.table.object_store(),
            schema: self.schema.clone(),
            partition_by: self.partition_by.clone(),
            properties: self.properties.clone(),
            stats: self.stats.0.clone(),
            max_open_partitions: self.max_open_partitions,
            sort_by: self.sort_by.clone(),
            local: self.local_table(),
        }
    }

    /// The table as [`local_files`] writes it, when it is on this machine's disk and of a
    /// shape whose file statistics that module gives as deltalake does.
    fn local_table(&self) -> Option<local_files::LocalTable> {
        let url = self.table.table_url();
        if url.scheme() != "file"
            || !file_stats::handles(&self.schema)
            || !local_files::handles_partitions(&self.schema, &self.partition_by)
        {
            return None;
        }
        Some(local_files::LocalTable {
            root: url.to_file_path().ok()?,
            name: self.name.clone(),
            schema: self.schema.clone(),
            partition_by: self.partition_by.clone(),
            properties: self.properties.clone(),
            indexed: file_stats::Indexed::of_table(&self.stats.0)?,
        })
    }

    /// Keeps up to `n` partitions open at once (each holds a row group in memory): for input
    /// not ordered by partition, such as an export dump whose events spread over many days.
    #[must_use]
    pub fn with_open_partitions(mut self, n: usize) -> Self {
        self.max_open_partitions = n.max(1);
        self
    }

    /// Takes the rows as already sorted by the sort columns, each partition's rows together
    /// (a sorted rewrite of whole days): each partition's rows go as they come to one part
    /// writer, so its file is sorted as a whole, not in runs, while the part writers encode
    /// different partitions side by side.
    #[must_use]
    pub fn presorted(mut self) -> Self {
        self.presorted = true;
        self
    }

    /// Takes the rows as coming one partition after another, the end of one possibly
    /// overlapping the start of the next (a fetch's days): a partition that got no rows for a
    /// run's worth of input no longer makes the input look mixed, so the next one's sorted
    /// runs go to the part writers in turn. Without it the end of each day, left waiting,
    /// gives every later day to one part writer while the other waits. Not for a write whose
    /// memory matters more than its speed: two part writers hold twice the runs.
    #[must_use]
    pub fn in_partition_order(mut self) -> Self {
        self.in_partition_order = true;
        self
    }

    /// Marks the write as one that only rearranges rows the table holds (a sorted rewrite of
    /// some days replacing their files): its commit says `dataChange: false` on the files it
    /// adds and removes, as Delta's OPTIMIZE does, so streaming readers of the table do not
    /// take the rewritten rows for new ones or stop at the removals; the commit's operation is
    /// OPTIMIZE.
    #[must_use]
    pub fn rearranging(mut self) -> Self {
        self.rearranging = true;
        self
    }

    /// Commits only onto `version` of the table (`None`: onto no table, it did not exist): the
    /// state the caller deduplicated against before opening this writer. Another writer's
    /// commit since then fails the commit with [`Error::ConcurrentCommit`] instead of adding
    /// rows that may be there already.
    ///
    /// Every commit also fails that way when the table moved on after the writer opened:
    /// commits land right after the version their writer read, never rebased (there is no
    /// lock on an object store, and two runs must not both add the same rows).
    #[must_use]
    pub fn expect_version(mut self, version: Option<i64>) -> Self {
        self.expected_version = Some(version);
        self
    }

    /// The Arrow schema rows are stored with (Delta's types: microsecond UTC timestamps, Utf8).
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Streams a batch into Parquet files of the table (Hive-style `date=YYYY-MM-DD/` folders
    /// for partition columns), encoded by part writers on their own tasks, batches handed out
    /// in turn. Memory stays bounded: files close at ~128 MiB, row groups at 128 Ki rows or
    /// 16 MiB, and each part writer keeps at most 2 partitions open (fetches write day after
    /// day, so an older day is finished when a new one starts) unless told otherwise.
    pub async fn write(&mut self, batch: RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let batch = schema::conform(&self.name, batch, &self.schema)?;
        let rows = batch.num_rows() as u64;
        self.shards()?.write(batch).await?;
        self.rows += rows;
        Ok(())
    }

    /// The part writers, started by the first rows.
    fn shards(&mut self) -> Result<&mut shards::Shards> {
        let shards = match self.shards.take() {
            Some(shards) => shards,
            None => shards::Shards::start(
                &self.part_config(),
                self.n_shards,
                self.presorted,
                self.in_partition_order,
            )?,
        };
        Ok(self.shards.insert(shards))
    }

    /// Writes the rows `rows` (row numbers into `batch`, ascending, each once) of `batch`. A
    /// sorted table whose batch is all of one partition keeps the batch whole until its run is
    /// sorted, and the sort leaves the other rows out, so the rows are copied once, not twice.
    pub async fn write_rows(&mut self, batch: RecordBatch, rows: Vec<u32>) -> Result<()> {
        if rows.len() == batch.num_rows() {
            return self.write(batch).await;
        }
        if rows.is_empty() {
            return Ok(());
        }
        if let Some(beyond) = rows.iter().find(|row| **row as usize >= batch.num_rows()) {
            let message = format!("row {beyond} asked of a batch of {} rows", batch.num_rows());
            return Err(Error::delta(&self.name, deltalake::DeltaTableError::Generic(message)));
        }
        let batch = schema::conform(&self.name, batch, &self.schema)?;
        let written = rows.len() as u64;
        self.shards()?.write_rows(batch, rows).await?;
        self.rows += written;
        Ok(())
    }

    /// Closes the part writers; every file they wrote, and how many partitions went out in
    /// more than one sorted run.
    async fn close_shards(&mut self) -> Result<(Vec<Add>, usize)> {
        match self.shards.take() {
            Some(shards) => shards.finish().await,
            None => Ok((Vec::new(), 0)),
        }
    }

    /// One Delta commit with every file written (plus, for Replace, the removal of every
    /// previous file), with `metadata` stored in the commit info under the key `"mpd"`.
    pub async fn commit(self, metadata: Map<String, Value>) -> Result<CommitSummary> {
        self.finish(metadata, None).await
    }

    /// [`TableWriter::commit`] that also records the application transaction
    /// (`app_id`, `txn_version`) in the same commit, so data and cursor land together.
    pub async fn commit_with_txn(
        self,
        metadata: Map<String, Value>,
        app_id: &str,
        txn_version: i64,
    ) -> Result<CommitSummary> {
        self.finish(metadata, Some(Transaction::new(app_id, txn_version))).await
    }

    /// Deletes the files written so far, also those of a write that failed half-way (a full
    /// disk); the table is left as it was.
    pub async fn abort(mut self) -> Result<()> {
        // Only `finish` and `abort` take the part writers, and both consume the writer: none
        // here means none ever ran, so no file of this writer exists and the table's folders
        // need no sweep (a re-read that finds every row stored ends here; the sweep's listing
        // grows with the table's history).
        let Some(shards) = self.shards.take() else {
            return Ok(());
        };
        let adds = shards.stop().await;
        self.delete_files(&adds).await;
        self.discard_written().await;
        Ok(())
    }

    /// Deletes every file this writer made, closed or half-written.
    async fn discard_written(&mut self) {
        // The sweep takes every fresh unreferenced file for this writer's: true under a local
        // store's write lock, not on an object store, where another writer's files-to-be may
        // be there (and an interrupted upload leaves no object behind anyway).
        if self.table.table_url().scheme() != "file" {
            return;
        }
        crate::strays::delete_strays(&self.name, &self.table, self.existing, self.opened_at).await;
    }

    async fn finish(
        mut self,
        metadata: Map<String, Value>,
        txn: Option<Transaction>,
    ) -> Result<CommitSummary> {
        let (adds, partitions_in_several_runs) = match self.close_shards().await {
            Ok(written) => written,
            Err(error) => {
                self.discard_written().await;
                return Err(error);
            }
        };
        match self.commit_adds(&adds, metadata, txn).await {
            Ok((version, files_removed)) => {
                let summary = CommitSummary {
                    version,
                    files_added: adds.len(),
                    files_removed,
                    rows_added: self.rows,
                    partitions_in_several_runs,
                };
                tracing::info!(table = %self.name, version, files_added = summary.files_added,
                    files_removed, rows_added = self.rows, "committed");
                Ok(summary)
            }
            Err(error) => {
                // The files are unreferenced now; leaving them would only cost space.
                self.delete_files(&adds).await;
                self.discard_written().await;
                Err(error)
            }
        }
    }

    /// Commits `adds`; returns the new version and how many files were removed.
    async fn commit_adds(
        &self,
        adds: &[Add],
        metadata: Map<String, Value>,
        txn: Option<Transaction>,
    ) -> Result<(i64, usize)> {
        let Some(head) = &self.head else {
            return self.commit_with_delta(adds, None, commit_properties(metadata, txn)).await;
        };
        if let Some(expected) = self.expected_version
            && Some(head.version()) != expected
        {
            return Err(Error::ConcurrentCommit { table: self.name.clone(), read: expected });
        }
        if self.mode == WriteMode::Append && head.can_append() {
            // The common case, an append between checkpoints: written straight to the log
            // without loading the table's file list.
            let commit = AppendCommit {
                adds: adds.to_vec(),
                partition_by: self.partition_by.clone(),
                app_metadata: HashMap::from([(
                    COMMIT_METADATA_KEY.to_owned(),
                    Value::Object(metadata),
                )]),
                txn,
            };
            return Ok((head.append(&self.name, commit).await?, 0));
        }
        self.commit_with_delta(adds, Some(head), commit_properties(metadata, txn)).await
    }

    /// Commits through Delta's commit builder, onto the full state of the version `head`
    /// read (a new table, a replacement, a checkpoint due).
    async fn commit_with_delta(
        &self,
        adds: &[Add],
        head: Option<&Head>,
        properties: CommitProperties,
    ) -> Result<(i64, usize)> {
        let data_change = !self.rearranging;
        let add_actions = adds.iter().cloned().map(|add| Action::Add(Add { data_change, ..add }));
        let delta = |source| Error::delta(&self.name, source);
        let Some(head) = head else {
            let created = self.create(SaveMode::ErrorIfExists, add_actions, properties).await;
            return match created {
                Ok(table) => Ok((table_version(&table), 0)),
                // Absent when this writer opened: another writer created it since.
                Err(Error::TableExists { table }) if self.mode != WriteMode::Create => {
                    Err(Error::ConcurrentCommit { table, read: None })
                }
                Err(error) => Err(error),
            };
        };
        let mut loaded = self.table.clone();
        let read = u64::try_from(head.version()).unwrap_or_default();
        loaded.load_version(read).await.map_err(delta)?;
        let state = loaded.snapshot().map_err(delta)?;
        let same_layout = schema::same_columns(&state.snapshot().arrow_schema(), &self.schema)
            && state.metadata().partition_columns() == self.partition_by;
        match self.mode {
            WriteMode::Create => Err(Error::TableExists { table: self.name.clone() }),
            WriteMode::Replace if !same_layout => {
                // A new schema needs new table metadata: Delta's CREATE OR REPLACE does the
                // removals and the new metadata in one commit.
                let n_removed = state.log_data().num_files();
                let table = self.create(SaveMode::Overwrite, add_actions, properties).await?;
                Ok((table_version(&table), n_removed))
            }
            WriteMode::ReplacePartitions if !same_layout => Err(Error::SchemaMismatch {
                table: self.name.clone(),
                expected: schema::describe(&state.snapshot().arrow_schema()),
                found: schema::describe(&self.schema),
            }),
            WriteMode::Append | WriteMode::Replace | WriteMode::ReplacePartitions => {
                let mut actions: Vec<Action> = Vec::with_capacity(adds.len());
                let mut n_removed = 0;
                let replaced = match self.mode {
                    WriteMode::Replace => Some(None),
                    WriteMode::ReplacePartitions => Some(Some(partitions_of(adds))),
                    _ => None,
                };
                let save_mode = if let Some(only) = replaced {
                    for file in state.log_data().iter() {
                        let values = || sorted_values(file.partition_values_map());
                        if only.as_ref().is_none_or(|only| only.contains(&values())) {
                            actions.push(Action::Remove(file.remove_action(data_change)));
                            n_removed += 1;
                        }
                    }
                    SaveMode::Overwrite
                } else {
                    SaveMode::Append
                };
                actions.extend(add_actions);
                let operation = if self.rearranging {
                    // What it is to other Delta tools: their histories call it OPTIMIZE.
                    DeltaOperation::Optimize {
                        predicate: None,
                        target_size: i64::try_from(TARGET_FILE_BYTES).unwrap_or(i64::MAX),
                    }
                } else {
                    DeltaOperation::Write {
                        mode: save_mode,
                        partition_by: (!self.partition_by.is_empty())
                            .then(|| self.partition_by.clone()),
                        predicate: None,
                    }
                };
                let read = i64::try_from(state.version()).unwrap_or(i64::MAX);
                let finalized = CommitBuilder::from(properties)
                    .with_actions(actions)
                    .build(Some(state), self.table.log_store(), operation)
                    .await
                    .map_err(|source| Error::from_commit(&self.name, Some(read), source))?;
                Ok((i64::try_from(finalized.version()).unwrap_or(i64::MAX), n_removed))
            }
        }
    }

    async fn create(
        &self,
        save_mode: SaveMode,
        actions: impl IntoIterator<Item = Action>,
        properties: CommitProperties,
    ) -> Result<DeltaTable> {
        CreateBuilder::new()
            .with_log_store(self.table.log_store())
            .with_table_name(self.name.clone())
            .with_columns(self.delta_schema.fields().cloned())
            .with_partition_columns(self.partition_by.clone())
            .with_configuration(self.stats.entries())
            // Every load replays the commits since the last checkpoint; hourly syncs commit
            // often, so checkpoints come every 10 commits instead of Delta's 100.
            .with_configuration_property(
                TableProperty::CheckpointInterval,
                Some(CHECKPOINT_INTERVAL),
            )
            .with_save_mode(save_mode)
            .with_actions(actions)
            .with_commit_properties(properties)
            .await
            .map_err(|source| match source {
                DeltaTableError::GenericError { ref source }
                    if source.to_string().contains("already exists") =>
                {
                    Error::TableExists { table: self.name.clone() }
                }
                // Another writer created (or replaced) the table first.
                source => Error::from_commit(&self.name, None, source),
            })
    }

    async fn delete_files(&self, adds: &[Add]) {
        let store = self.table.object_store();
        for add in adds {
            let path = ObjectPath::from_url_path(&add.path)
                .unwrap_or_else(|_| ObjectPath::from(add.path.as_str()));
            if let Err(error) = store.delete(&path).await {
                tracing::warn!(table = %self.name, path = %add.path, %error, "cannot delete unused data file");
            }
        }
    }
}

fn table_version(table: &DeltaTable) -> i64 {
    table.version().and_then(|v| i64::try_from(v).ok()).unwrap_or_default()
}

/// The `"mpd"` commit metadata and the cursor for Delta's commit builder, which commits onto
/// the version read or not at all (no retry: the rows were deduplicated against that one).
fn commit_properties(metadata: Map<String, Value>, txn: Option<Transaction>) -> CommitProperties {
    let properties = CommitProperties::default()
        .with_metadata([(COMMIT_METADATA_KEY.to_owned(), Value::Object(metadata))])
        .with_max_retries(0);
    match txn {
        Some(txn) => properties.with_application_transaction(txn),
        None => properties,
    }
}

/// Part writers of a table writer: one per core, at most four.
fn default_shards() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get).min(4)
}

/// The partition values of `adds`, each as a sorted list of column and value.
fn partitions_of(adds: &[Add]) -> std::collections::HashSet<Vec<(String, Option<String>)>> {
    adds.iter()
        .map(|add| sorted_values(add.partition_values.iter().map(|(k, v)| (k.clone(), v.clone()))))
        .collect()
}

fn sorted_values(
    values: impl IntoIterator<Item = (String, Option<String>)>,
) -> Vec<(String, Option<String>)> {
    let mut values: Vec<_> = values.into_iter().collect();
    values.sort();
    values
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use arrow_schema::{Field, Schema};

    use super::*;

    #[test]
    fn typed_text_columns_and_ids_get_no_statistics_and_typed_text_no_compression() {
        let typed = |name: &str, data_type: DataType, kind: &str| {
            let metadata = HashMap::from([
                (crate::query::PROPERTY_METADATA_KEY.to_owned(), "k".to_owned()),
                (crate::query::KIND_METADATA_KEY.to_owned(), kind.to_owned()),
            ]);
            Field::new(name, data_type, true).with_metadata(metadata)
        };
        let schema = Schema::new(vec![
            Field::new("event_name", DataType::Utf8, false),
            Field::new("time", DataType::Int64, false),
            Field::new("distinct_id", DataType::Utf8, false),
            Field::new("properties", DataType::Utf8, false),
            typed("prop_browser", DataType::Utf8, "text"),
            typed("prop_amount", DataType::Float64, "float"),
            // A text column named like a typed one but without its metadata is not one.
            Field::new("prop_other", DataType::Utf8, true),
        ]);
        let properties = parquet_properties(&schema);
        let statistics = |column: &str| properties.statistics_enabled(&ColumnPath::from(column));
        for column in ["distinct_id", "properties", "prop_browser"] {
            assert_eq!(statistics(column), EnabledStatistics::None, "{column}");
        }
        for column in ["event_name", "time", "prop_amount", "prop_other"] {
            assert_ne!(statistics(column), EnabledStatistics::None, "{column}");
        }
        let compression = |column: &str| properties.compression(&ColumnPath::from(column));
        assert_eq!(compression("prop_browser"), Compression::UNCOMPRESSED);
        for column in ["prop_amount", "prop_other", "properties"] {
            assert!(matches!(compression(column), Compression::ZSTD(_)), "{column}");
        }
    }
}
