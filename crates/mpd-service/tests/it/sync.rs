//! `mpd sync` semantics (docs/sync.md): late events inside the lookback are picked up exactly
//! once, older ones only by a backfill, and identity re-keying never duplicates rows.

use mpd_service::{SilentReporter, SyncMode, SyncRequest, SyncTarget, Workspace};
use mpd_testkit::{MockConfig, MockServer};

use crate::support::{day, workspace_with};

const TODAY: &str = "2024-03-20";

async fn mock() -> MockServer {
    let config = MockConfig {
        events_per_day: 120,
        n_users: 60,
        first_day: day("2024-02-01"),
        today: Some(day(TODAY)),
        ..MockConfig::default()
    };
    MockServer::start(config).await.expect("mock starts")
}

async fn sync(workspace: &Workspace, request: SyncRequest) -> mpd_service::SyncReport {
    workspace.sync(&request, &SilentReporter).await.expect("sync")
}

fn events_from(from: &str) -> SyncRequest {
    SyncRequest { from: Some(day(from)), ..SyncRequest::new(SyncTarget::Events) }
}

async fn count(workspace: &Workspace, sql: &str) -> u64 {
    let result = workspace.sql(sql).await.expect("query");
    result.rows[0]
        .as_object()
        .and_then(|r| r.values().next())
        .and_then(|v| v.as_u64())
        .expect("a count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_events_inside_the_lookback_sync_once_and_older_ones_only_by_backfill() {
    let mock = mock().await;
    let store = tempfile::tempdir().expect("temp dir");
    let workspace = workspace_with(&mock, store.path(), &[("MPD_TODAY", TODAY)]);
    let truth = |from: &str, to: &str| mock.project().deduplicated(day(from), day(to)).len() as u64;

    let first = sync(&workspace, events_from("2024-03-01")).await.events.expect("events part");
    assert_eq!(first.window.mode, SyncMode::FirstRun);
    assert_eq!(first.counts.written, truth("2024-03-01", TODAY));
    assert_eq!(first.cursor_after, Some(day("2024-03-19")), "the cursor stops before today");

    // A re-run changes nothing and commits nothing.
    let again = sync(&workspace, events_from("2024-03-01")).await.events.expect("events part");
    assert_eq!((again.counts.written, again.commits), (0, 0));
    assert_eq!(again.window.from, day("2024-03-14"), "cursor minus the 5-day lookback");

    let inside = mock.project().add_late_events(day("2024-03-16"), 7);
    let outside = mock.project().add_late_events(day("2024-03-05"), 4);
    assert_eq!((inside.len(), outside.len()), (7, 4));
    let late = sync(&workspace, events_from("2024-03-01")).await.events.expect("events part");
    assert_eq!(late.counts.written, 7, "exactly the late events inside the lookback");
    assert_eq!(late.commits, 1, "only the day that changed is committed");
    let stored = count(&workspace, "SELECT count(*) FROM events").await;
    assert_eq!(stored, truth("2024-03-01", TODAY) - 4, "the older late events wait for a backfill");

    let backfill = SyncRequest {
        backfill: Some((day("2024-03-01"), day("2024-03-10"))),
        ..SyncRequest::new(SyncTarget::Events)
    };
    let filled = sync(&workspace, backfill.clone()).await.events.expect("events part");
    assert_eq!(filled.counts.written, 4);
    assert_eq!(filled.cursor_after, Some(day("2024-03-19")), "a backfill leaves the cursor");
    let refilled = sync(&workspace, backfill).await.events.expect("events part");
    assert_eq!(refilled.counts.written, 0, "a backfill is idempotent");
    let stored = count(&workspace, "SELECT count(*) FROM events").await;
    assert_eq!(stored, truth("2024-03-01", TODAY));
    let keys = count(
        &workspace,
        "SELECT count(DISTINCT coalesce(insert_id, properties) || CAST(time AS VARCHAR)) FROM events",
    )
    .await;
    assert_eq!(keys, stored, "no key is stored twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rekeyed_distinct_ids_add_no_rows_and_identity_reflects_the_merges() {
    let mock = mock().await;
    let store = tempfile::tempdir().expect("temp dir");
    let workspace = workspace_with(&mock, store.path(), &[("MPD_TODAY", TODAY)]);
    let all = SyncRequest { from: Some(day("2024-03-10")), ..SyncRequest::new(SyncTarget::All) };
    let first = sync(&workspace, all.clone()).await;
    let written = first.events.expect("events part").counts.written;
    let identity = first.identity.expect("identity part");
    assert!(identity.written > 0, "identified users' devices are mapped");
    assert!(first.profiles.expect("profiles part").written > 0);

    // Every derived mapping agrees with the mock's merges.
    let merges: std::collections::HashMap<String, String> =
        mock.project().identity_merges().into_iter().collect();
    let mappings = workspace
        .sql("SELECT distinct_id, resolved_distinct_id FROM identity_mappings WHERE distinct_id LIKE '$device:%'")
        .await
        .expect("mappings");
    assert!(!mappings.rows.is_empty());
    for row in &mappings.rows {
        let id = row["distinct_id"].as_str().expect("id");
        assert_eq!(
            merges.get(id).map(String::as_str),
            row["resolved_distinct_id"].as_str(),
            "{id}"
        );
    }

    // Mixpanel re-keys the anonymous events of merged users in later exports.
    mock.set_rekey_identified(true);
    let rekeyed = sync(&workspace, all.clone()).await;
    let events = rekeyed.events.expect("events part");
    assert_eq!(events.counts.written, 0, "re-keyed copies are re-reads, not new rows");
    assert!(events.counts.already_present > 0);
    let stored = count(&workspace, "SELECT count(*) FROM events").await;
    assert_eq!(stored, written);

    // Resolved, the anonymous history of merged users counts as the user.
    let resolved_users =
        count(&workspace, "SELECT count(DISTINCT resolved_distinct_id) FROM events_resolved").await;
    let raw_users = count(&workspace, "SELECT count(DISTINCT distinct_id) FROM events").await;
    assert!(resolved_users < raw_users, "{resolved_users} resolved vs {raw_users} raw ids");
    let unmapped_anonymous = count(
        &workspace,
        "SELECT count(*) FROM events_resolved e WHERE e.resolved_distinct_id LIKE '$device:%' \
         AND e.device_id IN (SELECT device_id FROM events WHERE user_id IS NOT NULL)",
    )
    .await;
    assert_eq!(unmapped_anonymous, 0, "a device seen with a user resolves to that user");
}
