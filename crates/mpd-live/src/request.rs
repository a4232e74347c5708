//! What a live query asks Mixpanel (or, with `--local`, the store) for.

use chrono::NaiveDate;
use serde::Serialize;

/// Time bucket of a result series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeUnit {
    /// Minute buckets, labelled `YYYY-MM-DD HH:MM:00`.
    Minute,
    /// Hour buckets, labelled `YYYY-MM-DD HH:00:00`.
    Hour,
    /// Day buckets, labelled `YYYY-MM-DD`.
    Day,
    /// Weeks starting on Monday, labelled with the Monday `YYYY-MM-DD`.
    Week,
    /// Months, labelled with their first day `YYYY-MM-01`.
    Month,
}

impl TimeUnit {
    /// The value whose name is `word` (the names [`TimeUnit::as_str`] gives), for the fronts that
    /// take it as text.
    pub fn from_word(word: &str) -> Option<Self> {
        [TimeUnit::Minute, TimeUnit::Hour, TimeUnit::Day, TimeUnit::Week, TimeUnit::Month]
            .into_iter()
            .find(|value| value.as_str() == word)
    }

    /// The name Mixpanel's `unit` parameter uses.
    pub fn as_str(self) -> &'static str {
        match self {
            TimeUnit::Minute => "minute",
            TimeUnit::Hour => "hour",
            TimeUnit::Day => "day",
            TimeUnit::Week => "week",
            TimeUnit::Month => "month",
        }
    }
}

/// What a count counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CountType {
    /// Every event.
    #[default]
    General,
    /// Distinct users (identity-resolved) per bucket.
    Unique,
    /// Events per user in the bucket (general / unique).
    Average,
}

impl CountType {
    /// The value whose name is `word` (the names [`CountType::as_str`] gives), for the fronts that
    /// take it as text.
    pub fn from_word(word: &str) -> Option<Self> {
        [CountType::General, CountType::Unique, CountType::Average]
            .into_iter()
            .find(|value| value.as_str() == word)
    }

    /// The name Mixpanel's `type` parameter uses.
    pub fn as_str(self) -> &'static str {
        match self {
            CountType::General => "general",
            CountType::Unique => "unique",
            CountType::Average => "average",
        }
    }
}

/// An inclusive range of days in the project's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DateSpan {
    /// First day.
    pub from: NaiveDate,
    /// Last day (inclusive).
    pub to: NaiveDate,
}

/// `segmentation` and `segmentation-numeric`: one event over time, optionally split by a
/// property.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentationQuery {
    /// The event.
    pub event: String,
    /// The days.
    pub span: DateSpan,
    /// Segment by this property (`plan` or `properties["plan"]`); required for numeric.
    pub on: Option<String>,
    /// Bucket size.
    pub unit: TimeUnit,
    /// Mixpanel filter expression.
    pub where_expr: Option<String>,
    /// What to count.
    pub count_type: CountType,
    /// At most this many segments (Mixpanel's default 60).
    pub limit: Option<u32>,
}

/// `segmentation-sum` and `segmentation-average`: a numeric property of one event over time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricQuery {
    /// The event.
    pub event: String,
    /// The days.
    pub span: DateSpan,
    /// The numeric property or expression (`amount` or `properties["amount"]`).
    pub on: String,
    /// Bucket size (hour or day).
    pub unit: TimeUnit,
    /// Mixpanel filter expression.
    pub where_expr: Option<String>,
}

/// `event-counts`: several events over time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventCountsQuery {
    /// The events.
    pub events: Vec<String>,
    /// The days.
    pub span: DateSpan,
    /// What to count.
    pub count_type: CountType,
    /// Bucket size.
    pub unit: TimeUnit,
}

/// `property-counts`: one event over time, split by the values of one property.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PropertyCountsQuery {
    /// The event.
    pub event: String,
    /// The property.
    pub property: String,
    /// The days.
    pub span: DateSpan,
    /// What to count.
    pub count_type: CountType,
    /// Bucket size.
    pub unit: TimeUnit,
    /// At most this many values (the most frequent).
    pub limit: u32,
    /// Only these values (empty: the top `limit`).
    pub values: Vec<String>,
}

/// Unit of a funnel's conversion window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LengthUnit {
    /// Seconds.
    Second,
    /// Minutes.
    Minute,
    /// Hours.
    Hour,
    /// Days.
    Day,
}

impl LengthUnit {
    /// The value whose name is `word` (the names [`LengthUnit::as_str`] gives), for the fronts that
    /// take it as text.
    pub fn from_word(word: &str) -> Option<Self> {
        [LengthUnit::Second, LengthUnit::Minute, LengthUnit::Hour, LengthUnit::Day]
            .into_iter()
            .find(|value| value.as_str() == word)
    }

    /// The name Mixpanel's `length_unit` parameter uses.
    pub fn as_str(self) -> &'static str {
        match self {
            LengthUnit::Second => "second",
            LengthUnit::Minute => "minute",
            LengthUnit::Hour => "hour",
            LengthUnit::Day => "day",
        }
    }

    /// Seconds in one unit.
    pub fn seconds(self) -> i64 {
        match self {
            LengthUnit::Second => 1,
            LengthUnit::Minute => 60,
            LengthUnit::Hour => 3_600,
            LengthUnit::Day => 86_400,
        }
    }
}

