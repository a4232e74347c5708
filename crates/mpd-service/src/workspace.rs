//! The `Workspace` facade: credentials resolved once, services built on first use.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use mpd_config::{ConfigFile, EnvVars, ResolvedCredentials, Settings, SettingsOverrides};
use mpd_store::StoreLocation;

use crate::error::{AuthRefused, Error, Result};
use crate::live::DiscoveryCache;

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

/// The entry point for library users and the CLI: one Mixpanel project, its credentials and
/// settings. Credentials are resolved once in [`Workspace::open`] and never change afterwards;
/// the HTTP client is created on first use.
#[derive(Debug)]
pub struct Workspace {
    credentials: ResolvedCredentials,
    settings: Settings,
    home: Option<PathBuf>,
    store_kind: StoreKind,
    client: OnceLock<mpd_api::Client>,
    store: tokio::sync::OnceCell<mpd_store::Store>,
    /// Discovery answers (event names, properties, funnels, ...) for the workspace's lifetime.
    pub(crate) discovery: DiscoveryCache,
}

impl Workspace {
    /// Reads the config file and environment, resolves credentials and settings.
    pub fn open(options: WorkspaceOptions) -> Result<Self> {
        let path = match options.config_path {
            Some(path) => path,
            None => ConfigFile::default_path(&options.env)?,
        };
        let file = ConfigFile::load(&path)?;
        let credentials =
            mpd_config::resolve_credentials(&file, &options.env, options.account.as_deref())?;
        let settings = mpd_config::load_settings(&file, &options.env, &options.overrides)?;
        let home = options.env.get("HOME").map(PathBuf::from);
        Ok(Self::from_parts(credentials, settings, home).with_store_kind(options.store_kind))
    }

    /// A workspace from already resolved parts (tests, the demo, embedding applications).
    pub fn from_parts(
        credentials: ResolvedCredentials,
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
        self.store
            .get_or_try_init(|| async {
                let mode = match self.store_kind {
                    StoreKind::Persistent => mpd_store::StoreMode::Persistent(
                        self.store_location()?.root().to_path_buf(),
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
        let dir = match self.store.get().and_then(|s| s.root()) {
            Some(root) => mpd_store::StoreLocation::at(root).quarantine_dir(),
            None => self.store_location()?.quarantine_dir(),
        };
        Ok(dir.join(format!(
            "{what}-{from}-{to}-{}.jsonl",
            chrono::Utc::now().format("%Y%m%dT%H%M%S")
        )))
    }

    /// The credentials in use (the secret stays redacted in `Debug`).
    pub fn credentials(&self) -> &ResolvedCredentials {
        &self.credentials
    }

    /// The effective settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The project's store location: the configured one, else `~/.mp/lake/<project_id>/`.
    pub fn store_location(&self) -> Result<StoreLocation> {
        if let Some(store) = &self.settings.store {
            return Ok(StoreLocation::at(store));
        }
        let home = self.home.as_ref().ok_or_else(|| {
            Error::InvalidArgument(
                "HOME is not set, so the default store location is unknown: pass --store DIR or set MPD_STORE"
                    .to_owned(),
            )
        })?;
        Ok(StoreLocation::default_for_project(home, self.credentials.project_id))
    }

    /// The Mixpanel client, built on first use from the credentials and settings.
    pub fn client(&self) -> Result<&mpd_api::Client> {
        if let Some(client) = self.client.get() {
            return Ok(client);
        }
        let client = mpd_api::Client::new(self.client_options()?).map_err(Error::Api)?;
        Ok(self.client.get_or_init(|| client))
    }

    /// Makes one cheap authenticated call and reports whether the account works.
    pub async fn check_auth(&self) -> Result<AuthCheck> {
        let n_events = self.client()?.check_auth().await.map_err(|e| self.api_error(e))?;
        Ok(AuthCheck {
            account: self.credentials.account_label(),
            project_id: self.credentials.project_id,
            region: self.credentials.region.to_string(),
            ok: true,
            n_event_names: n_events as u64,
        })
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
        let account = match self.credentials.account_name() {
            Some(name) => format!("account '{name}'"),
            None => "the credentials in MP_USERNAME/MP_SECRET".to_owned(),
        };
        Error::Auth(Box::new(AuthRefused {
            account,
            project_id: self.credentials.project_id,
            region: self.credentials.region.to_string(),
            detail,
            source,
        }))
    }

    fn client_options(&self) -> Result<mpd_api::ClientOptions> {
        let s = &self.settings;
        let region: mpd_api::Region =
            self.credentials.region.to_string().parse().map_err(|_| {
                Error::InvalidArgument(format!("unknown region {}", self.credentials.region))
            })?;
        Ok(mpd_api::ClientOptions {
            region,
            credentials: mpd_api::Credentials {
                username: self.credentials.username.clone(),
                secret: mpd_api::Secret::new(self.credentials.secret.expose()),
                project_id: self.credentials.project_id,
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
