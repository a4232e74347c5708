//! SQL and inspection of the local store (`mpd query sql`, `mpd inspect info|tables|...`).

use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::workspace::Workspace;

/// A query's rows as JSON objects (column order kept), with the column names and types.
#[derive(Debug, Clone, serde::Serialize)]
pub struct QueryTable {
    /// Columns in order.
    pub columns: Vec<ColumnView>,
    /// Rows as objects keyed by column name.
    pub rows: Vec<Value>,
}

/// A column's name and type.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ColumnView {
    /// Name.
    pub name: String,
    /// Arrow type, e.g. `Utf8`, `Timestamp(µs, "UTC")`.
    #[serde(rename = "type")]
    pub data_type: String,
    /// Whether it may be null.
    pub nullable: bool,
}

/// What the store holds, in one object.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StoreInfo {
    /// Where the store lives.
    pub store: String,
    /// The Mixpanel project, when an account is configured.
    pub project_id: Option<u64>,
    /// Number of tables.
    pub tables: usize,
    /// Rows over all tables (from Delta file statistics).
    pub rows: u64,
    /// Bytes of data files.
    pub size_bytes: u64,
}

/// One table in `inspect tables`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TableView {
    /// Name.
    pub name: String,
    /// Rows (from Delta file statistics).
    pub rows: Option<u64>,
    /// Data files.
    pub files: usize,
    /// Bytes of data files.
    pub size_bytes: u64,
    /// Delta version.
    pub version: i64,
    /// Partition columns.
    pub partitioned_by: String,
    /// The command of the last commit, as mpd recorded it.
    pub last_command: Option<String>,
}

/// Per column statistics for `inspect summarize`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ColumnSummary {
    /// Column name.
    pub column: String,
    /// Arrow type.
    #[serde(rename = "type")]
    pub data_type: String,
    /// Non-null values.
    pub non_null: i64,
    /// Null values.
    pub nulls: i64,
    /// Approximate number of distinct values.
    pub approx_distinct: Option<i64>,
    /// Smallest value (not for JSON text).
    pub min: Option<Value>,
    /// Largest value (not for JSON text).
    pub max: Option<Value>,
}

/// A file written by [`Workspace::sql_to_file`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct FileExport {
    /// The file.
    pub path: PathBuf,
    /// Rows written.
    pub rows: u64,
}

/// Runs a read-only SQL query over the store.
pub(crate) async fn sql(ws: &Workspace, query: &str) -> Result<QueryTable> {
    let result = ws.store().await?.sql(query).await?;
    query_table(&result.schema, &result.batches)
}

/// The first rows of a query, and whether it had more.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CappedTable {
    /// At most the cap's rows, in the query's order.
    #[serde(flatten)]
    pub table: QueryTable,
    /// Whether the query had rows past the cap (they were never computed in full).
    pub truncated: bool,
}

/// [`sql`] stopped after `max_rows` rows: the plan is streamed and dropped once it yields one
/// row past the cap, so `SELECT *` over a large table costs a few batches, not the table.
pub(crate) async fn sql_capped(
    ws: &Workspace,
    query: &str,
    max_rows: usize,
) -> Result<CappedTable> {
    use futures_util::TryStreamExt;

    let mut stream = ws.store().await?.sql_stream(query).await?;
    let schema = stream.schema();
    let mut batches = Vec::new();
    let mut held = 0;
    let mut truncated = false;
    while let Some(batch) = stream.try_next().await.map_err(mpd_store::Error::from_datafusion)? {
        let room = max_rows - held;
        if batch.num_rows() > room {
            batches.push(batch.slice(0, room));
            truncated = true;
            break;
        }
        held += batch.num_rows();
        batches.push(batch);
    }
    Ok(CappedTable { table: query_table(&schema, &batches)?, truncated })
}

/// Runs a query and writes its rows to a `.parquet`, `.csv` or `.jsonl` file.
pub(crate) async fn sql_to_file(ws: &Workspace, query: &str, path: &Path) -> Result<FileExport> {
    let format = mpd_store::FileFormat::from_path(path).ok_or_else(|| {
        Error::InvalidArgument(format!(
            "cannot tell the format of {}: use a .parquet, .csv or .jsonl file name",
            path.display()
        ))
    })?;
    let written = ws.store().await?.sql_to_file(query, path, format).await?;
    Ok(FileExport { path: written.path, rows: written.rows })
}

