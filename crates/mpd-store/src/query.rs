//! SQL over the store's tables (DataFusion), and narrow column reads for dedup.

use std::collections::HashSet;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use chrono::NaiveDate;
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::config::ConfigOptions;
use datafusion::datasource::TableProvider;
use datafusion::execution::context::{SQLOptions, SessionConfig, SessionContext};
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::prelude::{DataFrame, col, lit};
use deltalake::DeltaTable;

use crate::head::Head;
use crate::{Error, Result, Store, schema};

pub(crate) mod day_files;
mod day_sorted;
mod json_rows;
mod local_reads;
mod page_indexes;
mod shared_ctes;
mod stored_columns;

pub use json_rows::{CappedTable, ColumnView, QueryTable};
pub(crate) use stored_columns::is_typed_text;
pub use stored_columns::{KIND_METADATA_KEY, PROPERTY_METADATA_KEY};

#[cfg(test)]
mod tests;

/// Name of the partition column `read_columns` selects days by.
pub const DATE_COLUMN: &str = "date";
/// The view of events with identities resolved.
pub const EVENTS_RESOLVED_VIEW: &str = "events_resolved";

/// A query's rows, all in memory.
#[derive(Debug, Clone)]
pub struct QueryResult {
    /// Schema of the rows (also when there are none).
    pub schema: SchemaRef,
    /// The rows.
    pub batches: Vec<RecordBatch>,
}

/// A SQL session and the table versions it was built on.
pub(crate) struct CachedSession {
    versions: Vec<(String, u64)>,
    context: SessionContext,
}

impl Store {
    /// Runs a read-only SQL query over every table of the store (each registered under its
    /// name) and collects the rows. JSON functions are available (`->`, `->>`,
    /// `json_get_str`, ...), and so is the view `events_resolved`: events plus
    /// `resolved_distinct_id = coalesce(identity_mappings.resolved_distinct_id, distinct_id)`,
    /// with one mapping per `distinct_id` (a `pipelines` one before a `derived` one).
    pub async fn sql(&self, query: &str) -> Result<QueryResult> {
        let frame = self.plan(query).await?;
        let schema = Arc::clone(frame.schema().inner());
        let batches = frame.collect().await.map_err(Error::from_datafusion)?;
        Ok(QueryResult { schema, batches })
    }

    /// [`Store::sql`] as a stream of batches, for outputs too big to hold.
    pub async fn sql_stream(&self, query: &str) -> Result<SendableRecordBatchStream> {
        let frame = self.plan(query).await?;
        frame.execute_stream().await.map_err(Error::from_datafusion)
    }

    /// Only `columns` of only the files of the given `date` partitions (all files when
    /// `dates` is None): the dedup path reads the key columns of the days a batch touches.
    pub async fn read_columns(
        &self,
        table: &str,
        columns: &[&str],
        dates: Option<&[NaiveDate]>,
    ) -> Result<Vec<RecordBatch>> {
        self.read_columns_where(table, columns, dates, None).await
    }

    /// [`Store::read_columns`] of the rows matching a SQL `predicate` over the table's columns
    /// (e.g. `insert_id IS NULL`), without building the store's SQL session.
    pub async fn read_columns_where(
        &self,
        table: &str,
        columns: &[&str],
        dates: Option<&[NaiveDate]>,
        predicate: Option<&str>,
    ) -> Result<Vec<RecordBatch>> {
        if let Some(dates) = dates {
            let head = self.head(table).await?;
            if let Some(pick) = day_files::live_files(&head, dates) {
                // Files of a table not partitioned by day also hold other days' rows.
                let day_filter = (!pick.partitioned).then(|| days_predicate(dates));
                let filter = match (predicate, day_filter) {
                    (Some(predicate), Some(days)) => Some(format!("({predicate}) AND {days}")),
                    (Some(predicate), None) => Some(predicate.to_owned()),
                    (None, days) => days,
                };
                return match filter {
                    None => {
                        let target = projected_schema(table, &head.arrow_schema(), columns)?;
                        day_files::read(table, &head, pick.files, columns, &target).await
                    }
                    Some(filter) => {
                        read_days_where(table, &head, pick.files, columns, &filter).await
                    }
                };
            }
        }
        let Some((mut frame, target)) = self.read_columns_frame(table, columns, dates).await?
        else {
            return Ok(Vec::new());
        };
        if let Some(predicate) = predicate {
            let filter = frame.parse_sql_expr(predicate).map_err(Error::from_datafusion)?;
            frame = frame.filter(filter).map_err(Error::from_datafusion)?;
        }
        let batches = frame.collect().await.map_err(Error::from_datafusion)?;
        // DataFusion may hand strings back as views; callers get the table's own types.
        batches.into_iter().map(|batch| schema::conform(table, batch, &target)).collect()
    }

