//! `mpd fetch events [TABLE]`: export → Arrow batches → dedup → one Delta commit.

use std::path::PathBuf;
use std::time::Instant;

use arrow_array::RecordBatch;
use chrono::NaiveDate;
use futures_util::StreamExt;
use mpd_store::{Store, TableWriter, WriteMode};

use super::batch_spool::BatchSpool;
use super::dedup::{Deduper, KeyKind, kept_rows, normalize_strings, rejected_rows};
use crate::error::{Error, Result};
use crate::report::Reporter;
use crate::stream::assemble::{BadLine, LineAssembler};
use crate::stream::range::{EventSelection, RangeWork, RunPlan};
use crate::workspace::Workspace;

/// Rows per decoded batch.
const BATCH_ROWS: usize = 32_768;
/// Bytes of one request's batches kept in memory before they go to a temporary file.
const SPOOL_MEMORY_LIMIT: usize = 16 << 20;

/// How a fetch treats an existing table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TableMode {
    /// The table must not exist (checked before any download).
    Create,
    /// Add to the table, deduplicated against what it holds.
    Append,
    /// Replace every row in one commit.
    Replace,
}

/// What to fetch into which table.
#[derive(Debug, Clone)]
pub struct FetchEventsRequest {
    /// Table name (default `events`).
    pub table: String,
    /// Create, append or replace.
    pub mode: TableMode,
    /// Which events, and how they are requested. Malformed lines beyond those allowed fail
    /// the run before anything is committed.
    pub selection: EventSelection,
}

/// What a fetch into a table did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct FetchSummary {
    /// The table written.
    pub table: String,
    /// Days requested.
    pub days: u64,
    /// Records received (after malformed lines were set aside).
    pub fetched: u64,
    /// Rows added to the table.
    pub written: u64,
    /// Rows already stored with the same key and processing time (re-reads).
    pub already_present: u64,
    /// True duplicates written to the audit table by this run.
    pub duplicates_rejected: u64,
    /// True duplicates the audit table already held.
    pub duplicates_already_audited: u64,
    /// The audit table, when it was written.
    pub audit_table: Option<String>,
    /// Malformed lines quarantined.
    pub quarantined: u64,
    /// The quarantine file, when lines were quarantined.
    pub quarantine_file: Option<PathBuf>,
    /// Requests retried after a broken body.
    pub retries: u64,
    /// The sync id stamped on the new rows (`_sync_id`).
    pub sync_id: i64,
    /// The table's Delta version after the commit.
    pub version: i64,
    /// Wall-clock seconds.
    pub elapsed_secs: f64,
}

/// The audit table that goes with `table`.
pub(crate) fn audit_table_name(table: &str) -> String {
    if table == "events" {
        "rejected_duplicates".to_owned()
    } else {
        format!("{table}_rejected_duplicates")
    }
}

impl Workspace {
    /// Fetches events into a table of the store: day by day, decoded to Arrow, deduplicated
    /// (PRODUCT.md §4) and committed as one Delta commit. An existing table is refused with
    /// [`TableMode::Create`] before anything is downloaded.
    pub async fn fetch_events(
        &self,
        request: &FetchEventsRequest,
        reporter: &dyn Reporter,
    ) -> Result<FetchSummary> {
        let started = Instant::now();
        let plan = self.plan(&request.selection)?;
        let store = self.store().await?;
        let table = request.table.as_str();
        let exists = store.exists(table).await?;
        if exists && request.mode == TableMode::Create {
            return Err(mpd_store::Error::TableExists { table: table.to_owned() }.into());
        }
        let sync_id = if exists { store.table_info(table).await?.version + 1 } else { 0 };
        let audit_table = audit_table_name(table);
        let events_mode = match request.mode {
            TableMode::Replace => WriteMode::Replace,
            TableMode::Create | TableMode::Append => WriteMode::Append,
        };
        let mut writer = store
            .writer(table, mpd_decode::events_schema(), &[mpd_store::DATE_COLUMN], events_mode)
            .await?;
        let mut run = Run {
            store,
            table,
            audit_table: &audit_table,
            compare_with_store: exists && request.mode == TableMode::Append,
            audit_exists: store.exists(&audit_table).await?,
            deduper: Deduper::new(self.key_kind(), sync_id),
            audit_writer: None,
            replace_audit: request.mode == TableMode::Replace,
            summary: FetchSummary { table: table.to_owned(), sync_id, ..FetchSummary::default() },
        };
        let outcome = self.fetch_into(plan, request, reporter, &mut run, &mut writer).await;
        let mut summary = match outcome {
            Ok(()) => std::mem::take(&mut run.summary),
            Err(error) => {
                if let Err(abort) = writer.abort().await {
                    tracing::warn!(%abort, "could not remove the files of the failed fetch");
                }
                if let Some(audit) = run.audit_writer.take() {
                    let _ = audit.abort().await;
                }
                return Err(error);
            }
        };
        let metadata = commit_metadata(request, &summary);
        let committed = writer.commit(metadata.clone()).await?;
        summary.version = committed.version;
        if let Some(audit) = run.audit_writer.take() {
            audit.commit(metadata).await?;
            summary.audit_table = Some(audit_table.clone());
        }
        summary.elapsed_secs = started.elapsed().as_secs_f64();
        Ok(summary)
    }

