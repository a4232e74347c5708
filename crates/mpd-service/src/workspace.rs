//! The `Workspace` facade, and its table of contents: every public method of a workspace is
//! in this file, most of them one line handing the work to the module (or crate) that does it.
//! Credentials are resolved once, the store and the client are built on first use
//! (`workspace/internals.rs`).

mod internals;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use chrono::NaiveDate;
use mpd_config::{ConfigFile, EnvVars, ResolvedCredentials, Settings, SettingsOverrides};
use mpd_store::{CappedTable, ColumnView, QueryTable, StoreLocation, VacuumSummary};

pub use self::internals::AuthCheck;
use crate::credentials::LazyCredentials;
use crate::error::Result;
use crate::gdpr::GdprReport;
use crate::import::{DumpImportReport, DumpSource, ImportReport};
use crate::local::{ColumnSummary, FileExport, LocalSql, StoreInfo, TableView};
use crate::maintenance::{CompactReport, HistoryEntry};
use crate::report::Reporter;
use crate::stream::{ProfileSummary, StreamEventsRequest, StreamProfilesRequest, StreamSummary};
use crate::sync::{EventsCoverage, SyncReport, SyncRequest};
use crate::table::typed::EvolveReport;
use crate::table::{FetchEventsRequest, FetchSummary, ProfileFetchSummary, TableMode};
use mpd_live::DiscoveryCache;
use mpd_live::request::{
    ActivityQuery, CountType, EventCountsQuery, FlowsView, FrequencyQuery, FunnelQuery,
    MetricQuery, PropertyCountsQuery, RetentionQuery, SegmentationQuery,
};
use mpd_live::result::{
    ActivityFeed, CohortInfo, EventCountsResult, FlowsResult, FrequencyResult, FunnelInfo,
    FunnelResult, Metric, MetricResult, PropertyCount, PropertyCountsResult, RetentionResult,
    SavedReport, SegmentationResult, TopEvent,
};

/// How to build a [`Workspace`].
#[derive(Debug, Default)]
pub struct WorkspaceOptions {
    /// The account named with `--account` (else `MP_ACCOUNT`, else the default account).
    pub account: Option<String>,
    /// The config file; `None` means `MP_CONFIG_PATH` or `~/.mp/config.toml`.
    pub config_path: Option<PathBuf>,
    /// The environment to read `MP_*`/`MPD_*` variables from.
    pub env: EnvVars,
    /// Settings given as flags; they win over every other layer.
    pub overrides: SettingsOverrides,
    /// Where tables live: the configured folder (default), a temporary folder, or memory.
    pub store_kind: StoreKind,
}

/// Which kind of store a workspace uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StoreKind {
    /// `--store`, `MPD_STORE`, `[mpd] store`, else `~/.mp/lake/<project_id>/`.
    #[default]
    Persistent,
    /// A temporary folder removed by [`Workspace::close`].
    Ephemeral,
    /// No files at all.
    InMemory,
}

/// The entry point for library users and the CLI: one store and, when a command talks to
/// Mixpanel, one project's credentials. Credentials are resolved on the first request to
/// Mixpanel and never change afterwards, so local work (SQL, inspection, import, maintenance,
/// `--local` queries) needs no account; the HTTP client and the store are created on first use.
#[derive(Debug)]
pub struct Workspace {
    credentials: LazyCredentials,
    settings: Settings,
    home: Option<PathBuf>,
    store_kind: StoreKind,
    client: OnceLock<mpd_api::Client>,
    store: tokio::sync::OnceCell<mpd_store::Store>,
    /// Discovery answers (event names, properties, funnels, ...) for the workspace's lifetime.
    discovery: DiscoveryCache,
}

impl Workspace {
    // ---- Opening and closing

