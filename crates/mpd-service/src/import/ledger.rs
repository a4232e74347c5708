//! The `pipelines_files` table: every file already imported, by dataset, path and size
//! (pipelines files by their path in the project folder, export dumps by their absolute path).

use std::collections::HashSet;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use mpd_ingest::dedup::normalize_strings;
use mpd_store::CommitInfo;
use mpd_store::{Store, WriteMode};

use crate::error::{Error, Result, column_mismatch};

pub(crate) const LEDGER_TABLE: &str = "pipelines_files";

/// `(path, size)` of every file read so far.
pub(crate) async fn ingested(store: &Store) -> Result<HashSet<(String, u64)>> {
    let mut out = HashSet::new();
    if !store.exists(LEDGER_TABLE).await? {
        return Ok(out);
    }
    for batch in store.read_columns(LEDGER_TABLE, &["path", "size"], None).await? {
        let batch = normalize_strings(batch)?;
        let paths = batch.column(0).as_string_opt::<i32>().ok_or_else(|| {
            column_mismatch(LEDGER_TABLE, "path", "Utf8", batch.column(0).data_type())
        })?;
        let sizes = batch.column(1).as_primitive_opt::<Int64Type>().ok_or_else(|| {
            column_mismatch(LEDGER_TABLE, "size", "Int64", batch.column(1).data_type())
        })?;
        for (path, size) in paths.iter().zip(sizes.iter()) {
            if let (Some(path), Some(size)) = (path, size) {
                out.insert((path.to_owned(), u64::try_from(size).unwrap_or_default()));
            }
        }
    }
    Ok(out)
}

/// A file as the ledger knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LedgerEntry {
    pub(crate) path: String,
    pub(crate) size: u64,
}

/// Records `files` of `dataset` as read by `command`, in one commit.
pub(crate) async fn record(
    store: &Store,
    dataset: &str,
    files: &[LedgerEntry],
    command: &str,
) -> Result<()> {
    if files.is_empty() {
        return Ok(());
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("dataset", DataType::Utf8, false),
        Field::new("path", DataType::Utf8, false),
        Field::new("size", DataType::Int64, false),
        Field::new(
            "ingested_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
    ]));
    let now = chrono::Utc::now().timestamp_micros();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(files.iter().map(|_| dataset))),
        Arc::new(StringArray::from_iter_values(files.iter().map(|f| f.path.as_str()))),
        Arc::new(Int64Array::from_iter_values(
            files.iter().map(|f| i64::try_from(f.size).unwrap_or(i64::MAX)),
        )),
        Arc::new(
            TimestampMicrosecondArray::from_iter_values(files.iter().map(|_| now))
                .with_timezone("UTC"),
        ),
    ];
    let batch = RecordBatch::try_new(Arc::clone(&schema), columns)
        .map_err(|e| Error::Internal(format!("cannot build the ledger rows: {e}")))?;
    let mut writer = store.writer(LEDGER_TABLE, schema, &[], WriteMode::Append).await?;
    writer.write(batch).await?;
    writer
        .commit(
            CommitInfo {
                dataset: Some(dataset.to_owned()),
                files: Some(files.len() as u64),
                ..CommitInfo::new(command)
            }
            .to_metadata(),
        )
        .await?;
    Ok(())
}