    /// The plan of [`Store::read_columns`] and the schema of its rows in the table's types;
    /// None when no file can match.
    pub(crate) async fn read_columns_frame(
        &self,
        table: &str,
        columns: &[&str],
        dates: Option<&[NaiveDate]>,
    ) -> Result<Option<(DataFrame, SchemaRef)>> {
        let delta = self.load(table).await?;
        let state = delta.snapshot().map_err(|source| Error::delta(table, source))?;
        let table_schema = state.snapshot().arrow_schema();
        let target = projected_schema(table, &table_schema, columns)?;
        let mut provider = delta.table_provider();
        let mut filter = None;
        if let Some(dates) = dates {
            if state.metadata().partition_columns().iter().any(|c| c == DATE_COLUMN) {
                // Choosing the files up front (rather than hoping a filter is pushed down)
                // guarantees no other day's file is opened.
                let wanted: HashSet<String> =
                    dates.iter().map(|d| d.format("%Y-%m-%d").to_string()).collect();
                let paths: Vec<String> = state
                    .log_data()
                    .iter()
                    .filter(|file| {
                        file.partition_values_map()
                            .get(DATE_COLUMN)
                            .and_then(Option::as_deref)
                            .is_some_and(|day| wanted.contains(day))
                    })
                    .map(|file| file.path().into_owned())
                    .collect();
                if paths.is_empty() {
                    return Ok(None);
                }
                provider = provider.with_file_paths(paths);
            } else if table_schema.index_of(DATE_COLUMN).is_ok() {
                let days =
                    dates.iter().map(|d| lit(ScalarValue::Date32(Some(days_since_epoch(*d)))));
                filter = Some(col(DATE_COLUMN).in_list(days.collect(), false));
            } else {
                return Err(Error::SchemaMismatch {
                    table: table.to_owned(),
                    expected: format!("a `{DATE_COLUMN}` column to select days by"),
                    found: schema::describe(&table_schema),
                });
            }
        }
        let provider: Arc<dyn TableProvider> = provider.await.map_err(Error::from_datafusion)?;
        let context = SessionContext::new();
        let mut frame = context.read_table(provider).map_err(Error::from_datafusion)?;
        if let Some(filter) = filter {
            frame = frame.filter(filter).map_err(Error::from_datafusion)?;
        }
        let frame = frame.select_columns(columns).map_err(Error::from_datafusion)?;
        Ok(Some((frame, target)))
    }

