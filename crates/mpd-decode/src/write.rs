//! Normalised JSON output, one object per record, for `mpd fetch … --stdout`.

use crate::event::EventRecord;
use crate::profile::ProfileRecord;
use crate::time::{self, Fraction};

/// Appends the normalised JSON object of an event to `out` (no trailing newline), keys in this
/// order: `event_name`, `time` (RFC 3339 UTC with microseconds), `date` (`YYYY-MM-DD`),
/// `distinct_id`, `device_id`, `user_id`, `insert_id` (null when absent), `mp_processing_time`
/// (RFC 3339 with milliseconds, or null), `properties` (the original object text, verbatim).
pub fn write_event_json(record: &EventRecord<'_>, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"event_name\":");
    write_json_string(out, &record.event_name);
    out.extend_from_slice(b",\"time\":");
    time::write_timestamp(out, record.time_us, Fraction::Micros);
    out.extend_from_slice(b",\"date\":");
    time::write_date(out, record.date());
    out.extend_from_slice(b",\"distinct_id\":");
    write_json_string(out, &record.distinct_id);
    out.extend_from_slice(b",\"device_id\":");
    write_optional_string(out, record.device_id.as_deref());
    out.extend_from_slice(b",\"user_id\":");
    write_optional_string(out, record.user_id.as_deref());
    out.extend_from_slice(b",\"insert_id\":");
    write_optional_string(out, record.insert_id.as_deref());
    out.extend_from_slice(b",\"mp_processing_time\":");
    match record.mp_processing_time_ms.and_then(|ms| ms.checked_mul(1_000)) {
        Some(us) => time::write_timestamp(out, us, Fraction::Millis),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"properties\":");
    out.extend_from_slice(record.properties.as_bytes());
    out.push(b'}');
}

/// Appends `{"distinct_id":…,"last_seen":RFC 3339 with microseconds or null,"properties":{…}}`
/// to `out` (no trailing newline), the properties being the original object text.
pub fn write_profile_json(record: &ProfileRecord<'_>, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"distinct_id\":");
    write_json_string(out, &record.distinct_id);
    out.extend_from_slice(b",\"last_seen\":");
    match record.last_seen_us {
        Some(us) => time::write_timestamp(out, us, Fraction::Micros),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"properties\":");
    out.extend_from_slice(record.properties.as_bytes());
    out.push(b'}');
}

fn write_optional_string(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => write_json_string(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

/// Writes `s` as a quoted JSON string: quotes, backslashes and control characters escaped,
/// everything else (non-ASCII included) copied as UTF-8.
pub fn write_json_string(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    out.push(b'"');
    let mut plain_from = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short = match b {
            b'"' => b'"',
            b'\\' => b'\\',
            b'\n' => b'n',
            b'\r' => b'r',
            b'\t' => b't',
            0x08 => b'b',
            0x0c => b'f',
            0x00..=0x1f => 0,
            _ => continue,
        };
        out.extend_from_slice(&bytes[plain_from..i]);
        plain_from = i + 1;
        if short == 0 {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0x0f)]);
        } else {
            out.push(b'\\');
            out.push(short);
        }
    }
    out.extend_from_slice(&bytes[plain_from..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;

    fn json_string(s: &str) -> String {
        let mut out = Vec::new();
        write_json_string(&mut out, s);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn strings_are_escaped() {
        assert_eq!(json_string("plain"), r#""plain""#);
        assert_eq!(json_string("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(json_string("\n\r\t\u{8}\u{c}"), r#""\n\r\t\b\f""#);
        assert_eq!(json_string("\u{0}\u{1f}\u{7f}"), "\"\\u0000\\u001f\u{7f}\"");
        assert_eq!(json_string("héllo ✓ 😀"), "\"héllo ✓ 😀\"");
    }

    #[test]
    fn escaped_strings_read_back_the_same() {
        let all_controls: String = (0u8..0x20).map(char::from).collect();
        for s in ["", "\"\\/", "é\u{2028}\u{10ffff}", all_controls.as_str()] {
            let back: String = serde_json::from_str(&json_string(s)).unwrap();
            assert_eq!(back, s);
        }
    }

    #[test]
    fn event_json_has_keys_in_order_and_properties_verbatim() {
        let record = EventRecord {
            event_name: Cow::Borrowed("Say \"hi\""),
            time_us: 1_704_164_645_000_007,
            day: 19_724,
            distinct_id: Cow::Borrowed("u\n1"),
            device_id: Some(Cow::Borrowed("d")),
            user_id: None,
            insert_id: Some(Cow::Owned("i".into())),
            mp_processing_time_ms: Some(1_700_000_002_345),
            properties: r#"{ "time": 1, "x" : [ 1.50, "\u00e9" ] }"#,
        };
        let mut out = b"previous line\n".to_vec();
        write_event_json(&record, &mut out);
        let expected = concat!(
            "previous line\n",
            r#"{"event_name":"Say \"hi\"","time":"2024-01-02T03:04:05.000007Z","date":"2024-01-02","#,
            r#""distinct_id":"u\n1","device_id":"d","user_id":null,"insert_id":"i","#,
            r#""mp_processing_time":"2023-11-14T22:13:22.345Z","#,
            r#""properties":{ "time": 1, "x" : [ 1.50, "\u00e9" ] }}"#,
        );
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }

    #[test]
    fn event_json_nulls() {
        let record = EventRecord {
            event_name: Cow::Borrowed("e"),
            time_us: 0,
            day: 0,
            distinct_id: Cow::Borrowed(""),
            device_id: None,
            user_id: None,
            insert_id: None,
            mp_processing_time_ms: None,
            properties: "{}",
        };
        let mut out = Vec::new();
        write_event_json(&record, &mut out);
        let expected = r#"{"event_name":"e","time":"1970-01-01T00:00:00.000000Z","date":"1970-01-01","distinct_id":"","device_id":null,"user_id":null,"insert_id":null,"mp_processing_time":null,"properties":{}}"#;
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }

    #[test]
    fn profile_json() {
        let mut record = ProfileRecord {
            distinct_id: Cow::Borrowed("é\"1"),
            properties: r#"{"$email":"a@b.c"}"#,
            last_seen_us: Some(1_704_164_645_000_000),
        };
        let mut out = Vec::new();
        write_profile_json(&record, &mut out);
        let expected = r#"{"distinct_id":"é\"1","last_seen":"2024-01-02T03:04:05.000000Z","properties":{"$email":"a@b.c"}}"#;
        assert_eq!(String::from_utf8(out).unwrap(), expected);
        record.last_seen_us = None;
        let mut out = Vec::new();
        write_profile_json(&record, &mut out);
        assert!(out.windows(17).any(|w| w == br#""last_seen":null,"#));
    }
}
