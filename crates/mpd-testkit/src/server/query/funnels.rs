//! `/funnels/list` and `/funnels` over the project's saved funnels.

use serde_json::json;

use super::params::{Answer, Bad, Params, bad};
use crate::analytics::funnels::{self, FunnelSpec};
use crate::analytics::{DayRange, Unit};

/// Mixpanel caps conversion windows at 90 days.
const MAX_WINDOW_SECS: i64 = 90 * 86_400;

pub(crate) fn list(p: &Params<'_>) -> Answer {
    let funnels: Vec<_> = p
        .state
        .project
        .saved_funnels()
        .into_iter()
        .map(|f| json!({"funnel_id": f.id, "name": f.name}))
        .collect();
    Ok(json!(funnels))
}

pub(crate) fn funnel(p: &Params<'_>) -> Answer {
    let raw_id = p.required("funnel_id")?;
    let saved = raw_id
        .trim()
        .parse::<u64>()
        .ok()
        .and_then(|id| p.state.project.saved_funnels().into_iter().find(|f| f.id == id))
        .ok_or_else(|| {
            bad(format!("Invalid value for parameter 'funnel_id': no funnel {raw_id}"))
        })?;
    let range = p.range(false)?;
    let window_secs = window(p)?.unwrap_or(saved.window_secs);
    let unit = p.unit("unit", Some(Unit::Day), &[Unit::Day, Unit::Week, Unit::Month])?;
    let on = p.property("on")?;
    let where_expr = p.where_expr("where")?;
    let limit = p.limit(255)?;
    let buckets = p.buckets(unit, range)?;
    // Later steps may happen after `to_date`, up to the last day served.
    let population = p.population(DayRange { from: range.from, to: p.today().max(range.to) });
    let spec = FunnelSpec {
        steps: &saved.steps,
        window_secs,
        range,
        where_expr: where_expr.as_ref(),
        on: on.as_ref(),
    };
    let journeys = funnels::journeys(population.iter(), spec);
    let segmented = on.is_some().then_some(limit);
    let with_overall = p.variants() && segmented.is_none();
    Ok(funnels::funnel_json(&journeys, &saved.steps, &buckets, segmented, with_overall))
}

/// `length` × `length_unit` in seconds, when `length` is given.
fn window(p: &Params<'_>) -> Result<Option<i64>, Bad> {
    let Some(raw) = p.get("length") else { return Ok(None) };
    let length = raw
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| bad(format!("Invalid value for parameter 'length': {raw:?}")))?;
    let unit_secs = match p.get("length_unit").map(str::trim) {
        None | Some("day") => 86_400,
        Some("hour") => 3_600,
        Some("minute") => 60,
        Some("second") => 1,
        Some(other) => {
            return Err(bad(format!("Invalid value for parameter 'length_unit': {other:?}")));
        }
    };
    let secs = length.saturating_mul(unit_secs);
    if secs > MAX_WINDOW_SECS {
        return Err(bad("the conversion window cannot be longer than 90 days"));
    }
    Ok(Some(secs))
}
