//! `mpd._mpd`, the native part of the `mpd` Python module: one [`workspace::Workspace`] class
//! over `mpd_service::Workspace` (the CLI's facade, so settings, credentials and behaviour are
//! the CLI's), SQL results that hand Arrow batches to Polars, pyarrow or DuckDB without a copy
//! ([`arrow_stream::SqlResult`]), a streaming event iterator, the exception classes, and the CLI
//! itself (`run_cli`, what the `mpd` command of a Python install runs).
//!
//! Calls that wait (a sync, a query) release the GIL and run on one Tokio runtime; Ctrl-C
//! during one raises `KeyboardInterrupt` and drops the work, as the CLI does ([`runtime`]).

mod arrow_stream;
mod convert;
mod errors;
mod event_stream;
mod live;
mod progress;
mod runtime;
mod workspace;

use pyo3::prelude::*;

/// Runs the `mpd` command line with `args` (the first is the program name); returns its exit
/// code. Output goes to the process's stdout and stderr, as from the binary.
#[pyfunction]
fn run_cli(py: Python<'_>, args: Vec<String>) -> u8 {
    py.detach(|| mpd_cli::run_to_code(args))
}

/// The module's contents, in one place.
#[pymodule]
fn _mpd(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<workspace::Workspace>()?;
    m.add_class::<arrow_stream::SqlResult>()?;
    m.add_class::<event_stream::EventStream>()?;
    m.add_function(wrap_pyfunction!(run_cli, m)?)?;
    errors::register(m)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
