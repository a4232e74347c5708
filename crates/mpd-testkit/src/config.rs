//! Scenario knobs: the synthetic project's shape and the faults to inject.

use std::path::PathBuf;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Everything the mock serves, read from scenario TOML/JSON files or built in code.
///
/// Every field has a default, so a scenario file only names what it changes.
/// Dates are strings in TOML (`first_day = "2024-03-01"`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MockConfig {
    /// Port to bind on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// The project id service-account requests must name.
    pub project_id: u64,
    /// Accepted service-account username.
    pub username: String,
    /// Accepted service-account secret; also accepted alone as a legacy project secret.
    pub secret: String,
    /// Seed of all synthetic data: same seed, same bytes.
    pub seed: u64,
    /// Distinct events generated per day with data (true duplicates come on top).
    pub events_per_day: u32,
    /// First day that has data.
    pub first_day: NaiveDate,
    /// Last day that has data (inclusive).
    pub last_day: NaiveDate,
    /// Days inside the data range forced empty (200 with an empty body).
    pub empty_days: Vec<NaiveDate>,
    /// Fraction of events Mixpanel "ingested twice": an extra line, same key, later processing time.
    pub duplicate_rate: f64,
    /// Fraction of events served without `$insert_id`.
    pub missing_insert_id_rate: f64,
    /// Number of synthetic users.
    pub n_users: u32,
    /// Gzip export bodies over 1400 bytes when the client sends `Accept-Encoding: gzip`.
    pub gzip: bool,
    /// Size of the body chunks written; odd by default so lines and UTF-8 chars straddle chunks.
    pub chunk_bytes: usize,
    /// Engage page size when the request names none.
    pub engage_page_size: u32,
    /// "Today" for the `to_date` check; the real date in the project's time zone when unset.
    pub today: Option<NaiveDate>,
    /// The project's IANA time zone (`America/New_York`): the export's `from_date`/`to_date`
    /// then name days of that zone, as Mixpanel's do for projects with a time zone other than
    /// UTC (events keep their UTC `time`, as in projects created since 2023). UTC when unset.
    pub project_timezone: Option<String>,
    /// Faults to inject.
    pub faults: Faults,
    /// Serve events from this export-shaped JSONL file instead of synthetic data.
    pub jsonl_file: Option<PathBuf>,
    /// Re-key exported anonymous events of identified users: their `distinct_id` becomes the
    /// user id, as Mixpanel's raw export shows them after an identity merge. Switchable at
    /// run time ([`crate::Project::set_rekey_identified`], `POST /__mock/rekey?on=true`).
    pub rekey_identified: bool,
    /// Answer Query API calls in the alternative shapes clients must also accept:
    /// `/segmentation` and `/events` without the `data` wrapper, `/retention/addiction` with
    /// the date map at top level, `/funnels` with an extra `"$overall"` key next to the dates,
    /// `/events/top` entries without `percent_change`, and some `/events/properties/top`
    /// entries as `{}` (no count).
    pub query_shape_variants: bool,
    /// Query API requests allowed over the mock's lifetime (Mixpanel allows 60 per hour);
    /// every later one gets 429 with Mixpanel's body and `Retry-After:
    /// <faults.retry_after_secs>`. Unlimited when unset. Every Query API request that passes
    /// authentication counts (rejected ones too); export and engage do not.
    pub query_rate_limit_per_hour: Option<u32>,
}

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            port: 0,
            project_id: 1234,
            username: "mock-user".to_owned(),
            secret: "mock-secret".to_owned(),
            seed: 42,
            events_per_day: 200,
            first_day: date(2024, 1, 1),
            last_day: date(2024, 12, 31),
            empty_days: Vec::new(),
            duplicate_rate: 0.01,
            missing_insert_id_rate: 0.005,
            n_users: 500,
            gzip: true,
            chunk_bytes: 4093,
            engage_page_size: 1000,
            today: None,
            project_timezone: None,
            faults: Faults::default(),
            jsonl_file: None,
            rekey_identified: false,
            query_shape_variants: false,
            query_rate_limit_per_hour: None,
        }
    }
}

impl MockConfig {
    /// Parses a scenario file's TOML text; absent fields keep their defaults.
    pub fn from_toml(text: &str) -> Result<Self> {
        let config: Self =
            toml::from_str(text).map_err(|e| Error::Scenario { message: e.to_string() })?;
        config.validate()?;
        Ok(config)
    }

    /// Rejects settings the server cannot honour.
    pub fn validate(&self) -> Result<()> {
        let invalid = |message: &str| Err(Error::InvalidConfig { message: message.to_owned() });
        if self.chunk_bytes == 0 {
            return invalid("chunk_bytes must be at least 1");
        }
        if self.engage_page_size == 0 {
            return invalid("engage_page_size must be at least 1");
        }
        if !(0.0..=1.0).contains(&self.duplicate_rate) {
            return invalid("duplicate_rate must be between 0 and 1");
        }
        if !(0.0..=1.0).contains(&self.missing_insert_id_rate) {
            return invalid("missing_insert_id_rate must be between 0 and 1");
        }
        if let Some(rule) = &self.faults.http_status
            && !(400..=599).contains(&rule.status)
        {
            return invalid("faults.http_status.status must be between 400 and 599");
        }
        self.time_zone()?;
        Ok(())
    }

