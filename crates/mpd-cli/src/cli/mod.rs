//! The command-line grammar (clap derive).

mod live;

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand, ValueEnum};

pub(crate) use live::*;

/// Mixpanel data into a local Delta Lake, deduplicated and queryable with SQL.
#[derive(Debug, Parser)]
#[command(name = "mpd", version, about, propagate_version = true)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Args)]
pub(crate) struct GlobalArgs {
    /// Account from the config file (default: MP_ACCOUNT, then the default account).
    #[arg(short = 'a', long, global = true)]
    pub(crate) account: Option<String>,
    /// Only errors on stderr; no progress, no summaries.
    #[arg(short = 'q', long, global = true)]
    pub(crate) quiet: bool,
    /// More logging on stderr (-v info, -vv debug, -vvv trace). MPD_LOG overrides.
    #[arg(short = 'v', long, action = clap::ArgAction::Count, global = true)]
    pub(crate) verbose: u8,
    /// Output format of results.
    #[arg(short = 'f', long, value_enum, global = true)]
    pub(crate) format: Option<Format>,
    /// Filter json/jsonl output with a jq expression.
    #[arg(long, global = true, value_name = "EXPR")]
    pub(crate) jq: Option<String>,
    /// Store folder or S3 URL, e.g. s3://bucket/prefix (default: ~/.mp/lake/<project_id>/;
    /// MPD_STORE).
    #[arg(long, global = true, value_name = "DIR|URL")]
    pub(crate) store: Option<PathBuf>,
    /// Never draw progress bars.
    #[arg(long, global = true)]
    pub(crate) no_progress: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    Json,
    Jsonl,
    Table,
    Csv,
    Plain,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Manage Mixpanel accounts in ~/.mp/config.toml.
    #[command(subcommand)]
    Auth(AuthCommand),
    /// Fetch events or profiles from Mixpanel.
    #[command(subcommand)]
    Fetch(FetchCommand),
    /// Run the main job against the bundled mock Mixpanel (no account needed).
    Demo,
    /// Show mpd's settings.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print shell completions.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Incremental, exactly-once sync of events, identity mappings and profiles into the store.
    Sync(SyncArgs),
    /// Import data Mixpanel exported elsewhere.
    #[command(subcommand)]
    Import(ImportCommand),
    /// SQL over the store, and live Mixpanel queries (segmentation, funnels, retention, ...).
    #[command(subcommand)]
    Query(QueryCommand),
    /// Inspect the store, or discover the project's events, properties, funnels and cohorts.
    #[command(subcommand)]
    Inspect(InspectCommand),
    /// Erase users' data from every table of the store (GDPR / CCPA).
    #[command(subcommand)]
    Gdpr(GdprCommand),
    /// Compact, vacuum and show the history of a table.
    #[command(subcommand)]
    Tables(TablesCommand),
    /// Serve the store and Mixpanel's reports to an AI agent (Model Context Protocol, stdio).
    Mcp(McpArgs),
}

#[derive(Debug, Args)]
pub(crate) struct McpArgs {
    /// Also offer the tools that write to the store (`sync`).
    #[arg(long)]
    pub(crate) allow_write: bool,
    /// Rows a `sql` answer may hold at most.
    #[arg(long, default_value_t = 1000, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub(crate) max_rows: u32,
    /// Seconds a `sql` query may run before it is stopped.
    #[arg(long, default_value_t = 60, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) query_timeout: u64,
}

