//! Fault-free export: bytes, encodings, parameters and their errors.

use http::{Method, StatusCode};
use mpd_testkit::MockConfig;
use serde_json::Value;

use crate::client::{self, day, export, export_path, get, send, service_account};
use crate::{small_config, start};

#[tokio::test]
async fn fault_free_export_equals_the_truth_gzipped_or_not() {
    let server = start(small_config()).await;
    let (from, to) = (day(2024, 1, 2), day(2024, 1, 4));
    let truth = server.project().export_lines_range(from, to);
    assert!(truth.len() > 360);

    let gz = export(&server, from, to).await;
    assert_eq!(gz.status, StatusCode::OK);
    assert_eq!(gz.headers["content-encoding"], "gzip");
    assert_eq!(gz.lines(), truth);

    let auth = service_account();
    let plain = send(
        server.addr(),
        Method::GET,
        &export_path(from, to),
        &[("authorization", auth.as_str())],
        None,
    )
    .await;
    assert!(plain.headers.get("content-encoding").is_none());
    assert_eq!(plain.lines(), truth);
}

#[tokio::test]
async fn gzip_can_be_switched_off() {
    let server = start(MockConfig { gzip: false, ..small_config() }).await;
    let d = day(2024, 1, 3);
    let resp = export(&server, d, d).await;
    assert!(resp.headers.get("content-encoding").is_none());
    assert_eq!(resp.lines(), server.project().export_lines(d));
}

#[tokio::test]
async fn lines_have_the_export_shape_and_some_non_ascii() {
    let server = start(small_config()).await;
    let d = day(2024, 1, 5);
    let lines = export(&server, d, d).await.lines();
    for line in &lines {
        let v: Value = serde_json::from_str(line).expect("JSON line");
        assert!(v["event"].is_string());
        assert!(v["properties"]["time"].is_i64());
        assert!(v["properties"]["mp_processing_time_ms"].is_i64());
    }
    assert!(lines.iter().any(|l| !l.is_ascii()));
}

#[tokio::test]
async fn empty_days_and_days_without_data_are_empty_200s() {
    let server = start(MockConfig { empty_days: vec![day(2024, 1, 6)], ..small_config() }).await;
    for d in [day(2024, 1, 6), day(2024, 1, 20), day(2023, 6, 1)] {
        let resp = export(&server, d, d).await;
        assert_eq!(resp.status, StatusCode::OK);
        assert_eq!(resp.headers["content-length"], "0");
        assert!(resp.bytes().is_empty());
    }
}

#[tokio::test]
async fn trailing_slash_path_is_served() {
    let server = start(small_config()).await;
    let d = day(2024, 1, 2);
    let resp =
        get(&server, &format!("/api/2.0/export/?from_date={d}&to_date={d}&project_id=1234")).await;
    assert_eq!(resp.lines(), server.project().export_lines(d));
}

