//! Integration tests: the mock over real TCP, through a minimal hyper client.

mod client;
mod control;
mod engage;
mod export;
mod faults;
mod pipelines;
mod query;

use mpd_testkit::{MockConfig, MockServer};

/// A small project: a few days of data and a fixed "today".
pub(crate) fn small_config() -> MockConfig {
    MockConfig {
        events_per_day: 120,
        duplicate_rate: 0.05,
        missing_insert_id_rate: 0.02,
        n_users: 300,
        last_day: client::day(2024, 1, 10),
        today: Some(client::day(2024, 2, 1)),
        ..MockConfig::default()
    }
}

pub(crate) async fn start(config: MockConfig) -> MockServer {
    MockServer::start(config).await.expect("mock starts")
}
