//! The synthetic dedup key of events without `$insert_id` (docs/sync.md, "Dedup").
//!
//! Re-fetching a day must give every row the same key again, so the key is a pure function of
//! the event: a fixed hash (128-bit FNV-1a, spelled out below, no seeds, no `RandomState`) of the
//! event name, the user's identity, the time and the canonical form of the properties. The
//! canonical form ignores what a re-export may change without changing the event: key order
//! and whitespace, how strings are escaped, and the `distinct_id` property, which Mixpanel's
//! export rewrites after an identity merge (callers pass `$device_id` as the identity when the
//! event has one, for the same reason).

use crate::write::write_json_string;

/// Objects nested deeper than this are hashed as their text, whitespace and all, rather than
/// canonicalised: the canonicaliser recurses, and no real event nests this deep.
const MAX_DEPTH: usize = 128;

/// Prefixed to the hashed bytes so that keys of different rule versions cannot collide (v2
/// stopped hashing the `distinct_id` property).
const DOMAIN: &[u8] = b"mpd/synthetic-insert-id/v2";

/// The deterministic dedup key of an event that has no `$insert_id`: 32 lowercase hex digits.
///
/// It is the 128-bit FNV-1a hash (offset basis `0x6c62272e07bb014262b821756295c58d`, prime
/// 2^88 + 2^8 + 0x3b) of, in order: the bytes `mpd/synthetic-insert-id/v2`; `event_name`,
/// `distinct_id` (the stable identity the caller chose) and the canonical properties, each as
/// its length (u64, little-endian) and its UTF-8 bytes; and `time_us` as i64 little-endian, between `distinct_id` and the properties.
///
/// The canonical properties are `properties_json` with object keys sorted (by their unescaped
/// bytes, recursively, repeated keys kept in their order), no whitespace, strings unescaped and
/// re-escaped minimally (only `"`, `\` and control characters), numbers and literals as
/// written, and the top-level `distinct_id` member left out. Text that is not valid JSON, or
/// nests deeper than 128 levels, is hashed as given.
///
/// ```
/// use mpd_decode::synthetic_insert_id;
///
/// let a = synthetic_insert_id("Login", "u1", 1_700_000_000_000_000, r#"{"b":[1, 2.50],"a":"x"}"#);
/// let b = synthetic_insert_id("Login", "u1", 1_700_000_000_000_000, r#"{ "a" : "x", "b" : [1,2.50] }"#);
/// assert_eq!(a, b);
/// assert_eq!(a.len(), 32);
/// assert_ne!(a, synthetic_insert_id("Login", "u1", 1_700_000_000_000_001, r#"{"a":"x","b":[1,2.50]}"#));
/// // A re-keyed distinct_id property does not change the key.
/// assert_eq!(
///     synthetic_insert_id("Login", "d1", 7, r#"{"distinct_id":"$device:d1","a":1}"#),
///     synthetic_insert_id("Login", "d1", 7, r#"{"distinct_id":"u_42","a":1}"#),
/// );
/// ```
#[must_use]
pub fn synthetic_insert_id(
    event_name: &str,
    distinct_id: &str,
    time_us: i64,
    properties_json: &str,
) -> String {
    let text = properties_json.as_bytes();
    let mut canonical = Vec::with_capacity(text.len());
    if canonicalise(text, &mut canonical).is_none() {
        canonical.clear();
        canonical.extend_from_slice(text);
    }
    let mut hash = Fnv1a128::default();
    hash.write(DOMAIN);
    hash.field(event_name.as_bytes());
    hash.field(distinct_id.as_bytes());
    hash.write(&time_us.to_le_bytes());
    hash.field(&canonical);
    format!("{:032x}", hash.0)
}

/// 128-bit FNV-1a (Fowler–Noll–Vo), the published parameters.
struct Fnv1a128(u128);

impl Default for Fnv1a128 {
    fn default() -> Self {
        Self(0x6c62_272e_07bb_0142_62b8_2175_6295_c58d)
    }
}

