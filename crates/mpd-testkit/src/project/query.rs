//! The event population the Query API answers from: each day's served lines as ingested,
//! parsed once, true duplicates dropped, every event tagged with its resolved user.
//!
//! Parsed days are cached up to [`CACHE_LIMIT_EVENTS`] events, then the cache starts over;
//! late events drop their day from the cache.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::NaiveDate;
use serde_json::{Map, Value};

use super::{Project, lock};

/// Parsed events take about 2 KB each; this bounds the cache near 200 MB.
const CACHE_LIMIT_EVENTS: usize = 100_000;

/// One deduplicated event as the Query API sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryEvent {
    /// `event`.
    pub name: String,
    /// `properties.time` in whole seconds (millisecond times are scaled down).
    pub time_secs: i64,
    /// `properties.distinct_id` as ingested (`""` when absent).
    pub distinct_id: String,
    /// The user: the identity merge target of `distinct_id`, else `distinct_id` itself.
    pub resolved: String,
    /// Every property, `time` and `distinct_id` included.
    pub properties: Map<String, Value>,
}

/// Parsed days, invalidated by late events.
#[derive(Debug, Default)]
pub(super) struct QueryCache {
    days: HashMap<NaiveDate, Arc<Vec<QueryEvent>>>,
    events: usize,
    /// Bumped by late events, so a day parsed from older lines is not cached after them.
    generation: u64,
}

impl QueryCache {
    pub(super) fn invalidate(&mut self, day: NaiveDate) {
        self.generation += 1;
        if let Some(old) = self.days.remove(&day) {
            self.events = self.events.saturating_sub(old.len());
        }
    }
}

/// A saved funnel of the mock project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedFunnel {
    /// `funnel_id`.
    pub id: u64,
    /// Its name in `/funnels/list`.
    pub name: String,
    /// The step events, in order.
    pub steps: Vec<String>,
    /// The conversion window in seconds.
    pub window_secs: i64,
}

impl Project {
    /// The deduplicated events of `from..=to` in served order per day (late events last),
    /// with their resolved users: the population every Query API answer counts.
    pub fn query_events(&self, from: NaiveDate, to: NaiveDate) -> Vec<QueryEvent> {
        self.query_days(from, to).iter().flat_map(|d| d.iter().cloned()).collect()
    }

    /// Parsed days of `from..=to`, in day order.
    pub(crate) fn query_days(&self, from: NaiveDate, to: NaiveDate) -> Vec<Arc<Vec<QueryEvent>>> {
        from.iter_days().take_while(|d| *d <= to).map(|d| self.query_day(d)).collect()
    }

    fn query_day(&self, day: NaiveDate) -> Arc<Vec<QueryEvent>> {
        let generation = {
            let cache = lock(&self.query_cache);
            if let Some(hit) = cache.days.get(&day) {
                return Arc::clone(hit);
            }
            cache.generation
        };
        let resolver = self.resolver.get_or_init(|| self.identity_merges().into_iter().collect());
        let data = self.day_as(day, false);
        let mut seen = HashSet::new();
        let events: Vec<QueryEvent> = data
            .iter_lines()
            .filter_map(|(line, _)| parse(line, resolver))
            .filter(|(event, insert_id)| match insert_id {
                Some(id) => seen.insert((id.clone(), event.name.clone(), event.time_secs)),
                None => true,
            })
            .map(|(event, _)| event)
            .collect();
        let events = Arc::new(events);
        let mut cache = lock(&self.query_cache);
        if cache.generation == generation {
            if cache.events + events.len() > CACHE_LIMIT_EVENTS {
                cache.days.clear();
                cache.events = 0;
            }
            cache.events += events.len();
            cache.days.insert(day, Arc::clone(&events));
        }
        events
    }

