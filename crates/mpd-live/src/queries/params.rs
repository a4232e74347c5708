//! Query parameters as Mixpanel (and the anchor) expect them, and the checks that refuse a
//! bad request before it spends one of the project's hourly queries.

use crate::error::{Error, Result};
use crate::request::{
    ActivityQuery, DateSpan, EventCountsQuery, FrequencyQuery, FunnelQuery, MetricQuery,
    PropertyCountsQuery, RetentionQuery, SegmentationQuery, TimeUnit,
};

/// Largest `limit` the Query API accepts.
pub(crate) const MAX_LIMIT: u32 = 10_000;

/// Longest funnel conversion window Mixpanel accepts.
const MAX_WINDOW_SECS: i64 = 90 * 86_400;

/// Query-string pairs in the order they were added.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Params(Vec<(&'static str, String)>);

impl Params {
    pub(crate) fn push(&mut self, key: &'static str, value: impl Into<String>) -> &mut Self {
        self.0.push((key, value.into()));
        self
    }

    pub(crate) fn push_opt(
        &mut self,
        key: &'static str,
        value: Option<impl Into<String>>,
    ) -> &mut Self {
        if let Some(value) = value {
            self.0.push((key, value.into()));
        }
        self
    }

    pub(crate) fn push_span(&mut self, span: &DateSpan) -> &mut Self {
        self.push("from_date", span.from.to_string()).push("to_date", span.to.to_string())
    }

    pub(crate) fn pairs(&self) -> &[(&'static str, String)] {
        &self.0
    }

    /// The first value of `key` (tests).
    #[cfg(test)]
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| *k == key).map(|(_, v)| v.as_str())
    }
}

/// A property expression: bare names (`plan`) become `properties["plan"]`; expressions
/// (`properties["x"]`, `user["$email"]`, `number(...)`) are passed through.
pub(crate) fn property_expr(on: &str) -> String {
    let on = on.trim();
    let is_expression =
        ["properties[", "user[", "event["].iter().any(|p| on.starts_with(p)) || on.contains('(');
    if is_expression {
        return on.to_owned();
    }
    // serde_json writes a JSON string literal, which is the expression language's too.
    format!("properties[{}]", serde_json::Value::String(on.to_owned()))
}

pub(crate) fn check_span(span: &DateSpan) -> Result<()> {
    if span.from > span.to {
        return Err(Error::InvalidArgument(format!(
            "--from {} is after --to {}",
            span.from, span.to
        )));
    }
    Ok(())
}

pub(crate) fn check_name(what: &str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(Error::InvalidArgument(format!("{what} must not be empty")));
    }
    Ok(())
}

pub(crate) fn check_limit(what: &str, limit: u32) -> Result<()> {
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(Error::InvalidArgument(format!(
            "{what} must be between 1 and {MAX_LIMIT}, got {limit}"
        )));
    }
    Ok(())
}

fn check_unit(what: &str, unit: TimeUnit, allowed: &[TimeUnit]) -> Result<()> {
    if allowed.contains(&unit) {
        return Ok(());
    }
    let names: Vec<&str> = allowed.iter().map(|u| u.as_str()).collect();
    Err(Error::InvalidArgument(format!(
        "{what} {} is not supported here; use one of {}",
        unit.as_str(),
        names.join(", ")
    )))
}

fn check_where(value: Option<&str>) -> Result<()> {
    match value {
        Some(expr) => check_name("--where", expr),
        None => Ok(()),
    }
}

fn check_on(value: Option<&str>) -> Result<()> {
    match value {
        Some(on) => check_name("--on", on),
        None => Ok(()),
    }
}

fn json_array<S: AsRef<str>>(items: &[S]) -> String {
    let items: Vec<&str> = items.iter().map(AsRef::as_ref).collect();
    serde_json::Value::from(items).to_string()
}

const HOUR_OR_DAY: [TimeUnit; 2] = [TimeUnit::Hour, TimeUnit::Day];
const DAY_WEEK_MONTH: [TimeUnit; 3] = [TimeUnit::Day, TimeUnit::Week, TimeUnit::Month];

