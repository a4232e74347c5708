//! `mpd fetch events [TABLE]`: export → Arrow batches → dedup → one Delta commit.

use std::path::PathBuf;
use std::time::Instant;

use mpd_ingest::dedup::KeyKind;
use mpd_ingest::erased::ErasedIds;
use mpd_ingest::layout::events_writer;
use mpd_ingest::{Ingest, IngestCounts, IngestOptions};
use mpd_store::CommitInfo;
use mpd_store::{TableWriter, WriteMode};

use crate::error::Result;
use crate::report::Reporter;
use crate::stream::range::{EventSelection, RunPlan};
use crate::stream::requests::BadLinePolicy;
use crate::stream::work::{batch_work, spool_budget};
use crate::table::mode_name;
use crate::workspace::Workspace;

/// Keys the deduper holds before the least recently written days' keys go to a temporary
/// file, so that a fetch of a year holds no more than a fetch of a week (it held every key of
/// the range: 24 bytes a key, twice that in room). Export days are written in order and the
/// dates a fetch's batch is at keep their keys, so a date whose keys went aside rarely comes
/// back (a batch of one date of a two-date export day can let the other go); when one does,
/// its rows wait on disk and are deduplicated before the commit. 512 Ki keys are
/// about three and a half days of the benchmark's million events (docs/PERFORMANCE.md).
const HELD_KEYS_LIMIT: usize = 1 << 19;

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
    /// Rows of erased users (`mpd gdpr delete`) dropped.
    pub erased_dropped: u64,
    /// The audit table, when it was written.
    pub audit_table: Option<String>,
    /// Malformed lines quarantined.
    pub quarantined: u64,
    /// The quarantine file, when lines were quarantined.
    pub quarantine_file: Option<PathBuf>,
    /// Requests retried after a broken body.
    pub retries: u64,
    /// Days Mixpanel cut short on every try, fetched in smaller requests instead.
    pub split_days: Vec<chrono::NaiveDate>,
    /// The sync id stamped on the new rows (`_sync_id`).
    pub sync_id: i64,
    /// The table's Delta version after the commit.
    pub version: i64,
    /// Wall-clock seconds.
    pub elapsed_secs: f64,
}

impl Workspace {
    async fn fetch_into(
        &self,
        plan: RunPlan,
        request: &FetchEventsRequest,
        reporter: &dyn Reporter,
        ingest: &mut Ingest<'_>,
        writer: &mut TableWriter,
        summary: &mut FetchSummary,
    ) -> Result<()> {
        summary.days = plan.n_days;
        let sync_id = summary.sync_id;
        let policy = BadLinePolicy::AtEnd(request.selection.allow_bad_lines);
        let typed = mpd_decode::TypedProperties::from_schema(writer.schema());
        let typed = &typed;
        let budget = &spool_budget();
        let new_work = move |cap| batch_work(sync_id, typed.clone(), budget, cap);
        let totals = self
            .run_requests(plan, policy, reporter, new_work, async |output| {
                for batch in output.output.into_batches()? {
                    ingest.write(batch?, writer).await?;
                }
                Ok(())
            })
            .await;
        reporter.finished();
        let totals = totals?;
        ingest.write_set_aside(writer).await?;
        summary.fetched = totals.records;
        summary.retries = totals.retries;
        summary.split_days = totals.split_days;
        (summary.quarantined, summary.quarantine_file) =
            (totals.quarantined, totals.quarantine_file);
        Ok(())
    }

    pub(crate) fn key_kind(&self) -> KeyKind {
        match self.settings().dedup_key {
            mpd_config::DedupKey::InsertIdTime => KeyKind::InsertIdTime,
            mpd_config::DedupKey::Mixpanel => KeyKind::Mixpanel,
        }
    }
}

/// Fetches events into a table of the store: day by day, decoded to Arrow, deduplicated
/// (docs/sync.md) and committed as one Delta commit. An existing table is refused with
/// [`TableMode::Create`] before anything is downloaded.
pub(crate) async fn fetch_events(
    ws: &Workspace,
    request: &FetchEventsRequest,
    reporter: &dyn Reporter,
) -> Result<FetchSummary> {
    fetch_events_holding(ws, request, reporter, HELD_KEYS_LIMIT).await
}

