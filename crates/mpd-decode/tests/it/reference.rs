//! The event rules again, written plainly over `serde_json::Value`, as the oracle.

use chrono::{DateTime, Datelike as _, NaiveDate};
use mpd_decode::LineFormat;
use serde_json::{Map, Value};

#[derive(Debug, PartialEq)]
pub(crate) struct Expected {
    pub(crate) event_name: String,
    pub(crate) time_us: i64,
    pub(crate) date: NaiveDate,
    pub(crate) distinct_id: String,
    pub(crate) device_id: Option<String>,
    pub(crate) user_id: Option<String>,
    pub(crate) insert_id: Option<String>,
    pub(crate) mp_processing_time_ms: Option<i64>,
    pub(crate) properties: Value,
}

/// `None` when the line must be rejected.
pub(crate) fn decode(line: &str, format: LineFormat) -> Option<Expected> {
    let root: Map<String, Value> = serde_json::from_str(line).ok()?;
    let props = root.get("properties")?.as_object()?;
    let pipelines = format == LineFormat::Pipelines;
    let (first, second) = if pipelines { ("event_name", "event") } else { ("event", "event_name") };
    let event_name = root.get(first).or(root.get(second))?.as_str()?.to_owned();
    let time = if pipelines { root.get("time").or(props.get("time")) } else { props.get("time") };
    let time_us = epoch_us(time?)?;
    let date = DateTime::from_timestamp_micros(time_us)?.date_naive();
    if !(0..=9999).contains(&date.year()) {
        return None;
    }

    let id = |top_key: &str, prop_key: &str| {
        let top = root.get(top_key).filter(|_| pipelines).and_then(id_text);
        top.or_else(|| props.get(prop_key).and_then(id_text))
    };
    let processing = |v: Option<&Value>| {
        let ms = v?.as_i64()?;
        DateTime::from_timestamp_millis(ms).filter(|t| (0..=9999).contains(&t.year())).map(|_| ms)
    };
    Some(Expected {
        event_name,
        time_us,
        date,
        distinct_id: id("distinct_id", "distinct_id").unwrap_or_default(),
        device_id: id("device_id", "$device_id"),
        user_id: id("user_id", "$user_id"),
        insert_id: id("insert_id", "$insert_id"),
        mp_processing_time_ms: processing(root.get("mp_processing_time_ms").filter(|_| pipelines))
            .or_else(|| processing(props.get("mp_processing_time_ms"))),
        properties: Value::Object(props.clone()),
    })
}

fn id_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (None, Some(u), _) => u.to_string(),
            (None, None, Some(f)) => f.to_string(),
            (None, None, None) => return None,
        }),
        _ => None,
    }
}

/// Seconds unless the magnitude exceeds 10^11, then milliseconds; computed in i128/f64.
fn epoch_us(v: &Value) -> Option<i64> {
    let threshold = 100_000_000_000i128;
    let us = if let Some(t) = v.as_i64().map(i128::from).or(v.as_u64().map(i128::from)) {
        let us = if t.abs() > threshold { t * 1_000 } else { t * 1_000_000 };
        i64::try_from(us).ok()?
    } else {
        let t = v.as_f64()?;
        let us = if t.abs() > 1e11 { t * 1e3 } else { t * 1e6 }.round();
        if !(-9.2e18..9.2e18).contains(&us) {
            return None;
        }
        us as i64
    };
    DateTime::from_timestamp_micros(us).map(|_| us)
}
