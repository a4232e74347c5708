//! Insights and Flows answers.

use serde_json::json;

use super::*;

#[test]
fn one_level_insights_report() {
    let answer = insights_answer(&json!({
        "computed_at": "2020-09-21T16:35:41.252314+00:00",
        "date_range": {"from_date": "2020-08-31T00:00:00-07:00", "to_date": "2020-09-01T00:00:00-07:00"},
        "headers": ["$event"],
        "series": {"Logged in": {"2020-08-31T00:00:00-07:00": 9852, "2020-09-01T00:00:00-07:00": 10.5},
                   "Purchase": {"2020-08-31T00:00:00-07:00": 1}}
    }))
    .unwrap();
    assert_eq!(answer.computed_at.as_deref(), Some("2020-09-21T16:35:41.252314+00:00"));
    assert_eq!(answer.from.as_deref(), Some("2020-08-31T00:00:00-07:00"));
    assert_eq!(answer.headers, ["$event"]);
    assert_eq!(answer.series.dates.len(), 2);
    assert_eq!(answer.series.series[0].name, "Logged in");
    assert_eq!(answer.series.total(), 9863.5);
}

#[test]
fn nested_insights_series_are_flattened_with_their_path() {
    let answer = insights_answer(&json!({
        "headers": ["$event", "$browser"],
        "series": {"Purchase": {"Chrome": {"2024-03-01T00:00:00+00:00": 3},
                                "Firefox": {"2024-03-02T00:00:00+00:00": 5}}}
    }))
    .unwrap();
    let names: Vec<&str> = answer.series.series.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["Purchase / Firefox", "Purchase / Chrome"]);
    assert_eq!(answer.series.dates, ["2024-03-01T00:00:00+00:00", "2024-03-02T00:00:00+00:00"]);
    assert_eq!((answer.computed_at, answer.from), (None, None));
}

#[test]
fn totals_beside_a_breakdown_are_skipped() {
    let answer = insights_answer(&json!({"series": {"Purchase": {
        "$overall": 8, "Chrome": {"2024-03-01": 3}, "Safari": {"2024-03-01": 5}}}}))
    .unwrap();
    let names: Vec<&str> = answer.series.series.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["Purchase / Safari", "Purchase / Chrome"]);
}

#[test]
fn unreadable_insights() {
    assert!(insights_answer(&json!({"headers": []})).unwrap_err().contains("`series`"));
    let bad = insights_answer(&json!({"series": {"Purchase": {"2024-03-01": "x"}}})).unwrap_err();
    assert!(bad.contains("Purchase"), "{bad}");
    let bad = insights_answer(&json!({"series": {"Purchase": 3}})).unwrap_err();
    assert!(bad.contains("\"Purchase\"") && bad.contains("a number"), "{bad}");
}
