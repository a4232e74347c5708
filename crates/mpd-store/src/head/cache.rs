//! The saved index of a head: `_mpd/heads/<table>` under the store's root.
//!
//! Text, one item a line: a format line, a header (version, the fingerprint of that
//! version's commit file, cursors), the protocol and metadata actions as Delta writes them,
//! then one line per live file: `path TAB size TAB date TAB deletion-vector(0|1) TAB first
//! date TAB last date` (the dates of its statistics, in a table not partitioned by date). An index
//! whose commit file is gone or holds other bytes (the table was dropped and written again)
//! is not used.

use std::collections::HashMap;

use deltalake::kernel::Action;
use serde::{Deserialize, Serialize};

use super::HeadState;
use super::files::{LiveFiles, render_line};
use super::replay::{commit_path, schema_of};
use crate::backend::Backend;
use crate::location::MPD_DIR;

/// Replayed commits after which a load saves the index again.
pub(super) const SAVE_AFTER_COMMITS: u64 = 8;
const FORMAT_LINE: &str = "mpd-head 2";

#[derive(Serialize, Deserialize)]
struct Header {
    version: u64,
    commit_fingerprint: String,
    txns: HashMap<String, Option<i64>>,
}

fn index_path(table: &str) -> String {
    format!("{MPD_DIR}/heads/{table}")
}

/// FNV-1a of `bytes`: ties an index to the exact commit file it was built at (not a
/// defence against forgery: the index lives beside the log it describes).
pub(super) fn fingerprint(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The saved head of `table` if there is one and it still describes the log.
pub(super) async fn read(backend: &Backend, table: &str) -> Option<HeadState> {
    let bytes = match backend.read(&index_path(table)).await {
        Ok(found) => found?,
        Err(error) => {
            tracing::debug!(table, %error, "cannot read the saved head");
            return None;
        }
    };
    let Some(state) = parse(&bytes) else {
        tracing::debug!(table, "the saved head is unreadable; replaying the log");
        return None;
    };
    let commit = backend.read(&commit_path(table, state.version)).await.ok()??;
    if fingerprint(&commit) != state.commit_fingerprint {
        tracing::debug!(table, version = state.version, "the saved head describes another log");
        return None;
    }
    Some(state)
}

/// Saves `state` as the head of `table`. Best effort: a failure costs the next run a full
/// load, so it is logged, not returned.
pub(crate) async fn save(backend: &Backend, table: &str, state: &HeadState) {
    let Some(text) = render(state) else {
        return;
    };
    if let Err(error) = backend.write(&index_path(table), text.into()).await {
        tracing::debug!(table, %error, "cannot save the head");
    }
}

/// Deletes the saved head of a dropped table. Best effort, as [`save`].
pub(crate) async fn forget(backend: &Backend, table: &str) {
    if let Err(error) = backend.delete(&index_path(table)).await {
        tracing::debug!(table, %error, "cannot delete the saved head");
    }
}

/// The index's text; None for a table a head cannot describe from its metadata alone.
fn render(state: &HeadState) -> Option<String> {
    schema_of(&state.metadata)?;
    let header = Header {
        version: state.version,
        commit_fingerprint: format!("{:016x}", state.commit_fingerprint),
        txns: state.txns.clone(),
    };
    let mut text = String::with_capacity(64 * state.files.len() + 4096);
    text.push_str(FORMAT_LINE);
    text.push('\n');
    for line in [
        serde_json::to_string(&header).ok()?,
        serde_json::to_string(&Action::Protocol(state.protocol.clone())).ok()?,
        serde_json::to_string(&Action::Metadata(state.metadata.clone())).ok()?,
    ] {
        text.push_str(&line);
        text.push('\n');
    }
    for (path, file) in state.files.iter() {
        text.push_str(&render_line(&path, &file)?);
    }
    Some(text)
}

fn parse(bytes: &[u8]) -> Option<HeadState> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut parts = text.splitn(5, '\n');
    if parts.next()? != FORMAT_LINE {
        return None;
    }
    let header: Header = serde_json::from_str(parts.next()?).ok()?;
    let Action::Protocol(protocol) = serde_json::from_str(parts.next()?).ok()? else {
        return None;
    };
    let Action::Metadata(metadata) = serde_json::from_str(parts.next()?).ok()? else {
        return None;
    };
    // The rest is the file lines, read where a lookup needs them.
    let files = LiveFiles::from_saved(parts.next().unwrap_or_default())?;
    Some(HeadState {
        version: header.version,
        schema: schema_of(&metadata)?,
        protocol,
        metadata,
        files,
        txns: header.txns,
        commit_fingerprint: u64::from_str_radix(&header.commit_fingerprint, 16).ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_tell_commits_apart() {
        assert_eq!(fingerprint(b""), 0xcbf2_9ce4_8422_2325);
        assert_ne!(fingerprint(b"{\"add\":1}"), fingerprint(b"{\"add\":2}"));
    }

    #[test]
    fn damaged_indexes_are_not_read() {
        for text in ["", "mpd-head 1\n", "mpd-head 2\n{not json}\n", "mpd-head 2\n{}\n"] {
            assert!(parse(text.as_bytes()).is_none(), "{text:?}");
        }
    }
}
