//! The accounts of the config file as `mpd auth ...` and `mpd config show` see them: list, show, add, remove, switch the default, and every setting with its source. No credential is resolved here.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::{Account, ConfigFile, EnvVars, Region, Secret, SettingsOverrides};

/// An account as shown to users: the secret masked.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AccountView {
    /// The account's name.
    pub name: String,
    /// The service account username.
    pub username: String,
    /// The secret, masked.
    pub secret: String,
    /// The project.
    pub project_id: u64,
    /// The data residency region.
    pub region: String,
    /// Whether it is the default account.
    pub is_default: bool,
}

/// One setting as `mpd config show` lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SettingView {
    /// The key, as written in `[mpd]` (and, upper-cased, after `MPD_`).
    pub key: String,
    /// The effective value (passwords in URLs masked, `(unset)` for an unset option).
    pub value: String,
    /// Where it came from: `default`, `file`, `env VAR` or `flag`.
    pub source: String,
}

/// A new account for [`Accounts::add`].
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// The account's name.
    pub name: String,
    /// The service account username.
    pub username: String,
    /// The service account secret.
    pub secret: Secret,
    /// The project.
    pub project_id: u64,
    /// `us`, `eu` or `in`.
    pub region: String,
    /// Make it the default account.
    pub make_default: bool,
}

/// The config file's accounts.
#[derive(Debug)]
pub struct Accounts {
    file: ConfigFile,
}

impl Accounts {
    /// Opens the config file at `path`, or `MP_CONFIG_PATH`, or `~/.mp/config.toml`.
    pub fn open(env: &EnvVars, path: Option<&Path>) -> Result<Self> {
        let path: PathBuf = match path {
            Some(path) => path.to_path_buf(),
            None => ConfigFile::default_path(env)?,
        };
        Ok(Self { file: ConfigFile::load(&path)? })
    }

    /// Every setting's effective value and where it came from, with this file's `[mpd]`
    /// table, the environment `env` and the flags `overrides`.
    pub fn settings(
        &self,
        env: &EnvVars,
        overrides: &SettingsOverrides,
    ) -> Result<Vec<SettingView>> {
        let rows = crate::describe_settings(&self.file, env, overrides)?;
        Ok(rows
            .into_iter()
            .map(|(key, value, source)| SettingView { key, value, source })
            .collect())
    }

    /// The config file's path.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// All accounts, sorted by name.
    pub fn list(&self) -> Vec<AccountView> {
        let default = self.file.default_account().map(str::to_owned);
        self.file.accounts().into_iter().map(|a| view(&a, default.as_deref())).collect()
    }

    /// One account; the default one when `name` is `None`.
    pub fn show(&self, name: Option<&str>) -> Result<AccountView> {
        let name = match name {
            Some(name) => name.to_owned(),
            None => self.file.default_account().map(str::to_owned).ok_or_else(|| {
                Error::InvalidRequest(format!(
                    "no accounts in {}: add one with `mpd auth add NAME`",
                    self.file.path().display()
                ))
            })?,
        };
        let account = self.file.account(&name)?;
        Ok(view(&account, self.file.default_account()))
    }

    /// Adds an account and saves the file (mode 0600).
    pub fn add(&mut self, account: NewAccount) -> Result<AccountView> {
        let region: Region = account.region.parse().map_err(|_| {
            Error::InvalidRequest(format!("unknown region {:?}: use us, eu or in", account.region))
        })?;
        if account.secret.expose().is_empty() {
            return Err(Error::InvalidRequest("the secret is empty".to_owned()));
        }
        let name = account.name.clone();
        self.file.add_account(
            Account {
                name: account.name,
                username: account.username,
                secret: account.secret,
                project_id: account.project_id,
                region,
            },
            account.make_default,
        )?;
        self.file.save()?;
        self.show(Some(&name))
    }

    /// Removes an account and saves the file.
    pub fn remove(&mut self, name: &str) -> Result<()> {
        self.file.remove_account(name)?;
        self.file.save()?;
        Ok(())
    }

    /// Makes an account the default and saves the file.
    pub fn switch(&mut self, name: &str) -> Result<AccountView> {
        self.file.set_default(name)?;
        self.file.save()?;
        self.show(Some(name))
    }
}

fn view(account: &Account, default: Option<&str>) -> AccountView {
    AccountView {
        name: account.name.clone(),
        username: account.username.clone(),
        secret: account.secret.masked(),
        project_id: account.project_id,
        region: account.region.to_string(),
        is_default: default == Some(account.name.as_str()),
    }
}