#[derive(Debug, Args)]
pub(crate) struct SyncArgs {
    /// Which tables.
    #[arg(value_enum, default_value_t = SyncTargetArg::All)]
    pub(crate) target: SyncTargetArg,
    /// First day of the first sync (later syncs continue from the cursor and never read
    /// before it).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub(crate) from: Option<NaiveDate>,
    /// Days re-read before the cursor to catch late events, like `5d` or `5` (default: the
    /// lookback_days setting, 5).
    #[arg(long, value_name = "DAYS")]
    pub(crate) lookback: Option<Lookback>,
    /// Re-read these days, deduplicated as always; the cursor does not move.
    #[arg(long, num_args = 2, value_names = ["FROM", "TO"])]
    pub(crate) backfill: Option<Vec<NaiveDate>>,
    /// Print the days, the requests and the share of the hourly budget; change nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Export requests in flight (days are still committed in order).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u8).range(1..=32))]
    pub(crate) workers: u8,
    /// Malformed lines accepted before the sync stops.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub(crate) allow_bad_lines: u64,
    /// Days per export request (default: as many as fit the run into one hour of Mixpanel's
    /// export budget, fewer when the days seen lately are big).
    #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..=366))]
    pub(crate) chunk_days: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SyncTargetArg {
    Events,
    Profiles,
    Identity,
    All,
}

impl From<SyncTargetArg> for mpd_service::SyncTarget {
    fn from(target: SyncTargetArg) -> Self {
        match target {
            SyncTargetArg::Events => Self::Events,
            SyncTargetArg::Profiles => Self::Profiles,
            SyncTargetArg::Identity => Self::Identity,
            SyncTargetArg::All => Self::All,
        }
    }
}

/// A number of days, written `5` or `5d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Lookback(pub(crate) u32);

impl std::str::FromStr for Lookback {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let digits = text.strip_suffix('d').unwrap_or(text);
        digits
            .parse()
            .map(Lookback)
            .map_err(|_| format!("'{text}' is not a number of days; write it like 5d or 5"))
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum ImportCommand {
    /// A JSON pipelines folder (`<project_id>/mp_master_event/YYYY/MM/DD/*.json[.gz]`,
    /// `mp_people_data/`, `mp_identity_mappings_data/`), deduplicated like `mpd sync`; files
    /// already imported are skipped, late files in old day folders are picked up.
    Pipelines {
        /// The folder or bucket URL (`s3://bucket/<project_id>`; the bucket root holding one
        /// `<project_id>/`, or the project folder).
        source: PathBuf,
        /// Malformed lines accepted before the import stops.
        #[arg(long, default_value_t = 0, value_name = "N")]
        allow_bad_lines: u64,
    },
    /// Raw export dumps (JSON lines as Mixpanel's export API sends them, plain or gzipped)
    /// into the events table, deduplicated like `mpd fetch events --append`; files already
    /// imported are skipped.
    Export {
        /// A dump file, a folder of `.json`/`.jsonl`(`.gz`) files, or `-` for standard input.
        source: PathBuf,
        /// Malformed lines accepted before the import stops.
        #[arg(long, default_value_t = 0, value_name = "N")]
        allow_bad_lines: u64,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum GdprCommand {
    /// Remove the users' rows from every table, vacuum the old files so the bytes are gone,
    /// and record the ids (hashed) so later syncs and imports drop their events.
    Delete {
        /// A user's distinct_id (repeatable).
        #[arg(long = "distinct-id", value_name = "ID", required_unless_present = "file")]
        distinct_ids: Vec<String>,
        /// A file with one distinct_id per line.
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum TablesCommand {
    /// Merge small files (hourly syncs make many) into large ones (Delta OPTIMIZE); an events
    /// table's days that are not one file sorted by event and time are rewritten so (one
    /// commit; a table without the configured typed property columns is rewritten whole).
    Compact {
        /// The table.
        table: String,
    },
    /// Rewrite an events table with the `typed_properties` setting's columns (backfilled from
    /// `properties`), sorted by event and time within each day, in one commit.
    Evolve {
        /// The table.
        #[arg(default_value = "events")]
        table: String,
    },
    /// Delete files that no version younger than the retention needs (Delta VACUUM).
    Vacuum {
        /// Keep files removed less than this many hours ago (readers of older versions and
        /// time travel need them).
        #[arg(long, default_value_t = 168, value_name = "HOURS")]
        retention_hours: u64,
        /// List what would be deleted; delete nothing.
        #[arg(long)]
        dry_run: bool,
        /// The table.
        table: String,
    },
    /// The table's commits, newest first, with each sync's counts.
    History {
        /// The table.
        table: String,
        /// At most this many commits.
        #[arg(short = 'n', long)]
        limit: Option<usize>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum QueryCommand {
    /// Run SQL over the store's tables (DataFusion, with JSON functions).
    Sql(QuerySql),
    /// An event over time, optionally split by a property (live, or --local).
    Segmentation(SegmentationArgs),
    /// An event over time, split into buckets of a numeric property.
    SegmentationNumeric(NumericArgs),
    /// The sum of a numeric property of an event over time.
    SegmentationSum(MetricArgs),
    /// The average of a numeric property of an event over time.
    SegmentationAverage(MetricArgs),
    /// Several events over time (live, or --local).
    EventCounts(EventCountsArgs),
    /// An event over time, split by the values of a property.
    PropertyCounts(PropertyCountsArgs),
    /// A saved funnel's conversion (live), or a funnel of --steps from the store (--local).
    Funnel(FunnelArgs),
    /// How many users come back after doing an event (live, or --local).
    Retention(RetentionArgs),
    /// How many users did an event in at least N distinct hours (or days) of each day.
    Frequency(FrequencyArgs),
    /// Every event of some users.
    ActivityFeed(ActivityArgs),
    /// A saved Insights report.
    SavedReport(BookmarkArgs),
    /// A saved Flows report: steps of events and drop-offs, or its top paths.
    Flows(FlowsArgs),
    /// JQL is not supported: Mixpanel has sunset it.
    #[command(hide = true)]
    Jql(JqlArgs),
}

#[derive(Debug, Args)]
pub(crate) struct QuerySql {
    /// The query.
    #[arg(required_unless_present = "file", conflicts_with = "file")]
    pub(crate) query: Option<String>,
    /// Read the query from a file.
    #[arg(long, value_name = "FILE")]
    pub(crate) file: Option<PathBuf>,
    /// Print the single value of a one-row, one-column result.
    #[arg(long)]
    pub(crate) scalar: bool,
    /// Write the rows to a .parquet, .csv or .jsonl file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
    /// Benchmarking: run the query this many times more in the same process, after the one
    /// whose rows are printed, and write each run's milliseconds to stderr as
    /// `timings_ms: [..]`.
    #[arg(long, value_name = "N", hide = true)]
    pub(crate) repeat: Option<u32>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum InspectCommand {
    /// Where the store is and what it holds.
    Info,
    /// Every table with rows, files, size and version.
    Tables,
    /// A table's columns.
    Schema {
        /// The table.
        table: String,
    },
    /// Random rows of a table.
    Sample {
        /// The table.
        table: String,
        /// How many rows.
        #[arg(short = 'n', long, default_value_t = 10)]
        rows: u32,
    },
    /// Per-column counts, nulls, distinct values, min and max.
    Summarize {
        /// The table.
        table: String,
    },
    /// Events per name with distinct ids and first/last time.
    Breakdown {
        /// The table (default: events).
        #[arg(default_value = "events")]
        table: String,
    },
    /// Remove a table and its files.
    Drop {
        /// The table.
        table: String,
        /// Do not ask for confirmation.
        #[arg(short = 'y', long)]
        yes: bool,
    },
    /// The project's event names (live; cached for this process).
    Events(CacheArgs),
    /// An event's properties and how often they are set (live).
    Properties(PropertiesArgs),
    /// A property's most frequent values (live).
    Values(ValuesArgs),
    /// The saved funnels (live).
    Funnels(CacheArgs),
    /// The saved cohorts (live).
    Cohorts(CacheArgs),
    /// Today's most frequent events and their change since yesterday (live; never cached).
    TopEvents(TopEventsArgs),
}

impl InspectCommand {
    /// Discovery goes to Mixpanel; the other subcommands read the store.
    pub(crate) fn asks_mixpanel(&self) -> bool {
        matches!(
            self,
            Self::Events(_)
                | Self::Properties(_)
                | Self::Values(_)
                | Self::Funnels(_)
                | Self::Cohorts(_)
                | Self::TopEvents(_)
        )
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum AuthCommand {
    /// List accounts.
    List,
    /// Add an account; the secret is read from a hidden prompt or from stdin.
    Add(AuthAdd),
    /// Remove an account.
    Remove {
        /// The account.
        name: String,
    },
    /// Make an account the default.
    Switch {
        /// The account.
        name: String,
    },
    /// Show an account (secret masked).
    Show {
        /// The account (default: the one in use).
        name: Option<String>,
    },
    /// Check that an account's credentials work with one cheap call.
    Test {
        /// The account (default: the one in use).
        name: Option<String>,
    },
}

#[derive(Debug, Args)]
pub(crate) struct AuthAdd {
    /// A name for the account.
    pub(crate) name: String,
    /// Service account username.
    #[arg(short = 'u', long)]
    pub(crate) username: String,
    /// Project id.
    #[arg(short = 'p', long = "project-id", alias = "project")]
    pub(crate) project_id: u64,
    /// Data residency region: us, eu or in.
    #[arg(short = 'r', long, default_value = "us")]
    pub(crate) region: String,
    /// Make it the default account.
    #[arg(short = 'd', long)]
    pub(crate) default: bool,
    /// Read the secret from stdin (also used automatically when stdin is not a terminal).
    #[arg(long)]
    pub(crate) secret_stdin: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum FetchCommand {
    /// Export events day by day (raw export API).
    Events(FetchEvents),
    /// Query user or group profiles (engage API).
    Profiles(FetchProfiles),
}

#[derive(Debug, Args)]
pub(crate) struct FetchEvents {
    /// Table to store into (default: events).
    pub(crate) table: Option<String>,
    /// First day, YYYY-MM-DD (inclusive).
    #[arg(long, value_parser = parse_day)]
    pub(crate) from: NaiveDate,
    /// Last day, YYYY-MM-DD (inclusive).
    #[arg(long, value_parser = parse_day)]
    pub(crate) to: NaiveDate,
    /// Only these event names (comma-separated).
    #[arg(short = 'e', long, value_delimiter = ',')]
    pub(crate) events: Vec<String>,
    /// Mixpanel filter expression.
    #[arg(short = 'w', long = "where")]
    pub(crate) where_expr: Option<String>,
    /// At most N events (1..=100000).
    #[arg(short = 'l', long, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub(crate) limit: Option<u32>,
    /// Add to an existing table.
    #[arg(long, conflicts_with = "replace")]
    pub(crate) append: bool,
    /// Replace an existing table.
    #[arg(long)]
    pub(crate) replace: bool,
    /// Days fetched concurrently (within the request budget).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=100))]
    pub(crate) workers: u16,
    /// Days per export request (1 = day by day); fewer requests spend less of Mixpanel's
    /// hourly budget, but a failed request is retried whole.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub(crate) chunk_days: u32,
    /// Write JSON lines to stdout instead of a table.
    #[arg(long)]
    pub(crate) stdout: bool,
    /// With --stdout: Mixpanel's lines exactly as exported.
    #[arg(long, requires = "stdout")]
    pub(crate) raw: bool,
    /// Accept up to N malformed lines (they are quarantined either way).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub(crate) allow_bad_lines: u64,
    /// Quarantine file for malformed lines (default: in the store's _quarantine/ folder).
    #[arg(long, value_name = "FILE")]
    pub(crate) quarantine: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct FetchProfiles {
    /// Table to store into (default: profiles).
    pub(crate) table: Option<String>,
    /// Mixpanel profile filter expression.
    #[arg(short = 'w', long = "where")]
    pub(crate) where_expr: Option<String>,
    /// Only members of this cohort.
    #[arg(short = 'c', long)]
    pub(crate) cohort: Option<u64>,
    /// Only these properties (comma-separated).
    #[arg(short = 'o', long, value_delimiter = ',')]
    pub(crate) output_properties: Vec<String>,
    /// Only this profile (repeatable).
    #[arg(long = "distinct-id")]
    pub(crate) distinct_ids: Vec<String>,
    /// Group profiles of this group key.
    #[arg(short = 'g', long)]
    pub(crate) group_id: Option<String>,
    /// Add to an existing table.
    #[arg(long, conflicts_with = "replace")]
    pub(crate) append: bool,
    /// Replace an existing table.
    #[arg(long)]
    pub(crate) replace: bool,
    /// Write JSON lines to stdout instead of a table.
    #[arg(long)]
    pub(crate) stdout: bool,
    /// With --stdout: Mixpanel's objects exactly as returned.
    #[arg(long, requires = "stdout")]
    pub(crate) raw: bool,
}

pub(crate) fn parse_day(value: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .map_err(|_| format!("{value:?} is not a date: use YYYY-MM-DD, e.g. 2024-01-31"))
}

/// `mpd config ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCommand {
    /// Every setting with its effective value and where it came from (default, file, env, flag).
    Show,
}
