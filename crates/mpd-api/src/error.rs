//! The crate's error type, its classification, and parsing of Mixpanel error bodies.

use std::fmt;
use std::time::Duration;

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A boxed error source from the HTTP stack.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What an HTTP error response said, kept together so every status variant stays one pointer wide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpFailure {
    /// Method and path with query string, e.g. `GET /api/2.0/export?from_date=…`; never credentials.
    pub endpoint: String,
    /// HTTP status code (200 for a successful response whose JSON carries an `error` key).
    pub status: u16,
    /// The server's message: the JSON `error` field if present, else the start of the body text.
    pub message: String,
    /// The server's `Retry-After`, when it sent one.
    pub retry_after: Option<Duration>,
}

impl fmt::Display for HttpFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (HTTP {}): {}", self.endpoint, self.status, self.message)
    }
}

/// Which phase of a request ran out of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutPhase {
    /// Waiting for the response headers of an export.
    FirstByte,
    /// Waiting for the next chunk of an export body.
    IdleRead,
    /// A whole Query API request.
    Query,
}

impl fmt::Display for TimeoutPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeoutPhase::FirstByte => "waiting for the first byte",
            TimeoutPhase::IdleRead => "waiting for more body data",
            TimeoutPhase::Query => "waiting for the query response",
        })
    }
}

/// Coarse class of an error, for exit codes and user hints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Credentials rejected, plan without API access, or missing permissions.
    Auth,
    /// The request (or the client configuration) is wrong; retrying will not help.
    InvalidRequest,
    /// The endpoint or object does not exist.
    NotFound,
    /// Mixpanel's rate limit was still hit after all retries.
    RateLimited,
    /// Server errors, network trouble, truncated bodies.
    Remote,
    /// A bug or an environment problem inside the client.
    Internal,
}

/// Errors from talking to Mixpanel.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 401, or a 400 saying `Unable to authenticate`.
    #[error(
        "authentication failed: {0}; check the service account username, secret and project id"
    )]
    Auth(Box<HttpFailure>),
    /// 402: the project's plan has no access to this API.
    #[error("the Mixpanel plan does not include API access: {0}")]
    PaymentRequired(Box<HttpFailure>),
    /// 403: the credentials work but lack permission.
    #[error(
        "permission denied: {0}; the service account may lack a role on this project or the date range is not allowed"
    )]
    Forbidden(Box<HttpFailure>),
    /// 403 with Mixpanel's data-history gate (`Date range exceeds 90 days into the past`):
    /// the project may not query that far back; the credentials are fine.
    #[error(
        "Mixpanel refuses dates more than {max_days} days in the past for this project: {failure}"
    )]
    DateRangeTooOld {
        /// The response.
        failure: Box<HttpFailure>,
        /// The limit Mixpanel named.
        max_days: u32,
    },
    /// 404.
    #[error("not found: {0}")]
    NotFound(Box<HttpFailure>),
    /// 400, 422 and other 4xx statuses.
    #[error("invalid request: {0}")]
    InvalidRequest(Box<HttpFailure>),
    /// 429 after the retry policy was exhausted.
    #[error("rate limited by Mixpanel: {0}")]
    RateLimited(Box<HttpFailure>),
    /// 5xx after the retry policy was exhausted.
    #[error("Mixpanel server error: {0}")]
    Server(Box<HttpFailure>),
    /// 400 `Timeout Error.`: Mixpanel gave up computing the answer. Retried like a 5xx.
    #[error("Mixpanel timed out computing the answer: {0}")]
    ServerTimeout(Box<HttpFailure>),
    /// A successful status whose JSON body is an object with an `error` key.
    #[error("Mixpanel returned an error: {0}")]
    ErrorInBody(Box<HttpFailure>),
    /// A status this client does not expect (1xx, 3xx).
    #[error("unexpected response: {0}")]
    UnexpectedStatus(Box<HttpFailure>),
    /// The connection failed or broke before a response arrived.
    #[error("request {endpoint} failed: {source}")]
    Transport {
        /// Method and path.
        endpoint: Box<str>,
        /// What the HTTP stack reported.
        source: BoxError,
    },
    /// A timeout expired.
    #[error("request {endpoint} timed out after {after:?} {phase}")]
    Timeout {
        /// Method and path.
        endpoint: Box<str>,
        /// Which phase timed out.
        phase: TimeoutPhase,
        /// The configured limit.
        after: Duration,
    },
    /// Reading the body failed part-way (connection reset, incomplete body).
    #[error("reading the body of {endpoint} failed: {source}")]
    Body {
        /// Method and path.
        endpoint: Box<str>,
        /// What the HTTP stack reported.
        source: BoxError,
    },
    /// The gzip-encoded body could not be decompressed.
    #[error("the gzip body of {endpoint} is corrupt or truncated: {source}")]
    Gzip {
        /// Method and path.
        endpoint: Box<str>,
        /// The decompressor's error.
        source: std::io::Error,
    },
    /// The export body ended with Mixpanel's `terminated early` marker.
    #[error("the export {endpoint} was terminated early by Mixpanel at line {line}")]
    TerminatedEarly {
        /// Method and path.
        endpoint: Box<str>,
        /// 1-based physical line number of the marker.
        line: u64,
    },
    /// One export line exceeded the client's memory guard.
    #[error("line {line} of {endpoint} is longer than {limit} bytes")]
    LineTooLong {
        /// Method and path.
        endpoint: Box<str>,
        /// 1-based physical line number.
        line: u64,
        /// The limit in bytes.
        limit: usize,
    },
    /// A response body was not the JSON this client expects.
    #[error("unexpected response body from {endpoint}: {reason}")]
    InvalidResponse {
        /// Method and path.
        endpoint: Box<str>,
        /// What was wrong.
        reason: String,
    },
    /// A region name other than `us`, `eu` or `in`.
    #[error("unknown region {input:?}; expected us, eu or in")]
    InvalidRegion {
        /// What was given.
        input: String,
    },
    /// A base URL override that cannot be used.
    #[error("invalid base URL {url:?}: {reason}")]
    InvalidBaseUrl {
        /// The URL as given.
        url: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// The credentials cannot be used at all.
    #[error("invalid credentials: {reason}")]
    InvalidCredentials {
        /// Why they were refused.
        reason: &'static str,
    },
    /// The TLS configuration could not be built.
    #[error("cannot set up TLS: {source}")]
    Tls {
        /// The rustls error.
        source: Box<rustls::Error>,
    },
    /// A request could not be built (a client bug, not user input).
    #[error("cannot build request {endpoint}: {source}")]
    BuildRequest {
        /// Method and path.
        endpoint: Box<str>,
        /// The http crate's error.
        source: Box<http::Error>,
    },
}

