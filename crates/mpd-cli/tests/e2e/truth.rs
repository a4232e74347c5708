//! Value checks of json output against numbers computed here from the mock's raw events, so a
//! case shows a query's answer is right and not only that it did not change.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use mpd_testkit::MockServer;
use serde::Deserialize;
use serde_json::Value;

/// `[[steps.expect]]`: the value at `pointer` (RFC 6901, e.g. `/series/Login/2024-03-02`) of
/// stdout's JSON must equal `equals`, or the number `truth` computes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Expect {
    pointer: String,
    equals: Option<toml::Value>,
    truth: Option<Truth>,
}

/// A count over the mock's deduplicated events of `[from, to]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Truth {
    /// `count` (events), `unique` (identity-resolved users), `sum` or `average` (of the numeric
    /// `property`).
    measure: String,
    /// The numeric property of `sum` and `average`.
    property: Option<String>,
    /// Only this event (default: every event).
    event: Option<String>,
    /// Only events whose property `where_property` equals `where_value` (as text).
    where_property: Option<String>,
    where_value: Option<String>,
    from: NaiveDate,
    to: NaiveDate,
}

impl Expect {
    pub(crate) fn check(&self, mock: &MockServer, stdout: &str) -> Result<(), String> {
        let output: Value =
            serde_json::from_str(stdout).map_err(|e| format!("stdout is not JSON: {e}"))?;
        let got = output
            .pointer(&self.pointer)
            .ok_or_else(|| format!("stdout has nothing at {}", self.pointer))?;
        let want = match (&self.equals, &self.truth) {
            (Some(value), None) => serde_json::to_value(value).map_err(|e| e.to_string())?,
            (None, Some(truth)) => Value::from(truth.compute(mock)?),
            _ => return Err(format!("expect {}: give exactly one of equals, truth", self.pointer)),
        };
        let same = match (got.as_f64(), want.as_f64()) {
            // Mixpanel-style sums and averages may be rounded to a few decimals.
            (Some(a), Some(b)) => (a - b).abs() <= 1e-6 * b.abs().max(1.0),
            _ => got == &want,
        };
        if same { Ok(()) } else { Err(format!("{} is {got}, expected {want}", self.pointer)) }
    }
}

impl Truth {
    fn compute(&self, mock: &MockServer) -> Result<f64, String> {
        let project = mock.project();
        let merges: HashMap<String, String> = project.identity_merges().into_iter().collect();
        let mut count = 0u64;
        let mut users = HashSet::new();
        let (mut sum, mut numeric) = (0.0, 0u64);
        for line in project.deduplicated(self.from, self.to) {
            let record: Value = serde_json::from_str(&line).map_err(|e| e.to_string())?;
            let name = record["event"].as_str().unwrap_or_default();
            if self.event.as_deref().is_some_and(|e| e != name) {
                continue;
            }
            let properties = &record["properties"];
            if let (Some(key), Some(value)) = (&self.where_property, &self.where_value) {
                let text = match &properties[key.as_str()] {
                    Value::String(s) => s.clone(),
                    Value::Null => continue,
                    other => other.to_string(),
                };
                if &text != value {
                    continue;
                }
            }
            count += 1;
            if let Some(value) =
                self.property.as_ref().and_then(|p| properties[p.as_str()].as_f64())
            {
                sum += value;
                numeric += 1;
            }
            let id = properties["distinct_id"].as_str().unwrap_or_default().to_owned();
            users.insert(merges.get(&id).cloned().unwrap_or(id));
        }
        match self.measure.as_str() {
            "count" => Ok(count as f64),
            "unique" => Ok(users.len() as f64),
            "sum" => Ok(sum),
            "average" if numeric == 0 => Ok(0.0),
            "average" => Ok(sum / numeric as f64),
            other => {
                Err(format!("unknown truth measure {other:?}: use count, unique, sum or average"))
            }
        }
    }
}
