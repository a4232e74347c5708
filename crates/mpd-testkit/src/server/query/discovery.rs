//! `/events/names`, `/events/top`, `/events/properties/top`, `/events/properties/values`:
//! what happened recently (the 31 days ending today, or today against yesterday).

use chrono::Duration;
use serde_json::{Map, Value, json};

use super::params::{Answer, Params, bad};
use crate::analytics::{CountType, DayRange, discovery};

/// Days of the discovery window, today included.
const WINDOW_DAYS: i64 = 31;

fn window(p: &Params<'_>) -> DayRange {
    let to = p.today();
    DayRange { from: to - Duration::days(WINDOW_DAYS - 1), to }
}

pub(crate) fn names(p: &Params<'_>) -> Answer {
    p.count_type(Some(CountType::General))?;
    let limit = p.limit(255)?;
    let events = p.population(window(p));
    let names: Vec<String> =
        discovery::names(events.iter()).into_iter().take(limit).map(|(name, _)| name).collect();
    Ok(json!(names))
}

pub(crate) fn top(p: &Params<'_>) -> Answer {
    let count = p.count_type(None)?;
    let limit = p.limit(100)?;
    let today = p.today();
    let yesterday = today - Duration::days(1);
    let now = p.population(DayRange { from: today, to: today });
    let before = p.population(DayRange { from: yesterday, to: yesterday });
    let events: Vec<Value> = discovery::top(now.iter(), before.iter(), count)
        .into_iter()
        .take(limit)
        .map(|t| {
            let amount =
                if count == CountType::Average { json!(t.amount) } else { json!(t.amount as u64) };
            if p.variants() {
                json!({"amount": amount, "event": t.event})
            } else {
                json!({"amount": amount, "event": t.event, "percent_change": t.percent_change})
            }
        })
        .collect();
    Ok(json!({"events": events, "type": count.as_str()}))
}

pub(crate) fn properties_top(p: &Params<'_>) -> Answer {
    let event = p.required("event")?;
    let limit = p.limit(10)?;
    let events = p.population(window(p));
    let keys = discovery::property_keys(events.iter(), event)
        .ok_or_else(|| bad(format!("event not found: {event}")))?;
    let variants = p.variants();
    let out: Map<String, Value> = keys
        .into_iter()
        .take(limit)
        .enumerate()
        .map(|(i, (key, n))| {
            // Mixpanel sometimes answers an entry without its count.
            let entry = if variants && i % 3 == 1 { json!({}) } else { json!({"count": n}) };
            (key, entry)
        })
        .collect();
    Ok(Value::Object(out))
}

pub(crate) fn properties_values(p: &Params<'_>) -> Answer {
    let name = p.required("name")?;
    let event = p.get("event");
    let limit = p.limit(255)?;
    let events = p.population(window(p));
    let values: Vec<String> = discovery::property_values(events.iter(), event, name)
        .into_iter()
        .take(limit)
        .map(|(v, _)| v)
        .collect();
    Ok(json!(values))
}
