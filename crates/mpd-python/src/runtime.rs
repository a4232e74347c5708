//! One Tokio runtime for the module, and waiting on it from Python: the GIL is released while
//! the work runs, and Python's signal handlers are polled so Ctrl-C raises `KeyboardInterrupt`
//! (the work is dropped at its next await; a write that had not committed leaves the store as
//! it was, as an interrupted `mpd` does).

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use pyo3::prelude::*;

/// How often a waiting call looks for a pending signal.
const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// The runtime and the process that started it (its threads do not survive a `fork`).
static RUNTIME: OnceLock<Result<(u32, tokio::runtime::Runtime), String>> = OnceLock::new();

pub(crate) fn runtime() -> PyResult<&'static tokio::runtime::Runtime> {
    let (pid, runtime) = RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .thread_name("mpd")
                .build()
                .map(|runtime| (std::process::id(), runtime))
                .map_err(|e| format!("cannot start the async runtime: {e}"))
        })
        .as_ref()
        .map_err(|message| crate::errors::MpdError::new_err(message.clone()))?;
    if *pid != std::process::id() {
        return Err(crate::errors::MpdError::new_err(
            "mpd was used before this process was forked, and its threads did not survive the \
             fork: use multiprocessing's \"spawn\" or \"forkserver\" start method",
        ));
    }
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(crate::errors::MpdError::new_err(
            "a Workspace cannot be called from inside one of its own calls (a progress callback)",
        ));
    }
    Ok(runtime)
}

/// Runs the future `make` builds to completion with the GIL released; a service error becomes
/// the matching Python exception, a signal handler's exception (Ctrl-C) ends the wait.
pub(crate) fn wait<T, F, Fut>(py: Python<'_>, make: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> Fut + Send,
    Fut: Future<Output = mpd_service::Result<T>>,
{
    let runtime = runtime()?;
    let outcome = py.detach(|| {
        runtime.block_on(async {
            tokio::select! {
                result = make() => Ok(result),
                interrupt = interrupted() => Err(interrupt),
            }
        })
    });
    match outcome {
        Ok(result) => result.map_err(crate::errors::to_python),
        Err(interrupt) => Err(interrupt),
    }
}

/// Returns when a signal handler raised (Python runs handlers on the main thread, which is the
/// one blocked here when the call came from it).
async fn interrupted() -> PyErr {
    loop {
        tokio::time::sleep(SIGNAL_POLL).await;
        if let Err(raised) = Python::attach(|py| py.check_signals()) {
            return raised;
        }
    }
}
