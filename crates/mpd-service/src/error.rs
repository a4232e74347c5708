//! The service's error type and its classification into the CLI's exit codes.

use std::path::PathBuf;

/// What kind of failure an [`Error`] is; the CLI maps each class to an exit code (docs/ARCHITECTURE.md, "Contracts").
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

impl ErrorClass {
    /// The class of a config-file error (what `Accounts` returns).
    pub fn of_config(error: &mpd_config::Error) -> ErrorClass {
        match error.class() {
            mpd_config::ErrorClass::NotFound => ErrorClass::NotFound,
            mpd_config::ErrorClass::Usage => ErrorClass::Usage,
            mpd_config::ErrorClass::Io => ErrorClass::General,
            mpd_config::ErrorClass::Auth => ErrorClass::Auth,
        }
    }
}

/// Errors of mpd's use cases.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Configuration or credentials could not be read or resolved.
    #[error(transparent)]
    Config(Box<mpd_config::Error>),
    /// A workspace opened for a store alone was asked to talk to Mixpanel.
    #[error(
        "this workspace was opened for a store alone and has no Mixpanel account; open it with credentials (an account or the MP_* variables) to send requests to Mixpanel"
    )]
    NoAccount,
    /// No store location was configured and none can be derived without a project id.
    #[error(
        "which store? none is configured (--store DIR, MPD_STORE or `store` in [mpd]) and the default, ~/.mp/lake/<project_id>/, needs a Mixpanel project: {reason}"
    )]
    NoStore {
        /// Why the project is unknown (the credential lookup's message).
        reason: String,
    },
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
    /// Stored rows are not what mpd writes (a table written by another tool), or the ingest
    /// itself failed.
    #[error(transparent)]
    Ingest(Box<mpd_ingest::Error>),
    /// A live query or discovery call failed for a reason of its own (an invalid request, an
    /// unknown event or report, a plan without API access, an unreadable answer).
    #[error(transparent)]
    Live(Box<mpd_live::Error>),
    /// Mixpanel sent something mpd cannot read, or a file could not be read.
    #[error("{0}")]
    Unreadable(String),
    /// A bug or a failure of the runtime itself.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// The class of this error, for exit codes.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Config(e) => ErrorClass::of_config(e),
            Error::Auth(_) | Error::NoAccount => ErrorClass::Auth,
            Error::NoStore { .. } => ErrorClass::Usage,
            Error::Api(e) => Error::api_class(e),
            Error::InvalidArgument(_) => ErrorClass::Usage,
            Error::Ingest(e) => match e.as_ref() {
                mpd_ingest::Error::Column { .. } => ErrorClass::Usage,
                mpd_ingest::Error::Store(e) => Error::store_class(e),
                mpd_ingest::Error::Write { .. } | mpd_ingest::Error::Internal(_) => {
                    ErrorClass::General
                }
            },
            Error::Live(e) => match e.as_ref() {
                mpd_live::Error::Api(api) => Error::api_class(api),
                mpd_live::Error::InvalidArgument(_) => ErrorClass::Usage,
                mpd_live::Error::EventNotFound { .. } | mpd_live::Error::NotFound(_) => {
                    ErrorClass::NotFound
                }
                mpd_live::Error::NoApiAccess { .. } => ErrorClass::Auth,
                mpd_live::Error::Unreadable(_) | mpd_live::Error::Internal(_) => {
                    ErrorClass::General
                }
            },
            Error::Store(e) => Error::store_class(e),
            Error::BadLines { .. }
            | Error::Write { .. }
            | Error::Internal(_)
            | Error::Unreadable(_) => ErrorClass::General,
        }
    }

    fn store_class(error: &mpd_store::Error) -> ErrorClass {
        match error.class() {
            mpd_store::ErrorClass::Usage => ErrorClass::Usage,
            mpd_store::ErrorClass::NotFound => ErrorClass::NotFound,
            mpd_store::ErrorClass::Storage => ErrorClass::General,
        }
    }

    fn api_class(error: &mpd_api::Error) -> ErrorClass {
        match error.class() {
            mpd_api::ErrorClass::Auth => ErrorClass::Auth,
            mpd_api::ErrorClass::InvalidRequest => ErrorClass::Usage,
            mpd_api::ErrorClass::NotFound => ErrorClass::NotFound,
            mpd_api::ErrorClass::RateLimited => ErrorClass::RateLimited,
            mpd_api::ErrorClass::Remote | mpd_api::ErrorClass::Internal => ErrorClass::General,
        }
    }

    /// What to do next, for failures whose message comes from Mixpanel rather than from mpd.
    /// Rate limits get the advice of their API family: the export budget, or the Query API's
    /// budget with the numbers Mixpanel reported.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Api(error) => api_hint(error),
            Error::Live(live) => match live.as_ref() {
                mpd_live::Error::Api(error) => api_hint(error),
                mpd_live::Error::EventNotFound { .. } => {
                    Some("`mpd inspect events` lists the project's event names".to_owned())
                }
                _ => None,
            },
            Error::Store(error) if error.class() == mpd_store::ErrorClass::NotFound => Some(
                "`mpd inspect tables` lists what the store holds; `mpd sync --from YYYY-MM-DD` fills it from Mixpanel"
                    .to_owned(),
            ),
            _ => None,
        }
    }

    /// True for a failure of mpd itself (a bug), not of the request, the data or Mixpanel.
    pub fn is_internal(&self) -> bool {
        matches!(self, Error::Internal(_))
            || matches!(self, Error::Live(e) if matches!(e.as_ref(), mpd_live::Error::Internal(_)))
            || matches!(self, Error::Ingest(e) if matches!(e.as_ref(), mpd_ingest::Error::Internal(_)))
    }

    /// True when the error is a closed output pipe (e.g. `mpd ... | head`), which is not a failure.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Write { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

