//! `mpd sync events`: the window's days in order, committed in groups of consecutive days with
//! the cursor they complete.
//!
//! Every commit holds its days' new rows **and** the new cursor (a Delta application transaction),
//! so a run stopped at any point leaves the table and its cursor agreeing, and the next run
//! re-reads from the cursor minus the lookback, deduplicating what is already stored.

use std::path::PathBuf;
use std::time::Instant;

use chrono::NaiveDate;
use mpd_ingest::BatchSpool;
use mpd_ingest::erased::ErasedIds;
use mpd_ingest::layout::events_writer;
use mpd_ingest::{Ingest, IngestCounts, IngestOptions};
use mpd_store::CommitInfo;
use mpd_store::{Store, TableWriter, WriteMode};
use serde_json::{Map, Value};

use super::planner::{self, ChunkChoice, PlanInputs, RequestPlan};
use super::window::{SyncWindow, cursor_app_id, day_to_version, events_cursor};
use super::{EVENTS_TABLE, SyncRequest};
use crate::error::Result;
use crate::report::Reporter;
use crate::stream::quarantine::Quarantine;
use crate::stream::range::{DayRange, EventSelection, RangeOutput, RunPlan};
use crate::stream::requests::BadLinePolicy;
use crate::stream::work::{batch_work, spool_budget};
use crate::table::mode_name;
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
    /// Delta commits made: groups of days up to `sync_commit_rows` rows or 31 days (days that
    /// changed nothing and did not move the cursor make none).
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
    /// Days Mixpanel cut short on every try, fetched in smaller requests instead.
    pub split_days: Vec<NaiveDate>,
    /// The sync id stamped on the new rows (`_sync_id`).
    pub sync_id: i64,
    /// The table's Delta version after the run.
    pub version: Option<i64>,
    /// Wall-clock seconds.
    pub elapsed_secs: f64,
}

/// Stored days whose volume the planner looks at (the busiest of them).
const RECENT_DAYS: usize = 14;

/// Days longest kept in one commit: a month, so a long first run still commits regularly.
const MAX_COMMIT_DAYS: i64 = 31;

/// The sync state that lives from commit to commit.
struct Progress<'a> {
    store: &'a Store,
    app_id: String,
    window: SyncWindow,
    cursor: Option<NaiveDate>,
    /// Rows fetched before the open group is committed.
    commit_rows: u64,
    /// The typed property columns of the events table.
    typed: mpd_decode::TypedProperties,
    /// The events table's version this run last read or wrote (`None`: there was no table):
    /// each commit must land right after it (another writer in between fails the commit
    /// instead of doubling rows).
    read_version: Option<i64>,
    /// Days written but not committed yet.
    open: Option<OpenGroup>,
    summary: EventsSync,
}

/// Consecutive days written through one writer, committed together with the cursor.
struct OpenGroup {
    writer: TableWriter,
    from: NaiveDate,
    to: NaiveDate,
    fetched: u64,
}

impl Workspace {
    /// The events window of `request` against the table's cursor, without fetching anything.
    pub(crate) async fn events_window(
        &self,
        request: &SyncRequest,
    ) -> Result<(SyncWindow, Option<NaiveDate>)> {
        // The account first: a sync needs Mixpanel, and its default store needs the project.
        let project_id = self.credentials()?.project_id;
        let cursor = events_cursor(self.store().await?, project_id).await?;
        let lookback = request.lookback_days.unwrap_or(self.settings().lookback_days);
        let window =
            SyncWindow::new(cursor, self.today()?, lookback, request.from, request.backfill)?;
        Ok((window, cursor))
    }

    /// How `window`'s days are cut into export requests (`planner.rs`): the busiest of the
    /// last stored days (from the Delta log's row counts, no data read) bounds a response.
    pub(crate) async fn events_request_plan(
        &self,
        window: &SyncWindow,
        request: &SyncRequest,
    ) -> Result<RequestPlan> {
        let blind = self.request_plan(window.n_days(), request, None);
        if matches!(blind.choice, ChunkChoice::OneDayFits | ChunkChoice::Forced) {
            // The volume changes nothing (an hourly run's few days): no walk of the file list.
            return Ok(blind);
        }
        let store = self.store().await?;
        let daily_events = if store.exists(EVENTS_TABLE).await? {
            let rows = store.rows_per_partition(EVENTS_TABLE, "date").await?;
            rows.values().rev().take(RECENT_DAYS).max().copied()
        } else {
            None
        };
        Ok(self.request_plan(window.n_days(), request, daily_events))
    }

