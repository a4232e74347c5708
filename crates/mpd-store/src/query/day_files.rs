//! Key reads of a few days straight from their Parquet files.
//!
//! A dedup read wants a handful of columns of one or two `date` partitions. Going through
//! Delta's table provider costs a walk of the table's whole file list per read (the provider
//! matches the chosen paths against every live file), which grows with history; here the
//! day's files are picked from the table's head (`head.rs`, a replay of the log without the
//! statistics) and read with the Parquet reader, the partition value filled in from the log.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use arrow_array::{ArrayRef, Date32Array, RecordBatch, RecordBatchOptions, new_null_array};
use arrow_schema::{Field, Schema, SchemaRef};
use bytes::Bytes;
use chrono::NaiveDate;
use deltalake::logstore::object_store::path::Path as ObjectPath;
use deltalake::logstore::object_store::{ObjectStore, ObjectStoreExt};
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt, TryFutureExt, TryStreamExt};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ArrowReaderOptions;
use parquet::arrow::async_reader::{AsyncFileReader, ParquetRecordBatchStreamBuilder};
use parquet::errors::ParquetError;
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};

use super::{DATE_COLUMN, days_since_epoch};
use crate::head::{Head, column_mapped, partitioned_by_date};
use crate::{Error, Result, schema};

/// Files of one day read at the same time (an hourly sync leaves up to 24 a day).
const CONCURRENT_FILES: usize = 8;

/// One live data file of a wanted day.
pub(super) struct DayFile {
    /// Relative to the table's folder, as the log names it.
    pub(super) path: String,
    pub(super) size: u64,
    /// The partition's day, days since the Unix epoch; None in a table not partitioned by
    /// `date`, whose files hold the column (and rows of other days).
    pub(super) date: Option<i32>,
}

/// The files a read of some days opens.
pub(super) struct DayPick {
    pub(super) files: Vec<DayFile>,
    /// False: the files also hold rows of other days, which the reader filters out.
    pub(super) partitioned: bool,
}

/// The live files of `dates` when they can be read straight from Parquet: a table
/// partitioned by `date`, or one with a `date` column whose every file has `date` statistics
/// (the audit table), written the plain way (no column mapping, no deletion vectors, which
/// another Delta writer could have turned on). None sends the read through Delta's table
/// provider.
pub(super) fn live_files(head: &Head, dates: &[NaiveDate]) -> Option<DayPick> {
    let partitioned = partitioned_by_date(head.metadata());
    let mapped = column_mapped(head.metadata());
    if mapped || head.arrow_schema().index_of(DATE_COLUMN).is_err() {
        return None;
    }
    let wanted: HashMap<String, i32> =
        dates.iter().map(|d| (d.format("%Y-%m-%d").to_string(), days_since_epoch(*d))).collect();
    let mut files = Vec::new();
    for (path, file) in head.files_of_days(dates) {
        if file.deletion_vector || (!partitioned && file.date_range.is_none()) {
            return None;
        }
        let date = if partitioned {
            Some(file.date.as_deref().and_then(|day| wanted.get(day).copied())?)
        } else {
            None
        };
        files.push(DayFile { path, size: file.size, date });
    }
    Some(DayPick { files, partitioned })
}

/// `columns` (in the table's types, `target`) of `files`; the partition column `date` is
/// filled from each file's partition value.
pub(super) async fn read(
    table: &str,
    head: &Head,
    files: Vec<DayFile>,
    columns: &[&str],
    target: &SchemaRef,
) -> Result<Vec<RecordBatch>> {
    let store = head.object_store();
    let per_file = futures::stream::iter(files)
        .map(|file| read_file(table, store.clone(), file, columns, target))
        .buffered(CONCURRENT_FILES)
        .try_collect::<Vec<Vec<RecordBatch>>>()
        .await?;
    Ok(per_file.into_iter().flatten().collect())
}

