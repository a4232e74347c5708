//! Grammar of the live Mixpanel queries (`mpd query segmentation ...`) and of discovery
//! (`mpd inspect events ...`), with the flags users of `mixpanel_data`'s `mp` know.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Args, ValueEnum};

use super::parse_day;

/// The days a query covers; both default so `mpd query segmentation -e Login` just works.
#[derive(Debug, Clone, Args)]
pub(crate) struct SpanArgs {
    /// First day, YYYY-MM-DD (default: 29 days before --to).
    #[arg(long, value_parser = parse_day)]
    pub(crate) from: Option<NaiveDate>,
    /// Last day, YYYY-MM-DD (default: today in the project's time zone).
    #[arg(long, value_parser = parse_day)]
    pub(crate) to: Option<NaiveDate>,
}

/// How a time series is shown besides `--format`.
#[derive(Debug, Clone, Args)]
pub(crate) struct ChartArgs {
    /// Draw a line chart in the terminal instead of the table.
    #[arg(long)]
    pub(crate) chart: bool,
    /// Also write an SVG line chart to this file.
    #[arg(long, value_name = "FILE.svg")]
    pub(crate) plot: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum UnitArg {
    Minute,
    Hour,
    Day,
    Week,
    Month,
}

impl From<UnitArg> for mpd_service::TimeUnit {
    fn from(unit: UnitArg) -> Self {
        match unit {
            UnitArg::Minute => Self::Minute,
            UnitArg::Hour => Self::Hour,
            UnitArg::Day => Self::Day,
            UnitArg::Week => Self::Week,
            UnitArg::Month => Self::Month,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum CountTypeArg {
    General,
    Unique,
    Average,
}

impl From<CountTypeArg> for mpd_service::CountType {
    fn from(value: CountTypeArg) -> Self {
        match value {
            CountTypeArg::General => Self::General,
            CountTypeArg::Unique => Self::Unique,
            CountTypeArg::Average => Self::Average,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LengthUnitArg {
    Second,
    Minute,
    Hour,
    Day,
}

impl From<LengthUnitArg> for mpd_service::LengthUnit {
    fn from(value: LengthUnitArg) -> Self {
        match value {
            LengthUnitArg::Second => Self::Second,
            LengthUnitArg::Minute => Self::Minute,
            LengthUnitArg::Hour => Self::Hour,
            LengthUnitArg::Day => Self::Day,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum RetentionTypeArg {
    Birth,
    Compounded,
}

impl From<RetentionTypeArg> for mpd_service::RetentionType {
    fn from(value: RetentionTypeArg) -> Self {
        match value {
            RetentionTypeArg::Birth => Self::Birth,
            RetentionTypeArg::Compounded => Self::Compounded,
        }
    }
}

/// `segmentation`.
#[derive(Debug, Args)]
pub(crate) struct SegmentationArgs {
    /// The event.
    #[arg(short = 'e', long)]
    pub(crate) event: String,
    #[command(flatten)]
    pub(crate) span: SpanArgs,
    /// Segment by this property (`plan` or `properties["plan"]`).
    #[arg(short = 'o', long)]
    pub(crate) on: Option<String>,
    /// Bucket size.
    #[arg(short = 'u', long, value_enum, default_value_t = UnitArg::Day)]
    pub(crate) unit: UnitArg,
    /// Mixpanel filter expression, e.g. `properties["plan"] == "pro"`.
    #[arg(short = 'w', long = "where")]
    pub(crate) where_expr: Option<String>,
    /// What to count.
    #[arg(short = 't', long = "type", value_enum, default_value_t = CountTypeArg::General)]
    pub(crate) count_type: CountTypeArg,
    /// At most this many segments (the largest).
    #[arg(short = 'l', long, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub(crate) limit: Option<u32>,
    /// Compute from the local store with SQL instead of asking Mixpanel.
    #[arg(long)]
    pub(crate) local: bool,
    #[command(flatten)]
    pub(crate) chart: ChartArgs,
}

/// `segmentation-numeric`.
#[derive(Debug, Args)]
pub(crate) struct NumericArgs {
    /// The event.
    #[arg(short = 'e', long)]
    pub(crate) event: String,
    /// The numeric property to bucket (`amount` or `properties["amount"]`).
    #[arg(short = 'o', long)]
    pub(crate) on: String,
    #[command(flatten)]
    pub(crate) span: SpanArgs,
    /// Bucket size (hour or day).
    #[arg(short = 'u', long, value_enum, default_value_t = UnitArg::Day)]
    pub(crate) unit: UnitArg,
    /// Mixpanel filter expression.
    #[arg(short = 'w', long = "where")]
    pub(crate) where_expr: Option<String>,
    /// What to count.
    #[arg(short = 't', long = "type", value_enum, default_value_t = CountTypeArg::General)]
    pub(crate) count_type: CountTypeArg,
    #[command(flatten)]
    pub(crate) chart: ChartArgs,
}

/// `segmentation-sum` and `segmentation-average`.
#[derive(Debug, Args)]
pub(crate) struct MetricArgs {
    /// The event.
    #[arg(short = 'e', long)]
    pub(crate) event: String,
    /// The numeric property or expression (`amount` or `properties["amount"]`).
    #[arg(short = 'o', long)]
    pub(crate) on: String,
    #[command(flatten)]
    pub(crate) span: SpanArgs,
    /// Bucket size (hour or day).
    #[arg(short = 'u', long, value_enum, default_value_t = UnitArg::Day)]
    pub(crate) unit: UnitArg,
    /// Mixpanel filter expression.
    #[arg(short = 'w', long = "where")]
    pub(crate) where_expr: Option<String>,
    #[command(flatten)]
    pub(crate) chart: ChartArgs,
}

/// `event-counts`.
#[derive(Debug, Args)]
pub(crate) struct EventCountsArgs {
    /// The events (comma-separated).
    #[arg(short = 'e', long, value_delimiter = ',', required = true)]
    pub(crate) events: Vec<String>,
    #[command(flatten)]
    pub(crate) span: SpanArgs,
    /// What to count.
    #[arg(short = 't', long = "type", value_enum, default_value_t = CountTypeArg::General)]
    pub(crate) count_type: CountTypeArg,
    /// Bucket size.
    #[arg(short = 'u', long, value_enum, default_value_t = UnitArg::Day)]
    pub(crate) unit: UnitArg,
    /// Compute from the local store with SQL instead of asking Mixpanel.
    #[arg(long)]
    pub(crate) local: bool,
    #[command(flatten)]
    pub(crate) chart: ChartArgs,
}

/// `property-counts`.
#[derive(Debug, Args)]
pub(crate) struct PropertyCountsArgs {
    /// The event.
    #[arg(short = 'e', long)]
    pub(crate) event: String,
    /// The property whose values split the counts.
    #[arg(short = 'p', long)]
    pub(crate) property: String,
    #[command(flatten)]
    pub(crate) span: SpanArgs,
    /// What to count.
    #[arg(short = 't', long = "type", value_enum, default_value_t = CountTypeArg::General)]
    pub(crate) count_type: CountTypeArg,
    /// Bucket size.
    #[arg(short = 'u', long, value_enum, default_value_t = UnitArg::Day)]
    pub(crate) unit: UnitArg,
    /// At most this many values (the most frequent).
    #[arg(short = 'l', long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub(crate) limit: u32,
    /// Only these values (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub(crate) values: Vec<String>,
    #[command(flatten)]
    pub(crate) chart: ChartArgs,
}

/// `funnel`.
#[derive(Debug, Args)]
pub(crate) struct FunnelArgs {
    /// The saved funnel's id (`mpd inspect funnels` lists them); not with --local.
    pub(crate) funnel_id: Option<u64>,
    #[command(flatten)]
    pub(crate) span: SpanArgs,
    /// Bucket of the day users entered the funnel.
    #[arg(short = 'u', long, value_enum)]
    pub(crate) unit: Option<UnitArg>,
    /// Segment by this property.
    #[arg(short = 'o', long)]
    pub(crate) on: Option<String>,
    /// Mixpanel filter expression.
    #[arg(short = 'w', long = "where")]
    pub(crate) where_expr: Option<String>,
    /// Conversion window length (default: the saved funnel's; 30 days with --local).
    #[arg(long)]
    pub(crate) length: Option<u32>,
    /// Unit of --length.
    #[arg(long, value_enum, default_value_t = LengthUnitArg::Day, requires = "length")]
    pub(crate) length_unit: LengthUnitArg,
    /// At most this many segments.
    #[arg(short = 'l', long)]
    pub(crate) limit: Option<u32>,
    /// Compute from the local store with SQL; needs --steps.
    #[arg(long, requires = "steps", conflicts_with = "funnel_id")]
    pub(crate) local: bool,
    /// The steps' events in order (comma-separated), for --local.
    #[arg(long, value_delimiter = ',', requires = "local")]
    pub(crate) steps: Vec<String>,
}

/// `retention`.
#[derive(Debug, Args)]
pub(crate) struct RetentionArgs {
    /// The event that puts users into a cohort.
    #[arg(short = 'b', long = "born")]
    pub(crate) born: String,
    /// The event that counts as coming back (default: any event).
    #[arg(short = 'r', long = "return")]
    pub(crate) return_event: Option<String>,
    #[command(flatten)]
    pub(crate) span: SpanArgs,
    /// Filter on the born event.
    #[arg(long)]
    pub(crate) born_where: Option<String>,
    /// Filter on the return event.
    #[arg(long)]
    pub(crate) return_where: Option<String>,
    /// Interval length in units.
    #[arg(short = 'i', long)]
    pub(crate) interval: Option<u32>,
    /// Number of intervals after the 0th.
    #[arg(short = 'n', long = "intervals", default_value_t = 7)]
    pub(crate) interval_count: u32,
    /// Unit of an interval.
    #[arg(short = 'u', long, value_enum, default_value_t = UnitArg::Day)]
    pub(crate) unit: UnitArg,
    /// Birth (first time) or compounded (every time) cohorts.
    #[arg(short = 't', long = "type", value_enum, default_value_t = RetentionTypeArg::Birth)]
    pub(crate) retention_type: RetentionTypeArg,
    /// Count a user in every interval up to their last return.
    #[arg(long)]
    pub(crate) unbounded: bool,
    /// Compute from the local store with SQL instead of asking Mixpanel.
    #[arg(long)]
    pub(crate) local: bool,
}

/// `frequency`.
#[derive(Debug, Args)]
pub(crate) struct FrequencyArgs {
    /// The event (default: any event).
    #[arg(short = 'e', long)]
    pub(crate) event: Option<String>,
    #[command(flatten)]
    pub(crate) span: SpanArgs,
    /// Bucket size.
    #[arg(short = 'u', long, value_enum, default_value_t = UnitArg::Day)]
    pub(crate) unit: UnitArg,
    /// What is counted inside a bucket (hour or day).
    #[arg(long, value_enum, default_value_t = UnitArg::Hour)]
    pub(crate) addiction_unit: UnitArg,
    /// Mixpanel filter expression.
    #[arg(short = 'w', long = "where")]
    pub(crate) where_expr: Option<String>,
    /// Segment by this property.
    #[arg(short = 'o', long)]
    pub(crate) on: Option<String>,
    /// At most this many segments.
    #[arg(short = 'l', long)]
    pub(crate) limit: Option<u32>,
}

/// `activity-feed`.
#[derive(Debug, Args)]
pub(crate) struct ActivityArgs {
    /// The users' distinct_ids (comma-separated).
    #[arg(short = 'U', long, value_delimiter = ',', required = true)]
    pub(crate) users: Vec<String>,
    #[command(flatten)]
    pub(crate) span: SpanArgs,
}

/// `saved-report` and `flows`.
#[derive(Debug, Args)]
pub(crate) struct BookmarkArgs {
    /// The saved report's bookmark id (from its URL in Mixpanel).
    pub(crate) bookmark_id: u64,
    #[command(flatten)]
    pub(crate) chart: ChartArgs,
}

/// `flows`.
#[derive(Debug, Args)]
pub(crate) struct FlowsArgs {
    /// The saved report's bookmark id (from its URL in Mixpanel).
    pub(crate) bookmark_id: u64,
    /// Ask for the report's most common paths instead of its steps.
    #[arg(long)]
    pub(crate) paths: bool,
    #[command(flatten)]
    pub(crate) chart: ChartArgs,
}

/// `jql`: accepted so the command can explain that JQL is gone.
#[derive(Debug, Args)]
pub(crate) struct JqlArgs {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    pub(crate) args: Vec<String>,
}

/// `inspect properties`.
#[derive(Debug, Args)]
pub(crate) struct PropertiesArgs {
    /// The event.
    #[arg(short = 'e', long)]
    pub(crate) event: String,
    /// Ask Mixpanel even if this process asked before.
    #[arg(long)]
    pub(crate) no_cache: bool,
}

/// `inspect values`.
#[derive(Debug, Args)]
pub(crate) struct ValuesArgs {
    /// The property.
    #[arg(short = 'p', long)]
    pub(crate) property: String,
    /// Only values seen on this event.
    #[arg(short = 'e', long)]
    pub(crate) event: Option<String>,
    /// At most this many values (the most frequent).
    #[arg(short = 'l', long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub(crate) limit: u32,
    /// Ask Mixpanel even if this process asked before.
    #[arg(long)]
    pub(crate) no_cache: bool,
}

/// `inspect events|funnels|cohorts`.
#[derive(Debug, Args)]
pub(crate) struct CacheArgs {
    /// Ask Mixpanel even if this process asked before.
    #[arg(long)]
    pub(crate) no_cache: bool,
}

/// `inspect top-events`.
#[derive(Debug, Args)]
pub(crate) struct TopEventsArgs {
    /// What to count.
    #[arg(short = 't', long = "type", value_enum, default_value_t = CountTypeArg::General)]
    pub(crate) count_type: CountTypeArg,
    /// At most this many events.
    #[arg(short = 'l', long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub(crate) limit: u32,
}
