//! Engage: session paging, parameter sources, filters; and event names.

use std::collections::HashSet;

use http::{Method, StatusCode};
use serde_json::Value;

use crate::client::{get, send, service_account};
use crate::{small_config, start};

fn ids(results: &Value) -> Vec<String> {
    results
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["$distinct_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn paging_with_session_id_covers_every_profile_once() {
    let server = start(small_config()).await;
    let all: Vec<String> = ids(&Value::from(server.project().profiles()));
    let first = get(&server, "/api/2.0/engage?project_id=1234&page_size=40").await.json();
    assert_eq!(first["status"], "ok");
    assert_eq!(first["page"], 0);
    assert_eq!(first["total"], all.len());
    let session = first["session_id"].as_str().unwrap().to_owned();
    let mut seen = ids(&first["results"]);
    let mut page = 0;
    loop {
        page += 1;
        let path = format!(
            "/api/2.0/engage?project_id=1234&page_size=40&page={page}&session_id={session}"
        );
        let resp = get(&server, &path).await.json();
        assert_eq!(resp["session_id"], session.as_str());
        assert!(resp.get("total").is_none());
        let batch = ids(&resp["results"]);
        let done = batch.len() < 40;
        seen.extend(batch);
        if done {
            break;
        }
    }
    assert_eq!(seen, all);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), all.len());
}

#[tokio::test]
async fn form_and_json_bodies_read_like_the_query_string() {
    let server = start(small_config()).await;
    let auth = service_account();
    let headers = [("authorization", auth.as_str())];
    let by_query = get(&server, "/api/query/engage?project_id=1234&page_size=5").await.json();
    let form = send(
        server.addr(),
        Method::POST,
        "/api/query/engage?project_id=1234",
        &headers,
        Some(("application/x-www-form-urlencoded", "page_size=5".to_owned())),
    )
    .await
    .json();
    let json = send(
        server.addr(),
        Method::POST,
        "/api/2.0/engage?project_id=1234",
        &headers,
        Some(("application/json", r#"{"page_size": 5, "page": 0}"#.to_owned())),
    )
    .await
    .json();
    assert_eq!(by_query["results"], form["results"]);
    assert_eq!(by_query["results"], json["results"]);
    assert_eq!(ids(&by_query["results"]).len(), 5);
    let log = server.requests();
    assert_eq!(log[1].method, "POST");
    assert_eq!(log[1].param("page_size"), Some("5"));
}

#[tokio::test]
async fn paging_mistakes_are_400s() {
    let server = start(small_config()).await;
    let no_session = get(&server, "/api/2.0/engage?project_id=1234&page=1").await;
    assert_eq!(no_session.status, StatusCode::BAD_REQUEST);
    assert!(no_session.json()["error"].as_str().unwrap().contains("session_id"));
    let unknown = get(&server, "/api/2.0/engage?project_id=1234&page=1&session_id=nope").await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn filters_select_and_shape_profiles() {
    let server = start(small_config()).await;
    let project = server.project();

    let cohort =
        get(&server, "/api/2.0/engage?project_id=1234&filter_by_cohort=%7B%22id%22%3A7%7D")
            .await
            .json();
    assert_eq!(ids(&cohort["results"]), project.cohort_members(7));

    let wanted = ids(&Value::from(project.profiles()))[..3].to_vec();
    let list =
        url::form_urlencoded::byte_serialize(serde_json::to_string(&wanted).unwrap().as_bytes())
            .collect::<String>();
    let picked =
        get(&server, &format!("/api/2.0/engage?project_id=1234&distinct_ids={list}")).await.json();
    assert_eq!(ids(&picked["results"]), wanted);
    let one = get(&server, &format!("/api/2.0/engage?project_id=1234&distinct_id={}", wanted[1]))
        .await
        .json();
    assert_eq!(ids(&one["results"]), wanted[1..2]);

    let props = get(&server, "/api/2.0/engage?project_id=1234&output_properties=%5B%22plan%22%5D")
        .await
        .json();
    for p in props["results"].as_array().unwrap() {
        let keys: Vec<&String> = p["$properties"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["plan"]);
    }

    let expr =
        url::form_urlencoded::byte_serialize(br#"properties["plan"] == "pro""#).collect::<String>();
    let pro = get(&server, &format!("/api/2.0/engage?project_id=1234&where={expr}")).await.json();
    let want = project.profiles().iter().filter(|p| p["$properties"]["plan"] == "pro").count();
    assert!(want > 0);
    assert_eq!(pro["total"], want);

    let groups = get(&server, "/api/2.0/engage?project_id=1234&data_group_id=-123").await.json();
    assert_eq!(groups["results"], Value::from(project.group_profiles()));
}

#[tokio::test]
async fn event_names_list_the_project_events() {
    let server = start(small_config()).await;
    let names =
        get(&server, "/api/query/events/names?project_id=1234&type=general&limit=3").await.json();
    let known = server.project().event_names();
    let names = names.as_array().unwrap();
    assert_eq!(names.len(), 3);
    assert!(names.iter().all(|n| known.iter().any(|k| n == k)));
    let legacy = get(&server, "/api/2.0/events/names?project_id=1234").await.json();
    assert_eq!(legacy.as_array().unwrap().len(), 10);
}
