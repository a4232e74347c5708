//! Engage paging covers every profile exactly once.

use std::collections::BTreeSet;

use mpd_api::EngageRequest;
use mpd_testkit::MockConfig;

use crate::{client, small_config, start};

fn id(profile: &serde_json::Value) -> String {
    match &profile["$distinct_id"] {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[tokio::test]
async fn pages_cover_all_profiles() {
    let server = start(MockConfig { n_users: 230, engage_page_size: 50, ..small_config() }).await;
    let truth: BTreeSet<String> = server.project().profiles().iter().map(id).collect();
    assert!(truth.len() > 50, "more than one page of profiles");

    let mut pager = client(&server).engage(&EngageRequest::default()).await.expect("engage");
    let mut seen = Vec::new();
    let mut pages = Vec::new();
    while let Some(page) = pager.next_page().await.expect("page") {
        if page.page == 0 {
            assert_eq!(page.total, Some(truth.len() as u64));
        }
        pages.push(page.page);
        seen.extend(page.results.iter().map(id));
    }
    let expected_pages: Vec<u32> = (0..pages.len() as u32).collect();
    assert_eq!(pages, expected_pages, "pages are fetched in order");
    assert!(pages.len() >= 2);
    assert_eq!(seen.len(), truth.len(), "no profile twice");
    assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), truth);

    // Page 0 opens a session; every later page names it.
    let requests: Vec<_> =
        server.requests().into_iter().filter(|r| r.path.ends_with("/engage")).collect();
    assert_eq!(requests.len(), pages.len());
    assert_eq!(requests[0].param("page"), Some("0"));
    assert_eq!(requests[0].param("session_id"), None);
    for (i, request) in requests.iter().enumerate().skip(1) {
        assert_eq!(request.method, "POST");
        assert_eq!(request.param("page"), Some(i.to_string().as_str()));
        assert!(request.param("session_id").is_some(), "page {i} names the session");
    }
}
