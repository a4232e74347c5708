//! A project whose time zone is not UTC. Mixpanel's export days are then days of that zone
//! while the store partitions by the UTC day of each event: a sync plans local days, stores
//! each event under its UTC date, and deduplicates re-reads across the day boundary that no
//! longer lines up, through the switch to daylight saving time (New York, 2024-03-10, a day of
//! 23 hours).

use std::collections::HashSet;

use chrono::{DateTime, NaiveDate};
use mpd_service::{SilentReporter, SyncMode, SyncRequest, SyncTarget, Workspace};
use mpd_testkit::{MockConfig, MockServer};

use crate::support::{day, workspace_with};

const ZONE: &str = "America/New_York";
const TODAY: &str = "2024-03-13";

async fn mock() -> MockServer {
    let config = MockConfig {
        events_per_day: 96,
        n_users: 40,
        first_day: day("2024-03-05"),
        // UTC data runs a day past today in New York: its evening is tomorrow in UTC.
        last_day: day("2024-03-14"),
        today: Some(day(TODAY)),
        project_timezone: Some(ZONE.to_owned()),
        ..MockConfig::default()
    };
    MockServer::start(config).await.expect("mock starts")
}

fn local_day(secs: i64) -> NaiveDate {
    let zone: chrono_tz::Tz = ZONE.parse().expect("a zone");
    DateTime::from_timestamp(secs, 0).expect("a time").with_timezone(&zone).date_naive()
}

/// The mock's deduplicated events whose day in the project's zone is in `[from, to]`, as
/// `(insert key, UTC date)`.
fn truth(mock: &MockServer, from: &str, to: &str) -> Vec<(String, NaiveDate)> {
    let (from, to) = (day(from), day(to));
    let utc = mock.project().deduplicated(from.pred_opt().unwrap(), to.succ_opt().unwrap());
    utc.iter()
        .filter_map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).expect("JSON");
            let secs = value["properties"]["time"].as_i64().expect("a time");
            let local = local_day(secs);
            let key = format!("{}@{secs}", value["properties"]["$insert_id"]);
            let utc_date = DateTime::from_timestamp(secs, 0).expect("a time").date_naive();
            (from..=to).contains(&local).then_some((key, utc_date))
        })
        .collect()
}

async fn sync(workspace: &Workspace) -> mpd_service::EventsSync {
    let request =
        SyncRequest { from: Some(day("2024-03-08")), ..SyncRequest::new(SyncTarget::Events) };
    let report = workspace.sync(&request, &SilentReporter).await.expect("sync");
    report.events.expect("events part")
}

async fn rows(workspace: &Workspace, sql: &str) -> Vec<serde_json::Value> {
    workspace.sql(sql).await.expect("query").rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_days_are_synced_under_utc_partitions_and_deduplicated_across_dst() {
    let mock = mock().await;
    let store = tempfile::tempdir().expect("temp dir");
    let env = [("MPD_PROJECT_TIMEZONE", ZONE), ("MPD_TODAY", TODAY)];
    let workspace = workspace_with(&mock, store.path(), &env);

    let first = sync(&workspace).await;
    assert_eq!(first.window.mode, SyncMode::FirstRun);
    assert_eq!((first.window.from, first.window.to), (day("2024-03-08"), day(TODAY)));
    assert_eq!(first.cursor_after, Some(day("2024-03-12")), "the last complete local day");
    let expected = truth(&mock, "2024-03-08", TODAY);
    assert_eq!(first.counts.written, expected.len() as u64);

    // Each event sits under its UTC date, so local days straddle two partitions.
    let stored =
        rows(&workspace, "SELECT date, count(*) AS n FROM events GROUP BY date ORDER BY date")
            .await;
    let mut per_date = std::collections::BTreeMap::new();
    for (_, utc_date) in &expected {
        *per_date.entry(utc_date.to_string()).or_insert(0u64) += 1;
    }
    let got: std::collections::BTreeMap<String, u64> = stored
        .iter()
        .map(|r| (r["date"].as_str().unwrap().to_owned(), r["n"].as_u64().unwrap()))
        .collect();
    assert_eq!(got, per_date);
    assert!(
        got.contains_key("2024-03-14"),
        "the evening of the 13th in New York is the 14th in UTC"
    );
    let misplaced =
        rows(&workspace, "SELECT count(*) AS n FROM events WHERE date <> CAST(time AS DATE)").await;
    assert_eq!(misplaced[0]["n"], 0);

    // The 23-hour day: exactly the events from 05:00 UTC (midnight EST) to 04:00 UTC (midnight EDT).
    let dst_day = rows(
        &workspace,
        "SELECT count(*) AS n FROM events WHERE time >= '2024-03-10T05:00:00Z' AND time < '2024-03-11T04:00:00Z'",
    )
    .await;
    let local_tenth = expected.iter().filter(|(k, _)| {
        let secs: i64 = k.rsplit('@').next().unwrap().parse().unwrap();
        local_day(secs) == day("2024-03-10")
    });
    assert_eq!(dst_day[0]["n"].as_u64(), Some(local_tenth.count() as u64));

    // A re-run re-reads the lookback and adds nothing.
    let again = sync(&workspace).await;
    assert_eq!((again.counts.written, again.commits), (0, 0));
    assert!(again.counts.already_present > 0);

    // Late events of UTC day 10 fall into local days 9 and 10: each is added once.
    let late = mock.project().add_late_events(day("2024-03-10"), 9);
    assert_eq!(late.len(), 9);
    let after = sync(&workspace).await;
    assert_eq!(after.counts.written, 9);
    let expected = truth(&mock, "2024-03-08", TODAY);
    let count = rows(&workspace, "SELECT count(*) AS n FROM events").await;
    assert_eq!(count[0]["n"].as_u64(), Some(expected.len() as u64));
    let keys: HashSet<&String> = expected.iter().map(|(k, _)| k).collect();
    assert_eq!(keys.len(), expected.len(), "the truth has no key twice");
}
