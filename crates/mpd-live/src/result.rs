//! Typed answers of live (and local) queries and of discovery. Library users get the same
//! types the CLI prints.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use super::request::{
    ConversionWindow, CountType, DateSpan, EventCountsQuery, RetentionQuery, RetentionType,
    SegmentationQuery, TimeUnit,
};

/// Values over time buckets, one line per series: what segmentation, event counts, property
/// counts, numeric buckets, sums, averages and saved Insights reports return.
///
/// Serialized as `{"dates": [...], "series": {"<name>": {"<date>": value, ...}, ...}}`,
/// series in the order of [`TimeSeries::series`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TimeSeries {
    /// Every bucket label in time order (`2024-03-01`, `2024-03-01 10:00:00`, ...), including
    /// buckets where no series has a value.
    pub dates: Vec<String>,
    /// The series, largest total first (ties by name).
    pub series: Vec<Series>,
}

/// One line of a [`TimeSeries`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    /// The event, segment value or bucket label this line is for.
    pub name: String,
    /// Value per bucket label; a bucket Mixpanel left out is absent (not zero).
    pub values: BTreeMap<String, f64>,
}

impl Series {
    /// The sum of the series' values.
    pub fn total(&self) -> f64 {
        self.values.values().sum()
    }
}

impl TimeSeries {
    /// The sum of every value of every series.
    pub fn total(&self) -> f64 {
        self.series.iter().map(Series::total).sum()
    }

    /// The series called `name`.
    pub fn get(&self, name: &str) -> Option<&Series> {
        self.series.iter().find(|s| s.name == name)
    }
}

impl Serialize for TimeSeries {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        struct Values<'a>(&'a BTreeMap<String, f64>);
        impl Serialize for Values<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_map(self.0.iter().map(|(k, v)| (k, Number(*v))))
            }
        }
        struct SeriesMap<'a>(&'a [Series]);
        impl Serialize for SeriesMap<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_map(self.0.iter().map(|s| (&s.name, Values(&s.values))))
            }
        }
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("dates", &self.dates)?;
        map.serialize_entry("series", &SeriesMap(&self.series))?;
        map.end()
    }
}

/// A number that serializes as an integer when it is one, so counts read `12`, not `12.0`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Number(pub f64);

impl Serialize for Number {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_number(&self.0, serializer)
    }
}

/// Serializes an `f64` as an integer when it is a whole number within ±2^53.
pub fn serialize_number<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    const EXACT: f64 = 9_007_199_254_740_992.0;
    if value.fract() == 0.0 && value.abs() <= EXACT {
        serializer.serialize_i64(*value as i64)
    } else {
        serializer.serialize_f64(*value)
    }
}

/// Where a result came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Mixpanel's Query API.
    Live,
    /// SQL over the local store.
    Local,
}

/// `segmentation` and `segmentation-numeric`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentationResult {
    /// Live or local.
    pub source: Source,
    /// The event.
    pub event: String,
    /// The days.
    #[serde(flatten)]
    pub span: DateSpan,
    /// Bucket size.
    pub unit: TimeUnit,
    /// What was counted.
    #[serde(rename = "type")]
    pub count_type: CountType,
    /// The segmenting property, if any.
    pub on: Option<String>,
    /// Sum of every value (for `unique`, users are counted once per bucket and segment).
    #[serde(serialize_with = "serialize_number")]
    pub total: f64,
    /// One series per segment (or one named after the event).
    #[serde(flatten)]
    pub series: TimeSeries,
}

/// What a [`MetricResult`] aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    /// Sum per bucket.
    Sum,
    /// Mean per bucket.
    Average,
}

impl SegmentationResult {
    /// The answer to `q` from `source`; the total is the sum of `series`.
    pub fn answer(source: Source, q: &SegmentationQuery, series: TimeSeries) -> Self {
        Self {
            source,
            event: q.event.clone(),
            span: q.span,
            unit: q.unit,
            count_type: q.count_type,
            on: q.on.clone(),
            total: series.total(),
            series,
        }
    }
}

/// `segmentation-sum` and `segmentation-average`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricResult {
    /// Live or local.
    pub source: Source,
    /// Sum or average.
    pub metric: Metric,
    /// The event.
    pub event: String,
    /// The numeric expression.
    pub on: String,
    /// The days.
    #[serde(flatten)]
    pub span: DateSpan,
    /// Bucket size.
    pub unit: TimeUnit,
    /// One series named after `on`.
    #[serde(flatten)]
    pub series: TimeSeries,
}

