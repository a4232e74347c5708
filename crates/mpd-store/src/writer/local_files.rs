//! Data files of a table on this machine's disk, written straight into their files.
//!
//! deltalake's writer sends a file's bytes through an object-store upload: each finished row
//! group is copied into a buffer that grows by doubling, then held by the upload until 5 MiB
//! of parts fill, so every open file keeps about two row groups' worth of memory besides the
//! one it is filling (77 MB of a 1M-event import's 310 MB heap peak with seven open files,
//! docs/PERFORMANCE.md). On a local disk the Parquet writer writes to the file itself: a row
//! group goes to the page cache when it is done, and nothing waits.
//!
//! Files are named and laid out as deltalake lays them out (`date=2025-01-01/part-00001-<id>-
//! c000.zstd.parquet`), and their `add` actions carry the statistics deltalake's writer would
//! give them ([`super::file_stats`]). A file this writer leaves behind unfinished (a crash, a
//! full disk) is never committed, so readers do not see it; a failed write or commit removes
//! its files, and `tables vacuum` those a crash left.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{Array, Date32Array, RecordBatch};
use arrow_schema::{DataType, SchemaRef};
use deltalake::kernel::Add;
use deltalake::parquet::arrow::ArrowWriter;
use deltalake::parquet::errors::ParquetError;
use deltalake::parquet::file::properties::WriterProperties;

use super::TARGET_FILE_BYTES;
use super::file_stats::{self, Indexed};
use crate::schema::describe;
use crate::{Error, Result};

/// The partition of a batch of one partition: its folder and its values as the log keeps
/// them. Only date partitions are written here (mpd partitions its tables by `date`).
pub(super) struct Partition {
    /// `date=2025-01-01/`-style folder, empty for an unpartitioned table.
    folder: String,
    values: HashMap<String, Option<String>>,
}

impl Partition {
    /// The partition of `batch` (all its rows share it): the values of its first row.
    pub(super) fn of(table: &LocalTable, indices: &[usize], batch: &RecordBatch) -> Result<Self> {
        let mut folders = Vec::with_capacity(indices.len());
        let mut values = HashMap::with_capacity(indices.len());
        for (column, index) in table.partition_by.iter().zip(indices) {
            let day = batch
                .column(*index)
                .as_any()
                .downcast_ref::<Date32Array>()
                .filter(|days| days.is_valid(0))
                .and_then(|days| days.value_as_date(0))
                .ok_or_else(|| Error::SchemaMismatch {
                    table: table.name.clone(),
                    expected: format!("a date in partition column `{column}`"),
                    found: "a null".to_owned(),
                })?;
            let day = day.format("%Y-%m-%d").to_string();
            folders.push(format!("{column}={day}"));
            values.insert(column.clone(), Some(day));
        }
        Ok(Partition { folder: folders.join("/"), values })
    }
}

/// Whether [`LocalFiles`] writes tables partitioned by `partition_by` of `schema`: dates that
/// are never null (deltalake's writer, which the others go through, names a null partition
/// `__HIVE_DEFAULT_PARTITION__`).
pub(super) fn handles_partitions(schema: &arrow_schema::Schema, partition_by: &[String]) -> bool {
    partition_by.iter().all(|column| {
        schema
            .field_with_name(column)
            .is_ok_and(|f| f.data_type() == &DataType::Date32 && !f.is_nullable())
    })
}

/// What a [`LocalFiles`] needs to know of its table.
#[derive(Clone)]
pub(super) struct LocalTable {
    /// The table's folder.
    pub(super) root: PathBuf,
    pub(super) name: String,
    /// The table's schema; files hold every column but the partition columns (their values
    /// are in the folder names and the log).
    pub(super) schema: SchemaRef,
    pub(super) partition_by: Vec<String>,
    pub(super) properties: WriterProperties,
    pub(super) indexed: Indexed,
}

/// One open data file.
struct OpenFile {
    /// The file's path relative to the table folder, as the log names it.
    relative: String,
    path: PathBuf,
    values: HashMap<String, Option<String>>,
    writer: ArrowWriter<File>,
}

