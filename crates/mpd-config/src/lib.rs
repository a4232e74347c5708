//! Credentials, accounts and layered settings for mpd.
//!
//! This crate knows files, environment variables and figment; nothing about HTTP,
//! storage or printing.
//!
//! * [`ConfigFile`] reads and edits `~/.mp/config.toml`, the file of the `mixpanel_data`
//!   tool (`default = "name"`, `[accounts.<name>]`), so existing accounts just work.
//!   Edits keep comments, unknown keys and the `[mpd]` table; the file is written
//!   atomically with mode 0600.
//! * [`resolve_credentials`] picks the service account: the four `MP_*` variables, else
//!   the named account (`--account` or `MP_ACCOUNT`), else the default account.
//! * [`load_settings`] layers mpd's own [`Settings`]: defaults < `[mpd]` < `MPD_*` env
//!   vars < flags; [`describe_settings`] reports where each value came from.
//!
//! Environment variables are read through an [`EnvVars`] snapshot, never directly, so
//! every function here is deterministic given its arguments. Secrets live in [`Secret`],
//! whose `Debug` and `Display` print `***`.
//!
//! ```
//! use std::path::Path;
//! use mpd_config::{ConfigFile, EnvVars, SettingsOverrides, load_settings, resolve_credentials};
//!
//! let file = ConfigFile::parse(Path::new("config.toml"), r#"
//!     default = "prod"
//!     [accounts.prod]
//!     username = "sa.user"
//!     secret = "not-a-real-secret"
//!     project_id = 1234
//!     region = "EU"
//!     [mpd]
//!     lookback_days = 7
//! "#)?;
//! let env = EnvVars::from_pairs([("MPD_LOOKBACK_DAYS", "3")]);
//!
//! let creds = resolve_credentials(&file, &env, None)?;
//! assert_eq!((creds.account_label().as_str(), creds.project_id), ("prod", 1234));
//! assert_eq!(format!("{:?}", creds.secret), "***");
//!
//! let settings = load_settings(&file, &env, &SettingsOverrides::default())?;
//! assert_eq!(settings.lookback_days, 3);
//! # Ok::<(), mpd_config::Error>(())
//! ```

mod account;
mod accounts;
mod atomic;
mod credentials;
mod env;
mod error;
mod file;
mod region;
mod secret;
mod settings;

pub use account::Account;
pub use accounts::{AccountView, Accounts, NewAccount, SettingView};
pub use credentials::{CredentialSource, ResolvedCredentials, resolve_credentials};
pub use env::EnvVars;
pub use error::{Error, ErrorClass, Result};
pub use file::ConfigFile;
pub use region::{ParseRegionError, Region};
pub use secret::Secret;
pub use settings::{
    DEFAULT_TYPED_PROPERTIES, DedupKey, SETTING_KEYS, Settings, SettingsOverrides,
    describe_settings, is_secret_option, load_settings,
};

#[cfg(test)]
mod leak_tests;
