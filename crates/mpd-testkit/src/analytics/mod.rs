//! What the Query API answers, computed from [`QueryEvent`]s: the definitions shared with
//! `mpd --local` (the live-query semantics document), as pure functions without HTTP.
//!
//! Choices the semantics leave open, made here:
//! - Events after the mock's "today" (capped to the last data day) are never counted: the
//!   export cannot serve those days either.
//! - `/segmentation/numeric` counts general events whatever `type` says, and lists only the
//!   bucket labels that hold at least one value.
//! - `number(x)` is a JSON number, or a string that parses as one; anything else is skipped.
//! - A segment's "total" for `limit` is the sum of its per-bucket values of the requested
//!   `type` (for `unique`, users are counted once per bucket).
//! - `/events` lists its series in request order (an unseen event is a series of zeros);
//!   `/events/properties` `values` keeps only listed values that occur.
//! - `/cohorts/list` "Never identified" = resolved users still keyed `$device:...` in the data
//!   range; "Purchasers" = resolved users with a Purchase in the data range.
//! - Funnels, retention and discovery document their own choices in their modules.

pub(crate) mod discovery;
pub(crate) mod flows;
pub(crate) mod funnels;
pub(crate) mod numeric;
pub(crate) mod retention;
pub(crate) mod series;

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, NaiveDateTime, NaiveTime};
use serde_json::{Map, Value, json};

use crate::project::QueryEvent;

/// A bucket size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    Minute,
    Hour,
    Day,
    Week,
    Month,
}

impl Unit {
    pub(crate) fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "minute" => Self::Minute,
            "hour" => Self::Hour,
            "day" => Self::Day,
            "week" => Self::Week,
            "month" => Self::Month,
            _ => return None,
        })
    }

    /// The start of the bucket holding `t`.
    pub(crate) fn floor(self, t: NaiveDateTime) -> NaiveDateTime {
        let date = t.date();
        let at = |d: NaiveDate, h: u32, m: u32| {
            d.and_time(NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN))
        };
        use chrono::Timelike;
        match self {
            Self::Minute => at(date, t.hour(), t.minute()),
            Self::Hour => at(date, t.hour(), 0),
            Self::Day => at(date, 0, 0),
            Self::Week => {
                let back = i64::from(date.weekday().num_days_from_monday());
                at(date - Duration::days(back), 0, 0)
            }
            Self::Month => at(date.with_day(1).unwrap_or(date), 0, 0),
        }
    }

    /// `start` moved by `n` buckets.
    pub(crate) fn add(self, start: NaiveDateTime, n: u32) -> NaiveDateTime {
        let n64 = i64::from(n);
        match self {
            Self::Minute => start + Duration::minutes(n64),
            Self::Hour => start + Duration::hours(n64),
            Self::Day => start + Duration::days(n64),
            Self::Week => start + Duration::weeks(n64),
            Self::Month => start.checked_add_months(Months::new(n)).unwrap_or(NaiveDateTime::MAX),
        }
    }

    pub(crate) fn label(self, start: NaiveDateTime) -> String {
        match self {
            Self::Minute | Self::Hour => start.format("%Y-%m-%d %H:%M:00").to_string(),
            Self::Day | Self::Week | Self::Month => start.format("%Y-%m-%d").to_string(),
        }
    }
}

/// Midnight starting `day`.
pub(crate) fn midnight(day: NaiveDate) -> NaiveDateTime {
    day.and_time(NaiveTime::MIN)
}

/// The UTC date-time of unix seconds (the epoch when out of range).
pub(crate) fn datetime(secs: i64) -> NaiveDateTime {
    DateTime::from_timestamp(secs, 0).map(|t| t.naive_utc()).unwrap_or_default()
}

pub(crate) fn secs(t: NaiveDateTime) -> i64 {
    t.and_utc().timestamp()
}

/// Every bucket overlapping `from..=to`, in time order.
#[derive(Debug, Clone)]
pub(crate) struct Buckets {
    pub(crate) unit: Unit,
    pub(crate) starts: Vec<NaiveDateTime>,
}

