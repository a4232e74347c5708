//! Tools over the store: tables, their description, sample rows, read-only SQL, and the sync
//! (its status always; running it only on a server started with `--allow-write`).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use mpd_service::{SilentReporter, SyncRequest, TableView};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::{ErrorData, tool, tool_router};
use serde_json::{Value, json};

use super::{bad_argument, failure, success};
use crate::args::{SampleArgs, SqlArgs, SyncArgs, TableArgs, day};
use crate::render::{self, Bounds, RowFormat};
use crate::server::MpdServer;

/// Rows a `sql` answer holds when the client does not say.
const DEFAULT_SQL_ROWS: usize = 100;
/// Rows `describe_table` reads to find the common keys of `properties`.
const PROPERTY_SAMPLE_ROWS: usize = 2000;
/// Keys of `properties` `describe_table` lists.
const TOP_PROPERTIES: usize = 25;
/// Example values per key.
const EXAMPLES: usize = 3;

#[tool_router(router = read_tools, vis = "pub(crate)")]
impl MpdServer {
    /// The store's tables with rows, files and last command.
    #[tool(
        description = "List the store's tables (events, profiles, identity_mappings, ...) with their row and file counts and the command that last wrote each. Costs no Mixpanel requests.",
        annotations(read_only_hint = true)
    )]
    async fn list_tables(&self) -> Result<CallToolResult, ErrorData> {
        match self.workspace.table_list().await {
            Ok(tables) if tables.is_empty() => {
                Ok(success("The store has no tables yet: sync or fetch some data first."))
            }
            Ok(tables) => Ok(success(tables_text(&tables))),
            Err(error) => Ok(failure(&error)),
        }
    }

    /// Columns, counts, days and common properties of one table.
    #[tool(
        description = "Describe one table: columns and types, row count, the days it holds, and the most common keys of its JSON `properties` with example values. Read this before writing SQL.",
        annotations(read_only_hint = true)
    )]
    async fn describe_table(
        &self,
        Parameters(args): Parameters<TableArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        match tokio::time::timeout(self.options.query_timeout, self.describe(&args.table)).await {
            Ok(Ok(text)) => Ok(success(text)),
            Ok(Err(error)) => Ok(failure(&error)),
            Err(_) => Ok(self.timed_out("describing the table")),
        }
    }

    /// A few random rows.
    #[tool(
        description = "A few random rows of a table (default 5, at most 50), long values cut.",
        annotations(read_only_hint = true)
    )]
    async fn sample_rows(
        &self,
        Parameters(args): Parameters<SampleArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let n = args.n.unwrap_or(5).clamp(1, 50);
        let sample = self.workspace.sample(&args.table, n);
        match tokio::time::timeout(self.options.query_timeout, sample).await {
            Ok(Ok(rows)) => {
                Ok(success(render::rows(&rows, RowFormat::Json, Bounds::default(), None)))
            }
            Ok(Err(error)) => Ok(failure(&error)),
            Err(_) => Ok(self.timed_out("sampling the table")),
        }
    }

    /// Read-only SQL with a row cap and a timeout.
    #[tool(
        description = "Run one read-only SQL query over the store (Apache DataFusion; SELECT/WITH/EXPLAIN only, DDL and DML are refused). Answers hold at most max_rows rows (default 100) and say when the query had more; errors give the line and column. Costs no Mixpanel requests.",
        annotations(read_only_hint = true)
    )]
    async fn sql(
        &self,
        Parameters(args): Parameters<SqlArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let cap = args
            .max_rows
            .map_or(DEFAULT_SQL_ROWS, |n| n as usize)
            .clamp(1, self.options.max_rows.max(1));
        let run = self.workspace.sql_capped(&args.query, cap);
        let answer = match tokio::time::timeout(self.options.query_timeout, run).await {
            Ok(answer) => answer,
            Err(_) => return Ok(self.timed_out("the query")),
        };
        match answer {
            Ok(capped) => Ok(success(render::rows(
                &capped.table,
                args.format,
                Bounds::default(),
                capped.truncated.then_some(cap),
            ))),
            Err(error) => Ok(failure(&error)),
        }
    }

    /// The sync cursor, last commit and counts.
    #[tool(
        description = "How current the store is: the last fully synced day (the sync cursor), the days the events table holds, its last commit (when, which command, rows written) and every table's row count. Costs no Mixpanel requests.",
        annotations(read_only_hint = true)
    )]
    async fn sync_status(&self) -> Result<CallToolResult, ErrorData> {
        match self.status().await {
            Ok(value) => Ok(success(render::json(&value, Bounds::default()))),
            Err(error) => Ok(failure(&error)),
        }
    }
}

