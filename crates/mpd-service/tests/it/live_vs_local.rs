//! The live answer (the mock's Query API) and the `--local` answer (SQL over a store synced
//! from the same mock) agree: segmentation, event counts, funnels and retention.

use mpd_service::{
    ConversionWindow, CountType, DateSpan, EventCountsQuery, FunnelQuery, LengthUnit,
    RetentionQuery, RetentionType, SegmentationQuery, SilentReporter, Source, SyncRequest,
    SyncTarget, TimeSeries, TimeUnit, Workspace,
};
use mpd_testkit::{MockConfig, MockServer};

use crate::support::{day, workspace_with};

const FIRST: &str = "2024-03-01";
const LAST: &str = "2024-03-21";

async fn synced() -> (MockServer, tempfile::TempDir, Workspace) {
    let config = MockConfig {
        seed: 11,
        events_per_day: 250,
        n_users: 120,
        first_day: day(FIRST),
        last_day: day(LAST),
        today: Some(day(LAST)),
        duplicate_rate: 0.03,
        missing_insert_id_rate: 0.02,
        ..MockConfig::default()
    };
    let mock = MockServer::start(config).await.expect("mock starts");
    mock.add_late_events(day("2024-03-06"), 7);
    let store = tempfile::tempdir().expect("temp dir");
    let workspace = workspace_with(&mock, store.path(), &[("MPD_TODAY", LAST)]);
    let request = SyncRequest { from: Some(day(FIRST)), ..SyncRequest::new(SyncTarget::All) };
    workspace.sync(&request, &SilentReporter).await.expect("sync");
    (mock, store, workspace)
}

fn span(from: &str, to: &str) -> DateSpan {
    DateSpan { from: day(from), to: day(to) }
}

fn assert_same_series(what: &str, live: &TimeSeries, local: &TimeSeries) {
    assert_eq!(live.dates, local.dates, "{what}: buckets");
    let names = |s: &TimeSeries| s.series.iter().map(|l| l.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(live), names(local), "{what}: series and their order");
    for (l, r) in live.series.iter().zip(&local.series) {
        assert_eq!(
            l.values.keys().collect::<Vec<_>>(),
            r.values.keys().collect::<Vec<_>>(),
            "{what}: buckets of {}",
            l.name
        );
        for (date, value) in &l.values {
            let other = r.values[date];
            assert!(
                (value - other).abs() < 1e-6,
                "{what}: {} {date}: live {value}, local {other}",
                l.name
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_and_local_answers_agree() {
    let (mock, _store, workspace) = synced().await;

    for (unit, count_type, on, where_expr) in [
        (TimeUnit::Day, CountType::General, None, None),
        (TimeUnit::Day, CountType::Unique, None, None),
        (TimeUnit::Week, CountType::Average, None, None),
        (TimeUnit::Day, CountType::General, Some("$browser"), None),
        (TimeUnit::Day, CountType::Unique, Some("page"), Some(r#"properties["referrer"] != """#)),
    ] {
        let query = SegmentationQuery {
            event: "Page View".to_owned(),
            span: span("2024-03-04", "2024-03-17"),
            on: on.map(str::to_owned),
            unit,
            where_expr: where_expr.map(str::to_owned),
            count_type,
            limit: None,
        };
        let live = workspace.segmentation(&query).await.expect("live segmentation");
        let local = workspace.local_segmentation(&query).await.expect("local segmentation");
        assert_eq!((live.source, local.source), (Source::Live, Source::Local));
        let what = format!("segmentation {unit:?} {count_type:?} on {on:?} where {where_expr:?}");
        assert!(live.total > 0.0, "{what}: nothing to compare");
        assert_same_series(&what, &live.series, &local.series);
        assert!((live.total - local.total).abs() < 1e-6, "{what}: totals");
    }

    let counts = EventCountsQuery {
        events: vec!["Login".into(), "Purchase".into(), "Sign Up".into()],
        span: span("2024-03-02", "2024-03-12"),
        count_type: CountType::Unique,
        unit: TimeUnit::Day,
    };
    let live = workspace.event_counts(&counts).await.expect("live event counts");
    let local = workspace.local_event_counts(&counts).await.expect("local event counts");
    assert_same_series("event counts", &live.series, &local.series);

    for id in [7001, 7003] {
        let (steps, window_secs) = mock.funnel_steps(id).expect("a saved funnel");
        let window = ConversionWindow {
            length: u32::try_from(window_secs / 86_400).expect("days"),
            unit: LengthUnit::Day,
        };
        let mut query = FunnelQuery {
            funnel_id: Some(id),
            steps: Vec::new(),
            span: span("2024-03-04", "2024-03-14"),
            unit: None,
            on: Some("$os".to_owned()),
            where_expr: None,
            window: Some(window),
            limit: None,
        };
        let live = workspace.funnel(&query).await.expect("live funnel");
        query.funnel_id = None;
        query.steps = steps;
        let local = workspace.local_funnel(&query).await.expect("local funnel");
        assert!(live.steps[0].count > 0, "funnel {id}: nobody entered");
        assert!(live.steps.last().is_some_and(|s| s.count > 0), "funnel {id}: nobody finished");
        let counts =
            |steps: &[mpd_service::FunnelStep]| steps.iter().map(|s| s.count).collect::<Vec<_>>();
        assert_eq!(counts(&live.steps), counts(&local.steps), "funnel {id}: steps");
        for (l, r) in live.steps.iter().zip(&local.steps) {
            match (l.avg_time, r.avg_time) {
                (Some(a), Some(b)) => {
                    assert!((a - b).abs() < 1.0, "funnel {id}: avg time {a} vs {b}")
                }
                (a, b) => assert_eq!(a.is_some(), b.is_some(), "funnel {id}: avg time"),
            }
        }
        assert_eq!(live.buckets.len(), local.buckets.len(), "funnel {id}: buckets");
        for (l, r) in live.buckets.iter().zip(&local.buckets) {
            assert_eq!(l.date, r.date);
            assert_eq!(counts(&l.steps), counts(&r.steps), "funnel {id} on {}", l.date);
        }
        let segments = |f: &mpd_service::FunnelResult| {
            f.segments.iter().map(|s| (s.segment.clone(), counts(&s.steps))).collect::<Vec<_>>()
        };
        assert_eq!(segments(&live), segments(&local), "funnel {id}: segments by $os");
    }

    for (retention_type, unit, return_event) in [
        (RetentionType::Birth, TimeUnit::Day, Some("Purchase")),
        (RetentionType::Birth, TimeUnit::Week, None),
        (RetentionType::Compounded, TimeUnit::Day, Some("Login")),
    ] {
        let query = RetentionQuery {
            born_event: "Login".to_owned(),
            return_event: return_event.map(str::to_owned),
            span: span("2024-03-04", "2024-03-15"),
            born_where: None,
            return_where: None,
            retention_type,
            interval: None,
            interval_count: 5,
            unit,
            unbounded: false,
            on: None,
        };
        let live = workspace.retention(&query).await.expect("live retention");
        let local = workspace.local_retention(&query).await.expect("local retention");
        let rows = |r: &mpd_service::RetentionResult| {
            r.cohorts.iter().map(|c| (c.date.clone(), c.size, c.counts.clone())).collect::<Vec<_>>()
        };
        assert!(!live.cohorts.is_empty(), "retention {retention_type:?}: no cohorts");
        assert_eq!(
            rows(&live),
            rows(&local),
            "retention {retention_type:?} {unit:?} {return_event:?}"
        );
    }
}
