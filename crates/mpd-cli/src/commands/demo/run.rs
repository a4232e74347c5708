//! The demo's run: the main job against the bundled mock Mixpanel, with no account, through
//! the same `Workspace` every command uses.
//!
//! The mock runs in this process on 127.0.0.1 with a few faults switched on (a server error, a
//! rate limit, a stream cut short) so the demo also shows that retries never lose or repeat data.
//! A first `sync` fills an ephemeral store (removed at the end); then late events arrive in the
//! mock, a second `sync` picks up exactly them, and SQL answers two cookbook questions.

use anyhow::{Context, Result, anyhow};
use chrono::NaiveDate;
use mpd_service::{EventsSync, Reporter, StoreKind, SyncRequest, SyncTarget, Workspace};
use mpd_testkit::{DaySelector, FaultRule, Faults, MockConfig, MockServer};

/// The demo's "today" (the mock's too): the first sync reads the week up to it.
const TODAY: (i32, u32, u32) = (2024, 3, 10);
/// Late events the mock receives between the two syncs: (day, count).
const LATE: [((i32, u32, u32), u32); 2] = [((2024, 3, 7), 40), ((2024, 3, 9), 25)];

/// What the demo did and found.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct DemoReport {
    /// The mock's address.
    pub(crate) mock_url: String,
    /// First day synced.
    pub(crate) from: NaiveDate,
    /// Last day synced (the demo's today).
    pub(crate) to: NaiveDate,
    /// The first sync (events) into the ephemeral store.
    pub(crate) first_sync: EventsSync,
    /// Identity mappings the first sync derived.
    pub(crate) identity_mappings: u64,
    /// Profiles the first sync stored.
    pub(crate) profiles: u64,
    /// Late events the mock received after the first sync.
    pub(crate) late_events: u64,
    /// The second sync: it should add exactly the late events.
    pub(crate) second_sync: EventsSync,
    /// Rows of the mock's deduplicated truth for the range (late events included).
    pub(crate) mock_truth_rows: u64,
    /// True duplicates the mock injected in the range.
    pub(crate) mock_true_duplicates: u64,
    /// Whether the table holds exactly the truth: same rows, duplicates audited, and the second
    /// sync added exactly the late events.
    pub(crate) matches_truth: bool,
    /// Cookbook queries run on the table: (title, SQL, rows).
    pub(crate) queries: Vec<DemoQuery>,
}

/// One cookbook query of the demo and its answer.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct DemoQuery {
    /// The cookbook's heading.
    pub(crate) title: String,
    /// The SQL.
    pub(crate) sql: String,
    /// The rows.
    pub(crate) rows: Vec<serde_json::Value>,
}

/// The SQL cookbook; the demo runs two of its queries so they are the documented ones.
const COOKBOOK: &str = include_str!("../../../../../docs/sql-cookbook.md");

/// Runs the demo: starts the mock, syncs a week of events through the real client (with
/// faults) into an ephemeral store, lets late events arrive and syncs again, checks the table
/// against the mock's truth, and answers two cookbook questions with SQL.
pub(crate) async fn run_demo(reporter: &dyn Reporter) -> Result<DemoReport> {
    let from = day(2024, 3, 4);
    let to = day(TODAY.0, TODAY.1, TODAY.2);
    let config = MockConfig {
        events_per_day: 3_000,
        today: Some(to),
        faults: Faults {
            server_error: Some(FaultRule {
                days: DaySelector::Days(vec![day(2024, 3, 5)]),
                attempts: 1,
            }),
            rate_limit: Some(FaultRule {
                days: DaySelector::Days(vec![day(2024, 3, 7)]),
                attempts: 1,
            }),
            terminated_early: Some(FaultRule {
                days: DaySelector::Days(vec![day(2024, 3, 9)]),
                attempts: 1,
            }),
            retry_after_secs: 1,
            ..Faults::default()
        },
        ..MockConfig::default()
    };
    let mock = MockServer::start(config.clone())
        .await
        .map_err(|e| anyhow!("cannot start the bundled mock Mixpanel: {e}"))?;
    let workspace = workspace_for_mock(&mock, &config).with_store_kind(StoreKind::Ephemeral);
    let outcome = demo_steps(&workspace, &mock, from, to, reporter).await;
    let closed = workspace.close().await;
    let report = outcome?;
    closed?;
    Ok(report)
}

