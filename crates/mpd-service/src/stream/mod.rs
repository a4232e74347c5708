//! Streaming Mixpanel data to a writer without storing it (`mpd fetch ... --stdout`).

pub(crate) mod assemble;
mod events;
mod profiles;
pub(crate) mod quarantine;
pub(crate) mod range;
mod spool;

pub use events::{StreamEventsRequest, StreamSummary};
pub use profiles::{ProfileSummary, StreamProfilesRequest};
pub use range::EventSelection;