impl Fnv1a128 {
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u128::from(b)).wrapping_mul(Self::PRIME);
        }
    }

    /// Length-prefixed, so that `("ab", "c")` and `("a", "bc")` hash differently.
    fn field(&mut self, bytes: &[u8]) {
        self.write(&(bytes.len() as u64).to_le_bytes());
        self.write(bytes);
    }
}

/// Writes the canonical form of the JSON text `b` to `out`; `None` if it is not one valid
/// JSON value (or nests too deep).
fn canonicalise(b: &[u8], out: &mut Vec<u8>) -> Option<()> {
    let end = value(b, skip_ws(b, 0), 0, out)?;
    (skip_ws(b, end) == b.len()).then_some(())
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = b.get(i) {
        i += 1;
    }
    i
}

/// Canonicalises the value starting at `i`; returns the index just past it.
fn value(b: &[u8], i: usize, depth: usize, out: &mut Vec<u8>) -> Option<usize> {
    match *b.get(i)? {
        b'{' if depth < MAX_DEPTH => object(b, i, depth + 1, out),
        b'[' if depth < MAX_DEPTH => array(b, i, depth + 1, out),
        b'"' => {
            let (s, end) = string(b, i)?;
            write_json_string(out, &s);
            Some(end)
        }
        b'{' | b'[' => None,
        _ => {
            let end = i + b[i..]
                .iter()
                .position(|c| matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                .unwrap_or(b.len() - i);
            let token = &b[i..end];
            let literal = matches!(token, b"true" | b"false" | b"null");
            let number = token.first().is_some_and(|c| *c == b'-' || c.is_ascii_digit())
                && token
                    .iter()
                    .all(|c| matches!(c, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'));
            (literal || number).then(|| out.extend_from_slice(token)).map(|()| end)
        }
    }
}

/// The unescaped string whose opening quote is at `i`, and the index past its closing quote.
fn string(b: &[u8], i: usize) -> Option<(std::borrow::Cow<'_, str>, usize)> {
    let mut j = i + 1;
    let mut escaped = false;
    loop {
        match b.get(j)? {
            b'"' => break,
            b'\\' => {
                escaped = true;
                j += 2;
            }
            _ => j += 1,
        }
    }
    let raw = b.get(i..=j)?;
    let s = if escaped {
        std::borrow::Cow::Owned(serde_json::from_slice::<String>(raw).ok()?)
    } else {
        // No escapes: the text between the quotes is the string itself, if it is valid.
        let inner = std::str::from_utf8(&raw[1..raw.len() - 1]).ok()?;
        if inner.bytes().any(|c| c < 0x20) {
            return None;
        }
        std::borrow::Cow::Borrowed(inner)
    };
    Some((s, j + 1))
}

fn array(b: &[u8], i: usize, depth: usize, out: &mut Vec<u8>) -> Option<usize> {
    out.push(b'[');
    let mut j = skip_ws(b, i + 1);
    if b.get(j) == Some(&b']') {
        out.push(b']');
        return Some(j + 1);
    }
    loop {
        j = skip_ws(b, value(b, j, depth, out)?);
        match b.get(j)? {
            b',' => {
                out.push(b',');
                j = skip_ws(b, j + 1);
            }
            b']' => {
                out.push(b']');
                return Some(j + 1);
            }
            _ => return None,
        }
    }
}

fn object(b: &[u8], i: usize, depth: usize, out: &mut Vec<u8>) -> Option<usize> {
    // Members are canonicalised into a scratch buffer first, then written in key order.
    let mut scratch = Vec::new();
    let mut members = Vec::new();
    let mut j = skip_ws(b, i + 1);
    if b.get(j) == Some(&b'}') {
        out.extend_from_slice(b"{}");
        return Some(j + 1);
    }
    let end = loop {
        let (key, after_key) = string(b, j)?;
        j = skip_ws(b, after_key);
        if b.get(j) != Some(&b':') {
            return None;
        }
        let start = scratch.len();
        j = skip_ws(b, value(b, skip_ws(b, j + 1), depth, &mut scratch)?);
        if depth == 1 && key == "distinct_id" {
            // Mixpanel rewrites it after identity merges; the caller passes a stable identity.
            scratch.truncate(start);
        } else {
            members.push((key, start..scratch.len()));
        }
        match b.get(j)? {
            b',' => j = skip_ws(b, j + 1),
            b'}' => break j + 1,
            _ => return None,
        }
    };
    members.sort_by(|(a, _), (b, _)| a.as_bytes().cmp(b.as_bytes()));
    out.push(b'{');
    for (n, (key, range)) in members.into_iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        write_json_string(out, &key);
        out.push(b':');
        out.extend_from_slice(&scratch[range]);
    }
    out.push(b'}');
    Some(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(text: &str) -> Option<String> {
        let mut out = Vec::new();
        canonicalise(text.as_bytes(), &mut out).map(|()| String::from_utf8(out).unwrap())
    }

    #[test]
    fn fnv1a_128_matches_the_published_vectors() {
        // Test vectors of the FNV reference: the empty input is the offset basis.
        let hash = |s: &[u8]| {
            let mut h = Fnv1a128::default();
            h.write(s);
            h.0
        };
        assert_eq!(hash(b""), 0x6c62272e07bb014262b821756295c58d);
        assert_eq!(hash(b"a"), 0xd228cb696f1a8caf78912b704e4a8964);
    }

    #[test]
    fn canonical_form_sorts_keys_and_drops_whitespace() {
        assert_eq!(
            canonical(" { \"b\" : [ 1 , {\"z\":null,\"y\":true} ] ,\n\"a\":\t-1.50e+3 } ")
                .as_deref(),
            Some(r#"{"a":-1.50e+3,"b":[1,{"y":true,"z":null}]}"#)
        );
        assert_eq!(canonical("{}").as_deref(), Some("{}"));
        assert_eq!(canonical("[ ]").as_deref(), Some("[]"));
    }

    #[test]
    fn canonical_strings_are_minimally_escaped() {
        assert_eq!(
            canonical(r#"{"k\u00e9":"a\/b\u0041\"","ké":"\n"}"#).as_deref(),
            Some(r#"{"ké":"a/bA\"","ké":"\n"}"#)
        );
    }

    #[test]
    fn invalid_text_has_no_canonical_form() {
        for text in
            ["", "{", r#"{"a":}"#, r#"{"a":1,}"#, "[1 2]", "{} x", "tru", r#""a"#, "\"\u{1}\""]
        {
            assert_eq!(canonical(text), None, "{text:?}");
        }
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert_eq!(canonical(&deep), None);
    }

    #[test]
    fn the_key_is_stable_and_sensitive_to_each_field() {
        let props = r#"{"time":1700000000,"distinct_id":"u1","x":[1,2]}"#;
        let key = synthetic_insert_id("Login", "u1", 1_700_000_000_000_000, props);
        // Pinned (and cross-checked with an independent script): a change here would change
        // the keys of rows already stored.
        assert_eq!(key, "29488b374ce3a64fe37fa93338a53ac8");
        assert!(
            key.len() == 32
                && key.bytes().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        for other in [
            synthetic_insert_id("Logout", "u1", 1_700_000_000_000_000, props),
            synthetic_insert_id("Login", "u2", 1_700_000_000_000_000, props),
            synthetic_insert_id("Login", "u1", 1_700_000_000_000_001, props),
            synthetic_insert_id("Login", "u1", 1_700_000_000_000_000, r#"{"x":[2,1]}"#),
            // The fields are length-prefixed: moving a byte between them changes the key.
            synthetic_insert_id("Login", "", 1_700_000_000_000_000, props),
            synthetic_insert_id("Loginu", "1", 1_700_000_000_000_000, props),
        ] {
            assert_ne!(other, key);
        }
    }

    #[test]
    fn the_key_of_invalid_properties_is_their_text() {
        let a = synthetic_insert_id("e", "d", 0, "{not json");
        assert_eq!(a, synthetic_insert_id("e", "d", 0, "{not json"));
        assert_ne!(a, synthetic_insert_id("e", "d", 0, "{not  json"));
    }
}
