//! Saved Flows reports (`/arb_funnels`), an endpoint Mixpanel does not document. The shapes
//! here are those of bodies recorded from Mixpanel's servers (see `fixtures/mixpanel/`):
//!
//! - sankey (`query_type=flows_sankey`): `{"steps": [{"nodes": [...]}], "breakdowns": [...]}`;
//!   a node has `event` (empty for drop-off and pruned nodes), `type` (`ANCHOR`, `FORWARD`,
//!   `REVERSE`, `DROPOFF`, `PRUNED`, ...), `totalCount` as a string of digits and `edges` to
//!   the next step, each with `step` as a string;
//! - top paths (`query_type=flows_top_paths`): `{"flows": [{"flowSteps": [...], "segments":
//!   [...]}], "foundCount": "735", "returnedCount": "50"}`, paths padded with `EMPTY` steps;
//! - an empty report: `"overallConversionRate": "NaN"` and steps without nodes.

use serde_json::{Map, Value};

use crate::json::{Why, array, kind, object, text};
use crate::result::{FlowEdge, FlowNode, FlowNodeKind, FlowPath, FlowSegment, FlowStep};

/// What a Flows answer holds besides the bookmark id.
#[derive(Debug, PartialEq)]
pub(super) struct FlowsAnswer {
    pub(super) computed_at: Option<String>,
    pub(super) steps: Vec<FlowStep>,
    pub(super) paths: Vec<FlowPath>,
    pub(super) paths_found: Option<u64>,
    pub(super) segments: Vec<FlowSegment>,
    pub(super) overall_conversion_rate: Option<f64>,
}

/// Reads either kind of flows report; nodes and paths come out largest first.
pub(super) fn flows_answer(root: &Value) -> Result<FlowsAnswer, Why> {
    let fields = object(root, "the flows report")?;
    let mut steps = Vec::new();
    if let Some(list) = fields.get("steps") {
        for (i, step) in array(list, "`steps`")?.iter().enumerate() {
            let what = format!("flows step #{}", i + 1);
            let step = object(step, &what)?;
            let mut nodes = match step.get("nodes") {
                Some(nodes) => array(nodes, &format!("the nodes of {what}"))?
                    .iter()
                    .map(|node| flow_node(node, &what, true))
                    .collect::<Result<Vec<_>, Why>>()?,
                None => Vec::new(),
            };
            nodes.sort_by(|a, b| {
                a.kind.cmp(&b.kind).then(b.count.cmp(&a.count)).then_with(|| a.event.cmp(&b.event))
            });
            steps.push(FlowStep { step: u32::try_from(i).unwrap_or(u32::MAX), nodes });
        }
    }
    let mut paths = Vec::new();
    if let Some(list) = fields.get("flows") {
        for (i, flow) in array(list, "`flows`")?.iter().enumerate() {
            paths.push(flow_path(flow, &format!("flow #{}", i + 1))?);
        }
    }
    paths.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.labels().cmp(&b.labels())));
    let segments = match fields.get("breakdowns") {
        Some(list) => array(list, "`breakdowns`")?
            .iter()
            .enumerate()
            .map(|(i, b)| flow_segment(b, &format!("breakdown #{}", i + 1)))
            .collect::<Result<_, Why>>()?,
        None => Vec::new(),
    };
    Ok(FlowsAnswer {
        computed_at: text(fields.get("computed_at")),
        steps,
        paths,
        paths_found: digits(fields.get("foundCount"), "`foundCount`")?,
        segments,
        overall_conversion_rate: rate(fields.get("overallConversionRate"))?,
    })
}

fn flow_path(flow: &Value, what: &str) -> Result<FlowPath, Why> {
    let flow = object(flow, what)?;
    let steps = flow.get("flowSteps").ok_or_else(|| format!("{what} has no `flowSteps`"))?;
    let nodes = array(steps, &format!("the steps of {what}"))?
        .iter()
        .map(|step| flow_node(step, what, false))
        .collect::<Result<Vec<_>, Why>>()?;
    let count = nodes.iter().rev().find(|n| n.kind != FlowNodeKind::Empty).map_or(0, |n| n.count);
    Ok(FlowPath { nodes, count, segment: segment_label(flow.get("segments")) })
}

