//! Integration tests: the client against the testkit's mock Mixpanel over real TCP.

mod engage;
mod errors;
mod export;

use std::time::Duration;

use chrono::NaiveDate;
use mpd_api::{BaseUrls, Client, ClientOptions, Credentials, Region, RetryPolicy, Secret, Url};
use mpd_testkit::{MockConfig, MockServer};

/// A day inside the mock's default data range.
fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 1, 2).expect("valid date")
}

fn small_config() -> MockConfig {
    MockConfig { events_per_day: 300, ..MockConfig::default() }
}

async fn start(config: MockConfig) -> MockServer {
    MockServer::start(config).await.expect("mock server starts")
}

fn options(server: &MockServer, secret: &str) -> ClientOptions {
    let base = Url::parse(server.base_url().as_ref()).expect("mock base URL");
    let mut options = ClientOptions::new(
        Region::Us,
        Credentials {
            username: "mock-user".to_owned(),
            secret: Secret::new(secret),
            project_id: 1234,
        },
    );
    options.base_urls = BaseUrls { all: Some(base), ..BaseUrls::default() };
    // Tiny delays keep retries fast; the logic is the same as with real ones.
    options.retry = RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
    };
    options
}

fn client(server: &MockServer) -> Client {
    Client::new(options(server, "mock-secret")).expect("client builds")
}