    async fn plan(&self, query: &str) -> Result<DataFrame> {
        let context = self.session().await?;
        // Queries read: DDL or DML would change the shared session or write into tables.
        let options = SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false);
        let frame = context.sql_with_options(query, options).await.map_err(|error| {
            match Error::from_datafusion(error) {
                // The parser gives no position when the query ends too early: point at its end.
                Error::Sql { message, line: None, column: None }
                    if message.contains("found: EOF") =>
                {
                    let (line, column) = end_position(query);
                    Error::Sql { message, line: Some(line), column: Some(column) }
                }
                Error::Sql { message, line, column } => match refused_statement(&message) {
                    Some(kind) => Error::Sql {
                        message: format!(
                            "the store is read through SQL only: {kind} statements are refused \
                             (run SELECT, WITH ... SELECT or EXPLAIN; tables change through mpd's \
                             commands)"
                        ),
                        line,
                        column,
                    },
                    None => Error::Sql { message, line, column },
                },
                other => other,
            }
        })?;
        let (state, plan) = frame.into_parts();
        let plan = shared_ctes::compute_shared_ctes(&context, plan).await;
        Ok(DataFrame::new(state, plan))
    }

    /// The SQL session, rebuilt when a table was added, dropped or committed to since.
    async fn session(&self) -> Result<SessionContext> {
        let mut tables = Vec::new();
        for name in self.table_names().await? {
            let table = self.load(&name).await?;
            tables.push((name, table));
        }
        let versions: Vec<(String, u64)> = tables
            .iter()
            .map(|(name, t)| (name.clone(), t.version().unwrap_or_default()))
            .collect();
        let mut cached = self.session.lock().await;
        if let Some(session) = cached.as_ref()
            && session.versions == versions
        {
            return Ok(session.context.clone());
        }
        let session = self.build_session(tables).await?;
        tracing::debug!(tables = session.versions.len(), "sql session built");
        let context = session.context.clone();
        *cached = Some(session);
        Ok(context)
    }

    async fn build_session(&self, tables: Vec<(String, DeltaTable)>) -> Result<CachedSession> {
        let config = SessionConfig::from(engine_options()?).with_information_schema(true);
        let state = SessionStateBuilder::new()
            .with_config(config)
            .with_default_features()
            .with_physical_optimizer_rule(Arc::new(page_indexes::PageIndexWithFooter {
                // Canonical, as the scans name files: a store opened through a symlink too.
                local_root: self.root().and_then(|root| root.canonicalize().ok()),
            }))
            .build();
        let mut context = SessionContext::new_with_state(state);
        datafusion_functions_json::register_all(&mut context).map_err(Error::from_datafusion)?;
        context.add_analyzer_rule(Arc::new(stored_columns::StoredColumnsRule));
        let mut versions = Vec::new();
        for (name, table) in tables {
            versions.push((name.clone(), table.version().unwrap_or_default()));
            register(&context, &name, &table).await?;
        }
        let has = |table: &str| versions.iter().any(|(name, _)| name == table);
        if has("events") {
            let views: &[&str] = if has("identity_mappings") {
                &[RESOLVED_BY_SOURCE, RESOLVED_BY_ANY_MAPPING]
            } else {
                &[UNRESOLVED]
            };
            create_resolved_view(&context, views).await;
        }
        Ok(CachedSession { versions, context })
    }
}

/// mpd's choices of DataFusion settings, each overridable by DataFusion's own variable
/// (`DATAFUSION_EXECUTION_TARGET_PARTITIONS=4`, ...), which is how they were measured.
const ENGINE_SETTINGS: [(&str, &str); 6] = [
    ("datafusion.sql_parser.dialect", "postgres"),
    // Spans let planning errors (unknown column...) point at the query text too.
    ("datafusion.sql_parser.collect_spans", "true"),
    // Filters evaluated while the Parquet pages are decoded, cheapest first: with the page
    // index of event-sorted files, rows of other events are never decompressed
    // (docs/PERFORMANCE.md, "SQL").
    ("datafusion.execution.parquet.pushdown_filters", "true"),
    ("datafusion.execution.parquet.reorder_filters", "true"),
    // A hash join's build side would become a filter of the other side's scan (the id's
    // range and a hash lookup per row). Joins of events with events, as in funnels and
    // retention, meet ids from the whole range, so it skips nothing and costs a hash of every
    // scanned row: 20 funnels took 4.9–6.3 s of CPU with it, 3.4–3.6 s without
    // (docs/PERFORMANCE.md, "SQL").
    ("datafusion.optimizer.enable_join_dynamic_filter_pushdown", "false"),
    // The Parquet reader would keep the filter column's values it decoded to evaluate the
    // filter (every row of every page the page index kept), to hand the matching ones on
    // without decoding them again. For a filter on `event_name`, decoding the matching rows'
    // names again from their dictionary is cheaper than keeping all of them: revenue of
    // Purchase and a count of Page View took 15-25% less time without it on the bench's
    // imported and fetched stores, the funnel 5-15% (docs/PERFORMANCE.md, "SQL").
    ("datafusion.execution.parquet.max_predicate_cache_size", "0"),
];

