//! mpd's use cases behind one facade, [`Workspace`]: credentials resolved once, the Mixpanel
//! client and (later) the store created on first use. The `mpd` CLI is a thin client of this
//! crate; library users get the same operations and result types.
//!
//! ```no_run
//! # async fn example() -> mpd_service::Result<()> {
//! use chrono::NaiveDate;
//! use mpd_service::{EventSelection, SilentReporter, StreamEventsRequest, Workspace, WorkspaceOptions};
//!
//! let workspace = Workspace::open(WorkspaceOptions {
//!     env: mpd_service::EnvVars::from_process(),
//!     ..WorkspaceOptions::default()
//! })?;
//! let request = StreamEventsRequest {
//!     selection: EventSelection::days(
//!         NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
//!         NaiveDate::from_ymd_opt(2024, 1, 7).unwrap(),
//!     ),
//!     raw: true,
//! };
//! let mut out = std::io::stdout();
//! let summary = workspace.stream_events(&request, &mut out, &SilentReporter).await?;
//! eprintln!("{} events", summary.records);
//! # Ok(()) }
//! ```
//!
//! A store alone needs no account: SQL, inspection, import, maintenance, GDPR erasure and the
//! `--local` queries work on [`Workspace::for_store`], and only a request to Mixpanel fails.
//!
//! ```no_run
//! # async fn example() -> mpd_service::Result<()> {
//! let mut settings = mpd_service::Settings::default();
//! settings.store = Some("lake".into());
//! let workspace = mpd_service::Workspace::for_store(settings);
//! let table = workspace.sql("SELECT event_name, count(*) AS n FROM events GROUP BY 1").await?;
//! eprintln!("{} rows", table.rows.len());
//! # Ok(()) }
//! ```

mod credentials;
mod error;
mod gdpr;
mod import;
mod local;
mod maintenance;
mod report;
mod source;
mod stream;
mod sync;
mod table;
#[cfg(test)]
mod test_support;
mod workspace;

pub use error::{AuthRefused, Error, ErrorClass, Result};
pub use gdpr::{GdprReport, TableErasure};
pub use import::{DumpImportReport, DumpSource, ImportReport};
pub use local::{ColumnSummary, FileExport, StoreInfo, TableView};
pub use maintenance::{CompactReport, HistoryEntry};
pub use mpd_config::Error as ConfigError;
pub use mpd_config::{
    AccountView, Accounts, CredentialSource, EnvVars, NewAccount, Region, ResolvedCredentials,
    Secret, SettingView, Settings, SettingsOverrides,
};
pub use mpd_live::Error as LiveError;
pub use mpd_live::request::{
    ActivityQuery, ConversionWindow, CountType, DateSpan, EventCountsQuery, FlowsView,
    FrequencyQuery, FunnelQuery, LengthUnit, MetricQuery, PropertyCountsQuery, RetentionQuery,
    RetentionType, SegmentationQuery, TimeUnit,
};
pub use mpd_live::result::{
    ActivityEvent, ActivityFeed, CohortInfo, EventCountsResult, FlowEdge, FlowNode, FlowNodeKind,
    FlowPath, FlowSegment, FlowStep, FlowsResult, FrequencyResult, FrequencyRow, FunnelBucket,
    FunnelInfo, FunnelResult, FunnelSegment, FunnelStep, Metric, MetricResult, Number,
    PropertyCount, PropertyCountsResult, ReportSeries, RetentionCohort, RetentionResult,
    SavedReport, SegmentationResult, Series, Source, TimeSeries, TopEvent, bucket_day,
    serialize_number,
};
pub use mpd_store::{CappedTable, ColumnView, QueryTable};
pub use mpd_store::{CommitInfo, QueryResult};
pub use mpd_store::{CompactSummary, VacuumSummary};
pub use report::{Reporter, SilentReporter};
pub use stream::{
    EventSelection, ProfileSummary, StreamEventsRequest, StreamProfilesRequest, StreamSummary,
};
pub use sync::{
    ChunkChoice, EventsCoverage, EventsSync, IdentitySync, RequestPlan, SyncMode, SyncPlan,
    SyncReport, SyncRequest, SyncTarget, SyncWindow,
};
pub use table::typed::EvolveReport;
pub use table::{FetchEventsRequest, FetchSummary, IngestCounts, ProfileFetchSummary, TableMode};
pub use workspace::{AuthCheck, StoreKind, Workspace, WorkspaceOptions};