fn api_hint(error: &mpd_api::Error) -> Option<String> {
    match error {
        mpd_api::Error::ServerTimeout(_) => {
            return Some(
                "Mixpanel timed out on every try: ask for fewer days (--from/--to), or fewer segments (--limit)"
                    .to_owned(),
            );
        }
        mpd_api::Error::TerminatedEarly { .. } => {
            return Some(
                "Mixpanel cut this export short on every try, even in hour-long pieces: rerun later, or ask for less with --events/--where"
                    .to_owned(),
            );
        }
        mpd_api::Error::DateRangeTooOld { max_days, .. } => {
            return Some(format!(
                "this project's data can be queried only {max_days} days back: ask for dates within the last {max_days} days"
            ));
        }
        _ => {}
    }
    match error.class() {
        mpd_api::ErrorClass::RateLimited => Some(match mpd_live::query_endpoint(error) {
            Some(endpoint) => mpd_live::rate_limit_hint(endpoint, error.query_rate_limit()),
            None => "Mixpanel allows 60 export requests an hour and 3 a second per project: wait a while and rerun, or use fewer --workers".to_owned(),
        }),
        mpd_api::ErrorClass::Remote => Some(
            "Mixpanel or the network kept failing after every retry: rerun later, or retry longer with MPD_RETRY_MAX_ATTEMPTS"
                .to_owned(),
        ),
        _ => None,
    }
}

impl From<mpd_store::Error> for Error {
    fn from(error: mpd_store::Error) -> Self {
        Error::Store(Box::new(error))
    }
}

/// A stored column that is not what mpd writes (a table written by another tool): a usage
/// error naming the table, the column and both types.
pub(crate) fn column_mismatch(
    table: &str,
    column: &str,
    expected: &str,
    found: &arrow_schema::DataType,
) -> Error {
    Error::Ingest(Box::new(mpd_ingest::Error::Column {
        table: Some(table.to_owned()),
        column: column.to_owned(),
        expected: expected.to_owned(),
        found: found.to_string(),
    }))
}

/// A refusal of the `--local` twins (`mpd_live::local`). Live queries' failures go through
/// `Workspace::live_error` instead, which names the account Mixpanel refused.
impl From<mpd_live::Error> for Error {
    fn from(error: mpd_live::Error) -> Self {
        Error::Live(Box::new(error))
    }
}

