//! The `Workspace` facade: credentials resolved once, services built on first use.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use mpd_config::{ConfigFile, EnvVars, ResolvedCredentials, Settings, SettingsOverrides};
use mpd_store::StoreLocation;

use crate::credentials::LazyCredentials;
use crate::error::{AuthRefused, Error, Result};
use mpd_live::request::{
    ActivityQuery, CountType, EventCountsQuery, FlowsView, FrequencyQuery, FunnelQuery,
    MetricQuery, PropertyCountsQuery, RetentionQuery, SegmentationQuery,
};
use mpd_live::result::{
    ActivityFeed, CohortInfo, EventCountsResult, FlowsResult, FrequencyResult, FunnelInfo,
    FunnelResult, Metric, MetricResult, PropertyCount, PropertyCountsResult, RetentionResult,
    SavedReport, SegmentationResult, TopEvent,
};
use mpd_live::{DiscoveryCache, LiveApi};

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
    /// `--local` queries work; a request to Mixpanel fails with [`Error::NoAccount`].
    pub fn for_store(settings: Settings) -> Self {
        Self::with_credentials(LazyCredentials::store_only(), settings, None)
    }

    fn with_credentials(
        credentials: LazyCredentials,
        settings: Settings,
        home: Option<PathBuf>,
    ) -> Self {
        Self {
            credentials,
            settings,
            home,
            store_kind: StoreKind::Persistent,
            client: OnceLock::new(),
            store: tokio::sync::OnceCell::new(),
            discovery: DiscoveryCache::default(),
        }
    }

    /// The same workspace with another kind of store (before the store is first used).
    pub fn with_store_kind(mut self, kind: StoreKind) -> Self {
        self.store_kind = kind;
        self
    }

    /// The store, opened on first use.
    pub async fn store(&self) -> Result<&mpd_store::Store> {
        self.store_for_project(None).await
    }

    /// The store, opened on first use; `project_hint` names the project whose default store to
    /// use when neither a store nor an account is configured (`import pipelines` reads it from
    /// the folder).
    pub(crate) async fn store_for_project(
        &self,
        project_hint: Option<u64>,
    ) -> Result<&mpd_store::Store> {
        self.store
            .get_or_try_init(|| async {
                let mode = match self.store_kind {
                    StoreKind::Persistent => mpd_store::StoreMode::Persistent(
                        self.store_location_for(project_hint)?.root().to_path_buf(),
                    ),
                    StoreKind::Ephemeral => mpd_store::StoreMode::Ephemeral,
                    StoreKind::InMemory => mpd_store::StoreMode::InMemory,
                };
                Ok::<_, Error>(mpd_store::Store::open(mode).await?)
            })
            .await
    }

    /// Closes the workspace: an ephemeral store's folder is removed.
    pub async fn close(self) -> Result<()> {
        if let Some(store) = self.store.into_inner() {
            store.close().await?;
        }
        Ok(())
    }

    /// A new quarantine file for malformed lines of `what` over `[from, to]`.
    pub(crate) fn quarantine_file_path(
        &self,
        what: &str,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
    ) -> Result<PathBuf> {
        self.quarantine_file_named(&format!("{what}-{from}-{to}"))
    }

    /// A new quarantine file for malformed lines of files read by `what` (`export`, `pipelines`).
    pub(crate) fn quarantine_file_named(&self, what: &str) -> Result<PathBuf> {
        let dir = match self.store.get().and_then(|s| s.root()) {
            Some(root) => mpd_store::StoreLocation::at(root).quarantine_dir(),
            None => self.store_location()?.quarantine_dir(),
        };
        Ok(dir.join(format!("{what}-{}.jsonl", chrono::Utc::now().format("%Y%m%dT%H%M%S"))))
    }

    /// The credentials, resolved on this first need (the secret stays redacted in `Debug`).
    pub fn credentials(&self) -> Result<&ResolvedCredentials> {
        self.credentials.get()
    }

    /// The configured project, when an account is configured (never an error).
    pub fn project_id_if_known(&self) -> Option<u64> {
        self.credentials.project_id_if_known()
    }

    /// The effective settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The project's store location: the configured one, else `~/.mp/lake/<project_id>/` of
    /// the configured account.
    pub fn store_location(&self) -> Result<StoreLocation> {
        self.store_location_for(None)
    }

    fn store_location_for(&self, project_hint: Option<u64>) -> Result<StoreLocation> {
        if let Some(store) = &self.settings.store {
            return Ok(StoreLocation::at(store));
        }
        let project_id = match (self.credentials.get(), project_hint) {
            (Ok(credentials), _) => credentials.project_id,
            (Err(_), Some(hint)) => hint,
            (Err(error), None) => return Err(Error::NoStore { reason: error.to_string() }),
        };
        let home = self.home.as_ref().ok_or_else(|| {
            Error::InvalidArgument(
                "HOME is not set, so the default store location is unknown: pass --store DIR or set MPD_STORE"
                    .to_owned(),
            )
        })?;
        Ok(StoreLocation::default_for_project(home, project_id))
    }

    /// The Mixpanel client, built on first use from the credentials and settings.
    pub fn client(&self) -> Result<&mpd_api::Client> {
        if let Some(client) = self.client.get() {
            return Ok(client);
        }
        let client = mpd_api::Client::new(self.client_options()?).map_err(Error::Api)?;
        Ok(self.client.get_or_init(|| client))
    }

    // Live queries through Mixpanel's Query API (each spends one of the project's hourly
    // queries); the work is in `mpd_live`.

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

    // Schema discovery, cached for the life of the workspace.

    /// Discovery answers are cached for the life of this workspace unless switched off.
    pub fn with_discovery_cache(mut self, on: bool) -> Self {
        self.discovery.set_enabled(on);
        self
    }

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

    /// Makes one cheap authenticated call and reports whether the account works.
    pub async fn check_auth(&self) -> Result<AuthCheck> {
        let n_events = self.client()?.check_auth().await.map_err(|e| self.api_error(e))?;
        let credentials = self.credentials()?;
        Ok(AuthCheck {
            account: credentials.account_label(),
            project_id: credentials.project_id,
            region: credentials.region.to_string(),
            ok: true,
            n_event_names: n_events as u64,
        })
    }

    /// Live queries and discovery through this workspace's client and discovery cache.
    fn live(&self) -> Result<LiveApi<'_>> {
        Ok(LiveApi::new(self.client()?, &self.discovery, self.credentials()?.project_id))
    }

    /// A live failure as the service reports it: credential refusals name the account.
    fn live_error(&self, error: mpd_live::Error) -> Error {
        match error {
            mpd_live::Error::Api(api) => self.api_error(api),
            other => Error::Live(Box::new(other)),
        }
    }

    /// Wraps an API error with the account it happened for, when the credentials are at fault.
    pub(crate) fn api_error(&self, error: mpd_api::Error) -> Error {
        if error.class() != mpd_api::ErrorClass::Auth {
            return Error::Api(error);
        }
        let source = error;
        let detail = match source.http_failure() {
            Some(failure) => {
                let path = failure.endpoint.split('?').next().unwrap_or_default();
                format!("HTTP {} {:?} on {path}", failure.status, failure.message)
            }
            None => source.to_string(),
        };
        // An API error implies a client, and a client implies resolved credentials.
        let Ok(credentials) = self.credentials() else { return Error::Api(source) };
        let account = match credentials.account_name() {
            Some(name) => format!("account '{name}'"),
            None => "the credentials in MP_USERNAME/MP_SECRET".to_owned(),
        };
        Error::Auth(Box::new(AuthRefused {
            account,
            project_id: credentials.project_id,
            region: credentials.region.to_string(),
            detail,
            source,
        }))
    }

    fn client_options(&self) -> Result<mpd_api::ClientOptions> {
        let s = &self.settings;
        let credentials = self.credentials()?;
        let region: mpd_api::Region = credentials.region.to_string().parse().map_err(|_| {
            Error::InvalidArgument(format!("unknown region {}", credentials.region))
        })?;
        Ok(mpd_api::ClientOptions {
            region,
            credentials: mpd_api::Credentials {
                username: credentials.username.clone(),
                secret: mpd_api::Secret::new(credentials.secret.expose()),
                project_id: credentials.project_id,
            },
            base_urls: mpd_api::BaseUrls {
                all: parse_url("base_url", s.base_url.as_deref())?,
                export: parse_url("export_url", s.export_url.as_deref())?,
                query: parse_url("query_url", s.query_url.as_deref())?,
            },
            export_budget: mpd_api::Budget {
                per_hour: s.export_per_hour,
                per_second: s.export_per_second,
                concurrent: s.export_concurrent,
            },
            query_budget: mpd_api::Budget {
                per_hour: s.query_per_hour,
                per_second: 0,
                concurrent: s.query_concurrent,
            },
            retry: mpd_api::RetryPolicy {
                max_attempts: s.retry_max_attempts.max(1),
                base_delay: Duration::from_millis(s.retry_base_delay_ms),
                max_delay: Duration::from_millis(s.retry_max_delay_ms),
            },
            timeouts: mpd_api::Timeouts {
                export_first_byte: Duration::from_secs(s.export_first_byte_timeout_secs),
                idle_read: Duration::from_secs(s.idle_read_timeout_secs),
                ..mpd_api::Timeouts::default()
            },
        })
    }
}

fn parse_url(key: &str, value: Option<&str>) -> Result<Option<url::Url>> {
    value
        .map(|v| {
            url::Url::parse(v)
                .map_err(|e| Error::InvalidArgument(format!("{key} {v:?} is not a valid URL: {e}")))
        })
        .transpose()
}

/// The outcome of [`Workspace::check_auth`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct AuthCheck {
    /// The account or credential source that was tested.
    pub account: String,
    /// The project.
    pub project_id: u64,
    /// The region.
    pub region: String,
    /// Whether Mixpanel accepted the credentials.
    pub ok: bool,
    /// How many event names the cheap call returned.
    pub n_event_names: u64,
}
