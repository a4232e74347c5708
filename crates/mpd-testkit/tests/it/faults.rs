//! Every fault behaves as documented, and a retry after a transient one gets the truth.

use http::StatusCode;
use mpd_testkit::{DaySelector, FaultRule, Faults, MockConfig};
use serde_json::Value;

use crate::client::{day, export, get};
use crate::{small_config, start};

fn with_faults(faults: Faults) -> MockConfig {
    MockConfig { faults, ..small_config() }
}

#[tokio::test]
async fn rate_limit_then_success() {
    let server = start(with_faults(Faults {
        rate_limit: Some(FaultRule::all_days(1)),
        retry_after_secs: 2,
        ..Faults::default()
    }))
    .await;
    let d = day(2024, 1, 3);
    let first = export(&server, d, d).await;
    assert_eq!(first.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(first.headers["retry-after"], "2");
    let body = first.json();
    assert!(body["error"].as_str().unwrap().starts_with("Query rate limit exceeded"));
    assert!(body["request"].as_str().unwrap().starts_with("/api/2.0/export?"));

    let second = export(&server, d, d).await;
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(second.lines(), server.project().export_lines(d));

    let log = server.requests();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].status, 429);
    assert_eq!(log[0].faults, ["rate_limit"]);
    assert!(log[1].faults.is_empty());
}

#[tokio::test]
async fn server_errors_rotate_and_then_succeed() {
    let server = start(with_faults(Faults {
        server_error: Some(FaultRule::all_days(2)),
        ..Faults::default()
    }))
    .await;
    let d = day(2024, 1, 3);
    assert_eq!(export(&server, d, d).await.status, StatusCode::INTERNAL_SERVER_ERROR);
    let second = export(&server, d, d).await;
    assert_eq!(second.status, StatusCode::BAD_GATEWAY);
    assert!(second.json()["error"].is_string());
    assert_eq!(export(&server, d, d).await.lines(), server.project().export_lines(d));
}

#[tokio::test]
async fn disconnect_is_an_incomplete_body_not_a_clean_end() {
    for gzip in [true, false] {
        let server = start(MockConfig {
            gzip,
            ..with_faults(Faults { disconnect: Some(FaultRule::all_days(1)), ..Faults::default() })
        })
        .await;
        let (from, to) = (day(2024, 1, 2), day(2024, 1, 3));
        let cut = export(&server, from, to).await;
        assert_eq!(cut.status, StatusCode::OK);
        assert!(cut.body.is_err(), "gzip={gzip}: body must fail");
        let retry = export(&server, from, to).await;
        assert_eq!(retry.lines(), server.project().export_lines_range(from, to));
    }
}

#[tokio::test]
async fn terminated_early_ends_cleanly_with_the_marker() {
    let server = start(with_faults(Faults {
        terminated_early: Some(FaultRule::on_days(vec![day(2024, 1, 4)], 1)),
        ..Faults::default()
    }))
    .await;
    let (from, to) = (day(2024, 1, 3), day(2024, 1, 4));
    let truth = server.project().export_lines_range(from, to);
    let resp = export(&server, from, to).await;
    let lines = resp.lines();
    assert_eq!(lines.last().map(String::as_str), Some("terminated early"));
    let served = &lines[..lines.len() - 1];
    assert_eq!(served.len(), truth.len() / 2);
    assert_eq!(served, &truth[..served.len()]);
    // Other days are not selected; the selected one has used its single attempt.
    assert_eq!(export(&server, from, from).await.lines(), server.project().export_lines(from));
    assert_eq!(export(&server, from, to).await.lines(), truth);
}

#[tokio::test]
async fn malformed_line_is_bad_data_on_every_attempt() {
    let server = start(with_faults(Faults {
        malformed_line: Some(FaultRule::on_days(vec![day(2024, 1, 5)], 1)),
        ..Faults::default()
    }))
    .await;
    let d = day(2024, 1, 5);
    let truth = server.project().export_lines(d);
    for _ in 0..2 {
        let lines = export(&server, d, d).await.lines();
        assert_eq!(lines.len(), truth.len() + 1);
        let bad: Vec<&String> =
            lines.iter().filter(|l| serde_json::from_str::<Value>(l).is_err()).collect();
        assert_eq!(bad.len(), 1);
        let good: Vec<String> =
            lines.iter().filter(|l| serde_json::from_str::<Value>(l).is_ok()).cloned().collect();
        assert_eq!(good, truth);
    }
}

#[tokio::test]
async fn split_line_joins_back_into_the_record() {
    let server = start(with_faults(Faults {
        split_line: Some(FaultRule { days: DaySelector::EveryNth(2), attempts: 1 }),
        ..Faults::default()
    }))
    .await;
    let d = day(2024, 1, 3);
    let truth = server.project().export_lines(d);
    let lines = export(&server, d, d).await.lines();
    assert_eq!(lines.len(), truth.len() + 1);
    let broken =
        lines.iter().position(|l| serde_json::from_str::<Value>(l).is_err()).expect("a split line");
    let mut joined = lines[..broken].to_vec();
    joined.push(format!("{}{}", lines[broken], lines[broken + 1]));
    joined.extend_from_slice(&lines[broken + 2..]);
    assert_eq!(joined, truth);
    // 2024-01-02 is not every 2nd day from 2024-01-01.
    let other = day(2024, 1, 2);
    assert_eq!(export(&server, other, other).await.lines(), server.project().export_lines(other));
}

#[tokio::test]
async fn slow_first_byte_still_serves_the_day() {
    let server = start(with_faults(Faults { slow_first_byte_ms: 30, ..Faults::default() })).await;
    let d = day(2024, 1, 3);
    assert_eq!(export(&server, d, d).await.lines(), server.project().export_lines(d));
}

#[tokio::test]
async fn set_faults_applies_at_run_time_and_resets_counters() {
    let server = start(small_config()).await;
    let d = day(2024, 1, 3);
    assert_eq!(export(&server, d, d).await.status, StatusCode::OK);
    let faults = Faults { rate_limit: Some(FaultRule::all_days(1)), ..Faults::default() };
    server.set_faults(faults.clone());
    assert_eq!(export(&server, d, d).await.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(export(&server, d, d).await.status, StatusCode::OK);
    server.set_faults(faults);
    assert_eq!(export(&server, d, d).await.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn all_day_rules_also_hit_engage_and_event_names_once() {
    let server = start(with_faults(Faults {
        rate_limit: Some(FaultRule::all_days(1)),
        ..Faults::default()
    }))
    .await;
    for path in
        ["/api/2.0/engage?project_id=1234", "/api/query/events/names?project_id=1234&type=general"]
    {
        let first = get(&server, path).await;
        assert_eq!(first.status, StatusCode::TOO_MANY_REQUESTS, "{path}");
        assert!(first.headers.contains_key("retry-after"));
        assert_eq!(get(&server, path).await.status, StatusCode::OK, "{path}");
    }
}
