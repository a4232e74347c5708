//! mpd's own settings, layered with figment: defaults < the `[mpd]` table of the config
//! file < `MPD_*` (and `MP_*_URL`) environment variables < flags the user set.

mod layers;
mod validate;

use std::collections::BTreeMap;
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

/// Declares every setting once: its key (also `MPD_<KEY>`), type, default and documentation.
/// [`Settings`], [`SettingsOverrides`], the defaults, [`SETTING_KEYS`] and
/// [`Settings::entries`] (what `mpd config show` lists) all come from this one list, so they
/// cannot drift apart. `flag` is the type a command-line override carries.
macro_rules! settings_table {
    ($( $(#[doc = $doc:literal])* $key:ident : $ty:ty, flag $flag:ty = $default:expr; )*) => {
        /// The effective mpd settings. Each key can be set in `[mpd]`, as `MPD_<KEY>` (upper
        /// case) or by a flag; the URLs also as `MP_BASE_URL`, `MP_EXPORT_URL` and
        /// `MP_QUERY_URL`. Durations are in seconds, and say so in their names.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        pub struct Settings {
            $( $(#[doc = $doc])* pub $key: $ty, )*
        }

        impl Default for Settings {
            fn default() -> Self {
                Settings { $( $key: $default, )* }
            }
        }

        /// The settings the user set on the command line; `None` means "not given" and leaves
        /// the lower layers in charge.
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        pub struct SettingsOverrides {
            $(
                $(#[doc = $doc])*
                #[serde(skip_serializing_if = "Option::is_none")]
                pub $key: Option<$flag>,
            )*
        }

        /// Every settings key, in display order.
        pub const SETTING_KEYS: &[&str] = &[ $( stringify!($key), )* ];

        impl Settings {
            /// Each key with its value rendered for humans; unset options show as `(unset)`
            /// and passwords embedded in URLs as `***`.
            pub fn entries(&self) -> Vec<(&'static str, String)> {
                vec![ $( (stringify!($key), render::Render::render(&self.$key, stringify!($key))), )* ]
            }
        }
    };
}

settings_table! {
    /// Root directory of the local Delta Lake store; unset lets the caller pick its default.
    store: Option<PathBuf>, flag PathBuf = None;
    /// Days re-read before the sync cursor to pick up late events.
    lookback_days: u32, flag u32 = 5;
    /// Dedup rule.
    dedup_key: DedupKey, flag DedupKey = DedupKey::InsertIdTime;
    /// The project's IANA time zone, e.g. `America/Los_Angeles` (only its shape is checked).
    project_timezone: Option<String>, flag String = None;
    /// Export requests per hour.
    export_per_hour: u32, flag u32 = 60;
    /// Export requests per second.
    export_per_second: u32, flag u32 = 3;
    /// Concurrent export requests.
    export_concurrent: u32, flag u32 = 100;
    /// Query API requests per hour.
    query_per_hour: u32, flag u32 = 60;
    /// Concurrent query API requests.
    query_concurrent: u32, flag u32 = 5;
    /// Attempts per request, the first included.
    retry_max_attempts: u32, flag u32 = 6;
    /// First backoff delay, in seconds (fractions allowed).
    retry_base_delay_seconds: f64, flag f64 = 1.0;
    /// Backoff ceiling, in seconds.
    retry_max_delay_seconds: f64, flag f64 = 60.0;
    /// How long an export may take to send its first byte, in seconds.
    export_first_byte_timeout_seconds: u64, flag u64 = 600;
    /// How long a response body may stall, in seconds.
    idle_read_timeout_seconds: u64, flag u64 = 300;
    /// One origin for every API family (proxies, mock servers).
    base_url: Option<String>, flag String = None;
    /// Origin of the raw export API; wins over `base_url`.
    export_url: Option<String>, flag String = None;
    /// Origin of the query and engage APIs; wins over `base_url`.
    query_url: Option<String>, flag String = None;
    /// Rows a sync gathers before it commits them with the cursor: one commit per day would
    /// bloat the log of a long first run; a run stopped between commits re-reads at most
    /// this much.
    sync_commit_rows: u64, flag u64 = 1_000_000;
    /// "Today" for `mpd sync` as `YYYY-MM-DD`, instead of the clock in the project's time
    /// zone: for replays and tests against a mock with a fixed date.
    today: Option<String>, flag String = None;
    /// Keys of `properties` a new events table also stores as typed columns, as `key:kind`
    /// (`text`: what `properties->>'key'` gives; `float`: what `json_get_float` gives). SQL
    /// reading them reads the column instead of parsing JSON. A stored table keeps its own
    /// list until `mpd tables evolve`.
    typed_properties: Vec<String>, flag Vec<String> = default_typed_properties();
    /// Options of an object-store store (`[mpd.storage]`; `MPD_STORAGE=key=value,…` adds to
    /// or overrides the file's keys), over what the cloud's environment variables say: object_store's keys, e.g. `aws_endpoint`,
    /// `aws_region`, `aws_allow_http`, `azure_storage_account_name`. Values of keys naming a
    /// secret, key, token or password are never shown.
    storage: BTreeMap<String, String>, flag BTreeMap<String, String> = BTreeMap::new();
}

/// The default typed properties: Mixpanel's most queried default properties, and `amount`,
/// the usual name of a purchase's value.
pub const DEFAULT_TYPED_PROPERTIES: [&str; 5] =
    ["$browser:text", "$os:text", "$city:text", "mp_country_code:text", "amount:float"];

fn default_typed_properties() -> Vec<String> {
    DEFAULT_TYPED_PROPERTIES.map(str::to_owned).to_vec()
}

/// Whether an option of `[mpd.storage]` holds a secret (its value is never shown).
pub fn is_secret_option(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["secret", "key", "token", "password", "sas"].iter().any(|word| key.contains(word))
        && !key.ends_with("_id")
        && !key.ends_with("account_name")
}

/// Keys of earlier versions, still read (with a warning): `(old key, new key, factor from the
/// old unit to the new one)`.
pub(crate) const RENAMED_KEYS: [(&str, &str, f64); 4] = [
    ("retry_base_delay_ms", "retry_base_delay_seconds", 0.001),
    ("retry_max_delay_ms", "retry_max_delay_seconds", 0.001),
    ("export_first_byte_timeout_secs", "export_first_byte_timeout_seconds", 1.0),
    ("idle_read_timeout_secs", "idle_read_timeout_seconds", 1.0),
];

mod render {
    //! How `mpd config show` writes each type of value.

    use std::path::PathBuf;

    pub(super) trait Render {
        fn render(&self, key: &str) -> String;
    }

    macro_rules! by_display {
        ($($t:ty),*) => { $( impl Render for $t {
            fn render(&self, _key: &str) -> String { self.to_string() }
        } )* };
    }
    by_display!(u32, u64, super::DedupKey);

    impl Render for f64 {
        /// Six decimals at most: a value read from text may have gone through `f32`
        /// (`0.02` would show as `0.019999999552965164`).
        fn render(&self, _key: &str) -> String {
            ((self * 1e6).round() / 1e6).to_string()
        }
    }

    impl Render for PathBuf {
        fn render(&self, _key: &str) -> String {
            self.display().to_string()
        }
    }

    impl Render for String {
        fn render(&self, key: &str) -> String {
            if key.ends_with("_url") {
                super::validate::mask_url_password(self)
            } else {
                self.clone()
            }
        }
    }

    impl Render for std::collections::BTreeMap<String, String> {
        fn render(&self, _key: &str) -> String {
            if self.is_empty() {
                return "(none)".to_owned();
            }
            let entries: Vec<String> = self
                .iter()
                .map(|(k, v)| {
                    if super::is_secret_option(k) { format!("{k}=***") } else { format!("{k}={v}") }
                })
                .collect();
            entries.join(", ")
        }
    }

    impl Render for Vec<String> {
        fn render(&self, _key: &str) -> String {
            if self.is_empty() { "(none)".to_owned() } else { self.join(", ") }
        }
    }

    impl<T: Render> Render for Option<T> {
        fn render(&self, key: &str) -> String {
            self.as_ref().map_or_else(|| "(unset)".to_owned(), |v| v.render(key))
        }
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
