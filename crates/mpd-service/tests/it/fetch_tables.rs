//! Dedup semantics (docs/sync.md) on a 30-day fetch: the table equals the mock's deduplicated truth, and a
//! second append of the same range adds nothing and audits exactly the injected duplicates.

use std::collections::BTreeMap;

use mpd_service::TableMode;

use crate::support::{fetch, mock, truth, workspace};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_days_equal_the_deduplicated_truth_and_a_second_append_adds_nothing() {
    let mock = mock(150).await;
    let store = tempfile::tempdir().expect("temp dir");
    let workspace = workspace(&mock, store.path());
    let want = truth(&mock, "2024-01-01", "2024-01-30");
    assert!(
        want.true_duplicates > 0,
        "the mock must inject duplicates for this test to mean anything"
    );

    let first = fetch(&workspace, "2024-01-01", "2024-01-30", TableMode::Create).await;
    assert_eq!(first.written, want.rows);

    let count = workspace.sql("SELECT count(*) AS n FROM events").await.expect("count");
    assert_eq!(count.rows[0]["n"].as_u64(), Some(want.rows));
    let per_event = workspace
        .sql("SELECT event_name, count(*) AS n FROM events GROUP BY event_name")
        .await
        .expect("per event");
    let got: BTreeMap<String, u64> = per_event
        .rows
        .iter()
        .map(|r| {
            (r["event_name"].as_str().unwrap_or_default().to_owned(), r["n"].as_u64().unwrap_or(0))
        })
        .collect();
    assert_eq!(got, want.by_event);
    let amount = workspace
        .sql("SELECT sum(json_get_float(properties, 'amount')) AS amount FROM events")
        .await
        .expect("amount");
    let got_amount = amount.rows[0]["amount"].as_f64().expect("a sum");
    assert!((got_amount - want.amount).abs() < 1e-6, "{got_amount} vs {}", want.amount);

    let second = fetch(&workspace, "2024-01-01", "2024-01-30", TableMode::Append).await;
    assert_eq!(second.written, 0);
    assert_eq!(second.already_present, want.rows);
    assert_eq!(
        second.duplicates_rejected + second.duplicates_already_audited,
        want.true_duplicates
    );
    let audited =
        workspace.sql("SELECT count(*) AS n FROM rejected_duplicates").await.expect("audit");
    assert_eq!(audited.rows[0]["n"].as_u64(), Some(want.true_duplicates));
    let count = workspace.sql("SELECT count(*) AS n FROM events").await.expect("count");
    assert_eq!(count.rows[0]["n"].as_u64(), Some(want.rows));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_events_appended_later_are_added_exactly_once() {
    let mock = mock(80).await;
    let store = tempfile::tempdir().expect("temp dir");
    let workspace = workspace(&mock, store.path());
    fetch(&workspace, "2024-02-01", "2024-02-05", TableMode::Create).await;
    let late = mock.add_late_events(crate::support::day("2024-02-03"), 9);
    assert_eq!(late.len(), 9);
    let second = fetch(&workspace, "2024-02-01", "2024-02-05", TableMode::Append).await;
    assert_eq!(second.written, 9);
    let want = truth(&mock, "2024-02-01", "2024-02-05");
    let count = workspace.sql("SELECT count(*) AS n FROM events").await.expect("count");
    assert_eq!(count.rows[0]["n"].as_u64(), Some(want.rows));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_refuses_an_existing_table_before_any_request() {
    let mock = mock(20).await;
    let store = tempfile::tempdir().expect("temp dir");
    let workspace = workspace(&mock, store.path());
    fetch(&workspace, "2024-03-01", "2024-03-02", TableMode::Create).await;
    let requests_before = mock.requests().len();
    let request = mpd_service::FetchEventsRequest {
        table: "events".to_owned(),
        mode: TableMode::Create,
        selection: mpd_service::EventSelection {
            workers: 1,
            ..mpd_service::EventSelection::days(
                crate::support::day("2024-03-01"),
                crate::support::day("2024-03-02"),
            )
        },
    };
    let error =
        workspace.fetch_events(&request, &mpd_service::SilentReporter).await.expect_err("exists");
    assert!(error.to_string().contains("already exists"), "{error}");
    assert_eq!(mock.requests().len(), requests_before);
}