async fn demo_steps(
    workspace: &Workspace,
    mock: &MockServer,
    from: NaiveDate,
    to: NaiveDate,
    reporter: &dyn Reporter,
) -> Result<DemoReport> {
    let first = SyncRequest { from: Some(from), workers: 2, ..SyncRequest::new(SyncTarget::All) };
    let first = workspace.sync(&first, reporter).await?;
    let first_sync = first.events.context("the first sync made no events sync")?;
    let truth_before = mock.project().deduplicated(from, to).len() as u64;
    let mut late_events = 0;
    for ((y, m, d), n) in LATE {
        late_events += mock.project().add_late_events(day(y, m, d), n).len() as u64;
    }
    let second = SyncRequest { workers: 2, ..SyncRequest::new(SyncTarget::Events) };
    let second_sync = workspace
        .sync(&second, reporter)
        .await?
        .events
        .context("the second sync made no events sync")?;
    let mock_truth_rows = mock.project().deduplicated(from, to).len() as u64;
    let mock_true_duplicates = mock.project().true_duplicates(from, to) as u64;
    let stored = workspace.sql("SELECT count(*) AS n FROM events").await?;
    let stored_rows = stored.rows.first().and_then(|r| r["n"].as_u64()).unwrap_or(0);
    let audited = workspace.sql("SELECT count(*) AS n FROM rejected_duplicates").await?;
    let audited_rows = audited.rows.first().and_then(|r| r["n"].as_u64()).unwrap_or(0);
    let matches_truth = stored_rows == mock_truth_rows
        && first_sync.counts.written == truth_before
        && second_sync.counts.written == late_events
        && audited_rows == mock_true_duplicates;
    let mut queries = Vec::new();
    for title in ["Top events", "Daily active users"] {
        let sql = cookbook_query(title)
            .with_context(|| format!("the cookbook has no query titled {title:?}"))?;
        let rows = workspace.sql(&sql).await?.rows;
        queries.push(DemoQuery { title: title.to_owned(), sql, rows });
    }
    Ok(DemoReport {
        mock_url: mock.base_url(),
        from,
        to,
        first_sync,
        identity_mappings: first.identity.map_or(0, |i| i.written),
        profiles: first.profiles.map_or(0, |p| p.written),
        late_events,
        second_sync,
        mock_truth_rows,
        mock_true_duplicates,
        matches_truth,
        queries,
    })
}

/// The first SQL block under the cookbook heading `title`.
fn cookbook_query(title: &str) -> Option<String> {
    let section = COOKBOOK.split("\n## ").find(|s| s.starts_with(title))?;
    let start = section.find("```sql\n")? + "```sql\n".len();
    let end = start + section[start..].find("```")?;
    Some(section[start..end].trim().to_owned())
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or(NaiveDate::MIN)
}

/// A workspace pointed at the in-process mock, with its credentials and quick retries.
fn workspace_for_mock(mock: &MockServer, config: &MockConfig) -> Workspace {
    let credentials = mpd_service::ResolvedCredentials {
        source: mpd_service::CredentialSource::Account("demo (bundled mock)".to_owned()),
        username: config.username.clone(),
        secret: mpd_service::Secret::new(config.secret.clone()),
        project_id: config.project_id,
        region: mpd_service::Region::Us,
    };
    let settings = mpd_service::Settings {
        base_url: Some(mock.base_url()),
        retry_base_delay_seconds: 0.2,
        today: Some(format!("{:04}-{:02}-{:02}", TODAY.0, TODAY.1, TODAY.2)),
        export_per_second: 100,
        // Nothing is stored; a quarantine file would only appear if the mock sent bad lines.
        store: Some(std::env::temp_dir().join("mpd-demo")),
        ..mpd_service::Settings::default()
    };
    Workspace::from_parts(credentials, settings, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_queries_exist_in_the_cookbook() {
        for title in ["Top events", "Daily active users"] {
            let sql = cookbook_query(title).expect(title);
            assert!(sql.starts_with("SELECT"), "{sql}");
        }
    }
}
