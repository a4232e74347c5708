//! `mpd sync`: incremental, exactly-once loads of events, identity mappings and profiles
//! (docs/sync.md).

pub(crate) mod events;
mod identity;
mod planner;
mod window;

use chrono::NaiveDate;

pub use events::EventsSync;
pub use identity::IdentitySync;
pub use planner::{ChunkChoice, RequestPlan};
pub use window::{SyncMode, SyncWindow};

use crate::error::{Error, Result};
use crate::report::Reporter;
use crate::stream::StreamProfilesRequest;
use crate::table::{ProfileFetchSummary, TableMode};
use crate::workspace::Workspace;

pub(crate) const EVENTS_TABLE: &str = "events";
pub(crate) const IDENTITY_TABLE: &str = "identity_mappings";
pub(crate) const PROFILES_TABLE: &str = "profiles";

/// Which tables a sync brings up to date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncTarget {
    /// `events` (and its audit table `rejected_duplicates`).
    Events,
    /// `profiles`: a new full snapshot.
    Profiles,
    /// `identity_mappings` derived from the events.
    Identity,
    /// Events, then identity, then profiles.
    All,
}

impl SyncTarget {
    fn includes(self, part: SyncTarget) -> bool {
        self == SyncTarget::All || self == part
    }
}

/// What to sync and how.
#[derive(Debug, Clone)]
pub struct SyncRequest {
    /// Which tables.
    pub target: SyncTarget,
    /// First day of the first sync; later syncs never read before it (their lookback stops
    /// there), so a cron line can keep it.
    pub from: Option<NaiveDate>,
    /// Days re-read before the cursor; the `lookback_days` setting when None.
    pub lookback_days: Option<u32>,
    /// Re-read exactly these days (deduplicated as always); the cursor does not move.
    pub backfill: Option<(NaiveDate, NaiveDate)>,
    /// Work out and return the plan; fetch and write nothing.
    pub dry_run: bool,
    /// Export requests in flight (days are still committed in order).
    pub workers: usize,
    /// Malformed lines accepted before the run stops.
    pub allow_bad_lines: u64,
    /// Days per export request; None lets the planner choose (`sync/planner.rs`).
    pub chunk_days: Option<u32>,
}

impl SyncRequest {
    /// A sync of `target` with default options.
    pub fn new(target: SyncTarget) -> Self {
        Self {
            target,
            from: None,
            lookback_days: None,
            backfill: None,
            dry_run: false,
            workers: 4,
            allow_bad_lines: 0,
            chunk_days: None,
        }
    }
}

/// What a dry run would do.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SyncPlan {
    /// The events days and why (None when events are not synced).
    pub events: Option<SyncWindow>,
    /// The events cursor now.
    pub cursor: Option<NaiveDate>,
    /// Each day the events part requests, in order.
    pub days: Vec<NaiveDate>,
    /// Export API requests the events part sends (before retries).
    pub export_requests: u64,
    /// How the events days are cut into those requests, and what waiting on the budget that
    /// takes (None when events are not synced).
    pub requests: Option<RequestPlan>,
    /// The export budget per hour they draw from.
    pub export_budget_per_hour: u32,
    /// Whether profiles would be fetched (engage pages, from the query budget).
    pub profiles: bool,
    /// Whether identity mappings would be derived (local, no requests).
    pub identity: bool,
}

impl SyncPlan {
    /// Share of the hourly export budget the requests need, in percent (may exceed 100: the
    /// run then waits for the budget to refill).
    pub fn export_budget_percent(&self) -> f64 {
        100.0 * self.export_requests as f64 / f64::from(self.export_budget_per_hour.max(1))
    }
}

/// What a sync did, per table.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SyncReport {
    /// The plan, for a dry run (nothing else is set then).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<SyncPlan>,
    /// The events part.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<EventsSync>,
    /// The identity part.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<IdentitySync>,
    /// The profiles part.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profiles: Option<ProfileFetchSummary>,
}

/// What the events table holds for questions over days: its sync cursor and the days with
/// rows (`date` partitions, UTC days), from the Delta log alone.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct EventsCoverage {
    /// The last day every event of which is stored (None: no sync cursor, or no account to
    /// name the project's cursor).
    pub cursor: Option<NaiveDate>,
    /// Days holding at least one event, in order.
    pub days: std::collections::BTreeSet<NaiveDate>,
}

