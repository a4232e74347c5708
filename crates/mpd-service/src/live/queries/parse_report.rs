//! Saved reports: Insights (`{"computed_at", "date_range", "headers", "series"}`, series
//! nested as deep as `headers`) and Flows (`{"steps", "flows", "overallConversionRate"}`).

use serde_json::{Map, Value};

use crate::live::json::{Why, array, count, kind, number, object, text};
use crate::live::result::{FlowNode, FlowPath, FlowStep, Series, TimeSeries};

use super::parse_series::{leaf, time_series};

/// Separator of nested series names (`Purchase / Chrome`).
const NAME_SEPARATOR: &str = " / ";

/// What an Insights answer holds besides the bookmark id.
#[derive(Debug, PartialEq)]
pub(super) struct InsightsAnswer {
    pub(super) computed_at: Option<String>,
    pub(super) from: Option<String>,
    pub(super) to: Option<String>,
    pub(super) headers: Vec<String>,
    pub(super) series: TimeSeries,
}

pub(super) fn insights_answer(root: &Value) -> Result<InsightsAnswer, Why> {
    let fields = object(root, "the report")?;
    let range = fields.get("date_range").and_then(Value::as_object);
    let headers = match fields.get("headers") {
        Some(h) => array(h, "`headers`")?.iter().filter_map(|h| text(Some(h))).collect(),
        None => Vec::new(),
    };
    let series = fields.get("series").ok_or("the `series` member is missing")?;
    let mut out = Vec::new();
    flatten(object(series, "`series`")?, &mut Vec::new(), &mut out)?;
    Ok(InsightsAnswer {
        computed_at: text(fields.get("computed_at")),
        from: range.and_then(|r| text(r.get("from_date"))),
        to: range.and_then(|r| text(r.get("to_date"))),
        headers,
        series: time_series(out, Vec::new()),
    })
}

/// Walks nested objects until a level of numbers: that level is one series, named by the
/// keys on the way down.
fn flatten(
    map: &Map<String, Value>,
    path: &mut Vec<String>,
    out: &mut Vec<Series>,
) -> Result<(), Why> {
    for (key, value) in map {
        path.push(key.clone());
        match value {
            Value::Object(inner) if inner.values().any(Value::is_object) => {
                flatten(inner, path, out)?
            }
            Value::Object(inner) => {
                let name = path.join(NAME_SEPARATOR);
                out.push(Series { values: leaf(inner, &name)?, name });
            }
            // A total beside a breakdown (`"$overall": 12` next to per-value objects).
            Value::Number(_) | Value::Null if path.len() > 1 => {}
            other => {
                return Err(format!(
                    "expected the series {:?} as an object, got {}",
                    path.join(NAME_SEPARATOR),
                    kind(other)
                ));
            }
        }
        path.pop();
    }
    Ok(())
}

/// What a Flows answer holds besides the bookmark id.
#[derive(Debug, PartialEq)]
pub(super) struct FlowsAnswer {
    pub(super) computed_at: Option<String>,
    pub(super) steps: Vec<FlowStep>,
    pub(super) paths: Vec<FlowPath>,
    pub(super) overall_conversion_rate: Option<f64>,
}

/// Nodes and paths are sorted largest first (ties by name) whatever order they came in.
pub(super) fn flows_answer(root: &Value) -> Result<FlowsAnswer, Why> {
    let fields = object(root, "the flows report")?;
    let mut steps = Vec::new();
    if let Some(list) = fields.get("steps") {
        for (i, step) in array(list, "`steps`")?.iter().enumerate() {
            let what = format!("flows step #{}", i + 1);
            let step = object(step, &what)?;
            let position = count(step.get("step"), &what)?.unwrap_or(i as u64);
            let mut nodes = match step.get("nodes") {
                Some(nodes) => array(nodes, &format!("the nodes of {what}"))?
                    .iter()
                    .map(|node| flow_node(node, &what))
                    .collect::<Result<Vec<_>, Why>>()?,
                None => Vec::new(),
            };
            nodes.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.event.cmp(&b.event)));
            steps.push(FlowStep { step: u32::try_from(position).unwrap_or(u32::MAX), nodes });
        }
    }
    steps.sort_by_key(|s| s.step);
    let mut paths = Vec::new();
    if let Some(list) = fields.get("flows") {
        for (i, flow) in array(list, "`flows`")?.iter().enumerate() {
            let what = format!("flow #{}", i + 1);
            let flow = object(flow, &what)?;
            let events = match flow.get("path") {
                Some(path) => array(path, &format!("the path of {what}"))?
                    .iter()
                    .map(|e| text(Some(e)).unwrap_or_else(|| e.to_string()))
                    .collect(),
                None => Vec::new(),
            };
            let count = count(flow.get("count"), &what)?.unwrap_or(0);
            paths.push(FlowPath { events, count });
        }
    }
    paths.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.events.cmp(&b.events)));
    Ok(FlowsAnswer {
        computed_at: text(fields.get("computed_at")),
        steps,
        paths,
        overall_conversion_rate: number(
            fields.get("overallConversionRate"),
            "overallConversionRate",
        )?,
    })
}

fn flow_node(node: &Value, what: &str) -> Result<FlowNode, Why> {
    let node = object(node, &format!("a node of {what}"))?;
    let event = text(node.get("event"))
        .or_else(|| text(node.get("name")))
        .ok_or_else(|| format!("a node of {what} has no event"))?;
    let count =
        count(node.get("count"), &format!("the count of {event:?} in {what}"))?.unwrap_or(0);
    Ok(FlowNode { event, count })
}

#[cfg(test)]
#[path = "parse_report_tests.rs"]
mod tests;
