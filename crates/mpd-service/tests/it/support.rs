//! A mock project, a workspace pointed at it, and the mock's truth in numbers.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;
use mpd_service::{
    EnvVars, EventSelection, FetchEventsRequest, FetchSummary, SilentReporter, TableMode,
    Workspace, WorkspaceOptions,
};
use mpd_testkit::{MockConfig, MockServer};

pub(crate) fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("a date")
}

pub(crate) async fn mock(events_per_day: u32) -> MockServer {
    let config = MockConfig { events_per_day, ..MockConfig::default() };
    MockServer::start(config).await.expect("mock starts")
}

/// A workspace for the mock with a persistent store in `store`.
pub(crate) fn workspace(mock: &MockServer, store: &Path) -> Workspace {
    workspace_with(mock, store, &[])
}

/// [`workspace`] with extra environment variables (`MPD_TODAY`, ...).
pub(crate) fn workspace_with(mock: &MockServer, store: &Path, extra: &[(&str, &str)]) -> Workspace {
    let mut env = vec![
        ("MP_USERNAME", "mock-user".to_owned()),
        ("MP_SECRET", "mock-secret".to_owned()),
        ("MP_PROJECT_ID", "1234".to_owned()),
        ("MP_REGION", "us".to_owned()),
        ("MP_BASE_URL", mock.base_url()),
        ("MP_CONFIG_PATH", store.join("no-config.toml").display().to_string()),
        ("MPD_STORE", store.display().to_string()),
        ("MPD_EXPORT_PER_SECOND", "1000".to_owned()),
        ("MPD_RETRY_BASE_DELAY_SECONDS", "0.01".to_owned()),
    ];
    env.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let env = EnvVars::from_pairs(env);
    Workspace::open(WorkspaceOptions { env, ..WorkspaceOptions::default() }).expect("workspace")
}

pub(crate) async fn fetch(
    workspace: &Workspace,
    from: &str,
    to: &str,
    mode: TableMode,
) -> FetchSummary {
    let request = FetchEventsRequest {
        table: "events".to_owned(),
        mode,
        selection: EventSelection::days(day(from), day(to)),
    };
    workspace.fetch_events(&request, &SilentReporter).await.expect("fetch")
}

/// The mock's deduplicated events of a range: count, per event name, and the sum of `amount`.
pub(crate) struct Truth {
    pub(crate) rows: u64,
    pub(crate) by_event: BTreeMap<String, u64>,
    pub(crate) amount: f64,
    pub(crate) true_duplicates: u64,
}

pub(crate) fn truth(mock: &MockServer, from: &str, to: &str) -> Truth {
    let lines = mock.project().deduplicated(day(from), day(to));
    let mut by_event = BTreeMap::new();
    let mut amount = 0.0;
    for line in &lines {
        let value: serde_json::Value = serde_json::from_str(line).expect("mock lines are JSON");
        let name = value["event"].as_str().unwrap_or_default().to_owned();
        *by_event.entry(name).or_insert(0) += 1;
        amount += value["properties"]["amount"].as_f64().unwrap_or(0.0);
    }
    Truth {
        rows: lines.len() as u64,
        by_event,
        amount,
        true_duplicates: mock.project().true_duplicates(day(from), day(to)) as u64,
    }
}
