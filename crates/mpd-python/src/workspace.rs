//! The `Workspace` class: `mpd_service::Workspace` from Python. Each method is the CLI
//! command of the same name, with the same settings, credentials and results (as dicts, the
//! CLI's `--format json`); SQL returns an Arrow-backed [`SqlResult`].

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use mpd_service::{
    ConversionWindow, DumpSource, EventCountsQuery, EventSelection, FetchEventsRequest,
    FunnelQuery, RetentionQuery, SegmentationQuery, StreamEventsRequest, StreamProfilesRequest,
    SyncRequest, SyncTarget, TableMode, WorkspaceOptions,
};
use pyo3::prelude::*;

use crate::arrow_stream::SqlResult;
use crate::convert::to_python;
use crate::errors::invalid;
use crate::event_stream::EventStream;
use crate::live::{count_type, day, length_unit, retention_type, span, unit};
use crate::progress::Progress;
use crate::runtime::wait;

/// A store and (when a call needs Mixpanel) one project's credentials, resolved as the CLI
/// resolves them: arguments, then `MP_*`/`MPD_*` variables, then the config file.
#[pyclass(module = "mpd._mpd", frozen, subclass)]
pub(crate) struct Workspace {
    inner: Arc<mpd_service::Workspace>,
}

impl Workspace {
    fn ws(&self) -> Arc<mpd_service::Workspace> {
        Arc::clone(&self.inner)
    }

    /// Runs `work` on the workspace (GIL released, Ctrl-C honoured) and returns its result as
    /// the Python value of its JSON.
    fn answer<T, F, Fut>(&self, py: Python<'_>, work: F) -> PyResult<Py<PyAny>>
    where
        T: serde::Serialize + Send,
        F: FnOnce(Arc<mpd_service::Workspace>) -> Fut + Send,
        Fut: Future<Output = mpd_service::Result<T>>,
    {
        let ws = self.ws();
        let value = wait(py, move || work(ws))?;
        to_python(py, &value)
    }
}

fn table_mode(word: &str) -> PyResult<TableMode> {
    Ok(match word {
        "create" => TableMode::Create,
        "append" => TableMode::Append,
        "replace" => TableMode::Replace,
        other => {
            return Err(invalid(format!("mode must be create, append or replace, not {other:?}")));
        }
    })
}

fn sync_target(word: &str) -> PyResult<SyncTarget> {
    Ok(match word {
        "all" => SyncTarget::All,
        "events" => SyncTarget::Events,
        "profiles" => SyncTarget::Profiles,
        "identity" => SyncTarget::Identity,
        other => {
            return Err(invalid(format!(
                "what must be all, events, profiles or identity, not {other:?}"
            )));
        }
    })
}

#[pymethods]
impl Workspace {
    /// Opens a workspace. `account` names a configured account (else `MP_ACCOUNT`, else the
    /// default); `store` is a folder or an `s3://`/`az://` URL (else `MPD_STORE`, the config's
    /// `[mpd] store`, or `~/.mp/lake/<project_id>`); `config` is the config file (else
    /// `MP_CONFIG_PATH` or `~/.mp/config.toml`).
    #[new]
    #[pyo3(signature = (account=None, store=None, config=None))]
    fn new(
        account: Option<String>,
        store: Option<PathBuf>,
        config: Option<PathBuf>,
    ) -> PyResult<Self> {
        let options = WorkspaceOptions {
            account,
            config_path: config,
            env: mpd_service::EnvVars::from_process(),
            overrides: mpd_service::SettingsOverrides {
                store,
                ..mpd_service::SettingsOverrides::default()
            },
            store_kind: mpd_service::StoreKind::default(),
        };
        let inner = mpd_service::Workspace::open(options).map_err(crate::errors::to_python)?;
        Ok(Self { inner: Arc::new(inner) })
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, _args: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        false
    }

    fn __repr__(&self) -> String {
        match self.inner.store_location() {
            Ok(location) => format!("Workspace(store={location})"),
            Err(_) => "Workspace(store=<not configured>)".to_owned(),
        }
    }

    /// The project id, when the settings name one.
    #[getter]
    fn project_id(&self) -> Option<u64> {
        self.inner.project_id_if_known()
    }

    // ---- The lake