#[tool_router(router = write_tools, vis = "pub(crate)")]
impl MpdServer {
    /// Brings the store up to date from Mixpanel.
    #[tool(
        description = "Bring the store up to date from Mixpanel, exactly once: new and late events since the cursor, identity mappings, a profiles snapshot. A first sync needs from_date. Spends export requests (60/hour; one per day read) and, for profiles, Query API requests; dry_run says how many without sending them.",
        annotations(read_only_hint = false, destructive_hint = false, idempotent_hint = true)
    )]
    async fn sync(
        &self,
        Parameters(args): Parameters<SyncArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let target = match args.target() {
            Ok(target) => target,
            Err(bad) => return Ok(bad_argument(bad.0)),
        };
        let mut request = SyncRequest::new(target);
        request.dry_run = args.dry_run;
        request.chunk_days = match args.chunk_days() {
            Ok(days) => days,
            Err(bad) => return Ok(bad_argument(bad.0)),
        };
        if let Some(from) = &args.from_date {
            match day(from, "from_date") {
                Ok(from) => request.from = Some(from),
                Err(bad) => return Ok(bad_argument(bad.0)),
            }
        }
        // The sync's request pipeline is not `Send`: it runs on a blocking thread of this
        // runtime instead of a task.
        let workspace = Arc::clone(&self.workspace);
        let runtime = tokio::runtime::Handle::current();
        let run = move || runtime.block_on(workspace.sync(&request, &SilentReporter));
        let Ok(answer) = tokio::task::spawn_blocking(run).await else {
            return Ok(bad_argument("the sync stopped unexpectedly; run `mpd sync` to see why"));
        };
        match answer {
            Ok(report) => {
                let value = serde_json::to_value(&report).unwrap_or(Value::Null);
                Ok(success(render::json(&value, Bounds::default())))
            }
            Err(error) => Ok(failure(&error)),
        }
    }
}

impl MpdServer {
    /// What a tool says when `what` ran past the query timeout.
    fn timed_out(&self, what: &str) -> CallToolResult {
        bad_argument(format!(
            "{what} ran longer than {} s and was stopped: filter on `date`, aggregate, or add \
             LIMIT (the server's --query-timeout)",
            self.options.query_timeout.as_secs_f64()
        ))
    }

    async fn describe(&self, table: &str) -> mpd_service::Result<String> {
        let columns = self.workspace.table_schema(table).await?;
        let view = self.workspace.table_list().await?.into_iter().find(|t| t.name == table);
        let mut text = String::new();
        if let Some(view) = &view {
            let rows = view.rows.map_or_else(|| "unknown".to_owned(), |n| n.to_string());
            let _ = write!(text, "table {table}: {rows} rows in {} files", view.files);
            if !view.partitioned_by.is_empty() {
                let _ = write!(text, ", partitioned by {}", view.partitioned_by);
            }
            text.push('\n');
        }
        if columns.iter().any(|c| c.name == "date") {
            let (first, last) = self.days_of(table).await?;
            match (first, last) {
                (Some(first), Some(last)) => {
                    let _ = writeln!(text, "days: {first} to {last}");
                }
                _ => text.push_str("days: none (the table is empty)\n"),
            }
        }
        text.push_str("columns:\n");
        for column in &columns {
            let null = if column.nullable { "" } else { " not null" };
            let _ = writeln!(text, "  {} {}{null}", column.name, column.data_type);
        }
        if columns.iter().any(|c| c.name == "properties") {
            text.push_str(&self.common_properties(table).await?);
        }
        Ok(text)
    }

