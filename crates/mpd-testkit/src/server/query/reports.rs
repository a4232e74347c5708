//! Saved things and feeds: `/cohorts/list`, `/insights` (saved reports), `/arb_funnels`
//! (saved flows), `/stream/query` (activity feed) and the sunset `/jql`.

use std::collections::HashSet;

use chrono::{Duration, NaiveDate};
use http::StatusCode;
use serde_json::{Map, Value, json};

use super::params::{Answer, Bad, Params, bad};
use crate::analytics::flows::{self, FlowsView};
use crate::analytics::series::{self, Line};
use crate::analytics::{Buckets, CountType, DayRange, Unit};
use crate::project::QueryEvent;

/// The saved flows report: users' first "Page View" of the last 7 days, then 3 events.
const FLOWS_BOOKMARK: u64 = 8101;
const FLOWS_START: &str = "Page View";
/// A saved flows report nobody enters (its start event never happens): Mixpanel's empty report.
const EMPTY_FLOWS_BOOKMARK: u64 = 8103;
const EMPTY_FLOWS_START: &str = "App Uninstalled";
const FLOWS_DEPTH: usize = 3;
const FLOWS_DAYS: i64 = 7;

pub(crate) fn cohorts(p: &Params<'_>) -> Answer {
    let project = &p.state.project;
    let (first, last) = project.data_range();
    let population = p.population(DayRange { from: first, to: last });
    let mut purchasers = HashSet::new();
    let mut anonymous = HashSet::new();
    for e in population.iter() {
        if e.name == "Purchase" {
            purchasers.insert(e.resolved.as_str());
        }
        if e.resolved.starts_with("$device:") {
            anonymous.insert(e.resolved.as_str());
        }
    }
    let pro = project
        .profiles()
        .iter()
        .filter(|v| v["$properties"]["plan"].as_str() == Some("pro"))
        .count();
    let cohort = |id: u64, name: &str, description: &str, created: &str, count: usize| {
        json!({
            "count": count,
            "is_visible": 1,
            "description": description,
            "created": created,
            "project_id": project.project_id(),
            "id": id,
            "name": name,
        })
    };
    Ok(json!([
        cohort(
            9001,
            "Purchasers",
            "Users with at least one Purchase",
            "2024-01-05 10:00:00",
            purchasers.len()
        ),
        cohort(9002, "Pro plan", "Profiles on the pro plan", "2024-01-06 11:30:00", pro),
        cohort(
            9003,
            "Never identified",
            "Users never identified",
            "2024-01-07 09:15:00",
            anonymous.len()
        ),
    ]))
}

fn bookmark_id(p: &Params<'_>) -> Result<u64, Bad> {
    let raw = p.get("bookmark_id").ok_or_else(|| {
        bad("'bookmark_id' is a required parameter (the mock serves saved reports only)")
    })?;
    raw.trim()
        .parse()
        .map_err(|_| bad(format!("Invalid value for parameter 'bookmark_id': {raw:?}")))
}

fn iso_day(day: NaiveDate) -> String {
    format!("{day}T00:00:00+00:00")
}