    /// Reads the config file's settings and captures the environment; the account is looked up
    /// in them only when a command first needs Mixpanel.
    pub fn open(options: WorkspaceOptions) -> Result<Self> {
        let path = match options.config_path {
            Some(path) => Some(path),
            None => ConfigFile::default_path(&options.env).ok(),
        };
        let file = path.as_deref().map(ConfigFile::load).transpose()?;
        let settings = match &file {
            Some(file) => mpd_config::load_settings(file, &options.env, &options.overrides)?,
            None => mpd_config::load_settings(
                &ConfigFile::empty(std::path::Path::new("")),
                &options.env,
                &options.overrides,
            )?,
        };
        let home = options.env.get("HOME").filter(|h| !h.is_empty()).map(PathBuf::from);
        let credentials = LazyCredentials::from_config(file, options.env, options.account);
        Ok(Self::with_credentials(credentials, settings, home).with_store_kind(options.store_kind))
    }

    /// A workspace from already resolved parts (tests, the demo, embedding applications).
    pub fn from_parts(
        credentials: ResolvedCredentials,
        settings: Settings,
        home: Option<PathBuf>,
    ) -> Self {
        Self::with_credentials(LazyCredentials::given(credentials), settings, home)
    }

    /// A workspace over a store alone: SQL, inspection, import, maintenance, GDPR erasure and
    /// `--local` queries work; a request to Mixpanel fails with [`Error::NoAccount`](crate::Error::NoAccount).
    pub fn for_store(settings: Settings) -> Self {
        Self::with_credentials(LazyCredentials::store_only(), settings, None)
    }

    /// The same workspace with another kind of store (before the store is first used).
    pub fn with_store_kind(mut self, kind: StoreKind) -> Self {
        self.store_kind = kind;
        self
    }

    /// Discovery answers are cached for the life of this workspace unless switched off.
    pub fn with_discovery_cache(mut self, on: bool) -> Self {
        self.discovery.set_enabled(on);
        self
    }

    /// Closes the workspace: an ephemeral store's folder is removed.
    pub async fn close(self) -> Result<()> {
        if let Some(store) = self.store.into_inner() {
            store.close().await?;
        }
        Ok(())
    }

    // ---- What the workspace holds

    /// The effective settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The credentials, resolved on this first need (the secret stays redacted in `Debug`).
    pub fn credentials(&self) -> Result<&ResolvedCredentials> {
        self.credentials.get()
    }

    /// The configured project, when an account is configured (never an error).
    pub fn project_id_if_known(&self) -> Option<u64> {
        self.credentials.project_id_if_known()
    }

    /// The project's store location: the configured one, else `~/.mp/lake/<project_id>/` of
    /// the configured account.
    pub fn store_location(&self) -> Result<StoreLocation> {
        self.store_location_for(None)
    }

    /// The store, opened on first use.
    pub async fn store(&self) -> Result<&mpd_store::Store> {
        self.store_for_project(None).await
    }

    /// The Mixpanel client, built on first use from the credentials and settings.
    pub fn client(&self) -> Result<&mpd_api::Client> {
        self.client_on_first_use()
    }

    /// Makes one cheap authenticated call and reports whether the account works.
    pub async fn check_auth(&self) -> Result<AuthCheck> {
        self.auth_check().await
    }

    /// Today in the project's time zone, or the `today` setting (`MPD_TODAY`).
    pub fn today(&self) -> Result<NaiveDate> {
        crate::sync::today(self)
    }

    // ---- Loading data: sync, fetch, import, stream

    /// Brings the requested tables up to date (or, with `dry_run`, says what that takes).
    pub async fn sync(&self, request: &SyncRequest, reporter: &dyn Reporter) -> Result<SyncReport> {
        crate::sync::sync(self, request, reporter).await
    }

    /// What the events table covers: the sync cursor and the days holding events (from the
    /// Delta log; no data read).
    pub async fn events_coverage(&self) -> Result<EventsCoverage> {
        crate::sync::events_coverage(self).await
    }