impl From<mpd_ingest::Error> for Error {
    fn from(error: mpd_ingest::Error) -> Self {
        match error {
            mpd_ingest::Error::Store(store) => Error::Store(store),
            mpd_ingest::Error::Write { what, source } => Error::Write { what, source },
            other => Error::Ingest(Box::new(other)),
        }
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

    fn api(status: u16, endpoint: &str, message: &str) -> Error {
        let failure = mpd_api::HttpFailure {
            endpoint: endpoint.to_owned(),
            status,
            message: message.to_owned(),
            retry_after: None,
        };
        Error::Api(match status {
            429 => mpd_api::Error::RateLimited(Box::new(failure)),
            _ => mpd_api::Error::Server(Box::new(failure)),
        })
    }

    const LIMITED: &str = "Query rate limit exceeded for project_id: 1234. 1/5 queries running concurrently and 61/60 queries running in the last hour.";

    #[test]
    fn query_429_hint_names_the_budget_its_numbers_and_local() {
        let error = api(429, "GET /api/query/segmentation?event=Login&project_id=1234", LIMITED);
        assert_eq!(error.class(), ErrorClass::RateLimited);
        let hint = error.hint().expect("a hint");
        assert!(
            hint.starts_with("Mixpanel allows this project 60 queries an hour and 5 at a time and reported 1 running, 61 in the last hour;"),
            "{hint}"
        );
        assert!(hint.contains("query_per_hour") && hint.contains("MPD_QUERY_CONCURRENT"), "{hint}");
        assert!(hint.contains("--local"), "{hint}");
        for endpoint in ["events", "funnels", "retention"] {
            let error = api(429, &format!("GET /api/query/{endpoint}?x=1"), "slow down");
            assert!(error.hint().unwrap().contains("--local"), "{endpoint}");
        }
    }

    #[test]
    fn query_429_hint_without_numbers_or_local_equivalent() {
        let hint = api(429, "GET /api/query/segmentation/numeric?x=1", "slow down").hint().unwrap();
        assert!(!hint.contains("reported") && !hint.contains("--local"), "{hint}");
        assert!(
            hint.starts_with("Mixpanel's Query API allows each project 60 queries an hour"),
            "{hint}"
        );
        let hint = api(429, "POST /api/query/cohorts/list?project_id=1", LIMITED).hint().unwrap();
        assert!(hint.contains("61 in the last hour") && !hint.contains("--local"), "{hint}");
        let hint = api(429, "POST /api/2.0/engage?project_id=1", "slow").hint().unwrap();
        assert!(hint.contains("Query API"), "{hint}");
    }

    /// A plan of another era: the 429 text airbyte users reported (airbytehq/airbyte#7126).
    #[test]
    fn query_429_hint_quotes_the_limit_mixpanel_reported() {
        let older = "Query rate limit exceeded for project_id: 1234. 1/5 queries running concurrently and 401/400 queries running in the last hour.";
        let hint = api(429, "GET /api/query/segmentation?x=1", older).hint().unwrap();
        assert!(
            hint.starts_with("Mixpanel allows this project 400 queries an hour and 5 at a time and reported 1 running, 401 in the last hour;"),
            "{hint}"
        );
    }

    #[test]
    fn export_hints_stay_as_they_are() {
        let hint = api(429, "GET /api/2.0/export?from_date=2024-01-01", "slow").hint().unwrap();
        assert!(hint.contains("60 export requests an hour"), "{hint}");
        let hint = api(503, "GET /api/2.0/export?from_date=2024-01-01", "down").hint().unwrap();
        assert!(hint.contains("MPD_RETRY_MAX_ATTEMPTS"), "{hint}");
        assert_eq!(Error::InvalidArgument("x".into()).hint(), None);
    }

    fn live(error: mpd_live::Error) -> Error {
        Error::Live(Box::new(error))
    }

    #[test]
    fn an_unknown_event_is_not_found_with_a_hint() {
        let error = live(mpd_live::Error::EventNotFound {
            event: "Logn".into(),
            project_id: 1234,
            suggestions: vec!["Login".into(), "Logout".into()],
        });
        assert_eq!(
            error.to_string(),
            r#"event "Logn" not found in project 1234; did you mean: Login, Logout?"#
        );
        assert_eq!(error.class(), ErrorClass::NotFound);
        assert!(error.hint().unwrap().contains("mpd inspect events"));
    }

    #[test]
    fn live_failures_keep_their_classes() {
        let missing = live(mpd_live::Error::NotFound("saved report 8009 not found".into()));
        assert_eq!(missing.class(), ErrorClass::NotFound);
        let error = live(mpd_live::Error::NoApiAccess {
            endpoint: "segmentation".into(),
            project_id: 1234,
            message: "Payment required".into(),
        });
        assert_eq!(error.class(), ErrorClass::Auth);
        assert!(error.to_string().contains("lacks API access for segmentation"), "{error}");
        assert_eq!(live(mpd_live::Error::InvalidArgument("x".into())).class(), ErrorClass::Usage);
        assert_eq!(live(mpd_live::Error::Unreadable("x".into())).class(), ErrorClass::General);
    }
}