/// `/segmentation`.
pub(crate) fn segmentation(q: &SegmentationQuery) -> Result<Params> {
    check_name("the event", &q.event)?;
    check_span(&q.span)?;
    check_on(q.on.as_deref())?;
    check_where(q.where_expr.as_deref())?;
    if let Some(limit) = q.limit {
        check_limit("--limit", limit)?;
    }
    let mut p = Params::default();
    p.push("event", &q.event)
        .push_span(&q.span)
        .push("unit", q.unit.as_str())
        .push("type", q.count_type.as_str())
        .push_opt("on", q.on.as_deref().map(property_expr))
        .push_opt("where", q.where_expr.as_deref())
        .push_opt("limit", q.limit.map(|l| l.to_string()));
    Ok(p)
}

/// `/segmentation/numeric`: `on` is required and names a number.
pub(crate) fn segmentation_numeric(q: &SegmentationQuery) -> Result<Params> {
    check_name("the event", &q.event)?;
    check_span(&q.span)?;
    let on = q.on.as_deref().unwrap_or_default();
    check_name("--on (the numeric property to bucket)", on)?;
    check_unit("--unit", q.unit, &HOUR_OR_DAY)?;
    check_where(q.where_expr.as_deref())?;
    let mut p = Params::default();
    p.push("event", &q.event)
        .push_span(&q.span)
        .push("on", property_expr(on))
        .push("unit", q.unit.as_str())
        .push("type", q.count_type.as_str())
        .push_opt("where", q.where_expr.as_deref());
    Ok(p)
}

/// `/segmentation/sum` and `/segmentation/average`.
pub(crate) fn metric(q: &MetricQuery) -> Result<Params> {
    check_name("the event", &q.event)?;
    check_span(&q.span)?;
    check_name("--on (the numeric property)", &q.on)?;
    check_unit("--unit", q.unit, &HOUR_OR_DAY)?;
    check_where(q.where_expr.as_deref())?;
    let mut p = Params::default();
    p.push("event", &q.event)
        .push_span(&q.span)
        .push("on", property_expr(&q.on))
        .push("unit", q.unit.as_str())
        .push_opt("where", q.where_expr.as_deref());
    Ok(p)
}

/// `/events`: the events as a JSON array.
pub(crate) fn event_counts(q: &EventCountsQuery) -> Result<Params> {
    if q.events.is_empty() {
        return Err(Error::InvalidArgument("--events needs at least one event".to_owned()));
    }
    for event in &q.events {
        check_name("an event name in --events", event)?;
    }
    check_span(&q.span)?;
    let mut p = Params::default();
    p.push("event", json_array(&q.events))
        .push("type", q.count_type.as_str())
        .push("unit", q.unit.as_str())
        .push_span(&q.span);
    Ok(p)
}

/// `/events/properties`.
pub(crate) fn property_counts(q: &PropertyCountsQuery) -> Result<Params> {
    check_name("the event", &q.event)?;
    check_name("the property", &q.property)?;
    check_span(&q.span)?;
    check_limit("--limit", q.limit)?;
    let mut p = Params::default();
    p.push("event", &q.event)
        .push("name", &q.property)
        .push("type", q.count_type.as_str())
        .push("unit", q.unit.as_str())
        .push_span(&q.span)
        .push("limit", q.limit.to_string());
    if !q.values.is_empty() {
        p.push("values", json_array(&q.values));
    }
    Ok(p)
}

