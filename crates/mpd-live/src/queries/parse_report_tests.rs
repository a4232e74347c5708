//! Insights answers, in the documented shape and in the shapes of recorded bodies listed in
//! `fixtures/mixpanel/README.md`.

use serde_json::json;

use super::*;

fn fixture(text: &str) -> InsightsAnswer {
    let value: Value = serde_json::from_str(text).expect("fixture is JSON");
    insights_answer(&value).expect("fixture reads")
}

fn names(answer: &InsightsAnswer) -> Vec<&str> {
    answer.series.series.iter().map(|s| s.name.as_str()).collect()
}

fn info<'a>(answer: &'a InsightsAnswer, name: &str) -> &'a ReportSeries {
    answer.series_info.iter().find(|s| s.name == name).expect(name)
}

/// The OpenAPI example of `/insights` (mixpanel/docs, `openapi/query.openapi.yaml`).
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
    assert!(info(&answer, "Logged in").additive, "a bare event name is a total of events");
    assert!(answer.other_values.is_empty() && answer.secondary.is_none());
}

/// Recorded shape: several metrics, no breakdown (bookmark 60327249).
#[test]
fn totals_add_up_and_unique_users_do_not() {
    let answer = fixture(include_str!("../../../../fixtures/mixpanel/insights_totals.json"));
    let signups = answer.series.get("B. Sign Up [Total Events]").unwrap();
    assert_eq!(signups.values["2024-05-02T00:00:00-07:00"], 402.0);
    assert_eq!(signups.total(), 1140.0);
    assert!(info(&answer, "B. Sign Up [Total Events]").additive);
    let uniques = info(&answer, "A. Purchase [Unique Users]");
    assert!(!uniques.additive && !uniques.rollup);
    assert_eq!(uniques.metric, "A. Purchase [Unique Users]");
}

/// Recorded shape: unique users by `$os` with `$overall` roll-ups (bookmark 60327233).
#[test]
fn overall_roll_ups_are_marked() {
    let answer =
        fixture(include_str!("../../../../fixtures/mixpanel/insights_unique_breakdown.json"));
    assert_eq!(
        names(&answer),
        [
            "View Item [Unique Users] / $overall",
            "View Item [Unique Users] / Android",
            "View Item [Unique Users] / iOS",
        ]
    );
    let overall = info(&answer, "View Item [Unique Users] / $overall");
    assert!(overall.rollup && !overall.additive);
    assert!(!info(&answer, "View Item [Unique Users] / iOS").rollup);
    assert_eq!(answer.series.series[0].values["2024-05-02T00:00:00-07:00"], 701.0);
    assert_eq!(answer.headers, ["$event", "$os"]);
}

/// Recorded shape: a funnel-type bookmark (60391431); `p_value` holds booleans.
#[test]
fn a_funnel_bookmark_keeps_its_numbers_and_sets_p_values_aside() {
    let answer = fixture(include_str!("../../../../fixtures/mixpanel/insights_funnel.json"));
    let count = |segment: &str, step: &str| {
        let name = format!("View Item through Purchase / {segment} / count / {step}");
        answer.series.get(&name).unwrap_or_else(|| panic!("{name}")).values["all"]
    };
    assert_eq!(count("Bing", "1. View Item"), 2207.0);
    assert_eq!(count("Google", "2. Purchase"), 3011.0);
    let ratio = answer
        .series
        .get("View Item through Purchase / Bing / overall_conv_ratio / 2. Purchase")
        .unwrap();
    assert_eq!(ratio.values["all"], 0.71092);
    // Step 1's null times are no values, not zeros.
    let time = answer.series.get("View Item through Purchase / Bing / avg_time / 1. View Item");
    assert!(time.unwrap().values.is_empty());
    let p =
        &answer.other_values["View Item through Purchase / Google / p_value / 2. Purchase / all"];
    assert_eq!(p["insufficient_samples"], json!(true));
    assert_eq!(p["p"], json!(0.07));
    let info = info(&answer, "View Item through Purchase / Bing / count / 1. View Item");
    assert_eq!(info.metric, "count");
    assert!(!info.additive);
}

/// Recorded shape: a retention-type bookmark (60391485): rates, counts in `secondary`.
#[test]
fn a_retention_bookmark_has_rates_and_secondary_counts() {
    let answer = fixture(include_str!("../../../../fixtures/mixpanel/insights_retention.json"));
    let rates = answer.series.get("View Item and then View Item / $overall").unwrap();
    assert_eq!(rates.values["2024-05-30T00:00:00-07:00"], 0.7021);
    assert!(answer.series_info.iter().all(|s| !s.additive));
    let counts = answer.secondary.as_ref().unwrap();
    assert_eq!(counts.get("View Item and then View Item / Bing").unwrap().total(), 186.0);
}

#[test]
fn single_numbers_and_nested_breakdowns() {
    let answer = insights_answer(&json!({
        "headers": ["$event", "Channel Type", "cart"],
        "series": {"Product Viewed [Total Events]": {
            "$overall": {"all": 13465},
            "Social": {"$overall": {"all": 3117}, "adidas": {"all": 392}}
        }}
    }))
    .unwrap();
    assert_eq!(
        names(&answer),
        [
            "Product Viewed [Total Events] / $overall",
            "Product Viewed [Total Events] / Social / $overall",
            "Product Viewed [Total Events] / Social / adidas",
        ]
    );
    assert!(info(&answer, "Product Viewed [Total Events] / Social / $overall").rollup);
    assert!(info(&answer, "Product Viewed [Total Events] / Social / adidas").additive);
}

#[test]
fn empty_series_is_an_empty_report() {
    let answer = insights_answer(&json!({"headers": ["$metric"], "series": {}})).unwrap();
    assert!(answer.series.series.is_empty() && answer.series_info.is_empty());
}

#[test]
fn values_that_are_not_series_never_sink_the_report() {
    let answer = insights_answer(&json!({"series": {
        "Purchase": {"$overall": 8, "Chrome": {"2024-03-01": 3}, "Safari": {"2024-03-01": "5"}},
        "Odd": 3
    }}))
    .unwrap();
    assert_eq!(names(&answer), ["Purchase / Chrome"]);
    assert_eq!(answer.other_values["Purchase / $overall"], json!(8));
    assert_eq!(answer.other_values["Purchase / Safari"], json!({"2024-03-01": "5"}));
    assert_eq!(answer.other_values["Odd"], json!(3));
}

#[test]
fn unreadable_insights() {
    assert!(insights_answer(&json!({"headers": []})).unwrap_err().contains("`series`"));
    assert!(insights_answer(&json!({"series": [1]})).unwrap_err().contains("an array"));
    assert!(insights_answer(&json!("x")).unwrap_err().contains("a string"));
}
