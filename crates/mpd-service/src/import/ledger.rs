//! The `pipelines_files` table: every file already imported, by dataset, path, size and (for an
//! object in a bucket) entity tag (pipelines files by their path in the project folder, export
//! dumps by their absolute path).

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::Array as _;
use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, TimestampMicrosecondType};
use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use mpd_ingest::dedup::normalize_strings;
use mpd_store::CommitInfo;
use mpd_store::{Store, WriteMode};

use crate::error::{Error, Result, column_mismatch};

pub(crate) const LEDGER_TABLE: &str = "pipelines_files";

/// A file as the ledger knows it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct LedgerEntry {
    pub(crate) path: String,
    pub(crate) size: u64,
    /// The object's entity tag when it came from a bucket (it changes when the object is
    /// rewritten, even at the same size); none for local files.
    pub(crate) etag: Option<String>,
}

/// Every file read so far.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    /// Path → the (size, entity tag) versions read.
    read: HashMap<String, Vec<(u64, Option<String>)>>,
}

impl Ledger {
    /// Whether `file` was read: same path and size, and the same entity tag when both the
    /// ledger and the file have one (rows from before tags were kept match on size).
    pub(crate) fn has_read(&self, file: &LedgerEntry) -> bool {
        self.read.get(&file.path).is_some_and(|versions| {
            versions.iter().any(|(size, etag)| {
                *size == file.size
                    && match (etag, &file.etag) {
                        (Some(known), Some(now)) => known == now,
                        _ => true,
                    }
            })
        })
    }
}

impl FromIterator<LedgerEntry> for Ledger {
    fn from_iter<I: IntoIterator<Item = LedgerEntry>>(entries: I) -> Self {
        let mut ledger = Ledger::default();
        for entry in entries {
            ledger.read.entry(entry.path).or_default().push((entry.size, entry.etag));
        }
        ledger
    }
}

/// The files read so far.
pub(crate) async fn ingested(store: &Store) -> Result<Ledger> {
    Ok(stored_rows(store).await?.into_iter().map(|(_, entry, _)| entry).collect())
}

/// `(dataset, entry, ingested_at)` of every ledger row; none when the table does not exist.
async fn stored_rows(store: &Store) -> Result<Vec<(String, LedgerEntry, i64)>> {
    let mut rows = Vec::new();
    if !store.exists(LEDGER_TABLE).await? {
        return Ok(rows);
    }
    let stored = store.schema(LEDGER_TABLE).await?;
    let mut columns = vec!["dataset", "path", "size"];
    // Optional: a ledger from before entity tags has no `etag`.
    columns.extend(["ingested_at", "etag"].into_iter().filter(|c| stored.index_of(c).is_ok()));
    let now = chrono::Utc::now().timestamp_micros();
    for batch in store.read_columns(LEDGER_TABLE, &columns, None).await? {
        let batch = normalize_strings(batch)?;
        let text = |name: &str| {
            batch.column_by_name(name).map(|column| {
                column
                    .as_string_opt::<i32>()
                    .ok_or_else(|| column_mismatch(LEDGER_TABLE, name, "Utf8", column.data_type()))
            })
        };
        let missing =
            |name: &str| Error::Internal(format!("{LEDGER_TABLE}: `{name}` was not read"));
        let datasets = text("dataset").ok_or_else(|| missing("dataset"))??;
        let paths = text("path").ok_or_else(|| missing("path"))??;
        let etags = text("etag").transpose()?;
        let sizes = batch.column(2).as_primitive_opt::<Int64Type>().ok_or_else(|| {
            column_mismatch(LEDGER_TABLE, "size", "Int64", batch.column(2).data_type())
        })?;
        let times = match batch.column_by_name("ingested_at") {
            Some(column) => {
                Some(column.as_primitive_opt::<TimestampMicrosecondType>().ok_or_else(|| {
                    column_mismatch(LEDGER_TABLE, "ingested_at", "Timestamp", column.data_type())
                })?)
            }
            None => None,
        };
        for row in 0..batch.num_rows() {
            if paths.is_null(row) || sizes.is_null(row) {
                continue;
            }
            let entry = LedgerEntry {
                path: paths.value(row).to_owned(),
                size: u64::try_from(sizes.value(row)).unwrap_or_default(),
                etag: etags.filter(|e| e.is_valid(row)).map(|e| e.value(row).to_owned()),
            };
            let at = times.filter(|t| t.is_valid(row)).map_or(now, |t| t.value(row));
            rows.push((datasets.value(row).to_owned(), entry, at));
        }
    }
    Ok(rows)
}

