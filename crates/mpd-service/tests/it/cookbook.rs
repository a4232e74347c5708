//! Every query of docs/sql-cookbook.md runs against a store fetched from the mock.

use mpd_service::TableMode;

use crate::support::{fetch, mock, truth, workspace};

fn cookbook_queries() -> Vec<(String, String)> {
    let text = include_str!("../../../../docs/sql-cookbook.md");
    let mut queries = Vec::new();
    let mut title = String::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            title = heading.to_owned();
        } else if line.trim() == "```sql" {
            current = Some(String::new());
        } else if line.trim() == "```" {
            if let Some(query) = current.take() {
                queries.push((title.clone(), query));
            }
        } else if let Some(query) = &mut current {
            query.push_str(line);
            query.push('\n');
        }
    }
    queries
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_cookbook_query_runs_and_answers() {
    let queries = cookbook_queries();
    assert!(queries.len() >= 7, "the cookbook lost queries: {}", queries.len());
    let mock = mock(120).await;
    let store = tempfile::tempdir().expect("temp dir");
    let workspace = workspace(&mock, store.path());
    fetch(&workspace, "2024-01-01", "2024-01-28", TableMode::Create).await;
    for (title, query) in &queries {
        let result = workspace.sql(query).await.unwrap_or_else(|e| panic!("{title}: {e}\n{query}"));
        assert!(!result.rows.is_empty(), "{title} returned no rows");
    }

    let (_, top_events) = &queries[0];
    let top = workspace.sql(top_events).await.expect("top events");
    let want = truth(&mock, "2024-01-01", "2024-01-28");
    let mut expected: Vec<(String, u64)> = want.by_event.into_iter().collect();
    expected.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    expected.truncate(10);
    let got: Vec<(String, u64)> = top
        .rows
        .iter()
        .map(|r| {
            (
                r["event_name"].as_str().unwrap_or_default().to_owned(),
                r["events"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(got, expected);

    let funnel = queries.iter().find(|(t, _)| t.contains("funnel")).expect("a funnel query");
    let steps = workspace.sql(&funnel.1).await.expect("funnel");
    let row = &steps.rows[0];
    let (a, b, c) =
        (row["viewed_item"].as_u64(), row["added_to_cart"].as_u64(), row["purchased"].as_u64());
    assert!(a >= b && b >= c, "a funnel narrows: {a:?} {b:?} {c:?}");
    assert!(a.unwrap_or(0) > 0);
}
