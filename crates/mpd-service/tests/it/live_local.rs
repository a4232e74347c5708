//! `--local` segmentation, event counts, funnels and retention against a store synced from the
//! mock, checked against brute-force answers computed here from the mock's own lines.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Datelike, Days, NaiveDate};
use mpd_service::{
    ConversionWindow, CountType, DateSpan, ErrorClass, EventCountsQuery, FunnelQuery, FunnelStep,
    LengthUnit, RetentionQuery, RetentionType, SegmentationQuery, SilentReporter, Source,
    SyncRequest, SyncTarget, TimeSeries, TimeUnit, Workspace,
};
use mpd_testkit::{MockConfig, MockServer};
use serde_json::{Map, Value};

use crate::support::{day, workspace_with};

const FIRST: &str = "2024-03-01";
const LAST: &str = "2024-03-14";

/// One deduplicated event of the mock, with its resolved user.
struct Event {
    name: String,
    time: i64,
    day: NaiveDate,
    user: String,
    props: Map<String, Value>,
}

struct Synced {
    _mock: MockServer,
    _store: tempfile::TempDir,
    workspace: Workspace,
    events: Vec<Event>,
}

/// A mock with 14 days × 300 events (duplicates, missing insert ids and late events), synced
/// into a fresh store, and the mock's truth.
async fn synced() -> Synced {
    let config = MockConfig {
        seed: 7,
        events_per_day: 300,
        n_users: 150,
        first_day: day(FIRST),
        last_day: day(LAST),
        today: Some(day(LAST)),
        duplicate_rate: 0.03,
        missing_insert_id_rate: 0.02,
        ..MockConfig::default()
    };
    let mock = MockServer::start(config).await.expect("mock starts");
    mock.add_late_events(day("2024-03-05"), 9);
    mock.add_late_events(day("2024-03-12"), 4);
    let store = tempfile::tempdir().expect("temp dir");
    let workspace = workspace_with(&mock, store.path(), &[("MPD_TODAY", LAST)]);
    let request = SyncRequest { from: Some(day(FIRST)), ..SyncRequest::new(SyncTarget::All) };
    workspace.sync(&request, &SilentReporter).await.expect("sync");
    let events = truth(&mock);
    Synced { _mock: mock, _store: store, workspace, events }
}

fn truth(mock: &MockServer) -> Vec<Event> {
    let merges: HashMap<String, String> = mock.project().identity_merges().into_iter().collect();
    let mut seen = HashSet::new();
    let mut events = Vec::new();
    for d in day(FIRST).iter_days().take_while(|d| *d <= day(LAST)) {
        let bytes = mock.project().day_bytes(d);
        for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let value: Value = serde_json::from_slice(line).expect("mock lines are JSON");
            let props = value["properties"].as_object().expect("properties").clone();
            if let Some(id) = props.get("$insert_id").and_then(Value::as_str)
                && !seen.insert(id.to_owned())
            {
                continue;
            }
            let time = props["time"].as_i64().expect("time");
            let raw = props.get("distinct_id").and_then(Value::as_str).unwrap_or_default();
            events.push(Event {
                name: value["event"].as_str().expect("event").to_owned(),
                time,
                day: DateTime::from_timestamp(time, 0).expect("a time").date_naive(),
                user: merges.get(raw).cloned().unwrap_or_else(|| raw.to_owned()),
                props,
            });
        }
    }
    events
}

fn span() -> DateSpan {
    DateSpan { from: day(FIRST), to: day(LAST) }
}

fn label(unit: TimeUnit, d: NaiveDate) -> String {
    match unit {
        TimeUnit::Week => {
            (d - Days::new(u64::from(d.weekday().num_days_from_monday()))).to_string()
        }
        TimeUnit::Month => format!("{}-{:02}-01", d.year(), d.month()),
        _ => d.to_string(),
    }
}

