//! `mpd sync events`: the window's days in order, each committed with the cursor it completes.
//!
//! Every commit holds a day's new rows **and** the new cursor (a Delta application transaction),
//! so a run stopped at any point leaves the table and its cursor agreeing, and the next run
//! re-reads from the cursor minus the lookback, deduplicating what is already stored.

use std::path::PathBuf;
use std::time::Instant;

use chrono::NaiveDate;
use futures_util::StreamExt;
use mpd_store::{Store, TableWriter, WriteMode};
use serde_json::{Map, Value};

use super::window::{SyncWindow, cursor_app_id, day_to_version, version_to_day};
use super::{EVENTS_TABLE, SyncRequest};
use crate::error::Result;
use crate::report::Reporter;
use crate::stream::range::{DayRange, EventSelection, RangeOutput, RunPlan};
use crate::table::batch_spool::BatchSpool;
use crate::table::erased::ErasedIds;
use crate::table::ingest::{BatchWork, Ingest, IngestCounts, IngestOptions};
use crate::table::layout::events_writer;
use crate::workspace::Workspace;

/// What `mpd sync events` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EventsSync {
    /// The table written.
    pub table: String,
    /// The days read and why.
    pub window: SyncWindow,
    /// The cursor before the run (last fully synced day).
    pub cursor_before: Option<NaiveDate>,
    /// The cursor after the run.
    pub cursor_after: Option<NaiveDate>,
    /// Delta commits made (days that changed nothing and did not move the cursor make none).
    pub commits: u64,
    /// Records received.
    pub fetched: u64,
    /// What became of them.
    #[serde(flatten)]
    pub counts: IngestCounts,
    /// Malformed lines quarantined.
    pub quarantined: u64,
    /// The quarantine file, when lines were quarantined.
    pub quarantine_file: Option<PathBuf>,
    /// Requests retried after a broken body.
    pub retries: u64,
    /// The sync id stamped on the new rows (`_sync_id`).
    pub sync_id: i64,
    /// The table's Delta version after the run.
    pub version: Option<i64>,
    /// Wall-clock seconds.
    pub elapsed_secs: f64,
}

/// The sync state that lives from commit to commit.
struct Progress<'a> {
    store: &'a Store,
    app_id: String,
    window: SyncWindow,
    cursor: Option<NaiveDate>,
    summary: EventsSync,
}

impl Workspace {
    /// The events window of `request` against the table's cursor, without fetching anything.
    pub(crate) async fn events_window(
        &self,
        request: &SyncRequest,
    ) -> Result<(SyncWindow, Option<NaiveDate>)> {
        let store = self.store().await?;
        let app_id = cursor_app_id(self.credentials().project_id, EVENTS_TABLE);
        let cursor = if store.exists(EVENTS_TABLE).await? {
            store.app_transaction_version(EVENTS_TABLE, &app_id).await?.and_then(version_to_day)
        } else {
            None
        };
        let lookback = request.lookback_days.unwrap_or(self.settings().lookback_days);
        let window =
            SyncWindow::new(cursor, self.today()?, lookback, request.from, request.backfill)?;
        Ok((window, cursor))
    }

    /// Syncs the `events` table (see the module docs).
    pub(crate) async fn sync_events(
        &self,
        request: &SyncRequest,
        reporter: &dyn Reporter,
    ) -> Result<EventsSync> {
        let started = Instant::now();
        let (window, cursor) = self.events_window(request).await?;
        let mut selection = EventSelection::days(window.from, window.to);
        selection.workers = request.workers.max(1);
        selection.allow_bad_lines = request.allow_bad_lines;
        let plan = self.plan(&selection)?;
        let store = self.store().await?;
        let exists = store.exists(EVENTS_TABLE).await?;
        let sync_id = if exists { store.version(EVENTS_TABLE).await? + 1 } else { 0 };
        tracing::info!(mode = ?window.mode, from = %window.from, to = %window.to, cursor = ?cursor, sync_id, "sync events");
        let mut ingest = Ingest::new(IngestOptions {
            store,
            table: EVENTS_TABLE,
            key_kind: self.key_kind(),
            sync_id,
            compare_with_store: exists,
            replace_audit: false,
            erased: ErasedIds::load(store).await?,
        })
        .await?;
        let mut progress = Progress {
            store,
            app_id: cursor_app_id(self.credentials().project_id, EVENTS_TABLE),
            window,
            cursor,
            summary: EventsSync {
                table: EVENTS_TABLE.to_owned(),
                window,
                cursor_before: cursor,
                cursor_after: cursor,
                commits: 0,
                fetched: 0,
                counts: IngestCounts::default(),
                quarantined: 0,
                quarantine_file: None,
                retries: 0,
                sync_id,
                version: None,
                elapsed_secs: 0.0,
            },
        };
        let outcome = self.sync_days(plan, request, reporter, &mut ingest, &mut progress).await;
        reporter.finished();
        if let Err(error) = outcome {
            ingest.abort().await;
            return Err(error);
        }
        let mut summary = progress.summary;
        if summary.version.is_none() && store.exists(EVENTS_TABLE).await? {
            summary.version = Some(store.version(EVENTS_TABLE).await?);
        }
        summary.elapsed_secs = started.elapsed().as_secs_f64();
        Ok(summary)
    }

