//! `/retention` (birth and compounded cohorts) and `/retention/addiction` (frequency).

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{NaiveDate, NaiveDateTime};
use serde_json::{Map, Value, json};

use super::{Buckets, DayRange, Unit, datetime, secs};
use crate::filter::WhereExpr;
use crate::project::QueryEvent;

/// What a retention query asks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RetentionSpec<'a> {
    pub(crate) born_event: &'a str,
    /// `None`: any event counts as coming back.
    pub(crate) return_event: Option<&'a str>,
    pub(crate) born_where: Option<&'a WhereExpr>,
    pub(crate) return_where: Option<&'a WhereExpr>,
    pub(crate) compounded: bool,
    /// Days cohorts are born on.
    pub(crate) range: DayRange,
    /// Cohort bucket and interval unit: day, week or month.
    pub(crate) unit: Unit,
    /// Interval length in units.
    pub(crate) interval: u32,
    /// Intervals after the 0th.
    pub(crate) interval_count: u32,
    pub(crate) unbounded: bool,
    /// Intervals starting after this day are not listed.
    pub(crate) today: NaiveDate,
}

/// `{"<cohort>": {"counts": [...], "first": n}, ...}`, cohorts in time order.
pub(crate) fn retention_json<'a>(
    events: impl Iterator<Item = &'a QueryEvent>,
    spec: RetentionSpec<'_>,
) -> Value {
    let mut events: Vec<&QueryEvent> = events.collect();
    events.sort_by_key(|e| e.time_secs);
    // cohort start -> user -> birth time
    let mut cohorts: BTreeMap<NaiveDateTime, HashMap<&str, i64>> = BTreeMap::new();
    let mut born: HashSet<&str> = HashSet::new();
    let mut returns: HashMap<&str, Vec<i64>> = HashMap::new();
    for e in &events {
        let user = e.resolved.as_str();
        if e.name == spec.born_event
            && spec.range.contains(e.time_secs)
            && spec.born_where.is_none_or(|w| w.matches(&e.properties))
            && (spec.compounded || born.insert(user))
        {
            let start = spec.unit.floor(datetime(e.time_secs));
            cohorts.entry(start).or_default().entry(user).or_insert(e.time_secs);
        }
        if spec.return_event.is_none_or(|r| e.name == r)
            && spec.return_where.is_none_or(|w| w.matches(&e.properties))
        {
            returns.entry(user).or_default().push(e.time_secs);
        }
    }
    let step = spec.interval.max(1);
    let mut out = Map::new();
    for (start, members) in cohorts {
        let edges: Vec<i64> =
            (0..=spec.interval_count + 1).map(|i| secs(spec.unit.add(start, i * step))).collect();
        let listed = (0..=spec.interval_count as usize)
            .filter(|i| datetime(edges[*i]).date() <= spec.today)
            .count();
        let mut counts = vec![0_u64; listed];
        for (user, birth) in &members {
            let mut hit = vec![false; listed];
            for t in returns.get(user).into_iter().flatten().filter(|t| **t >= *birth) {
                let i = edges.partition_point(|edge| *edge <= *t);
                if let Some(slot) = i.checked_sub(1).and_then(|i| hit.get_mut(i)) {
                    *slot = true;
                }
            }
            if spec.unbounded {
                if let Some(last) = hit.iter().rposition(|h| *h) {
                    counts[..=last].iter_mut().for_each(|c| *c += 1);
                }
            } else {
                counts.iter_mut().zip(&hit).filter(|(_, h)| **h).for_each(|(c, _)| *c += 1);
            }
        }
        out.insert(spec.unit.label(start), json!({"counts": counts, "first": members.len()}));
    }
    Value::Object(out)
}