    /// The first and last `date` of a table, as `YYYY-MM-DD`.
    pub(crate) async fn days_of(
        &self,
        table: &str,
    ) -> mpd_service::Result<(Option<String>, Option<String>)> {
        let query = format!(
            "SELECT CAST(min(date) AS VARCHAR) AS first, CAST(max(date) AS VARCHAR) AS last \
             FROM \"{table}\""
        );
        let answer = self.workspace.sql_capped(&query, 1).await?;
        let row = answer.table.rows.first();
        let text =
            |key: &str| row.and_then(|r| r.get(key)).and_then(Value::as_str).map(str::to_owned);
        Ok((text("first"), text("last")))
    }

    async fn common_properties(&self, table: &str) -> mpd_service::Result<String> {
        let query = format!("SELECT properties FROM \"{table}\"");
        let sample = self.workspace.sql_capped(&query, PROPERTY_SAMPLE_ROWS).await?;
        let mut keys: HashMap<String, (usize, Vec<String>)> = HashMap::new();
        for row in &sample.table.rows {
            let Some(Value::String(text)) = row.get("properties") else { continue };
            let Ok(Value::Object(properties)) = serde_json::from_str::<Value>(text) else {
                continue;
            };
            for (key, value) in properties {
                let entry = keys.entry(key).or_default();
                entry.0 += 1;
                let example = match value {
                    Value::String(s) => render::cut_text(&s, 40),
                    other => render::cut_text(&other.to_string(), 40),
                };
                if entry.1.len() < EXAMPLES && !entry.1.contains(&example) {
                    entry.1.push(example);
                }
            }
        }
        let mut keys: Vec<(String, (usize, Vec<String>))> = keys.into_iter().collect();
        keys.sort_by(|a, b| b.1.0.cmp(&a.1.0).then_with(|| a.0.cmp(&b.0)));
        let mut text = format!(
            "properties (JSON keys in {} sampled rows, most common first; read them with \
             properties ->> 'key' or json_get_float(properties, 'key')):\n",
            sample.table.rows.len()
        );
        for (key, (count, examples)) in keys.iter().take(TOP_PROPERTIES) {
            let _ = writeln!(text, "  {key}: in {count} rows, e.g. {}", examples.join(", "));
        }
        if keys.len() > TOP_PROPERTIES {
            let _ =
                writeln!(text, "  [cut: {} rarer keys not listed]", keys.len() - TOP_PROPERTIES);
        }
        Ok(text)
    }

    async fn status(&self) -> mpd_service::Result<Value> {
        let tables = self.workspace.table_list().await?;
        let counts: Vec<Value> = tables
            .iter()
            .map(|t| json!({"table": t.name, "rows": t.rows, "version": t.version, "last_command": t.last_command}))
            .collect();
        if !tables.iter().any(|t| t.name == "events") {
            return Ok(json!({
                "events": "no events table yet: a sync with from_date (or `mpd sync --from DAY`) creates it",
                "tables": counts,
            }));
        }
        let history = self.workspace.table_history("events", Some(1)).await?;
        // The cursor and the days held come from the Delta log: no data read.
        let coverage = self.workspace.events_coverage().await?;
        let cursor = coverage.cursor.map(|day| day.to_string());
        let last = history.first().map(|entry| {
            json!({
                "version": entry.version,
                "timestamp": entry.timestamp,
                "command": entry.command,
                "written": entry.written,
                "already_present": entry.already_present,
                "duplicates_rejected": entry.duplicates_rejected,
            })
        });
        let (first, last_day) = (coverage.days.first(), coverage.days.last());
        Ok(json!({
            "cursor": cursor,
            "cursor_means": "the last day every event of which is in the store; later days are read again by the next sync",
            "events_days": {"first": first, "last": last_day},
            "last_events_commit": last,
            "tables": counts,
        }))
    }
}

fn tables_text(tables: &[TableView]) -> String {
    let mut text = String::from("table | rows | files | size_bytes | version | last_command\n");
    for t in tables {
        let rows = t.rows.map_or_else(|| "?".to_owned(), |n| n.to_string());
        let command = t.last_command.as_deref().unwrap_or("-");
        let _ = writeln!(
            text,
            "{} | {rows} | {} | {} | {} | {command}",
            t.name, t.files, t.size_bytes, t.version
        );
    }
    text.push_str(
        "The view events_resolved (events plus resolved_distinct_id) is also queryable.\n",
    );
    text
}