    /// Fetches events into a table of the store, deduplicated, in one Delta commit; an
    /// existing table is refused with [`TableMode::Create`] before anything is downloaded.
    pub async fn fetch_events(
        &self,
        request: &FetchEventsRequest,
        reporter: &dyn Reporter,
    ) -> Result<FetchSummary> {
        crate::table::fetch_events::fetch_events(self, request, reporter).await
    }

    /// Fetches profiles into a table: create (refused if it exists), append (profiles whose
    /// distinct_id is stored are skipped) or replace (a new snapshot in one commit).
    pub async fn fetch_profiles(
        &self,
        table: &str,
        mode: TableMode,
        request: &StreamProfilesRequest,
        reporter: &dyn Reporter,
    ) -> Result<ProfileFetchSummary> {
        crate::table::fetch_profiles::fetch_profiles(self, table, mode, request, reporter).await
    }

    /// Imports export dumps (see the module docs); `allow_bad_lines` malformed lines are set
    /// aside before the run stops.
    pub async fn import_export(
        &self,
        source: &DumpSource,
        allow_bad_lines: u64,
        reporter: &dyn Reporter,
    ) -> Result<DumpImportReport> {
        crate::import::export::import_export(self, source, allow_bad_lines, reporter).await
    }

    /// Imports a JSON-pipelines tree (see the module docs); `allow_bad_lines` malformed lines
    /// are set aside before the run stops.
    pub async fn import_pipelines(
        &self,
        source: &Path,
        allow_bad_lines: u64,
        reporter: &dyn Reporter,
    ) -> Result<ImportReport> {
        crate::import::import_pipelines(self, source, allow_bad_lines, reporter).await
    }

    /// Streams events day by day to `out`. Each day is held back until its request completed,
    /// so a day retried after a fault never writes a line twice, and days are written in order.
    pub async fn stream_events(
        &self,
        request: &StreamEventsRequest,
        out: &mut dyn Write,
        reporter: &dyn Reporter,
    ) -> Result<StreamSummary> {
        crate::stream::events::stream_events(self, request, out, reporter).await
    }

    /// Streams profiles page by page to `out`.
    pub async fn stream_profiles(
        &self,
        request: &StreamProfilesRequest,
        out: &mut dyn Write,
        reporter: &dyn Reporter,
    ) -> Result<ProfileSummary> {
        crate::stream::profiles::stream_profiles(self, request, out, reporter).await
    }

    // ---- SQL over the store and inspection

    /// Runs a read-only SQL query over the store.
    pub async fn sql(&self, query: &str) -> Result<QueryTable> {
        crate::local::sql(self, query).await
    }

    /// Runs a read-only SQL query over the store and keeps its first `max_rows` rows; the
    /// rest are never computed (bounded answers for agents).
    pub async fn sql_capped(&self, query: &str, max_rows: usize) -> Result<CappedTable> {
        crate::local::sql_capped(self, query, max_rows).await
    }

    /// Runs a read-only SQL query over the store; the rows as Arrow batches, for handing to
    /// another engine without a copy (the Python module's Arrow stream).
    pub async fn sql_arrow(&self, query: &str) -> Result<mpd_store::QueryResult> {
        Ok(self.store().await?.sql(query).await?)
    }

    /// Runs a query and writes its rows to a `.parquet`, `.csv` or `.jsonl` file.
    pub async fn sql_to_file(&self, query: &str, path: &Path) -> Result<FileExport> {
        crate::local::sql_to_file(self, query, path).await
    }

    /// The store's location and size.
    pub async fn store_info(&self) -> Result<StoreInfo> {
        crate::local::store_info(self).await
    }

    /// Every table of the store.
    pub async fn table_list(&self) -> Result<Vec<TableView>> {
        crate::local::table_list(self).await
    }

    /// A table's columns.
    pub async fn table_schema(&self, table: &str) -> Result<Vec<ColumnView>> {
        crate::local::table_schema(self, table).await
    }

    /// `n` random rows of a table.
    pub async fn sample(&self, table: &str, n: u32) -> Result<QueryTable> {
        crate::local::sample(self, table, n).await
    }

