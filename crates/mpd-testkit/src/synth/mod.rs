//! The deterministic synthetic project: users who start anonymous and get identified, their
//! events day by day, and their profiles. Everything derives from the seed and the day alone,
//! so any day can be regenerated on demand and always gives the same bytes.

mod json;
mod profiles;

use chrono::{DateTime, NaiveDate};

use crate::config::MockConfig;
use crate::prng::{Rng, hash};

pub(crate) use profiles::UserProfile;

const DAY_MS: i64 = 86_400_000;

/// Salts keep the streams derived from one seed independent of each other.
const SALT_IDENTIFY: u64 = 1;
const SALT_DEVICE: u64 = 2;
const SALT_ATTRS: u64 = 3;
const SALT_DAY: u64 = 4;
const SALT_EVENT: u64 = 5;
const SALT_LATE: u64 = 6;
const SALT_INSERT_ID: u64 = 7;

/// Every event name the synthetic project uses, most frequent first.
pub(crate) const EVENT_NAMES: [&str; 10] = [
    "Page View",
    "View Item",
    "Search",
    "Add To Cart",
    "Login",
    "Checkout Started",
    "Purchase",
    "Share",
    "Logout",
    "Sign Up",
];

const IDENTIFIED_EVENTS: [(&str, u32); 9] = [
    ("Page View", 30),
    ("View Item", 15),
    ("Search", 10),
    ("Add To Cart", 8),
    ("Login", 5),
    ("Checkout Started", 4),
    ("Purchase", 3),
    ("Share", 3),
    ("Logout", 2),
];

/// Anonymous visitors browse but cannot log in or buy.
const ANONYMOUS_EVENTS: [(&str, u32); 5] =
    [("Page View", 40), ("View Item", 15), ("Search", 12), ("Add To Cart", 5), ("Share", 2)];

/// Non-ASCII names on purpose: multi-byte chars must survive chunk boundaries.
pub(crate) const CITIES: [(&str, &str); 12] = [
    ("São Paulo", "BR"),
    ("Zürich", "CH"),
    ("東京", "JP"),
    ("New York", "US"),
    ("London", "GB"),
    ("Berlin", "DE"),
    ("Kraków", "PL"),
    ("Montréal", "CA"),
    ("Bengaluru", "IN"),
    ("Paris", "FR"),
    ("San Francisco", "US"),
    ("Sydney", "AU"),
];
const BROWSERS: [&str; 5] = ["Chrome", "Safari", "Firefox", "Edge", "Mobile Safari"];
const OSES: [&str; 5] = ["Windows", "Mac OS X", "iOS", "Android", "Linux"];
const LIBS: [(&str, &str); 4] =
    [("web", "2.55.0"), ("iphone", "4.1.0"), ("android", "7.3.1"), ("python", "4.10.0")];
const PAGES: [&str; 6] = ["/", "/pricing", "/docs", "/blog/naïve-bayes", "/signup", "/products/42"];
const REFERRERS: [&str; 4] = ["$direct", "https://www.google.com/", "https://t.co/", ""];
const QUERIES: [&str; 7] = [
    "running shoes",
    "café au lait",
    "🔍 gifts",
    "東京 hotels",
    "size 42",
    "\"quoted\" term",
    "naïve",
];
const CATEGORIES: [&str; 4] = ["shoes", "books", "électronique", "garden"];
const CURRENCIES: [&str; 4] = ["USD", "EUR", "BRL", "JPY"];
const METHODS: [&str; 3] = ["email", "google", "github"];
const CHANNELS: [&str; 3] = ["email", "twitter", "copy_link"];
pub(crate) const PLANS: [&str; 3] = ["free", "pro", "enterprise"];

/// When a user stops being anonymous.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Identify {
    /// Known before the data range starts.
    Before,
    /// Signs up at this instant (ms since epoch).
    At(i64),
    /// Stays anonymous.
    Never,
}

/// One generated line and the event time it carries, in ms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GeneratedLine {
    pub(crate) text: String,
    pub(crate) time_ms: i64,
}