/// The events table's cursor and days (empty when there is no events table).
pub(crate) async fn events_coverage(ws: &Workspace) -> Result<EventsCoverage> {
    let store = ws.store().await?;
    if !store.exists(EVENTS_TABLE).await? {
        return Ok(EventsCoverage::default());
    }
    let cursor = match ws.project_id_if_known() {
        Some(project) => window::events_cursor(store, project).await?,
        None => None,
    };
    let rows = store.rows_per_partition(EVENTS_TABLE, "date").await?;
    let days =
        rows.iter().filter(|(_, n)| **n > 0).filter_map(|(day, _)| day.parse().ok()).collect();
    Ok(EventsCoverage { cursor, days })
}

impl Workspace {
    async fn sync_plan(&self, request: &SyncRequest) -> Result<SyncPlan> {
        let mut plan = SyncPlan {
            events: None,
            cursor: None,
            days: Vec::new(),
            export_requests: 0,
            requests: None,
            export_budget_per_hour: self.settings().export_per_hour,
            profiles: request.target.includes(SyncTarget::Profiles) && request.backfill.is_none(),
            identity: request.target.includes(SyncTarget::Identity) && request.backfill.is_none(),
        };
        if request.target.includes(SyncTarget::Events) {
            let (window, cursor) = self.events_window(request).await?;
            let requests = self.events_request_plan(&window, request).await?;
            plan.export_requests = requests.requests;
            plan.requests = Some(requests);
            plan.days = window.from.iter_days().take_while(|d| *d <= window.to).collect();
            plan.events = Some(window);
            plan.cursor = cursor;
        }
        Ok(plan)
    }
}

/// Brings the requested tables up to date (or, with `dry_run`, says what that takes).
pub(crate) async fn sync(
    ws: &Workspace,
    request: &SyncRequest,
    reporter: &dyn Reporter,
) -> Result<SyncReport> {
    if request.backfill.is_some() && !request.target.includes(SyncTarget::Events) {
        return Err(Error::InvalidArgument(
            "--backfill re-reads event days: use it with `mpd sync events` (or all)".to_owned(),
        ));
    }
    // A sync talks to Mixpanel: no account is the account's error, not the store's.
    ws.credentials()?;
    if request.dry_run {
        return Ok(SyncReport {
            plan: Some(ws.sync_plan(request).await?),
            ..SyncReport::default()
        });
    }
    let store = ws.store().await?;
    // One writer per store: an hourly cron run that overlaps the previous one waits for
    // the next hour instead of racing it.
    let _lock = store.lock_for_writing("sync")?;
    let mut report = SyncReport::default();
    if request.target.includes(SyncTarget::Events) {
        report.events = Some(ws.sync_events(request, reporter).await?);
    }
    if request.target.includes(SyncTarget::Identity) && request.backfill.is_none() {
        report.identity = Some(ws.sync_identity().await?);
    }
    if request.target.includes(SyncTarget::Profiles) && request.backfill.is_none() {
        let profiles = StreamProfilesRequest::default();
        report.profiles = Some(
            ws.fetch_profiles_locked(PROFILES_TABLE, TableMode::Replace, &profiles, reporter)
                .await?,
        );
    }
    Ok(report)
}

/// Today in the project's time zone, or the `today` setting (`MPD_TODAY`).
pub(crate) fn today(ws: &Workspace) -> Result<NaiveDate> {
    if let Some(text) = &ws.settings().today {
        return text.parse().map_err(|_| {
            Error::InvalidArgument(format!("the today setting '{text}' is not a calendar date"))
        });
    }
    let now = chrono::Utc::now();
    match &ws.settings().project_timezone {
        None => Ok(now.date_naive()),
        Some(name) => {
            let zone: chrono_tz::Tz = name.parse().map_err(|_| {
                Error::InvalidArgument(format!(
                    "project_timezone '{name}' is not an IANA time zone (like America/Los_Angeles)"
                ))
            })?;
            Ok(now.with_timezone(&zone).date_naive())
        }
    }
}