/// [`fetch_events`] with the deduper holding at most `held_keys_limit` keys.
async fn fetch_events_holding(
    ws: &Workspace,
    request: &FetchEventsRequest,
    reporter: &dyn Reporter,
    held_keys_limit: usize,
) -> Result<FetchSummary> {
    let started = Instant::now();
    let plan = ws.plan(&request.selection)?;
    let store = ws.store().await?;
    let _lock = store.lock_for_writing("fetch events")?;
    let table = request.table.as_str();
    let exists = store.exists(table).await?;
    if exists && request.mode == TableMode::Create {
        return Err(mpd_store::Error::TableExists { table: table.to_owned() }.into());
    }
    let sync_id = super::next_sync_id(store, table).await?;
    let events_mode = match request.mode {
        TableMode::Replace => WriteMode::Replace,
        TableMode::Create | TableMode::Append => WriteMode::Append,
    };
    let typed = super::typed::typed_for(ws, store, table, events_mode).await?;
    let mut writer = events_writer(store, table, events_mode, &typed).await?.in_partition_order();
    let mut ingest = Ingest::new(IngestOptions {
        store,
        table,
        key_kind: ws.key_kind(),
        sync_id,
        compare_with_store: exists && request.mode == TableMode::Append,
        replace_audit: request.mode == TableMode::Replace,
        erased: ErasedIds::load(store).await?,
        held_keys_limit: Some(held_keys_limit),
    })
    .await?;
    let mut summary = FetchSummary { table: table.to_owned(), sync_id, ..FetchSummary::default() };
    let outcome =
        ws.fetch_into(plan, request, reporter, &mut ingest, &mut writer, &mut summary).await;
    if let Err(error) = outcome {
        if let Err(abort) = writer.abort().await {
            tracing::warn!(%abort, "could not remove the files of the failed fetch");
        }
        ingest.abort().await;
        return Err(error);
    }
    summary.set_counts(ingest.take_counts());
    let metadata = commit_metadata(request, &summary);
    let committed = writer.commit(metadata.clone()).await?;
    summary.version = committed.version;
    if ingest.commit_audit(metadata).await? {
        summary.audit_table = Some(ingest.audit_table().to_owned());
    }
    summary.elapsed_secs = started.elapsed().as_secs_f64();
    Ok(summary)
}

impl FetchSummary {
    fn set_counts(&mut self, counts: IngestCounts) {
        self.written = counts.written;
        self.already_present = counts.already_present;
        self.duplicates_rejected = counts.duplicates_rejected;
        self.duplicates_already_audited = counts.duplicates_already_audited;
        self.erased_dropped = counts.erased_dropped;
    }
}

fn commit_metadata(
    request: &FetchEventsRequest,
    summary: &FetchSummary,
) -> serde_json::Map<String, serde_json::Value> {
    CommitInfo {
        mode: mode_name(&request.mode),
        from: Some(request.selection.from),
        to: Some(request.selection.to),
        events: (!request.selection.events.is_empty()).then(|| request.selection.events.clone()),
        where_expr: request.selection.where_expr.clone(),
        limit: request.selection.limit.map(u64::from),
        sync_id: Some(summary.sync_id),
        fetched: Some(summary.fetched),
        written: Some(summary.written),
        already_present: Some(summary.already_present),
        duplicates_rejected: Some(summary.duplicates_rejected),
        quarantined: Some(summary.quarantined),
        ..CommitInfo::new("fetch events")
    }
    .to_metadata()
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use mpd_testkit::{MockConfig, MockServer};

    use super::*;
    use crate::test_support::row_keys;
    use crate::{EnvVars, SilentReporter, WorkspaceOptions};

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn workspace(mock: &MockServer, store: &std::path::Path) -> Workspace {
        let env = EnvVars::from_pairs([
            ("MP_USERNAME", "mock-user".to_owned()),
            ("MP_SECRET", "mock-secret".to_owned()),
            ("MP_PROJECT_ID", "1234".to_owned()),
            ("MP_REGION", "us".to_owned()),
            ("MP_BASE_URL", mock.base_url()),
            ("MP_CONFIG_PATH", store.join("no-config.toml").display().to_string()),
            ("MPD_STORE", store.display().to_string()),
            ("MPD_EXPORT_PER_SECOND", "1000".to_owned()),
        ]);
        Workspace::open(WorkspaceOptions { env, ..WorkspaceOptions::default() }).unwrap()
    }

    /// Export days of New York hold two UTC dates each, so every date is written by two export
    /// days: with a limit of 0, every date but the two the fetch is at goes to the key file
    /// as soon as the next export day comes, and the rows kept and audited are the same.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn setting_keys_aside_keeps_the_same_rows_as_holding_every_key() {
        let config = MockConfig {
            events_per_day: 1500,
            n_users: 60,
            first_day: day("2024-03-05"),
            last_day: day("2024-03-12"),
            today: Some(day("2024-03-13")),
            project_timezone: Some("America/New_York".to_owned()),
            ..MockConfig::default()
        };
        let mock = MockServer::start(config).await.unwrap();
        let request = FetchEventsRequest {
            table: "events".to_owned(),
            mode: TableMode::Create,
            selection: EventSelection::days(day("2024-03-06"), day("2024-03-11")),
        };
        let mut tables = Vec::new();
        for limit in [usize::MAX, 500, 0] {
            let store = tempfile::tempdir().unwrap();
            let workspace = workspace(&mock, store.path());
            let summary =
                fetch_events_holding(&workspace, &request, &SilentReporter, limit).await.unwrap();
            let events = row_keys(&workspace, "events").await;
            let audited = row_keys(&workspace, "rejected_duplicates").await;
            let counts = (summary.fetched, summary.written, summary.duplicates_rejected);
            tables.push((limit, counts, events, audited, store));
        }
        let (_, counts, events, audited, _) = &tables[0];
        assert!(counts.2 > 0, "the mock sends true duplicates: {counts:?}");
        assert_eq!(events.len() as u64, counts.1);
        for (limit, other_counts, other_events, other_audited, _) in &tables[1..] {
            assert_eq!(other_counts, counts, "held keys limit {limit}");
            assert_eq!(other_events, events, "held keys limit {limit}");
            assert_eq!(other_audited, audited, "held keys limit {limit}");
        }
    }
}
