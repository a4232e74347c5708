//! Why a live query or a discovery call failed, in terms a user can act on.

/// Errors of live queries and discovery.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request failed at Mixpanel or on the way (status, endpoint and message inside); the
    /// caller knows the account and turns credential refusals into its own advice.
    #[error(transparent)]
    Api(mpd_api::Error),
    /// The request itself is invalid (dates, names, limits); nothing was sent.
    #[error("{0}")]
    InvalidArgument(String),
    /// An event Mixpanel does not know, with the project's closest event names.
    #[error("{}", event_not_found_message(event, *project_id, suggestions))]
    EventNotFound {
        /// The event as given.
        event: String,
        /// The project that was asked.
        project_id: u64,
        /// Up to five known events with similar names, best first.
        suggestions: Vec<String>,
    },
    /// A saved report, funnel or other object that does not exist (`saved report 8009 not found`).
    #[error("{0}")]
    NotFound(String),
    /// The project's plan does not include the API an endpoint belongs to (HTTP 402).
    #[error("the Mixpanel plan of project {project_id} lacks API access for {endpoint}: {message}")]
    NoApiAccess {
        /// The endpoint, e.g. `segmentation`.
        endpoint: String,
        /// The project.
        project_id: u64,
        /// What Mixpanel said.
        message: String,
    },
    /// Mixpanel sent something mpd cannot read (the endpoint and what was wrong).
    #[error("{0}")]
    Unreadable(String),
    /// A bug of mpd: a local query's rows are not what its SQL asks for.
    #[error("internal error: {0}")]
    Internal(String),
}

fn event_not_found_message(event: &str, project_id: u64, suggestions: &[String]) -> String {
    if suggestions.is_empty() {
        format!("event {event:?} not found in project {project_id}")
    } else {
        format!(
            "event {event:?} not found in project {project_id}; did you mean: {}?",
            suggestions.join(", ")
        )
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_not_found_reads_like_a_suggestion() {
        let error = Error::EventNotFound {
            event: "Sign up".to_owned(),
            project_id: 12,
            suggestions: vec!["Signup".to_owned(), "Sign Up".to_owned()],
        };
        assert_eq!(
            error.to_string(),
            r#"event "Sign up" not found in project 12; did you mean: Signup, Sign Up?"#
        );
        let bare = Error::EventNotFound { event: "x".into(), project_id: 1, suggestions: vec![] };
        assert_eq!(bare.to_string(), r#"event "x" not found in project 1"#);
    }
}
