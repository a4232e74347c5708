//! What to advise when Mixpanel's Query API budget runs out: its limits (as Mixpanel reported
//! them, else the documented ones), how to keep mpd under them, and `--local` where the store
//! can answer instead.

/// Query API endpoints whose answers `--local` computes from the synced store.
const LOCAL_EQUIVALENTS: [&str; 4] = ["segmentation", "events", "funnels", "retention"];

/// The Query API endpoint (`segmentation`, `events/names`, `engage`) an error came from, if
/// it came from that family rather than from the export.
pub fn query_endpoint(error: &mpd_api::Error) -> Option<&str> {
    let label = &error.http_failure()?.endpoint;
    let path = label.split_whitespace().nth(1).unwrap_or(label);
    let path = path.split('?').next().unwrap_or(path);
    if let Some(endpoint) = path.split_once("/api/query/").map(|(_, rest)| rest) {
        return Some(endpoint.trim_matches('/'));
    }
    path.ends_with("/engage").then_some("engage")
}

/// The advice for a Query API rate limit hit on `endpoint`, with the numbers Mixpanel
/// reported when it did.
pub fn rate_limit_hint(endpoint: &str, reported: Option<mpd_api::QueryRateLimit>) -> String {
    let reported = reported.unwrap_or_default();
    // Plans and eras differ (60 or 400 an hour): the limits Mixpanel quoted win over the
    // documented defaults.
    let hourly = reported.hourly_limit.unwrap_or(60);
    let concurrent = reported.concurrent_limit.unwrap_or(5);
    let whose = if reported.hourly_limit.is_some() || reported.concurrent_limit.is_some() {
        "Mixpanel allows this project"
    } else {
        "Mixpanel's Query API allows each project"
    };
    let mut hint = format!("{whose} {hourly} queries an hour and {concurrent} at a time");
    let mut parts = Vec::new();
    if let Some(running) = reported.running {
        parts.push(format!("{running} running"));
    }
    if let Some(used) = reported.last_hour {
        parts.push(format!("{used} in the last hour"));
    }
    if !parts.is_empty() {
        hint.push_str(&format!(" and reported {}", parts.join(", ")));
    }
    hint.push_str(
        "; wait and rerun, and keep mpd under your plan's limit with [mpd] query_per_hour / query_concurrent (MPD_QUERY_PER_HOUR, MPD_QUERY_CONCURRENT)",
    );
    if LOCAL_EQUIVALENTS.contains(&endpoint) {
        hint.push_str("; or answer from the synced store with --local");
    }
    hint
}
