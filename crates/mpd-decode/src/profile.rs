//! Profile lines: Engage `results` objects `{"$distinct_id","$properties"}` and JSON pipelines
//! people lines `{"distinct_id","properties"}`.

use std::borrow::Cow;
use std::fmt;

use crate::error::LineError;
use crate::parse::{Doc, Member, Parser, ROOT};
use crate::time;

/// One user profile, borrowing from its line where no unescaping was needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileRecord<'a> {
    /// `$distinct_id` (or `distinct_id`): a string, or a number as its decimal text.
    pub distinct_id: Cow<'a, str>,
    /// The original text of the `$properties` (or `properties`) object, byte for byte.
    pub properties: &'a str,
    /// `$last_seen` in microseconds since the epoch: text without a zone
    /// (`2024-01-02T03:04:05`) is UTC, a number is an epoch in seconds or milliseconds.
    /// `None` when missing or unreadable.
    pub last_seen_us: Option<i64>,
}

/// Decodes profile lines one at a time, reusing its parse buffers between lines.
pub struct ProfileDecoder {
    parser: Parser,
}

impl fmt::Debug for ProfileDecoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProfileDecoder").finish_non_exhaustive()
    }
}

impl Default for ProfileDecoder {
    fn default() -> Self {
        Self { parser: Parser::new() }
    }
}

impl ProfileDecoder {
    /// Parses one profile object (without a trailing `\n`).
    ///
    /// # Errors
    ///
    /// Malformed JSON, a non-object, a missing distinct id or one that is neither a string nor
    /// a number, a missing or non-object properties value.
    pub fn decode<'a>(&mut self, line: &'a [u8]) -> Result<ProfileRecord<'a>, LineError> {
        self.parser.parse_wanting(line, |key| u16::from(key == b"$last_seen"), read_profile)
    }
}

/// Parses one profile object; [`ProfileDecoder`] does the same while reusing buffers.
///
/// # Errors
///
/// As [`ProfileDecoder::decode`].
pub fn decode_profile(line: &[u8]) -> Result<ProfileRecord<'_>, LineError> {
    ProfileDecoder::default().decode(line)
}

/// The properties of a profile sent without any.
const EMPTY_OBJECT: &str = "{}";

fn read_profile<'a>(doc: &Doc<'_, '_, 'a>) -> Result<ProfileRecord<'a>, LineError> {
    let Some(members) = doc.members(ROOT) else {
        let reason = format!("line is not a JSON object (found {})", doc.kind(ROOT));
        return Err(LineError::new(reason, doc.root_column()));
    };
    // Engage's `$`-spelling wins over the pipelines one when a line somehow has both.
    let (mut id, mut id_plain, mut props, mut props_plain) = (None, None, None, None);
    for m in members {
        match m.key {
            "$distinct_id" => id = Some(m),
            "distinct_id" => id_plain = Some(m),
            "$properties" => props = Some(m),
            "properties" => props_plain = Some(m),
            _ => {}
        }
    }

    let Some(id) = id.or(id_plain) else {
        return Err(LineError::new("missing `$distinct_id`", None));
    };
    let Some(distinct_id) = doc.id_text(id.value) else {
        let reason =
            format!("`{}` is not a string or number (found {})", id.key, doc.kind(id.value));
        return Err(LineError::new(reason, doc.column(id.value)));
    };

    // Engage returns cohort members without a profile (`include_all_users`, the default with
    // `filter_by_cohort`) as a bare `{"$distinct_id"}`: a profile with no properties.
    let props = props.or(props_plain).filter(|p| doc.kind(p.value) != "null");
    let Some(props) = props else {
        return Ok(ProfileRecord { distinct_id, properties: EMPTY_OBJECT, last_seen_us: None });
    };
    let Some(props_members) = doc.members(props.value) else {
        let reason = format!("`{}` is not an object (found {})", props.key, doc.kind(props.value));
        return Err(LineError::new(reason, doc.column(props.value)));
    };
    let Some(properties) = doc.value_text(props.value) else {
        return Err(LineError::new(format!("could not locate `{}` in the line", props.key), None));
    };
    let last_seen = props_members.filter(|m| m.key == "$last_seen").last();

    Ok(ProfileRecord {
        distinct_id,
        properties,
        last_seen_us: last_seen.and_then(|m| read_date(doc, m)),
    })
}

