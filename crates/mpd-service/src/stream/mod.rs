//! Streaming Mixpanel data to a writer without storing it (`mpd fetch ... --stdout`).

pub(crate) mod events;
pub(crate) mod profiles;
pub(crate) mod quarantine;
pub(crate) mod range;
pub(crate) mod requests;
pub(crate) mod spool;
pub(crate) mod work;

pub use events::{StreamEventsRequest, StreamSummary};
pub use profiles::{ProfileSummary, StreamProfilesRequest};
pub use range::EventSelection;