/// The open files of a part writer, one per partition, and the `add` actions of the closed
/// ones.
pub(super) struct LocalFiles {
    table: LocalTable,
    /// The columns a file holds (indices into the table's schema) and their schema.
    file_columns: Vec<usize>,
    file_schema: SchemaRef,
    /// Names this writer's files apart from every other writer's.
    writer_id: String,
    files_started: usize,
    open: HashMap<String, OpenFile>,
    closed: Vec<Add>,
}

impl LocalFiles {
    pub(super) fn new(table: LocalTable) -> Result<Self> {
        let file_columns: Vec<usize> = (0..table.schema.fields().len())
            .filter(|i| !table.partition_by.contains(table.schema.field(*i).name()))
            .collect();
        let file_schema =
            Arc::new(table.schema.project(&file_columns).map_err(|e| Error::SchemaMismatch {
                table: table.name.clone(),
                expected: "the table's columns".to_owned(),
                found: e.to_string(),
            })?);
        Ok(Self {
            table,
            file_columns,
            file_schema,
            writer_id: uuid::Uuid::new_v4().to_string(),
            files_started: 0,
            open: HashMap::new(),
            closed: Vec::new(),
        })
    }

    /// The partition of a batch of one partition.
    pub(super) fn partition(&self, indices: &[usize], batch: &RecordBatch) -> Result<Partition> {
        Partition::of(&self.table, indices, batch)
    }

    /// Appends the rows of one partition (`values`) to that partition's open file, starting
    /// one if needed; a file that reached the target size is closed.
    pub(super) fn write(&mut self, batch: &RecordBatch, partition: Partition) -> Result<()> {
        let Partition { folder, values } = partition;
        let file = match self.open.get_mut(&folder) {
            Some(file) => file,
            None => {
                let file = self.start_file(&folder, values)?;
                self.open.entry(folder.clone()).or_insert(file)
            }
        };
        let table = &self.table.name;
        let rows = batch.project(&self.file_columns).map_err(|e| Error::SchemaMismatch {
            table: table.clone(),
            expected: describe(&self.table.schema),
            found: e.to_string(),
        })?;
        file.writer.write(&rows).map_err(|e| parquet_error(table, &file.path, e))?;
        let size = file.writer.bytes_written() + file.writer.in_progress_size();
        if size as u64 >= TARGET_FILE_BYTES
            && let Some(file) = self.open.remove(&folder)
        {
            let add = finish(&self.table, file)?;
            self.closed.push(add);
        }
        Ok(())
    }

    fn start_file(
        &mut self,
        folder: &str,
        values: HashMap<String, Option<String>>,
    ) -> Result<OpenFile> {
        self.files_started += 1;
        let name = format!("part-{:05}-{}-c000.zstd.parquet", self.files_started, self.writer_id);
        let relative = if folder.is_empty() { name } else { format!("{folder}/{name}") };
        let path = self.table.root.join(&relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|source| Error::io(&self.table.name, parent, source))?;
        }
        let file =
            File::create(&path).map_err(|source| Error::io(&self.table.name, &path, source))?;
        let writer = ArrowWriter::try_new(
            file,
            self.file_schema.clone(),
            Some(self.table.properties.clone()),
        )
        .map_err(|e| parquet_error(&self.table.name, &path, e))?;
        Ok(OpenFile { relative, path, values, writer })
    }

    /// Closes every open file; the `add` actions of all files written so far, in path order.
    pub(super) fn close(&mut self) -> Result<Vec<Add>> {
        let mut open: Vec<OpenFile> = self.open.drain().map(|(_, file)| file).collect();
        open.sort_by(|a, b| a.relative.cmp(&b.relative));
        for file in open {
            let add = finish(&self.table, file)?;
            self.closed.push(add);
        }
        let mut adds = std::mem::take(&mut self.closed);
        adds.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(adds)
    }
}

