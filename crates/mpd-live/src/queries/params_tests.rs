//! Query parameters: what each live query sends, and what it refuses to send.

use chrono::NaiveDate;

use super::*;
use crate::request::{ConversionWindow, CountType, LengthUnit, RetentionType};

fn span(from: &str, to: &str) -> DateSpan {
    let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date");
    DateSpan { from: day(from), to: day(to) }
}

fn seg() -> SegmentationQuery {
    SegmentationQuery {
        event: "Login".into(),
        span: span("2024-03-01", "2024-03-07"),
        on: Some("plan".into()),
        unit: TimeUnit::Day,
        where_expr: Some(r#"properties["plan"] == "pro""#.into()),
        count_type: CountType::Unique,
        limit: Some(10),
    }
}

fn usage(result: Result<Params>) -> String {
    match result {
        Err(error @ Error::InvalidArgument(_)) => error.to_string(),
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
}

#[test]
fn bare_names_are_wrapped_and_expressions_kept() {
    assert_eq!(property_expr("plan"), r#"properties["plan"]"#);
    assert_eq!(property_expr(" Browser Version "), r#"properties["Browser Version"]"#);
    assert_eq!(property_expr(r#"a"b"#), r#"properties["a\"b"]"#);
    assert_eq!(property_expr(r#"properties["plan"]"#), r#"properties["plan"]"#);
    assert_eq!(property_expr(r#"user["$email"]"#), r#"user["$email"]"#);
    assert_eq!(property_expr(r#"number(properties["x"])"#), r#"number(properties["x"])"#);
}

#[test]
fn segmentation_sends_every_field() {
    let p = segmentation(&seg()).expect("valid");
    assert_eq!(p.get("event"), Some("Login"));
    assert_eq!(p.get("from_date"), Some("2024-03-01"));
    assert_eq!(p.get("to_date"), Some("2024-03-07"));
    assert_eq!(p.get("unit"), Some("day"));
    assert_eq!(p.get("type"), Some("unique"));
    assert_eq!(p.get("on"), Some(r#"properties["plan"]"#));
    assert_eq!(p.get("where"), Some(r#"properties["plan"] == "pro""#));
    assert_eq!(p.get("limit"), Some("10"));
    let bare = SegmentationQuery { on: None, where_expr: None, limit: None, ..seg() };
    let p = segmentation(&bare).expect("valid");
    assert_eq!((p.get("on"), p.get("where"), p.get("limit")), (None, None, None));
}

#[test]
fn bad_requests_are_refused_before_sending() {
    let reversed = SegmentationQuery { span: span("2024-03-07", "2024-03-01"), ..seg() };
    assert!(usage(segmentation(&reversed)).contains("after --to"));
    assert!(
        usage(segmentation(&SegmentationQuery { event: " ".into(), ..seg() })).contains("event")
    );
    assert!(
        usage(segmentation(&SegmentationQuery { limit: Some(0), ..seg() })).contains("--limit")
    );
    assert!(
        usage(segmentation(&SegmentationQuery { limit: Some(10_001), ..seg() })).contains("10000")
    );
    let numeric_without_on = SegmentationQuery { on: None, ..seg() };
    assert!(usage(segmentation_numeric(&numeric_without_on)).contains("--on"));
    let numeric_weekly = SegmentationQuery { unit: TimeUnit::Week, ..seg() };
    assert!(usage(segmentation_numeric(&numeric_weekly)).contains("hour, day"));
    let metric_q = MetricQuery {
        event: "Purchase".into(),
        span: span("2024-03-01", "2024-03-02"),
        on: "".into(),
        unit: TimeUnit::Day,
        where_expr: None,
    };
    assert!(usage(metric(&metric_q)).contains("--on"));
}

#[test]
fn numeric_and_metric_params() {
    let p =
        segmentation_numeric(&SegmentationQuery { on: Some("amount".into()), ..seg() }).unwrap();
    assert_eq!(p.get("on"), Some(r#"properties["amount"]"#));
    assert_eq!(p.get("type"), Some("unique"));
    assert_eq!(p.get("limit"), None);
    let q = MetricQuery {
        event: "Purchase".into(),
        span: span("2024-03-01", "2024-03-02"),
        on: "amount".into(),
        unit: TimeUnit::Hour,
        where_expr: None,
    };
    let p = metric(&q).unwrap();
    assert_eq!(
        (p.get("on"), p.get("unit"), p.get("type")),
        (Some(r#"properties["amount"]"#), Some("hour"), None)
    );
}

#[test]
fn event_counts_send_a_json_array() {
    let q = EventCountsQuery {
        events: vec!["Login".into(), "Sign \"Up\"".into()],
        span: span("2024-03-01", "2024-03-02"),
        count_type: CountType::General,
        unit: TimeUnit::Week,
    };
    let p = event_counts(&q).unwrap();
    assert_eq!(p.get("event"), Some(r#"["Login","Sign \"Up\""]"#));
    assert_eq!(p.get("unit"), Some("week"));
    assert!(
        usage(event_counts(&EventCountsQuery { events: vec![], ..q.clone() }))
            .contains("at least one")
    );
    assert!(
        usage(event_counts(&EventCountsQuery { events: vec!["".into()], ..q }))
            .contains("--events")
    );
}

#[test]
fn property_counts_send_values_only_when_given() {
    let q = PropertyCountsQuery {
        event: "Login".into(),
        property: "$browser".into(),
        span: span("2024-03-01", "2024-03-02"),
        count_type: CountType::General,
        unit: TimeUnit::Day,
        limit: 10,
        values: vec![],
    };
    let p = property_counts(&q).unwrap();
    assert_eq!(
        (p.get("name"), p.get("limit"), p.get("values")),
        (Some("$browser"), Some("10"), None)
    );
    let p = property_counts(&PropertyCountsQuery { values: vec!["Chrome".into()], ..q.clone() })
        .unwrap();
    assert_eq!(p.get("values"), Some(r#"["Chrome"]"#));
    assert!(
        usage(property_counts(&PropertyCountsQuery { property: "".into(), ..q }))
            .contains("property")
    );
}

fn funnel_q() -> FunnelQuery {
    FunnelQuery {
        funnel_id: Some(7001),
        steps: vec![],
        span: span("2024-03-01", "2024-03-07"),
        unit: Some(TimeUnit::Week),
        on: Some("$browser".into()),
        where_expr: None,
        window: Some(ConversionWindow { length: 7, unit: LengthUnit::Day }),
        limit: None,
    }
}

#[test]
fn funnel_params_and_checks() {
    let p = funnel(&funnel_q()).unwrap();
    assert_eq!(p.get("funnel_id"), Some("7001"));
    assert_eq!((p.get("length"), p.get("length_unit")), (Some("7"), Some("day")));
    assert_eq!(p.get("unit"), Some("week"));
    assert_eq!(p.get("on"), Some(r#"properties["$browser"]"#));
    assert!(usage(funnel(&FunnelQuery { funnel_id: None, ..funnel_q() })).contains("--local"));
    let long = ConversionWindow { length: 91, unit: LengthUnit::Day };
    assert!(usage(funnel(&FunnelQuery { window: Some(long), ..funnel_q() })).contains("90 days"));
    assert!(
        usage(funnel(&FunnelQuery { unit: Some(TimeUnit::Hour), ..funnel_q() })).contains("--unit")
    );
    let defaults = FunnelQuery { unit: None, on: None, window: None, ..funnel_q() };
    let p = funnel(&defaults).unwrap();
    assert_eq!((p.get("unit"), p.get("length"), p.get("on")), (None, None, None));
}

fn retention_q() -> RetentionQuery {
    RetentionQuery {
        born_event: "Sign Up".into(),
        return_event: Some("Login".into()),
        span: span("2024-03-01", "2024-03-07"),
        born_where: None,
        return_where: Some(r#"properties["plan"] == "pro""#.into()),
        retention_type: RetentionType::Compounded,
        interval: None,
        interval_count: 7,
        unit: TimeUnit::Week,
        unbounded: false,
        on: None,
    }
}

#[test]
fn retention_sends_interval_or_unit_never_both() {
    let p = retention(&retention_q()).unwrap();
    assert_eq!((p.get("unit"), p.get("interval")), (Some("week"), None));
    assert_eq!(p.get("born_event"), Some("Sign Up"));
    assert_eq!(p.get("event"), Some("Login"));
    assert_eq!(p.get("where"), Some(r#"properties["plan"] == "pro""#));
    assert_eq!(p.get("retention_type"), Some("compounded"));
    assert_eq!(p.get("interval_count"), Some("7"));
    assert_eq!(p.get("unbounded_retention"), None);
    let one = retention(&RetentionQuery { interval: Some(1), ..retention_q() }).unwrap();
    assert_eq!((one.get("unit"), one.get("interval")), (Some("week"), None));
    let three =
        retention(&RetentionQuery { interval: Some(3), unbounded: true, ..retention_q() }).unwrap();
    assert_eq!((three.get("unit"), three.get("interval")), (None, Some("3")));
    assert_eq!(three.get("unbounded_retention"), Some("true"));
    assert!(
        usage(retention(&RetentionQuery { interval: Some(0), ..retention_q() }))
            .contains("--interval")
    );
    assert!(
        usage(retention(&RetentionQuery { born_event: "".into(), ..retention_q() }))
            .contains("born")
    );
}

#[test]
fn frequency_and_activity_params() {
    let q = FrequencyQuery {
        event: None,
        span: span("2024-03-01", "2024-03-07"),
        unit: TimeUnit::Week,
        addiction_unit: TimeUnit::Day,
        where_expr: None,
        on: None,
        limit: None,
    };
    let p = frequency(&q).unwrap();
    assert_eq!(
        (p.get("unit"), p.get("addiction_unit"), p.get("event")),
        (Some("week"), Some("day"), None)
    );
    let bad = FrequencyQuery { addiction_unit: TimeUnit::Week, ..q };
    assert!(usage(frequency(&bad)).contains("--addiction-unit"));
    let a = ActivityQuery {
        distinct_ids: vec!["u_1".into(), "".into()],
        span: span("2024-03-01", "2024-03-01"),
    };
    assert_eq!(activity(&a).unwrap().get("distinct_ids"), Some(r#"["u_1",""]"#));
    assert!(usage(activity(&ActivityQuery { distinct_ids: vec![], ..a })).contains("--users"));
}
