//! The `~/.mp/config.toml` file shared with the `mixpanel_data` tool.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, Item, Table, TableLike, Value};

use crate::account::{self, Account};
use crate::{EnvVars, Error, Result, atomic};

/// The parsed config file and its path.
///
/// The original document is kept alongside the parsed accounts, so [`ConfigFile::save`]
/// rewrites only what changed: comments, unknown keys and the `[mpd]` table survive.
#[derive(Clone)]
pub struct ConfigFile {
    path: PathBuf,
    doc: DocumentMut,
    accounts: BTreeMap<String, Account>,
    default: Option<String>,
}

impl ConfigFile {
    /// `MP_CONFIG_PATH` if set, else `$HOME/.mp/config.toml`.
    pub fn default_path(env: &EnvVars) -> Result<PathBuf> {
        if let Some(path) = env.get("MP_CONFIG_PATH") {
            return Ok(PathBuf::from(path));
        }
        let home = env.get("HOME").or_else(|| env.get("USERPROFILE")).ok_or(Error::NoHome)?;
        Ok(Path::new(home).join(".mp").join("config.toml"))
    }

    /// Reads and validates the file; a missing file is an empty config.
    pub fn load(path: &Path) -> Result<ConfigFile> {
        match std::fs::read_to_string(path) {
            Ok(text) => ConfigFile::parse(path, &text),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                tracing::debug!(path = %path.display(), "no config file, starting empty");
                Ok(ConfigFile::empty(path))
            }
            Err(e) => Err(Error::io(path, e)),
        }
    }

    /// Parses `text` as the content of the file at `path` (which is not read).
    pub fn parse(path: &Path, text: &str) -> Result<ConfigFile> {
        let parse_err = |message: String| Error::Parse { path: path.to_path_buf(), message };
        let doc: DocumentMut =
            text.parse().map_err(|e| parse_err(describe_toml_error(text, &e)))?;

        let default = match doc.get("default") {
            None => None,
            Some(item) => match item.as_str() {
                Some(name) => Some(name.to_owned()),
                None => {
                    return Err(parse_err("`default` must be a string naming an account".into()));
                }
            },
        };
        if doc.get("mpd").is_some_and(|item| item.as_table_like().is_none()) {
            return Err(parse_err("`mpd` must be a table ([mpd])".into()));
        }

        let mut accounts = BTreeMap::new();
        if let Some(item) = doc.get("accounts") {
            let table = item.as_table_like().ok_or_else(|| {
                parse_err("`accounts` must be a table of [accounts.NAME] tables".into())
            })?;
            for (name, item) in table.iter() {
                let entry = item
                    .as_table_like()
                    .ok_or_else(|| parse_err(format!("`accounts.{name}` must be a table")))?;
                accounts.insert(name.to_owned(), account::from_table(name, entry)?);
            }
        }
        Ok(ConfigFile { path: path.to_path_buf(), doc, accounts, default })
    }

    /// An empty config that will be written to `path` on [`ConfigFile::save`].
    pub fn empty(path: &Path) -> ConfigFile {
        ConfigFile {
            path: path.to_path_buf(),
            doc: DocumentMut::new(),
            accounts: BTreeMap::new(),
            default: None,
        }
    }

    /// Where the file lives (or will be written).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// All accounts, sorted by name.
    pub fn accounts(&self) -> Vec<Account> {
        self.accounts.values().cloned().collect()
    }

    /// The account names, sorted.
    pub fn account_names(&self) -> Vec<String> {
        self.accounts.keys().cloned().collect()
    }

    /// The account called `name`.
    pub fn account(&self, name: &str) -> Result<Account> {
        self.accounts.get(name).cloned().ok_or_else(|| self.not_found(name))
    }

    /// The `default` key, else the first account by name, else `None`.
    ///
    /// A `default` naming a missing account is returned as is, so that using it reports
    /// [`Error::AccountNotFound`] instead of silently picking another project.
    pub fn default_account(&self) -> Option<&str> {
        self.default.as_deref().or_else(|| self.accounts.keys().next().map(String::as_str))
    }

    /// The `[mpd]` table of the file, if present.
    pub(crate) fn mpd_table(&self) -> Option<&dyn TableLike> {
        self.doc.get("mpd").and_then(Item::as_table_like)
    }

    /// Adds `account` under its name. It becomes the default when `make_default` is set or
    /// when it is the first account; otherwise the current effective default is kept (and
    /// written down, so adding an account that sorts first does not change it).
    pub fn add_account(&mut self, account: Account, make_default: bool) -> Result<()> {
        let name = account.name.clone();
        if self.accounts.contains_key(&name) {
            return Err(Error::AccountExists { name });
        }
        validate_new(&account)?;

        let new_default = if make_default {
            name.clone()
        } else {
            self.default_account().unwrap_or(&name).to_owned()
        };
        let entry = account::to_table(&account);
        match self.doc.get_mut("accounts") {
            Some(Item::Value(Value::InlineTable(inline))) => {
                inline.insert(&name, Value::InlineTable(entry.into_inline_table()));
            }
            Some(Item::Table(table)) => {
                table.insert(&name, Item::Table(entry));
            }
            _ => {
                let mut table = Table::new();
                // Implicit: render `[accounts.NAME]` without an empty `[accounts]` header.
                table.set_implicit(true);
                table.insert(&name, Item::Table(entry));
                self.doc.insert("accounts", Item::Table(table));
            }
        }
        self.accounts.insert(name, account);
        self.write_default(Some(new_default));
        Ok(())
    }

    /// Removes an account. Removing the default promotes the first remaining account by
    /// name, or clears `default` when none is left.
    pub fn remove_account(&mut self, name: &str) -> Result<()> {
        if self.accounts.remove(name).is_none() {
            return Err(self.not_found(name));
        }
        if let Some(table) = self.doc.get_mut("accounts").and_then(Item::as_table_like_mut) {
            table.remove(name);
        }
        if self.default.as_deref() == Some(name) {
            let next = self.accounts.keys().next().cloned();
            self.write_default(next);
        }
        Ok(())
    }

    /// Makes `name` the default account.
    pub fn set_default(&mut self, name: &str) -> Result<()> {
        if !self.accounts.contains_key(name) {
            return Err(self.not_found(name));
        }
        self.write_default(Some(name.to_owned()));
        Ok(())
    }

    /// Writes the file atomically with mode 0600, creating its directory (0700) if needed.
    pub fn save(&self) -> Result<()> {
        atomic::write_private(&self.path, self.doc.to_string().as_bytes())
    }

    fn write_default(&mut self, name: Option<String>) {
        match &name {
            None => {
                self.doc.remove("default");
            }
            Some(name) => {
                let mut value = Value::from(name.as_str());
                match self.doc.get_mut("default") {
                    // Replace in place so the key keeps its position and comments.
                    Some(item) => {
                        if let Some(old) = item.as_value() {
                            *value.decor_mut() = old.decor().clone();
                        }
                        *item = Item::Value(value);
                    }
                    None => {
                        self.doc.insert("default", Item::Value(value));
                    }
                }
            }
        }
        self.default = name;
    }

    fn not_found(&self, name: &str) -> Error {
        Error::AccountNotFound { name: name.to_owned(), available: self.account_names() }
    }
}

