//! The workspace's machinery: credentials, the store and the client built on first use,
//! quarantine file names, and turning client failures into errors that name the account.
//! The public surface is the table of contents in `workspace.rs`.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use mpd_config::Settings;
use mpd_live::{DiscoveryCache, LiveApi};
use mpd_store::StoreLocation;

use super::{StoreKind, Workspace};
use crate::credentials::LazyCredentials;
use crate::error::{AuthRefused, Error, Result};

impl Workspace {
    pub(super) fn with_credentials(
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
                    StoreKind::Persistent => self.store_location_for(project_hint)?.mode(),
                    StoreKind::Ephemeral => mpd_store::StoreMode::Ephemeral,
                    StoreKind::InMemory => mpd_store::StoreMode::InMemory,
                };
                Ok::<_, Error>(
                    mpd_store::Store::open_with_options(mode, &self.settings.storage).await?,
                )
            })
            .await
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
        let dir = self.quarantine_dir()?;
        Ok(dir.join(format!("{what}-{}.jsonl", chrono::Utc::now().format("%Y%m%dT%H%M%S"))))
    }

    /// Where malformed lines go: inside a folder store (the opened one, or the configured
    /// one), `~/.mp/quarantine` for an object store.
    pub(crate) fn quarantine_dir(&self) -> Result<PathBuf> {
        if let Some(root) = self.store.get().and_then(|s| s.root()) {
            return Ok(root.join(mpd_store::QUARANTINE_DIR));
        }
        let location = self.store_location()?;
        if let Some(root) = location.root() {
            return Ok(root.join(mpd_store::QUARANTINE_DIR));
        }
        Ok(location.quarantine_dir(self.home_dir()?))
    }

    fn home_dir(&self) -> Result<&std::path::Path> {
        self.home.as_deref().ok_or_else(|| {
            Error::InvalidArgument(
                "HOME is not set, so the default store location is unknown: pass --store DIR or set MPD_STORE"
                    .to_owned(),
            )
        })
    }

    pub(super) fn store_location_for(&self, project_hint: Option<u64>) -> Result<StoreLocation> {
        if let Some(store) = &self.settings.store {
            return Ok(StoreLocation::at(store));
        }
        let project_id = match (self.credentials.get(), project_hint) {
            (Ok(credentials), _) => credentials.project_id,
            (Err(_), Some(hint)) => hint,
            (Err(error), None) => return Err(Error::NoStore { reason: error.to_string() }),
        };
        Ok(StoreLocation::default_for_project(self.home_dir()?, project_id))
    }

    /// Live queries and discovery through this workspace's client and discovery cache.
    pub(super) fn live(&self) -> Result<LiveApi<'_>> {
        Ok(LiveApi::new(self.client()?, &self.discovery, self.credentials()?.project_id))
    }

    /// A live failure as the service reports it: credential refusals name the account.
    pub(super) fn live_error(&self, error: mpd_live::Error) -> Error {
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
                base_delay: Duration::from_secs_f64(s.retry_base_delay_seconds),
                max_delay: Duration::from_secs_f64(s.retry_max_delay_seconds),
            },
            timeouts: mpd_api::Timeouts {
                export_first_byte: Duration::from_secs(s.export_first_byte_timeout_seconds),
                idle_read: Duration::from_secs(s.idle_read_timeout_seconds),
                ..mpd_api::Timeouts::default()
            },
        })
    }

    /// The Mixpanel client, built on first use from the credentials and settings.
    pub(super) fn client_on_first_use(&self) -> Result<&mpd_api::Client> {
        if let Some(client) = self.client.get() {
            return Ok(client);
        }
        let client = mpd_api::Client::new(self.client_options()?).map_err(Error::Api)?;
        Ok(self.client.get_or_init(|| client))
    }

    /// Makes one cheap authenticated call and reports whether the account works.
    pub(super) async fn auth_check(&self) -> Result<AuthCheck> {
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
