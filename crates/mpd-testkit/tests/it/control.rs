//! The handle's helpers, the `/__mock/` control endpoints, routing leftovers and shutdown.

use http::{Method, StatusCode};
use mpd_testkit::{MockConfig, MockServer};

use crate::client::{day, export, get, send};
use crate::{small_config, start};

#[tokio::test]
async fn truth_endpoint_serves_the_fault_free_range() {
    let server = start(small_config()).await;
    let (from, to) = (day(2024, 1, 2), day(2024, 1, 3));
    let resp = send(
        server.addr(),
        Method::GET,
        &format!("/__mock/truth?from_date={from}&to_date={to}"),
        &[],
        None,
    )
    .await;
    assert_eq!(resp.lines(), server.project().export_lines_range(from, to));
    // Control calls stay out of the log.
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn request_log_is_served_as_json() {
    let server = start(small_config()).await;
    let d = day(2024, 1, 2);
    let _ = export(&server, d, d).await;
    let _ =
        send(server.addr(), Method::GET, "/api/2.0/export?from_date=2024-01-02", &[], None).await;
    let log = send(server.addr(), Method::GET, "/__mock/requests", &[], None).await.json();
    let log = log.as_array().unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0]["path"], "/api/2.0/export");
    assert_eq!(log[0]["status"], 200);
    assert_eq!(log[0]["had_auth"], true);
    assert_eq!(log[0]["query"][0], serde_json::json!(["from_date", "2024-01-02"]));
    assert_eq!(log[1]["status"], 401);
    assert_eq!(log[1]["had_auth"], false);
    let records = server.requests();
    assert_eq!(records[0].param("to_date"), Some("2024-01-02"));
}

#[tokio::test]
async fn late_events_appear_in_later_exports() {
    let server = start(small_config()).await;
    let d = day(2024, 1, 4);
    let before = export(&server, d, d).await.lines();
    let added = server.add_late_events(d, 3);
    let resp =
        send(server.addr(), Method::POST, &format!("/__mock/late?day={d}&n=2"), &[], None).await;
    let added_http = resp.lines();
    assert_eq!(added_http.len(), 2);
    let after = export(&server, d, d).await.lines();
    assert_eq!(after.len(), before.len() + 5);
    assert_eq!(after[..before.len()], before[..]);
    assert_eq!(after[before.len()..before.len() + 3], added[..]);
    assert_eq!(after[before.len() + 3..], added_http[..]);
    assert_eq!(server.project().export_lines(d), after);
}

#[tokio::test]
async fn unknown_paths_and_methods_get_json_errors() {
    let server = start(small_config()).await;
    let missing = get(&server, "/api/2.0/nothing").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.json()["request"], "/api/2.0/nothing");
    let wrong = send(server.addr(), Method::DELETE, "/api/2.0/export", &[], None).await;
    assert_eq!(wrong.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[test]
fn spawned_server_serves_sync_callers_and_stops_on_drop() {
    let server = MockServer::spawn(MockConfig { events_per_day: 5, ..MockConfig::default() })
        .expect("spawn");
    let addr = server.addr();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let d = day(2024, 3, 1);
    let lines = runtime.block_on(export(&server, d, d)).lines();
    assert_eq!(lines, server.project().export_lines(d));
    drop(server);
    let refused = runtime.block_on(tokio::net::TcpStream::connect(addr));
    assert!(refused.is_err());
}

#[test]
fn a_taken_port_is_a_bind_error() {
    let first = MockServer::spawn(MockConfig::default()).expect("spawn");
    let second =
        MockServer::spawn(MockConfig { port: first.addr().port(), ..MockConfig::default() });
    assert!(matches!(second, Err(mpd_testkit::Error::Bind { .. })));
}

#[tokio::test]
async fn rekey_switch_rewrites_anonymous_ids_and_switches_back() {
    let server = start(small_config()).await;
    let merges: std::collections::HashMap<String, String> =
        server.project().identity_merges().into_iter().collect();
    let d = day(2024, 1, 3);
    let original = export(&server, d, d).await.text();

    let on = send(server.addr(), Method::POST, "/__mock/rekey?on=true", &[], None).await;
    assert_eq!(on.json()["rekey_identified"], true);
    let rekeyed = export(&server, d, d).await.lines();
    assert_eq!(rekeyed, server.project().export_lines(d));
    let before: Vec<serde_json::Value> =
        original.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rekeyed.len(), before.len());
    let mut changed = 0;
    for (line, old) in rekeyed.iter().zip(&before) {
        let new: serde_json::Value = serde_json::from_str(line).unwrap();
        let (p, q) = (&new["properties"], &old["properties"]);
        assert_eq!(p["$insert_id"], q["$insert_id"]);
        assert_eq!(p["time"], q["time"]);
        assert_eq!(p["mp_processing_time_ms"], q["mp_processing_time_ms"]);
        assert_eq!(p["$device_id"], q["$device_id"]);
        let old_id = q["distinct_id"].as_str().unwrap();
        let want = merges.get(old_id).map_or(old_id, String::as_str);
        changed += usize::from(want != old_id);
        assert_eq!(p["distinct_id"], want);
    }
    assert!(changed > 0);

    server.set_rekey_identified(false);
    assert_eq!(export(&server, d, d).await.text(), original);
    server.set_rekey_identified(true);
    let off = send(server.addr(), Method::POST, "/__mock/rekey?on=false", &[], None).await;
    assert_eq!(off.json()["rekey_identified"], false);
    assert_eq!(export(&server, d, d).await.text(), original);

    let bad = send(server.addr(), Method::POST, "/__mock/rekey?on=maybe", &[], None).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let wrong = send(server.addr(), Method::GET, "/__mock/rekey?on=true", &[], None).await;
    assert_eq!(wrong.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(!server.project().rekey_identified());
}
