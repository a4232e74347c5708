//! The figment layers, built from in-memory snapshots rather than the process environment.

use std::path::PathBuf;

use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};

use super::{RENAMED_KEYS, SETTING_KEYS, Settings, SettingsOverrides, validate};
use crate::{ConfigFile, EnvVars, Error, Result};

const DEFAULT_NAME: &str = "default";
const FILE_NAME: &str = "file";
const FLAG_NAME: &str = "flag";

/// The documented variables for the URL settings; they win over `MPD_<KEY>`.
const URL_VARS: [(&str, &str); 3] =
    [("base_url", "MP_BASE_URL"), ("export_url", "MP_EXPORT_URL"), ("query_url", "MP_QUERY_URL")];

/// One layer of values. Metadata names double as the source shown to users, so each env
/// var gets its own layer named after it.
struct Layer {
    name: String,
    file: Option<PathBuf>,
    dict: Dict,
}

impl Provider for Layer {
    fn metadata(&self) -> Metadata {
        let metadata = Metadata::named(self.name.clone());
        match &self.file {
            Some(path) => metadata.source(path.as_path()),
            None => metadata,
        }
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.dict.clone()))
    }
}

pub(super) fn load(
    file: &ConfigFile,
    env: &EnvVars,
    overrides: &SettingsOverrides,
) -> Result<(Settings, Figment)> {
    let mut figment = Figment::new().merge(Layer {
        name: DEFAULT_NAME.to_owned(),
        file: None,
        dict: to_dict(&Settings::default(), DEFAULT_NAME)?,
    });
    if let Some(dict) = file_dict(file)? {
        figment = figment.merge(Layer {
            name: FILE_NAME.to_owned(),
            file: Some(file.path().to_path_buf()),
            dict,
        });
    }
    for (old, new, factor) in RENAMED_KEYS {
        let var = env_var(old);
        if let Some(value) = env.get(&var) {
            tracing::warn!(
                "{var} is deprecated; set {} instead (it is read as {new})",
                env_var(new)
            );
            let dict =
                Dict::from([(new.to_owned(), converted(Value::from(value.to_owned()), factor))]);
            figment = figment.merge(Layer { name: format!("env {var}"), file: None, dict });
        }
    }
    for (key, var) in env_vars() {
        if let Some(value) = env.get(&var) {
            let dict = Dict::from([(key.to_owned(), env_value(key, value))]);
            figment = figment.merge(Layer { name: format!("env {var}"), file: None, dict });
        }
    }
    figment = figment.merge(Layer {
        name: FLAG_NAME.to_owned(),
        file: None,
        dict: to_dict(overrides, FLAG_NAME)?,
    });

    // Lossy: env values arrive as strings and must still fill numeric fields.
    let settings: Settings = figment.extract_lossy().map_err(|e| from_figment(&figment, e))?;
    validate::check(&settings).map_err(|(key, message)| Error::InvalidSetting {
        key: key.to_owned(),
        message: format!("from {}: {message}", origin(&figment, key, true)),
    })?;
    Ok((settings, figment))
}

/// Where the effective value of `key` came from; with `detailed`, file sources include
/// the path.
pub(super) fn origin(figment: &Figment, key: &str, detailed: bool) -> String {
    match figment.find_metadata(key) {
        Some(metadata) => describe(metadata, detailed),
        // Unset options have no value at all, hence no metadata.
        None => DEFAULT_NAME.to_owned(),
    }
}

fn describe(metadata: &Metadata, detailed: bool) -> String {
    match metadata.source.as_ref().and_then(|s| s.file_path()) {
        Some(path) if detailed => format!("{} {}", metadata.name, path.display()),
        _ => metadata.name.to_string(),
    }
}

/// `(key, VAR)` for every settings variable, lowest precedence first.
fn env_vars() -> impl Iterator<Item = (&'static str, String)> {
    let mpd = SETTING_KEYS.iter().map(|key| (*key, env_var(key)));
    mpd.chain(URL_VARS.into_iter().map(|(key, var)| (key, var.to_owned())))
}

