//! `/retention` and `/retention/addiction`. Neither takes `on` here: the semantics define no
//! segmented shape, so the mock refuses it rather than ignore it.

use serde_json::json;

use super::params::{Answer, Params, bad};
use crate::analytics::retention::{self, RetentionSpec};
use crate::analytics::{DayRange, Unit};

const COHORT_UNITS: [Unit; 3] = [Unit::Day, Unit::Week, Unit::Month];

fn refuse_on(p: &Params<'_>) -> Result<(), super::params::Bad> {
    match p.get("on") {
        Some(_) => {
            Err(bad("Invalid value for parameter 'on': segmenting is not supported by the mock"))
        }
        None => Ok(()),
    }
}

pub(crate) fn retention(p: &Params<'_>) -> Answer {
    let range = p.range(false)?;
    let compounded = match p.get("retention_type").map(str::trim) {
        None | Some("birth") => false,
        Some("compounded") => true,
        Some(other) => {
            return Err(bad(format!("Invalid value for parameter 'retention_type': {other:?}")));
        }
    };
    let born_event = p.required("born_event")?;
    let return_event = p.get("event");
    let born_where = p.where_expr("born_where")?;
    let return_where = p.where_expr("where")?;
    let interval = p.number("interval", 1, 1_000)?.max(1);
    let interval_count = p.number("interval_count", 1, 1_000)?;
    let unit = p.unit("unit", Some(Unit::Day), &COHORT_UNITS)?;
    let unbounded = p.flag("unbounded_retention")?;
    refuse_on(p)?;
    let today = p.today();
    let population = p.population(DayRange { from: range.from, to: today.max(range.to) });
    let spec = RetentionSpec {
        born_event,
        return_event,
        born_where: born_where.as_ref(),
        return_where: return_where.as_ref(),
        compounded,
        range,
        unit,
        interval,
        interval_count,
        unbounded,
        today,
    };
    Ok(retention::retention_json(population.iter(), spec))
}

pub(crate) fn addiction(p: &Params<'_>) -> Answer {
    let range = p.range(false)?;
    let unit = p.unit("unit", None, &COHORT_UNITS)?;
    let addiction_unit = p.unit("addiction_unit", None, &[Unit::Hour, Unit::Day])?;
    let event = p.get("event");
    let where_expr = p.where_expr("where")?;
    p.limit(255)?;
    refuse_on(p)?;
    let buckets = p.buckets(unit, range)?;
    let population = p.population(range);
    let events = population.iter().filter(|e| {
        event.is_none_or(|name| e.name == name)
            && where_expr.as_ref().is_none_or(|w| w.matches(&e.properties))
    });
    let counts = retention::addiction_json(events, &buckets, addiction_unit);
    Ok(if p.variants() { counts } else { json!({"data": counts}) })
}
