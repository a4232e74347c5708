//! One writer of Parquet files: deltalake's data-file writer plus the cap on open partitions.
//! A [`TableWriter`](super::TableWriter) runs one per shard.

use std::collections::HashSet;
use std::num::NonZeroU64;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use deltalake::arrow::row::{OwnedRow, RowConverter, Rows, SortField};
use deltalake::datafile::writer::{DeltaWriter, WriterConfig};
use deltalake::kernel::Add;
use deltalake::kernel::scalars::ScalarExt;
use deltalake::logstore::ObjectStoreRef;
use deltalake::operations::get_num_idx_cols_and_stats_columns;
use deltalake::parquet::file::properties::WriterProperties;

use super::TARGET_FILE_BYTES;
use super::local_files::{LocalFiles, LocalTable};
use super::shards::Piece;
use super::sorted::sort_run;
use crate::{Error, Result, schema};

/// What a part writer needs to write files of a table.
#[derive(Clone)]
pub(super) struct PartConfig {
    pub(super) table: String,
    pub(super) store: ObjectStoreRef,
    pub(super) schema: SchemaRef,
    pub(super) partition_by: Vec<String>,
    pub(super) properties: WriterProperties,
    /// The table's statistics settings (`delta.dataSkipping*`).
    pub(super) stats: std::collections::HashMap<String, Option<String>>,
    pub(super) max_open_partitions: usize,
    /// Columns (indices into `schema`) rows are sorted by within a partition; empty: written
    /// as they come. The table writer keeps the rows waiting; a part writer sorts each run.
    pub(super) sort_by: Vec<usize>,
    /// Set when the table is on this machine's disk and its files are written directly
    /// (`local_files`); otherwise deltalake's writer uploads them.
    pub(super) local: Option<LocalTable>,
}

/// Where a part writer's files go.
enum Files {
    Upload(DeltaWriter),
    Local(LocalFiles),
}

impl Files {
    fn open(config: &PartConfig) -> Result<Self> {
        if let Some(table) = &config.local {
            return Ok(Files::Local(LocalFiles::new(table.clone())?));
        }
        let (num_indexed_cols, stats_columns) =
            get_num_idx_cols_and_stats_columns(None, config.stats.clone());
        let writer_config = WriterConfig::new(
            config.schema.clone(),
            config.partition_by.clone(),
            Some(config.properties.clone()),
            NonZeroU64::new(TARGET_FILE_BYTES),
            None,
            num_indexed_cols,
            stats_columns,
        );
        Ok(Files::Upload(DeltaWriter::new(config.store.clone(), writer_config)))
    }
}

/// Writes batches into files; closes its open files when a batch would open one partition too
/// many, and when it is closed.
pub(super) struct PartWriter {
    config: PartConfig,
    current: Option<Files>,
    partitions: PartitionTracker,
    closed: Vec<Add>,
}

impl PartWriter {
    pub(super) fn new(config: PartConfig) -> Result<Self> {
        let partitions =
            PartitionTracker::new(&config.table, &config.schema, &config.partition_by)?;
        Ok(Self { config, current: None, partitions, closed: Vec::new() })
    }

    /// Writes `piece`: rows as they come, or a run sorted first.
    pub(super) async fn write(&mut self, piece: Piece) -> Result<()> {
        match piece {
            Piece::Rows(batch) => self.write_now(batch).await,
            Piece::Run(slices) => {
                let run = sort_run(&self.config.table, &self.config.sort_by, &slices)?;
                drop(slices);
                self.write_now(run).await
            }
        }
    }

    async fn write_now(&mut self, batch: RecordBatch) -> Result<()> {
        let keys = self.partitions.keys(&self.config.table, &batch)?;
        if self.partitions.would_exceed(&keys, self.config.max_open_partitions) {
            self.close_current().await?;
        }
        let single = keys.len() == 1;
        let config = &self.config;
        let files = match &mut self.current {
            Some(files) => files,
            None => self.current.insert(Files::open(config)?),
        };
        match files {
            Files::Local(local) => {
                let pieces = if single {
                    vec![batch]
                } else {
                    self.partitions
                        .split(&config.table, batch)?
                        .into_iter()
                        .map(|(_, rows)| rows)
                        .collect()
                };
                for rows in pieces {
                    let partition = local.partition(&self.partitions.indices, &rows)?;
                    local.write(&rows, partition)?;
                }
            }
            Files::Upload(writer) => {
                let written = if single {
                    // A batch of one partition (what the ingest hands over) goes in whole:
                    // deltalake's own split would copy every row once more.
                    let values = partition_values(config, &self.partitions.indices, &batch)?;
                    writer.write_partition(batch, &values).await
                } else {
                    writer.write(&batch).await
                };
                written.map_err(|source| Error::delta(&config.table, source))?;
            }
        }
        self.partitions.seen.extend(keys);
        Ok(())
    }

    async fn close_current(&mut self) -> Result<()> {
        self.partitions.clear();
        if let Some(files) = self.current.take() {
            let adds = match files {
                Files::Upload(writer) => writer
                    .close()
                    .await
                    .map_err(|source| Error::delta(&self.config.table, source))?,
                Files::Local(mut local) => local.close()?,
            };
            tracing::debug!(table = %self.config.table, n_files = adds.len(), "closed partition files");
            self.closed.extend(adds);
        }
        Ok(())
    }