    /// Per-column counts, nulls, distinct values, min and max.
    pub async fn summarize(&self, table: &str) -> Result<Vec<ColumnSummary>> {
        crate::local::summarize(self, table).await
    }

    /// Events per name with people, first and last time: what the table is made of.
    pub async fn breakdown(&self, table: &str) -> Result<QueryTable> {
        crate::local::breakdown(self, table).await
    }

    // ---- Maintenance and erasure

    /// Merges a table's small files (hourly syncs make many) into large ones, in one commit;
    /// an events table without the configured typed property columns is rewritten with them.
    pub async fn compact_table(&self, table: &str) -> Result<CompactReport> {
        crate::maintenance::compact_table(self, table).await
    }

    /// Rewrites an events table with the `typed_properties` setting's columns (backfilled
    /// from `properties`), sorted, in one commit; nothing to do when it has them.
    pub async fn evolve_table(&self, table: &str) -> Result<EvolveReport> {
        crate::table::typed::evolve_table(self, table).await
    }

    /// Deletes files no version younger than `retention` needs (Delta's VACUUM).
    pub async fn vacuum_table(
        &self,
        table: &str,
        retention: Duration,
        dry_run: bool,
    ) -> Result<VacuumSummary> {
        crate::maintenance::vacuum_table(self, table, retention, dry_run).await
    }

    /// The table's commits, newest first, with each sync's counts.
    pub async fn table_history(
        &self,
        table: &str,
        limit: Option<usize>,
    ) -> Result<Vec<HistoryEntry>> {
        crate::maintenance::table_history(self, table, limit).await
    }

    /// Removes a table and its files.
    pub async fn drop_table(&self, table: &str) -> Result<()> {
        crate::local::drop_table(self, table).await
    }

    /// Erases `distinct_ids` from the store (see the module docs).
    pub async fn gdpr_delete(&self, distinct_ids: &[String]) -> Result<GdprReport> {
        crate::gdpr::gdpr_delete(self, distinct_ids).await
    }

    // ---- Live queries through Mixpanel's Query API (each spends one of the project's hourly
    // queries; the work is in `mpd_live`)

    /// One event over time, optionally split by a property (`/segmentation`).
    pub async fn segmentation(&self, q: &SegmentationQuery) -> Result<SegmentationResult> {
        self.live()?.segmentation(q).await.map_err(|e| self.live_error(e))
    }

    /// How often a numeric property fell into each range (`/segmentation/numeric`).
    pub async fn segmentation_numeric(&self, q: &SegmentationQuery) -> Result<SegmentationResult> {
        self.live()?.segmentation_numeric(q).await.map_err(|e| self.live_error(e))
    }

    /// Sum or mean of a numeric property per bucket (`/segmentation/sum`, `/average`).
    pub async fn segmentation_metric(
        &self,
        metric: Metric,
        q: &MetricQuery,
    ) -> Result<MetricResult> {
        self.live()?.segmentation_metric(metric, q).await.map_err(|e| self.live_error(e))
    }

    /// Several events over time (`/events`).
    pub async fn event_counts(&self, q: &EventCountsQuery) -> Result<EventCountsResult> {
        self.live()?.event_counts(q).await.map_err(|e| self.live_error(e))
    }

    /// One event's property values over time (`/events/properties`).
    pub async fn property_counts(&self, q: &PropertyCountsQuery) -> Result<PropertyCountsResult> {
        self.live()?.property_counts(q).await.map_err(|e| self.live_error(e))
    }

    /// A saved funnel's conversion (`/funnels`).
    pub async fn funnel(&self, q: &FunnelQuery) -> Result<FunnelResult> {
        self.live()?.funnel(q).await.map_err(|e| self.live_error(e))
    }

    /// Cohorts' retention (`/retention`).
    pub async fn retention(&self, q: &RetentionQuery) -> Result<RetentionResult> {
        self.live()?.retention(q).await.map_err(|e| self.live_error(e))
    }