impl Buckets {
    pub(crate) fn new(unit: Unit, from: NaiveDate, to: NaiveDate) -> Self {
        let end = midnight(to) + Duration::days(1);
        let mut starts = Vec::new();
        let mut start = unit.floor(midnight(from));
        while start < end {
            starts.push(start);
            start = unit.add(start, 1);
        }
        Self { unit, starts }
    }

    pub(crate) fn labels(&self) -> Vec<String> {
        self.starts.iter().map(|s| self.unit.label(*s)).collect()
    }

    pub(crate) fn len(&self) -> usize {
        self.starts.len()
    }

    /// The index of the bucket holding unix second `t`, if any.
    pub(crate) fn index(&self, t: i64) -> Option<usize> {
        let t = datetime(t);
        let after = self.starts.partition_point(|s| *s <= t);
        let i = after.checked_sub(1)?;
        (self.unit.add(self.starts[i], 1) > t).then_some(i)
    }
}

/// An inclusive range of whole UTC days, as unix seconds `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DayRange {
    pub(crate) from: NaiveDate,
    pub(crate) to: NaiveDate,
}

impl DayRange {
    pub(crate) fn start_secs(self) -> i64 {
        secs(midnight(self.from))
    }

    pub(crate) fn end_secs(self) -> i64 {
        secs(midnight(self.to) + Duration::days(1))
    }

    pub(crate) fn contains(self, t: i64) -> bool {
        t >= self.start_secs() && t < self.end_secs()
    }
}

/// Parsed days of events, shared with the project cache.
#[derive(Debug, Clone, Default)]
pub(crate) struct Population {
    pub(crate) days: Vec<Arc<Vec<QueryEvent>>>,
}

impl Population {
    pub(crate) fn iter(&self) -> impl Iterator<Item = &QueryEvent> {
        self.days.iter().flat_map(|d| d.iter())
    }
}

/// `general`, `unique` or `average`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CountType {
    General,
    Unique,
    Average,
}

impl CountType {
    pub(crate) fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "general" => Self::General,
            "unique" => Self::Unique,
            "average" => Self::Average,
            _ => return None,
        })
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::General => "general",
            Self::Unique => "unique",
            Self::Average => "average",
        }
    }
}

/// Events and distinct users of one cell.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tally<'a> {
    pub(crate) general: u64,
    pub(crate) users: HashSet<&'a str>,
}

impl<'a> Tally<'a> {
    pub(crate) fn add(&mut self, event: &'a QueryEvent) {
        self.general += 1;
        self.users.insert(event.resolved.as_str());
    }

    pub(crate) fn number(&self, count: CountType) -> f64 {
        let unique = self.users.len() as f64;
        match count {
            CountType::General => self.general as f64,
            CountType::Unique => unique,
            CountType::Average if unique == 0.0 => 0.0,
            CountType::Average => self.general as f64 / unique,
        }
    }

    /// Counts as integers, averages as floats.
    pub(crate) fn json(&self, count: CountType) -> Value {
        match count {
            CountType::General => json!(self.general),
            CountType::Unique => json!(self.users.len()),
            CountType::Average => json!(self.number(count)),
        }
    }
}

/// A property named bare (`plan`) or as `properties["plan"]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PropertyExpr {
    pub(crate) name: String,
}

impl PropertyExpr {
    pub(crate) fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        let unsupported = || {
            format!("unsupported property expression {raw:?}: use a name or properties[\"name\"]")
        };
        if let Some(inner) = raw.strip_prefix("properties[").and_then(|r| r.strip_suffix(']')) {
            let inner = inner.trim();
            let quoted = ['"', '\'']
                .iter()
                .find_map(|q| inner.strip_prefix(*q).and_then(|i| i.strip_suffix(*q)));
            return match quoted {
                Some(name) if !name.is_empty() => Ok(Self { name: name.to_owned() }),
                _ => Err(unsupported()),
            };
        }
        if raw.is_empty() || raw.contains(['[', ']', '(', ')', '"', '\'', ' ']) {
            return Err(unsupported());
        }
        Ok(Self { name: raw.to_owned() })
    }

    /// The segment key: strings as-is, numbers as JSON text, booleans `true`/`false`;
    /// `None` when missing or null.
    pub(crate) fn text(&self, props: &Map<String, Value>) -> Option<String> {
        value_text(props.get(&self.name)?)
    }

    pub(crate) fn number(&self, props: &Map<String, Value>) -> Option<f64> {
        number(props.get(&self.name)?)
    }
}