    /// Closes the open files; returns every file written.
    pub(super) async fn close(mut self) -> Result<Vec<Add>> {
        self.close_current().await?;
        Ok(self.closed)
    }
}

/// The partition values of a batch of one partition, from its first row.
fn partition_values<S: ScalarExt>(
    config: &PartConfig,
    indices: &[usize],
    batch: &RecordBatch,
) -> Result<indexmap::IndexMap<String, S>> {
    let values: Option<indexmap::IndexMap<String, S>> = config
        .partition_by
        .iter()
        .zip(indices)
        .map(|(name, index)| {
            ScalarExt::from_array(batch.column(*index).as_ref(), 0)
                .map(|value| (name.clone(), value))
        })
        .collect();
    values.ok_or_else(|| Error::SchemaMismatch {
        table: config.table.clone(),
        expected: "a value in every partition column".to_owned(),
        found: "a null".to_owned(),
    })
}

/// A partition's values in Arrow's row format (empty for an unpartitioned table).
pub(super) type PartitionKey = Vec<u8>;

/// Distinct partition keys the open writer has seen.
pub(super) struct PartitionTracker {
    indices: Vec<usize>,
    converter: Option<RowConverter>,
    seen: HashSet<OwnedRow>,
}

impl PartitionTracker {
    pub(super) fn new(table: &str, schema: &SchemaRef, partition_by: &[String]) -> Result<Self> {
        let indices = partition_by
            .iter()
            .map(|column| {
                schema.index_of(column).map_err(|_| Error::SchemaMismatch {
                    table: table.to_owned(),
                    expected: format!("a column `{column}` to partition by"),
                    found: schema::describe(schema),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let converter = if indices.is_empty() {
            None
        } else {
            let fields = indices
                .iter()
                .map(|i| SortField::new(schema.field(*i).data_type().clone()))
                .collect();
            Some(RowConverter::new(fields).map_err(|error| Error::SchemaMismatch {
                table: table.to_owned(),
                expected: "partition columns of a comparable type".to_owned(),
                found: error.to_string(),
            })?)
        };
        Ok(Self { indices, converter, seen: HashSet::new() })
    }

    /// The partition values of each row of `batch` in Arrow's row format; None for an
    /// unpartitioned table.
    fn rows(&self, table: &str, batch: &RecordBatch) -> Result<Option<Rows>> {
        let Some(converter) = &self.converter else {
            return Ok(None);
        };
        let columns: Vec<_> = self.indices.iter().map(|i| batch.column(*i).clone()).collect();
        let rows = converter.convert_columns(&columns).map_err(|error| Error::SchemaMismatch {
            table: table.to_owned(),
            expected: "partition values".to_owned(),
            found: error.to_string(),
        })?;
        Ok(Some(rows))
    }

    /// Distinct keys of `batch`; a row equal to the one before it (the usual day-sorted
    /// input) costs no allocation.
    pub(super) fn keys(&self, table: &str, batch: &RecordBatch) -> Result<HashSet<OwnedRow>> {
        let mut keys = HashSet::new();
        let Some(rows) = self.rows(table, batch)? else {
            return Ok(keys);
        };
        let mut previous = None;
        for row in rows.iter() {
            if previous != Some(row) {
                keys.insert(row.owned());
                previous = Some(row);
            }
        }
        Ok(keys)
    }

    /// The rows of `batch` by partition; a batch of one partition (what the ingest hands
    /// over) is not copied.
    pub(super) fn split(
        &self,
        table: &str,
        batch: RecordBatch,
    ) -> Result<Vec<(PartitionKey, RecordBatch)>> {
        let Some(rows) = self.rows(table, &batch)? else {
            return Ok(vec![(PartitionKey::default(), batch)]);
        };
        let mut groups: Vec<(PartitionKey, Vec<u32>)> = Vec::new();
        for (index, row) in rows.iter().enumerate() {
            let index = u32::try_from(index).unwrap_or(u32::MAX);
            match groups.iter_mut().rev().find(|(key, _)| key.as_slice() == row.as_ref()) {
                Some((_, members)) => members.push(index),
                None => groups.push((row.as_ref().to_vec(), vec![index])),
            }
        }
        if groups.len() == 1 {
            return Ok(groups.into_iter().map(|(key, _)| (key, batch.clone())).collect());
        }
        groups
            .into_iter()
            .map(|(key, members)| {
                let indices = arrow_array::UInt32Array::from(members);
                let rows = deltalake::arrow::compute::take_record_batch(&batch, &indices)
                    .map_err(|e| Error::delta(table, deltalake::DeltaTableError::from(e)))?;
                Ok((key, rows))
            })
            .collect()
    }

    /// Whether writing `keys` would open more than `cap` partitions in the current writer.
    fn would_exceed(&self, keys: &HashSet<OwnedRow>, cap: usize) -> bool {
        !self.seen.is_empty() && self.seen.len() + keys.difference(&self.seen).count() > cap
    }

    fn clear(&mut self) {
        self.seen.clear();
    }
}