    async fn fetch_into(
        &self,
        plan: RunPlan,
        request: &FetchEventsRequest,
        reporter: &dyn Reporter,
        run: &mut Run<'_>,
        writer: &mut TableWriter,
    ) -> Result<()> {
        let RunPlan { ranges, n_days, mut quarantine, filter, remaining, workers } = plan;
        run.summary.days = n_days;
        reporter.started("events", n_days);
        let client = self.client()?;
        let sync_id = run.summary.sync_id;
        let mut outputs = futures_util::stream::iter(ranges.iter().copied())
            .map(|range| {
                let limit = remaining.remaining();
                self.fetch_range(client, &filter, range, limit, reporter, move || BatchWork {
                    assembler: LineAssembler::default(),
                    builder: mpd_decode::EventBatchBuilder::new(
                        mpd_decode::LineFormat::Export,
                        mpd_decode::TimeCorrection::None,
                        sync_id,
                        BATCH_ROWS,
                    ),
                    spool: BatchSpool::new(mpd_decode::events_schema(), SPOOL_MEMORY_LIMIT),
                    bad: Vec::new(),
                    records: 0,
                    cap: limit.map_or(u64::MAX, u64::from),
                })
            })
            .buffered(workers);
        while let Some(output) = outputs.next().await {
            let output = output?;
            run.summary.fetched += output.records;
            run.summary.retries += output.retries;
            quarantine.record(output.range.from, output.range.to, &output.bad)?;
            for batch in output.output.into_batches()? {
                run.write(batch?, writer).await?;
            }
            reporter.days_finished(output.range.from, output.range.n_days(), output.records);
            if remaining.spend(output.records) {
                break;
            }
        }
        drop(outputs);
        reporter.finished();
        (run.summary.quarantined, run.summary.quarantine_file) =
            quarantine.finish(request.selection.allow_bad_lines)?;
        Ok(())
    }

    fn key_kind(&self) -> KeyKind {
        match self.settings().dedup_key {
            mpd_config::DedupKey::InsertIdTime => KeyKind::InsertIdTime,
            mpd_config::DedupKey::Mixpanel => KeyKind::Mixpanel,
        }
    }
}

/// The state of one fetch across its requests.
struct Run<'a> {
    store: &'a Store,
    table: &'a str,
    audit_table: &'a str,
    compare_with_store: bool,
    audit_exists: bool,
    deduper: Deduper,
    audit_writer: Option<TableWriter>,
    replace_audit: bool,
    summary: FetchSummary,
}