/// Saved Insights reports, in the shape of bodies recorded from Mixpanel (parse vectors of
/// Mixpanel's Python client `mixpanel-headless`, `insights.jsonl`, bookmarks 60327249 and
/// 60327233): metric keys named `<event> [Total Events]` / `<event> [Unique Users]`, a `meta`
/// member, and with a breakdown an `$overall` roll-up beside the segments.
/// - 8001: 30 days of `Login [Total Events]` and `Purchase [Unique Users]`;
/// - 8002: 14 days of `Purchase [Unique Users]` by `$browser`.
pub(crate) fn insights(p: &Params<'_>) -> Answer {
    let id = bookmark_id(p)?;
    let days = match id {
        8001 => 30,
        8002 => 14,
        _ => {
            return Err(Bad {
                status: StatusCode::NOT_FOUND,
                message: format!("bookmark {id} not found"),
            });
        }
    };
    let to = p.today();
    let range = DayRange { from: to - Duration::days(days - 1), to };
    let buckets = Buckets::new(Unit::Day, range.from, range.to);
    let population = p.population(range);
    let labels: Vec<String> = buckets.starts.iter().map(|s| iso_day(s.date())).collect();
    let of_event = |name: &'static str, count: CountType, metric: &str| {
        let events = population.iter().filter(move |e| e.name == name);
        let lines = series::tally(events, &buckets, |_| Some(metric.to_owned()));
        let line = lines.into_iter().next().unwrap_or_else(|| Line::empty(metric, buckets.len()));
        series::values_json(&[line], &labels, count)
    };
    let (headers, group, series) = if id == 8001 {
        let mut series = of_event("Login", CountType::General, "Login [Total Events]");
        if let (Some(all), Value::Object(uniques)) = (
            series.as_object_mut(),
            of_event("Purchase", CountType::Unique, "Purchase [Unique Users]"),
        ) {
            all.extend(uniques);
        }
        (json!(["$event"]), json!([]), series)
    } else {
        let metric = "Purchase [Unique Users]";
        let purchases = || population.iter().filter(|e| e.name == "Purchase");
        let by_browser = series::tally(purchases(), &buckets, |e: &QueryEvent| {
            e.properties.get("$browser").and_then(crate::analytics::value_text)
        });
        let mut lines = series::tally(purchases(), &buckets, |_| Some("$overall".to_owned()));
        lines.extend(series::keep_top(by_browser, CountType::Unique, usize::MAX));
        let group = json!([{"bookmark": {"dataset": "$mixpanel", "propertyType": "string",
            "resourceType": "events", "search": "", "value": "$browser"}}]);
        let segments = series::values_json(&lines, &labels, CountType::Unique);
        (json!(["$event", "$browser"]), group, json!({ metric: segments }))
    };
    let show: Vec<Value> = series
        .as_object()
        .map(|m| m.keys().map(|k| json!({"metric_key": k})).collect())
        .unwrap_or_default();
    Ok(json!({
        "computed_at": super::computed_at(),
        "date_range": {"from_date": iso_day(range.from), "to_date": iso_day(range.to)},
        "headers": headers,
        "meta": {
            "is_segmentation_limit_hit": false,
            "min_sampling_factor": 1,
            "report_sections": {"group": group, "show": show},
        },
        "series": series,
    }))
}

pub(crate) fn flows(p: &Params<'_>) -> Answer {
    let id = bookmark_id(p)?;
    let start = match id {
        FLOWS_BOOKMARK => FLOWS_START,
        EMPTY_FLOWS_BOOKMARK => EMPTY_FLOWS_START,
        _ => {
            return Err(Bad {
                status: StatusCode::NOT_FOUND,
                message: format!("bookmark {id} not found"),
            });
        }
    };
    let to = p.today();
    let population = p.population(DayRange { from: to - Duration::days(FLOWS_DAYS - 1), to });
    let view = match p.get("query_type").map(str::trim) {
        None | Some("flows_sankey") => FlowsView::Sankey,
        Some("flows_top_paths") => FlowsView::TopPaths,
        Some(other) => {
            return Err(bad(format!(
                "Invalid value for parameter 'query_type': {other:?} (the mock serves flows_sankey and flows_top_paths)"
            )));
        }
    };
    let mut answer = flows::flows_json(population.iter(), start, FLOWS_DEPTH, view);
    answer["computed_at"] = json!(super::computed_at());
    Ok(answer)
}

pub(crate) fn stream(p: &Params<'_>) -> Answer {
    let ids: HashSet<String> = p
        .string_list("distinct_ids")?
        .ok_or_else(|| bad("'distinct_ids' is a required parameter"))?
        .into_iter()
        .collect();
    let range = p.range(false)?;
    let population = p.population(range);
    let mut events: Vec<&QueryEvent> = population
        .iter()
        .filter(|e| ids.contains(&e.distinct_id) || ids.contains(&e.resolved))
        .collect();
    events.sort_by_key(|e| e.time_secs);
    let events: Vec<Value> = events
        .into_iter()
        .map(|e| {
            let mut props = Map::new();
            props.insert("time".to_owned(), json!(e.time_secs));
            props.insert("$distinct_id".to_owned(), json!(e.distinct_id));
            for (k, v) in &e.properties {
                if k != "time" && k != "distinct_id" {
                    props.insert(k.clone(), v.clone());
                }
            }
            json!({"event": e.name, "properties": props})
        })
        .collect();
    Ok(json!({"status": "ok", "results": {"events": events}}))
}

pub(crate) fn jql(_: &Params<'_>) -> Answer {
    Err(bad("JQL has been sunset"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insight_keys_are_offset_timestamps() {
        assert_eq!(iso_day(crate::config::date(2024, 3, 1)), "2024-03-01T00:00:00+00:00");
    }
}
