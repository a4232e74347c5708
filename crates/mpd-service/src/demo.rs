//! `mpd demo`: the main job against the bundled mock Mixpanel, with no account.
//!
//! The mock runs in this process on 127.0.0.1 with a few faults switched on (a server error, a
//! rate limit, a stream cut short) so the demo also shows that retries never lose or repeat data.

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::NaiveDate;
use mpd_testkit::{DaySelector, FaultRule, Faults, MockConfig, MockServer};

use crate::error::{Error, Result};
use crate::report::Reporter;
use crate::stream::StreamEventsRequest;
use crate::workspace::Workspace;

/// What the demo did and found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DemoReport {
    /// The mock's address.
    pub mock_url: String,
    /// First day streamed.
    pub from: NaiveDate,
    /// Last day streamed.
    pub to: NaiveDate,
    /// Events received, per event name.
    pub events_by_name: BTreeMap<String, u64>,
    /// Events received in total.
    pub events: u64,
    /// Lines the mock served for the range when no fault happens.
    pub mock_truth_events: u64,
    /// Whether what mpd received equals the mock's truth line for line.
    pub matches_truth: bool,
    /// Day requests retried after injected faults.
    pub retries: u64,
    /// Wall-clock seconds of the stream.
    pub elapsed_secs: f64,
}

/// Runs the demo: starts the mock, streams a week of events through the real client and
/// compares what arrived with what the mock served.
pub async fn run_demo(reporter: &dyn Reporter) -> Result<DemoReport> {
    let from = day(2024, 3, 4);
    let to = day(2024, 3, 10);
    let config = MockConfig {
        events_per_day: 3_000,
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
    let mock = MockServer::start(config.clone()).await.map_err(|e| Error::Mock(e.to_string()))?;
    let workspace = Workspace::for_mock(&mock, &config)?;
    let request = StreamEventsRequest {
        from,
        to,
        events: Vec::new(),
        where_expr: None,
        limit: None,
        raw: true,
        workers: 2,
        chunk_days: 1,
        allow_bad_lines: 0,
        quarantine_path: None,
    };
    let started = Instant::now();
    let mut received = Vec::new();
    let summary = workspace.stream_events(&request, &mut received, reporter).await?;
    let elapsed_secs = started.elapsed().as_secs_f64();

    let truth = mock.project().export_lines_range(from, to);
    let received_lines: Vec<&[u8]> =
        received.split(|b| *b == b'\n').filter(|line| !line.is_empty()).collect();
    let matches_truth = received_lines.len() == truth.len()
        && received_lines.iter().zip(&truth).all(|(got, want)| *got == want.as_bytes());
    let mut events_by_name = BTreeMap::new();
    for line in &received_lines {
        let name = serde_json::from_slice::<serde_json::Value>(line)
            .ok()
            .and_then(|v| v.get("event").and_then(|e| e.as_str()).map(str::to_owned))
            .unwrap_or_default();
        *events_by_name.entry(name).or_insert(0) += 1;
    }
    Ok(DemoReport {
        mock_url: mock.base_url(),
        from,
        to,
        events_by_name,
        events: summary.records,
        mock_truth_events: truth.len() as u64,
        matches_truth,
        retries: summary.retries,
        elapsed_secs,
    })
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or(NaiveDate::MIN)
}

impl Workspace {
    /// A workspace pointed at the in-process mock, with its credentials and quick retries.
    fn for_mock(mock: &MockServer, config: &MockConfig) -> Result<Self> {
        let credentials = mpd_config::ResolvedCredentials {
            source: mpd_config::CredentialSource::Account("demo (bundled mock)".to_owned()),
            username: config.username.clone(),
            secret: mpd_config::Secret::new(config.secret.clone()),
            project_id: config.project_id,
            region: mpd_config::Region::Us,
        };
        let settings = mpd_config::Settings {
            base_url: Some(mock.base_url()),
            retry_base_delay_ms: 200,
            export_per_second: 100,
            // Nothing is stored; a quarantine file would only appear if the mock sent bad lines.
            store: Some(std::env::temp_dir().join("mpd-demo")),
            ..mpd_config::Settings::default()
        };
        Ok(Workspace::from_parts(credentials, settings, None))
    }
}
