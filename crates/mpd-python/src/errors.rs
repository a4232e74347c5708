//! The exception classes, matching the CLI's error classes (and exit codes): `MpdError` for
//! anything else (1), `AuthError` (2), `InvalidArgumentError` (3),
//! `NotFoundError` (4), `RateLimitedError` (5). The message is the CLI's `error:` line; the
//! CLI's `hint:` line, when there is one, is the exception's `hint` attribute.

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

use mpd_service::ErrorClass;

create_exception!(mpd, MpdError, PyException, "An mpd operation failed (the CLI's exit code 1).");
create_exception!(mpd, AuthError, MpdError, "Credentials missing or rejected (exit code 2).");
create_exception!(
    mpd,
    InvalidArgumentError,
    MpdError,
    "An invalid argument, setting or request (exit code 3)."
);
create_exception!(
    mpd,
    NotFoundError,
    MpdError,
    "An account, table or file that does not exist (exit code 4)."
);
create_exception!(
    mpd,
    RateLimitedError,
    MpdError,
    "Mixpanel's rate limit still hit after retries (exit code 5)."
);

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("MpdError", py.get_type::<MpdError>())?;
    m.add("AuthError", py.get_type::<AuthError>())?;
    m.add("InvalidArgumentError", py.get_type::<InvalidArgumentError>())?;
    m.add("NotFoundError", py.get_type::<NotFoundError>())?;
    m.add("RateLimitedError", py.get_type::<RateLimitedError>())?;
    // Every instance has a `hint`: the CLI's hint line, or None.
    py.get_type::<MpdError>().setattr("hint", py.None())?;
    Ok(())
}

/// The exception for a service error: its class, its message, and its hint as `.hint`.
pub(crate) fn to_python(error: mpd_service::Error) -> PyErr {
    let message = error.to_string();
    let raised = match error.class() {
        ErrorClass::General => MpdError::new_err(message),
        ErrorClass::Auth => AuthError::new_err(message),
        ErrorClass::Usage => InvalidArgumentError::new_err(message),
        ErrorClass::NotFound => NotFoundError::new_err(message),
        ErrorClass::RateLimited => RateLimitedError::new_err(message),
    };
    let hint = error.hint();
    Python::attach(|py| {
        // Setting an attribute on a fresh exception instance cannot fail in practice; if it
        // did, the exception would still carry the message.
        let _ = raised.value(py).setattr("hint", hint);
    });
    raised
}

/// A usage error raised before any work (a bad argument from Python).
pub(crate) fn invalid(message: impl Into<String>) -> PyErr {
    InvalidArgumentError::new_err(message.into())
}
