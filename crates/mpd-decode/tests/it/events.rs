//! `EventDecoder` and `write_event_json` against the serde_json reference.

use chrono::{DateTime, NaiveDate};
use mpd_decode::{EventDecoder, EventRecord, LineFormat, TimeCorrection, write_event_json};
use proptest::prelude::*;
use serde_json::Value;

use crate::generate::{
    Specials, Style, name_value, property_map, render, render_line, specials, style, with_specials,
};
use crate::reference::{self, Expected};

const EXPORT_KEYS: [&str; 6] =
    ["time", "distinct_id", "$device_id", "$user_id", "$insert_id", "mp_processing_time_ms"];
const PIPELINES_KEYS: [&str; 6] =
    ["time", "distinct_id", "device_id", "user_id", "insert_id", "mp_processing_time_ms"];

/// One generated event line and the text of its `properties` object.
#[derive(Debug)]
pub(crate) struct Case {
    pub(crate) format: LineFormat,
    pub(crate) line: String,
    pub(crate) properties_text: String,
}

pub(crate) fn export_case() -> impl Strategy<Value = Case> {
    (name_value(), property_map(), specials(), style(), any::<bool>()).prop_map(
        |(name, map, specials, style, properties_first)| {
            let properties_text =
                render(&Value::Object(with_specials(map, &specials, EXPORT_KEYS)), style);
            let mut members = vec![("event", name), ("properties", Some(Value::Null))];
            if properties_first {
                members.reverse();
            }
            let line = render_line(&members, &properties_text, style);
            Case { format: LineFormat::Export, line, properties_text }
        },
    )
}

pub(crate) fn pipelines_case() -> impl Strategy<Value = Case> {
    (name_value(), property_map(), specials(), specials(), style()).prop_map(
        |(name, map, top, inner, style): (_, _, Specials, Specials, Style)| {
            let properties_text =
                render(&Value::Object(with_specials(map, &inner, EXPORT_KEYS)), style);
            let mut members = vec![("event_name", name), ("properties", Some(Value::Null))];
            let top_fields = [
                top.time,
                top.distinct_id,
                top.device_id,
                top.user_id,
                top.insert_id,
                top.processing,
            ];
            members.extend(PIPELINES_KEYS.into_iter().zip(top_fields));
            let line = render_line(&members, &properties_text, style);
            Case { format: LineFormat::Pipelines, line, properties_text }
        },
    )
}

fn case() -> impl Strategy<Value = Case> {
    prop_oneof![export_case(), pipelines_case()]
}

fn actual(record: &EventRecord<'_>) -> Expected {
    Expected {
        event_name: record.event_name.to_string(),
        time_us: record.time_us,
        date: record.date(),
        distinct_id: record.distinct_id.to_string(),
        device_id: record.device_id.as_deref().map(str::to_owned),
        user_id: record.user_id.as_deref().map(str::to_owned),
        insert_id: record.insert_id.as_deref().map(str::to_owned),
        mp_processing_time_ms: record.mp_processing_time_ms,
        properties: serde_json::from_str(record.properties).expect("properties text is JSON"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn decode_agrees_with_the_reference(case in case()) {
        let mut decoder = EventDecoder::new(case.format, TimeCorrection::None);
        let decoded = decoder.decode(case.line.as_bytes());
        match (reference::decode(&case.line, case.format), decoded) {
            (Some(expected), Ok(record)) => {
                prop_assert_eq!(record.properties, case.properties_text.as_str());
                prop_assert_eq!(actual(&record), expected);
            }
            (None, Err(e)) => prop_assert!(!e.reason.is_empty()),
            (expected, decoded) => {
                prop_assert!(false, "reference {expected:?} but decoder {decoded:?}");
            }
        }
    }

    #[test]
    fn written_json_round_trips(case in case()) {
        let mut decoder = EventDecoder::new(case.format, TimeCorrection::None);
        let Ok(record) = decoder.decode(case.line.as_bytes()) else { return Ok(()) };
        let mut out = b"garbage before".to_vec();
        let before = out.len();
        write_event_json(&record, &mut out);
        let written: Value = serde_json::from_slice(&out[before..]).expect("output is JSON");
        let keys: Vec<&str> = written.as_object().unwrap().keys().map(String::as_str).collect();
        // serde_json keeps insertion order in this workspace, so this checks the documented order.
        let expected_keys = ["event_name", "time", "date", "distinct_id", "device_id", "user_id",
            "insert_id", "mp_processing_time", "properties"];
        prop_assert_eq!(keys, expected_keys);

        let original: Value = serde_json::from_str(&case.properties_text).unwrap();
        prop_assert_eq!(&written["properties"], &original);
        prop_assert_eq!(written["event_name"].as_str(), Some(record.event_name.as_ref()));
        prop_assert_eq!(written["distinct_id"].as_str(), Some(record.distinct_id.as_ref()));
        prop_assert_eq!(written["insert_id"].as_str(), record.insert_id.as_deref());
        let time = DateTime::parse_from_rfc3339(written["time"].as_str().unwrap()).unwrap();
        prop_assert_eq!(time.timestamp_micros(), record.time_us);
        let date = NaiveDate::parse_from_str(written["date"].as_str().unwrap(), "%Y-%m-%d").unwrap();
        prop_assert_eq!(date, record.date());
        let processing = written["mp_processing_time"].as_str()
            .map(|t| DateTime::parse_from_rfc3339(t).unwrap().timestamp_millis());
        prop_assert_eq!(processing, record.mp_processing_time_ms);
    }

    #[test]
    fn fixed_offset_shifts_time_only(case in export_case(), offset in -14 * 3600..=14 * 3600i32) {
        let plain = EventDecoder::new(LineFormat::Export, TimeCorrection::None).decode(case.line.as_bytes());
        let mut shifted_decoder = EventDecoder::new(LineFormat::Export, TimeCorrection::FixedOffsetSecs(offset));
        let shifted = shifted_decoder.decode(case.line.as_bytes());
        if let (Ok(plain), Ok(shifted)) = (plain, shifted) {
            prop_assert_eq!(shifted.time_us, plain.time_us - i64::from(offset) * 1_000_000);
            let day = DateTime::from_timestamp_micros(shifted.time_us).unwrap().date_naive();
            prop_assert_eq!(shifted.date(), day);
            prop_assert_eq!(shifted.properties, plain.properties);
        }
    }
}
