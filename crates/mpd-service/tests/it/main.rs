//! Use cases against the mock Mixpanel over real TCP, into real stores.

mod cookbook;
mod fetch_tables;
mod gdpr;
mod import;
mod interop;
mod live;
mod live_local;
mod live_vs_local;
mod support;
mod sync;
mod sync_timezone;