/// The property's segment text: strings as-is, numbers as serde_json writes them.
fn key(props: &Map<String, Value>, name: &str) -> Option<String> {
    match props.get(name)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Brute-force series: per segment, per label, the count of the kind asked for.
fn expected(
    events: &[&Event],
    unit: TimeUnit,
    count_type: CountType,
    segment: impl Fn(&Event) -> Option<String>,
) -> BTreeMap<String, BTreeMap<String, f64>> {
    let mut cells: BTreeMap<(String, String), (u64, BTreeSet<&str>)> = BTreeMap::new();
    for e in events {
        let Some(s) = segment(e) else { continue };
        let cell = cells.entry((s, label(unit, e.day))).or_default();
        cell.0 += 1;
        cell.1.insert(&e.user);
    }
    let mut out: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    for ((s, l), (n, users)) in cells {
        let value = match count_type {
            CountType::General => n as f64,
            CountType::Unique => users.len() as f64,
            CountType::Average => n as f64 / users.len() as f64,
        };
        out.entry(s).or_default().insert(l, value);
    }
    out
}

/// The series' non-zero values equal `want`, every series holds every date, and series are
/// ordered largest total first, ties by name.
fn assert_series(got: &TimeSeries, want: &BTreeMap<String, BTreeMap<String, f64>>) {
    let mut nonzero: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    for series in &got.series {
        let keys: Vec<&String> = series.values.keys().collect();
        let dates: Vec<&String> = got.dates.iter().collect::<BTreeSet<_>>().into_iter().collect();
        assert_eq!(keys, dates, "{} holds every date", series.name);
        let values = series.values.iter().filter(|(_, v)| **v != 0.0);
        let values: BTreeMap<String, f64> = values.map(|(k, v)| (k.clone(), *v)).collect();
        if !values.is_empty() {
            nonzero.insert(series.name.clone(), values);
        }
    }
    assert_eq!(&nonzero, want);
    for pair in got.series.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        assert!(a.total() > b.total() || (a.total() == b.total() && a.name < b.name));
    }
}

fn in_span<'a>(events: &'a [Event], name: &str) -> Vec<&'a Event> {
    events.iter().filter(|e| e.name == name && e.day >= day(FIRST) && e.day <= day(LAST)).collect()
}

