//! Composition of endpoint URLs from the region and the origin overrides.

use url::Url;

use crate::error::{Error, Result};
use crate::options::{BaseUrls, Region};

/// Resolved origins for the two API families, each without a trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoints {
    export_origin: String,
    query_origin: String,
}

impl Endpoints {
    /// Picks per-family override, then `all`, then the region's hosts.
    pub(crate) fn resolve(region: Region, base_urls: &BaseUrls) -> Result<Endpoints> {
        let (export_host, query_host) = match region {
            Region::Us => ("https://data.mixpanel.com", "https://mixpanel.com"),
            Region::Eu => ("https://data-eu.mixpanel.com", "https://eu.mixpanel.com"),
            Region::In => ("https://data-in.mixpanel.com", "https://in.mixpanel.com"),
        };
        let pick = |family: &Option<Url>, default: &str| -> Result<String> {
            match family.as_ref().or(base_urls.all.as_ref()) {
                Some(url) => origin_of(url),
                None => Ok(default.to_owned()),
            }
        };
        Ok(Endpoints {
            export_origin: pick(&base_urls.export, export_host)?,
            query_origin: pick(&base_urls.query, query_host)?,
        })
    }

    /// The raw event export endpoint.
    pub(crate) fn export(&self) -> Result<Url> {
        parse(format!("{}/api/2.0/export", self.export_origin))
    }

    /// The engage (profiles) endpoint.
    pub(crate) fn engage(&self) -> Result<Url> {
        parse(format!("{}/api/2.0/engage", self.query_origin))
    }

    /// A Query API endpoint such as `events/names`.
    pub(crate) fn query(&self, endpoint: &str) -> Result<Url> {
        parse(format!("{}/api/query/{}", self.query_origin, endpoint.trim_matches('/')))
    }
}

fn parse(text: String) -> Result<Url> {
    Url::parse(&text).map_err(|_| Error::InvalidBaseUrl { url: text, reason: "not a valid URL" })
}

/// Keeps scheme, host, port and path prefix; drops query, fragment and the trailing slash.
fn origin_of(url: &Url) -> Result<String> {
    let refuse = |reason| {
        // The URL may carry a password; never echo it back.
        let mut shown = url.clone();
        let _ = shown.set_password(None);
        let _ = shown.set_username("");
        Err(Error::InvalidBaseUrl { url: shown.to_string(), reason })
    };
    if !matches!(url.scheme(), "http" | "https") {
        return refuse("the scheme must be http or https");
    }
    let Some(host) = url.host_str() else {
        return refuse("the URL has no host");
    };
    if !url.username().is_empty() || url.password().is_some() {
        return refuse("credentials belong in the account settings, not in the URL");
    }
    let mut origin = format!("{}://{}", url.scheme(), host);
    if let Some(port) = url.port() {
        origin.push_str(&format!(":{port}"));
    }
    origin.push_str(url.path().trim_end_matches('/'));
    Ok(origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Option<Url> {
        Some(Url::parse(s).expect("test URL"))
    }

    fn all_three(region: Region, base_urls: &BaseUrls) -> [String; 3] {
        let endpoints = Endpoints::resolve(region, base_urls).expect("resolves");
        [
            endpoints.export().expect("export").to_string(),
            endpoints.engage().expect("engage").to_string(),
            endpoints.query("events/names").expect("query").to_string(),
        ]
    }

    #[test]
    fn region_defaults() {
        let none = BaseUrls::default();
        assert_eq!(
            all_three(Region::Us, &none),
            [
                "https://data.mixpanel.com/api/2.0/export",
                "https://mixpanel.com/api/2.0/engage",
                "https://mixpanel.com/api/query/events/names",
            ]
        );
        assert_eq!(
            all_three(Region::Eu, &none),
            [
                "https://data-eu.mixpanel.com/api/2.0/export",
                "https://eu.mixpanel.com/api/2.0/engage",
                "https://eu.mixpanel.com/api/query/events/names",
            ]
        );
        assert_eq!(
            all_three(Region::In, &none),
            [
                "https://data-in.mixpanel.com/api/2.0/export",
                "https://in.mixpanel.com/api/2.0/engage",
                "https://in.mixpanel.com/api/query/events/names",
            ]
        );
    }

    #[test]
    fn all_override_replaces_both_origins() {
        let base = BaseUrls { all: url("http://127.0.0.1:8080/"), ..BaseUrls::default() };
        assert_eq!(
            all_three(Region::Eu, &base),
            [
                "http://127.0.0.1:8080/api/2.0/export",
                "http://127.0.0.1:8080/api/2.0/engage",
                "http://127.0.0.1:8080/api/query/events/names",
            ]
        );
    }

    #[test]
    fn family_override_wins_and_keeps_path_prefix() {
        let base = BaseUrls {
            all: url("http://proxy.local:9000"),
            export: url("https://export.example/mixpanel/?ignored=1#frag"),
            query: None,
        };
        assert_eq!(
            all_three(Region::Us, &base),
            [
                "https://export.example/mixpanel/api/2.0/export",
                "http://proxy.local:9000/api/2.0/engage",
                "http://proxy.local:9000/api/query/events/names",
            ]
        );
        let base = BaseUrls { query: url("http://q.example:81/p"), ..BaseUrls::default() };
        assert_eq!(
            all_three(Region::In, &base),
            [
                "https://data-in.mixpanel.com/api/2.0/export",
                "http://q.example:81/p/api/2.0/engage",
                "http://q.example:81/p/api/query/events/names",
            ]
        );
    }

    #[test]
    fn bad_overrides_are_refused() {
        for bad in ["ftp://example.com", "http://user:pw@example.com", "mailto:someone@example.com"]
        {
            let base = BaseUrls { all: url(bad), ..BaseUrls::default() };
            let result = Endpoints::resolve(Region::Us, &base);
            assert!(matches!(result, Err(Error::InvalidBaseUrl { .. })), "{bad}");
            let text = result.err().map(|e| e.to_string()).unwrap_or_default();
            assert!(!text.contains("pw"), "{text}");
        }
    }
}