    /// How many users did an event on how many distinct units (`/retention/addiction`).
    pub async fn frequency(&self, q: &FrequencyQuery) -> Result<FrequencyResult> {
        self.live()?.frequency(q).await.map_err(|e| self.live_error(e))
    }

    /// Users' recent events (`/stream/query`).
    pub async fn activity_feed(&self, q: &ActivityQuery) -> Result<ActivityFeed> {
        self.live()?.activity_feed(q).await.map_err(|e| self.live_error(e))
    }

    /// A saved Insights report (`/insights`).
    pub async fn saved_report(&self, bookmark_id: u64) -> Result<SavedReport> {
        self.live()?.saved_report(bookmark_id).await.map_err(|e| self.live_error(e))
    }

    /// A saved Flows report (`/arb_funnels`).
    pub async fn flows(&self, bookmark_id: u64, view: FlowsView) -> Result<FlowsResult> {
        self.live()?.flows(bookmark_id, view).await.map_err(|e| self.live_error(e))
    }

    // ---- The same answers computed from the store (`--local`, `mpd_live::local`)

    /// `segmentation --local`: the answer of [`Workspace::segmentation`] from the store.
    pub async fn local_segmentation(&self, q: &SegmentationQuery) -> Result<SegmentationResult> {
        mpd_live::local::segmentation(&LocalSql(self), q).await
    }

    /// `event-counts --local`: the answer of [`Workspace::event_counts`] from the store.
    pub async fn local_event_counts(&self, q: &EventCountsQuery) -> Result<EventCountsResult> {
        mpd_live::local::event_counts(&LocalSql(self), q).await
    }

    /// `funnel --local`: the funnel of `q.steps` (at least two) from the store, with
    /// Mixpanel's entry, window and segment rules (`mpd-live` `local/funnel.rs`).
    pub async fn local_funnel(&self, q: &FunnelQuery) -> Result<FunnelResult> {
        mpd_live::local::funnel(&LocalSql(self), q).await
    }

    /// `retention --local`: birth or compounded retention from the store, up to the last
    /// synced day (`mpd-live` `local/retention.rs`).
    pub async fn local_retention(&self, q: &RetentionQuery) -> Result<RetentionResult> {
        mpd_live::local::retention(&LocalSql(self), q).await
    }

    // ---- Schema discovery, cached for the life of the workspace (`mpd_live`)

    /// Forgets every cached discovery answer.
    pub fn clear_discovery_cache(&self) {
        self.discovery.clear();
    }

    /// The project's event names, most common in the last 31 days first.
    pub async fn list_events(&self) -> Result<Vec<String>> {
        self.live()?.list_events().await.map_err(|e| self.live_error(e))
    }

    /// The properties seen on `event` and how often, most frequent first.
    pub async fn list_properties(&self, event: &str) -> Result<Vec<PropertyCount>> {
        self.live()?.list_properties(event).await.map_err(|e| self.live_error(e))
    }

    /// Values of `property` (on `event` if given), most frequent first, at most `limit`.
    pub async fn list_property_values(
        &self,
        property: &str,
        event: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>> {
        let live = self.live()?;
        live.list_property_values(property, event, limit).await.map_err(|e| self.live_error(e))
    }

    /// The project's saved funnels.
    pub async fn list_funnels(&self) -> Result<Vec<FunnelInfo>> {
        self.live()?.list_funnels().await.map_err(|e| self.live_error(e))
    }

    /// The project's saved cohorts.
    pub async fn list_cohorts(&self) -> Result<Vec<CohortInfo>> {
        self.live()?.list_cohorts().await.map_err(|e| self.live_error(e))
    }

    /// Today's most frequent events, largest first (never cached).
    pub async fn top_events(&self, count_type: CountType, limit: u32) -> Result<Vec<TopEvent>> {
        self.live()?.top_events(count_type, limit).await.map_err(|e| self.live_error(e))
    }
}