/// The generator, configured once from a [`MockConfig`].
#[derive(Debug, Clone)]
pub(crate) struct Synth {
    seed: u64,
    n_users: u32,
    events_per_day: u32,
    first_day: NaiveDate,
    last_day: NaiveDate,
    empty_days: Vec<NaiveDate>,
    duplicate_rate: f64,
    missing_insert_id_rate: f64,
}

/// One event before rendering; rendering is a pure function of it.
struct Planned {
    name: &'static str,
    time_ms: i64,
    user: u32,
    seed: u64,
    anonymous_hot_shard: bool,
    has_insert_id: bool,
    processing_ms: i64,
}

impl Synth {
    pub(crate) fn new(config: &MockConfig) -> Self {
        Self {
            seed: config.seed,
            n_users: config.n_users.max(1),
            events_per_day: config.events_per_day,
            first_day: config.first_day,
            last_day: config.last_day,
            empty_days: config.empty_days.clone(),
            duplicate_rate: config.duplicate_rate,
            missing_insert_id_rate: config.missing_insert_id_rate,
        }
    }

    fn range_ms(&self) -> (i64, i64) {
        let start = day_start_ms(self.first_day);
        let end = day_start_ms(self.last_day) + DAY_MS;
        (start, end.max(start + DAY_MS))
    }

    pub(crate) fn identify(&self, user: u32) -> Identify {
        let h = hash(&[self.seed, u64::from(user), SALT_IDENTIFY]);
        let (start, end) = self.range_ms();
        match h % 100 {
            0..30 => Identify::Before,
            30..85 => {
                let span = u64::try_from(end - start).unwrap_or(1).max(1);
                Identify::At(start + i64::try_from((h >> 8) % span).unwrap_or(0))
            }
            _ => Identify::Never,
        }
    }

    fn identified_at(&self, user: u32, time_ms: i64) -> bool {
        match self.identify(user) {
            Identify::Before => true,
            Identify::At(t) => time_ms >= t,
            Identify::Never => false,
        }
    }

    pub(crate) fn user_id(user: u32) -> String {
        format!("u_{user:06}")
    }

