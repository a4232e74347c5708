//! Users erased with `mpd gdpr delete`: their ids are kept only as SHA-256 hashes (in the
//! `gdpr_erasures` table), and every later load drops rows that carry one of them.

use std::collections::HashSet;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, BooleanArray, RecordBatch};
use sha2::{Digest, Sha256};

use crate::dedup::normalize_strings;
use crate::error::{Error, Result};

/// The table that records erased ids (hashed).
pub const ERASURES_TABLE: &str = "gdpr_erasures";

/// Columns of an events-shaped batch that identify a user.
const ID_COLUMNS: [&str; 3] = ["distinct_id", "device_id", "user_id"];

/// The hex SHA-256 of an id, as recorded.
pub fn hash_id(id: &str) -> String {
    let digest = Sha256::digest(id.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The set of erased ids; empty (and free to apply) when nobody was erased.
#[derive(Debug, Clone, Default)]
pub struct ErasedIds {
    hashes: Option<Arc<HashSet<[u8; 32]>>>,
}

impl ErasedIds {
    /// Reads the recorded hashes of a store.
    pub async fn load(store: &mpd_store::Store) -> Result<Self> {
        if !store.exists(ERASURES_TABLE).await? {
            return Ok(Self::default());
        }
        let mut hashes = HashSet::new();
        for batch in store.read_columns(ERASURES_TABLE, &["id_sha256"], None).await? {
            let batch = normalize_strings(batch)?;
            let Some(column) = batch.column(0).as_string_opt::<i32>() else {
                return Err(Error::Column {
                    table: Some(ERASURES_TABLE.to_owned()),
                    column: "id_sha256".to_owned(),
                    expected: "Utf8".to_owned(),
                    found: batch.column(0).data_type().to_string(),
                });
            };
            hashes.extend(column.iter().flatten().filter_map(parse_hex));
        }
        tracing::debug!(n = hashes.len(), "erased ids loaded");
        Ok(Self { hashes: (!hashes.is_empty()).then(|| Arc::new(hashes)) })
    }

    pub fn is_empty(&self) -> bool {
        self.hashes.is_none()
    }

    /// Whether `id` belongs to an erased user.
    pub fn contains(&self, id: &str) -> bool {
        self.hashes.as_ref().is_some_and(|set| set.contains(&digest(id)))
    }

    /// `batch` without the rows of erased users, and how many rows were dropped.
    pub fn drop_erased(&self, batch: RecordBatch) -> Result<(RecordBatch, u64)> {
        if self.is_empty() {
            return Ok((batch, 0));
        }
        let normalized = normalize_strings(batch)?;
        let mut keep = vec![true; normalized.num_rows()];
        for name in ID_COLUMNS {
            let Some(column) = normalized.column_by_name(name) else { continue };
            let Some(ids) = column.as_string_opt::<i32>() else { continue };
            for (row, keep_row) in keep.iter_mut().enumerate() {
                if *keep_row && ids.is_valid(row) && self.contains(ids.value(row)) {
                    *keep_row = false;
                }
            }
        }
        let dropped = keep.iter().filter(|k| !**k).count() as u64;
        if dropped == 0 {
            return Ok((normalized, 0));
        }
        let kept =
            arrow_select::filter::filter_record_batch(&normalized, &BooleanArray::from(keep))
                .map_err(|e| Error::Internal(format!("cannot drop erased rows: {e}")))?;
        Ok((kept, dropped))
    }
}

fn digest(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

fn parse_hex(text: &str) -> Option<[u8; 32]> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks(2).enumerate() {
        let pair = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_round_trip_through_hex() {
        let hex = hash_id("u_000042");
        assert_eq!(hex.len(), 64);
        assert_eq!(parse_hex(&hex), Some(digest("u_000042")));
        assert_eq!(parse_hex("zz"), None);
    }

    #[test]
    fn the_known_digest_of_a_short_id() {
        // sha256("abc"), the FIPS 180-2 test vector.
        assert_eq!(
            hash_id("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn no_erasures_drop_nothing() {
        let ids = ErasedIds::default();
        assert!(ids.is_empty() && !ids.contains("anyone"));
    }
}