impl Error {
    /// Whether repeating the request (or restarting the day) may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::RateLimited(_)
                | Error::Server(_)
                | Error::ServerTimeout(_)
                | Error::Transport { .. }
                | Error::Timeout { .. }
                | Error::Body { .. }
                | Error::Gzip { .. }
                | Error::TerminatedEarly { .. }
        )
    }

    /// The coarse class of this error.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Auth(_) | Error::PaymentRequired(_) | Error::Forbidden(_) => ErrorClass::Auth,
            Error::NotFound(_) => ErrorClass::NotFound,
            Error::InvalidRequest(_)
            | Error::DateRangeTooOld { .. }
            | Error::ErrorInBody(_)
            | Error::InvalidRegion { .. }
            | Error::InvalidBaseUrl { .. } => ErrorClass::InvalidRequest,
            Error::InvalidCredentials { .. } => ErrorClass::Auth,
            Error::RateLimited(_) => ErrorClass::RateLimited,
            Error::Server(_)
            | Error::ServerTimeout(_)
            | Error::UnexpectedStatus(_)
            | Error::Transport { .. }
            | Error::Timeout { .. }
            | Error::Body { .. }
            | Error::Gzip { .. }
            | Error::TerminatedEarly { .. }
            | Error::LineTooLong { .. }
            | Error::InvalidResponse { .. } => ErrorClass::Remote,
            Error::Tls { .. } | Error::BuildRequest { .. } => ErrorClass::Internal,
        }
    }

    /// The server's `Retry-After`, if this error carries one.
    pub fn retry_after(&self) -> Option<Duration> {
        self.http_failure().and_then(|f| f.retry_after)
    }

    /// The query budget a Query API 429 reported (`1/5 queries running concurrently and
    /// 61/60 queries running in the last hour`), when this is such an error.
    pub fn query_rate_limit(&self) -> Option<crate::QueryRateLimit> {
        match self {
            Error::RateLimited(failure) => crate::QueryRateLimit::parse(&failure.message),
            _ => None,
        }
    }

    /// The HTTP status, when the error came from a response.
    pub fn status(&self) -> Option<u16> {
        self.http_failure().map(|f| f.status)
    }

    /// The details of the HTTP response, for the status variants.
    pub fn http_failure(&self) -> Option<&HttpFailure> {
        match self {
            Error::Auth(f)
            | Error::PaymentRequired(f)
            | Error::Forbidden(f)
            | Error::NotFound(f)
            | Error::InvalidRequest(f)
            | Error::RateLimited(f)
            | Error::Server(f)
            | Error::ServerTimeout(f)
            | Error::ErrorInBody(f)
            | Error::UnexpectedStatus(f)
            | Error::DateRangeTooOld { failure: f, .. } => Some(f),
            _ => None,
        }
    }

    /// Maps a non-success status to its variant.
    pub(crate) fn from_status(failure: HttpFailure) -> Error {
        let failure = Box::new(failure);
        let message = failure.message.to_ascii_lowercase();
        match failure.status {
            401 => Error::Auth(failure),
            400 if message.contains("unable to authenticate") => Error::Auth(failure),
            // `{"error": "Timeout Error."}`: the query, not the request, failed.
            400 if message.contains("timeout error") => Error::ServerTimeout(failure),
            402 => Error::PaymentRequired(failure),
            403 => match history_limit_days(&message) {
                Some(max_days) => Error::DateRangeTooOld { failure, max_days },
                None => Error::Forbidden(failure),
            },
            404 => Error::NotFound(failure),
            429 => Error::RateLimited(failure),
            500..=599 => Error::Server(failure),
            400..=499 => Error::InvalidRequest(failure),
            _ => Error::UnexpectedStatus(failure),
        }
    }
}

