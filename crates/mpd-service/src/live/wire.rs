//! One Query API call as the live features make it: through the client's shared query
//! budget, with Mixpanel's refusals turned into errors that name the account, the endpoint or
//! the missing object.

use std::fmt::Display;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::workspace::Workspace;

impl Workspace {
    /// GET `/api/query/<endpoint>`.
    pub(super) async fn live_get(
        &self,
        endpoint: &str,
        params: &[(&str, String)],
    ) -> Result<Value> {
        let client = self.client()?;
        tracing::debug!(endpoint, n_params = params.len(), "live query");
        client.query_get(endpoint, params).await.map_err(|e| self.live_error(endpoint, e))
    }

    /// POST a form to `/api/query/<endpoint>`.
    pub(super) async fn live_post(&self, endpoint: &str, form: &[(&str, String)]) -> Result<Value> {
        let client = self.client()?;
        tracing::debug!(endpoint, n_params = form.len(), "live query (POST)");
        client.query_post(endpoint, form).await.map_err(|e| self.live_error(endpoint, e))
    }

    /// 402 gets its own message (the plan, not the credentials, is at fault); every other
    /// failure goes through the workspace's usual mapping.
    fn live_error(&self, endpoint: &str, error: mpd_api::Error) -> Error {
        if let mpd_api::Error::PaymentRequired(failure) = &error {
            return Error::NoApiAccess {
                endpoint: endpoint.to_owned(),
                project_id: self.project_id_if_known().unwrap_or_default(),
                message: failure.message.clone(),
            };
        }
        self.api_error(error)
    }
}

/// A 404 becomes [`Error::NotFound`] saying what was missing (`saved report 8009`).
pub(super) fn not_found_as(error: Error, what: impl FnOnce() -> String) -> Error {
    match &error {
        Error::Api(api) if api.status() == Some(404) => {
            Error::NotFound(format!("{} not found", what()))
        }
        _ => error,
    }
}

/// Mixpanel answered, but not in any shape mpd knows.
pub(super) fn unreadable(endpoint: &str, why: impl Display) -> Error {
    Error::Unreadable(format!("Mixpanel's answer to {endpoint} is not what mpd expects: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16) -> Error {
        // Built through the client's own mapping is not possible from here; a status error
        // from a real response is what `not_found_as` sees, so use the public variant.
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
        assert_eq!(error.class(), crate::ErrorClass::NotFound);
        let other = not_found_as(Error::InvalidArgument("x".into()), || unreachable!());
        assert!(matches!(other, Error::InvalidArgument(_)));
    }

    #[test]
    fn unreadable_names_the_endpoint() {
        let text = unreadable("funnels", "expected an object, got an array").to_string();
        assert!(text.contains("funnels") && text.contains("expected an object"), "{text}");
    }
}
