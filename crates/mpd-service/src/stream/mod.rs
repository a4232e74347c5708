//! Streaming Mixpanel data to a writer without storing it (`mpd fetch ... --stdout`).

mod assemble;
mod events;
mod profiles;
mod quarantine;
mod spool;

pub use events::{StreamEventsRequest, StreamSummary};
pub use profiles::{ProfileSummary, StreamProfilesRequest};
