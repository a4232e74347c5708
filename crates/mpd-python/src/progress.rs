//! Progress of long calls as calls of a Python function `progress(event, info)`: `started`
//! (`what`, `days`), `day_started` (`day`), `days_finished` (`first`, `days`, `lines`),
//! `records_written` (`n`), `retrying` (`day`, `attempt`, `delay_secs`, `reason`), `finished`.
//! An exception in the function cannot stop the work; it goes to `sys.unraisablehook`, except
//! `KeyboardInterrupt` (Ctrl-C while the function ran), which is raised again on the main
//! thread so the waiting call ends as it would have.

use std::time::Duration;

use chrono::NaiveDate;
use mpd_service::{Reporter, SilentReporter};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// A reporter calling a Python function, or nothing.
pub(crate) enum Progress {
    Silent(SilentReporter),
    Calls(Py<PyAny>),
}

impl Progress {
    pub(crate) fn new(callback: Option<Py<PyAny>>) -> Self {
        match callback {
            Some(callback) => Progress::Calls(callback),
            None => Progress::Silent(SilentReporter),
        }
    }

    fn call(&self, event: &str, fill: impl FnOnce(&Bound<'_, PyDict>) -> PyResult<()>) {
        let Progress::Calls(callback) = self else { return };
        Python::attach(|py| {
            let info = PyDict::new(py);
            let called = fill(&info).and_then(|()| callback.call1(py, (event, info)).map(drop));
            let Err(error) = called else { return };
            let interrupt = error.is_instance_of::<pyo3::exceptions::PyKeyboardInterrupt>(py);
            if interrupt && let Ok(thread) = py.import("_thread") {
                // The waiting call polls for signals and raises it there.
                if thread.call_method0("interrupt_main").is_ok() {
                    return;
                }
            }
            error.write_unraisable(py, Some(callback.bind(py)));
        });
    }
}

impl Reporter for Progress {
    fn started(&self, what: &str, n_days: u64) {
        self.call("started", |info| {
            info.set_item("what", what)?;
            info.set_item("days", n_days)
        });
    }

    fn day_started(&self, day: NaiveDate) {
        self.call("day_started", |info| info.set_item("day", day.to_string()));
    }

    fn days_finished(&self, first: NaiveDate, n_days: u64, n_lines: u64) {
        self.call("days_finished", |info| {
            info.set_item("first", first.to_string())?;
            info.set_item("days", n_days)?;
            info.set_item("lines", n_lines)
        });
    }

    fn records_written(&self, n: u64) {
        self.call("records_written", |info| info.set_item("n", n));
    }

    fn retrying(&self, day: NaiveDate, attempt: u32, delay: Duration, reason: &str) {
        self.call("retrying", |info| {
            info.set_item("day", day.to_string())?;
            info.set_item("attempt", attempt)?;
            info.set_item("delay_secs", delay.as_secs_f64())?;
            info.set_item("reason", reason)
        });
    }

    fn finished(&self) {
        self.call("finished", |_| Ok(()));
    }
}