fn validate_new(account: &Account) -> Result<()> {
    let invalid = |field, message: &str| Error::InvalidAccount {
        name: account.name.clone(),
        field,
        message: message.to_owned(),
    };
    if account.name.trim().is_empty() {
        return Err(invalid("name", "must not be empty"));
    }
    if account.username.trim().is_empty() {
        return Err(invalid("username", "must not be empty"));
    }
    if account.secret.is_empty() {
        return Err(invalid("secret", "must not be empty"));
    }
    if account.project_id == 0 {
        return Err(invalid("project_id", "must be greater than zero"));
    }
    Ok(())
}

/// toml_edit's own `Display` quotes the offending source line, which may hold a secret;
/// report only its message and position.
fn describe_toml_error(text: &str, error: &toml_edit::TomlError) -> String {
    let message = error.message().trim().replace('\n', "; ");
    let Some(start) = error.span().map(|s| s.start) else {
        return message;
    };
    let Some(before) = text.get(..start) else {
        return message;
    };
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("line {line}, column {column}: {message}")
}

/// Names only: the document holds secrets.
impl fmt::Debug for ConfigFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigFile")
            .field("path", &self.path)
            .field("accounts", &self.accounts.keys().collect::<Vec<_>>())
            .field("default", &self.default)
            .finish()
    }
}

#[cfg(test)]
mod tests;
