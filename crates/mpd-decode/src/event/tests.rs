//! Field rules of event lines, one test per rule, and every rejection with its reason and column.

use super::*;

fn export(line: &str) -> Result<EventRecord<'_>, LineError> {
    EventDecoder::new(LineFormat::Export, TimeCorrection::None).decode(line.as_bytes())
}

fn pipelines(line: &str) -> Result<EventRecord<'_>, LineError> {
    EventDecoder::new(LineFormat::Pipelines, TimeCorrection::None).decode(line.as_bytes())
}

fn err(result: Result<EventRecord<'_>, LineError>) -> (String, Option<usize>) {
    let e = result.expect_err("line should be rejected");
    (e.reason, e.column)
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

const FULL: &str = r#"{"event":"Purchase","properties":{"time":1700000000,"distinct_id":"u_42","$insert_id":"ins-1","$device_id":"d-9","$user_id":"u_42","mp_processing_time_ms":1700000002345,"amount":9.99}}"#;

#[test]
fn export_line_with_every_field() {
    let e = export(FULL).unwrap();
    assert_eq!(e.event_name, "Purchase");
    assert_eq!(e.time_us, 1_700_000_000_000_000);
    assert_eq!(e.date(), day(2023, 11, 14));
    assert_eq!(e.distinct_id, "u_42");
    assert_eq!(e.device_id.as_deref(), Some("d-9"));
    assert_eq!(e.user_id.as_deref(), Some("u_42"));
    assert_eq!(e.insert_id.as_deref(), Some("ins-1"));
    assert_eq!(e.mp_processing_time_ms, Some(1_700_000_002_345));
    assert_eq!(&FULL[FULL.find(r#"{"time""#).unwrap()..FULL.len() - 1], e.properties);
    // Nothing needed unescaping, so nothing was copied.
    for s in [
        &e.event_name,
        &e.distinct_id,
        e.device_id.as_ref().unwrap(),
        e.insert_id.as_ref().unwrap(),
    ] {
        assert!(matches!(s, Cow::Borrowed(_)), "{s:?} was copied");
    }
}

#[test]
fn time_in_seconds_millis_or_float() {
    let at = |time: &str| {
        let line = format!(r#"{{"event":"e","properties":{{"time":{time}}}}}"#);
        export(&line).map(|e| (e.time_us, e.date())).map_err(|e| e.to_string())
    };
    assert_eq!(at("1700000000"), Ok((1_700_000_000_000_000, day(2023, 11, 14))));
    assert_eq!(at("1700000000123"), Ok((1_700_000_000_123_000, day(2023, 11, 14))));
    assert_eq!(at("1700000000.5"), Ok((1_700_000_000_500_000, day(2023, 11, 14))));
    assert_eq!(at("1700000000123.25"), Ok((1_700_000_000_123_250, day(2023, 11, 14))));
    assert_eq!(at("1.7e9"), Ok((1_700_000_000_000_000, day(2023, 11, 14))));
    assert_eq!(at("-1"), Ok((-1_000_000, day(1969, 12, 31))));
    assert_eq!(at("0"), Ok((0, day(1970, 1, 1))));
}

#[test]
fn fixed_offset_correction_is_subtracted_and_moves_the_day() {
    // 2024-01-02T00:30:00 "project-local" in a UTC+01:00 project is 2024-01-01T23:30:00Z.
    let line = r#"{"event":"e","properties":{"time":1704155400}}"#;
    let mut decoder = EventDecoder::new(LineFormat::Export, TimeCorrection::FixedOffsetSecs(3600));
    let e = decoder.decode(line.as_bytes()).unwrap();
    assert_eq!(e.time_us, 1_704_151_800_000_000);
    assert_eq!(e.date(), day(2024, 1, 1));
    let mut west =
        EventDecoder::new(LineFormat::Export, TimeCorrection::FixedOffsetSecs(-8 * 3600));
    assert_eq!(west.decode(line.as_bytes()).unwrap().time_us, 1_704_184_200_000_000);
}

#[test]
fn missing_or_null_distinct_id_keeps_the_row() {
    let e = export(r#"{"event":"e","properties":{"time":1}}"#).unwrap();
    assert_eq!(
        (e.distinct_id, e.device_id, e.user_id, e.insert_id),
        (Cow::Borrowed(""), None, None, None)
    );
    assert_eq!(e.mp_processing_time_ms, None);
    let e = export(r#"{"event":"e","properties":{"time":1,"distinct_id":null,"$insert_id":null}}"#)
        .unwrap();
    assert_eq!((e.distinct_id.as_ref(), e.insert_id), ("", None));
}

#[test]
fn numeric_ids_become_their_decimal_text() {
    let e = export(r#"{"event":"e","properties":{"time":1,"distinct_id":12345,"$user_id":-7}}"#)
        .unwrap();
    assert_eq!((e.distinct_id.as_ref(), e.user_id.as_deref()), ("12345", Some("-7")));
    // Types an id cannot have are treated as absent rather than dropping the row.
    let e = export(r#"{"event":"e","properties":{"time":1,"distinct_id":[1],"$device_id":{}}}"#)
        .unwrap();
    assert_eq!((e.distinct_id.as_ref(), e.device_id), ("", None));
}

#[test]
fn escaped_strings_are_unescaped_and_owned() {
    let line = r#"{"event":"say \"hi\"","properties":{"time":1,"distinct_id":"dist\u00e9","$insert_id":"a\\b\/c"}}"#;
    let e = export(line).unwrap();
    assert!(matches!(&e.event_name, Cow::Owned(s) if s == "say \"hi\""), "{:?}", e.event_name);
    assert!(matches!(&e.distinct_id, Cow::Owned(s) if s == "disté"), "{:?}", e.distinct_id);
    assert_eq!(e.insert_id.as_deref(), Some("a\\b/c"));
    assert_eq!(e.properties, r#"{"time":1,"distinct_id":"dist\u00e9","$insert_id":"a\\b\/c"}"#);
}

#[test]
fn non_ascii_is_borrowed_as_is() {
    let line =
        r#"{"event":"Käufe ✓","properties":{"time":1,"distinct_id":"用户😀","ville":"Orléans"}}"#;
    let e = export(line).unwrap();
    assert!(matches!(e.event_name, Cow::Borrowed("Käufe ✓")));
    assert!(matches!(e.distinct_id, Cow::Borrowed("用户😀")));
    assert_eq!(e.properties, r#"{"time":1,"distinct_id":"用户😀","ville":"Orléans"}"#);
}

#[test]
fn deep_nesting_inside_properties() {
    let depth = 500;
    let nested = format!("{}1{}", r#"{"a":["#.repeat(depth), "]}".repeat(depth));
    let props = format!(r#"{{"time":1,"deep":{nested}}}"#);
    let line = format!(r#"{{"event":"e","properties":{props}}}"#);
    assert_eq!(export(&line).unwrap().properties, props);
}

#[test]
fn properties_span_is_exact_with_tricky_strings_and_whitespace() {
    let props = r#"{ "time" : 1 , "s":"} ] { [ \" \\", "t":"\\\"}" , "n":{"x":[{"y":"]"}]} }"#;
    let line = format!("  {{ \"properties\" :\t{props} , \"event\" : \"e\" , \"other\":\"{{\" }} ");
    let e = export(&line).unwrap();
    assert_eq!(e.properties, props);
    assert_eq!(e.event_name, "e");
}

#[test]
fn repeated_keys_keep_the_last_occurrence() {
    let line = r#"{"event":"a","properties":{"time":1},"event":"b","properties":{"time":2,"x":1}}"#;
    let e = export(line).unwrap();
    assert_eq!(
        (e.event_name.as_ref(), e.time_us, e.properties),
        ("b", 2_000_000, r#"{"time":2,"x":1}"#)
    );
}

#[test]
fn hot_shard_rows_are_kept_as_exported() {
    let line = r#"{"event":"$hotshard_events","properties":{"time":1700000000,"distinct_id":"","mp_original_event_name":"Play","mp_original_distinct_id":"u_1","$insert_id":"h1"}}"#;
    let e = export(line).unwrap();
    assert_eq!(e.event_name, "$hotshard_events");
    assert_eq!(e.distinct_id, "");
    assert!(e.properties.contains(r#""mp_original_distinct_id":"u_1""#));
}

#[test]
fn pipelines_reads_top_level_fields() {
    let line = r#"{"event_name":"Purchase","time":1700000000123,"distinct_id":"u_42","device_id":"d-9","user_id":"u_42","insert_id":"top","mp_processing_time_ms":5,"properties":{"$insert_id":"inner","time":1,"distinct_id":"x","mp_processing_time_ms":7}}"#;
    let e = pipelines(line).unwrap();
    assert_eq!(e.event_name, "Purchase");
    assert_eq!(e.time_us, 1_700_000_000_123_000);
    assert_eq!(e.distinct_id, "u_42");
    assert_eq!((e.device_id.as_deref(), e.user_id.as_deref()), (Some("d-9"), Some("u_42")));
    assert_eq!(e.insert_id.as_deref(), Some("top"));
    assert_eq!(e.mp_processing_time_ms, Some(5));
}

#[test]
fn pipelines_fall_back_to_properties() {
    let line = r#"{"event":"Legacy","device_id":null,"properties":{"time":1700000000,"distinct_id":"p","$device_id":"pd","$user_id":"pu","$insert_id":"pi","mp_processing_time_ms":7}}"#;
    let e = pipelines(line).unwrap();
    assert_eq!((e.event_name.as_ref(), e.time_us), ("Legacy", 1_700_000_000_000_000));
    assert_eq!(e.distinct_id, "p");
    assert_eq!((e.device_id.as_deref(), e.user_id.as_deref()), (Some("pd"), Some("pu")));
    assert_eq!((e.insert_id.as_deref(), e.mp_processing_time_ms), (Some("pi"), Some(7)));
}

#[test]
fn export_ignores_top_level_ids() {
    let line = r#"{"event":"e","time":5,"distinct_id":"top","properties":{"time":1,"distinct_id":"inner"}}"#;
    let e = export(line).unwrap();
    assert_eq!((e.time_us, e.distinct_id.as_ref()), (1_000_000, "inner"));
}

#[test]
fn malformed_json_has_reason_and_column() {
    let (reason, column) = err(export(r#"{"event":"e","properties":{"time":1}"#));
    assert_eq!(
        (reason.as_str(), column),
        ("line is not valid JSON: EOF while parsing an object", Some(36))
    );
    let (reason, column) = err(export(r#"{"event":"e",,"properties":{}}"#));
    assert!(reason.starts_with("line is not valid JSON: "), "{reason}");
    assert_eq!(column, Some(14));
    assert_eq!(err(export("terminated early")).1, Some(2));
    assert_eq!(err(export("")), ("line is not valid JSON: EOF while parsing a value".into(), None));
}

#[test]
fn non_object_lines() {
    assert_eq!(err(export("[1,2]")), ("line is not a JSON object (found array)".into(), Some(1)));
    assert_eq!(
        err(export(r#"  "x""#)),
        ("line is not a JSON object (found string)".into(), Some(3))
    );
    assert_eq!(err(export("null")), ("line is not a JSON object (found null)".into(), Some(1)));
}

#[test]
fn missing_or_non_object_properties() {
    assert_eq!(err(export(r#"{"event":"e"}"#)), ("missing `properties`".into(), None));
    assert_eq!(
        err(export(r#"{"event":"e", "properties": "{}"}"#)),
        ("`properties` is not an object (found string)".into(), Some(29))
    );
    assert_eq!(
        err(export(r#"{"event":"e","properties":null}"#)),
        ("`properties` is not an object (found null)".into(), Some(27))
    );
}

#[test]
fn missing_or_non_string_event_name() {
    assert_eq!(
        err(export(r#"{"properties":{"time":1}}"#)),
        ("missing event name `event`".into(), None)
    );
    assert_eq!(
        err(pipelines(r#"{"properties":{"time":1}}"#)),
        ("missing event name `event_name`".into(), None)
    );
    assert_eq!(
        err(export(r#"{"event":7,"properties":{"time":1}}"#)),
        ("event name `event` is not a string (found number)".into(), Some(10))
    );
}

#[test]
fn missing_non_numeric_or_out_of_range_time() {
    assert_eq!(
        err(export(r#"{"event":"e","properties":{}}"#)),
        ("missing `properties.time`".into(), None)
    );
    assert_eq!(
        err(pipelines(r#"{"event_name":"e","properties":{}}"#)),
        ("missing `time`".into(), None)
    );
    assert_eq!(
        err(export(r#"{"event":"e","properties":{"a":1, "time":"1700000000"}}"#)),
        ("`properties.time` is not a number (found string)".into(), Some(42))
    );
    assert_eq!(
        err(pipelines(r#"{"event_name":"e","time":null,"properties":{"time":1}}"#)),
        ("`time` is not a number (found null)".into(), Some(26))
    );
    assert_eq!(
        err(export(r#"{"event":"e","properties":{"time":1e300}}"#)),
        ("`properties.time` is out of range".into(), Some(35))
    );
    assert_eq!(
        err(export(r#"{"event":"e","properties":{"time":18446744073709551615}}"#)).0,
        "`properties.time` is out of range"
    );
    // 10000-01-01T00:00:00Z in milliseconds: chrono holds it, RFC 3339 and the partitions do not.
    assert_eq!(
        err(pipelines(r#"{"event_name":"e","time":253402300800000,"properties":{}}"#)),
        ("`time` is out of range".into(), Some(26))
    );
    let last_moment = r#"{"event_name":"e","time":253402300799999,"properties":{}}"#;
    let mut decoder = EventDecoder::new(LineFormat::Pipelines, TimeCorrection::None);
    assert_eq!(decoder.decode(last_moment.as_bytes()).unwrap().date().to_string(), "9999-12-31");
}

#[test]
fn records_outlive_the_next_decode() {
    let mut decoder = EventDecoder::new(LineFormat::Export, TimeCorrection::None);
    let a = br#"{"event":"a","properties":{"time":1,"distinct_id":"x"}}"#;
    let b = br#"{"event":"b\n","properties":{"time":2,"distinct_id":"y"}}"#;
    let first = decoder.decode(a).unwrap();
    assert!(decoder.decode(b"{").is_err());
    let second = decoder.decode(b).unwrap();
    assert_eq!((first.event_name.as_ref(), first.distinct_id.as_ref()), ("a", "x"));
    assert_eq!((second.event_name.as_ref(), second.distinct_id.as_ref()), ("b\n", "y"));
}