/// The store's location and size.
pub(crate) async fn store_info(ws: &Workspace) -> Result<StoreInfo> {
    let store = ws.store().await?;
    let tables = store.tables().await?;
    Ok(StoreInfo {
        store: store.mode_label(),
        project_id: ws.project_id_if_known(),
        tables: tables.len(),
        rows: tables.iter().filter_map(|t| t.n_rows).sum(),
        size_bytes: tables.iter().map(|t| t.size_bytes).sum(),
    })
}

/// Every table of the store.
pub(crate) async fn table_list(ws: &Workspace) -> Result<Vec<TableView>> {
    let tables = ws.store().await?.tables().await?;
    Ok(tables
        .into_iter()
        .map(|t| TableView {
            last_command: t
                .last_commit
                .as_ref()
                .and_then(|c| c.metadata.get("command").and_then(Value::as_str).map(str::to_owned)),
            name: t.name,
            rows: t.n_rows,
            files: t.n_files,
            size_bytes: t.size_bytes,
            version: t.version,
            partitioned_by: t.partition_columns.join(","),
        })
        .collect())
}

/// A table's columns.
pub(crate) async fn table_schema(ws: &Workspace, table: &str) -> Result<Vec<ColumnView>> {
    let info = ws.store().await?.table_info(table).await?;
    Ok(columns_of(&info.schema))
}

/// `n` random rows of a table.
pub(crate) async fn sample(ws: &Workspace, table: &str, n: u32) -> Result<QueryTable> {
    ws.store().await?.table_info(table).await?;
    ws.sql(&format!("SELECT * FROM \"{table}\" ORDER BY random() LIMIT {n}")).await
}

/// Removes a table and its files.
pub(crate) async fn drop_table(ws: &Workspace, table: &str) -> Result<()> {
    Ok(ws.store().await?.drop_table(table).await?)
}

/// Per-column counts, nulls, distinct values, min and max.
pub(crate) async fn summarize(ws: &Workspace, table: &str) -> Result<Vec<ColumnSummary>> {
    let info = ws.store().await?.table_info(table).await?;
    let fields = info.schema.fields();
    let mut select = Vec::new();
    for (i, field) in fields.iter().enumerate() {
        let c = format!("\"{}\"", field.name());
        select.push(format!("count({c}) AS n{i}"));
        // DataFusion's approx_distinct takes no floats: their text counts the same values.
        let distinct_of = if field.data_type().is_floating() {
            format!("CAST({c} AS VARCHAR)")
        } else {
            c.clone()
        };
        select.push(format!("approx_distinct({distinct_of}) AS d{i}"));
        if is_summarizable(field.name()) {
            select.push(format!("min({c}) AS lo{i}"));
            select.push(format!("max({c}) AS hi{i}"));
        }
    }
    let query = format!("SELECT count(*) AS total, {} FROM \"{table}\"", select.join(", "));
    let stats = ws.sql(&query).await?;
    let row = stats.rows.first().and_then(Value::as_object).cloned().unwrap_or_default();
    let total = row.get("total").and_then(Value::as_i64).unwrap_or(0);
    Ok(fields
        .iter()
        .enumerate()
        .map(|(i, field)| {
            let non_null = row.get(&format!("n{i}")).and_then(Value::as_i64).unwrap_or(0);
            ColumnSummary {
                column: field.name().clone(),
                data_type: field.data_type().to_string(),
                non_null,
                nulls: total - non_null,
                approx_distinct: row.get(&format!("d{i}")).and_then(Value::as_i64),
                min: row.get(&format!("lo{i}")).filter(|v| !v.is_null()).cloned(),
                max: row.get(&format!("hi{i}")).filter(|v| !v.is_null()).cloned(),
            }
        })
        .collect())
}

/// Events per name with people, first and last time: what the table is made of.
pub(crate) async fn breakdown(ws: &Workspace, table: &str) -> Result<QueryTable> {
    let info = ws.store().await?.table_info(table).await?;
    if info.schema.index_of("event_name").is_err() {
        return Err(Error::InvalidArgument(format!(
            "{table} has no event_name column: breakdown works on event tables"
        )));
    }
    ws.sql(&format!(
        "SELECT event_name, count(*) AS events, count(DISTINCT distinct_id) AS distinct_ids, \
         min(time) AS first_time, max(time) AS last_time \
         FROM \"{table}\" GROUP BY event_name ORDER BY events DESC, event_name"
    ))
    .await
}

