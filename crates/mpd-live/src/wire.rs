//! One Query API call as the live features make it: through the client's shared query
//! budget, with Mixpanel's refusals turned into errors that name the endpoint or the missing
//! object.

use std::fmt::Display;

use serde_json::Value;

use crate::LiveApi;
use crate::error::{Error, Result};

impl LiveApi<'_> {
    /// GET `/api/query/<endpoint>`.
    pub(crate) async fn live_get(
        &self,
        endpoint: &str,
        params: &[(&str, String)],
    ) -> Result<Value> {
        tracing::debug!(endpoint, n_params = params.len(), "live query");
        self.client.query_get(endpoint, params).await.map_err(|e| self.live_error(endpoint, e))
    }

    /// POST a form to `/api/query/<endpoint>`.
    pub(crate) async fn live_post(&self, endpoint: &str, form: &[(&str, String)]) -> Result<Value> {
        tracing::debug!(endpoint, n_params = form.len(), "live query (POST)");
        self.client.query_post(endpoint, form).await.map_err(|e| self.live_error(endpoint, e))
    }

    /// 402 gets its own message (the plan, not the credentials, is at fault); every other
    /// failure stays the client's error for the caller to explain.
    fn live_error(&self, endpoint: &str, error: mpd_api::Error) -> Error {
        if let mpd_api::Error::PaymentRequired(failure) = &error {
            return Error::NoApiAccess {
                endpoint: endpoint.to_owned(),
                project_id: self.project_id,
                message: failure.message.clone(),
            };
        }
        Error::Api(error)
    }
}

/// A 404 becomes [`Error::NotFound`] saying what was missing (`saved report 8009`).
pub(crate) fn not_found_as(error: Error, what: impl FnOnce() -> String) -> Error {
    match &error {
        Error::Api(api) if api.status() == Some(404) => {
            Error::NotFound(format!("{} not found", what()))
        }
        _ => error,
    }
}

/// Mixpanel answered, but not in any shape mpd knows.
pub(crate) fn unreadable(endpoint: &str, why: impl Display) -> Error {
    Error::Unreadable(format!("Mixpanel's answer to {endpoint} is not what mpd expects: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16) -> Error {
        Error::Api(mpd_api::Error::NotFound(Box::new(mpd_api::HttpFailure {
            endpoint: "GET /api/query/insights?bookmark_id=8009".to_owned(),
            status,
            message: "not found".to_owned(),
            retry_after: None,
        })))
    }

    #[test]
    fn a_404_names_the_missing_object() {
        let error = not_found_as(api(404), || "saved report 8009".to_owned());
        assert_eq!(error.to_string(), "saved report 8009 not found");
        assert!(matches!(error, Error::NotFound(_)));
        let other = not_found_as(Error::InvalidArgument("x".into()), || unreachable!());
        assert!(matches!(other, Error::InvalidArgument(_)));
    }

    #[test]
    fn unreadable_names_the_endpoint() {
        let text = unreadable("funnels", "expected an object, got an array").to_string();
        assert!(text.contains("funnels") && text.contains("expected an object"), "{text}");
    }
}
