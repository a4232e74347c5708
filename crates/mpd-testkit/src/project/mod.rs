//! The project's truth: what a fault-free export of any day serves, and the profiles.

mod day;
mod file;
mod query;
mod rekey;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use bytes::Bytes;
use chrono::NaiveDate;
use serde_json::Value;

pub(crate) use day::{DayBuilder, DayData};
pub use query::{QueryEvent, SavedFunnel};

use crate::Result;
use crate::config::MockConfig;
use crate::synth::{EVENT_NAMES, GeneratedLine, Synth, UserProfile};
use rekey::Rekeyer;

/// Generated days are cached up to this many bytes, then the cache starts over; regenerating
/// is deterministic, so eviction never changes what is served.
const CACHE_LIMIT_BYTES: usize = 256 << 20;

/// The synthetic (or file-backed) Mixpanel project a [`crate::MockServer`] serves.
#[derive(Debug)]
pub struct Project {
    project_id: u64,
    synth: Synth,
    file: Option<file::FileData>,
    profiles: Vec<UserProfile>,
    groups: Vec<Value>,
    cache: Mutex<DayCache>,
    late: Mutex<HashMap<NaiveDate, LateDay>>,
    rekey_identified: AtomicBool,
    /// Built on first use: big benchmark projects that never re-key never pay for it.
    rekeyer: OnceLock<Rekeyer>,
    /// Parsed, deduplicated days for the Query API.
    query_cache: Mutex<query::QueryCache>,
    /// `distinct_id` -> user, from the identity merges; built on the first query.
    resolver: OnceLock<HashMap<String, String>>,
    first_day: NaiveDate,
    last_day: NaiveDate,
}

