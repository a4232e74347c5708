//! Error replies shared by every family: the Query API's 429 text and the statuses the
//! `http_status` fault injects.

use http::header::RETRY_AFTER;
use http::{HeaderValue, Response, StatusCode};
use serde_json::json;

use super::export::transient_reply;
use super::faults::Transient;
use super::request::{Ctx, json_response};
use super::{Reply, State};
use crate::body::MockBody;
use crate::project::lock;

/// Mixpanel's hourly Query API allowance, shown when no limit is configured.
const DEFAULT_HOURLY_LIMIT: u64 = 60;

/// 429 as the Query API answers it: the request echoed under `/api/2.0/` and the running
/// counts, with `Retry-After`.
pub(crate) fn query_rate_limited(
    state: &State,
    ctx: &Ctx,
    endpoint: &str,
    used: u64,
    limit: u64,
) -> Response<MockBody> {
    let query = ctx.request_line.split_once('?').map(|(_, q)| q).unwrap_or_default();
    let request = if query.is_empty() {
        format!("/api/2.0/{endpoint}")
    } else {
        format!("/api/2.0/{endpoint}?{query}")
    };
    let error = format!(
        "Query rate limit exceeded for project_id: {}. 0/5 queries running concurrently and \
         {used}/{limit} queries running in the last hour. For more information, see the rate \
         limits documentation.",
        state.config.project_id
    );
    let mut response =
        json_response(StatusCode::TOO_MANY_REQUESTS, &json!({"request": request, "error": error}));
    let retry_after = lock(&state.faults).retry_after_secs();
    response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(retry_after));
    response
}

/// The hourly limit shown in 429 bodies: the configured one, else Mixpanel's 60.
pub(crate) fn hourly_limit(state: &State) -> u64 {
    state.config.query_rate_limit_per_hour.map_or(DEFAULT_HOURLY_LIMIT, u64::from)
}

/// A `rate_limit` or `server_error` rule hitting a Query API endpoint.
pub(crate) fn query_transient(
    state: &State,
    ctx: &Ctx,
    endpoint: &str,
    transient: Transient,
) -> Reply {
    match transient {
        Transient::RateLimit { .. } => {
            let limit = hourly_limit(state);
            Reply {
                response: query_rate_limited(state, ctx, endpoint, limit + 1, limit),
                faults: vec![transient.name().to_owned()],
            }
        }
        other => transient_reply(state, ctx, other),
    }
}

/// The reply of the `http_status` rule: the rule's message, else Mixpanel's for the status.
pub(crate) fn injected_status(
    state: &State,
    ctx: &Ctx,
    endpoint: &str,
    status: StatusCode,
    message: Option<&str>,
) -> Reply {
    let response = match (status.as_u16(), message) {
        (_, Some(message)) => ctx.error(status, message),
        (429, None) if endpoint == "export" => {
            let retry_after_secs = lock(&state.faults).retry_after_secs();
            transient_reply(state, ctx, Transient::RateLimit { retry_after_secs }).response
        }
        (429, None) => {
            let limit = hourly_limit(state);
            query_rate_limited(state, ctx, endpoint, limit + 1, limit)
        }
        (_, None) => ctx.error(status, status_message(status)),
    };
    Reply { response, faults: vec!["http_status".to_owned()] }
}

fn status_message(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "Invalid value for parameter: the request was rejected",
        401 => "Invalid credentials",
        402 => "Your plan does not include access to this API",
        403 => "You do not have permission to access this project",
        404 => "Not found",
        500..=599 => "Internal server error",
        _ => "Request failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_follow_mixpanel() {
        assert_eq!(
            status_message(StatusCode::PAYMENT_REQUIRED),
            "Your plan does not include access to this API"
        );
        assert_eq!(status_message(StatusCode::BAD_GATEWAY), "Internal server error");
        assert!(status_message(StatusCode::BAD_REQUEST).starts_with("Invalid value for parameter"));
        assert_eq!(status_message(StatusCode::IM_A_TEAPOT), "Request failed");
    }
}
