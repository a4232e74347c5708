//! Live queries and discovery over HTTP, where the mock already answers (event names,
//! faults, unknown endpoints); answer shapes are covered by the parsers' unit tests.

use mpd_service::{CountType, DateSpan, Error, ErrorClass, SegmentationQuery, TimeUnit, Workspace};
use mpd_testkit::{FaultRule, Faults, MockServer};

use crate::support::{day, mock, workspace_with};

fn requests_to(mock: &MockServer, path: &str) -> usize {
    mock.requests().iter().filter(|r| r.path == path).count()
}

const NAMES: &str = "/api/query/events/names";

#[tokio::test]
async fn discovery_cache_answers_repeated_calls_without_a_request() {
    let mock = mock(5).await;
    let store = tempfile::tempdir().expect("temp dir");
    let workspace = workspace_with(&mock, store.path(), &[]);

    let first = workspace.list_events().await.expect("event names");
    // The mock ranks names by count; the cache test cares only that they all came back.
    let mut sorted = first.clone();
    sorted.sort();
    let mut known = mock.project().event_names();
    known.sort();
    assert_eq!(sorted, known);
    assert_eq!(requests_to(&mock, NAMES), 1);
    let log = mock.requests();
    assert_eq!(log[0].param("type"), Some("general"));

    let second = workspace.list_events().await.expect("cached names");
    assert_eq!(second, first);
    assert_eq!(requests_to(&mock, NAMES), 1, "the second call is answered from the cache");

    workspace.clear_discovery_cache();
    workspace.list_events().await.expect("names after clearing");
    assert_eq!(requests_to(&mock, NAMES), 2);
}

#[tokio::test]
async fn switched_off_cache_asks_every_time() {
    let mock = mock(5).await;
    let store = tempfile::tempdir().expect("temp dir");
    let workspace: Workspace = workspace_with(&mock, store.path(), &[]).with_discovery_cache(false);
    workspace.list_events().await.expect("names");
    workspace.list_events().await.expect("names again");
    assert_eq!(requests_to(&mock, NAMES), 2);
}

#[tokio::test]
async fn query_rate_limit_is_exit_5_with_the_budget_mixpanel_reported() {
    let mock = mock(5).await;
    mock.set_faults(Faults {
        rate_limit: Some(FaultRule::all_days(0)),
        retry_after_secs: 0,
        ..Faults::default()
    });
    let store = tempfile::tempdir().expect("temp dir");
    let workspace = workspace_with(&mock, store.path(), &[("MPD_RETRY_MAX_ATTEMPTS", "2")]);
    let error = workspace.list_events().await.expect_err("rate limited");
    assert_eq!(error.class(), ErrorClass::RateLimited, "{error}");
    let hint = error.hint().expect("a hint");
    assert!(hint.contains("allows this project 60 queries an hour"), "{hint}");
    assert!(hint.contains("61 in the last hour"), "{hint}");
    assert!(hint.contains("query_per_hour"), "{hint}");
    assert_eq!(requests_to(&mock, NAMES), 2, "retried once, then gave up");
}

#[tokio::test]
async fn unknown_saved_report_is_not_found() {
    let mock = mock(5).await;
    let store = tempfile::tempdir().expect("temp dir");
    let workspace = workspace_with(&mock, store.path(), &[]);
    let error = workspace.saved_report(8009).await.expect_err("no such report");
    assert!(
        matches!(&error, Error::Live(live) if matches!(live.as_ref(), mpd_service::LiveError::NotFound(_))),
        "{error:?}"
    );
    assert_eq!(error.to_string(), "saved report 8009 not found");
    assert_eq!(error.class(), ErrorClass::NotFound);
    let log = mock.requests();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].path, "/api/query/insights");
    assert_eq!(log[0].param("bookmark_id"), Some("8009"));
    assert_eq!(log[0].param("project_id"), Some("1234"));
}

#[tokio::test]
async fn refused_credentials_name_the_project() {
    let mock = mock(5).await;
    let store = tempfile::tempdir().expect("temp dir");
    let workspace = workspace_with(&mock, store.path(), &[("MP_SECRET", "wrong")]);
    let error = workspace.list_events().await.expect_err("refused");
    assert_eq!(error.class(), ErrorClass::Auth);
    let text = error.to_string();
    assert!(text.contains("project 1234") && text.contains("region us"), "{text}");
}

#[tokio::test]
async fn invalid_requests_never_reach_mixpanel() {
    let mock = mock(5).await;
    let store = tempfile::tempdir().expect("temp dir");
    let workspace = workspace_with(&mock, store.path(), &[]);
    let query = SegmentationQuery {
        event: "Login".to_owned(),
        span: DateSpan { from: day("2024-03-07"), to: day("2024-03-01") },
        on: None,
        unit: TimeUnit::Day,
        where_expr: None,
        count_type: CountType::General,
        limit: None,
    };
    let error = workspace.segmentation(&query).await.expect_err("reversed range");
    assert_eq!(error.class(), ErrorClass::Usage);
    let error = workspace.list_properties("  ").await.expect_err("empty event");
    assert_eq!(error.class(), ErrorClass::Usage);
    assert!(mock.requests().is_empty());
}
