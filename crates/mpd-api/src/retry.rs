//! Backoff delays and `Retry-After` parsing.

use std::time::Duration;

use http::HeaderMap;
use rand::Rng;

use crate::options::RetryPolicy;

/// A server asking for more than this is treated as asking for this; it bounds a stuck client.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

impl RetryPolicy {
    /// Attempts allowed, never fewer than one.
    pub(crate) fn attempts(&self) -> u32 {
        self.max_attempts.max(1)
    }

    /// Delay before retry number `retry` (1 = first retry): `base * 2^(retry-1)`, capped at
    /// `max_delay`, then ±10 % jitter so parallel clients do not retry in lockstep.
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = rand::rng().random_range(0.9..=1.1);
        self.backoff_with_jitter(retry, factor)
    }

    fn backoff_with_jitter(&self, retry: u32, factor: f64) -> Duration {
        let exponent = retry.saturating_sub(1).min(30);
        let raw = self.base_delay.saturating_mul(1u32 << exponent);
        raw.min(self.max_delay).mul_f64(factor)
    }
}

/// Reads `Retry-After` given in seconds (the form Mixpanel and proxies use).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(http::header::RETRY_AFTER)?.to_str().ok()?.trim();
    let secs: f64 = value.parse().ok()?;
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    Some(Duration::from_secs_f64(secs.min(MAX_RETRY_AFTER.as_secs_f64())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn backoff_doubles_and_caps() {
        let policy = RetryPolicy::default();
        let exact: Vec<u64> =
            (1..=8).map(|n| policy.backoff_with_jitter(n, 1.0).as_secs()).collect();
        assert_eq!(exact, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(policy.backoff_with_jitter(u32::MAX, 1.0), Duration::from_secs(60));
    }

    #[test]
    fn jittered_backoff_stays_within_ten_percent() {
        let policy = RetryPolicy::default();
        for retry in 1..=10 {
            let nominal = policy.backoff_with_jitter(retry, 1.0);
            for _ in 0..200 {
                let delay = policy.backoff(retry);
                assert!(delay >= nominal.mul_f64(0.9), "retry {retry}: {delay:?} < {nominal:?}");
                assert!(delay <= nominal.mul_f64(1.1), "retry {retry}: {delay:?} > {nominal:?}");
            }
        }
    }

    #[test]
    fn zero_attempts_still_tries_once() {
        let policy = RetryPolicy { max_attempts: 0, ..RetryPolicy::default() };
        assert_eq!(policy.attempts(), 1);
    }

    #[test]
    fn retry_after_in_seconds() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(http::header::RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(http::header::RETRY_AFTER, HeaderValue::from_static("999999"));
        assert_eq!(retry_after(&headers), Some(MAX_RETRY_AFTER));
        headers.insert(http::header::RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
        headers.insert(http::header::RETRY_AFTER, HeaderValue::from_static("-3"));
        assert_eq!(retry_after(&headers), None);
    }
}
