//! Funnel answers: summed buckets, recomputed ratios, weighted times, segments.

use serde_json::json;

use super::*;

fn step(event: &str, count: f64, avg_time: Option<f64>) -> Value {
    json!({"count": count, "avg_time": avg_time, "avg_time_from_start": avg_time,
           "step_conv_ratio": 0.123, "overall_conv_ratio": 0.456, "goal": event, "event": event})
}

fn counts(steps: &[FunnelStep]) -> Vec<u64> {
    steps.iter().map(|s| s.count).collect()
}

#[test]
fn sums_buckets_and_recomputes_ratios() {
    let answer = funnel_answer(&json!({
        "meta": {"dates": ["2024-03-01", "2024-03-02"]},
        "data": {
            "2024-03-02": {"steps": [step("View", 10.0, None), step("Buy", 5.0, Some(30.0))],
                           "analysis": {"completion": 5, "starting_amount": 10, "steps": 2, "worst": 1}},
            "2024-03-01": {"steps": [step("View", 30.0, None), step("Buy", 15.0, Some(10.0))],
                           "analysis": {}},
            "$overall": {"steps": [step("View", 999.0, None)]}
        }
    }))
    .unwrap();
    assert_eq!(counts(&answer.steps), [40, 20]);
    assert_eq!(answer.steps[0].step_conv_ratio, 1.0);
    assert_eq!(answer.steps[1].step_conv_ratio, 0.5);
    assert_eq!(answer.steps[1].overall_conv_ratio, 0.5);
    assert_eq!(answer.steps[0].avg_time, None);
    // (15 * 10 + 5 * 30) / 20
    assert_eq!(answer.steps[1].avg_time, Some(15.0));
    let dates: Vec<&str> = answer.buckets.iter().map(|b| b.date.as_str()).collect();
    assert_eq!(dates, ["2024-03-01", "2024-03-02"], "$overall is not a bucket");
    assert_eq!(answer.buckets[1].steps[1].avg_time, Some(30.0));
    assert!(answer.segments.is_empty());
}

#[test]
fn optional_fields_null_times_and_labels() {
    let answer = funnel_answer(&json!({"data": {"2024-03-01": {"steps": [
        {"count": 4, "avg_time": null, "step_label": "Viewed item", "event": "$custom_event:1"},
        {"count": 0, "event": "Buy", "avg_time": null},
        {"count": 0}
    ]}}}))
    .unwrap();
    let events: Vec<&str> = answer.steps.iter().map(|s| s.event.as_str()).collect();
    assert_eq!(events, ["Viewed item", "Buy", "step 3"]);
    assert_eq!(answer.steps[1].avg_time, None);
    assert_eq!(answer.steps[2].step_conv_ratio, 0.0, "previous step is 0");
    assert_eq!(answer.steps[2].overall_conv_ratio, 0.0);
}

/// A live answer recorded in airbyte's source-mixpanel integration records (funnel 36152117;
/// see `fixtures/mixpanel/README.md`): nobody entered, yet step 1 converts with ratio 1.
#[test]
fn an_empty_first_step_still_converts_with_mixpanels_ratio_of_one() {
    let recorded: Value =
        serde_json::from_str(include_str!("../../../../fixtures/mixpanel/funnel_zero_start.json"))
            .unwrap();
    let answer = funnel_answer(&recorded).unwrap();
    assert_eq!(counts(&answer.steps), [0, 0]);
    assert_eq!(answer.steps[0].step_conv_ratio, 1.0);
    assert_eq!(answer.steps[0].overall_conv_ratio, 1.0);
    assert_eq!(answer.steps[1].overall_conv_ratio, 0.0);
    assert_eq!(answer.steps[1].event, "Repeat buyer", "a custom event shows its label");
    assert_eq!((answer.steps[0].avg_time, answer.steps[1].avg_time), (None, None));
    assert_eq!(answer.buckets[0].steps[0].overall_conv_ratio, 1.0);
}

#[test]
fn an_empty_data_array_is_an_empty_answer() {
    assert_eq!(funnel_answer(&json!({"data": []})).unwrap(), FunnelAnswer::default());
    assert_eq!(
        funnel_answer(&json!({"meta": {"dates": []}, "data": []})).unwrap(),
        FunnelAnswer::default()
    );
}

#[test]
fn segmented_answer_uses_overall_for_steps_and_the_rest_for_segments() {
    let answer = funnel_answer(&json!({"meta": {"dates": ["2024-03-01", "2024-03-02"]}, "data": {
        "2024-03-01": {
            "$overall": [step("View", 12.0, None), step("Buy", 6.0, Some(60.0))],
            "Chrome": [step("View", 8.0, None), step("Buy", 4.0, Some(60.0))],
            "Firefox": [step("View", 3.0, None), step("Buy", 2.0, Some(60.0))]
        },
        "2024-03-02": {
            "$overall": [step("View", 2.0, None), step("Buy", 1.0, Some(120.0))],
            "Firefox": [step("View", 2.0, None), step("Buy", 1.0, Some(120.0))]
        }
    }}))
    .unwrap();
    assert_eq!(counts(&answer.steps), [14, 7]);
    let segments: Vec<(&str, Vec<u64>)> =
        answer.segments.iter().map(|s| (s.segment.as_str(), counts(&s.steps))).collect();
    assert_eq!(segments, [("Chrome", vec![8, 4]), ("Firefox", vec![5, 3])]);
    assert_eq!(answer.segments[1].steps[1].avg_time, Some(80.0));
    assert_eq!(counts(&answer.buckets[0].steps), [12, 6]);
}

#[test]
fn segmented_answer_without_overall_sums_the_segments() {
    let answer = funnel_answer(&json!({"data": {"2024-03-01": {
        "a": [step("View", 1.0, None)], "b": [step("View", 2.0, None)]}}}))
    .unwrap();
    assert_eq!(counts(&answer.steps), [3]);
}

#[test]
fn unreadable_funnels_name_the_place() {
    let bad =
        funnel_answer(&json!({"data": {"2024-03-01": {"steps": [{"count": "x"}]}}})).unwrap_err();
    assert!(bad.contains("step 1 of 2024-03-01"), "{bad}");
    let bad =
        funnel_answer(&json!({"data": {"2024-03-01": {"steps": [{"event": "A"}]}}})).unwrap_err();
    assert!(bad.contains("no count"), "{bad}");
    assert!(funnel_answer(&json!({"data": [1]})).unwrap_err().contains("`data`"));
    assert!(funnel_answer(&json!({"data": {"2024-03-01": 3}})).unwrap_err().contains("2024-03-01"));
    assert_eq!(funnel_answer(&json!({"data": {}})).unwrap(), FunnelAnswer::default());
}
