//! Client options: credentials, region, budgets, retry policy and timeouts.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use url::Url;

use crate::error::Error;

/// Mixpanel data residency; picks the default hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Region {
    /// `data.mixpanel.com` / `mixpanel.com`.
    #[default]
    Us,
    /// `data-eu.mixpanel.com` / `eu.mixpanel.com`.
    Eu,
    /// `data-in.mixpanel.com` / `in.mixpanel.com`.
    In,
}

impl Region {
    /// The lowercase name used in config files.
    pub fn as_str(self) -> &'static str {
        match self {
            Region::Us => "us",
            Region::Eu => "eu",
            Region::In => "in",
        }
    }
}

impl FromStr for Region {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "us" => Ok(Region::Us),
            "eu" => Ok(Region::Eu),
            "in" => Ok(Region::In),
            _ => Err(Error::InvalidRegion { input: s.to_owned() }),
        }
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A secret that never shows up in `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself; only for building the `Authorization` header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Service-account credentials for one project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Service account username.
    pub username: String,
    /// Service account secret.
    pub secret: Secret,
    /// The project every request is made for.
    pub project_id: u64,
}

/// Origin overrides for proxies and mock servers; Mixpanel's paths are kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BaseUrls {
    /// Origin for every API family.
    pub all: Option<Url>,
    /// Origin for the export API; wins over `all`.
    pub export: Option<Url>,
    /// Origin for the Query API and engage; wins over `all`.
    pub query: Option<Url>,
}

/// Client-side rate budget for one API family. A zero means "no limit".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Requests started per sliding hour.
    pub per_hour: u32,
    /// Requests started per sliding second.
    pub per_second: u32,
    /// Requests in flight at once (including body streaming).
    pub concurrent: u32,
}

impl Budget {
    /// Mixpanel's documented export limits: 60/hour, 3/second, 100 concurrent.
    pub fn export_default() -> Budget {
        Budget { per_hour: 60, per_second: 3, concurrent: 100 }
    }

    /// Mixpanel's documented Query API limits: 60/hour, 5 concurrent.
    pub fn query_default() -> Budget {
        Budget { per_hour: 60, per_second: 0, concurrent: 5 }
    }
}

/// How failed requests are repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts, the first included.
    pub max_attempts: u32,
    /// Delay before the first retry; doubles each time.
    pub base_delay: Duration,
    /// Cap for the exponential delay.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
        }
    }
}

/// Timeouts for the phases of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP (and TLS) connect.
    pub connect: Duration,
    /// From sending an export request to its response headers; big days take minutes.
    pub export_first_byte: Duration,
    /// Longest silence between two chunks of an export body.
    pub idle_read: Duration,
    /// A whole Query API request, body included.
    pub query: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(30),
            export_first_byte: Duration::from_secs(600),
            idle_read: Duration::from_secs(300),
            query: Duration::from_secs(120),
        }
    }
}

/// Everything needed to build a [`Client`](crate::Client).
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Data residency.
    pub region: Region,
    /// Service account.
    pub credentials: Credentials,
    /// Origin overrides.
    pub base_urls: BaseUrls,
    /// Budget for the export API.
    pub export_budget: Budget,
    /// Budget for the Query API and engage.
    pub query_budget: Budget,
    /// Retry policy for all requests.
    pub retry: RetryPolicy,
    /// Timeouts.
    pub timeouts: Timeouts,
}

impl ClientOptions {
    /// Options with Mixpanel's default budgets, retries and timeouts.
    pub fn new(region: Region, credentials: Credentials) -> ClientOptions {
        ClientOptions {
            region,
            credentials,
            base_urls: BaseUrls::default(),
            export_budget: Budget::export_default(),
            query_budget: Budget::query_default(),
            retry: RetryPolicy::default(),
            timeouts: Timeouts::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_parses_case_insensitively_and_displays() {
        assert_eq!("US".parse::<Region>().ok(), Some(Region::Us));
        assert_eq!("eu".parse::<Region>().ok(), Some(Region::Eu));
        assert_eq!(" In ".parse::<Region>().ok(), Some(Region::In));
        assert!(matches!("mars".parse::<Region>(), Err(Error::InvalidRegion { .. })));
        for region in [Region::Us, Region::Eu, Region::In] {
            assert_eq!(region.to_string().parse::<Region>().ok(), Some(region));
        }
    }

    #[test]
    fn secret_is_masked_everywhere() {
        let options = ClientOptions::new(
            Region::Eu,
            Credentials {
                username: "svc.user".to_owned(),
                secret: Secret::new("hunter2-very-secret"),
                project_id: 42,
            },
        );
        for text in [
            format!("{options:?}"),
            format!("{options:#?}"),
            format!("{:?}", options.credentials),
            format!("{}", options.credentials.secret),
        ] {
            assert!(!text.contains("hunter2"), "{text}");
        }
        assert!(format!("{:?}", options.credentials).contains("***"));
        assert_eq!(options.credentials.secret.expose(), "hunter2-very-secret");
    }

    #[test]
    fn default_budgets_match_mixpanel_limits() {
        assert_eq!(
            Budget::export_default(),
            Budget { per_hour: 60, per_second: 3, concurrent: 100 }
        );
        assert_eq!(Budget::query_default(), Budget { per_hour: 60, per_second: 0, concurrent: 5 });
        let retry = RetryPolicy::default();
        assert_eq!(
            (retry.max_attempts, retry.base_delay.as_secs(), retry.max_delay.as_secs()),
            (6, 1, 60)
        );
    }
}