    /// Brings the store up to date (`mpd sync`): `what` is all, events, profiles or identity.
    #[pyo3(signature = (what="all", *, from_date=None, lookback_days=None, backfill=None, dry_run=false, workers=4, allow_bad_lines=0, chunk_days=None, progress=None))]
    #[allow(clippy::too_many_arguments, reason = "Python keyword arguments")]
    fn sync(
        &self,
        py: Python<'_>,
        what: &str,
        from_date: Option<Bound<'_, PyAny>>,
        lookback_days: Option<u32>,
        backfill: Option<(Bound<'_, PyAny>, Bound<'_, PyAny>)>,
        dry_run: bool,
        workers: usize,
        allow_bad_lines: u64,
        chunk_days: Option<u32>,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let mut request = SyncRequest::new(sync_target(what)?);
        if chunk_days == Some(0) {
            return Err(invalid("chunk_days must be at least 1 (or None to let mpd choose)"));
        }
        request.chunk_days = chunk_days;
        request.from = from_date.map(|d| day(&d, "from_date")).transpose()?;
        request.lookback_days = lookback_days;
        request.backfill = match backfill {
            Some((from, to)) => {
                let span = span(&from, &to)?;
                Some((span.from, span.to))
            }
            None => None,
        };
        request.dry_run = dry_run;
        request.workers = workers.max(1);
        request.allow_bad_lines = allow_bad_lines;
        let progress = Progress::new(progress);
        self.answer(py, move |ws| async move { ws.sync(&request, &progress).await })
    }

    /// Fetches events of the days `from_date`..=`to_date` into a table (`mpd fetch events`),
    /// deduplicated; `mode` is append (default), create or replace.
    #[pyo3(signature = (from_date, to_date, *, events=None, r#where=None, limit=None, table="events", mode="append", workers=4, progress=None))]
    #[allow(clippy::too_many_arguments, reason = "Python keyword arguments")]
    fn fetch_events(
        &self,
        py: Python<'_>,
        from_date: Bound<'_, PyAny>,
        to_date: Bound<'_, PyAny>,
        events: Option<Vec<String>>,
        r#where: Option<String>,
        limit: Option<u32>,
        table: &str,
        mode: &str,
        workers: usize,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let span = span(&from_date, &to_date)?;
        let mut selection = EventSelection::days(span.from, span.to);
        selection.events = events.unwrap_or_default();
        selection.where_expr = r#where;
        selection.limit = limit;
        selection.workers = workers.max(1);
        let request =
            FetchEventsRequest { table: table.to_owned(), mode: table_mode(mode)?, selection };
        let progress = Progress::new(progress);
        self.answer(py, move |ws| async move { ws.fetch_events(&request, &progress).await })
    }

    /// Fetches profiles into a table (`mpd fetch profiles`); `mode` is replace (default),
    /// append or create.
    #[pyo3(signature = (*, r#where=None, cohort_id=None, table="profiles", mode="replace", progress=None))]
    fn fetch_profiles(
        &self,
        py: Python<'_>,
        r#where: Option<String>,
        cohort_id: Option<u64>,
        table: &str,
        mode: &str,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let request = StreamProfilesRequest {
            where_expr: r#where,
            cohort_id,
            ..StreamProfilesRequest::default()
        };
        let (progress, table, mode) =
            (Progress::new(progress), table.to_owned(), table_mode(mode)?);
        self.answer(py, move |ws| async move {
            ws.fetch_profiles(&table, mode, &request, &progress).await
        })
    }

    /// Imports a JSON-pipelines tree (`mpd import pipelines`): a folder or a bucket URL.
    #[pyo3(signature = (source, *, allow_bad_lines=0, progress=None))]
    fn import_pipelines(
        &self,
        py: Python<'_>,
        source: PathBuf,
        allow_bad_lines: u64,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let progress = Progress::new(progress);
        self.answer(py, move |ws| async move {
            ws.import_pipelines(&source, allow_bad_lines, &progress).await
        })
    }

    /// Imports raw export dumps (`mpd import export`): a file or a folder of them.
    #[pyo3(signature = (source, *, allow_bad_lines=0, progress=None))]
    fn import_export(
        &self,
        py: Python<'_>,
        source: PathBuf,
        allow_bad_lines: u64,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let (progress, source) = (Progress::new(progress), DumpSource::Path(source));
        self.answer(py, move |ws| async move {
            ws.import_export(&source, allow_bad_lines, &progress).await
        })
    }

