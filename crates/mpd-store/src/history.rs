//! Commit history read straight from a table's Delta log.
//!
//! deltalake's own history stream drops the version numbers; the log's file names carry them,
//! so the store reads the `commitInfo` line of each commit file itself.

use chrono::{DateTime, Utc};
use deltalake::DeltaTable;
use deltalake::logstore::object_store::ObjectStoreExt;
use deltalake::logstore::object_store::path::Path as ObjectPath;
use futures::TryStreamExt;
use serde_json::{Map, Value};

use crate::backend::DELTA_LOG;
use crate::{Error, Result};

/// Key of the commit-info entry holding the caller's metadata.
pub const COMMIT_METADATA_KEY: &str = "mpd";

/// One commit of a table.
#[derive(Debug, Clone, PartialEq)]
pub struct CommitRecord {
    /// The table version this commit produced.
    pub version: i64,
    /// When the commit was written, if the log says.
    pub timestamp: Option<DateTime<Utc>>,
    /// Delta's operation name (`CREATE TABLE`, `WRITE`, `CREATE OR REPLACE TABLE`, ...).
    pub operation: Option<String>,
    /// The object stored under [`COMMIT_METADATA_KEY`] by the writer; empty when absent.
    pub metadata: Map<String, Value>,
}

/// The commits of `table`, newest first, at most `limit` of them.
pub(crate) async fn read(
    name: &str,
    table: &DeltaTable,
    limit: Option<usize>,
) -> Result<Vec<CommitRecord>> {
    let store = table.object_store();
    let log = ObjectPath::from(DELTA_LOG);
    let metas: Vec<_> = store
        .list(Some(&log))
        .try_collect()
        .await
        .map_err(|error| Error::delta(name, error.into()))?;
    let mut commits: Vec<(i64, ObjectPath)> = metas
        .into_iter()
        .filter_map(|meta| {
            let version = commit_version(meta.location.filename()?)?;
            Some((version, meta.location))
        })
        .collect();
    commits.sort_unstable_by_key(|commit| std::cmp::Reverse(commit.0));
    commits.truncate(limit.unwrap_or(usize::MAX));

    let mut records = Vec::with_capacity(commits.len());
    for (version, location) in commits {
        let bytes = store
            .get(&location)
            .await
            .map_err(|error| Error::delta(name, error.into()))?
            .bytes()
            .await
            .map_err(|error| Error::delta(name, error.into()))?;
        records.push(parse_commit(version, &bytes));
    }
    Ok(records)
}

/// The `operationMetrics` Delta wrote into the commit info of commit `version`; empty when
/// the commit has none.
pub(crate) async fn operation_metrics(
    name: &str,
    table: &DeltaTable,
    version: i64,
) -> Result<Map<String, Value>> {
    let location = ObjectPath::from(format!("{DELTA_LOG}/{version:020}.json"));
    let bytes = table
        .object_store()
        .get(&location)
        .await
        .map_err(|error| Error::delta(name, error.into()))?
        .bytes()
        .await
        .map_err(|error| Error::delta(name, error.into()))?;
    Ok(match commit_info(&bytes).and_then(|mut info| info.remove("operationMetrics")) {
        Some(Value::Object(metrics)) => metrics,
        _ => Map::new(),
    })
}

/// The `commitInfo` object of a commit file.
fn commit_info(bytes: &[u8]) -> Option<Map<String, Value>> {
    let info = bytes
        .split(|b| *b == b'\n')
        .filter_map(|line| serde_json::from_slice::<Value>(line).ok())
        .find_map(|mut action| action.get_mut("commitInfo").map(Value::take));
    match info {
        Some(Value::Object(info)) => Some(info),
        _ => None,
    }
}

/// The version of a commit file name (`00000000000000000007.json`), or None for other log files.
fn commit_version(file_name: &str) -> Option<i64> {
    let digits = file_name.strip_suffix(".json")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn parse_commit(version: i64, bytes: &[u8]) -> CommitRecord {
    let mut record =
        CommitRecord { version, timestamp: None, operation: None, metadata: Map::new() };
    let Some(mut info) = commit_info(bytes) else {
        return record;
    };
    record.timestamp = info
        .get("timestamp")
        .and_then(Value::as_i64)
        .and_then(DateTime::<Utc>::from_timestamp_millis);
    record.operation = info.get("operation").and_then(Value::as_str).map(str::to_owned);
    if let Some(Value::Object(metadata)) = info.remove(COMMIT_METADATA_KEY) {
        record.metadata = metadata;
    }
    record
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_commit_files_have_versions() {
        assert_eq!(commit_version("00000000000000000007.json"), Some(7));
        assert_eq!(commit_version("00000000000000000010.checkpoint.parquet"), None);
        assert_eq!(commit_version("_last_checkpoint"), None);
        assert_eq!(commit_version("7.json"), None);
    }

    #[test]
    fn commit_info_fields_are_read() {
        let log = br#"{"add":{"path":"a.parquet"}}
{"commitInfo":{"timestamp":1700000000000,"operation":"WRITE","mpd":{"command":"fetch","rows":3}}}
"#;
        let record = parse_commit(4, log);
        assert_eq!(record.version, 4);
        assert_eq!(record.operation.as_deref(), Some("WRITE"));
        assert_eq!(record.timestamp.map(|t| t.timestamp()), Some(1_700_000_000));
        assert_eq!(record.metadata.get("command"), Some(&Value::from("fetch")));
    }

    #[test]
    fn a_commit_without_info_still_has_its_version() {
        let record = parse_commit(2, b"{\"add\":{}}\nnot json\n");
        assert_eq!(record.version, 2);
        assert!(record.operation.is_none() && record.metadata.is_empty());
    }
}
