//! Hand-written JSON output: key order stays as written (serde_json's map would sort it) and
//! number formatting stays under our control (amounts keep two decimals).

use std::fmt::Write;

/// Appends `s` as a JSON string literal.
pub(crate) fn push_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Writes `,"key":` (or `"key":` at the start of an object).
pub(crate) fn key(out: &mut String, key: &str) {
    if !out.ends_with('{') {
        out.push(',');
    }
    push_str(out, key);
    out.push(':');
}

pub(crate) fn str_field(out: &mut String, k: &str, v: &str) {
    key(out, k);
    push_str(out, v);
}

pub(crate) fn int_field(out: &mut String, k: &str, v: i64) {
    key(out, k);
    let _ = write!(out, "{v}");
}

/// A money amount with exactly two decimals, from cents.
pub(crate) fn cents_field(out: &mut String, k: &str, cents: u64) {
    key(out, k);
    let _ = write!(out, "{}.{:02}", cents / 100, cents % 100);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_round_trip_through_serde_json() {
        let nasty = "quote \" back \\ nl \n tab \t bell \u{7} 東京 🔍";
        let mut out = String::new();
        push_str(&mut out, nasty);
        let back: String = serde_json::from_str(&out).unwrap();
        assert_eq!(back, nasty);
    }

    #[test]
    fn fields_build_an_ordered_object() {
        let mut out = String::from("{");
        int_field(&mut out, "time", 5);
        str_field(&mut out, "a", "b");
        cents_field(&mut out, "amount", 1905);
        out.push('}');
        assert_eq!(out, r#"{"time":5,"a":"b","amount":19.05}"#);
    }
}
