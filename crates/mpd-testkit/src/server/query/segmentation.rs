//! `/segmentation` (+ `/numeric`, `/sum`, `/average`), `/events` and `/events/properties`.

use serde_json::{Value, json};

use super::params::{Answer, Params, bad};
use crate::analytics::series::{self, Line};
use crate::analytics::{Buckets, CountType, Unit, numeric};
use crate::filter::WhereExpr;
use crate::project::QueryEvent;

const ALL_UNITS: [Unit; 5] = [Unit::Minute, Unit::Hour, Unit::Day, Unit::Week, Unit::Month];

fn matches(e: &QueryEvent, event: &str, where_expr: Option<&WhereExpr>) -> bool {
    e.name == event && where_expr.is_none_or(|w| w.matches(&e.properties))
}

/// `{"data": {"series": [...], "values": {...}}, "legend_size": n}`; the variant drops the
/// `data` wrapper.
fn series_answer(p: &Params<'_>, buckets: &Buckets, lines: &[Line<'_>], count: CountType) -> Value {
    let labels = buckets.labels();
    let values = series::values_json(lines, &labels, count);
    if p.variants() {
        json!({"series": labels, "values": values, "legend_size": lines.len()})
    } else {
        json!({"data": {"series": labels, "values": values}, "legend_size": lines.len()})
    }
}

pub(crate) fn segmentation(p: &Params<'_>) -> Answer {
    let event = p.required("event")?;
    let range = p.range(false)?;
    let unit = p.unit("unit", Some(Unit::Day), &ALL_UNITS)?;
    let count = p.count_type(Some(CountType::General))?;
    let where_expr = p.where_expr("where")?;
    let on = p.property("on")?;
    let limit = p.limit(60)?;
    let buckets = p.buckets(unit, range)?;
    let population = p.population(range);
    let events = population.iter().filter(|e| matches(e, event, where_expr.as_ref()));
    let lines = match &on {
        None => {
            let mut lines = series::tally(events, &buckets, |_| Some(event.to_owned()));
            if lines.is_empty() {
                lines.push(Line::empty(event, buckets.len()));
            }
            lines
        }
        Some(on) => series::keep_top(
            series::tally(events, &buckets, |e| on.text(&e.properties)),
            count,
            limit,
        ),
    };
    Ok(series_answer(p, &buckets, &lines, count))
}

pub(crate) fn numeric(p: &Params<'_>) -> Answer {
    let event = p.required("event")?;
    let range = p.range(false)?;
    let on = p.property("on")?.ok_or_else(|| bad("'on' is a required parameter"))?;
    let unit = p.unit("unit", Some(Unit::Day), &ALL_UNITS)?;
    p.count_type(Some(CountType::General))?;
    let where_expr = p.where_expr("where")?;
    let buckets = p.buckets(unit, range)?;
    let population = p.population(range);
    let events: Vec<&QueryEvent> =
        population.iter().filter(|e| matches(e, event, where_expr.as_ref())).collect();
    let lines = numeric::numeric_lines(&events, &buckets, &on);
    Ok(series_answer(p, &buckets, &lines, CountType::General))
}

/// `/segmentation/sum` and `/segmentation/average`.
pub(crate) fn metric(p: &Params<'_>, average: bool) -> Answer {
    let event = p.required("event")?;
    let range = p.range(false)?;
    let on = p.property("on")?.ok_or_else(|| bad("'on' is a required parameter"))?;
    let unit = p.unit("unit", Some(Unit::Day), &ALL_UNITS)?;
    let where_expr = p.where_expr("where")?;
    let buckets = p.buckets(unit, range)?;
    let population = p.population(range);
    let events = population.iter().filter(|e| matches(e, event, where_expr.as_ref()));
    let values = series::metric(events, &buckets, &on, average);
    Ok(json!({
        "status": "ok",
        "computed_at": super::computed_at(),
        "results": series::metric_json(&values, &buckets.labels()),
    }))
}

pub(crate) fn events(p: &Params<'_>) -> Answer {
    let names = p
        .string_list("event")?
        .ok_or_else(|| bad("'event' is a required parameter (a JSON array of names)"))?;
    let count = p.count_type(None)?;
    let unit = p.unit("unit", None, &ALL_UNITS)?;
    let range = p.range(true)?;
    let buckets = p.buckets(unit, range)?;
    let population = p.population(range);
    let mut wanted: Vec<&str> = Vec::new();
    for name in &names {
        if !wanted.contains(&name.as_str()) {
            wanted.push(name);
        }
    }
    let events = population.iter().filter(|e| wanted.contains(&e.name.as_str()));
    let mut tallied = series::tally(events, &buckets, |e| Some(e.name.clone()));
    let lines: Vec<Line<'_>> = wanted
        .iter()
        .map(|name| match tallied.iter().position(|l| l.name == *name) {
            Some(i) => tallied.swap_remove(i),
            None => Line::empty(name, buckets.len()),
        })
        .collect();
    Ok(series_answer(p, &buckets, &lines, count))
}

pub(crate) fn event_properties(p: &Params<'_>) -> Answer {
    let event = p.required("event")?;
    let name = p.required("name")?;
    let values = p.string_list("values")?;
    let count = p.count_type(Some(CountType::General))?;
    let unit = p.unit("unit", Some(Unit::Day), &ALL_UNITS)?;
    let range = p.range(true)?;
    let limit = p.limit(255)?;
    let buckets = p.buckets(unit, range)?;
    let population = p.population(range);
    let events = population.iter().filter(|e| e.name == event);
    let lines = series::tally(events, &buckets, |e| {
        let text = e.properties.get(name).and_then(crate::analytics::value_text)?;
        values.as_ref().is_none_or(|vs| vs.contains(&text)).then_some(text)
    });
    Ok(series_answer(p, &buckets, &series::keep_top(lines, count, limit), count))
}