    fn request_plan(
        &self,
        n_days: u64,
        request: &SyncRequest,
        daily_events: Option<u64>,
    ) -> RequestPlan {
        planner::plan(PlanInputs {
            n_days,
            budget_per_hour: self.settings().export_per_hour,
            forced: request.chunk_days,
            daily_events,
            max_events_per_request: self.settings().sync_commit_rows.max(1),
        })
    }

    /// Syncs the `events` table (see the module docs).
    pub(crate) async fn sync_events(
        &self,
        request: &SyncRequest,
        reporter: &dyn Reporter,
    ) -> Result<EventsSync> {
        let started = Instant::now();
        let (window, cursor) = self.events_window(request).await?;
        let requests = self.events_request_plan(&window, request).await?;
        let mut selection = EventSelection::days(window.from, window.to);
        selection.workers = request.workers.max(1);
        selection.allow_bad_lines = request.allow_bad_lines;
        selection.chunk_days = requests.chunk_days;
        // Every phase's bad lines go to one file.
        selection.quarantine_path =
            Some(self.quarantine_file_path("events", window.from, window.to)?);
        let store = self.store().await?;
        let exists = store.exists(EVENTS_TABLE).await?;
        let sync_id = crate::table::next_sync_id(store, EVENTS_TABLE).await?;
        tracing::info!(mode = ?window.mode, from = %window.from, to = %window.to, cursor = ?cursor, sync_id, "sync events");
        let mut ingest = Ingest::new(IngestOptions {
            store,
            table: EVENTS_TABLE,
            key_kind: self.key_kind(),
            sync_id,
            compare_with_store: exists,
            replace_audit: false,
            erased: ErasedIds::load(store).await?,
            held_keys_limit: None,
        })
        .await?;
        let mut progress = Progress {
            store,
            app_id: cursor_app_id(self.credentials()?.project_id, EVENTS_TABLE),
            window,
            cursor,
            commit_rows: self.settings().sync_commit_rows.max(1),
            typed: crate::table::typed::typed_for(self, store, EVENTS_TABLE, WriteMode::Append)
                .await?,
            read_version: if store.exists(EVENTS_TABLE).await? {
                Some(store.version(EVENTS_TABLE).await?)
            } else {
                None
            },
            open: None,
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
                split_days: Vec::new(),
                sync_id,
                version: None,
                elapsed_secs: 0.0,
            },
        };
        let mut outcome = self
            .sync_phases(selection, requests, request, reporter, &mut ingest, &mut progress)
            .await;
        if outcome.is_ok() {
            outcome = progress.commit_open(&mut ingest).await;
        }
        reporter.finished();
        if let Err(error) = outcome {
            progress.abort().await;
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

    /// The window's requests; with no volume known yet, the first day alone first, then the
    /// rest cut by the volume it showed.
    async fn sync_phases(
        &self,
        mut selection: EventSelection,
        requests: RequestPlan,
        request: &SyncRequest,
        reporter: &dyn Reporter,
        ingest: &mut Ingest<'_>,
        progress: &mut Progress<'_>,
    ) -> Result<()> {
        if requests.choice != ChunkChoice::ProbeFirstDay || selection.from >= selection.to {
            let plan = self.plan(&selection)?;
            return self.sync_days(plan, request.allow_bad_lines, reporter, ingest, progress).await;
        }
        let (from, to) = (selection.from, selection.to);
        let mut probe = selection.clone();
        (probe.to, probe.chunk_days) = (from, 1);
        let plan = self.plan(&probe)?;
        self.sync_days(plan, request.allow_bad_lines, reporter, ingest, progress).await?;
        let probed = progress.summary.fetched;
        let Some(next) = from.succ_opt() else { return Ok(()) };
        let rest_days = DayRange { from: next, to }.n_days();
        let rest = self.request_plan(rest_days, request, Some(probed));
        tracing::info!(
            probed_events = probed,
            chunk_days = rest.chunk_days,
            requests = rest.requests,
            "first day read; the rest planned from its volume"
        );
        (selection.from, selection.chunk_days) = (next, rest.chunk_days);
        let mut plan = self.plan(&selection)?;
        if let Some(path) = selection.quarantine_path.clone() {
            // One allowance and one file for the run: the probe's bad lines count too.
            plan.quarantine = Quarantine::continuing(path, progress.summary.quarantined);
        }
        self.sync_days(plan, request.allow_bad_lines, reporter, ingest, progress).await
    }

    async fn sync_days(
        &self,
        plan: RunPlan,
        allow_bad_lines: u64,
        reporter: &dyn Reporter,
        ingest: &mut Ingest<'_>,
        progress: &mut Progress<'_>,
    ) -> Result<()> {
        let sync_id = progress.summary.sync_id;
        // Too many bad lines stop the run before the day is committed: the cursor stays
        // before it, so a re-run (with --allow-bad-lines) reads it again.
        let policy = BadLinePolicy::Early(allow_bad_lines);
        let typed = progress.typed.clone();
        let typed = &typed;
        let budget = &spool_budget();
        let new_work = move |cap| batch_work(sync_id, typed.clone(), budget, cap);
        let totals = self
            .run_requests(plan, policy, reporter, new_work, async |output| {
                progress.add_day(output, ingest).await
            })
            .await?;
        let summary = &mut progress.summary;
        summary.fetched += totals.records;
        summary.retries += totals.retries;
        summary.split_days.extend(totals.split_days);
        // A later phase's quarantine counts the earlier phases' lines (`Quarantine::continuing`).
        summary.quarantined = summary.quarantined.max(totals.quarantined);
        if totals.quarantine_file.is_some() {
            summary.quarantine_file = totals.quarantine_file;
        }
        Ok(())
    }
}

impl Progress<'_> {
    /// Writes one request's rows into the open group, committing the group once it is big
    /// or long enough.
    async fn add_day(
        &mut self,
        output: RangeOutput<BatchSpool>,
        ingest: &mut Ingest<'_>,
    ) -> Result<()> {
        let (range, records) = (output.range, output.records);
        let mut group = match self.open.take() {
            Some(group) => group,
            None => OpenGroup {
                writer: {
                    events_writer(self.store, EVENTS_TABLE, WriteMode::Append, &self.typed)
                        .await?
                        .in_partition_order()
                        .expect_version(self.read_version)
                },
                from: range.from,
                to: range.to,
                fetched: 0,
            },
        };
        if let Err(error) = write_all(output, ingest, &mut group.writer).await {
            let _ = group.writer.abort().await;
            return Err(error);
        }
        group.to = range.to;
        group.fetched += records;
        let days = (group.to - group.from).num_days() + 1;
        if group.fetched >= self.commit_rows || days >= MAX_COMMIT_DAYS {
            return self.commit_group(group, ingest).await;
        }
        self.open = Some(group);
        Ok(())
    }