/// Days as served, keyed by (day, re-keyed or not) so flipping the switch can never serve
/// the other variant's bytes.
#[derive(Debug, Default)]
struct DayCache {
    days: HashMap<(NaiveDate, bool), Arc<DayData>>,
    bytes: usize,
    /// Bumped whenever a day's content changes, so a body built from older content is not
    /// cached after the change.
    generation: u64,
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
            project_id: config.project_id,
            profiles: synth.profiles(),
            groups: synth.group_profiles(),
            synth,
            file,
            cache: Mutex::default(),
            late: Mutex::default(),
            rekey_identified: AtomicBool::new(config.rekey_identified),
            rekeyer: OnceLock::new(),
            query_cache: Mutex::default(),
            resolver: OnceLock::new(),
            first_day: config.first_day,
            last_day: config.last_day,
        })
    }

    /// The first and last day holding data: the file's days for a JSONL file, else the
    /// configured `first_day..=last_day`.
    pub fn data_range(&self) -> (NaiveDate, NaiveDate) {
        match &self.file {
            Some(f) => match (f.days.keys().next(), f.days.keys().next_back()) {
                (Some(first), Some(last)) => (*first, *last),
                _ => (self.first_day, self.first_day),
            },
            None => (self.first_day, self.last_day.max(self.first_day)),
        }
    }

    /// The Mixpanel project id (the folder name of a pipelines tree).
    pub fn project_id(&self) -> u64 {
        self.project_id
    }

    /// Switches identity re-keying of served export lines on or off (see
    /// [`MockConfig::rekey_identified`]); takes effect on the next export.
    pub fn set_rekey_identified(&self, on: bool) {
        self.rekey_identified.store(on, Ordering::SeqCst);
    }

    /// Whether served export lines are currently re-keyed.
    pub fn rekey_identified(&self) -> bool {
        self.rekey_identified.load(Ordering::SeqCst)
    }

    /// `("$device:<device id>", "<user id>")` for every user who is ever identified, in user
    /// order: the identity mappings a pipeline exports, and the merges re-keying applies.
    pub fn identity_merges(&self) -> Vec<(String, String)> {
        self.synth.identity_merges()
    }

    /// The day's body as served without faults or filters (every line ends in `\n`).
    pub fn day_bytes(&self, day: NaiveDate) -> Bytes {
        self.day(day).bytes.clone()
    }

    /// The day as the export serves it now (re-keyed if the switch is on).
    pub(crate) fn day(&self, day: NaiveDate) -> Arc<DayData> {
        self.day_as(day, self.rekey_identified())
    }

    /// The day as ingested (`rekeyed == false`, what pipelines export) or as re-keyed.
    pub(crate) fn day_as(&self, day: NaiveDate, rekeyed: bool) -> Arc<DayData> {
        let generation = {
            let cache = lock(&self.cache);
            if let Some(hit) = cache.days.get(&(day, rekeyed)) {
                return Arc::clone(hit);
            }
            cache.generation
        };
        let late: Vec<GeneratedLine> =
            lock(&self.late).get(&day).map(|l| l.lines.clone()).unwrap_or_default();
        let base = match &self.file {
            Some(f) => {
                let base = f.days.get(&day).cloned().unwrap_or_default();
                if late.is_empty() && !rekeyed {
                    // File days already live in memory; caching them again would double it.
                    return base;
                }
                base
            }
            None => Arc::default(),
        };
        let generated = if self.file.is_none() { self.synth.day_lines(day) } else { Vec::new() };
        let rekeyer = rekeyed.then(|| self.rekeyer());
        let mut b = DayBuilder::with_capacity(
            base.bytes.len() + (generated.len() + late.len()) * 480,
            base.lines.len() + generated.len() + late.len(),
        );
        let lines = base
            .iter_lines()
            .map(|(line, span)| (line, span.time_ms))
            .chain(generated.iter().chain(&late).map(|l| (l.text.as_bytes(), l.time_ms)));
        for (line, time_ms) in lines {
            match rekeyer.and_then(|r| r.rekey(line)) {
                Some(rekeyed_line) => b.push(&rekeyed_line, time_ms),
                None => b.push(line, time_ms),
            }
        }
        let data = Arc::new(b.finish());
        let mut cache = lock(&self.cache);
        if cache.generation != generation {
            // Late events arrived while this body was built: serve it once, never cache it.
            return data;
        }
        if cache.bytes + data.bytes.len() > CACHE_LIMIT_BYTES {
            cache.days.clear();
            cache.bytes = 0;
        }
        cache.bytes += data.bytes.len();
        cache.days.insert((day, rekeyed), Arc::clone(&data));
        data
    }

    fn rekeyer(&self) -> &Rekeyer {
        self.rekeyer.get_or_init(|| Rekeyer::new(&self.identity_merges()))
    }

    /// Adds `n` new events to `day`, processed later than anything already there, and returns
    /// their export lines as the export serves them now (re-keyed if the switch is on); later
    /// exports of that day include them.
    pub fn add_late_events(&self, day: NaiveDate, n: u32) -> Vec<String> {
        let added = self.add_late_events_ingested(day, n);
        let rekeyer = self.rekey_identified().then(|| self.rekeyer());
        added
            .into_iter()
            .map(|line| match rekeyer.and_then(|r| r.rekey(line.text.as_bytes())) {
                Some(rekeyed) => String::from_utf8_lossy(&rekeyed).into_owned(),
                None => line.text,
            })
            .collect()
    }

    /// [`Project::add_late_events`], answering the lines as ingested (never re-keyed).
    pub(crate) fn add_late_events_ingested(&self, day: NaiveDate, n: u32) -> Vec<GeneratedLine> {
        let added = {
            let mut late = lock(&self.late);
            let entry = late.entry(day).or_default();
            let added = self.synth.late_lines(day, entry.batches, n);
            entry.batches += 1;
            entry.lines.extend(added.iter().cloned());
            added
        };
        {
            let mut cache = lock(&self.cache);
            cache.generation += 1;
            for key in [(day, false), (day, true)] {
                if let Some(old) = cache.days.remove(&key) {
                    cache.bytes = cache.bytes.saturating_sub(old.bytes.len());
                }
            }
        }
        // After the day cache, so a query day parsed after this sees the new lines.
        lock(&self.query_cache).invalidate(day);
        added
    }

    /// Exactly the lines a fault-free export of `day` serves, in order, without `\n`
    /// (true duplicates and late events included).
    ///
    /// With [`Project::set_rekey_identified`] on, the lines differ from those served with it
    /// off only in `properties.distinct_id`: anonymous events of identified users carry the
    /// user id instead of `$device:<uuid>`.
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

    fn parsed(lines: &[String]) -> Vec<Value> {
        lines.iter().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    #[test]
    fn rekey_changes_only_the_distinct_id_of_merged_anonymous_events() {
        let p = project();
        let merges: HashMap<String, String> = p.identity_merges().into_iter().collect();
        let day = date(2024, 5, 1);
        let original_bytes = p.day_bytes(day);
        let before = p.export_lines(day);
        p.set_rekey_identified(true);
        let after = p.export_lines(day);
        assert_eq!(after.len(), before.len());
        let mut rekeyed = 0;
        for (b, a) in parsed(&before).into_iter().zip(parsed(&after)) {
            let old_id = b["properties"]["distinct_id"].as_str().unwrap();
            let new_id = a["properties"]["distinct_id"].as_str().unwrap();
            match merges.get(old_id) {
                Some(user) => {
                    assert_eq!(new_id, user);
                    assert!(b["properties"].get("$user_id").is_none());
                    rekeyed += 1;
                }
                None => assert_eq!(new_id, old_id),
            }
            let (mut b, mut a) = (b, a);
            b["properties"]["distinct_id"] = Value::Null;
            a["properties"]["distinct_id"] = Value::Null;
            assert_eq!(a, b);
        }
        assert!(rekeyed > 0, "some anonymous events belong to users identified later");
        assert!(p.deduplicated(day, day).len() == 200);

        p.set_rekey_identified(false);
        assert_eq!(p.day_bytes(day), original_bytes);
        assert_eq!(p.export_lines(day), before);
    }

    #[test]
    fn late_events_are_rekeyed_like_the_rest_of_the_day() {
        let p = project();
        let day = date(2024, 5, 2);
        p.set_rekey_identified(true);
        let before = p.export_lines(day);
        let late = p.add_late_events(day, 40);
        let after = p.export_lines(day);
        assert_eq!(&after[before.len()..], &late[..]);
        p.set_rekey_identified(false);
        let ingested = p.export_lines(day);
        assert_eq!(ingested.len(), after.len());
        assert_ne!(ingested, after, "40 random late events include a merged anonymous one");
    }

    #[test]
    fn identity_merges_resolve_to_the_profiles() {
        let p = project();
        let merges = p.identity_merges();
        assert!(merges.iter().all(|(anon, _)| anon.starts_with("$device:")));
        let resolved: HashSet<&str> = merges.iter().map(|(_, user)| user.as_str()).collect();
        let profiles = p.profiles();
        let ids: HashSet<&str> =
            profiles.iter().filter_map(|v| v["$distinct_id"].as_str()).collect();
        assert_eq!(resolved, ids);
        assert_eq!(merges.len(), profiles.len());
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
