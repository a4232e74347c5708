//! Mixpanel's Query API and schema discovery for mpd: each request checked before it is sent
//! (a refused request still costs one of the project's hourly queries), answers parsed
//! tolerantly from every shape variant Mixpanel is known to send, typed results, and a cache of
//! discovery answers.
//!
//! What it offers, all on [`LiveApi`]:
//! - live queries: `segmentation`, `segmentation_numeric`, `segmentation_metric`,
//!   `event_counts`, `property_counts`, `funnel`, `retention`, `frequency`, `activity_feed`,
//!   `saved_report`, `flows`;
//! - discovery (cached in a [`DiscoveryCache`]): `list_events`, `list_properties`,
//!   `list_property_values`, `list_funnels`, `list_cohorts`, `top_events`.
//!
//! Requests are plain structs ([`request`]); answers are typed ([`result`]). The same result
//! types carry the `--local` twins' answers (`Source::Local`), computed by [`local`] with SQL
//! that the caller runs over its store.
//!
//! **Invariant:** knows nothing of config files, credentials, storage or printing; talks to
//! Mixpanel only through the `mpd_api::Client` it is given, and to a store only through the
//! SQL runner ([`local::EventsSql`]) it is given.

mod budget;
mod discovery;
mod error;
mod json;
pub mod local;
mod queries;
pub mod request;
pub mod result;
mod wire;

pub use budget::{query_endpoint, rate_limit_hint};
pub use discovery::DiscoveryCache;
pub use error::{Error, Result};

/// Live queries and discovery of one project, through one client and one discovery cache.
#[derive(Debug, Clone, Copy)]
pub struct LiveApi<'a> {
    client: &'a mpd_api::Client,
    discovery: &'a DiscoveryCache,
    project_id: u64,
}

impl<'a> LiveApi<'a> {
    /// Queries `project_id` through `client`, keeping discovery answers in `discovery`.
    #[must_use]
    pub fn new(
        client: &'a mpd_api::Client,
        discovery: &'a DiscoveryCache,
        project_id: u64,
    ) -> Self {
        Self { client, discovery, project_id }
    }
}
