//! Identity re-keying: how the raw export shows an anonymous event once its device has been
//! merged into a user. Only `distinct_id` changes, so the rewrite is a byte splice that keeps
//! every other byte (key order, number formatting) of the line.

use std::collections::HashMap;

/// The key and prefix an anonymous line's `distinct_id` starts with, as the synthetic
/// renderer writes it (no whitespace).
const ANONYMOUS_KEY: &[u8] = b"\"distinct_id\":\"$device:";

/// Maps merged anonymous ids (`$device:<uuid>`) to the user id they resolve to.
#[derive(Debug, Default)]
pub(crate) struct Rekeyer {
    by_anonymous_id: HashMap<String, String>,
}

impl Rekeyer {
    pub(crate) fn new(merges: &[(String, String)]) -> Self {
        Self { by_anonymous_id: merges.iter().cloned().collect() }
    }

    /// The line with its `distinct_id` replaced by the resolved user id, or `None` when the
    /// line is not an anonymous event of a merged device.
    pub(crate) fn rekey(&self, line: &[u8]) -> Option<Vec<u8>> {
        let key_at = line.windows(ANONYMOUS_KEY.len()).position(|w| w == ANONYMOUS_KEY)?;
        // The value starts at `$device:`, right after the opening quote.
        let value_start = key_at + ANONYMOUS_KEY.len() - "$device:".len();
        let value_len = line[value_start..].iter().position(|b| *b == b'"')?;
        let value_end = value_start + value_len;
        let anonymous_id = std::str::from_utf8(&line[value_start..value_end]).ok()?;
        let user_id = self.by_anonymous_id.get(anonymous_id)?;
        let mut out = Vec::with_capacity(line.len());
        out.extend_from_slice(&line[..value_start]);
        out.extend_from_slice(user_id.as_bytes());
        out.extend_from_slice(&line[value_end..]);
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rekeyer() -> Rekeyer {
        Rekeyer::new(&[("$device:abc-1".to_owned(), "u_000007".to_owned())])
    }

    #[test]
    fn merged_device_lines_get_the_user_id_and_nothing_else_changes() {
        let line = r#"{"event":"Search","properties":{"time":5,"distinct_id":"$device:abc-1","$insert_id":"i","$device_id":"abc-1","q":"東京"}}"#;
        let out = rekeyer().rekey(line.as_bytes()).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"event":"Search","properties":{"time":5,"distinct_id":"u_000007","$insert_id":"i","$device_id":"abc-1","q":"東京"}}"#
        );
    }

    #[test]
    fn other_lines_are_left_alone() {
        let r = rekeyer();
        assert!(r.rekey(br#"{"properties":{"distinct_id":"$device:zzz"}}"#).is_none());
        assert!(r.rekey(br#"{"properties":{"distinct_id":"u_000007"}}"#).is_none());
        assert!(r.rekey(br#"{"properties":{"distinct_id":""}}"#).is_none());
        assert!(r.rekey(br#"{"properties":{"distinct_id":"$device:abc-1"#).is_none());
    }
}