fn segmentation(event: &str, unit: TimeUnit, count_type: CountType) -> SegmentationQuery {
    SegmentationQuery {
        event: event.to_owned(),
        span: span(),
        on: None,
        unit,
        where_expr: None,
        count_type,
        limit: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segmentation_matches_the_mock_by_day_and_week_with_on_and_where() {
    let s = synced().await;
    let page_views = in_span(&s.events, "Page View");
    assert!(page_views.len() > 1000, "the mock has data: {}", page_views.len());

    for (unit, days) in [(TimeUnit::Day, 14), (TimeUnit::Week, 3)] {
        for count_type in [CountType::General, CountType::Unique, CountType::Average] {
            let q = segmentation("Page View", unit, count_type);
            let got = s.workspace.local_segmentation(&q).await.expect("segmentation");
            assert_eq!(got.source, Source::Local);
            assert_eq!(got.series.dates.len(), days, "{unit:?}");
            let want = expected(&page_views, unit, count_type, |_| Some("Page View".into()));
            assert_series(&got.series, &want);
            assert_eq!(got.total, got.series.total());
        }
    }
    assert_eq!(
        s.workspace
            .local_segmentation(&segmentation("Page View", TimeUnit::Day, CountType::General))
            .await
            .expect("segmentation")
            .total,
        page_views.len() as f64
    );

    // Segmented by a string property and by a decimal one (`12.50` is the segment `12.5`).
    let mut q = segmentation("Page View", TimeUnit::Week, CountType::Unique);
    q.on = Some(r#"properties["page"]"#.into());
    let got = s.workspace.local_segmentation(&q).await.expect("segmentation on page");
    assert_series(
        &got.series,
        &expected(&page_views, TimeUnit::Week, CountType::Unique, |e| key(&e.props, "page")),
    );
    assert!(got.series.get("/blog/naïve-bayes").is_some());

    let purchases = in_span(&s.events, "Purchase");
    let mut q = segmentation("Purchase", TimeUnit::Day, CountType::General);
    q.on = Some("amount".into());
    q.limit = Some(10_000);
    let got = s.workspace.local_segmentation(&q).await.expect("segmentation on amount");
    let want = expected(&purchases, TimeUnit::Day, CountType::General, |e| key(&e.props, "amount"));
    assert_series(&got.series, &want);
    assert!(want.keys().any(|k| k.contains('.')), "decimal segment keys are exercised");

    // `where`, with a numeric comparison and a string one, and the default limit of 60.
    let searches = in_span(&s.events, "Search");
    let mut q = segmentation("Search", TimeUnit::Day, CountType::General);
    q.on = Some("results".into());
    q.where_expr =
        Some(r#"properties["results"] >= 100 and properties["$browser"] != "Safari""#.into());
    let got = s.workspace.local_segmentation(&q).await.expect("segmentation with where");
    let filtered: Vec<&Event> = searches
        .iter()
        .copied()
        .filter(|e| e.props["results"].as_i64().unwrap_or(0) >= 100)
        .filter(|e| e.props.get("$browser").and_then(Value::as_str) != Some("Safari"))
        .collect();
    let mut want =
        expected(&filtered, TimeUnit::Day, CountType::General, |e| key(&e.props, "results"));
    assert!(want.len() > 60, "enough segments for the default limit: {}", want.len());
    let mut totals: Vec<(String, f64)> =
        want.iter().map(|(k, v)| (k.clone(), v.values().sum())).collect();
    totals.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let kept: BTreeSet<String> = totals.into_iter().take(60).map(|(k, _)| k).collect();
    want.retain(|k, _| kept.contains(k));
    assert_series(&got.series, &want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_counts_list_every_event_asked_for() {
    let s = synced().await;
    let q = EventCountsQuery {
        events: vec!["Login".into(), "Purchase".into(), "Never Happened".into()],
        span: span(),
        count_type: CountType::Unique,
        unit: TimeUnit::Day,
    };
    let got = s.workspace.local_event_counts(&q).await.expect("event counts");
    assert_eq!(got.source, Source::Local);
    let events: Vec<&Event> =
        ["Login", "Purchase"].iter().flat_map(|n| in_span(&s.events, n)).collect();
    let want = expected(&events, TimeUnit::Day, CountType::Unique, |e| Some(e.name.clone()));
    assert_series(&got.series, &want);
    let never = got.series.get("Never Happened").expect("a zero series");
    assert_eq!((never.values.len(), never.total()), (14, 0.0));
    assert_eq!(got.series.series.last().map(|s| s.name.as_str()), Some("Never Happened"));
}

/// Per user: entry time, then each reached step's time (greedy, within the window).
fn brute_funnel(
    events: &[Event],
    steps: &[&str],
    window: i64,
    span: DateSpan,
) -> Vec<(String, Vec<i64>)> {
    let mut by_user: BTreeMap<&str, Vec<&Event>> = BTreeMap::new();
    for e in events {
        by_user.entry(&e.user).or_default().push(e);
    }
    let mut out = Vec::new();
    for (user, mut list) in by_user {
        list.sort_by_key(|e| e.time);
        let entry =
            list.iter().find(|e| e.name == steps[0] && e.day >= span.from && e.day <= span.to);
        let Some(entry) = entry else { continue };
        let mut times = vec![entry.time];
        for step in &steps[1..] {
            let previous = *times.last().expect("entry");
            let next = list
                .iter()
                .find(|e| e.name == *step && e.time > previous && e.time <= entry.time + window);
            match next {
                Some(e) => times.push(e.time),
                None => break,
            }
        }
        out.push((user.to_owned(), times));
    }
    out
}

fn assert_steps(got: &[FunnelStep], journeys: &[&Vec<i64>], names: &[&str]) {
    assert_eq!(got.len(), names.len());
    let count = |k: usize| journeys.iter().filter(|t| t.len() > k).count() as u64;
    for (k, step) in got.iter().enumerate() {
        assert_eq!(step.event, names[k]);
        assert_eq!(step.count, count(k), "step {}", k + 1);
        let previous = if k == 0 { count(0) } else { count(k - 1) };
        let ratio = |n: u64, of: u64| if of == 0 { 0.0 } else { n as f64 / of as f64 };
        if k > 0 {
            assert_eq!(step.step_conv_ratio, ratio(count(k), previous));
            let reached: Vec<&&Vec<i64>> = journeys.iter().filter(|t| t.len() > k).collect();
            let mean = |from: usize| {
                let sum: i64 = reached.iter().map(|t| t[k] - t[from]).sum();
                sum as f64 / reached.len() as f64
            };
            match step.avg_time {
                Some(avg) => assert!((avg - mean(k - 1)).abs() < 1e-6, "{avg} vs {}", mean(k - 1)),
                None => assert!(reached.is_empty()),
            }
            if let Some(avg) = step.avg_time_from_start {
                assert!((avg - mean(0)).abs() < 1e-6);
            }
        } else {
            assert_eq!((step.step_conv_ratio, step.avg_time), (1.0, None));
        }
        assert_eq!(step.overall_conv_ratio, ratio(count(k), count(0)));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn funnel_counts_ratios_and_times_match_a_greedy_walk() {
    let s = synced().await;
    let names = ["View Item", "Add To Cart", "Purchase"];
    let window = ConversionWindow { length: 2, unit: LengthUnit::Day };
    let q = FunnelQuery {
        funnel_id: None,
        steps: names.iter().map(|n| (*n).to_owned()).collect(),
        span: DateSpan { from: day("2024-03-03"), to: day("2024-03-10") },
        unit: None,
        on: Some("$browser".into()),
        where_expr: None,
        window: Some(window),
        limit: None,
    };
    let got = s.workspace.local_funnel(&q).await.expect("funnel");
    assert_eq!(got.source, Source::Local);
    let journeys = brute_funnel(&s.events, &names, 2 * 86_400, q.span);
    let all: Vec<&Vec<i64>> = journeys.iter().map(|(_, t)| t).collect();
    assert_steps(&got.steps, &all, &names);
    assert!(got.steps[2].count > 0 && got.steps[2].avg_time.is_some(), "people convert");

    // Per entry day, every day of the span listed.
    assert_eq!(got.buckets.len(), 8);
    for bucket in &got.buckets {
        let of_day: Vec<&Vec<i64>> = all
            .iter()
            .copied()
            .filter(|t| {
                DateTime::from_timestamp(t[0], 0).unwrap().date_naive().to_string() == bucket.date
            })
            .collect();
        assert_steps(&bucket.steps, &of_day, &names);
    }

    // Segments: the browser of the entry event, largest first.
    let entry_browser: HashMap<(&str, i64), String> = s
        .events
        .iter()
        .filter(|e| e.name == names[0])
        .filter_map(|e| Some(((e.user.as_str(), e.time), key(&e.props, "$browser")?)))
        .collect();
    assert!(!got.segments.is_empty());
    for segment in &got.segments {
        let of_segment: Vec<&Vec<i64>> = journeys
            .iter()
            .filter(|(user, t)| entry_browser.get(&(user.as_str(), t[0])) == Some(&segment.segment))
            .map(|(_, t)| t)
            .collect();
        assert_steps(&segment.steps, &of_segment, &names);
    }
    let firsts: Vec<u64> = got.segments.iter().map(|s| s.steps[0].count).collect();
    assert!(firsts.windows(2).all(|w| w[0] >= w[1]), "{firsts:?}");
    assert_eq!(firsts.iter().sum::<u64>(), got.steps[0].count);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn birth_retention_matches_first_events_and_returns() {
    let s = synced().await;
    let q = RetentionQuery {
        born_event: "Login".into(),
        return_event: None,
        span: DateSpan { from: day("2024-03-04"), to: day("2024-03-12") },
        born_where: None,
        return_where: None,
        retention_type: RetentionType::Birth,
        interval: None,
        interval_count: 4,
        unit: TimeUnit::Day,
        unbounded: false,
        on: None,
    };
    let got = s.workspace.local_retention(&q).await.expect("retention");
    assert_eq!(got.source, Source::Local);

    let mut birth: BTreeMap<&str, i64> = BTreeMap::new();
    for e in s.events.iter().filter(|e| e.name == "Login") {
        if e.day >= q.span.from && e.day <= q.span.to {
            let t = birth.entry(&e.user).or_insert(e.time);
            *t = (*t).min(e.time);
        }
    }
    let mut want: BTreeMap<String, (u64, Vec<u64>)> = BTreeMap::new();
    for (user, born) in &birth {
        let born_day = DateTime::from_timestamp(*born, 0).unwrap().date_naive();
        let start = born_day.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp();
        let listed = (0..=4).take_while(|i| born_day + Days::new(*i) <= day(LAST)).count();
        let cohort = want.entry(born_day.to_string()).or_insert((0, vec![0; listed]));
        cohort.0 += 1;
        let intervals: BTreeSet<usize> = s
            .events
            .iter()
            .filter(|e| e.user == *user && e.time >= *born)
            .map(|e| ((e.time - start) / 86_400) as usize)
            .filter(|i| *i < listed)
            .collect();
        for i in intervals {
            cohort.1[i] += 1;
        }
    }
    let got_map: BTreeMap<String, (u64, Vec<u64>)> =
        got.cohorts.iter().map(|c| (c.date.clone(), (c.size, c.counts.clone()))).collect();
    assert_eq!(got_map, want);
    let last = got.cohorts.last().expect("cohorts");
    assert_eq!((last.date.as_str(), last.counts.len()), ("2024-03-12", 3), "up to the last day");
    for c in &got.cohorts {
        assert_eq!(c.rates[0], c.counts[0] as f64 / c.size as f64);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compounded_unbounded_weekly_retention_counts_up_to_the_last_return() {
    let s = synced().await;
    let q = RetentionQuery {
        born_event: "Search".into(),
        return_event: Some("Purchase".into()),
        span: span(),
        born_where: Some(r#"properties["results"] < 150"#.into()),
        return_where: None,
        retention_type: RetentionType::Compounded,
        interval: None,
        interval_count: 2,
        unit: TimeUnit::Week,
        unbounded: true,
        on: None,
    };
    let got = s.workspace.local_retention(&q).await.expect("retention");

    // (user, week start) -> first qualifying Search in that week.
    let mut born: BTreeMap<(&str, NaiveDate), i64> = BTreeMap::new();
    for e in s.events.iter().filter(|e| e.name == "Search") {
        if e.props["results"].as_i64().unwrap_or(i64::MAX) < 150 {
            let week = day(&label(TimeUnit::Week, e.day));
            let t = born.entry((&e.user, week)).or_insert(e.time);
            *t = (*t).min(e.time);
        }
    }
    let mut want: BTreeMap<String, (u64, Vec<u64>)> = BTreeMap::new();
    for ((user, week), first) in &born {
        let listed = (0..=2u64).take_while(|i| *week + Days::new(7 * i) <= day(LAST)).count();
        let cohort = want.entry(week.to_string()).or_insert((0, vec![0; listed]));
        cohort.0 += 1;
        let start = week.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp();
        let last = s
            .events
            .iter()
            .filter(|e| e.name == "Purchase" && e.user == *user && e.time >= *first)
            .map(|e| ((e.time - start) / (7 * 86_400)) as usize)
            .filter(|i| *i <= 2)
            .max();
        if let Some(last) = last {
            for i in 0..=last.min(listed - 1) {
                cohort.1[i] += 1;
            }
        }
    }
    let got_map: BTreeMap<String, (u64, Vec<u64>)> =
        got.cohorts.iter().map(|c| (c.date.clone(), (c.size, c.counts.clone()))).collect();
    assert_eq!(got_map, want);
    assert_eq!(got.cohorts.len(), 3, "weeks of 2024-02-26, 03-04 and 03-11");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsynced_store_and_unsupported_filters_are_clear_errors() {
    let mock = MockServer::start(MockConfig::default()).await.expect("mock starts");
    let store = tempfile::tempdir().expect("temp dir");
    let workspace = workspace_with(&mock, store.path(), &[]);
    let q = segmentation("Login", TimeUnit::Day, CountType::General);
    let error = workspace.local_segmentation(&q).await.expect_err("nothing synced");
    assert_eq!(error.class(), ErrorClass::NotFound, "{error}");
    assert!(error.to_string().contains("events"), "{error}");

    let mut q = segmentation("Login", TimeUnit::Day, CountType::General);
    q.where_expr = Some(r#"properties["a"] == 1 or properties["b"] == 2"#.into());
    let error = workspace.local_segmentation(&q).await.expect_err("or is unsupported");
    assert_eq!(error.class(), ErrorClass::Usage);
    assert!(error.to_string().contains("mpd query sql"), "{error}");
}
