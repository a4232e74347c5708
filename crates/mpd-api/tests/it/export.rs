//! Export: streamed lines equal the mock's truth, with and without gzip and across retries.

use std::time::Duration;

use mpd_api::{Client, Error, ErrorClass, ExportRequest};
use mpd_testkit::{FaultRule, Faults, MockConfig, MockServer};

use crate::{client, day, options, small_config, start};

/// Reads a whole export; returns its non-empty lines with their 1-based numbers, and the wire
/// byte count.
async fn read_all(client: &Client) -> Result<(Vec<(u64, String)>, u64), Error> {
    let mut body = client.export(&ExportRequest::days(day(), day())).await?;
    let mut bytes = Vec::new();
    while let Some(chunk) = body.next_chunk().await? {
        assert!(!chunk.is_empty());
        bytes.extend_from_slice(&chunk);
    }
    let lines = String::from_utf8(bytes)
        .expect("UTF-8")
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.is_empty())
        .map(|(i, l)| (i as u64 + 1, l.to_owned()))
        .collect();
    Ok((lines, body.bytes_received()))
}

/// Statuses of the export requests the mock answered, in order.
fn export_statuses(server: &MockServer) -> Vec<u16> {
    server
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/api/2.0/export"))
        .inspect(|r| {
            assert!(r.had_auth, "every request authenticates");
            assert_eq!(r.param("project_id"), Some("1234"));
            assert_eq!(r.param("from_date"), Some("2024-01-02"));
        })
        .map(|r| r.status)
        .collect()
}

fn text(lines: &[(u64, String)]) -> Vec<String> {
    lines.iter().map(|(_, l)| l.clone()).collect()
}

#[tokio::test]
async fn lines_equal_truth_with_and_without_gzip() {
    for gzip in [true, false] {
        let server = start(MockConfig { gzip, ..small_config() }).await;
        let truth = server.project().export_lines(day());
        assert!(truth.len() >= 300, "the mock serves the configured day");

        let (lines, wire) = read_all(&client(&server)).await.expect("export succeeds");
        assert_eq!(text(&lines), truth, "gzip {gzip}");
        let numbers: Vec<u64> = lines.iter().map(|(n, _)| *n).collect();
        let expected: Vec<u64> = (1..=truth.len() as u64).collect();
        assert_eq!(numbers, expected, "line numbers are physical and 1-based");

        let plain: u64 = truth.iter().map(|l| l.len() as u64 + 1).sum();
        if gzip {
            assert!(wire < plain, "gzip was requested and decoded ({wire} >= {plain})");
        } else {
            assert_eq!(wire, plain);
        }
    }
}

#[tokio::test]
async fn rate_limit_before_body_is_retried() {
    let faults = Faults {
        rate_limit: Some(FaultRule::all_days(2)),
        retry_after_secs: 0,
        ..Faults::default()
    };
    let server = start(MockConfig { faults, ..small_config() }).await;
    let (lines, _) = read_all(&client(&server)).await.expect("succeeds after two 429s");
    assert_eq!(text(&lines), server.project().export_lines(day()));
    assert_eq!(export_statuses(&server), [429, 429, 200]);
}

#[tokio::test]
async fn rate_limit_after_retries_is_rate_limited_with_retry_after() {
    let faults = Faults {
        rate_limit: Some(FaultRule::all_days(0)),
        retry_after_secs: 0,
        ..Faults::default()
    };
    let server = start(MockConfig { faults, ..small_config() }).await;
    let error = read_all(&client(&server)).await.expect_err("429 every time");
    assert_eq!(error.class(), ErrorClass::RateLimited, "{error}");
    assert!(error.is_retryable());
    assert_eq!(error.status(), Some(429));
    assert!(error.retry_after().is_some(), "the mock's Retry-After is kept");
    assert!(error.to_string().contains("/api/2.0/export"), "{error}");
    assert_eq!(export_statuses(&server), [429; 4], "max_attempts requests, no more");
}

#[tokio::test]
async fn server_errors_before_body_are_retried() {
    let faults = Faults { server_error: Some(FaultRule::all_days(3)), ..Faults::default() };
    let server = start(MockConfig { faults, ..small_config() }).await;
    let (lines, _) = read_all(&client(&server)).await.expect("succeeds on the 4th attempt");
    assert_eq!(text(&lines), server.project().export_lines(day()));
    let statuses = export_statuses(&server);
    assert_eq!(statuses.len(), 4, "{statuses:?}");
    assert!(statuses[..3].iter().all(|s| *s >= 500), "{statuses:?}");
    assert_eq!(statuses[3], 200);
}