/// DataFusion's settings from its `DATAFUSION_*` variables, with mpd's choices where no
/// variable says otherwise. A variable DataFusion cannot read is an error naming it.
fn engine_options() -> Result<ConfigOptions> {
    let mut options = ConfigOptions::from_env().map_err(Error::from_datafusion)?;
    for (key, value) in ENGINE_SETTINGS {
        let variable = key.to_uppercase().replace('.', "_");
        if std::env::var_os(variable).is_none() {
            options.set(key, value).map_err(Error::from_datafusion)?;
        }
    }
    Ok(options)
}

/// `events_resolved` over identity mappings from both sources: per `distinct_id`, a
/// `pipelines` mapping (Mixpanel's own) wins over a `derived` one. Grouping keeps at most one
/// mapping per id, so a second mapping of an id never doubles events. The mapping side's
/// columns get names of their own: with names shared with `events`, DataFusion 55 resolved
/// `resolved_distinct_id` to the mapping side in queries that also call JSON functions, so
/// unmapped users came out NULL.
const RESOLVED_BY_SOURCE: &str = "CREATE VIEW events_resolved AS \
     SELECT e.*, coalesce(m.mapped_to, e.distinct_id) AS resolved_distinct_id \
     FROM events e LEFT JOIN \
     (SELECT distinct_id AS mapped_from, \
             coalesce(min(CASE WHEN source = 'pipelines' THEN resolved_distinct_id END), \
                      min(resolved_distinct_id)) AS mapped_to \
      FROM identity_mappings GROUP BY distinct_id) m \
     ON e.distinct_id = m.mapped_from";

/// `events_resolved` for an `identity_mappings` table without a `source` column.
const RESOLVED_BY_ANY_MAPPING: &str = "CREATE VIEW events_resolved AS \
     SELECT e.*, coalesce(m.mapped_to, e.distinct_id) AS resolved_distinct_id \
     FROM events e LEFT JOIN \
     (SELECT distinct_id AS mapped_from, min(resolved_distinct_id) AS mapped_to \
      FROM identity_mappings GROUP BY distinct_id) m \
     ON e.distinct_id = m.mapped_from";

/// `events_resolved` when there are no mappings.
const UNRESOLVED: &str =
    "CREATE VIEW events_resolved AS SELECT *, distinct_id AS resolved_distinct_id FROM events";

/// Creates the first of `views` that plans; a table with unexpected columns must not make
/// every query fail, so none planning only leaves the view out.
async fn create_resolved_view(context: &SessionContext, views: &[&str]) {
    let mut last_error = None;
    for view in views {
        match context.sql(view).await {
            Ok(_) => return,
            Err(error) => last_error = Some(error),
        }
    }
    if let Some(error) = last_error {
        tracing::warn!(%error, "view {EVENTS_RESOLVED_VIEW} not created");
    }
}

async fn register(context: &SessionContext, name: &str, table: &DeltaTable) -> Result<()> {
    // deltalake would also put a query's filters into its Parquet scan; DataFusion's own
    // pushdown (the session's `pushdown_filters`) puts them there once more, and each row was
    // compared twice (`event_name = 'X' AND event_name = 'X'`). The log's statistics still
    // choose the files (docs/PERFORMANCE.md, "SQL").
    let mut scan_defaults = SessionConfig::new();
    scan_defaults.options_mut().execution.parquet.pushdown_filters = false;
    let scan_defaults = SessionStateBuilder::new().with_config(scan_defaults).build();
    let provider: Arc<dyn TableProvider> = table
        .table_provider()
        .with_session(Arc::new(scan_defaults))
        .await
        .map_err(Error::from_datafusion)?;
    context.register_table(name, provider).map_err(Error::from_datafusion)?;
    Ok(())
}