    async fn sync_days(
        &self,
        plan: RunPlan,
        request: &SyncRequest,
        reporter: &dyn Reporter,
        ingest: &mut Ingest<'_>,
        progress: &mut Progress<'_>,
    ) -> Result<()> {
        let RunPlan { ranges, n_days, mut quarantine, filter, remaining: _, workers } = plan;
        reporter.started("events", n_days);
        let client = self.client()?;
        let sync_id = progress.summary.sync_id;
        let mut outputs = futures_util::stream::iter(ranges.iter().copied())
            .map(|range| {
                self.fetch_range(client, &filter, range, None, reporter, move || {
                    BatchWork::new(sync_id, None)
                })
            })
            .buffered(workers);
        while let Some(output) = outputs.next().await {
            let output = output?;
            progress.summary.fetched += output.records;
            progress.summary.retries += output.retries;
            quarantine.record(output.range.from, output.range.to, &output.bad)?;
            // Too many bad lines stop the run before the day is committed: the cursor stays
            // before it, so a re-run (with --allow-bad-lines) reads it again.
            (progress.summary.quarantined, progress.summary.quarantine_file) =
                quarantine.finish(request.allow_bad_lines)?;
            let (range, records) = (output.range, output.records);
            progress.commit_day(output, ingest).await?;
            reporter.days_finished(range.from, range.n_days(), records);
        }
        Ok(())
    }
}

impl Progress<'_> {
    /// Writes one request's rows and commits them with the cursor they complete.
    async fn commit_day(
        &mut self,
        output: RangeOutput<BatchSpool>,
        ingest: &mut Ingest<'_>,
    ) -> Result<()> {
        let range = output.range;
        let mut writer = events_writer(self.store, EVENTS_TABLE, WriteMode::Append).await?;
        if let Err(error) = write_all(output, ingest, &mut writer).await {
            let _ = writer.abort().await;
            return Err(error);
        }
        let counts = ingest.take_counts();
        let cursor = self.window.cursor_after(self.cursor, range.to);
        let changed = counts.written > 0 || counts.duplicates_rejected > 0;
        let table_missing = !self.store.exists(EVENTS_TABLE).await?;
        if !changed && cursor == self.cursor && !table_missing {
            writer.abort().await?;
            // Forget the day's keys all the same: a long re-read must not hold every day's.
            ingest.start_next_commit();
            self.summary.counts.add(counts);
            return Ok(());
        }
        let metadata = self.metadata(range, &counts, cursor);
        let committed = match cursor {
            Some(day) => {
                writer.commit_with_txn(metadata.clone(), &self.app_id, day_to_version(day)).await?
            }
            None => writer.commit(metadata.clone()).await?,
        };
        ingest.commit_audit(metadata).await?;
        ingest.start_next_commit();
        tracing::debug!(day = %range, version = committed.version, written = counts.written, cursor = ?cursor, "day committed");
        self.cursor = cursor;
        self.summary.cursor_after = cursor;
        self.summary.commits += 1;
        self.summary.version = Some(committed.version);
        self.summary.counts.add(counts);
        Ok(())
    }

    fn metadata(
        &self,
        range: DayRange,
        counts: &IngestCounts,
        cursor: Option<NaiveDate>,
    ) -> Map<String, Value> {
        let value = serde_json::json!({
            "command": "sync events",
            "mode": self.window.mode,
            "sync_id": self.summary.sync_id,
            "from": range.from.to_string(),
            "to": range.to.to_string(),
            "written": counts.written,
            "already_present": counts.already_present,
            "duplicates_rejected": counts.duplicates_rejected,
            "erased_dropped": counts.erased_dropped,
            "cursor": cursor.map(|c| c.to_string()),
        });
        crate::table::commit_metadata(value)
    }
}

async fn write_all(
    output: RangeOutput<BatchSpool>,
    ingest: &mut Ingest<'_>,
    writer: &mut TableWriter,
) -> Result<()> {
    for batch in output.output.into_batches()? {
        ingest.write(batch?, writer).await?;
    }
    Ok(())
}