/// `/funnels`: a saved funnel by id.
pub(crate) fn funnel(q: &FunnelQuery) -> Result<Params> {
    let Some(funnel_id) = q.funnel_id else {
        return Err(Error::InvalidArgument(
            "a live funnel needs the saved funnel's id (`mpd inspect funnels` lists them); step lists work with --local".to_owned(),
        ));
    };
    check_span(&q.span)?;
    if let Some(unit) = q.unit {
        check_unit("--unit", unit, &DAY_WEEK_MONTH)?;
    }
    check_on(q.on.as_deref())?;
    check_where(q.where_expr.as_deref())?;
    if let Some(limit) = q.limit {
        check_limit("--limit", limit)?;
    }
    let mut p = Params::default();
    p.push("funnel_id", funnel_id.to_string()).push_span(&q.span);
    if let Some(window) = q.window {
        let secs = i64::from(window.length) * window.unit.seconds();
        if window.length == 0 || secs > MAX_WINDOW_SECS {
            return Err(Error::InvalidArgument(format!(
                "the conversion window must be between 1 second and 90 days, got {} {}(s)",
                window.length,
                window.unit.as_str()
            )));
        }
        p.push("length", window.length.to_string()).push("length_unit", window.unit.as_str());
    }
    p.push_opt("unit", q.unit.map(|u| u.as_str()))
        .push_opt("on", q.on.as_deref().map(property_expr))
        .push_opt("where", q.where_expr.as_deref())
        .push_opt("limit", q.limit.map(|l| l.to_string()));
    Ok(p)
}

/// `/retention`: `interval` (when given and not 1) or `unit`, never both.
pub(crate) fn retention(q: &RetentionQuery) -> Result<Params> {
    check_name("the born event", &q.born_event)?;
    if let Some(event) = &q.return_event {
        check_name("the return event", event)?;
    }
    check_span(&q.span)?;
    check_unit("--unit", q.unit, &DAY_WEEK_MONTH)?;
    check_where(q.born_where.as_deref())?;
    check_where(q.return_where.as_deref())?;
    check_on(q.on.as_deref())?;
    if q.interval == Some(0) {
        return Err(Error::InvalidArgument("--interval must be at least 1".to_owned()));
    }
    let mut p = Params::default();
    p.push("born_event", &q.born_event)
        .push_opt("event", q.return_event.as_deref())
        .push_span(&q.span)
        .push("retention_type", q.retention_type.as_str())
        .push("interval_count", q.interval_count.to_string());
    match q.interval {
        Some(interval) if interval != 1 => p.push("interval", interval.to_string()),
        _ => p.push("unit", q.unit.as_str()),
    };
    p.push_opt("born_where", q.born_where.as_deref())
        .push_opt("where", q.return_where.as_deref())
        .push_opt("unbounded_retention", q.unbounded.then_some("true"))
        .push_opt("on", q.on.as_deref().map(property_expr));
    Ok(p)
}

/// `/retention/addiction`.
pub(crate) fn frequency(q: &FrequencyQuery) -> Result<Params> {
    if let Some(event) = &q.event {
        check_name("the event", event)?;
    }
    check_span(&q.span)?;
    check_unit("--unit", q.unit, &DAY_WEEK_MONTH)?;
    check_unit("--addiction-unit", q.addiction_unit, &HOUR_OR_DAY)?;
    check_where(q.where_expr.as_deref())?;
    check_on(q.on.as_deref())?;
    if let Some(limit) = q.limit {
        check_limit("--limit", limit)?;
    }
    let mut p = Params::default();
    p.push_span(&q.span)
        .push("unit", q.unit.as_str())
        .push("addiction_unit", q.addiction_unit.as_str())
        .push_opt("event", q.event.as_deref())
        .push_opt("where", q.where_expr.as_deref())
        .push_opt("on", q.on.as_deref().map(property_expr))
        .push_opt("limit", q.limit.map(|l| l.to_string()));
    Ok(p)
}

/// `/stream/query`: the users as a JSON array.
pub(crate) fn activity(q: &ActivityQuery) -> Result<Params> {
    if q.distinct_ids.is_empty() {
        return Err(Error::InvalidArgument("--users needs at least one distinct_id".to_owned()));
    }
    check_span(&q.span)?;
    let mut p = Params::default();
    p.push("distinct_ids", json_array(&q.distinct_ids)).push_span(&q.span);
    Ok(p)
}

#[cfg(test)]
#[path = "params_tests.rs"]
mod tests;