/// 1-based line and column just past the last character of `query`.
fn end_position(query: &str) -> (u64, u64) {
    let line = query.split('\n').count();
    let last = query.rsplit('\n').next().unwrap_or_default();
    (line as u64, last.chars().count() as u64 + 1)
}

/// The rows of the day `files` matching `predicate`: the columns it needs are read with
/// `columns` straight from the files, and the filter runs over those rows in memory.
async fn read_days_where(
    table: &str,
    head: &Head,
    files: Vec<day_files::DayFile>,
    columns: &[&str],
    predicate: &str,
) -> Result<Vec<RecordBatch>> {
    let table_schema = head.arrow_schema();
    let context = SessionContext::new();
    let known =
        DFSchema::try_from(table_schema.as_ref().clone()).map_err(Error::from_datafusion)?;
    let filter = context.parse_sql_expr(predicate, &known).map_err(Error::from_datafusion)?;
    let mut needed: Vec<&str> = columns.to_vec();
    for column in filter.column_refs() {
        if !needed.contains(&column.name()) {
            needed.push(column.name());
        }
    }
    let read_as = projected_schema(table, &table_schema, &needed)?;
    let batches = day_files::read(table, head, files, &needed, &read_as).await?;
    let target = projected_schema(table, &table_schema, columns)?;
    if batches.is_empty() {
        return Ok(Vec::new());
    }
    let rows = context
        .read_batches(batches)
        .and_then(|frame| frame.filter(filter))
        .and_then(|frame| frame.select_columns(columns))
        .map_err(Error::from_datafusion)?
        .collect()
        .await
        .map_err(Error::from_datafusion)?;
    rows.into_iter().map(|batch| schema::conform(table, batch, &target)).collect()
}

/// `columns` of `table` in the table's types, in the order asked.
fn projected_schema(table: &str, table_schema: &SchemaRef, columns: &[&str]) -> Result<SchemaRef> {
    let indices = columns
        .iter()
        .map(|column| {
            table_schema.index_of(column).map_err(|_| Error::SchemaMismatch {
                table: table.to_owned(),
                expected: schema::describe(table_schema),
                found: format!("a request for column `{column}`"),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let target = table_schema.project(&indices).map_err(|error| Error::SchemaMismatch {
        table: table.to_owned(),
        expected: schema::describe(table_schema),
        found: error.to_string(),
    })?;
    Ok(Arc::new(target))
}

/// `date IN (DATE '2024-05-31', ...)`.
fn days_predicate(dates: &[NaiveDate]) -> String {
    let days: Vec<String> =
        dates.iter().map(|d| format!("DATE '{}'", d.format("%Y-%m-%d"))).collect();
    format!("{DATE_COLUMN} IN ({})", days.join(", "))
}

pub(crate) fn days_since_epoch(day: NaiveDate) -> i32 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("the Unix epoch is a valid date");
    i32::try_from(day.signed_duration_since(epoch).num_days()).unwrap_or(i32::MAX)
}

/// The kind of statement DataFusion refused under the read-only options (`DDL`, `DML` or
/// `SET/other`), from its message: `DDL not supported: DropTable`.
fn refused_statement(message: &str) -> Option<String> {
    for (marker, kind) in [
        ("DDL not supported: ", "DDL"),
        ("DML not supported: ", "DML"),
        ("Statement not supported: ", "non-query"),
    ] {
        if let Some(rest) = message.split(marker).nth(1) {
            let name = rest.split_whitespace().next().unwrap_or_default();
            return Some(format!("{kind} ({name})"));
        }
    }
    None
}
