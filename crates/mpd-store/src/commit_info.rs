//! What every commit mpd makes says about itself: one typed record, written into the Delta
//! commit info under the `mpd` key and read back by `tables history`, `inspect tables` and any
//! other reader of the log (docs/ARCHITECTURE.md, "Contracts"). The store writes it under
//! [`COMMIT_METADATA_KEY`](crate::COMMIT_METADATA_KEY).
//!
//! Fields a command has nothing to say about are left out of the JSON, so each commit carries
//! only what applies to it; a reader sees the same key for the same fact in every command.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The metadata of one commit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CommitInfo {
    /// The command that made the commit: `sync events`, `fetch events`, `import export`, ...
    pub command: String,
    /// How the command treated the table or chose its days (`create`, `append`, `replace`,
    /// `first`, `incremental`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// The pipelines dataset an import read (`people`, `identity`, `export`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
    /// Where derived rows came from (`derived` identity mappings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The one day a commit holds (a pipelines day folder).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub day: Option<NaiveDate>,
    /// First day of the range the commit covers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<NaiveDate>,
    /// Last day of the range the commit covers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<NaiveDate>,
    /// Event names a fetch asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<String>>,
    /// The `where` expression a fetch passed to Mixpanel.
    #[serde(rename = "where", skip_serializing_if = "Option::is_none")]
    pub where_expr: Option<String>,
    /// The row limit a fetch passed to Mixpanel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// The cohort a profile fetch was restricted to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cohort: Option<u64>,
    /// The `_sync_id` of the rows the commit added.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sync_id: Option<i64>,
    /// Identity derivation: events rows after this `_sync_id` were read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events_after_sync_id: Option<i64>,
    /// Identity derivation: the events table version covered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events_version: Option<i64>,
    /// Files an import read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<u64>,
    /// Users an erasure was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub users: Option<u64>,
    /// Hashed ids an erasure removed rows of.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ids: Option<u64>,
    /// Records received from the source.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fetched: Option<u64>,
    /// Rows the commit added.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub written: Option<u64>,
    /// Rows left out because the table already held them (re-reads).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub already_present: Option<u64>,
    /// Identity mappings left out because the table already held them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub already_mapped: Option<u64>,
    /// True duplicates moved to `rejected_duplicates`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicates_rejected: Option<u64>,
    /// Rows of erased users dropped on the way in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub erased_dropped: Option<u64>,
    /// Malformed lines set aside in the quarantine file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quarantined: Option<u64>,
    /// The sync cursor after the commit: the last fully synced day.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<NaiveDate>,
}

impl CommitInfo {
    /// A record of `command` with nothing else said yet.
    #[must_use]
    pub fn new(command: &str) -> Self {
        Self { command: command.to_owned(), ..Self::default() }
    }

    /// The record as the store writes it.
    #[must_use]
    pub fn to_metadata(&self) -> Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map,
            // A struct of strings, numbers and dates always serializes to an object.
            _ => Map::new(),
        }
    }

    /// Reads a commit's metadata back; keys it does not know (other writers', older
    /// versions') are ignored and a value of the wrong type leaves its field empty.
    #[must_use]
    pub fn from_metadata(metadata: &Map<String, Value>) -> Self {
        // Each entry is tried alone first, so one unreadable value does not lose the others.
        let readable: Map<String, Value> = metadata
            .iter()
            .filter(|(key, value)| {
                let one = Map::from_iter([((*key).clone(), (*value).clone())]);
                serde_json::from_value::<Self>(Value::Object(one)).is_ok()
            })
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        serde_json::from_value(Value::Object(readable)).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_was_said_is_written() {
        let mut info = CommitInfo::new("sync events");
        info.written = Some(3);
        info.cursor = NaiveDate::from_ymd_opt(2024, 3, 9);
        let json = serde_json::to_string(&info.to_metadata()).unwrap();
        assert_eq!(json, r#"{"command":"sync events","written":3,"cursor":"2024-03-09"}"#);
    }

    #[test]
    fn metadata_round_trips() {
        let mut info = CommitInfo::new("fetch events");
        info.mode = Some("append".to_owned());
        info.from = NaiveDate::from_ymd_opt(2024, 1, 1);
        info.to = NaiveDate::from_ymd_opt(2024, 1, 31);
        info.events = Some(vec!["Login".to_owned()]);
        info.where_expr = Some(r#"properties["x"] == 1"#.to_owned());
        info.sync_id = Some(4);
        info.fetched = Some(10);
        assert_eq!(CommitInfo::from_metadata(&info.to_metadata()), info);
        assert!(info.to_metadata().contains_key("where"));
    }

    #[test]
    fn unknown_keys_and_wrong_types_are_ignored_when_reading() {
        let metadata = serde_json::json!({
            "command": "replace", "rows": 3, "written": "many", "cursor": null, "already_present": 2
        });
        let Value::Object(map) = metadata else { unreachable!() };
        let info = CommitInfo::from_metadata(&map);
        assert_eq!(info.command, "replace");
        assert_eq!(info.written, None);
        assert_eq!(info.cursor, None);
        assert_eq!(info.already_present, Some(2));
    }
}
