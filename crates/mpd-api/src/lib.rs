//! Mixpanel HTTP client for mpd: streaming raw event export, engage paging, Query API helpers,
//! and a client-side request budget.
//!
//! This crate knows HTTP and Mixpanel's wire protocol and nothing about configuration files,
//! storage or printing. The export body is never buffered whole: [`ExportBody::next_chunk`]
//! hands it over decompressed, a stretch at a time, for the caller to frame into lines. Requests wait for the
//! per-family [`Budget`], and 429/5xx/connection failures before a body starts are retried
//! per the [`RetryPolicy`]; failures while a body streams are returned as retryable errors so
//! the caller can restart the day.
//!
//! Secrets never reach logs, errors or `Debug` output.
//!
//! ```no_run
//! # async fn run() -> mpd_api::Result<()> {
//! use mpd_api::{Client, ClientOptions, Credentials, ExportRequest, Region, Secret};
//!
//! let credentials = Credentials {
//!     username: "svc.user".to_owned(),
//!     secret: Secret::new("…"),
//!     project_id: 1234,
//! };
//! let client = Client::new(ClientOptions::new(Region::Eu, credentials))?;
//! let day = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).expect("valid date");
//! let mut body = client.export(&ExportRequest::days(day, day)).await?;
//! while let Some(chunk) = body.next_chunk().await? {
//!     let _ = chunk.len();
//! }
//! # Ok(())
//! # }
//! ```

mod budget;
mod client;
mod decoding;
mod engage;
mod error;
mod export;
mod options;
mod own_connection;
mod rate_limit;
mod retry;
mod urls;

pub use client::Client;
pub use engage::{EngagePage, EngagePager, EngageRequest};
pub use error::{BoxError, Error, ErrorClass, HttpFailure, Result, TimeoutPhase};
pub use export::{ExportBody, ExportRequest};
pub use options::{
    BaseUrls, Budget, ClientOptions, Credentials, Region, RetryPolicy, Secret, Timeouts,
};
pub use rate_limit::QueryRateLimit;
pub use url::Url;
