//! Saved Insights reports: `{"computed_at", "date_range", "headers", "meta", "series"}`, series
//! nested as deep as `headers`.

use serde_json::{Map, Value};

use crate::live::json::{Why, array, kind, object, text};
use crate::live::result::{Series, TimeSeries};

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

#[cfg(test)]
#[path = "parse_report_tests.rs"]
mod tests;