    /// The parsed [`MockConfig::project_timezone`]; `None` for UTC.
    pub fn time_zone(&self) -> Result<Option<chrono_tz::Tz>> {
        self.project_timezone
            .as_deref()
            .map(|name| {
                name.parse().map_err(|_| Error::InvalidConfig {
                    message: format!("project_timezone {name:?} is not an IANA time zone"),
                })
            })
            .transpose()
    }
}

/// Faults injected into responses; all off by default.
///
/// Also the JSON body of `POST /__mock/faults`, which replaces the faults at run time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// 429 with a Mixpanel-style JSON body and `Retry-After`.
    pub rate_limit: Option<FaultRule>,
    /// Value of the `Retry-After` header on 429s, in seconds.
    pub retry_after_secs: u64,
    /// 500, 502 or 503 (in turn) with a JSON error body.
    pub server_error: Option<FaultRule>,
    /// 200, about half the body, then the connection is aborted.
    pub disconnect: Option<FaultRule>,
    /// 200, about half the lines, then the line `terminated early`, then a clean end.
    pub terminated_early: Option<FaultRule>,
    /// `terminated_early` cuts only bodies of more than this many lines (0: any body), as
    /// Mixpanel cuts exports that are too large: a smaller request for the day gets through.
    pub terminated_early_above_lines: u32,
    /// A non-JSON line in the middle of the day, on every attempt (bad data, not transient).
    pub malformed_line: Option<FaultRule>,
    /// One record of the day broken over two physical lines, on every attempt.
    pub split_line: Option<FaultRule>,
    /// Delay before export response headers, in milliseconds.
    pub slow_first_byte_ms: u64,
    /// A fixed error status on chosen endpoints of any family (export, engage, Query API).
    pub http_status: Option<StatusRule>,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            rate_limit: None,
            retry_after_secs: 1,
            server_error: None,
            disconnect: None,
            terminated_early: None,
            terminated_early_above_lines: 0,
            malformed_line: None,
            split_line: None,
            slow_first_byte_ms: 0,
            http_status: None,
        }
    }
}

/// Which days a fault hits, and on how many requests per day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultRule {
    /// Days the fault applies to.
    pub days: DaySelector,
    /// The fault hits the first `attempts` requests covering a selected day; 0 means every request.
    pub attempts: u32,
}

impl Default for FaultRule {
    fn default() -> Self {
        Self { days: DaySelector::All, attempts: 1 }
    }
}

impl FaultRule {
    /// A rule hitting every day on the first `attempts` requests.
    pub fn all_days(attempts: u32) -> Self {
        Self { days: DaySelector::All, attempts }
    }

    /// A rule hitting the given days on the first `attempts` requests.
    pub fn on_days(days: Vec<NaiveDate>, attempts: u32) -> Self {
        Self { days: DaySelector::Days(days), attempts }
    }
}

/// An error status answered on chosen endpoints:
/// `http_status = { status = 402, endpoints = ["segmentation", "funnels"], attempts = 0 }`.
///
/// Endpoints are the path after `/api/query/` or `/api/2.0/` (`export`, `engage`,
/// `events/names`, `segmentation/sum`, ...); an empty list selects every endpoint. The body is
/// Mixpanel-like JSON for the status (401 "Invalid credentials", 402 "Your plan does not
/// include access to this API", 429 the rate-limit text with `Retry-After`, ...), or the
/// rule's `message`, as texts Mixpanel is known to send: `400 "Timeout Error."` (the body
/// tap-mixpanel's tests use for a query timeout) or `403 "Date range exceeds 90 days into the
/// past"` (the data-history gate users of airbyte and RMixpanel reported).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StatusRule {
    /// The status answered (400..=599).
    pub status: u16,
    /// Endpoints hit; empty = every endpoint.
    pub endpoints: Vec<String>,
    /// The first `attempts` requests per endpoint get the status; 0 means every request.
    pub attempts: u32,
    /// The `error` text of the body, instead of the status's usual message.
    pub message: Option<String>,
}

impl Default for StatusRule {
    fn default() -> Self {
        Self { status: 500, endpoints: Vec::new(), attempts: 0, message: None }
    }
}

impl StatusRule {
    /// Whether `endpoint` (e.g. `segmentation/sum`) is selected.
    pub fn selects(&self, endpoint: &str) -> bool {
        self.endpoints.is_empty() || self.endpoints.iter().any(|e| e.trim_matches('/') == endpoint)
    }
}

/// A set of days; in scenario files `"all"`, `["2024-01-02", ...]` or `{every_nth = 3}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "DaySelectorRepr", into = "DaySelectorRepr")]
pub enum DaySelector {
    /// Every day.
    #[default]
    All,
    /// Exactly these days.
    Days(Vec<NaiveDate>),
    /// `first_day`, `first_day + n`, `first_day + 2n`, ... (0 selects nothing).
    EveryNth(u32),
}