/// Writes the file's footer and describes the file for the log.
fn finish(table: &LocalTable, file: OpenFile) -> Result<Add> {
    let OpenFile { relative, path, values, mut writer } = file;
    let metadata = writer.finish().map_err(|e| parquet_error(&table.name, &path, e))?;
    // `finish` flushed everything to the file.
    let size =
        writer.inner().metadata().map_err(|source| Error::io(&table.name, &path, source))?.len();
    let stats =
        file_stats::stats_json(&metadata, &table.partition_by, &table.indexed).map_err(|e| {
            Error::SchemaMismatch {
                table: table.name.clone(),
                expected: "file statistics that serialise to JSON".to_owned(),
                found: e.to_string(),
            }
        })?;
    let modification_time = chrono::Utc::now().timestamp_millis();
    Ok(Add {
        path: relative,
        size: i64::try_from(size).unwrap_or(i64::MAX),
        partition_values: values,
        modification_time,
        data_change: true,
        stats: Some(stats),
        tags: None,
        deletion_vector: None,
        base_row_id: None,
        default_row_commit_version: None,
        clustering_provider: None,
    })
}

fn parquet_error(table: &str, path: &Path, error: ParquetError) -> Error {
    match error {
        ParquetError::External(source) => match source.downcast::<std::io::Error>() {
            Ok(io) => Error::io(table, path, *io),
            Err(other) => {
                Error::delta(table, deltalake::DeltaTableError::Generic(other.to_string()))
            }
        },
        other => Error::delta(table, deltalake::DeltaTableError::Parquet { source: other }),
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU64;

    use arrow_array::{
        BooleanArray, Float64Array, Int64Array, StringArray, TimestampMicrosecondArray,
    };
    use arrow_schema::{Field, Schema, TimeUnit};
    use deltalake::datafile::writer::{DeltaWriter, WriterConfig};
    use deltalake::kernel::scalars::ScalarExt;
    use deltalake::logstore::object_store::local::LocalFileSystem;
    use deltalake::operations::get_num_idx_cols_and_stats_columns;
    use deltalake::parquet::file::properties::EnabledStatistics;
    use deltalake::parquet::schema::types::ColumnPath;
    use serde_json::Value;

    use super::*;

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("event_name", DataType::Utf8, false),
            Field::new(
                "time",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                false,
            ),
            Field::new("distinct_id", DataType::Utf8, true),
            Field::new("properties", DataType::Utf8, false),
            Field::new("amount", DataType::Float64, true),
            Field::new("_sync_id", DataType::Int64, false),
            Field::new("flag", DataType::Boolean, true),
            Field::new("date", DataType::Date32, false),
        ]))
    }

    /// Rows of one day spread over row groups of 4, nulls and sub-millisecond times included.
    fn batch(day: i32, rows: i64) -> RecordBatch {
        let base = i64::from(day) * 86_400_000_000;
        let n = usize::try_from(rows).unwrap();
        let columns: Vec<arrow_array::ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values((0..rows).map(|i| format!("E{}", (i * 7) % 5)))),
            Arc::new(
                TimestampMicrosecondArray::from_iter_values(
                    (0..rows).map(|i| base + (i * 7919 % rows) * 1_000_123 + 999),
                )
                .with_timezone("UTC"),
            ),
            Arc::new(StringArray::from_iter(
                (0..rows).map(|i| (i % 3 != 0).then(|| format!("user-{}", (i * 13) % 11))),
            )),
            Arc::new(StringArray::from_iter_values((0..rows).map(|i| format!("{{\"i\":{i}}}")))),
            Arc::new(Float64Array::from_iter(
                (0..rows).map(|i| (i % 4 != 1).then_some((i as f64) * 1.5 - 7.25)),
            )),
            Arc::new(Int64Array::from(vec![42; n])),
            Arc::new(BooleanArray::from_iter(
                (0..rows).map(|i| (i % 5 != 2).then_some(i % 2 == 0)),
            )),
            Arc::new(Date32Array::from(vec![day; n])),
        ];
        RecordBatch::try_new(schema(), columns).unwrap()
    }

    fn properties() -> WriterProperties {
        WriterProperties::builder()
            .set_max_row_group_row_count(Some(4))
            .set_column_statistics_enabled(ColumnPath::from("properties"), EnabledStatistics::None)
            .build()
    }

    async fn written_by_deltalake(
        dir: &Path,
        stats: &HashMap<String, Option<String>>,
        batches: &[RecordBatch],
    ) -> Vec<Add> {
        let store = Arc::new(LocalFileSystem::new_with_prefix(dir).unwrap());
        let (indexed, columns) = get_num_idx_cols_and_stats_columns(None, stats.clone());
        let config = WriterConfig::new(
            schema(),
            vec!["date".to_owned()],
            Some(properties()),
            NonZeroU64::new(TARGET_FILE_BYTES),
            None,
            indexed,
            columns,
        );
        let mut writer = DeltaWriter::new(store, config);
        for batch in batches {
            let day = ScalarExt::from_array(batch.column(7).as_ref(), 0).unwrap();
            let values = [("date".to_owned(), day)].into_iter().collect();
            writer.write_partition(batch.clone(), &values).await.unwrap();
        }
        writer.close().await.unwrap()
    }

    fn written_here(
        dir: &Path,
        stats: &HashMap<String, Option<String>>,
        batches: &[RecordBatch],
    ) -> Vec<Add> {
        let table = LocalTable {
            root: dir.to_path_buf(),
            name: "events".to_owned(),
            schema: schema(),
            partition_by: vec!["date".to_owned()],
            properties: properties(),
            indexed: Indexed::of_table(stats).unwrap(),
        };
        let mut files = LocalFiles::new(table).unwrap();
        for batch in batches {
            let partition = files.partition(&[7], batch).unwrap();
            files.write(batch, partition).unwrap();
        }
        files.close().unwrap()
    }

    /// What readers see of a file: where it is, its size, partition values and statistics.
    fn described(add: &Add) -> (String, i64, Vec<(String, Option<String>)>, Value) {
        let folder = add.path.rsplit_once('/').map_or("", |(folder, _)| folder).to_owned();
        let mut values: Vec<_> =
            add.partition_values.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        values.sort();
        let stats = serde_json::from_str(add.stats.as_deref().unwrap()).unwrap();
        (folder, add.size, values, stats)
    }

    #[tokio::test]
    async fn files_and_statistics_are_what_deltalake_writes() {
        let stats_settings = [
            HashMap::new(),
            [("delta.dataSkippingNumIndexedCols".to_owned(), Some("3".to_owned()))].into(),
            [(
                "delta.dataSkippingStatsColumns".to_owned(),
                Some("time,distinct_id,flag,amount".to_owned()),
            )]
            .into(),
        ];
        let batches = [batch(20_089, 23), batch(20_090, 9), batch(20_089, 5)];
        for stats in &stats_settings {
            let (theirs_dir, ours_dir) =
                (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
            let theirs = written_by_deltalake(theirs_dir.path(), stats, &batches).await;
            let ours = written_here(ours_dir.path(), stats, &batches);
            let mut theirs: Vec<_> = theirs.iter().map(described).collect();
            let mut ours: Vec<_> = ours.iter().map(described).collect();
            // deltalake orders its files by path, whose names are random.
            theirs.sort_by(|a, b| a.0.cmp(&b.0));
            ours.sort_by(|a, b| a.0.cmp(&b.0));
            assert_eq!(ours, theirs, "table properties {stats:?}");
            assert_eq!(ours.len(), 2, "one file per day");
        }
    }

    #[test]
    fn a_file_lands_in_its_partition_folder_and_is_readable() {
        let dir = tempfile::tempdir().unwrap();
        let adds = written_here(dir.path(), &HashMap::new(), &[batch(20_089, 10)]);
        assert_eq!(adds.len(), 1);
        assert!(adds[0].path.starts_with("date=2025-01-01/part-00001-"), "{}", adds[0].path);
        let file = File::open(dir.path().join(&adds[0].path)).unwrap();
        let rows: usize =
            deltalake::parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(file, 1024)
                .unwrap()
                .map(|b| b.unwrap().num_rows())
                .sum();
        assert_eq!(rows, 10);
        assert_eq!(
            u64::try_from(adds[0].size).unwrap(),
            std::fs::metadata(dir.path().join(&adds[0].path)).unwrap().len()
        );
    }

    #[test]
    fn only_dates_that_are_never_null_are_partitions_written_here() {
        let date = ["date".to_owned()];
        assert!(handles_partitions(&schema(), &date));
        let nullable = Schema::new(vec![Field::new("date", DataType::Date32, true)]);
        assert!(!handles_partitions(&nullable, &date));
        let text = Schema::new(vec![Field::new("date", DataType::Utf8, false)]);
        assert!(!handles_partitions(&text, &date));
        assert!(!handles_partitions(&schema(), &["missing".to_owned()]));
    }
}