pub(crate) fn value_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// `number(x)`: JSON numbers and numeric strings.
pub(crate) fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|n| n.is_finite()),
        _ => None,
    }
}

/// Sorts `(name, total)` pairs largest first, ties by name, and keeps `limit`.
pub(crate) fn top_by_total<T>(
    mut items: Vec<(String, f64, T)>,
    limit: usize,
) -> Vec<(String, f64, T)> {
    items.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    items.truncate(limit);
    items
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::date;

    #[test]
    fn bucket_labels_per_unit() {
        let (from, to) = (date(2024, 1, 30), date(2024, 2, 6));
        assert_eq!(Buckets::new(Unit::Day, from, to).len(), 8);
        assert_eq!(
            Buckets::new(Unit::Week, from, to).labels(),
            ["2024-01-29", "2024-02-05"],
            "weeks start on Monday"
        );
        assert_eq!(Buckets::new(Unit::Month, from, to).labels(), ["2024-01-01", "2024-02-01"]);
        let hours = Buckets::new(Unit::Hour, from, from);
        assert_eq!(hours.len(), 24);
        assert_eq!(hours.labels()[13], "2024-01-30 13:00:00");
        let minutes = Buckets::new(Unit::Minute, from, from);
        assert_eq!(minutes.len(), 1440);
        assert_eq!(minutes.labels()[61], "2024-01-30 01:01:00");
    }

    #[test]
    fn bucket_index_finds_the_bucket_or_none() {
        let b = Buckets::new(Unit::Week, date(2024, 1, 30), date(2024, 2, 6));
        let t = secs(midnight(date(2024, 2, 4))) + 3600;
        assert_eq!(b.index(t), Some(0));
        assert_eq!(b.index(secs(midnight(date(2024, 2, 5)))), Some(1));
        assert_eq!(b.index(secs(midnight(date(2024, 2, 12)))), None);
        assert_eq!(b.index(secs(midnight(date(2024, 1, 28)))), None);
    }

    #[test]
    fn property_expressions_and_segment_text() {
        assert_eq!(PropertyExpr::parse("plan").unwrap().name, "plan");
        assert_eq!(PropertyExpr::parse(r#"properties["$browser"]"#).unwrap().name, "$browser");
        assert_eq!(PropertyExpr::parse("properties['a b']").unwrap().name, "a b");
        for bad in ["", r#"user["x"]"#, "number(properties[\"x\"])", "properties[x]"] {
            assert!(PropertyExpr::parse(bad).is_err(), "{bad}");
        }
        let props: Map<String, Value> = serde_json::from_str(
            r#"{"s":"x","i":3,"f":12.5,"b":true,"n":null,"ns":" 4.5 ","o":"abc"}"#,
        )
        .unwrap();
        let text = |k: &str| PropertyExpr { name: k.to_owned() }.text(&props);
        assert_eq!(text("s").as_deref(), Some("x"));
        assert_eq!(text("i").as_deref(), Some("3"));
        assert_eq!(text("f").as_deref(), Some("12.5"));
        assert_eq!(text("b").as_deref(), Some("true"));
        assert_eq!(text("n"), None);
        assert_eq!(text("missing"), None);
        let num = |k: &str| PropertyExpr { name: k.to_owned() }.number(&props);
        assert_eq!(num("ns"), Some(4.5));
        assert_eq!(num("o"), None);
        assert_eq!(num("b"), None);
    }
}