impl DaySelector {
    /// Whether `day` is selected; `first_day` anchors [`DaySelector::EveryNth`].
    pub fn contains(&self, day: NaiveDate, first_day: NaiveDate) -> bool {
        match self {
            Self::All => true,
            Self::Days(days) => days.contains(&day),
            Self::EveryNth(0) => false,
            Self::EveryNth(n) => (day - first_day).num_days().rem_euclid(i64::from(*n)) == 0,
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum DaySelectorRepr {
    Keyword(String),
    Days(Vec<NaiveDate>),
    EveryNth { every_nth: u32 },
}

impl From<DaySelector> for DaySelectorRepr {
    fn from(days: DaySelector) -> Self {
        match days {
            DaySelector::All => Self::Keyword("all".to_owned()),
            DaySelector::Days(days) => Self::Days(days),
            DaySelector::EveryNth(every_nth) => Self::EveryNth { every_nth },
        }
    }
}

impl TryFrom<DaySelectorRepr> for DaySelector {
    type Error = String;

    fn try_from(repr: DaySelectorRepr) -> std::result::Result<Self, String> {
        match repr {
            DaySelectorRepr::Keyword(word) if word == "all" => Ok(Self::All),
            DaySelectorRepr::Keyword(word) => Err(format!(
                "unknown day selector {word:?}: use \"all\", a list of dates or {{every_nth = N}}"
            )),
            DaySelectorRepr::Days(days) => Ok(Self::Days(days)),
            DaySelectorRepr::EveryNth { every_nth } => Ok(Self::EveryNth(every_nth)),
        }
    }
}

/// Builds a date known to be valid; only called with literal constants.
pub(crate) fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or(NaiveDate::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_scenario_is_the_default() {
        assert_eq!(MockConfig::from_toml("").unwrap(), MockConfig::default());
    }

    #[test]
    fn scenario_parses_faults_and_selectors() {
        let text = r#"
            events_per_day = 10
            first_day = "2024-02-01"
            rekey_identified = true
            [faults]
            retry_after_secs = 3
            rate_limit = { days = "all", attempts = 2 }
            disconnect = { days = ["2024-02-03"] }
            split_line = { days = { every_nth = 3 } }
        "#;
        let config = MockConfig::from_toml(text).unwrap();
        assert_eq!(config.events_per_day, 10);
        assert!(config.rekey_identified);
        assert_eq!(config.first_day, date(2024, 2, 1));
        assert_eq!(config.faults.retry_after_secs, 3);
        assert_eq!(config.faults.rate_limit, Some(FaultRule::all_days(2)));
        assert_eq!(config.faults.disconnect, Some(FaultRule::on_days(vec![date(2024, 2, 3)], 1)));
        let split = config.faults.split_line.unwrap();
        assert_eq!(split.days, DaySelector::EveryNth(3));
    }

    #[test]
    fn unknown_fields_and_keywords_are_rejected() {
        assert!(MockConfig::from_toml("events_per_dya = 3").is_err());
        assert!(MockConfig::from_toml("[faults]\nrate_limit = { days = \"some\" }").is_err());
        assert!(MockConfig::from_toml("chunk_bytes = 0").is_err());
    }

    #[test]
    fn faults_round_trip_through_json() {
        let faults = Faults {
            rate_limit: Some(FaultRule::all_days(2)),
            disconnect: Some(FaultRule::on_days(vec![date(2024, 2, 3)], 1)),
            split_line: Some(FaultRule { days: DaySelector::EveryNth(3), attempts: 0 }),
            http_status: Some(StatusRule {
                status: 402,
                endpoints: vec!["segmentation".to_owned()],
                attempts: 0,
                message: Some("Date range exceeds 90 days into the past".to_owned()),
            }),
            ..Faults::default()
        };
        let text = serde_json::to_string(&faults).unwrap();
        assert!(text.contains(r#""days":"all""#), "{text}");
        assert!(text.contains(r#""every_nth":3"#), "{text}");
        assert_eq!(serde_json::from_str::<Faults>(&text).unwrap(), faults);
        let partial: Faults =
            serde_json::from_str(r#"{"http_status": {"status": 403, "endpoints": ["export"]}}"#)
                .unwrap();
        assert_eq!(partial.http_status.as_ref().map(|r| r.status), Some(403));
        assert!(partial.http_status.unwrap().selects("export"));
        assert!(MockConfig::from_toml("[faults]\nhttp_status = { status = 200 }").is_err());
    }

    #[test]
    fn status_rules_select_endpoints() {
        let rule = StatusRule {
            status: 402,
            endpoints: vec!["funnels".to_owned()],
            attempts: 0,
            message: None,
        };
        assert!(rule.selects("funnels"));
        assert!(!rule.selects("funnels/list"));
        assert!(StatusRule::default().selects("export"));
    }

    #[test]
    fn every_nth_is_anchored_on_first_day() {
        let first = date(2024, 1, 1);
        let sel = DaySelector::EveryNth(3);
        assert!(sel.contains(first, first));
        assert!(!sel.contains(date(2024, 1, 2), first));
        assert!(sel.contains(date(2024, 1, 4), first));
        assert!(!DaySelector::EveryNth(0).contains(first, first));
    }
}