fn is_summarizable(column: &str) -> bool {
    column != "properties"
}

fn columns_of(schema: &arrow_schema::Schema) -> Vec<ColumnView> {
    schema
        .fields()
        .iter()
        .map(|f| ColumnView {
            name: f.name().clone(),
            data_type: f.data_type().to_string(),
            nullable: f.is_nullable(),
        })
        .collect()
}

/// Batches as JSON objects in column order, nulls kept. Output columns that share a name
/// (`SELECT a.distinct_id, b.distinct_id ...`) get `_2`, `_3`, ... so no value is lost to an
/// object key written twice.
fn query_table(schema: &arrow_schema::SchemaRef, batches: &[RecordBatch]) -> Result<QueryTable> {
    let schema = &unique_names(schema);
    // Each batch keeps its own types (a string column may come back as a view type); only
    // the names change.
    let batches = batches
        .iter()
        .map(|batch| RecordBatch::try_new(unique_names(&batch.schema()), batch.columns().to_vec()))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::Internal(format!("cannot rename query columns: {e}")))?;
    let mut bytes = Vec::new();
    {
        let mut writer = arrow_json::WriterBuilder::new()
            .with_explicit_nulls(true)
            .build::<_, arrow_json::writer::JsonArray>(&mut bytes);
        for batch in &batches {
            writer
                .write(batch)
                .map_err(|e| Error::Internal(format!("cannot render query rows: {e}")))?;
        }
        writer.finish().map_err(|e| Error::Internal(format!("cannot render query rows: {e}")))?;
    }
    let rows: Vec<Value> = if bytes.is_empty() {
        Vec::new()
    } else {
        serde_json::from_slice(&bytes)
            .map_err(|e| Error::Internal(format!("cannot read rendered rows: {e}")))?
    };
    // arrow-json writes object keys in column order; keep that order for every row.
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let rows = rows
        .into_iter()
        .map(|row| match row {
            Value::Object(mut map) => {
                let mut ordered = Map::new();
                for name in &names {
                    ordered.insert(name.clone(), map.remove(name).unwrap_or(Value::Null));
                }
                Value::Object(ordered)
            }
            other => other,
        })
        .collect();
    Ok(QueryTable { columns: columns_of(schema), rows })
}

/// `schema` with each repeated field name suffixed by its occurrence (`name_2`, `name_3`).
fn unique_names(schema: &arrow_schema::SchemaRef) -> arrow_schema::SchemaRef {
    let mut seen = std::collections::HashMap::<String, usize>::new();
    let mut renamed = false;
    let fields: Vec<arrow_schema::FieldRef> = schema
        .fields()
        .iter()
        .map(|field| {
            let count = seen.entry(field.name().clone()).or_insert(0);
            *count += 1;
            if *count == 1 {
                return field.clone();
            }
            renamed = true;
            let mut name = format!("{}_{count}", field.name());
            while schema.fields().iter().any(|f| f.name() == &name) {
                name.push('_');
            }
            std::sync::Arc::new(field.as_ref().clone().with_name(name))
        })
        .collect();
    if !renamed {
        return schema.clone();
    }
    std::sync::Arc::new(arrow_schema::Schema::new_with_metadata(fields, schema.metadata().clone()))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::StringArray;
    use arrow_schema::{DataType, Field, Schema};

    use super::*;

    #[test]
    fn columns_sharing_a_name_keep_their_values() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("distinct_id", DataType::Utf8, true),
            Field::new("distinct_id", DataType::Utf8, true),
            Field::new("distinct_id_2", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(vec!["a"])),
                Arc::new(StringArray::from(vec!["b"])),
                Arc::new(StringArray::from(vec!["c"])),
            ],
        )
        .unwrap();
        let table = query_table(&schema, &[batch]).unwrap();
        let names: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["distinct_id", "distinct_id_2_", "distinct_id_2"]);
        assert_eq!(
            table.rows[0],
            serde_json::json!({"distinct_id": "a", "distinct_id_2_": "b", "distinct_id_2": "c"})
        );
    }
}
