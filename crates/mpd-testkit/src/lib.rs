//! A mock Mixpanel server for tests, benchmarks and `mpd demo`.
//!
//! [`MockServer`] is a real HTTP/1.1 server (hyper) on `127.0.0.1` serving Mixpanel's raw event
//! export, engage and the whole Query API over a deterministic synthetic [`Project`], with
//! knobs for the failures users meet in the wild ([`Faults`]): 429 with `Retry-After`, 5xx,
//! mid-stream disconnects, `terminated early`, malformed and split lines, slow first bytes,
//! and any fixed error status on chosen endpoints ([`StatusRule`]).
//! The [`Project`] is the truth tests compare against.
//!
//! The Query API (under `/api/query/` and `/api/2.0/`: `events/names`, `events/top`,
//! `events/properties/top`, `events/properties/values`, `events`, `events/properties`,
//! `segmentation` and its `numeric`, `sum`, `average`, `funnels/list`, `funnels`,
//! `cohorts/list`, `retention`, `retention/addiction`, `stream/query`, `insights`,
//! `arb_funnels`; `jql` answers 400 "JQL has been sunset") computes every number from the
//! project's deduplicated, identity-resolved events ([`Project::query_events`]) following the
//! live-query semantics `mpd --local` also implements, so live and local answers can be
//! compared. Saved funnels, cohorts, reports and flows have fixed ids
//! ([`Project::saved_funnels`]). [`MockConfig::query_shape_variants`] switches to the
//! alternative response shapes clients must accept, and
//! [`MockConfig::query_rate_limit_per_hour`] answers Mixpanel's query 429 after N requests.
//!
//! ```
//! use mpd_testkit::{MockConfig, MockServer};
//!
//! let server = MockServer::spawn(MockConfig { events_per_day: 10, ..MockConfig::default() })?;
//! let day = chrono::NaiveDate::from_ymd_opt(2024, 1, 2).unwrap();
//! assert!(server.project().export_lines(day).len() >= 10);
//! assert!(server.base_url().starts_with("http://127.0.0.1:"));
//! # Ok::<(), mpd_testkit::Error>(())
//! ```
//!
//! Control endpoints let other processes use the truth too: `GET /__mock/truth?from_date=..&to_date=..`
//! (fault-free JSONL), `GET /__mock/requests` (the request log as JSON), and
//! `POST /__mock/late?day=YYYY-MM-DD&n=N` (adds late events, answers their JSONL) and
//! `POST /__mock/rekey?on=true|false` (identity re-keying of anonymous events, see
//! [`MockConfig::rekey_identified`]) and `POST /__mock/faults` (a JSON [`Faults`] body replaces
//! the faults, like [`MockServer::set_faults`]; an empty body clears them).
//!
//! [`pipelines`] writes the folder tree Mixpanel's JSON pipelines produce from the same
//! project, events as ingested (never re-keyed), for readers of pipeline buckets.

mod analytics;
mod body;
mod config;
mod filter;
pub mod pipelines;
mod prng;
mod project;
mod server;
mod synth;

use std::path::PathBuf;

use chrono::NaiveDate;

pub use config::{DaySelector, FaultRule, Faults, MockConfig, StatusRule};
pub use project::{Project, QueryEvent, SavedFunnel};
pub use server::{MockServer, RequestRecord};

/// Errors starting the mock or loading its scenario.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The listening socket could not be bound.
    #[error("cannot bind the mock server to 127.0.0.1:{port}")]
    Bind {
        /// Requested port (0 = any).
        port: u16,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The background runtime or thread of [`MockServer::spawn`] could not start.
    #[error("cannot start the mock server's runtime")]
    Runtime(#[source] std::io::Error),
    /// A scenario file is not valid TOML for a [`MockConfig`].
    #[error("invalid mock scenario: {message}")]
    Scenario {
        /// What the parser said, with the line.
        message: String,
    },
    /// A setting the mock cannot honour.
    #[error("invalid mock config: {message}")]
    InvalidConfig {
        /// Which setting and why.
        message: String,
    },
    /// The `jsonl_file` could not be read.
    #[error("cannot read events file {}", path.display())]
    ReadJsonl {
        /// The file.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A line of the `jsonl_file` is not an export-shaped event.
    #[error("events file {} line {line}: {message}", path.display())]
    ParseJsonl {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// Why the line was rejected.
        message: String,
    },
    /// A file or folder of a [`pipelines::PipelinesTree`] could not be written.
    #[error("cannot write pipelines file {}", path.display())]
    WritePipelines {
        /// The file or folder.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// An export line cannot be reshaped into a pipeline event record.
    #[error("cannot turn event {line} of {day} into a pipeline record: {message}")]
    PipelineEvent {
        /// The day being written.
        day: NaiveDate,
        /// 1-based position of the event in the day (or in the late batch).
        line: usize,
        /// Why it was rejected.
        message: String,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