/// `event-counts`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventCountsResult {
    /// Live or local.
    pub source: Source,
    /// The events asked for.
    pub events: Vec<String>,
    /// The days.
    #[serde(flatten)]
    pub span: DateSpan,
    /// Bucket size.
    pub unit: TimeUnit,
    /// What was counted.
    #[serde(rename = "type")]
    pub count_type: CountType,
    /// Sum of every value.
    #[serde(serialize_with = "serialize_number")]
    pub total: f64,
    /// One series per event.
    #[serde(flatten)]
    pub series: TimeSeries,
}

impl EventCountsResult {
    /// The answer to `q` from `source`; the total is the sum of `series`.
    pub fn answer(source: Source, q: &EventCountsQuery, series: TimeSeries) -> Self {
        Self {
            source,
            events: q.events.clone(),
            span: q.span,
            unit: q.unit,
            count_type: q.count_type,
            total: series.total(),
            series,
        }
    }
}

/// `property-counts`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PropertyCountsResult {
    /// Live or local.
    pub source: Source,
    /// The event.
    pub event: String,
    /// The property.
    pub property: String,
    /// The days.
    #[serde(flatten)]
    pub span: DateSpan,
    /// Bucket size.
    pub unit: TimeUnit,
    /// What was counted.
    #[serde(rename = "type")]
    pub count_type: CountType,
    /// Sum of every value.
    #[serde(serialize_with = "serialize_number")]
    pub total: f64,
    /// One series per property value.
    #[serde(flatten)]
    pub series: TimeSeries,
}

/// One step of a funnel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunnelStep {
    /// 1-based position.
    pub step: u32,
    /// The step's event (or its label).
    pub event: String,
    /// Users who reached this step.
    pub count: u64,
    /// `count` / previous step's `count` (1 for the first step, 0 when the previous is 0).
    pub step_conv_ratio: f64,
    /// `count` / first step's `count`.
    pub overall_conv_ratio: f64,
    /// Mean seconds from the previous step (none for the first step or when unknown).
    pub avg_time: Option<f64>,
    /// Mean seconds from the first step.
    pub avg_time_from_start: Option<f64>,
}

/// A funnel's steps for users who entered in one bucket.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunnelBucket {
    /// The entry bucket's label.
    pub date: String,
    /// The steps.
    pub steps: Vec<FunnelStep>,
}

/// A funnel's steps for one segment value (with `on`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunnelSegment {
    /// The segment value.
    pub segment: String,
    /// The steps, summed over the range.
    pub steps: Vec<FunnelStep>,
}

/// `funnel`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunnelResult {
    /// Live or local.
    pub source: Source,
    /// The saved funnel, for live queries.
    pub funnel_id: Option<u64>,
    /// The funnel's name when Mixpanel told it.
    pub name: Option<String>,
    /// The days users entered on.
    #[serde(flatten)]
    pub span: DateSpan,
    /// The conversion window, when known.
    pub window: Option<ConversionWindow>,
    /// The steps over the whole range: counts summed over the buckets, ratios recomputed.
    pub steps: Vec<FunnelStep>,
    /// Per entry bucket, in time order.
    pub buckets: Vec<FunnelBucket>,
    /// Per segment with `on`, largest first.
    pub segments: Vec<FunnelSegment>,
}

/// Users born in one bucket and how many came back in each interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RetentionCohort {
    /// The bucket the users were born in.
    pub date: String,
    /// Users in the cohort.
    pub size: u64,
    /// Users who came back in interval 0, 1, ... (only intervals that have begun).
    pub counts: Vec<u64>,
    /// `counts[i] / size`.
    pub rates: Vec<f64>,
}

/// `retention`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RetentionResult {
    /// Live or local.
    pub source: Source,
    /// The born event.
    pub born_event: String,
    /// The return event (none: any event).
    pub return_event: Option<String>,
    /// The days cohorts were born on.
    #[serde(flatten)]
    pub span: DateSpan,
    /// Birth or compounded.
    pub retention_type: RetentionType,
    /// Unit of an interval.
    pub unit: TimeUnit,
    /// Cohorts in time order.
    pub cohorts: Vec<RetentionCohort>,
}

impl RetentionResult {
    /// The answer to `q` from `source`.
    pub fn answer(source: Source, q: &RetentionQuery, cohorts: Vec<RetentionCohort>) -> Self {
        Self {
            source,
            born_event: q.born_event.clone(),
            return_event: q.return_event.clone(),
            span: q.span,
            retention_type: q.retention_type,
            unit: q.unit,
            cohorts,
        }
    }
}

/// Users per bucket by how often they did the event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrequencyRow {
    /// The bucket.
    pub date: String,
    /// `counts[k]`: users who did the event in at least k+1 distinct addiction units.
    pub counts: Vec<u64>,
}