async fn read_file(
    table: &str,
    store: Arc<dyn ObjectStore>,
    file: DayFile,
    columns: &[&str],
    target: &SchemaRef,
) -> Result<Vec<RecordBatch>> {
    let unreadable = |detail: String| unreadable_file(table, &file.path, detail);
    let reader = StoreFile::new(store, &file.path, file.size);
    let builder = ParquetRecordBatchStreamBuilder::new(reader)
        .await
        .map_err(|error| unreadable(error.to_string()))?;
    let file_schema = builder.schema().clone();
    // Columns the file holds; a column added to the table after the file was written is
    // absent and reads as nulls.
    let stored: Vec<&str> = columns
        .iter()
        .copied()
        .filter(|name| {
            (*name != DATE_COLUMN || file.date.is_none()) && file_schema.index_of(name).is_ok()
        })
        .collect();
    let mask = ProjectionMask::columns(builder.parquet_schema(), stored.iter().copied());
    let batches: Vec<RecordBatch> = builder
        .with_projection(mask)
        .build()
        .map_err(|error| unreadable(error.to_string()))?
        .try_collect()
        .await
        .map_err(|error| unreadable(error.to_string()))?;
    batches
        .into_iter()
        .map(|batch| {
            let rows = batch.num_rows();
            let arrays = target
                .fields()
                .iter()
                .map(|field| -> ArrayRef {
                    if let (Some(date), DATE_COLUMN) = (file.date, field.name().as_str()) {
                        Arc::new(Date32Array::from(vec![date; rows]))
                    } else {
                        batch
                            .column_by_name(field.name())
                            .cloned()
                            .unwrap_or_else(|| new_null_array(field.data_type(), rows))
                    }
                })
                .collect();
            let fields: Vec<Field> = target
                .fields()
                .iter()
                .zip(&arrays)
                .map(|(field, array): (&Arc<Field>, &ArrayRef)| {
                    Field::new(field.name(), array.data_type().clone(), true)
                })
                .collect();
            let batch = RecordBatch::try_new_with_options(
                Arc::new(Schema::new(fields)),
                arrays,
                &RecordBatchOptions::new().with_row_count(Some(rows)),
            )
            .map_err(|error| unreadable(error.to_string()))?;
            schema::conform(table, batch, target)
        })
        .collect()
}

pub(crate) fn unreadable_file(table: &str, path: &str, detail: String) -> Error {
    let path = format!("{table}/{path}");
    match crate::error::missing_file(&detail) {
        Some((_, reason)) => Error::MissingDataFile { path, detail: reason },
        None => Error::UnreadableDataFile { table: table.to_owned(), path, detail },
    }
}

/// A Parquet file of the table's object store whose size the log gave (no lookup for it).
pub(crate) struct StoreFile {
    store: Arc<dyn ObjectStore>,
    location: ObjectPath,
    size: u64,
}

impl StoreFile {
    /// The file at `path` (relative to the table, as the log names it) of `size` bytes.
    pub(crate) fn new(store: Arc<dyn ObjectStore>, path: &str, size: u64) -> Self {
        let location = ObjectPath::parse(path).unwrap_or_else(|_| ObjectPath::from(path));
        StoreFile { store, location, size }
    }
}

impl AsyncFileReader for StoreFile {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        self.store.get_range(&self.location, range).map_err(to_parquet_error).boxed()
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<Range<u64>>,
    ) -> BoxFuture<'_, parquet::errors::Result<Vec<Bytes>>> {
        async move {
            self.store.get_ranges(&self.location, &ranges).await.map_err(to_parquet_error)
        }
        .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        async move {
            let size = self.size;
            let metadata = ParquetMetaDataReader::new()
                .with_arrow_reader_options(options)
                .load_and_finish(&mut *self, size)
                .await?;
            Ok(Arc::new(metadata))
        }
        .boxed()
    }
}

fn to_parquet_error(error: deltalake::logstore::object_store::Error) -> ParquetError {
    ParquetError::External(Box::new(error))
}
