//! Every tool's arguments, as the JSON schemas agents see, and their translation into the
//! service's request types (the CLI's words for units and count types).

use chrono::NaiveDate;
use mpd_service::{
    ConversionWindow, CountType, DateSpan, EventCountsQuery, FunnelQuery, LengthUnit,
    RetentionQuery, RetentionType, SegmentationQuery, SyncTarget, TimeUnit,
};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::render::RowFormat;

/// A tool argument the service would refuse, said in the tool's own words.
#[derive(Debug)]
pub(crate) struct BadArgument(pub(crate) String);

type Parsed<T> = std::result::Result<T, BadArgument>;

#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct TableArgs {
    /// A table of the store (see list_tables), e.g. `events`.
    pub(crate) table: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct SampleArgs {
    /// A table of the store (see list_tables), e.g. `events`.
    pub(crate) table: String,
    /// How many random rows (1 to 50; default 5).
    #[serde(default)]
    pub(crate) n: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct SqlArgs {
    /// One read-only SQL query (DataFusion dialect; SELECT, WITH, EXPLAIN). Tables: events,
    /// events_resolved (events plus resolved_distinct_id), profiles, identity_mappings,
    /// rejected_duplicates. JSON properties: `properties ->> '$browser'`,
    /// `json_get_float(properties, 'amount')`.
    pub(crate) query: String,
    /// Rows to return at most (default 100, at most the server's cap); the answer says when
    /// the query had more.
    #[serde(default)]
    pub(crate) max_rows: Option<u32>,
    /// `table` (compact, `|`-separated; default) or `json` (one object per line).
    #[serde(default)]
    pub(crate) format: RowFormat,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct SyncArgs {
    /// `events`, `profiles`, `identity` or `all` (default).
    #[serde(default)]
    pub(crate) tables: Option<String>,
    /// First day of a first sync, YYYY-MM-DD (later syncs continue from their cursor).
    #[serde(default)]
    pub(crate) from_date: Option<String>,
    /// Only say what the sync would request (days, export requests, share of the budget).
    #[serde(default)]
    pub(crate) dry_run: bool,
    /// Days per export request (default: planned to fit the hourly export budget).
    #[serde(default)]
    pub(crate) chunk_days: Option<u32>,
}

/// Whether an analytics tool reads the store or asks Mixpanel.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct SourceChoice {
    /// true: answer from the store; false: ask Mixpanel's Query API (one request of the
    /// project's 60 per hour). Default: the store when it holds every day of the range, else
    /// Mixpanel.
    #[serde(default)]
    pub(crate) local: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct SegmentationArgs {
    /// The event, e.g. `Purchase`.
    pub(crate) event: String,
    /// First day, YYYY-MM-DD.
    pub(crate) from_date: String,
    /// Last day (inclusive), YYYY-MM-DD.
    pub(crate) to_date: String,
    /// Split by this property, e.g. `$browser` or `properties["plan"]`.
    #[serde(default)]
    pub(crate) on: Option<String>,
    /// minute, hour, day (default), week or month.
    #[serde(default)]
    pub(crate) unit: Option<String>,
    /// A Mixpanel filter expression, e.g. `properties["amount"] > 10`.
    #[serde(default, rename = "where")]
    pub(crate) where_expr: Option<String>,
    /// general (default: every event), unique (people) or average.
    #[serde(default, rename = "type")]
    pub(crate) count_type: Option<String>,
    /// At most this many segments (default 60).
    #[serde(default)]
    pub(crate) limit: Option<u32>,
    #[serde(flatten)]
    pub(crate) source: SourceChoice,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct EventCountsArgs {
    /// The events, e.g. `["Sign Up", "Purchase"]`.
    pub(crate) events: Vec<String>,
    /// First day, YYYY-MM-DD.
    pub(crate) from_date: String,
    /// Last day (inclusive), YYYY-MM-DD.
    pub(crate) to_date: String,
    /// minute, hour, day (default), week or month.
    #[serde(default)]
    pub(crate) unit: Option<String>,
    /// general (default), unique or average.
    #[serde(default, rename = "type")]
    pub(crate) count_type: Option<String>,
    #[serde(flatten)]
    pub(crate) source: SourceChoice,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct FunnelArgs {
    /// The steps' events in order (answered from the store), e.g.
    /// `["View Item", "Add To Cart", "Purchase"]`.
    #[serde(default)]
    pub(crate) steps: Vec<String>,
    /// A saved funnel's id (see the list_funnels discovery in Mixpanel; answered by Mixpanel).
    #[serde(default)]
    pub(crate) funnel_id: Option<u64>,
    /// First day users may enter, YYYY-MM-DD.
    pub(crate) from_date: String,
    /// Last day users may enter (inclusive), YYYY-MM-DD.
    pub(crate) to_date: String,
    /// Conversion window in days (default: the saved funnel's, or 30 from the store).
    #[serde(default)]
    pub(crate) window_days: Option<u32>,
    /// Split by this property.
    #[serde(default)]
    pub(crate) on: Option<String>,
    /// A Mixpanel filter expression.
    #[serde(default, rename = "where")]
    pub(crate) where_expr: Option<String>,
    #[serde(flatten)]
    pub(crate) source: SourceChoice,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct RetentionArgs {
    /// The event that puts a user into a cohort, e.g. `Sign Up`.
    pub(crate) born_event: String,
    /// The event that counts as coming back (default: any event).
    #[serde(default)]
    pub(crate) return_event: Option<String>,
    /// First cohort day, YYYY-MM-DD.
    pub(crate) from_date: String,
    /// Last cohort day (inclusive), YYYY-MM-DD.
    pub(crate) to_date: String,
    /// day (default), week or month.
    #[serde(default)]
    pub(crate) unit: Option<String>,
    /// Intervals after the first (default 7).
    #[serde(default)]
    pub(crate) interval_count: Option<u32>,
    /// birth (default) or compounded.
    #[serde(default)]
    pub(crate) retention_type: Option<String>,
    #[serde(flatten)]
    pub(crate) source: SourceChoice,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct PropertiesArgs {
    /// The event whose properties to list.
    pub(crate) event: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct PropertyValuesArgs {
    /// The property, e.g. `$browser`.
    pub(crate) property: String,
    /// Only values seen on this event.
    #[serde(default)]
    pub(crate) event: Option<String>,
    /// At most this many values, most frequent first (default 50).
    #[serde(default)]
    pub(crate) limit: Option<u32>,
}

pub(crate) fn span(from: &str, to: &str) -> Parsed<DateSpan> {
    let (from, to) = (day(from, "from_date")?, day(to, "to_date")?);
    if from > to {
        return Err(BadArgument(format!("from_date {from} is after to_date {to}")));
    }
    Ok(DateSpan { from, to })
}

pub(crate) fn day(text: &str, name: &str) -> Parsed<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| BadArgument(format!("{name} must be a day like 2024-01-31, not {text:?}")))
}

/// Time buckets an answer may hold: a year by the hour, six days by the minute. Beyond that an
/// answer neither fits a context window nor is cheap to compute.
const MAX_BUCKETS: u64 = 10_000;

/// Refuses a span that cuts into more than [`MAX_BUCKETS`] buckets of `unit`.
fn check_buckets(span: DateSpan, unit: TimeUnit) -> Parsed<()> {
    let days = u64::try_from((span.to - span.from).num_days()).unwrap_or(0) + 1;
    let buckets = match unit {
        TimeUnit::Minute => days.saturating_mul(1440),
        TimeUnit::Hour => days.saturating_mul(24),
        TimeUnit::Day => days,
        TimeUnit::Week => days / 7 + 1,
        TimeUnit::Month => days / 28 + 1,
    };
    if buckets > MAX_BUCKETS {
        return Err(BadArgument(format!(
            "{} to {} by the {} is {buckets} buckets, more than {MAX_BUCKETS}: use a coarser \
             unit or a shorter range",
            span.from,
            span.to,
            unit.as_str()
        )));
    }
    Ok(())
}

fn unit(word: Option<&str>) -> Parsed<TimeUnit> {
    let word = word.unwrap_or("day");
    TimeUnit::from_word(word).ok_or_else(|| {
        BadArgument(format!("unit must be minute, hour, day, week or month, not {word:?}"))
    })
}

fn count_type(word: Option<&str>) -> Parsed<CountType> {
    let word = word.unwrap_or("general");
    CountType::from_word(word).ok_or_else(|| {
        BadArgument(format!("type must be general, unique or average, not {word:?}"))
    })
}

impl SyncArgs {
    pub(crate) fn chunk_days(&self) -> Parsed<Option<u32>> {
        match self.chunk_days {
            Some(0) => Err(BadArgument("chunk_days must be at least 1 (or left out)".into())),
            other => Ok(other),
        }
    }

    pub(crate) fn target(&self) -> Parsed<SyncTarget> {
        Ok(match self.tables.as_deref().unwrap_or("all") {
            "events" => SyncTarget::Events,
            "profiles" => SyncTarget::Profiles,
            "identity" => SyncTarget::Identity,
            "all" => SyncTarget::All,
            other => {
                return Err(BadArgument(format!(
                    "tables must be events, profiles, identity or all, not {other:?}"
                )));
            }
        })
    }
}

impl SegmentationArgs {
    pub(crate) fn query(&self) -> Parsed<SegmentationQuery> {
        let (span, unit) = (span(&self.from_date, &self.to_date)?, unit(self.unit.as_deref())?);
        check_buckets(span, unit)?;
        Ok(SegmentationQuery {
            event: self.event.clone(),
            span,
            on: self.on.clone(),
            unit,
            where_expr: self.where_expr.clone(),
            count_type: count_type(self.count_type.as_deref())?,
            limit: self.limit,
        })
    }
}

impl EventCountsArgs {
    pub(crate) fn query(&self) -> Parsed<EventCountsQuery> {
        if self.events.is_empty() {
            return Err(BadArgument("events must name at least one event".into()));
        }
        let (span, unit) = (span(&self.from_date, &self.to_date)?, unit(self.unit.as_deref())?);
        check_buckets(span, unit)?;
        Ok(EventCountsQuery {
            events: self.events.clone(),
            span,
            count_type: count_type(self.count_type.as_deref())?,
            unit,
        })
    }
}

impl FunnelArgs {
    pub(crate) fn query(&self) -> Parsed<FunnelQuery> {
        if self.steps.is_empty() && self.funnel_id.is_none() {
            return Err(BadArgument(
                "give the funnel's steps (answered from the store) or a saved funnel_id \
                 (answered by Mixpanel)"
                    .into(),
            ));
        }
        if !self.steps.is_empty() && self.steps.len() < 2 {
            return Err(BadArgument("a funnel needs at least two steps".into()));
        }
        Ok(FunnelQuery {
            funnel_id: self.funnel_id,
            steps: self.steps.clone(),
            span: span(&self.from_date, &self.to_date)?,
            unit: None,
            on: self.on.clone(),
            where_expr: self.where_expr.clone(),
            window: self
                .window_days
                .map(|length| ConversionWindow { length, unit: LengthUnit::Day }),
            limit: None,
        })
    }
}

impl RetentionArgs {
    pub(crate) fn query(&self) -> Parsed<RetentionQuery> {
        let word = self.retention_type.as_deref().unwrap_or("birth");
        let retention_type = RetentionType::from_word(word).ok_or_else(|| {
            BadArgument(format!("retention_type must be birth or compounded, not {word:?}"))
        })?;
        let (span, unit) = (span(&self.from_date, &self.to_date)?, unit(self.unit.as_deref())?);
        check_buckets(span, unit)?;
        let interval_count = self.interval_count.unwrap_or(7);
        if interval_count > 1000 {
            return Err(BadArgument(format!(
                "interval_count is at most 1000, not {interval_count}"
            )));
        }
        Ok(RetentionQuery {
            born_event: self.born_event.clone(),
            return_event: self.return_event.clone(),
            span,
            born_where: None,
            return_where: None,
            retention_type,
            interval: None,
            interval_count,
            unit,
            unbounded: false,
            on: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_words_are_checked_with_the_argument_named() {
        assert_eq!(
            span("2024-03-05", "2024-03-01").unwrap_err().0,
            "from_date 2024-03-05 is after to_date 2024-03-01"
        );
        assert_eq!(
            day("March 1", "from_date").unwrap_err().0,
            "from_date must be a day like 2024-01-31, not \"March 1\""
        );
        assert_eq!(
            unit(Some("year")).unwrap_err().0,
            "unit must be minute, hour, day, week or month, not \"year\""
        );
        assert_eq!(count_type(Some("unique")).unwrap(), CountType::Unique);
    }

    #[test]
    fn spans_are_limited_to_ten_thousand_buckets() {
        let year = span("2024-01-01", "2024-12-31").unwrap();
        assert!(check_buckets(year, TimeUnit::Hour).is_ok(), "a year by the hour: 8,784");
        assert_eq!(
            check_buckets(year, TimeUnit::Minute).unwrap_err().0,
            "2024-01-01 to 2024-12-31 by the minute is 527040 buckets, more than 10000: use a \
             coarser unit or a shorter range"
        );
        let century = span("1900-01-01", "2024-12-31").unwrap();
        assert!(check_buckets(century, TimeUnit::Day).is_err());
        assert!(check_buckets(century, TimeUnit::Month).is_ok());
    }

    #[test]
    fn a_funnel_needs_steps_or_a_saved_funnel() {
        let args: FunnelArgs = serde_json::from_value(serde_json::json!({
            "from_date": "2024-03-01", "to_date": "2024-03-02"
        }))
        .unwrap();
        assert!(args.query().unwrap_err().0.contains("give the funnel's steps"));
        let args: FunnelArgs = serde_json::from_value(serde_json::json!({
            "steps": ["A", "B"], "from_date": "2024-03-01", "to_date": "2024-03-02",
            "window_days": 7, "local": true
        }))
        .unwrap();
        let query = args.query().unwrap();
        assert_eq!(query.window, Some(ConversionWindow { length: 7, unit: LengthUnit::Day }));
        assert_eq!(args.source.local, Some(true));
    }
}