/// The `N` of Mixpanel's data-history gate, `Date range exceeds N days into the past` (the
/// wording reported by users of several clients, e.g. ploner/RMixpanel#7, airbytehq/airbyte#2291).
fn history_limit_days(lowercase_message: &str) -> Option<u32> {
    let rest = lowercase_message.split_once("exceeds")?.1.trim_start();
    let (days, rest) = rest.split_once(char::is_whitespace)?;
    rest.trim_start().starts_with("days").then(|| days.parse().ok()).flatten()
}

/// Longest message kept from a non-JSON error body, in characters.
const MESSAGE_CHARS: usize = 200;

/// Extracts the human message from an error body: JSON `{"error": ..}` if possible, else the
/// first [`MESSAGE_CHARS`] characters of the text.
pub(crate) fn parse_error_message(body: &[u8]) -> String {
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(body)
        && let Some(error) = map.get("error")
    {
        return match error {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "(empty body)".to_owned();
    }
    let mut message: String = text.chars().take(MESSAGE_CHARS).collect();
    if text.chars().nth(MESSAGE_CHARS).is_some() {
        message.push('…');
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(status: u16, message: &str) -> HttpFailure {
        HttpFailure {
            endpoint: "GET /api/2.0/export?from_date=2024-01-01".to_owned(),
            status,
            message: message.to_owned(),
            retry_after: None,
        }
    }

    #[test]
    fn error_stays_small() {
        assert!(
            std::mem::size_of::<Error>() <= 48,
            "size_of::<Error>() = {}",
            std::mem::size_of::<Error>()
        );
    }

    #[test]
    fn parses_json_error_field() {
        let body = br#"{"request": "/api/2.0/funnels?x=1", "error": "Query rate limit exceeded"}"#;
        assert_eq!(parse_error_message(body), "Query rate limit exceeded");
    }

    #[test]
    fn non_string_json_error_is_rendered() {
        assert_eq!(parse_error_message(br#"{"error": {"code": 7}}"#), r#"{"code":7}"#);
    }

    #[test]
    fn json_without_error_key_falls_back_to_text() {
        assert_eq!(parse_error_message(br#"{"status":"fail"}"#), r#"{"status":"fail"}"#);
    }

    #[test]
    fn plain_text_is_trimmed_and_truncated() {
        assert_eq!(parse_error_message(b"  bad date\n"), "bad date");
        let long = "é".repeat(500);
        let message = parse_error_message(long.as_bytes());
        assert_eq!(message.chars().count(), MESSAGE_CHARS + 1);
        assert!(message.ends_with('…'));
        assert_eq!(parse_error_message(b""), "(empty body)");
    }

    #[test]
    fn a_timeout_error_400_is_retried_like_a_server_error() {
        // The body tap-mixpanel's tests use for Mixpanel's query timeouts.
        let error = Error::from_status(failure(400, "Timeout Error."));
        assert!(matches!(error, Error::ServerTimeout(_)), "{error:?}");
        assert!(error.is_retryable());
        assert_eq!(error.class(), ErrorClass::Remote);
        assert_eq!(error.status(), Some(400));
        assert_eq!(
            error.to_string(),
            "Mixpanel timed out computing the answer: GET /api/2.0/export?from_date=2024-01-01 (HTTP 400): Timeout Error."
        );
    }

    #[test]
    fn a_date_range_403_is_not_a_credentials_problem() {
        let error = Error::from_status(failure(403, "Date range exceeds 365 days into the past"));
        assert!(matches!(error, Error::DateRangeTooOld { max_days: 365, .. }), "{error:?}");
        assert_eq!(error.class(), ErrorClass::InvalidRequest);
        assert!(!error.is_retryable());
        assert_eq!(
            error.to_string(),
            "Mixpanel refuses dates more than 365 days in the past for this project: GET /api/2.0/export?from_date=2024-01-01 (HTTP 403): Date range exceeds 365 days into the past"
        );
        let other = Error::from_status(failure(403, "Permission denied"));
        assert!(matches!(other, Error::Forbidden(_)));
        assert_eq!(history_limit_days("date range exceeds many days"), None);
        assert_eq!(history_limit_days("exceeds 90 days into the past"), Some(90));
    }

    #[test]
    fn statuses_map_to_classes() {
        let cases = [
            (401, "nope", ErrorClass::Auth),
            (400, "Unable to authenticate request", ErrorClass::Auth),
            (402, "pay", ErrorClass::Auth),
            (403, "forbidden", ErrorClass::Auth),
            (404, "missing", ErrorClass::NotFound),
            (400, "to_date cannot be later than today", ErrorClass::InvalidRequest),
            (422, "bad", ErrorClass::InvalidRequest),
            (429, "slow down", ErrorClass::RateLimited),
            (503, "down", ErrorClass::Remote),
            (302, "moved", ErrorClass::Remote),
        ];
        for (status, message, class) in cases {
            let error = Error::from_status(failure(status, message));
            assert_eq!(error.class(), class, "status {status} {message}");
            assert_eq!(error.status(), Some(status));
        }
        assert!(matches!(Error::from_status(failure(402, "x")), Error::PaymentRequired(_)));
    }

    #[test]
    fn retryable_and_retry_after() {
        let mut limited = failure(429, "slow");
        limited.retry_after = Some(Duration::from_secs(7));
        let error = Error::from_status(limited);
        assert!(error.is_retryable());
        assert_eq!(error.retry_after(), Some(Duration::from_secs(7)));
        assert!(Error::from_status(failure(500, "x")).is_retryable());
        assert!(!Error::from_status(failure(401, "x")).is_retryable());
        let early = Error::TerminatedEarly { endpoint: "GET /x".into(), line: 3 };
        assert!(early.is_retryable());
        assert_eq!(early.class(), ErrorClass::Remote);
    }

    #[test]
    fn query_rate_limit_comes_from_429_messages_only() {
        let message = "Query rate limit exceeded for project_id: 7. 1/5 queries running \
                       concurrently and 61/60 queries running in the last hour.";
        let limit = Error::from_status(failure(429, message)).query_rate_limit().expect("parsed");
        assert_eq!((limit.last_hour, limit.hourly_limit), (Some(61), Some(60)));
        assert_eq!(Error::from_status(failure(429, "slow down")).query_rate_limit(), None);
        assert_eq!(Error::from_status(failure(400, message)).query_rate_limit(), None);
    }

    #[test]
    fn display_names_endpoint_and_status() {
        let text = Error::from_status(failure(401, "Invalid credentials")).to_string();
        assert!(text.contains("GET /api/2.0/export?from_date=2024-01-01"), "{text}");
        assert!(text.contains("HTTP 401"), "{text}");
        assert!(text.contains("Invalid credentials"), "{text}");
    }
}