    /// Commits the days written since the last commit, if any.
    async fn commit_open(&mut self, ingest: &mut Ingest<'_>) -> Result<()> {
        match self.open.take() {
            Some(group) => self.commit_group(group, ingest).await,
            None => Ok(()),
        }
    }

    /// Removes the files of the uncommitted days.
    async fn abort(&mut self) {
        if let Some(group) = self.open.take()
            && let Err(error) = group.writer.abort().await
        {
            tracing::warn!(%error, "could not remove the files of the uncommitted days");
        }
    }

    /// Commits a group's rows with the cursor they complete (nothing when they changed nothing
    /// and the cursor stays).
    async fn commit_group(&mut self, group: OpenGroup, ingest: &mut Ingest<'_>) -> Result<()> {
        let range = DayRange { from: group.from, to: group.to };
        let writer = group.writer;
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
        tracing::debug!(days = %range, version = committed.version, written = counts.written, cursor = ?cursor, "days committed");
        self.cursor = cursor;
        self.summary.cursor_after = cursor;
        self.summary.commits += 1;
        self.summary.version = Some(committed.version);
        self.read_version = Some(committed.version);
        self.summary.counts.add(counts);
        Ok(())
    }

    fn metadata(
        &self,
        range: DayRange,
        counts: &IngestCounts,
        cursor: Option<NaiveDate>,
    ) -> Map<String, Value> {
        CommitInfo {
            mode: mode_name(&self.window.mode),
            sync_id: Some(self.summary.sync_id),
            from: Some(range.from),
            to: Some(range.to),
            cursor,
            ..counts.commit_info("sync events")
        }
        .to_metadata()
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
