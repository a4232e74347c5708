//! Reading and validating Query API parameters; every failure is a 400 with a message that
//! names the parameter.

use chrono::NaiveDate;
use http::StatusCode;
use serde_json::Value;

use super::super::State;
use super::super::request::Ctx;
use crate::analytics::{Buckets, CountType, DayRange, Population, PropertyExpr, Unit};
use crate::filter::WhereExpr;

/// More buckets than this is a client bug (a year of minutes), not a query to answer.
const MAX_BUCKETS: usize = 100_000;

/// A failed query: the status and Mixpanel-style message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Bad {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
}

pub(crate) fn bad(message: impl Into<String>) -> Bad {
    Bad { status: StatusCode::BAD_REQUEST, message: message.into() }
}

pub(crate) type Answer = Result<Value, Bad>;

/// A request's parameters with the server state they are checked against.
pub(crate) struct Params<'a> {
    pub(crate) state: &'a State,
    ctx: &'a Ctx,
}

impl<'a> Params<'a> {
    pub(crate) fn new(state: &'a State, ctx: &'a Ctx) -> Self {
        Self { state, ctx }
    }

    /// A non-empty parameter.
    pub(crate) fn get(&self, name: &str) -> Option<&'a str> {
        self.ctx.param(name).filter(|v| !v.trim().is_empty())
    }

    pub(crate) fn required(&self, name: &str) -> Result<&'a str, Bad> {
        self.get(name).ok_or_else(|| bad(format!("'{name}' is a required parameter")))
    }

    fn date(&self, name: &str) -> Result<NaiveDate, Bad> {
        let raw = self.required(name)?;
        NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d").map_err(|_| {
            bad(format!("Invalid value for parameter '{name}': {raw:?} is not a YYYY-MM-DD date"))
        })
    }

    /// `from_date..=to_date`, or the `interval` days ending today when `allow_interval` and
    /// no dates are given.
    pub(crate) fn range(&self, allow_interval: bool) -> Result<DayRange, Bad> {
        if allow_interval
            && self.get("from_date").is_none()
            && self.get("to_date").is_none()
            && let Some(raw) = self.get("interval")
        {
            let days =
                raw.parse::<u32>().ok().filter(|n| (1..=3_650).contains(n)).ok_or_else(|| {
                    bad(format!("Invalid value for parameter 'interval': {raw:?}"))
                })?;
            let to = self.today();
            let from = to - chrono::Duration::days(i64::from(days) - 1);
            return Ok(DayRange { from, to });
        }
        let (from, to) = (self.date("from_date")?, self.date("to_date")?);
        if from > to {
            return Err(bad("from_date cannot be later than to_date"));
        }
        Ok(DayRange { from, to })
    }

    /// `unit` among `allowed`, or `default` when absent (`None`: required).
    pub(crate) fn unit(
        &self,
        name: &str,
        default: Option<Unit>,
        allowed: &[Unit],
    ) -> Result<Unit, Bad> {
        let Some(raw) = self.get(name) else {
            return default.ok_or_else(|| bad(format!("'{name}' is a required parameter")));
        };
        Unit::parse(raw.trim()).filter(|u| allowed.contains(u)).ok_or_else(|| {
            bad(format!("Invalid value for parameter '{name}': {raw:?} is not a supported unit"))
        })
    }

    /// Buckets of `unit` over `range`, refusing absurd numbers of them.
    pub(crate) fn buckets(&self, unit: Unit, range: DayRange) -> Result<Buckets, Bad> {
        let days = (range.to - range.from).num_days() + 1;
        let per_day = match unit {
            Unit::Minute => 1_440,
            Unit::Hour => 24,
            _ => 1,
        };
        if usize::try_from(days * per_day).unwrap_or(usize::MAX) > MAX_BUCKETS {
            return Err(bad("the date range holds too many buckets for this unit"));
        }
        Ok(Buckets::new(unit, range.from, range.to))
    }

    pub(crate) fn count_type(&self, default: Option<CountType>) -> Result<CountType, Bad> {
        let Some(raw) = self.get("type") else {
            return default.ok_or_else(|| bad("'type' is a required parameter"));
        };
        CountType::parse(raw.trim()).ok_or_else(|| {
            bad(format!("Invalid value for parameter 'type': {raw:?} (general, unique or average)"))
        })
    }

    pub(crate) fn number(&self, name: &str, default: u32, max: u32) -> Result<u32, Bad> {
        match self.get(name) {
            None => Ok(default),
            Some(raw) => raw
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|n| *n <= max)
                .ok_or_else(|| bad(format!("Invalid value for parameter '{name}': {raw:?}"))),
        }
    }

    pub(crate) fn limit(&self, default: u32) -> Result<usize, Bad> {
        Ok(self.number("limit", default, 100_000)? as usize)
    }

    pub(crate) fn where_expr(&self, name: &str) -> Result<Option<WhereExpr>, Bad> {
        self.get(name)
            .map(|raw| {
                WhereExpr::parse(raw)
                    .map_err(|e| bad(format!("Invalid value for parameter '{name}': {e}")))
            })
            .transpose()
    }

    pub(crate) fn property(&self, name: &str) -> Result<Option<PropertyExpr>, Bad> {
        self.get(name)
            .map(|raw| {
                PropertyExpr::parse(raw)
                    .map_err(|e| bad(format!("Invalid value for parameter '{name}': {e}")))
            })
            .transpose()
    }

    pub(crate) fn flag(&self, name: &str) -> Result<bool, Bad> {
        match self.get(name).map(str::trim) {
            None | Some("false" | "0") => Ok(false),
            Some("true" | "1") => Ok(true),
            Some(raw) => Err(bad(format!("Invalid value for parameter '{name}': {raw:?}"))),
        }
    }

    /// A JSON array of strings (numbers are taken as their text).
    pub(crate) fn string_list(&self, name: &str) -> Result<Option<Vec<String>>, Bad> {
        let Some(raw) = self.get(name) else { return Ok(None) };
        let err = || bad(format!("Invalid value for parameter '{name}': expected a JSON array"));
        let items: Vec<Value> = serde_json::from_str(raw).map_err(|_| err())?;
        items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                Value::Number(n) => Ok(n.to_string()),
                _ => Err(err()),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// The mock's "today" capped to the last day with data.
    pub(crate) fn today(&self) -> NaiveDate {
        self.state.today().min(self.state.project.data_range().1)
    }

    /// The events of `range` that exist by today.
    pub(crate) fn population(&self, range: DayRange) -> Population {
        let to = range.to.min(self.today());
        if range.from > to {
            return Population::default();
        }
        Population { days: self.state.project.query_days(range.from, to) }
    }

    pub(crate) fn variants(&self) -> bool {
        self.state.config.query_shape_variants
    }
}