/// Records `files` of `dataset` as read by `command`, in one commit. A ledger written before
/// entity tags were kept is rewritten with the column (its rows keep no tag) in that commit.
pub(crate) async fn record(
    store: &Store,
    dataset: &str,
    files: &[LedgerEntry],
    command: &str,
) -> Result<()> {
    if files.is_empty() {
        return Ok(());
    }
    let now = chrono::Utc::now().timestamp_micros();
    let mut rows: Vec<(String, LedgerEntry, i64)> =
        files.iter().map(|f| (dataset.to_owned(), f.clone(), now)).collect();
    let mut mode = WriteMode::Append;
    if store.exists(LEDGER_TABLE).await?
        && store.schema(LEDGER_TABLE).await?.index_of("etag").is_err()
    {
        let mut old = stored_rows(store).await?;
        old.append(&mut rows);
        rows = old;
        mode = WriteMode::Replace;
    }
    let schema = ledger_schema();
    let batch = RecordBatch::try_new(Arc::clone(&schema), ledger_columns(&rows))
        .map_err(|e| Error::Internal(format!("cannot build the ledger rows: {e}")))?;
    let mut writer = store.writer(LEDGER_TABLE, schema, &[], mode).await?;
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

fn ledger_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("dataset", DataType::Utf8, false),
        Field::new("path", DataType::Utf8, false),
        Field::new("size", DataType::Int64, false),
        Field::new(
            "ingested_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        Field::new("etag", DataType::Utf8, true),
    ]))
}

fn ledger_columns(rows: &[(String, LedgerEntry, i64)]) -> Vec<ArrayRef> {
    vec![
        Arc::new(StringArray::from_iter_values(rows.iter().map(|(dataset, _, _)| dataset))),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|(_, f, _)| f.path.as_str()))),
        Arc::new(Int64Array::from_iter_values(
            rows.iter().map(|(_, f, _)| i64::try_from(f.size).unwrap_or(i64::MAX)),
        )),
        Arc::new(
            TimestampMicrosecondArray::from_iter_values(rows.iter().map(|(_, _, at)| *at))
                .with_timezone("UTC"),
        ),
        Arc::new(StringArray::from_iter(rows.iter().map(|(_, f, _)| f.etag.as_deref()))),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, size: u64, etag: Option<&str>) -> LedgerEntry {
        LedgerEntry { path: path.to_owned(), size, etag: etag.map(str::to_owned) }
    }

    /// A ledger written before entity tags were kept gains the column on the next record,
    /// keeping its rows (with no tag) and their times.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_ledger_without_tags_gains_the_column_and_keeps_its_rows() {
        let store = Store::open(mpd_store::StoreMode::InMemory).await.expect("store");
        let old = Arc::new(Schema::new(ledger_schema().fields()[..4].to_vec()));
        let rows = vec![("mp_master_event".to_owned(), entry("a.json.gz", 10, None), 1_000_000)];
        let mut columns = ledger_columns(&rows);
        columns.pop();
        let batch = RecordBatch::try_new(Arc::clone(&old), columns).expect("batch");
        let mut writer = store.writer(LEDGER_TABLE, old, &[], WriteMode::Create).await.unwrap();
        writer.write(batch).await.expect("write");
        writer.commit(CommitInfo::new("test").to_metadata()).await.expect("commit");

        let new = entry("b.json.gz", 20, Some("\"e1\""));
        record(&store, "mp_master_event", std::slice::from_ref(&new), "test").await.unwrap();

        assert!(store.schema(LEDGER_TABLE).await.unwrap().index_of("etag").is_ok());
        let stored = stored_rows(&store).await.expect("rows");
        assert_eq!(stored.len(), 2);
        assert_eq!(stored[0].1, entry("a.json.gz", 10, None));
        assert_eq!(stored[0].2, 1_000_000, "the old row keeps its time");
        let ledger = ingested(&store).await.expect("ledger");
        assert!(ledger.has_read(&entry("a.json.gz", 10, Some("\"any\""))));
        assert!(ledger.has_read(&new));
        assert!(!ledger.has_read(&entry("b.json.gz", 20, Some("\"e2\""))));

        // Later records append.
        record(&store, "mp_master_event", &[entry("c.json", 5, None)], "test").await.unwrap();
        assert_eq!(stored_rows(&store).await.expect("rows").len(), 3);
    }
}