    /// Erases users from every table (`mpd gdpr delete`), files included.
    fn gdpr_delete(&self, py: Python<'_>, distinct_ids: Vec<String>) -> PyResult<Py<PyAny>> {
        self.answer(py, move |ws| async move { ws.gdpr_delete(&distinct_ids).await })
    }

    /// Every table of the store (`mpd inspect tables`).
    fn tables(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.answer(py, move |ws| async move { ws.table_list().await })
    }

    /// A table's columns and types (`mpd inspect schema`).
    fn schema(&self, py: Python<'_>, table: String) -> PyResult<Py<PyAny>> {
        self.answer(py, move |ws| async move { ws.table_schema(&table).await })
    }

    /// A table's commits, newest first (`mpd tables history`).
    #[pyo3(signature = (table, limit=None))]
    fn history(&self, py: Python<'_>, table: String, limit: Option<usize>) -> PyResult<Py<PyAny>> {
        self.answer(py, move |ws| async move { ws.table_history(&table, limit).await })
    }

    // ---- SQL

    /// Runs a read-only SQL query over the store (`mpd query sql`); the rows as Arrow.
    fn sql(&self, py: Python<'_>, query: String) -> PyResult<SqlResult> {
        let ws = self.ws();
        let result = wait(py, move || async move { ws.sql_arrow(&query).await })?;
        Ok(SqlResult::new(result))
    }

    /// The first column of the first row of a query, or None.
    fn sql_scalar(&self, py: Python<'_>, query: String) -> PyResult<Py<PyAny>> {
        self.sql(py, query)?.into_pyobject(py)?.call_method0("scalar").map(Bound::unbind)
    }

    /// Streams events from Mixpanel (`mpd fetch events --stdout`): an iterator of dicts,
    /// normalised records unless `raw`, each event exactly once.
    #[pyo3(signature = (from_date, to_date, *, events=None, r#where=None, limit=None, raw=false, workers=4))]
    #[allow(clippy::too_many_arguments, reason = "Python keyword arguments")]
    fn stream_events(
        &self,
        from_date: Bound<'_, PyAny>,
        to_date: Bound<'_, PyAny>,
        events: Option<Vec<String>>,
        r#where: Option<String>,
        limit: Option<u32>,
        raw: bool,
        workers: usize,
    ) -> PyResult<EventStream> {
        let span = span(&from_date, &to_date)?;
        let mut selection = EventSelection::days(span.from, span.to);
        selection.events = events.unwrap_or_default();
        selection.where_expr = r#where;
        selection.limit = limit;
        selection.workers = workers.max(1);
        selection.validate().map_err(crate::errors::to_python)?;
        EventStream::start(self.ws(), StreamEventsRequest { selection, raw })
    }

    // ---- Live queries (Mixpanel's Query API) and their local twins (`local=True`)

