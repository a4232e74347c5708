//! A small structural scanner over JSON text that simd-json has already validated.
//!
//! simd-json unescapes strings in place and keeps no byte positions on its tape, so the exact
//! original text of a value (the `properties` object, spliced verbatim into the outputs) and the
//! column of a bad field are recovered here. The scanner trusts the input to be valid JSON but
//! still never indexes out of bounds: on anything unexpected it answers `None`.

use std::ops::Range;

/// Index of the first non-whitespace byte at or after `i`.
pub(crate) fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = b.get(i) {
        i += 1;
    }
    i
}

/// The index just past the last non-whitespace byte before `i` (0 if there is none).
pub(crate) fn trim_ws_end(b: &[u8], mut i: usize) -> usize {
    while i > 0 && matches!(b.get(i - 1), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i -= 1;
    }
    i
}

/// `i` is at an opening quote; returns the index just past the closing quote.
fn skip_string(b: &[u8], i: usize) -> Option<usize> {
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let mut j = i + 1;
    loop {
        match b.get(j)? {
            b'"' => return Some(j + 1),
            // An escape is at least two bytes; `\uXXXX` continues with plain hex digits.
            b'\\' => j += 2,
            _ => j += 1,
        }
    }
}

/// `i` is at the first byte of a value; returns the index just past it.
fn skip_value(b: &[u8], i: usize) -> Option<usize> {
    match b.get(i)? {
        b'"' => skip_string(b, i),
        b'{' | b'[' => skip_container(b, i),
        _ => {
            let mut j = i;
            while let Some(c) = b.get(j) {
                if matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                    break;
                }
                j += 1;
            }
            (j > i).then_some(j)
        }
    }
}

/// `i` is at `{` or `[`; returns the index just past the matching close. Iterative, so deep
/// nesting costs no stack.
fn skip_container(b: &[u8], i: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut j = i;
    loop {
        match b.get(j)? {
            b'"' => {
                j = skip_string(b, j)?;
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(j + 1);
                }
            }
            _ => {}
        }
        j += 1;
    }
}

/// Byte range of the value of the `ordinal`-th member (0-based, in text order) of the object
/// starting at `obj` (the index of its `{`).
pub(crate) fn member_value_span(b: &[u8], obj: usize, ordinal: usize) -> Option<Range<usize>> {
    if b.get(obj) != Some(&b'{') {
        return None;
    }
    let mut i = obj + 1;
    for n in 0..=ordinal {
        i = skip_ws(b, i);
        i = skip_string(b, i)?;
        i = skip_ws(b, i);
        if b.get(i) != Some(&b':') {
            return None;
        }
        let start = skip_ws(b, i + 1);
        let end = skip_value(b, start)?;
        if n == ordinal {
            return Some(start..end);
        }
        i = skip_ws(b, end);
        if b.get(i) != Some(&b',') {
            return None;
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value_text(line: &str, ordinal: usize) -> Option<&str> {
        let obj = skip_ws(line.as_bytes(), 0);
        member_value_span(line.as_bytes(), obj, ordinal).map(|r| &line[r])
    }

    #[test]
    fn finds_each_member_value() {
        let line = r#" { "a" : 1 , "b":"x\"}" ,"c": {"d":[1,{"e":"]}"}]} , "f":null}"#;
        assert_eq!(value_text(line, 0), Some("1"));
        assert_eq!(value_text(line, 1), Some(r#""x\"}""#));
        assert_eq!(value_text(line, 2), Some(r#"{"d":[1,{"e":"]}"}]}"#));
        assert_eq!(value_text(line, 3), Some("null"));
        assert_eq!(value_text(line, 4), None);
    }

    #[test]
    fn braces_and_escaped_backslashes_inside_strings() {
        let line = r#"{"p":{"k\\":"{\\","l":"}}}\\\""},"z":true}"#;
        assert_eq!(value_text(line, 0), Some(r#"{"k\\":"{\\","l":"}}}\\\""}"#));
        assert_eq!(value_text(line, 1), Some("true"));
    }

    #[test]
    fn deep_nesting_does_not_recurse() {
        let depth = 10_000;
        let line = format!(r#"{{"p":{}{}}}"#, "[".repeat(depth), "]".repeat(depth));
        assert_eq!(value_text(&line, 0).map(str::len), Some(2 * depth));
    }

    #[test]
    fn truncated_or_non_object_input_gives_none() {
        assert_eq!(value_text(r#"{"a":{"b":1"#, 0), None);
        assert_eq!(value_text(r#"{"a":"xyz"#, 0), None);
        assert_eq!(value_text("[1,2]", 0), None);
        assert_eq!(value_text("", 0), None);
        assert_eq!(value_text("{}", 0), None);
    }
}