#[tokio::test]
async fn mid_stream_disconnect_is_retryable_and_a_restart_succeeds() {
    for gzip in [true, false] {
        let faults = Faults { disconnect: Some(FaultRule::all_days(1)), ..Faults::default() };
        let server = start(MockConfig { faults, gzip, ..small_config() }).await;
        let client = client(&server);
        let error = read_all(&client).await.expect_err("the body is cut");
        assert!(error.is_retryable(), "gzip {gzip}: {error}");
        assert_eq!(error.class(), ErrorClass::Remote);
        let (lines, _) = read_all(&client).await.expect("the restart succeeds");
        assert_eq!(text(&lines), server.project().export_lines(day()), "gzip {gzip}");
    }
}

/// The client hands the body over as bytes: the `terminated early` marker reaches the caller
/// as the body's last line, for the line decoder to recognise (`mpd_decode::StreamDecoder`).
#[tokio::test]
async fn a_terminated_early_body_arrives_whole_with_its_marker() {
    let faults = Faults { terminated_early: Some(FaultRule::all_days(1)), ..Faults::default() };
    let server = start(MockConfig { faults, ..small_config() }).await;
    let client = client(&server);
    let (cut, _) = read_all(&client).await.expect("a 200 body");
    let truth = server.project().export_lines(day());
    assert_eq!(cut.last().map(|(_, l)| l.as_str()), Some("terminated early"));
    assert_eq!(text(&cut[..cut.len() - 1]), truth[..cut.len() - 1]);
    let (lines, _) = read_all(&client).await.expect("the next attempt is whole");
    assert_eq!(text(&lines), truth);
}

#[tokio::test]
async fn slow_first_byte_times_out() {
    let faults = Faults { slow_first_byte_ms: 3_000, ..Faults::default() };
    let server = start(MockConfig { faults, ..small_config() }).await;
    let mut options = options(&server, "mock-secret");
    options.retry.max_attempts = 1;
    options.timeouts.export_first_byte = std::time::Duration::from_millis(50);
    let client = Client::new(options).expect("client builds");
    let error = read_all(&client).await.expect_err("no headers within the limit");
    assert!(matches!(error, Error::Timeout { .. }), "{error}");
    assert!(error.is_retryable());
}

/// Serves every connection one chunked export body: `pieces` lines, each after `gap`, then
/// (with `stall`) nothing more for a minute. A server of its own: the mock never pauses
/// mid-body.
async fn trickling_server(pieces: usize, gap: Duration, stall: bool) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = vec![0u8; 4096];
                let _ = socket.read(&mut head).await;
                let start = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
                if socket.write_all(start.as_bytes()).await.is_err() {
                    return;
                }
                for i in 0..pieces {
                    let line = format!("{{\"event\":\"e\",\"properties\":{{\"n\":{i}}}}}\n");
                    let chunk = format!("{:x}\r\n{line}\r\n", line.len());
                    if socket.write_all(chunk.as_bytes()).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(gap).await;
                }
                if stall {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                }
                let _ = socket.write_all(b"0\r\n\r\n").await;
            });
        }
    });
    format!("http://{address}")
}

fn client_of(base: &str, idle_read: Duration) -> Client {
    let mut options = mpd_api::ClientOptions::new(
        mpd_api::Region::Us,
        mpd_api::Credentials {
            username: "u".to_owned(),
            secret: mpd_api::Secret::new("s"),
            project_id: 1234,
        },
    );
    let base = mpd_api::Url::parse(base).expect("URL");
    options.base_urls = mpd_api::BaseUrls { all: Some(base), ..mpd_api::BaseUrls::default() };
    options.retry.max_attempts = 1;
    options.timeouts.idle_read = idle_read;
    Client::new(options).expect("client builds")
}

#[tokio::test]
async fn a_body_that_stops_arriving_times_out_waiting_for_more_data() {
    let base = trickling_server(3, Duration::from_millis(1), true).await;
    let client = client_of(&base, Duration::from_millis(200));
    let started = std::time::Instant::now();
    let error = read_all(&client).await.expect_err("the body stalls");
    assert!(
        matches!(error, Error::Timeout { phase: mpd_api::TimeoutPhase::IdleRead, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("waiting for more body data"), "{error}");
    assert!(error.is_retryable());
    assert!(started.elapsed() < Duration::from_secs(30), "the limit, not the stall, ended it");
}

#[tokio::test]
async fn a_slow_body_whose_pauses_stay_under_the_limit_arrives_whole() {
    // Ten pauses of 60 ms: the whole body takes three times the 200 ms limit, no pause does.
    let base = trickling_server(10, Duration::from_millis(60), false).await;
    let client = client_of(&base, Duration::from_millis(200));
    let (lines, _) = read_all(&client).await.expect("no pause reaches the limit");
    assert_eq!(lines.len(), 10);
    assert!(lines[9].1.contains("\"n\":9"), "{:?}", lines[9]);
}
