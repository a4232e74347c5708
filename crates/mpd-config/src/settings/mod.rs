//! mpd's own settings, layered with figment: defaults < the `[mpd]` table of the config
//! file < `MPD_*` (and `MP_*_URL`) environment variables < flags the user set.

mod layers;
mod validate;

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::{ConfigFile, EnvVars, Result};

/// How events are de-duplicated in the store (docs/sync.md, "Dedup").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DedupKey {
    /// `(insert_id, time)`: survives Mixpanel re-keying `distinct_id` after identity merges.
    #[default]
    InsertIdTime,
    /// Mixpanel's own rule: `(event_name, distinct_id, time, insert_id)`.
    Mixpanel,
}

impl DedupKey {
    /// The name used in config files and env vars.
    pub fn as_str(self) -> &'static str {
        match self {
            DedupKey::InsertIdTime => "insert_id_time",
            DedupKey::Mixpanel => "mixpanel",
        }
    }
}

impl fmt::Display for DedupKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The effective mpd settings. Each key can be set in `[mpd]`, as `MPD_<KEY>` (upper case)
/// or by a flag; the URLs also as `MP_BASE_URL`, `MP_EXPORT_URL` and `MP_QUERY_URL`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// Root directory of the local Delta Lake store; `None` lets the caller pick its default.
    pub store: Option<PathBuf>,
    /// Days re-read before the sync cursor to pick up late events (default 5).
    pub lookback_days: u32,
    /// Dedup rule (default `insert_id_time`).
    pub dedup_key: DedupKey,
    /// The project's IANA time zone, e.g. `America/Los_Angeles` (only its shape is checked).
    pub project_timezone: Option<String>,
    /// Export requests per hour (default 60).
    pub export_per_hour: u32,
    /// Export requests per second (default 3).
    pub export_per_second: u32,
    /// Concurrent export requests (default 100).
    pub export_concurrent: u32,
    /// Query API requests per hour (default 60).
    pub query_per_hour: u32,
    /// Concurrent query API requests (default 5).
    pub query_concurrent: u32,
    /// Attempts per request, the first included (default 6).
    pub retry_max_attempts: u32,
    /// First backoff delay in milliseconds (default 1000).
    pub retry_base_delay_ms: u64,
    /// Backoff ceiling in milliseconds (default 60000).
    pub retry_max_delay_ms: u64,
    /// How long an export may take to send its first byte, in seconds (default 600).
    pub export_first_byte_timeout_secs: u64,
    /// How long a response body may stall, in seconds (default 300).
    pub idle_read_timeout_secs: u64,
    /// One origin for every API family (proxies, mock servers).
    pub base_url: Option<String>,
    /// Origin of the raw export API; wins over `base_url`.
    pub export_url: Option<String>,
    /// Origin of the query and engage APIs; wins over `base_url`.
    pub query_url: Option<String>,
    /// Rows a sync gathers before it commits them with the cursor (default 1,000,000): one
    /// commit per day would bloat the log of a long first run; a run stopped between commits
    /// re-reads at most this much.
    pub sync_commit_rows: u64,
    /// "Today" for `mpd sync` as `YYYY-MM-DD`, instead of the clock in the project's time
    /// zone: for replays and tests against a mock with a fixed date.
    pub today: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            store: None,
            lookback_days: 5,
            dedup_key: DedupKey::InsertIdTime,
            project_timezone: None,
            export_per_hour: 60,
            export_per_second: 3,
            export_concurrent: 100,
            query_per_hour: 60,
            query_concurrent: 5,
            retry_max_attempts: 6,
            retry_base_delay_ms: 1000,
            retry_max_delay_ms: 60_000,
            export_first_byte_timeout_secs: 600,
            idle_read_timeout_secs: 300,
            base_url: None,
            export_url: None,
            query_url: None,
            sync_commit_rows: 1_000_000,
            today: None,
        }
    }
}

/// The settings the user set on the command line; `None` means "not given" and leaves the
/// lower layers in charge.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs, reason = "each field mirrors the Settings field of the same name")]
pub struct SettingsOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lookback_days: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dedup_key: Option<DedupKey>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_timezone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export_per_hour: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export_per_second: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export_concurrent: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_per_hour: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_concurrent: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_max_attempts: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_base_delay_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_max_delay_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export_first_byte_timeout_secs: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_read_timeout_secs: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sync_commit_rows: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub today: Option<String>,
}

/// Every settings key, in display order. A test keeps it in sync with [`Settings`].
pub const SETTING_KEYS: [&str; 19] = [
    "store",
    "lookback_days",
    "dedup_key",
    "project_timezone",
    "export_per_hour",
    "export_per_second",
    "export_concurrent",
    "query_per_hour",
    "query_concurrent",
    "retry_max_attempts",
    "retry_base_delay_ms",
    "retry_max_delay_ms",
    "export_first_byte_timeout_secs",
    "idle_read_timeout_secs",
    "base_url",
    "export_url",
    "query_url",
    "sync_commit_rows",
    "today",
];

impl Settings {
    /// Each key with its value rendered for humans; unset options show as `(unset)` and
    /// passwords embedded in URLs as `***`.
    pub fn entries(&self) -> Vec<(&'static str, String)> {
        let opt = |v: Option<String>| v.unwrap_or_else(|| "(unset)".to_owned());
        let url = |v: &Option<String>| opt(v.as_deref().map(validate::mask_url_password));
        vec![
            ("store", opt(self.store.as_ref().map(|p| p.display().to_string()))),
            ("lookback_days", self.lookback_days.to_string()),
            ("dedup_key", self.dedup_key.to_string()),
            ("project_timezone", opt(self.project_timezone.clone())),
            ("export_per_hour", self.export_per_hour.to_string()),
            ("export_per_second", self.export_per_second.to_string()),
            ("export_concurrent", self.export_concurrent.to_string()),
            ("query_per_hour", self.query_per_hour.to_string()),
            ("query_concurrent", self.query_concurrent.to_string()),
            ("retry_max_attempts", self.retry_max_attempts.to_string()),
            ("retry_base_delay_ms", self.retry_base_delay_ms.to_string()),
            ("retry_max_delay_ms", self.retry_max_delay_ms.to_string()),
            ("export_first_byte_timeout_secs", self.export_first_byte_timeout_secs.to_string()),
            ("idle_read_timeout_secs", self.idle_read_timeout_secs.to_string()),
            ("base_url", url(&self.base_url)),
            ("export_url", url(&self.export_url)),
            ("query_url", url(&self.query_url)),
            ("sync_commit_rows", self.sync_commit_rows.to_string()),
            ("today", opt(self.today.clone())),
        ]
    }
}

/// Loads and validates the effective settings.
///
/// A value of the wrong type or out of range is [`crate::Error::InvalidSetting`] naming the
/// key and where the value came from (`file <path>`, `env MPD_…`, `flag`).
pub fn load_settings(
    file: &ConfigFile,
    env: &EnvVars,
    overrides: &SettingsOverrides,
) -> Result<Settings> {
    layers::load(file, env, overrides).map(|(settings, _)| settings)
}

/// Each effective value with where it came from — `default`, `file`, `env VAR` or `flag` —
/// for `mpd config show`. Settings hold no secrets; passwords in URLs are masked.
pub fn describe_settings(
    file: &ConfigFile,
    env: &EnvVars,
    overrides: &SettingsOverrides,
) -> Result<Vec<(String, String, String)>> {
    let (settings, figment) = layers::load(file, env, overrides)?;
    Ok(settings
        .entries()
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value, layers::origin(&figment, key, false)))
        .collect())
}

#[cfg(test)]
mod tests;