#[tokio::test]
async fn event_where_limit_and_time_in_ms_filter_the_lines() {
    let server = start(small_config()).await;
    let d = day(2024, 1, 2);
    let truth: Vec<Value> =
        server.project().export_lines(d).iter().map(|l| serde_json::from_str(l).unwrap()).collect();
    let base = export_path(d, d);

    let events = urlencode(r#"["Page View","Search"]"#);
    let got = get(&server, &format!("{base}&event={events}")).await.lines();
    let want = truth.iter().filter(|v| v["event"] == "Page View" || v["event"] == "Search").count();
    assert!(want > 0);
    assert_eq!(got.len(), want);

    let expr = urlencode(r#"properties["$city"] == "東京" and defined(properties["$user_id"])"#);
    let got = get(&server, &format!("{base}&where={expr}")).await.lines();
    let want = truth
        .iter()
        .filter(|v| v["properties"]["$city"] == "東京" && v["properties"].get("$user_id").is_some())
        .count();
    assert_eq!(got.len(), want);

    let got = get(&server, &format!("{base}&limit=7")).await.lines();
    assert_eq!(got, server.project().export_lines(d)[..7]);

    let got = get(&server, &format!("{base}&time_in_ms=true")).await.lines();
    assert_eq!(got.len(), truth.len());
    for (line, orig) in got.iter().zip(&truth) {
        let v: Value = serde_json::from_str(line).unwrap();
        let ms = v["properties"]["time"].as_i64().unwrap();
        assert_eq!(ms / 1000, orig["properties"]["time"].as_i64().unwrap());
    }
}

#[tokio::test]
async fn bad_parameters_are_400s_with_mixpanel_error_bodies() {
    let server = start(small_config()).await;
    let cases = [
        ("from_date=2024-01-02&project_id=1234", "to_date"),
        ("from_date=2024-13-02&to_date=2024-01-03&project_id=1234", "valid date"),
        ("from_date=2024-01-05&to_date=2024-01-03&project_id=1234", "from_date"),
        (
            "from_date=2024-01-05&to_date=2024-02-02&project_id=1234",
            "to_date cannot be later than today",
        ),
        ("from_date=2024-01-02&to_date=2024-01-02&project_id=1234&limit=100001", "limit"),
        ("from_date=2024-01-02&to_date=2024-01-02&project_id=1234&event=Purchase", "event"),
        ("from_date=2024-01-02&to_date=2024-01-02&project_id=1234&where=foo%20or%20bar", "where"),
        ("from_date=2024-01-02&to_date=2024-01-02&project_id=1234&time_in_ms=maybe", "time_in_ms"),
    ];
    for (query, needle) in cases {
        let path = format!("/api/2.0/export?{query}");
        let resp = get(&server, &path).await;
        assert_eq!(resp.status, StatusCode::BAD_REQUEST, "{query}");
        let body = resp.json();
        assert_eq!(body["request"], path.as_str());
        let error = body["error"].as_str().unwrap();
        assert!(error.contains(needle), "{query}: {error}");
    }
}

#[tokio::test]
async fn credentials_are_checked() {
    let server = start(small_config()).await;
    let d = day(2024, 1, 2);
    let path = export_path(d, d);
    let call = |auth: Option<String>, path: String| {
        let addr = server.addr();
        async move {
            let headers: Vec<(&str, &str)> =
                auth.iter().map(|a| ("authorization", a.as_str())).collect();
            send(addr, Method::GET, &path, &headers, None).await
        }
    };
    assert_eq!(call(None, path.clone()).await.status, StatusCode::UNAUTHORIZED);
    let wrong = call(Some(client::basic("mock-user", "nope")), path.clone()).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.json()["error"], "Invalid credentials");

    let no_project = format!("/api/2.0/export?from_date={d}&to_date={d}");
    let missing = call(Some(client::service_account()), no_project.clone()).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert!(missing.json()["error"].as_str().unwrap().contains("project_id"));

    let other = format!("/api/2.0/export?from_date={d}&to_date={d}&project_id=99");
    assert_eq!(call(Some(client::service_account()), other).await.status, StatusCode::FORBIDDEN);

    // A legacy project secret needs no project_id.
    let legacy = call(Some(client::basic("mock-secret", "")), no_project).await;
    assert_eq!(legacy.status, StatusCode::OK);
    assert_eq!(legacy.lines(), server.project().export_lines(d));
}

#[tokio::test]
async fn jsonl_file_is_served_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    let lines = [
        r#"{"event":"A","properties":{"time":1704153600,"distinct_id":"x","$insert_id":"1"}}"#,
        r#"{"event":"B","properties":{"distinct_id":"y",   "time":1704160000,"$insert_id":"2","city":"Zürich"}}"#,
        r#"{"event":"A","properties":{"time":1704240000,"distinct_id":"x","$insert_id":"3"}}"#,
    ];
    std::fs::write(&path, lines.join("\n")).unwrap();
    let server = start(MockConfig { jsonl_file: Some(path), ..small_config() }).await;
    let resp = export(&server, day(2024, 1, 1), day(2024, 1, 3)).await;
    assert_eq!(resp.lines(), lines);
    assert_eq!(server.project().export_lines(day(2024, 1, 2)), lines[..2]);
    assert_eq!(server.project().event_names(), ["A", "B"]);
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