/// `{"<bucket>": [counts...]}` for every bucket: `counts[k]` users did the event in at least
/// `k + 1` distinct `addiction` units (hours or days) of the bucket.
pub(crate) fn addiction_json<'a>(
    events: impl Iterator<Item = &'a QueryEvent>,
    buckets: &Buckets,
    addiction: Unit,
) -> Value {
    let unit_secs = if addiction == Unit::Hour { 3_600 } else { 86_400 };
    let mut seen: Vec<HashMap<&str, HashSet<i64>>> = vec![HashMap::new(); buckets.len()];
    for e in events {
        let Some(i) = buckets.index(e.time_secs) else { continue };
        let offset = (e.time_secs - secs(buckets.starts[i])).div_euclid(unit_secs);
        seen[i].entry(e.resolved.as_str()).or_default().insert(offset);
    }
    let out: Map<String, Value> = buckets
        .starts
        .iter()
        .zip(seen)
        .map(|(start, users)| {
            let span = secs(buckets.unit.add(*start, 1)) - secs(*start);
            let len = usize::try_from(span / unit_secs).unwrap_or(0).max(1);
            let mut counts = vec![0_u64; len];
            for units in users.values() {
                counts.iter_mut().take(units.len()).for_each(|c| *c += 1);
            }
            (buckets.unit.label(*start), json!(counts))
        })
        .collect();
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::midnight;
    use crate::config::date;

    fn ev(name: &str, day: u32, hour: i64, user: &str) -> QueryEvent {
        QueryEvent {
            name: name.to_owned(),
            time_secs: secs(midnight(date(2024, 1, day))) + hour * 3_600,
            distinct_id: user.to_owned(),
            resolved: user.to_owned(),
            properties: serde_json::Map::new(),
        }
    }

    fn spec(compounded: bool, unbounded: bool) -> RetentionSpec<'static> {
        RetentionSpec {
            born_event: "S",
            return_event: Some("R"),
            born_where: None,
            return_where: None,
            compounded,
            range: DayRange { from: date(2024, 1, 1), to: date(2024, 1, 2) },
            unit: Unit::Day,
            interval: 1,
            interval_count: 3,
            unbounded,
            today: date(2024, 1, 4),
        }
    }

    fn events() -> Vec<QueryEvent> {
        vec![
            ev("S", 1, 10, "a"),
            ev("R", 1, 9, "a"), // before birth: not a return
            ev("R", 1, 11, "a"),
            ev("R", 3, 0, "a"),
            ev("S", 1, 5, "b"),
            ev("S", 2, 5, "b"), // second born day: only compounded counts it
            ev("R", 2, 6, "b"),
            ev("R", 5, 6, "b"), // interval 3 of the first cohort starts after today
        ]
    }

    #[test]
    fn birth_cohorts_count_returns_per_interval() {
        let v = retention_json(events().iter(), spec(false, false));
        assert_eq!(v, json!({"2024-01-01": {"counts": [1, 1, 1, 0], "first": 2}}));
        let v = retention_json(events().iter(), spec(false, true));
        assert_eq!(v, json!({"2024-01-01": {"counts": [2, 2, 1, 0], "first": 2}}));
    }

    #[test]
    fn compounded_cohorts_include_every_born_day_and_list_started_intervals() {
        let v = retention_json(events().iter(), spec(true, false));
        assert_eq!(v["2024-01-01"], json!({"counts": [1, 1, 1, 0], "first": 2}));
        // From 2024-01-02, intervals start on the 2nd, 3rd and 4th: the 5th is not listed.
        assert_eq!(v["2024-01-02"], json!({"counts": [1, 0, 0], "first": 1}));
    }

    #[test]
    fn addiction_counts_distinct_hours_per_user() {
        let events =
            [ev("E", 1, 1, "a"), ev("E", 1, 1, "a"), ev("E", 1, 5, "a"), ev("E", 1, 3, "b")];
        let buckets = Buckets::new(Unit::Day, date(2024, 1, 1), date(2024, 1, 2));
        let v = addiction_json(events.iter(), &buckets, Unit::Hour);
        let mut want = vec![0; 24];
        want[0] = 2;
        want[1] = 1;
        assert_eq!(v["2024-01-01"], json!(want));
        assert_eq!(v["2024-01-02"], json!(vec![0; 24]));
        let weeks = Buckets::new(Unit::Week, date(2024, 1, 1), date(2024, 1, 2));
        assert_eq!(
            addiction_json(events.iter(), &weeks, Unit::Day)["2024-01-01"],
            json!([2, 0, 0, 0, 0, 0, 0])
        );
        let months = Buckets::new(Unit::Month, date(2024, 2, 1), date(2024, 2, 2));
        assert_eq!(
            addiction_json(events.iter(), &months, Unit::Day)["2024-02-01"]
                .as_array()
                .map(Vec::len),
            Some(29)
        );
    }
}
