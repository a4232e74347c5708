//! The service's error type and its classification into the CLI's exit codes.

use std::path::PathBuf;

/// What kind of failure an [`Error`] is; the CLI maps each class to an exit code (PRODUCT.md §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Anything else (exit 1).
    General,
    /// Credentials rejected or missing permissions (exit 2).
    Auth,
    /// Invalid arguments, settings or requests (exit 3).
    Usage,
    /// An account, table or file that does not exist (exit 4).
    NotFound,
    /// Mixpanel's rate limit still hit after retries (exit 5).
    RateLimited,
}

/// Errors of mpd's use cases.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Configuration or credentials could not be read or resolved.
    #[error(transparent)]
    Config(Box<mpd_config::Error>),
    /// Mixpanel rejected the account's credentials or permissions.
    #[error(transparent)]
    Auth(Box<AuthRefused>),
    /// Any other failure talking to Mixpanel.
    #[error(transparent)]
    Api(mpd_api::Error),
    /// The request itself is invalid (dates, flags).
    #[error("{0}")]
    InvalidArgument(String),
    /// Malformed lines were quarantined and more than allowed.
    #[error(
        "{count} malformed line(s) quarantined in {} (allowed: {allowed}); inspect the file, then rerun with --allow-bad-lines {count} to accept them",
        path.display()
    )]
    BadLines {
        /// Lines quarantined in this run.
        count: u64,
        /// Lines the user allowed.
        allowed: u64,
        /// The quarantine file.
        path: PathBuf,
    },
    /// The store's folders could not be prepared.
    #[error(transparent)]
    Store(Box<mpd_store::Error>),
    /// Writing output or a local file failed.
    #[error("cannot write {what}: {source}")]
    Write {
        /// What was being written.
        what: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Mixpanel sent something mpd cannot read.
    #[error("{0}")]
    Unreadable(String),
    /// A bug or a failure of the runtime itself.
    #[error("internal error: {0}")]
    Internal(String),
    /// The bundled mock Mixpanel could not start.
    #[error("cannot start the bundled mock Mixpanel: {0}")]
    Mock(String),
}

impl Error {
    /// The class of this error, for exit codes.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Config(e) => match e.class() {
                mpd_config::ErrorClass::NotFound => ErrorClass::NotFound,
                mpd_config::ErrorClass::Usage => ErrorClass::Usage,
                mpd_config::ErrorClass::Io => ErrorClass::General,
                mpd_config::ErrorClass::Auth => ErrorClass::Auth,
            },
            Error::Auth(_) => ErrorClass::Auth,
            Error::Api(e) => match e.class() {
                mpd_api::ErrorClass::Auth => ErrorClass::Auth,
                mpd_api::ErrorClass::InvalidRequest => ErrorClass::Usage,
                mpd_api::ErrorClass::NotFound => ErrorClass::NotFound,
                mpd_api::ErrorClass::RateLimited => ErrorClass::RateLimited,
                mpd_api::ErrorClass::Remote | mpd_api::ErrorClass::Internal => ErrorClass::General,
            },
            Error::InvalidArgument(_) => ErrorClass::Usage,
            Error::Store(e) => match e.class() {
                mpd_store::ErrorClass::Usage => ErrorClass::Usage,
                mpd_store::ErrorClass::NotFound => ErrorClass::NotFound,
                mpd_store::ErrorClass::Storage => ErrorClass::General,
            },
            Error::BadLines { .. }
            | Error::Write { .. }
            | Error::Internal(_)
            | Error::Unreadable(_)
            | Error::Mock(_) => ErrorClass::General,
        }
    }

    /// What to do next, for failures whose message comes from Mixpanel rather than from mpd.
    pub fn hint(&self) -> Option<&'static str> {
        let Error::Api(error) = self else { return None };
        match error.class() {
            mpd_api::ErrorClass::RateLimited => Some(
                "Mixpanel allows 60 export requests an hour and 3 a second per project: wait a while and rerun, or use fewer --workers",
            ),
            mpd_api::ErrorClass::Remote => Some(
                "Mixpanel or the network kept failing after every retry: rerun later, or retry longer with MPD_RETRY_MAX_ATTEMPTS",
            ),
            _ => None,
        }
    }

    /// True when the error is a closed output pipe (e.g. `mpd ... | head`), which is not a failure.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Write { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

impl From<mpd_store::Error> for Error {
    fn from(error: mpd_store::Error) -> Self {
        Error::Store(Box::new(error))
    }
}

impl From<mpd_config::Error> for Error {
    fn from(error: mpd_config::Error) -> Self {
        Error::Config(Box::new(error))
    }
}

/// Mixpanel refused the credentials: which account, for which project, and what it said.
#[derive(Debug, thiserror::Error)]
#[error(
    "Mixpanel refused {account} (project {project_id}, region {region}): {detail}; check the service account username and secret (`mpd auth show`), and that it has access to project {project_id} in region {region}"
)]
pub struct AuthRefused {
    /// Which account or credential source was used, as users name it.
    pub account: String,
    /// The project the request was for.
    pub project_id: u64,
    /// The region the request went to.
    pub region: String,
    /// Status, server message and endpoint path, in a few words.
    pub detail: String,
    /// The API error.
    #[source]
    pub source: mpd_api::Error,
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_stays_small() {
        assert!(std::mem::size_of::<Error>() <= 64, "{}", std::mem::size_of::<Error>());
    }
}