/// `frequency`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrequencyResult {
    /// The event (none: any event).
    pub event: Option<String>,
    /// The days.
    #[serde(flatten)]
    pub span: DateSpan,
    /// Bucket size.
    pub unit: TimeUnit,
    /// What is counted inside a bucket.
    pub addiction_unit: TimeUnit,
    /// Rows in time order.
    pub rows: Vec<FrequencyRow>,
}

/// One event of an activity feed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActivityEvent {
    /// When it happened.
    pub time: DateTime<Utc>,
    /// The event name.
    pub event: String,
    /// The user (numbers are turned into their decimal text).
    pub distinct_id: String,
    /// The other properties, as Mixpanel sent them.
    pub properties: Map<String, Value>,
}

/// `activity-feed`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActivityFeed {
    /// The users asked for.
    pub distinct_ids: Vec<String>,
    /// The days.
    #[serde(flatten)]
    pub span: DateSpan,
    /// Their events, oldest first.
    pub events: Vec<ActivityEvent>,
}

/// What one series of a saved report holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportSeries {
    /// The series' name in [`SavedReport::series`].
    pub name: String,
    /// The metric it measures (`Sign Up [Total Events]`, `View Item [Unique Users]`, or a
    /// funnel's `count`, `step_conv_ratio`, ...).
    pub metric: String,
    /// An `$overall` roll-up of a breakdown's segments, not a segment of its own.
    pub rollup: bool,
    /// Whether its values add up over buckets (event totals do; unique users, averages, rates
    /// and conversion ratios do not).
    pub additive: bool,
}

/// `saved-report`: a saved Insights report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SavedReport {
    /// The bookmark.
    pub bookmark_id: u64,
    /// When Mixpanel computed it.
    pub computed_at: Option<String>,
    /// The report's range as Mixpanel wrote it (offset timestamps).
    pub from: Option<String>,
    /// End of the range.
    pub to: Option<String>,
    /// What each nesting level of the series is split by (`$event`, a property, ...).
    pub headers: Vec<String>,
    /// Series named by their nesting path joined with ` / `; bucket labels as Mixpanel sent
    /// them (`all` for a single number).
    #[serde(flatten)]
    pub series: TimeSeries,
    /// What each series of `series` measures, in the same order.
    pub series_info: Vec<ReportSeries>,
    /// The report's secondary series (the counts behind a retention report's rates).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secondary: Option<TimeSeries>,
    /// Values that are not series (a funnel's `p_value` objects, ...), as Mixpanel sent them,
    /// by their path.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub other_values: BTreeMap<String, Value>,
}

impl SavedReport {
    /// What the series called `name` measures.
    pub fn series_info(&self, name: &str) -> Option<&ReportSeries> {
        self.series_info.iter().find(|s| s.name == name)
    }
}

/// What a node of a flows report stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowNodeKind {
    /// Users who did this event at this step (Mixpanel's `ANCHOR`, `FORWARD`, `REVERSE`, ...).
    Event,
    /// Events too rare to show on their own, merged into one node (`PRUNED`).
    Pruned,
    /// A node type this version of mpd does not know, without an event name.
    Other,
    /// No event at this position of a path (`EMPTY`, in top-paths reports).
    Empty,
    /// Users who did nothing more (`DROPOFF`).
    DropOff,
}

/// One node of a flows step, or one position of a path.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlowNode {
    /// What the node stands for.
    pub kind: FlowNodeKind,
    /// The event; `None` for drop-offs, pruned and empty nodes.
    pub event: Option<String>,
    /// Mixpanel's node type as sent (`ANCHOR`, `FORWARD`, `DROPOFF`, ...).
    pub node_type: Option<String>,
    /// Users.
    pub count: u64,
    /// Where this node's users went at the next step (sankey reports).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub edges: Vec<FlowEdge>,
}

impl FlowNode {
    /// The event, or what the node stands for: `(drop-off)`, `(other events)`, `(none)`.
    pub fn label(&self) -> String {
        match (self.kind, &self.event) {
            (FlowNodeKind::Event, Some(event)) => event.clone(),
            (FlowNodeKind::DropOff, _) => "(drop-off)".to_owned(),
            (FlowNodeKind::Pruned, _) => "(other events)".to_owned(),
            (FlowNodeKind::Empty, _) => "(none)".to_owned(),
            (_, _) => {
                format!("({})", self.node_type.as_deref().unwrap_or("unknown").to_ascii_lowercase())
            }
        }
    }
}