/// A variable's text as the setting's value: lists are comma-separated
/// (`MPD_TYPED_PROPERTIES='$browser:text,amount:float'`; `none` for an empty list, since an
/// empty variable counts as unset).
fn env_value(key: &str, text: &str) -> Value {
    if TABLE_KEYS.contains(&key) {
        let entries = text.split(',').filter_map(|item| {
            let (k, v) = item.split_once('=')?;
            Some((k.trim().to_owned(), Value::from(v.trim().to_owned())))
        });
        return Value::from(entries.collect::<Dict>());
    }
    if LIST_KEYS.contains(&key) {
        if text.trim() == "none" {
            return Value::from(Vec::<String>::new());
        }
        let items = text.split(',').map(str::trim).filter(|item| !item.is_empty());
        return Value::from(items.map(str::to_owned).collect::<Vec<_>>());
    }
    Value::from(text.to_owned())
}

/// Settings whose value is a list.
const LIST_KEYS: [&str; 1] = ["typed_properties"];
/// Settings whose value is a table of text (`key=value,key=value` in a variable).
const TABLE_KEYS: [&str; 1] = ["storage"];

fn env_var(key: &str) -> String {
    format!("MPD_{}", key.to_ascii_uppercase())
}

/// A value of a renamed key in the new key's unit; what is not a number is passed on as is,
/// so the type error names the old key's layer.
fn converted(value: Value, factor: f64) -> Value {
    let number = value.to_num_lossy().and_then(|n| {
        n.to_f64()
            .or_else(|| n.to_i128().map(|i| i as f64))
            .or_else(|| n.to_u128().map(|u| u as f64))
    });
    match number {
        Some(number) if (factor - 1.0).abs() < f64::EPSILON => Value::from(number.round() as u64),
        Some(number) => Value::from(number * factor),
        None => value,
    }
}

fn to_dict<T: serde::Serialize>(value: &T, layer: &str) -> Result<Dict> {
    let invalid = |message: String| Error::InvalidSetting { key: layer.to_owned(), message };
    match Value::serialize(value) {
        Ok(Value::Dict(_, dict)) => Ok(dict),
        Ok(_) => Err(invalid("settings did not serialize to a table".to_owned())),
        Err(e) => Err(invalid(e.to_string())),
    }
}

/// The `[mpd]` table as figment values; unknown keys are ignored with a warning so a
/// newer mpd's settings do not break an older binary.
fn file_dict(file: &ConfigFile) -> Result<Option<Dict>> {
    let Some(table) = file.mpd_table() else {
        return Ok(None);
    };
    let text = mpd_table_text(table);
    let mut dict: Dict = toml::from_str(&text).map_err(|e| Error::Parse {
        path: file.path().to_path_buf(),
        message: format!("[mpd]: {}", e.message()),
    })?;
    for (old, new, factor) in RENAMED_KEYS {
        if let Some(value) = dict.remove(old) {
            tracing::warn!(path = %file.path().display(), "[mpd] {old} is deprecated; write {new} instead");
            dict.entry(new.to_owned()).or_insert_with(|| converted(value, factor));
        }
    }
    dict.retain(|key, _| {
        let known = SETTING_KEYS.contains(&key.as_str());
        if !known {
            tracing::warn!(key, path = %file.path().display(), "ignoring unknown key in [mpd]");
        }
        known
    });
    Ok(Some(dict))
}

/// Re-renders only the `[mpd]` entries as a standalone document, so the rest of the file
/// (which holds secrets) is not parsed a second time.
fn mpd_table_text(table: &dyn toml_edit::TableLike) -> String {
    let mut doc = toml_edit::DocumentMut::new();
    for (key, item) in table.iter() {
        doc.insert(key, item.clone());
    }
    doc.to_string()
}

fn from_figment(figment: &Figment, error: figment::Error) -> Error {
    let key = if error.path.is_empty() { "mpd".to_owned() } else { error.path.join(".") };
    let origin = match &error.metadata {
        Some(metadata) => describe(metadata, true),
        None => origin(figment, &key, true),
    };
    Error::InvalidSetting { key, message: format!("from {origin}: {}", error.kind) }
}
