//! Live analytics through Mixpanel's Query API, schema discovery, and the same answers
//! computed locally from the store with SQL (`--local`).
//!
//! Requests are plain structs ([`request`]); answers are typed ([`result`]) and parsed
//! tolerantly from the shape variants Mixpanel is known to send.

mod discovery;
mod json;
mod local;
mod queries;
pub(crate) mod request;
pub(crate) mod result;
mod wire;

pub(crate) use discovery::DiscoveryCache;