fn flow_node(node: &Value, what: &str, with_edges: bool) -> Result<FlowNode, Why> {
    let node = object(node, &format!("a node of {what}"))?;
    let (kind, event, node_type) = node_identity(node, what)?;
    let count =
        node_count(node, &format!("the count of {} in {what}", event_or_type(&event, &node_type)))?;
    let mut edges = Vec::new();
    if with_edges && let Some(list) = node.get("edges") {
        for edge in array(list, &format!("the edges of a node of {what}"))? {
            let edge = object(edge, &format!("an edge of {what}"))?;
            let (kind, event, node_type) = node_identity(edge, what)?;
            let what = format!("the edge to {} in {what}", event_or_type(&event, &node_type));
            let step = digits(edge.get("step"), &format!("the step of {what}"))?
                .and_then(|s| u32::try_from(s).ok())
                .ok_or_else(|| format!("{what} has no `step`"))?;
            edges.push(FlowEdge { step, kind, event, count: node_count(edge, &what)? });
        }
        edges.sort_by(|a, b| a.kind.cmp(&b.kind).then(b.count.cmp(&a.count)));
    }
    Ok(FlowNode { kind, event, node_type, count, edges })
}

/// The node's kind, event and Mixpanel type. An event name wins over an unknown type; a node
/// with neither is refused.
fn node_identity(
    node: &Map<String, Value>,
    what: &str,
) -> Result<(FlowNodeKind, Option<String>, Option<String>), Why> {
    let node_type = text(node.get("type"));
    let event =
        text(node.get("event")).or_else(|| text(node.get("name"))).filter(|e| !e.is_empty());
    let kind = match (node_type.as_deref(), &event) {
        (Some("DROPOFF"), _) => FlowNodeKind::DropOff,
        (Some("PRUNED"), _) => FlowNodeKind::Pruned,
        (Some("EMPTY"), _) => FlowNodeKind::Empty,
        (_, Some(_)) => FlowNodeKind::Event,
        (Some(_), None) => FlowNodeKind::Other,
        (None, None) => return Err(format!("a node of {what} has neither an event nor a type")),
    };
    let event = if kind == FlowNodeKind::Event { event } else { None };
    Ok((kind, event, node_type))
}

fn event_or_type(event: &Option<String>, node_type: &Option<String>) -> String {
    match (event, node_type) {
        (Some(event), _) => format!("{event:?}"),
        (None, Some(t)) => format!("a {t} node"),
        (None, None) => "a node".to_owned(),
    }
}

/// `totalCount` (a string of digits, as Mixpanel sends it), else a numeric `count`.
fn node_count(node: &Map<String, Value>, what: &str) -> Result<u64, Why> {
    match node.get("totalCount") {
        Some(value) => digits(Some(value), what).map(Option::unwrap_or_default),
        None => digits(node.get("count"), what).map(Option::unwrap_or_default),
    }
}

/// A count sent as a string of digits or as a number; missing or null is `None`.
fn digits(value: Option<&Value>, what: &str) -> Result<Option<u64>, Why> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => s
            .trim()
            .parse::<u64>()
            .map(Some)
            .map_err(|_| format!("expected {what} as a count, got {s:?}")),
        Some(other @ Value::Number(_)) => crate::json::count(Some(other), what),
        Some(other) => Err(format!("expected {what} as a count, got {}", kind(other))),
    }
}

/// `overallConversionRate`: a number, or a string (`"NaN"` on an empty report); only a finite
/// rate is a rate.
fn rate(value: Option<&Value>) -> Result<Option<f64>, Why> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(Value::String(s)) => Ok(s.trim().parse::<f64>().ok().filter(|r| r.is_finite())),
        Some(other) => {
            Err(format!("expected `overallConversionRate` as a number, got {}", kind(other)))
        }
    }
}

/// `{"segments": [{"values": ["Converted"]}], "totalCount": "3259"}`.
fn flow_segment(breakdown: &Value, what: &str) -> Result<FlowSegment, Why> {
    let fields = object(breakdown, what)?;
    Ok(FlowSegment {
        segment: segment_label(fields.get("segments")).unwrap_or_default(),
        count: node_count(fields, what)?,
    })
}

/// The values of `[{"label", "value", "values": [...]}]`, joined; `None` when there are none.
fn segment_label(segments: Option<&Value>) -> Option<String> {
    let values: Vec<String> = segments?
        .as_array()?
        .iter()
        .flat_map(|s| match s.get("values").and_then(Value::as_array) {
            Some(values) => values.iter().filter_map(|v| text(Some(v))).collect(),
            None => text(s.get("value")).into_iter().collect::<Vec<_>>(),
        })
        .filter(|v| !v.is_empty())
        .collect();
    (!values.is_empty()).then(|| values.join(" / "))
}

#[cfg(test)]
#[path = "parse_flows_tests.rs"]
mod tests;
