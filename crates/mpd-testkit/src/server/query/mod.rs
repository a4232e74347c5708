//! The Query API, under both `/api/query/<endpoint>` and `/api/2.0/<endpoint>`: every answer
//! is computed from the project's deduplicated, identity-resolved events
//! ([`crate::analytics`] holds the definitions).
//!
//! A request is checked in this order: method, credentials, the query rate limit
//! ([`crate::MockConfig::query_rate_limit_per_hour`]), the `http_status` fault (both in
//! [`super::route`]), then `rate_limit`/`server_error` faults, then parameters (400 with
//! `{"error", "request"}`).

mod discovery;
mod funnels;
mod params;
mod reports;
mod retention;
mod segmentation;

use http::{Method, StatusCode};

use super::faults::Target;
use super::replies::query_transient;
use super::request::{Ctx, json_response};
use super::{Reply, State};
use crate::project::lock;
use params::{Answer, Params};

/// Endpoints, and whether clients also POST them (with a form or JSON body).
const ENDPOINTS: [(&str, bool); 19] = [
    ("events/names", false),
    ("events/top", false),
    ("events/properties/top", false),
    ("events/properties/values", false),
    ("events", false),
    ("events/properties", false),
    ("segmentation", false),
    ("segmentation/numeric", false),
    ("segmentation/sum", false),
    ("segmentation/average", false),
    ("funnels/list", false),
    ("funnels", false),
    ("cohorts/list", true),
    ("retention", false),
    ("retention/addiction", false),
    ("stream/query", false),
    ("insights", true),
    ("arb_funnels", true),
    ("jql", true),
];

/// The static name of a Query API endpoint (the path after the prefix, no slashes around).
pub(crate) fn endpoint(name: &str) -> Option<&'static str> {
    ENDPOINTS.iter().find(|(e, _)| *e == name).map(|(e, _)| *e)
}

pub(crate) fn allows(endpoint: &str, method: &Method) -> bool {
    let post = ENDPOINTS.iter().any(|(e, post)| *e == endpoint && *post);
    *method == Method::GET || (post && *method == Method::POST)
}

/// When an answer was computed, as Mixpanel stamps it.
pub(crate) fn computed_at() -> String {
    chrono::Utc::now().to_rfc3339()
}

/// Answers an authorized, admitted request for `endpoint`.
pub(crate) fn handle(state: &State, ctx: &Ctx, endpoint: &'static str) -> Reply {
    let transient = lock(&state.faults).take_transient(&[Target::Query(endpoint)]);
    if let Some(t) = transient {
        return query_transient(state, ctx, endpoint, t);
    }
    let p = Params::new(state, ctx);
    let answer: Answer = match endpoint {
        "events/names" => discovery::names(&p),
        "events/top" => discovery::top(&p),
        "events/properties/top" => discovery::properties_top(&p),
        "events/properties/values" => discovery::properties_values(&p),
        "events" => segmentation::events(&p),
        "events/properties" => segmentation::event_properties(&p),
        "segmentation" => segmentation::segmentation(&p),
        "segmentation/numeric" => segmentation::numeric(&p),
        "segmentation/sum" => segmentation::metric(&p, false),
        "segmentation/average" => segmentation::metric(&p, true),
        "funnels/list" => funnels::list(&p),
        "funnels" => funnels::funnel(&p),
        "cohorts/list" => reports::cohorts(&p),
        "retention" => retention::retention(&p),
        "retention/addiction" => retention::addiction(&p),
        "stream/query" => reports::stream(&p),
        "insights" => reports::insights(&p),
        "arb_funnels" => reports::flows(&p),
        "jql" => reports::jql(&p),
        _ => Err(params::Bad { status: StatusCode::NOT_FOUND, message: "Not found".to_owned() }),
    };
    match answer {
        Ok(value) => json_response(StatusCode::OK, &value).into(),
        Err(e) => ctx.error(e.status, &e.message).into(),
    }
}