    /// Event totals over time (`mpd query segmentation`).
    #[pyo3(signature = (event, from_date, to_date, *, on=None, unit="day", r#where=None, r#type="general", limit=None, local=false))]
    #[allow(clippy::too_many_arguments, reason = "Python keyword arguments")]
    fn segmentation(
        &self,
        py: Python<'_>,
        event: String,
        from_date: Bound<'_, PyAny>,
        to_date: Bound<'_, PyAny>,
        on: Option<String>,
        unit: &str,
        r#where: Option<String>,
        r#type: &str,
        limit: Option<u32>,
        local: bool,
    ) -> PyResult<Py<PyAny>> {
        let query = SegmentationQuery {
            event,
            span: span(&from_date, &to_date)?,
            on,
            unit: self::unit(unit)?,
            where_expr: r#where,
            count_type: count_type(r#type)?,
            limit,
        };
        self.answer(py, move |ws| async move {
            if local { ws.local_segmentation(&query).await } else { ws.segmentation(&query).await }
        })
    }

    /// Several events' totals over time (`mpd query event-counts`).
    #[pyo3(signature = (events, from_date, to_date, *, unit="day", r#type="general", local=false))]
    #[allow(clippy::too_many_arguments, reason = "Python keyword arguments")]
    fn event_counts(
        &self,
        py: Python<'_>,
        events: Vec<String>,
        from_date: Bound<'_, PyAny>,
        to_date: Bound<'_, PyAny>,
        unit: &str,
        r#type: &str,
        local: bool,
    ) -> PyResult<Py<PyAny>> {
        let query = EventCountsQuery {
            events,
            span: span(&from_date, &to_date)?,
            count_type: count_type(r#type)?,
            unit: self::unit(unit)?,
        };
        self.answer(py, move |ws| async move {
            if local { ws.local_event_counts(&query).await } else { ws.event_counts(&query).await }
        })
    }

    /// A funnel (`mpd query funnel`): a saved one by `funnel_id` (live), or `steps` (local).
    #[pyo3(signature = (from_date, to_date, *, funnel_id=None, steps=None, unit=None, on=None, r#where=None, window=None, window_unit="day", limit=None, local=false))]
    #[allow(clippy::too_many_arguments, reason = "Python keyword arguments")]
    fn funnel(
        &self,
        py: Python<'_>,
        from_date: Bound<'_, PyAny>,
        to_date: Bound<'_, PyAny>,
        funnel_id: Option<u64>,
        steps: Option<Vec<String>>,
        unit: Option<&str>,
        on: Option<String>,
        r#where: Option<String>,
        window: Option<u32>,
        window_unit: &str,
        limit: Option<u32>,
        local: bool,
    ) -> PyResult<Py<PyAny>> {
        let window_unit = length_unit(window_unit)?;
        let query = FunnelQuery {
            funnel_id,
            steps: steps.unwrap_or_default(),
            span: span(&from_date, &to_date)?,
            unit: unit.map(self::unit).transpose()?,
            on,
            where_expr: r#where,
            window: window.map(|length| ConversionWindow { length, unit: window_unit }),
            limit,
        };
        self.answer(py, move |ws| async move {
            if local { ws.local_funnel(&query).await } else { ws.funnel(&query).await }
        })
    }

    /// Retention cohorts (`mpd query retention`).
    #[pyo3(signature = (born_event, from_date, to_date, *, return_event=None, born_where=None, return_where=None, retention_type="birth", interval=None, intervals=7, unit="day", unbounded=false, local=false))]
    #[allow(clippy::too_many_arguments, reason = "Python keyword arguments")]
    fn retention(
        &self,
        py: Python<'_>,
        born_event: String,
        from_date: Bound<'_, PyAny>,
        to_date: Bound<'_, PyAny>,
        return_event: Option<String>,
        born_where: Option<String>,
        return_where: Option<String>,
        retention_type: &str,
        interval: Option<u32>,
        intervals: u32,
        unit: &str,
        unbounded: bool,
        local: bool,
    ) -> PyResult<Py<PyAny>> {
        let query = RetentionQuery {
            born_event,
            return_event,
            span: span(&from_date, &to_date)?,
            born_where,
            return_where,
            retention_type: self::retention_type(retention_type)?,
            interval,
            interval_count: intervals,
            unit: self::unit(unit)?,
            unbounded,
            on: None,
        };
        self.answer(py, move |ws| async move {
            if local { ws.local_retention(&query).await } else { ws.retention(&query).await }
        })
    }

    // ---- Discovery (cached for the workspace's life)

    /// Event names of the project.
    fn list_events(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.answer(py, move |ws| async move { ws.list_events().await })
    }

    /// Properties of an event, with counts.
    fn list_properties(&self, py: Python<'_>, event: String) -> PyResult<Py<PyAny>> {
        self.answer(py, move |ws| async move { ws.list_properties(&event).await })
    }

    /// Values of a property (of one event, or of all).
    #[pyo3(signature = (property, *, event=None, limit=255))]
    fn list_property_values(
        &self,
        py: Python<'_>,
        property: String,
        event: Option<String>,
        limit: u32,
    ) -> PyResult<Py<PyAny>> {
        self.answer(py, move |ws| async move {
            ws.list_property_values(&property, event.as_deref(), limit).await
        })
    }

    /// Saved funnels.
    fn list_funnels(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.answer(py, move |ws| async move { ws.list_funnels().await })
    }

    /// Saved cohorts.
    fn list_cohorts(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.answer(py, move |ws| async move { ws.list_cohorts().await })
    }
}