fn read_date(doc: &Doc<'_, '_, '_>, m: Member<'_>) -> Option<i64> {
    match doc.number(m.value) {
        Some(n) => time::epoch_to_us(n),
        None => time::parse_datetime_us(&doc.string(m.value)?),
    }
    .filter(|us| time::utc_day(*us).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(line: &str) -> (String, Option<usize>) {
        let e = decode_profile(line.as_bytes()).expect_err("line should be rejected");
        (e.reason, e.column)
    }

    #[test]
    fn a_profile_without_properties_has_empty_properties() {
        for line in [r#"{"$distinct_id":"u_43"}"#, r#"{"$distinct_id":"u_43","$properties":null}"#]
        {
            let p = decode_profile(line.as_bytes()).unwrap();
            assert_eq!(
                (p.distinct_id.as_ref(), p.properties, p.last_seen_us),
                ("u_43", "{}", None)
            );
        }
    }

    #[test]
    fn engage_result_object() {
        let line = r#"{"$distinct_id":"u_42","$properties":{"$created":"2008-12-12T11:20:47","$email":"a@b.c","$last_seen":"2024-01-02T03:04:05"}}"#;
        let p = decode_profile(line.as_bytes()).unwrap();
        assert!(matches!(p.distinct_id, Cow::Borrowed("u_42")));
        assert_eq!(p.last_seen_us, Some(1_704_164_645_000_000));
        assert_eq!(
            p.properties,
            r#"{"$created":"2008-12-12T11:20:47","$email":"a@b.c","$last_seen":"2024-01-02T03:04:05"}"#
        );
    }

    #[test]
    fn pipelines_people_line() {
        let line = r#"{"distinct_id":"dist\u00e9","properties":{"$last_seen":1700000000123,"n":{"a":"}"}}}"#;
        let p = decode_profile(line.as_bytes()).unwrap();
        assert!(matches!(&p.distinct_id, Cow::Owned(s) if s == "disté"));
        assert_eq!(p.last_seen_us, Some(1_700_000_000_123_000));
        assert_eq!(p.properties, r#"{"$last_seen":1700000000123,"n":{"a":"}"}}"#);
    }

    #[test]
    fn numeric_distinct_id_is_its_decimal_text() {
        let p = decode_profile(br#"{"$distinct_id":1234567890123,"$properties":{}}"#).unwrap();
        assert_eq!(
            (p.distinct_id.as_ref(), p.properties, p.last_seen_us),
            ("1234567890123", "{}", None)
        );
    }

    #[test]
    fn unreadable_last_seen_is_none() {
        for value in [r#""soon""#, "true", "null", "[]", "1e300"] {
            let line = format!(r#"{{"$distinct_id":"u","$properties":{{"$last_seen":{value}}}}}"#);
            assert_eq!(decode_profile(line.as_bytes()).unwrap().last_seen_us, None, "{value}");
        }
    }

    #[test]
    fn the_dollar_spelling_wins() {
        let line = r#"{"distinct_id":"plain","properties":{"a":1},"$distinct_id":"dollar","$properties":{"b":2}}"#;
        let p = decode_profile(line.as_bytes()).unwrap();
        assert_eq!((p.distinct_id.as_ref(), p.properties), ("dollar", r#"{"b":2}"#));
    }

    #[test]
    fn malformed_profiles() {
        assert_eq!(err("[]"), ("line is not a JSON object (found array)".into(), Some(1)));
        assert_eq!(err(r#"{"$properties":{}}"#), ("missing `$distinct_id`".into(), None));
        assert_eq!(
            err(r#"{"$distinct_id":null,"$properties":{}}"#),
            ("`$distinct_id` is not a string or number (found null)".into(), Some(17))
        );
        assert_eq!(
            err(r#"{"$distinct_id":"u","$properties":[1]}"#).0,
            "`$properties` is not an object (found array)"
        );
        assert_eq!(
            err(r#"{"distinct_id":"u","properties":[]}"#),
            ("`properties` is not an object (found array)".into(), Some(33))
        );
        assert!(err(r#"{"$distinct_id":"u","#).0.starts_with("line is not valid JSON: "));
    }

    #[test]
    fn decoder_is_reusable() {
        let mut decoder = ProfileDecoder::default();
        let a = decoder.decode(br#"{"$distinct_id":"a","$properties":{}}"#).unwrap();
        let b = decoder.decode(br#"{"$distinct_id":"b","$properties":{"x":1}}"#).unwrap();
        assert_eq!(
            (a.distinct_id.as_ref(), b.distinct_id.as_ref(), b.properties),
            ("a", "b", r#"{"x":1}"#)
        );
    }
}
