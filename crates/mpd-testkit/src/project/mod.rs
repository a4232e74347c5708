//! The project's truth: what a fault-free export of any day serves, and the profiles.

mod day;
mod file;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use chrono::NaiveDate;
use serde_json::Value;

pub(crate) use day::{DayBuilder, DayData};

use crate::Result;
use crate::config::MockConfig;
use crate::synth::{EVENT_NAMES, GeneratedLine, Synth, UserProfile};

/// Generated days are cached up to this many bytes, then the cache starts over; regenerating
/// is deterministic, so eviction never changes what is served.
const CACHE_LIMIT_BYTES: usize = 256 << 20;

/// The synthetic (or file-backed) Mixpanel project a [`crate::MockServer`] serves.
#[derive(Debug)]
pub struct Project {
    synth: Synth,
    file: Option<file::FileData>,
    profiles: Vec<UserProfile>,
    groups: Vec<Value>,
    cache: Mutex<DayCache>,
    late: Mutex<HashMap<NaiveDate, LateDay>>,
}

#[derive(Debug, Default)]
struct DayCache {
    days: HashMap<NaiveDate, Arc<DayData>>,
    bytes: usize,
}

#[derive(Debug, Default)]
struct LateDay {
    batches: u32,
    lines: Vec<GeneratedLine>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking test thread must not take the whole mock down with it.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Project {
    /// Builds the project described by `config`, reading `jsonl_file` if set.
    pub fn new(config: &MockConfig) -> Result<Self> {
        let synth = Synth::new(config);
        let file = match &config.jsonl_file {
            Some(path) => Some(file::load(path)?),
            None => None,
        };
        Ok(Self {
            profiles: synth.profiles(),
            groups: synth.group_profiles(),
            synth,
            file,
            cache: Mutex::default(),
            late: Mutex::default(),
        })
    }

    /// The day's body as served without faults or filters (every line ends in `\n`).
    pub fn day_bytes(&self, day: NaiveDate) -> Bytes {
        self.day(day).bytes.clone()
    }

    pub(crate) fn day(&self, day: NaiveDate) -> Arc<DayData> {
        if let Some(hit) = lock(&self.cache).days.get(&day) {
            return Arc::clone(hit);
        }
        let late: Vec<GeneratedLine> =
            lock(&self.late).get(&day).map(|l| l.lines.clone()).unwrap_or_default();
        let base = match &self.file {
            Some(f) => {
                let base = f.days.get(&day).cloned().unwrap_or_default();
                if late.is_empty() {
                    // File days already live in memory; caching them again would double it.
                    return base;
                }
                base
            }
            None => Arc::default(),
        };
        let generated = if self.file.is_none() { self.synth.day_lines(day) } else { Vec::new() };
        let mut b = DayBuilder::with_capacity(
            base.bytes.len() + (generated.len() + late.len()) * 480,
            base.lines.len() + generated.len() + late.len(),
        );
        for (line, span) in base.iter_lines() {
            b.push(line, span.time_ms);
        }
        for l in generated.iter().chain(&late) {
            b.push(l.text.as_bytes(), l.time_ms);
        }
        let data = Arc::new(b.finish());
        let mut cache = lock(&self.cache);
        if cache.bytes + data.bytes.len() > CACHE_LIMIT_BYTES {
            cache.days.clear();
            cache.bytes = 0;
        }
        cache.bytes += data.bytes.len();
        cache.days.insert(day, Arc::clone(&data));
        data
    }

    /// Adds `n` new events to `day`, processed later than anything already there, and returns
    /// their export lines; later exports of that day include them.
    pub fn add_late_events(&self, day: NaiveDate, n: u32) -> Vec<String> {
        let added = {
            let mut late = lock(&self.late);
            let entry = late.entry(day).or_default();
            let added = self.synth.late_lines(day, entry.batches, n);
            entry.batches += 1;
            entry.lines.extend(added.iter().cloned());
            added
        };
        let mut cache = lock(&self.cache);
        if let Some(old) = cache.days.remove(&day) {
            cache.bytes = cache.bytes.saturating_sub(old.bytes.len());
        }
        added.into_iter().map(|l| l.text).collect()
    }

    /// Exactly the lines a fault-free export of `day` serves, in order, without `\n`
    /// (true duplicates and late events included).
    pub fn export_lines(&self, day: NaiveDate) -> Vec<String> {
        self.day(day)
            .iter_lines()
            .map(|(line, _)| String::from_utf8_lossy(line).into_owned())
            .collect()
    }

    /// [`Project::export_lines`] of every day from `from` to `to`, inclusive, in day order.
    pub fn export_lines_range(&self, from: NaiveDate, to: NaiveDate) -> Vec<String> {
        from.iter_days().take_while(|d| *d <= to).flat_map(|d| self.export_lines(d)).collect()
    }

    /// The range's lines with true duplicates removed: the first copy per `($insert_id, time)`
    /// wins; lines without `$insert_id` are keyed by (event, distinct_id, time, properties).
    pub fn deduplicated(&self, from: NaiveDate, to: NaiveDate) -> Vec<String> {
        let mut seen = HashSet::new();
        self.export_lines_range(from, to)
            .into_iter()
            .filter(|line| seen.insert(dedup_key(line)))
            .collect()
    }

    /// How many lines of the range [`Project::deduplicated`] drops.
    pub fn true_duplicates(&self, from: NaiveDate, to: NaiveDate) -> usize {
        self.export_lines_range(from, to).len() - self.deduplicated(from, to).len()
    }

    /// Engage results for user profiles: `{"$distinct_id": .., "$properties": {..}}`.
    pub fn profiles(&self) -> Vec<Value> {
        self.profiles.iter().map(|p| p.value.clone()).collect()
    }

    /// Engage results for group profiles (served for any `data_group_id`).
    pub fn group_profiles(&self) -> Vec<Value> {
        self.groups.clone()
    }

    /// Distinct ids of the profiles in cohort `cohort_id` (`filter_by_cohort={"id": N}`).
    pub fn cohort_members(&self, cohort_id: i64) -> Vec<String> {
        self.profiles
            .iter()
            .filter(|p| self.synth.in_cohort(p.user, cohort_id))
            .filter_map(|p| p.value["$distinct_id"].as_str().map(str::to_owned))
            .collect()
    }

    pub(crate) fn group_profile_values(&self) -> &[Value] {
        &self.groups
    }

    pub(crate) fn user_profiles(&self) -> &[UserProfile] {
        &self.profiles
    }

    pub(crate) fn in_cohort(&self, user: u32, cohort_id: i64) -> bool {
        self.synth.in_cohort(user, cohort_id)
    }

    /// Event names of the project, most frequent first (sorted for a JSONL file).
    pub fn event_names(&self) -> Vec<String> {
        match &self.file {
            Some(f) => f.event_names.clone(),
            None => EVENT_NAMES.iter().map(|s| (*s).to_owned()).collect(),
        }
    }
}

fn dedup_key(line: &str) -> String {
    let Ok(v) = serde_json::from_str::<Value>(line) else {
        return format!("raw\u{0}{line}");
    };
    let props = &v["properties"];
    let time = props["time"].to_string();
    match props["$insert_id"].as_str() {
        Some(id) => format!("id\u{0}{id}\u{0}{time}"),
        None => format!(
            "synthetic\u{0}{}\u{0}{}\u{0}{time}\u{0}{}",
            v["event"],
            props["distinct_id"],
            canonical(props)
        ),
    }
}

/// JSON text with object keys sorted at every level, whatever serde_json's map order is.
fn canonical(v: &Value) -> String {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let fields: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::from(k.as_str()), canonical(&map[k])))
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(canonical).collect();
            format!("[{}]", items.join(","))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::date;

    fn project() -> Project {
        Project::new(&MockConfig {
            duplicate_rate: 0.05,
            missing_insert_id_rate: 0.05,
            ..MockConfig::default()
        })
        .unwrap()
    }

    #[test]
    fn export_lines_match_the_cached_bytes() {
        let p = project();
        let day = date(2024, 5, 1);
        let mut joined = p.export_lines(day).join("\n");
        joined.push('\n');
        assert_eq!(p.day_bytes(day), Bytes::from(joined));
        assert_eq!(p.export_lines(day), p.export_lines(day));
    }

    #[test]
    fn dedup_drops_exactly_the_true_duplicates() {
        let p = project();
        let (from, to) = (date(2024, 5, 1), date(2024, 5, 3));
        let all = p.export_lines_range(from, to);
        let dedup = p.deduplicated(from, to);
        assert_eq!(all.len(), 600 + p.true_duplicates(from, to));
        assert_eq!(dedup.len(), 600);
        assert!(p.true_duplicates(from, to) > 0);
    }

    #[test]
    fn late_events_join_the_day_and_are_not_duplicates() {
        let p = project();
        let day = date(2024, 5, 1);
        let before = p.export_lines(day);
        let late = p.add_late_events(day, 3);
        let after = p.export_lines(day);
        assert_eq!(after.len(), before.len() + 3);
        assert_eq!(&after[before.len()..], &late[..]);
        assert_eq!(p.deduplicated(day, day).len(), 203);
    }

    #[test]
    fn missing_insert_id_lines_dedup_on_their_content() {
        let a = r#"{"event":"E","properties":{"time":1,"distinct_id":"x","b":1,"a":2}}"#;
        let b = r#"{"event":"E","properties":{"a":2,"distinct_id":"x","time":1,"b":1}}"#;
        let c = r#"{"event":"E","properties":{"time":1,"distinct_id":"x","b":2,"a":2}}"#;
        assert_eq!(dedup_key(a), dedup_key(b));
        assert_ne!(dedup_key(a), dedup_key(c));
    }

    #[test]
    fn cohort_members_are_profiles() {
        let p = project();
        let ids: HashSet<String> = p
            .profiles()
            .iter()
            .filter_map(|v| v["$distinct_id"].as_str().map(str::to_owned))
            .collect();
        let members = p.cohort_members(1);
        assert!(!members.is_empty());
        assert!(members.iter().all(|m| ids.contains(m)));
    }
}