impl Run<'_> {
    /// Deduplicates one fetched batch and writes what survives (and the audit rows).
    async fn write(&mut self, batch: RecordBatch, writer: &mut TableWriter) -> Result<()> {
        let dates = self.deduper.unloaded_dates(&batch)?;
        if !dates.is_empty() {
            if self.compare_with_store {
                self.load_stored_keys(&dates).await?;
            }
            self.deduper.mark_loaded(&dates);
        }
        let verdicts = self.deduper.judge(&batch)?;
        self.summary.already_present += verdicts.already_present;
        self.summary.duplicates_already_audited += verdicts.already_audited;
        if !verdicts.rejected.is_empty() {
            let audit = rejected_rows(&batch, &verdicts.rejected, now_us())?;
            self.summary.duplicates_rejected += audit.num_rows() as u64;
            self.audit_writer().await?.write(audit).await?;
        }
        let kept = kept_rows(&batch, verdicts.keep)?;
        self.summary.written += kept.num_rows() as u64;
        if kept.num_rows() > 0 {
            writer.write(kept).await?;
        }
        Ok(())
    }

    /// Loads the stored keys of `dates` (and the audit table's), reading only key columns of
    /// those partitions.
    async fn load_stored_keys(&mut self, dates: &[i32]) -> Result<()> {
        let days: Vec<NaiveDate> = dates.iter().filter_map(|d| date32_to_day(*d)).collect();
        let key_columns =
            ["event_name", "distinct_id", "insert_id", "time", "mp_processing_time", "_sync_id"];
        let mut without_insert_id = 0;
        for stored in self.store.read_columns(self.table, &key_columns, Some(&days)).await? {
            without_insert_id += self.deduper.remember(&normalize_strings(stored)?)?;
        }
        // Rows without $insert_id are keyed by their properties too; they are rare, so only
        // they are read again with that column, and only when there are any.
        if without_insert_id > 0 {
            for stored in self.rows_without_insert_id(self.table, &days).await? {
                self.deduper.remember(&normalize_strings(stored)?)?;
            }
        }
        if self.audit_exists {
            let audit_columns =
                ["event_name", "distinct_id", "insert_id", "time", "mp_processing_time"];
            let mut without_insert_id = 0;
            for audited in
                self.store.read_columns(self.audit_table, &audit_columns, Some(&days)).await?
            {
                without_insert_id += self.deduper.remember_audited(&normalize_strings(audited)?)?;
            }
            if without_insert_id > 0 {
                for audited in self.rows_without_insert_id(self.audit_table, &days).await? {
                    self.deduper.remember_audited(&normalize_strings(audited)?)?;
                }
            }
        }
        Ok(())
    }

    async fn rows_without_insert_id(
        &self,
        table: &str,
        days: &[NaiveDate],
    ) -> Result<Vec<RecordBatch>> {
        let list: Vec<String> = days.iter().map(|d| format!("DATE '{d}'")).collect();
        let sync = if table == self.table { ", _sync_id" } else { "" };
        let query = format!(
            "SELECT event_name, distinct_id, insert_id, time, mp_processing_time, properties{sync} \
             FROM \"{table}\" WHERE insert_id IS NULL AND date IN ({})",
            list.join(", ")
        );
        Ok(self.store.sql(&query).await?.batches)
    }

    async fn audit_writer(&mut self) -> Result<&mut TableWriter> {
        if self.audit_writer.is_none() {
            let mode = if self.replace_audit { WriteMode::Replace } else { WriteMode::Append };
            let writer = self
                .store
                .writer(
                    self.audit_table,
                    mpd_decode::rejected_duplicates_schema(),
                    &[mpd_store::DATE_COLUMN],
                    mode,
                )
                .await?;
            self.audit_writer = Some(writer);
        }
        self.audit_writer
            .as_mut()
            .ok_or_else(|| Error::Internal("audit writer vanished".to_owned()))
    }
}

/// One attempt at a request for a table: lines become Arrow batches in a spool.
struct BatchWork {
    assembler: LineAssembler,
    builder: mpd_decode::EventBatchBuilder,
    spool: BatchSpool,
    bad: Vec<BadLine>,
    records: u64,
    cap: u64,
}

impl RangeWork for BatchWork {
    type Output = BatchSpool;

    fn consume(mut self, batch: &mpd_api::LineBatch) -> Result<Self> {
        for line in batch.iter() {
            self.records +=
                self.assembler.push(line.number, line.bytes, &mut self.builder, &mut self.bad);
            if self.builder.is_full()
                && let Some(full) = self.builder.finish()
            {
                self.spool.push(full)?;
            }
            if self.records >= self.cap {
                break;
            }
        }
        Ok(self)
    }

    fn records(&self) -> u64 {
        self.records
    }

    fn finish(mut self, hit_cap: bool) -> Result<(BatchSpool, Vec<BadLine>)> {
        if !hit_cap {
            self.assembler.finish(&mut self.bad);
        }
        if let Some(rest) = self.builder.finish() {
            self.spool.push(rest)?;
        }
        Ok((self.spool, self.bad))
    }
}

fn commit_metadata(
    request: &FetchEventsRequest,
    summary: &FetchSummary,
) -> serde_json::Map<String, serde_json::Value> {
    let value = serde_json::json!({
        "command": "fetch events",
        "mode": request.mode,
        "from": request.selection.from.to_string(),
        "to": request.selection.to.to_string(),
        "events": request.selection.events,
        "where": request.selection.where_expr,
        "limit": request.selection.limit,
        "sync_id": summary.sync_id,
        "fetched": summary.fetched,
        "written": summary.written,
        "already_present": summary.already_present,
        "duplicates_rejected": summary.duplicates_rejected,
        "quarantined": summary.quarantined,
    });
    match value {
        serde_json::Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}

fn date32_to_day(days: i32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(1970, 1, 1)?.checked_add_signed(chrono::Duration::days(i64::from(days)))
}

fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}