    pub(crate) fn device_id(&self, user: u32) -> String {
        let a = hash(&[self.seed, u64::from(user), SALT_DEVICE]);
        let b = hash(&[self.seed, u64::from(user), SALT_DEVICE, 1]);
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            b >> 48,
            b & 0xffff_ffff_ffff
        )
    }

    /// `("$device:<device id>", "<user id>")` for every user who is ever identified, in user
    /// order: the merges Mixpanel has made by the time anyone exports.
    pub(crate) fn identity_merges(&self) -> Vec<(String, String)> {
        (0..self.n_users)
            .filter(|u| self.identify(*u) != Identify::Never)
            .map(|u| (format!("$device:{}", self.device_id(u)), Self::user_id(u)))
            .collect()
    }

    /// Stable per-user attribute in `0..n`, different for each `which`.
    pub(crate) fn attr(&self, user: u32, which: u64, n: usize) -> usize {
        let h = hash(&[self.seed, u64::from(user), SALT_ATTRS, which]);
        usize::try_from(h % n as u64).unwrap_or(0)
    }

    fn has_data(&self, day: NaiveDate) -> bool {
        day >= self.first_day && day <= self.last_day && !self.empty_days.contains(&day)
    }

    /// The day's lines in served order: events by time, then the true duplicates.
    pub(crate) fn day_lines(&self, day: NaiveDate) -> Vec<GeneratedLine> {
        if !self.has_data(day) {
            return Vec::new();
        }
        let start = day_start_ms(day);
        let day_key = day_key(day);
        let n = self.events_per_day as usize;
        let mut planned: Vec<Planned> = (0..self.n_users)
            .filter_map(|u| match self.identify(u) {
                Identify::At(t) if t >= start && t < start + DAY_MS => Some((t, u)),
                _ => None,
            })
            .take(n)
            .enumerate()
            .map(|(i, (t, u))| {
                let mut p = self.plan(day_key, i as u64, SALT_DAY, start, Some((t, u)));
                p.name = "Sign Up";
                p
            })
            .collect();
        for i in planned.len()..n {
            planned.push(self.plan(day_key, i as u64, SALT_DAY, start, None));
        }
        planned.sort_by_key(|p| (p.time_ms, p.seed));

        let mut rng = Rng::new(hash(&[self.seed, day_key, SALT_DAY, u64::MAX]));
        let mut lines: Vec<GeneratedLine> =
            planned.iter().map(|p| self.render(p, p.processing_ms)).collect();
        for p in &planned {
            if p.has_insert_id && rng.chance(self.duplicate_rate) {
                let again = p.processing_ms + 3_600_000 + rand_ms(&mut rng, DAY_MS);
                lines.push(self.render(p, again));
            }
        }
        lines
    }

    /// `n` new events for `day`, processed days after it; `batch` keeps batches distinct.
    pub(crate) fn late_lines(&self, day: NaiveDate, batch: u32, n: u32) -> Vec<GeneratedLine> {
        let start = day_start_ms(day);
        let salt = SALT_LATE + (u64::from(batch) << 8);
        (0..u64::from(n))
            .map(|i| {
                let mut p = self.plan(day_key(day), i, salt, start, None);
                p.has_insert_id = true;
                p.processing_ms = start
                    + 4 * DAY_MS
                    + i64::from(batch) * 3_600_000
                    + (p.processing_ms - p.time_ms);
                self.render(&p, p.processing_ms)
            })
            .collect()
    }

    fn plan(
        &self,
        day_key: u64,
        index: u64,
        salt: u64,
        day_start: i64,
        fixed: Option<(i64, u32)>,
    ) -> Planned {
        let seed = hash(&[self.seed, day_key, salt, index]);
        let mut rng = Rng::new(seed);
        let (time_ms, user) = fixed.unwrap_or_else(|| {
            let t = day_start + rand_ms(&mut rng, DAY_MS);
            // Squaring skews activity towards low-numbered "power users".
            let r = rng.unit();
            let u = ((r * r) * f64::from(self.n_users)) as u32;
            (t, u.min(self.n_users - 1))
        });
        let events: &[(&'static str, u32)] =
            if self.identified_at(user, time_ms) { &IDENTIFIED_EVENTS } else { &ANONYMOUS_EVENTS };
        Planned {
            name: rng.weighted(events),
            time_ms,
            user,
            seed,
            anonymous_hot_shard: rng.chance(0.002),
            has_insert_id: !rng.chance(self.missing_insert_id_rate),
            processing_ms: time_ms + 200 + rand_ms(&mut rng, 90_000),
        }
    }

    fn render(&self, p: &Planned, processing_ms: i64) -> GeneratedLine {
        let mut out = String::with_capacity(480);
        let identified = p.name == "Sign Up" || self.identified_at(p.user, p.time_ms);
        let device = self.device_id(p.user);
        out.push_str("{\"event\":");
        json::push_str(&mut out, p.name);
        out.push_str(",\"properties\":{");
        json::int_field(&mut out, "time", p.time_ms.div_euclid(1000));
        if p.anonymous_hot_shard {
            json::str_field(&mut out, "distinct_id", "");
        } else if identified {
            json::str_field(&mut out, "distinct_id", &Self::user_id(p.user));
        } else {
            json::str_field(&mut out, "distinct_id", &format!("$device:{device}"));
        }
        if p.has_insert_id {
            let a = hash(&[p.seed, SALT_INSERT_ID]);
            let b = hash(&[p.seed, SALT_INSERT_ID, 1]);
            json::str_field(&mut out, "$insert_id", &format!("{a:016x}{b:016x}"));
        }
        json::str_field(&mut out, "$device_id", &device);
        if identified && !p.anonymous_hot_shard {
            json::str_field(&mut out, "$user_id", &Self::user_id(p.user));
        }
        json::int_field(&mut out, "mp_processing_time_ms", processing_ms);
        let (city, country) = CITIES[self.attr(p.user, 0, CITIES.len())];
        let (lib, lib_version) = LIBS[self.attr(p.user, 3, LIBS.len())];
        json::str_field(&mut out, "$browser", BROWSERS[self.attr(p.user, 1, BROWSERS.len())]);
        json::str_field(&mut out, "$os", OSES[self.attr(p.user, 2, OSES.len())]);
        json::str_field(&mut out, "$city", city);
        json::str_field(&mut out, "mp_country_code", country);
        json::str_field(&mut out, "mp_lib", lib);
        json::str_field(&mut out, "$lib_version", lib_version);
        json::str_field(&mut out, "$mp_api_endpoint", "api.mixpanel.com");
        custom_properties(&mut out, p);
        out.push_str("}}");
        GeneratedLine { text: out, time_ms: p.time_ms }
    }
}

fn custom_properties(out: &mut String, p: &Planned) {
    let mut rng = Rng::new(hash(&[p.seed, SALT_EVENT]));
    match p.name {
        "Page View" => {
            json::str_field(out, "page", rng.pick(&PAGES));
            json::str_field(out, "referrer", rng.pick(&REFERRERS));
        }
        "Search" => {
            json::str_field(out, "query", rng.pick(&QUERIES));
            json::int_field(out, "results", rng.below(200) as i64);
        }
        "View Item" => {
            json::str_field(out, "product_id", &format!("p_{}", rng.below(500)));
            json::str_field(out, "category", rng.pick(&CATEGORIES));
        }
        "Add To Cart" => {
            json::str_field(out, "product_id", &format!("p_{}", rng.below(500)));
            json::cents_field(out, "price", 199 + rng.below(20_000));
            json::int_field(out, "quantity", 1 + rng.below(3) as i64);
        }
        "Checkout Started" => {
            json::cents_field(out, "cart_value", 500 + rng.below(50_000));
            json::int_field(out, "items", 1 + rng.below(6) as i64);
        }
        "Purchase" => {
            json::cents_field(out, "amount", 199 + rng.below(50_000));
            json::str_field(out, "currency", rng.pick(&CURRENCIES));
            json::int_field(out, "items", 1 + rng.below(6) as i64);
        }
        "Sign Up" => {
            json::str_field(out, "plan", rng.pick(&PLANS));
            json::str_field(out, "method", rng.pick(&METHODS));
        }
        "Login" => json::str_field(out, "method", rng.pick(&METHODS)),
        "Share" => json::str_field(out, "channel", rng.pick(&CHANNELS)),
        _ => {}
    }
}

fn rand_ms(rng: &mut Rng, below: i64) -> i64 {
    i64::try_from(rng.below(u64::try_from(below).unwrap_or(1))).unwrap_or(0)
}

/// Milliseconds since the epoch at the start of `day` (UTC).
pub(crate) fn day_start_ms(day: NaiveDate) -> i64 {
    day.and_hms_opt(0, 0, 0).map_or(0, |t| t.and_utc().timestamp_millis())
}

/// The UTC day holding `time_ms`.
pub(crate) fn day_of_ms(time_ms: i64) -> Option<NaiveDate> {
    DateTime::from_timestamp_millis(time_ms).map(|t| t.date_naive())
}

fn day_key(day: NaiveDate) -> u64 {
    u64::try_from(day_start_ms(day) / DAY_MS).unwrap_or(0)
}

/// Formats ms since the epoch the way profile dates look (`2024-01-01T10:00:00`, no zone).
pub(crate) fn profile_time(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::config::date;

    fn synth(seed: u64) -> Synth {
        Synth::new(&MockConfig {
            seed,
            events_per_day: 300,
            duplicate_rate: 0.05,
            missing_insert_id_rate: 0.05,
            ..MockConfig::default()
        })
    }

    #[test]
    fn same_seed_same_lines_and_other_seed_differs() {
        let day = date(2024, 3, 5);
        assert_eq!(synth(1).day_lines(day), synth(1).day_lines(day));
        assert_ne!(synth(1).day_lines(day), synth(2).day_lines(day));
    }

    #[test]
    fn lines_are_json_with_the_export_shape_and_times_in_the_day() {
        let day = date(2024, 3, 5);
        let lines = synth(1).day_lines(day);
        assert!(lines.len() >= 300);
        for line in &lines {
            let v: Value = serde_json::from_str(&line.text).unwrap();
            let props = &v["properties"];
            assert!(v["event"].is_string());
            let t = props["time"].as_i64().unwrap();
            assert_eq!(t, line.time_ms / 1000);
            assert_eq!(day_of_ms(line.time_ms), Some(day));
            assert!(props["mp_processing_time_ms"].as_i64().unwrap() > line.time_ms);
            assert!(props["$device_id"].is_string());
        }
    }

    #[test]
    fn anonymous_then_identified() {
        let s = synth(1);
        let lines: Vec<Value> = (0..60)
            .flat_map(|d| s.day_lines(date(2024, 1, 1) + chrono::Days::new(d)))
            .filter_map(|l| serde_json::from_str(&l.text).ok())
            .collect();
        let anonymous = lines
            .iter()
            .filter(|v| {
                let id = v["properties"]["distinct_id"].as_str().unwrap_or("");
                id.starts_with("$device:") && v["properties"].get("$user_id").is_none()
            })
            .count();
        let sign_ups: Vec<&Value> = lines.iter().filter(|v| v["event"] == "Sign Up").collect();
        assert!(anonymous > 0);
        assert!(!sign_ups.is_empty());
        for v in sign_ups {
            assert_eq!(v["properties"]["distinct_id"], v["properties"]["$user_id"]);
        }
    }

    #[test]
    fn duplicates_repeat_the_key_with_a_later_processing_time() {
        let lines = synth(1).day_lines(date(2024, 3, 5));
        let parsed: Vec<Value> =
            lines.iter().map(|l| serde_json::from_str(&l.text).unwrap()).collect();
        let mut found = 0;
        for (i, dup) in parsed.iter().enumerate().skip(300) {
            let id = &dup["properties"]["$insert_id"];
            let first = parsed[..i].iter().find(|v| &v["properties"]["$insert_id"] == id).unwrap();
            assert_eq!(first["event"], dup["event"]);
            assert_eq!(first["properties"]["time"], dup["properties"]["time"]);
            assert!(
                dup["properties"]["mp_processing_time_ms"].as_i64()
                    > first["properties"]["mp_processing_time_ms"].as_i64()
            );
            found += 1;
        }
        assert!(found > 0, "5% duplicate rate over 300 events yields some");
    }

    #[test]
    fn days_outside_the_range_or_forced_empty_have_no_lines() {
        let mut config = MockConfig { empty_days: vec![date(2024, 2, 2)], ..MockConfig::default() };
        config.last_day = date(2024, 2, 10);
        let s = Synth::new(&config);
        assert!(s.day_lines(date(2023, 12, 31)).is_empty());
        assert!(s.day_lines(date(2024, 2, 11)).is_empty());
        assert!(s.day_lines(date(2024, 2, 2)).is_empty());
        assert!(!s.day_lines(date(2024, 2, 3)).is_empty());
    }

    #[test]
    fn late_lines_are_new_and_processed_later() {
        let s = synth(1);
        let day = date(2024, 3, 5);
        let base = s.day_lines(day);
        let late = s.late_lines(day, 0, 5);
        let again = s.late_lines(day, 1, 5);
        assert_eq!(late.len(), 5);
        assert_ne!(late, again);
        let max_base = base
            .iter()
            .map(|l| serde_json::from_str::<Value>(&l.text).unwrap()["properties"]["mp_processing_time_ms"].as_i64().unwrap())
            .max()
            .unwrap();
        for l in &late {
            let v: Value = serde_json::from_str(&l.text).unwrap();
            assert!(v["properties"]["mp_processing_time_ms"].as_i64().unwrap() > max_base);
            assert!(!base.iter().any(|b| b.text == l.text));
        }
    }
}
