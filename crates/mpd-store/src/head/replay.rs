//! Bringing a head forward: the commits written after its version, applied to its state.

use std::sync::Arc;

use arrow_schema::SchemaRef;
use deltalake::kernel::engine::arrow_conversion::TryIntoArrow;
use deltalake::kernel::{Action, Metadata};

use super::{HeadState, LiveFile, cache, partitioned_by_date};
use crate::Result;
use crate::backend::{Backend, DELTA_LOG};
use crate::query::DATE_COLUMN;

/// Past this many commits a full load (from the last checkpoint) is cheaper than the replay.
const MAX_REPLAYED: u64 = 64;

/// The commit file of `version`, under the store's root.
pub(super) fn commit_path(table: &str, version: u64) -> String {
    format!("{table}/{DELTA_LOG}/{version:020}.json")
}

/// `state` with the commits after its version applied, and how many there were; None when
/// one of them is beyond what a head follows (a metadata change to column mapping, an
/// action it cannot parse) or there are too many: the caller then loads the table in full.
pub(super) async fn advance(
    backend: &Backend,
    table: &str,
    mut state: HeadState,
) -> Result<Option<(HeadState, u64)>> {
    let mut applied = 0;
    while let Some(bytes) = backend.read(&commit_path(table, state.version + 1)).await? {
        if applied == MAX_REPLAYED || !apply(&mut state, &bytes) {
            return Ok(None);
        }
        state.version += 1;
        state.commit_fingerprint = cache::fingerprint(&bytes);
        applied += 1;
    }
    Ok(Some((state, applied)))
}

/// Applies one commit's actions; false when the commit is beyond what a head follows.
fn apply(state: &mut HeadState, commit: &[u8]) -> bool {
    let mut adds = Vec::new();
    let mut removes = Vec::new();
    for line in commit.split(|b| *b == b'\n').filter(|line| !line.trim_ascii().is_empty()) {
        let Ok(action) = serde_json::from_slice::<Action>(line) else {
            return false;
        };
        match action {
            Action::Add(add) => adds.push(add),
            Action::Remove(remove) => removes.push(remove.path),
            Action::Txn(txn) => {
                state.txns.insert(txn.app_id, Some(txn.version));
            }
            Action::Metadata(metadata) => {
                let Some(schema) = schema_of(&metadata) else {
                    return false;
                };
                state.schema = schema;
                state.metadata = metadata;
            }
            Action::Protocol(protocol) => state.protocol = protocol,
            // No bearing on the live files, the schema or the cursors.
            Action::CommitInfo(_) | Action::Cdc(_) | Action::DomainMetadata(_) => {}
        }
    }
    // A file whose deletion vector changed is removed and added under the same path.
    for path in removes {
        state.files.remove(&path);
    }
    let by_date = partitioned_by_date(&state.metadata);
    for add in adds {
        let live = LiveFile::new(
            add.size,
            add.partition_values.get(DATE_COLUMN).cloned().flatten(),
            add.deletion_vector.is_some(),
            add.stats.as_deref(),
            by_date,
        );
        state.files.insert(add.path, live);
    }
    true
}

/// The Arrow schema of a table with `metadata`; None for what a head does not follow: column
/// mapping (physical names differ from the schema's) or a schema it cannot read.
pub(super) fn schema_of(metadata: &Metadata) -> Option<SchemaRef> {
    if super::column_mapped(metadata) {
        return None;
    }
    let schema = metadata.parse_schema().ok()?;
    let arrow: arrow_schema::Schema = (&schema).try_into_arrow().ok()?;
    Some(Arc::new(arrow))
}
