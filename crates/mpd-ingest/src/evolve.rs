//! Rewriting a stored events table with another list of typed property columns (and the
//! sorted layout): `mpd tables evolve`, and `mpd tables compact` on a table whose columns are
//! not the configured ones.
//!
//! One commit replaces every file: day by day, the rows are read back sorted by event name
//! and time, their typed columns computed from `properties` (the same rules as when
//! decoding), and written through the events writer. Rows, `_sync_id`s and the sync cursor
//! stay as they were; a reader of an older version still sees the old files until a vacuum.

use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Schema};
use chrono::NaiveDate;
use futures_util::StreamExt as _;
use mpd_decode::TypedProperties;
use mpd_store::{CommitSummary, Store, TableWriter, WriteMode};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::layout::{EVENT_ORDER, events_writer};

/// What a rewrite did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvolveSummary {
    /// Typed columns the table had before.
    pub columns_before: Vec<String>,
    /// Typed columns it has now.
    pub columns_after: Vec<String>,
    /// Rows rewritten.
    pub rows: u64,
    /// Days (partitions) rewritten.
    pub days: u64,
    /// The commit.
    pub commit: CommitSummary,
}

/// Rewrites the events table `table` with `typed`'s columns, in one commit carrying
/// `metadata`.
///
/// # Errors
///
/// [`Error::Column`] when `table` is not an events table ([`is_events_table`]), naming the
/// first column that says so; store errors as they come.
pub async fn rewrite_events(
    store: &Store,
    table: &str,
    typed: &TypedProperties,
    metadata: Map<String, Value>,
) -> Result<EvolveSummary> {
    let stored = store.schema(table).await?;
    check_events_table(&stored).map_err(|e| e.in_table(table))?;
    let days = partition_days(store, table).await?;
    rewrite(store, table, &stored, typed, &days, WriteMode::Replace, metadata).await
}

/// Rewrites the days `days` of the events table `table`, each sorted by event
/// name and time as a whole into one file (more past the target file size), with the typed
/// columns it has; one commit carrying `metadata` replaces those days' files, the other days
/// stay. What `mpd tables compact` does to the days [`Store::unsorted_days`] names.
///
/// # Errors
///
/// As [`rewrite_events`].
pub async fn sort_days(
    store: &Store,
    table: &str,
    days: &[NaiveDate],
    metadata: Map<String, Value>,
) -> Result<EvolveSummary> {
    let stored = store.schema(table).await?;
    check_events_table(&stored).map_err(|e| e.in_table(table))?;
    let typed = TypedProperties::from_schema(&stored);
    rewrite(store, table, &stored, &typed, days, WriteMode::ReplacePartitions, metadata).await
}

/// Reads each of `days` back sorted and writes it with `typed`'s columns, in `mode`.
async fn rewrite(
    store: &Store,
    table: &str,
    stored: &Schema,
    typed: &TypedProperties,
    days: &[NaiveDate],
    mode: WriteMode,
    metadata: Map<String, Value>,
) -> Result<EvolveSummary> {
    let stored_typed = TypedProperties::from_schema(stored);
    let schema = mpd_decode::events_schema_with(typed);
    // Each day comes sorted as a whole: written as it comes, one file per day.
    let mut writer = events_writer(store, table, mode, typed).await?.presorted();
    // The typed columns are computed from `properties` only when they change; the same
    // columns are read back as stored, and the rows only change order and files.
    let (read, derive) = if typed == &stored_typed {
        writer = writer.rearranging();
        (schema.clone(), None)
    } else {
        (mpd_decode::events_schema(), Some((typed, schema.as_ref())))
    };
    let columns: Vec<&str> = read.fields().iter().map(|f| f.name().as_str()).collect();
    let mut rows = 0u64;
    for day in days {
        let written = rewrite_day(store, table, *day, &columns, derive, &mut writer).await;
        match written {
            Ok(n) => rows += n,
            Err(error) => {
                let _ = writer.abort().await;
                return Err(error);
            }
        }
    }
    let commit = writer.commit(metadata).await?;
    Ok(EvolveSummary {
        columns_before: column_names(&stored_typed),
        columns_after: column_names(typed),
        rows,
        days: days.len() as u64,
        commit,
    })
}

