//! Flows answers in the shapes Mixpanel sends; the bodies and where their shapes come from are
//! listed in `fixtures/mixpanel/README.md`.

use serde_json::json;

use super::*;

fn fixture(text: &str) -> FlowsAnswer {
    let value: Value = serde_json::from_str(text).expect("fixture is JSON");
    flows_answer(&value).expect("fixture reads")
}

/// Recorded sankey shape (mixpanel-headless parse vectors, saved flows bookmark 60327697).
#[test]
fn sankey_counts_come_from_total_count_strings() {
    let flows = fixture(include_str!("../../../../fixtures/mixpanel/flows_sankey.json"));
    assert_eq!(flows.computed_at.as_deref(), Some("2024-07-19T22:44:38.856526+00:00"));
    assert_eq!(flows.steps.len(), 3);
    let first = &flows.steps[0].nodes[0];
    assert_eq!((first.event.as_deref(), first.count), (Some("View Item"), 1000));
    assert_eq!(first.node_type.as_deref(), Some("ANCHOR"));
    assert_eq!(flows.overall_conversion_rate, None, "the recorded sankey body has no rate");
    assert!(flows.paths.is_empty() && flows.paths_found.is_none());
}

#[test]
fn sankey_drop_offs_and_pruned_nodes_are_not_events() {
    let flows = fixture(include_str!("../../../../fixtures/mixpanel/flows_sankey.json"));
    let step1: Vec<(FlowNodeKind, Option<&str>, u64)> =
        flows.steps[1].nodes.iter().map(|n| (n.kind, n.event.as_deref(), n.count)).collect();
    assert_eq!(
        step1,
        [
            (FlowNodeKind::Event, Some("Add To Cart"), 310),
            (FlowNodeKind::Pruned, None, 570),
            (FlowNodeKind::DropOff, None, 120),
        ]
    );
    let labels: Vec<String> = flows.steps[1].nodes.iter().map(FlowNode::label).collect();
    assert_eq!(labels, ["Add To Cart", "(other events)", "(drop-off)"]);
    // Every user of a step is in one of its nodes.
    let users = |step: usize| flows.steps[step].nodes.iter().map(|n| n.count).sum::<u64>();
    assert_eq!((users(0), users(1), users(2)), (1000, 1000, 1000));
}

#[test]
fn sankey_edges_lead_to_the_next_step() {
    let flows = fixture(include_str!("../../../../fixtures/mixpanel/flows_sankey.json"));
    let edges = &flows.steps[0].nodes[0].edges;
    assert_eq!(edges.len(), 3);
    assert!(edges.iter().all(|e| e.step == 1));
    assert_eq!(edges.iter().map(|e| e.count).sum::<u64>(), 1000);
    assert_eq!(edges[0].event.as_deref(), Some("Add To Cart"));
    assert_eq!(edges[2].kind, FlowNodeKind::DropOff);
    assert!(flows.steps[2].nodes.iter().all(|n| n.edges.is_empty()));
}

/// Recorded top-paths shape (the same vectors, bookmark 60391517).
#[test]
fn top_paths_count_their_last_position() {
    let flows = fixture(include_str!("../../../../fixtures/mixpanel/flows_top_paths.json"));
    assert!(flows.steps.is_empty());
    assert_eq!(flows.paths_found, Some(212));
    let summary: Vec<(Vec<String>, u64, Option<&str>)> =
        flows.paths.iter().map(|p| (p.labels(), p.count, p.segment.as_deref())).collect();
    assert_eq!(
        summary,
        [
            (vec!["View Item".into(), "View Item".into()], 610, Some("Did Not Convert")),
            (
                vec!["View Item".into(), "Add To Cart".into(), "Purchase".into()],
                244,
                Some("Converted")
            ),
            (vec!["View Item".into(), "(none)".into(), "Purchase".into()], 57, Some("Converted")),
        ]
    );
    assert_eq!(flows.paths[0].nodes[0].count, 1705);
    assert_eq!(flows.paths[0].nodes[2].kind, FlowNodeKind::Empty);
}

/// Recorded empty report (the same vectors, bookmarks 87176748 and 87176810).
#[test]
fn an_empty_report_has_no_rate_and_no_nodes() {
    let flows = fixture(include_str!("../../../../fixtures/mixpanel/flows_empty.json"));
    assert_eq!(flows.overall_conversion_rate, None);
    assert_eq!(flows.steps.len(), 4);
    assert!(flows.steps.iter().all(|s| s.nodes.is_empty()));
    assert!(flows.segments.is_empty());
}

#[test]
fn breakdowns_give_users_per_segment() {
    let flows = flows_answer(&json!({
        "breakdowns": [
            {"segments": [{"label": "", "value": "", "values": ["Did Not Convert"]}], "totalCount": "6995"},
            {"segments": [{"label": "", "value": "", "values": ["Converted"]}], "totalCount": "3259"}
        ],
        "steps": []
    }))
    .unwrap();
    assert_eq!(
        flows.segments,
        [
            FlowSegment { segment: "Did Not Convert".into(), count: 6995 },
            FlowSegment { segment: "Converted".into(), count: 3259 },
        ]
    );
}

#[test]
fn numeric_rates_and_counts_are_read_too() {
    let flows = flows_answer(&json!({
        "steps": [{"nodes": [{"event": "A", "type": "ANCHOR", "count": 4.0}]}],
        "overallConversionRate": 0.25
    }))
    .unwrap();
    assert_eq!(flows.steps[0].nodes[0].count, 4);
    assert_eq!(flows.overall_conversion_rate, Some(0.25));
}

#[test]
fn unknown_node_types_are_kept_with_their_type() {
    let flows = flows_answer(&json!({"steps": [{"nodes": [
        {"event": "", "type": "SESSION_END", "totalCount": "3"},
        {"event": "B", "type": "SOMETHING_NEW", "totalCount": "5"}
    ]}]}))
    .unwrap();
    let nodes = &flows.steps[0].nodes;
    assert_eq!((nodes[0].kind, nodes[0].label()), (FlowNodeKind::Event, "B".to_owned()));
    assert_eq!(
        (nodes[1].kind, nodes[1].label()),
        (FlowNodeKind::Other, "(session_end)".to_owned())
    );
}

#[test]
fn unreadable_flows_say_what_and_where() {
    let bad = flows_answer(&json!({"steps": [{"nodes": [{"totalCount": "1"}]}]})).unwrap_err();
    assert!(bad.contains("neither an event nor a type"), "{bad}");
    let bad = flows_answer(&json!({"steps": [{"nodes": [{"event": "A", "totalCount": "many"}]}]}))
        .unwrap_err();
    assert!(bad.contains("\"A\"") && bad.contains("\"many\""), "{bad}");
    let bad = flows_answer(&json!({"flows": [{"segments": []}]})).unwrap_err();
    assert!(bad.contains("flow #1 has no `flowSteps`"), "{bad}");
    let bad = flows_answer(&json!({"overallConversionRate": [1]})).unwrap_err();
    assert!(bad.contains("overallConversionRate"), "{bad}");
    assert!(flows_answer(&json!([])).is_err());
}