/// Users moving from a node to a node of the next step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlowEdge {
    /// The 0-based step the edge leads to.
    pub step: u32,
    /// What the target node stands for.
    pub kind: FlowNodeKind,
    /// The target's event, when it is one.
    pub event: Option<String>,
    /// Users.
    pub count: u64,
}

/// One step of a flows report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlowStep {
    /// 0-based position.
    pub step: u32,
    /// Events users did at this step, largest first, then pruned and drop-off nodes.
    pub nodes: Vec<FlowNode>,
}

/// One path of a top-paths flows report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlowPath {
    /// The positions in order; a path shorter than the report ends in `empty` nodes.
    pub nodes: Vec<FlowNode>,
    /// Users who took the whole path: the count of its last non-empty position.
    pub count: u64,
    /// The breakdown segment the path belongs to (`Converted`), when the report has one.
    pub segment: Option<String>,
}

impl FlowPath {
    /// The path's events and drop-offs, without the padding after its end.
    pub fn labels(&self) -> Vec<String> {
        let end =
            self.nodes.iter().rposition(|n| n.kind != FlowNodeKind::Empty).map_or(0, |i| i + 1);
        self.nodes[..end].iter().map(FlowNode::label).collect()
    }
}

/// Users of a breakdown segment of a whole flows report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlowSegment {
    /// The segment (`Converted`, `Did Not Convert`, a property value).
    pub segment: String,
    /// Users.
    pub count: u64,
}

/// `flows`: a saved Flows report, as a sankey (steps of nodes) or as top paths.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlowsResult {
    /// The bookmark.
    pub bookmark_id: u64,
    /// When Mixpanel computed it.
    pub computed_at: Option<String>,
    /// Steps in order (sankey reports).
    pub steps: Vec<FlowStep>,
    /// The most common paths, largest first (top-paths reports).
    pub paths: Vec<FlowPath>,
    /// How many distinct paths Mixpanel found, of which `paths` holds the top ones.
    pub paths_found: Option<u64>,
    /// The report's users per breakdown segment.
    pub segments: Vec<FlowSegment>,
    /// Share of starting users who reached the last step, when Mixpanel told it (an empty
    /// report's `"NaN"` reads as none).
    pub overall_conversion_rate: Option<f64>,
}

/// A property of an event and how often it was seen (`inspect properties`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PropertyCount {
    /// The property name.
    pub name: String,
    /// Events carrying it (none when Mixpanel sent an empty entry).
    pub count: Option<u64>,
}

/// A saved funnel (`inspect funnels`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FunnelInfo {
    /// Its id.
    pub funnel_id: u64,
    /// Its name.
    pub name: String,
}

/// A saved cohort (`inspect cohorts`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CohortInfo {
    /// Its id.
    pub id: u64,
    /// Its name.
    pub name: String,
    /// Users in it.
    pub count: Option<u64>,
    /// Its description.
    pub description: Option<String>,
    /// When it was created (`YYYY-MM-DD HH:MM:SS` as Mixpanel writes it).
    pub created: Option<String>,
    /// Whether it is visible in the UI.
    pub is_visible: Option<bool>,
    /// Its project.
    pub project_id: Option<u64>,
}

/// One of today's top events (`inspect top-events`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopEvent {
    /// The event.
    pub event: String,
    /// Today's count.
    pub count: u64,
    /// Change against yesterday (-0.35 = 35% fewer).
    pub percent_change: Option<f64>,
}

/// The day a bucket label starts on, for labels in any [`TimeUnit`].
pub fn bucket_day(label: &str) -> Option<NaiveDate> {
    label.get(..10).and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_series_serializes_as_dates_and_a_map_of_series() {
        let series = TimeSeries {
            dates: vec!["2024-03-01".into(), "2024-03-02".into()],
            series: vec![Series {
                name: "Login".into(),
                values: [("2024-03-01".to_owned(), 3.0), ("2024-03-02".to_owned(), 0.5)]
                    .into_iter()
                    .collect(),
            }],
        };
        let json = serde_json::to_string(&series).unwrap();
        assert_eq!(
            json,
            r#"{"dates":["2024-03-01","2024-03-02"],"series":{"Login":{"2024-03-01":3,"2024-03-02":0.5}}}"#
        );
        assert_eq!(series.total(), 3.5);
    }

    #[test]
    fn bucket_day_reads_every_unit_label() {
        let day = NaiveDate::from_ymd_opt(2024, 3, 1);
        assert_eq!(bucket_day("2024-03-01"), day);
        assert_eq!(bucket_day("2024-03-01 10:00:00"), day);
        assert_eq!(bucket_day("2024-03-01T00:00:00-07:00"), day);
        assert_eq!(bucket_day("March"), None);
    }
}
