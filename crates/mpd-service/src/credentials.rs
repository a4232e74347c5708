//! The Mixpanel account of a workspace, looked up on the first request to Mixpanel.
//!
//! Local work (SQL, inspection, import, table maintenance, GDPR erasure, `--local` queries)
//! never asks for an account, so a store alone is enough. The first use that does need one
//! resolves it from the config file and the environment captured when the workspace opened;
//! the answer is kept, so the credentials never change during a workspace's life.

use std::sync::OnceLock;

use mpd_config::{ConfigFile, EnvVars, ResolvedCredentials};

use crate::error::{Error, Result};

/// Where a workspace's credentials come from, and the credentials once resolved.
#[derive(Debug)]
pub(crate) struct LazyCredentials {
    lookup: Lookup,
    resolved: OnceLock<ResolvedCredentials>,
}

#[derive(Debug)]
enum Lookup {
    /// The config file (absent when HOME is unknown) and the environment, read at `open`.
    Config { file: Option<Box<ConfigFile>>, env: EnvVars, account: Option<String> },
    /// Credentials handed over already resolved.
    Given,
    /// A workspace over a store alone.
    StoreOnly,
}

impl LazyCredentials {
    /// Credentials resolved from `file` and `env` on first need; `file` is `None` when there is
    /// no config file location (no HOME and no `MP_CONFIG_PATH`).
    pub(crate) fn from_config(
        file: Option<ConfigFile>,
        env: EnvVars,
        account: Option<String>,
    ) -> Self {
        Self {
            lookup: Lookup::Config { file: file.map(Box::new), env, account },
            resolved: OnceLock::new(),
        }
    }

    /// Credentials resolved by the caller.
    pub(crate) fn given(credentials: ResolvedCredentials) -> Self {
        Self { lookup: Lookup::Given, resolved: OnceLock::from(credentials) }
    }

    /// No account at all: every request to Mixpanel fails with [`Error::NoAccount`].
    pub(crate) fn store_only() -> Self {
        Self { lookup: Lookup::StoreOnly, resolved: OnceLock::new() }
    }

    /// The credentials, resolved now if this is the first need.
    pub(crate) fn get(&self) -> Result<&ResolvedCredentials> {
        if let Some(credentials) = self.resolved.get() {
            return Ok(credentials);
        }
        let credentials = match &self.lookup {
            Lookup::Config { file: Some(file), env, account } => {
                mpd_config::resolve_credentials(file, env, account.as_deref())?
            }
            Lookup::Config { file: None, env, .. } => {
                // Why there is no config file (no HOME), in mpd-config's words.
                return Err(ConfigFile::default_path(env)
                    .err()
                    .map_or(Error::NoAccount, Error::from));
            }
            Lookup::Given | Lookup::StoreOnly => return Err(Error::NoAccount),
        };
        Ok(self.resolved.get_or_init(|| credentials))
    }

    /// The project id when an account is configured; `None` when none is (never an error:
    /// callers use it only to describe or locate a store).
    pub(crate) fn project_id_if_known(&self) -> Option<u64> {
        self.get().ok().map(|c| c.project_id)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const ACCOUNT: &str = r#"
        default = "prod"
        [accounts.prod]
        username = "sa.user"
        secret = "s3cret"
        project_id = 1234
        region = "us"
    "#;

    #[test]
    fn resolves_on_first_need_and_keeps_the_answer() {
        let file = ConfigFile::parse(Path::new("c.toml"), ACCOUNT).unwrap();
        let lazy = LazyCredentials::from_config(Some(file), EnvVars::default(), None);
        assert!(lazy.resolved.get().is_none(), "nothing is resolved before the first need");
        assert_eq!(lazy.get().unwrap().project_id, 1234);
        assert!(std::ptr::eq(lazy.get().unwrap(), lazy.get().unwrap()));
    }

    #[test]
    fn an_empty_config_is_the_no_credentials_error_of_the_config_crate() {
        let lazy = LazyCredentials::from_config(
            Some(ConfigFile::empty(Path::new("/nowhere/config.toml"))),
            EnvVars::default(),
            None,
        );
        let error = lazy.get().unwrap_err();
        assert!(matches!(error, Error::Config(_)), "{error:?}");
        assert!(error.to_string().starts_with("no mixpanel credentials found"), "{error}");
        assert_eq!(error.class(), crate::ErrorClass::Auth);
        assert_eq!(lazy.project_id_if_known(), None);
    }

    #[test]
    fn a_store_only_workspace_says_it_has_no_account() {
        let error = LazyCredentials::store_only().get().unwrap_err();
        assert_eq!(
            error.to_string(),
            "this workspace was opened for a store alone and has no Mixpanel account; open it with credentials (an account or the MP_* variables) to send requests to Mixpanel"
        );
        assert_eq!(error.class(), crate::ErrorClass::Auth);
    }
}