/// Writes `columns` of the rows of `day` read back sorted by event name and time, with the
/// typed columns of `derive` (and the schema they make) computed from `properties` when
/// given; how many.
async fn rewrite_day(
    store: &Store,
    table: &str,
    day: NaiveDate,
    columns: &[&str],
    derive: Option<(&TypedProperties, &Schema)>,
    writer: &mut TableWriter,
) -> Result<u64> {
    let Some(mut stream) = store.read_day_sorted(table, day, columns, &EVENT_ORDER).await? else {
        return Ok(0);
    };
    let mut rows = 0;
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(|e| Error::from(mpd_store::Error::from_datafusion(e)))?;
        rows += batch.num_rows() as u64;
        let batch = match derive {
            Some((typed, schema)) => with_typed_columns(batch, typed, schema)?,
            None => batch,
        };
        writer.write(batch).await?;
    }
    Ok(rows)
}

/// Whether `schema` is an events table's: the event columns, then only typed property columns
/// (the audit table, with its rejection columns, is not).
#[must_use]
pub fn is_events_table(schema: &Schema) -> bool {
    check_events_table(schema).is_ok()
}

fn check_events_table(schema: &Schema) -> Result<()> {
    let base = mpd_decode::events_schema();
    for field in base.fields() {
        let found = schema.field_with_name(field.name()).map(|f| f.data_type().clone());
        if found.as_ref().ok() != Some(field.data_type()) {
            return Err(Error::Column {
                table: None,
                column: field.name().clone(),
                expected: format!("{} (an events table)", field.data_type()),
                found: found.map_or_else(|_| "missing".to_owned(), |t| t.to_string()),
            });
        }
    }
    let extra = schema.fields().iter().find(|f| {
        base.field_with_name(f.name()).is_err()
            && mpd_decode::TypedProperty::from_field(f).is_none()
    });
    match extra {
        Some(field) => Err(Error::Column {
            table: None,
            column: field.name().clone(),
            expected: "absent (an events table has only event and typed property columns)"
                .to_owned(),
            found: field.data_type().to_string(),
        }),
        None => Ok(()),
    }
}

fn column_names(typed: &TypedProperties) -> Vec<String> {
    typed.list().iter().map(|p| p.column().to_owned()).collect()
}

/// The `date` partitions of `table`, oldest first.
async fn partition_days(store: &Store, table: &str) -> Result<Vec<NaiveDate>> {
    let query = format!("SELECT DISTINCT CAST(date AS VARCHAR) AS day FROM \"{table}\" ORDER BY 1");
    let result = store.sql(&query).await?;
    let mut days = Vec::new();
    for batch in &result.batches {
        let column = utf8(batch.column(0), "day")?;
        for day in column.iter().flatten() {
            let date = NaiveDate::parse_from_str(day, "%Y-%m-%d")
                .map_err(|e| Error::Internal(format!("a `date` partition named {day:?} ({e})")))?;
            days.push(date);
        }
    }
    Ok(days)
}

/// `batch` (the base event columns) with `typed`'s columns appended.
fn with_typed_columns(
    batch: RecordBatch,
    typed: &TypedProperties,
    schema: &Schema,
) -> Result<RecordBatch> {
    let properties = batch.column_by_name("properties").ok_or_else(|| Error::Column {
        table: None,
        column: "properties".to_owned(),
        expected: "Utf8".to_owned(),
        found: "missing".to_owned(),
    })?;
    let properties = utf8(properties, "properties")?;
    let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
    columns.extend(mpd_decode::typed_columns_of(typed, &properties));
    // The stream may carry string views: the writer casts to the table's types.
    let fields: Vec<_> = schema
        .fields()
        .iter()
        .zip(&columns)
        .map(|(f, c)| f.as_ref().clone().with_data_type(c.data_type().clone()))
        .collect();
    let schema = Arc::new(Schema::new(fields));
    RecordBatch::try_new(schema, columns)
        .map_err(|e| Error::Internal(format!("cannot add the typed columns: {e}")))
}

/// A string column as `Utf8`, whatever string type the scan gave.
fn utf8(column: &ArrayRef, name: &str) -> Result<StringArray> {
    let cast = arrow_cast::cast(column, &DataType::Utf8).map_err(|e| Error::Column {
        table: None,
        column: name.to_owned(),
        expected: "text".to_owned(),
        found: format!("{} ({e})", column.data_type()),
    })?;
    cast.as_any().downcast_ref::<StringArray>().cloned().ok_or_else(|| Error::Column {
        table: None,
        column: name.to_owned(),
        expected: "text".to_owned(),
        found: column.data_type().to_string(),
    })
}

#[cfg(test)]
mod tests;
