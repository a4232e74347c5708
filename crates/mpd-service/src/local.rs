//! SQL and inspection of the local store (`mpd query sql`, `mpd inspect info|tables|...`).

use std::path::{Path, PathBuf};

use mpd_store::{CappedTable, ColumnView, QueryTable};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::workspace::Workspace;

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
    Ok(ws.store().await?.sql_rows(query).await?)
}

/// [`sql`] stopped after `max_rows` rows (`Store::sql_rows_capped`).
pub(crate) async fn sql_capped(
    ws: &Workspace,
    query: &str,
    max_rows: usize,
) -> Result<CappedTable> {
    Ok(ws.store().await?.sql_rows_capped(query, max_rows).await?)
}

/// The store as the `--local` twins (`mpd_live::local`) see it: their SQL runs in the store's
/// session, over the `events_resolved` view (each event with its resolved user).
pub(crate) struct LocalSql<'a>(pub(crate) &'a Workspace);

impl mpd_live::local::EventsSql for LocalSql<'_> {
    type Error = Error;

    async fn resolved_events(&self) -> Result<String> {
        let store = self.0.store().await?;
        if !store.exists(EVENTS).await? {
            return Err(Error::Store(Box::new(mpd_store::Error::TableNotFound {
                table: EVENTS.to_owned(),
                available: store.table_names().await?,
            })));
        }
        Ok(format!(
            "SELECT event_name, time, date, properties, \
             coalesce(resolved_distinct_id, '') AS person FROM {}",
            mpd_store::EVENTS_RESOLVED_VIEW
        ))
    }

    async fn rows(&self, query: &str) -> Result<Vec<Value>> {
        Ok(sql(self.0, query).await?.rows)
    }
}

/// The table the `--local` twins read; its absence means nothing was synced yet.
const EVENTS: &str = "events";

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
    Ok(ColumnView::of_schema(&info.schema))
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