/// A funnel's conversion window: a user must finish within this time of entering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ConversionWindow {
    /// How many units.
    pub length: u32,
    /// The unit.
    pub unit: LengthUnit,
}

/// `funnel`: a saved funnel (live) or a list of steps (`--local`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunnelQuery {
    /// The saved funnel (live queries).
    pub funnel_id: Option<u64>,
    /// The step events in order (local queries; live queries take them from Mixpanel).
    pub steps: Vec<String>,
    /// The days users may enter the funnel.
    pub span: DateSpan,
    /// Bucket of the entry date (day, week or month; Mixpanel's default is day).
    pub unit: Option<TimeUnit>,
    /// Segment by this property.
    pub on: Option<String>,
    /// Mixpanel filter expression.
    pub where_expr: Option<String>,
    /// Conversion window (default: the saved funnel's; 30 days locally).
    pub window: Option<ConversionWindow>,
    /// At most this many segments.
    pub limit: Option<u32>,
}

/// Which users a retention cohort holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RetentionType {
    /// Users doing the born event for the first time in the range, by that day.
    #[default]
    Birth,
    /// Users doing the born event on each day, whether or not it was their first time.
    Compounded,
}

impl RetentionType {
    /// The value whose name is `word` (the names [`RetentionType::as_str`] gives), for the fronts that
    /// take it as text.
    pub fn from_word(word: &str) -> Option<Self> {
        [RetentionType::Birth, RetentionType::Compounded]
            .into_iter()
            .find(|value| value.as_str() == word)
    }

    /// The name Mixpanel's `retention_type` parameter uses.
    pub fn as_str(self) -> &'static str {
        match self {
            RetentionType::Birth => "birth",
            RetentionType::Compounded => "compounded",
        }
    }
}

/// `retention`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RetentionQuery {
    /// The event that puts a user into a cohort.
    pub born_event: String,
    /// The event that counts as coming back (default: any event).
    pub return_event: Option<String>,
    /// The days cohorts are born on.
    pub span: DateSpan,
    /// Filter on the born event.
    pub born_where: Option<String>,
    /// Filter on the return event.
    pub return_where: Option<String>,
    /// Birth or compounded.
    pub retention_type: RetentionType,
    /// Interval length in `unit`s (default 1).
    pub interval: Option<u32>,
    /// Number of intervals after the 0th.
    pub interval_count: u32,
    /// Unit of an interval (day, week or month).
    pub unit: TimeUnit,
    /// Count a user in every interval up to their last return.
    pub unbounded: bool,
    /// Segment by this property.
    pub on: Option<String>,
}

/// `frequency`: how many users did an event in at least N distinct hours (or days) of each
/// bucket.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrequencyQuery {
    /// The event (default: any event).
    pub event: Option<String>,
    /// The days.
    pub span: DateSpan,
    /// Bucket size (day, week or month).
    pub unit: TimeUnit,
    /// What is counted inside a bucket (hour or day).
    pub addiction_unit: TimeUnit,
    /// Mixpanel filter expression.
    pub where_expr: Option<String>,
    /// Segment by this property.
    pub on: Option<String>,
    /// At most this many segments.
    pub limit: Option<u32>,
}

/// `activity-feed`: every event of some users.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActivityQuery {
    /// The users' distinct_ids.
    pub distinct_ids: Vec<String>,
    /// The days.
    pub span: DateSpan,
}

/// Which view of a saved Flows report to ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowsView {
    /// Steps of nodes with the edges between them (`query_type=flows_sankey`).
    #[default]
    Sankey,
    /// The most common paths (`query_type=flows_top_paths`).
    TopPaths,
}

impl FlowsView {
    /// The `query_type` parameter of `/arb_funnels`.
    pub fn query_type(self) -> &'static str {
        match self {
            FlowsView::Sankey => "flows_sankey",
            FlowsView::TopPaths => "flows_top_paths",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_reads_back_as_its_value_and_others_are_none() {
        for unit in
            [TimeUnit::Minute, TimeUnit::Hour, TimeUnit::Day, TimeUnit::Week, TimeUnit::Month]
        {
            assert_eq!(TimeUnit::from_word(unit.as_str()), Some(unit));
        }
        for count in [CountType::General, CountType::Unique, CountType::Average] {
            assert_eq!(CountType::from_word(count.as_str()), Some(count));
        }
        for unit in [LengthUnit::Second, LengthUnit::Minute, LengthUnit::Hour, LengthUnit::Day] {
            assert_eq!(LengthUnit::from_word(unit.as_str()), Some(unit));
        }
        for kind in [RetentionType::Birth, RetentionType::Compounded] {
            assert_eq!(RetentionType::from_word(kind.as_str()), Some(kind));
        }
        assert_eq!(TimeUnit::from_word("Day"), None);
        assert_eq!(CountType::from_word("median"), None);
    }
}