    /// The saved funnels `/funnels/list` names and `/funnels` computes (ids fixed).
    pub fn saved_funnels(&self) -> Vec<SavedFunnel> {
        const DAY: i64 = 86_400;
        let funnel = |id: u64, name: &str, steps: &[&str], days: i64| SavedFunnel {
            id,
            name: name.to_owned(),
            steps: steps.iter().map(|s| (*s).to_owned()).collect(),
            window_secs: days * DAY,
        };
        vec![
            funnel(
                7001,
                "Purchase funnel",
                &["View Item", "Add To Cart", "Checkout Started", "Purchase"],
                7,
            ),
            funnel(7002, "Signup funnel", &["Page View", "Sign Up"], 1),
            funnel(7003, "Search to purchase", &["Search", "Purchase"], 3),
        ]
    }
}

/// The event and its `$insert_id`; `None` for lines that are not export-shaped.
fn parse(line: &[u8], resolver: &HashMap<String, String>) -> Option<(QueryEvent, Option<String>)> {
    let Value::Object(mut top) = serde_json::from_slice::<Value>(line).ok()? else {
        return None;
    };
    let name = match top.remove("event") {
        Some(Value::String(s)) => s,
        _ => return None,
    };
    let Some(Value::Object(properties)) = top.remove("properties") else {
        return None;
    };
    let time = properties.get("time").and_then(Value::as_f64)?;
    // Same magnitude rule as the export reader: above 1e11 the value is in milliseconds.
    let time_secs = if time.abs() > 1e11 { time / 1000.0 } else { time }.floor() as i64;
    let distinct_id = match properties.get("distinct_id") {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => String::new(),
        Some(other) => other.to_string(),
    };
    let resolved = resolver.get(&distinct_id).cloned().unwrap_or_else(|| distinct_id.clone());
    let insert_id = properties.get("$insert_id").and_then(Value::as_str).map(str::to_owned);
    Some((QueryEvent { name, time_secs, distinct_id, resolved, properties }, insert_id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{MockConfig, date};

    fn project() -> Project {
        Project::new(&MockConfig {
            events_per_day: 50,
            duplicate_rate: 0.2,
            missing_insert_id_rate: 0.05,
            n_users: 100,
            ..MockConfig::default()
        })
        .unwrap()
    }

    #[test]
    fn query_events_are_the_deduplicated_truth_with_resolved_users() {
        let p = project();
        let (from, to) = (date(2024, 2, 1), date(2024, 2, 3));
        let events = p.query_events(from, to);
        assert_eq!(events.len(), p.deduplicated(from, to).len());
        assert_eq!(events.len(), 150);
        let merges: HashMap<String, String> = p.identity_merges().into_iter().collect();
        let mut resolved = 0;
        for e in &events {
            let want = merges.get(&e.distinct_id).unwrap_or(&e.distinct_id);
            assert_eq!(&e.resolved, want);
            resolved += usize::from(e.resolved != e.distinct_id);
            assert_eq!(e.properties["time"].as_i64(), Some(e.time_secs));
        }
        assert!(resolved > 0);
    }

    #[test]
    fn late_events_refresh_the_cached_day() {
        let p = project();
        let day = date(2024, 2, 1);
        assert_eq!(p.query_events(day, day).len(), 50);
        p.add_late_events(day, 4);
        assert_eq!(p.query_events(day, day).len(), 54);
    }

    #[test]
    fn lines_without_an_insert_id_count_once_each_and_odd_lines_are_skipped() {
        let resolver = HashMap::from([("$device:a".to_owned(), "u_1".to_owned())]);
        let e = parse(
            br#"{"event":"E","properties":{"time":1700000000123,"distinct_id":"$device:a"}}"#,
            &resolver,
        )
        .unwrap();
        assert_eq!(e.0.time_secs, 1_700_000_000);
        assert_eq!(e.0.resolved, "u_1");
        assert_eq!(e.1, None);
        assert!(parse(b"not json", &resolver).is_none());
        assert!(parse(br#"{"event":"E","properties":{}}"#, &resolver).is_none());
    }
}
