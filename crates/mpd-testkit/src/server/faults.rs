//! Deciding which fault hits a request, with per-day attempt counters.
//!
//! Transient faults (429, 5xx, disconnect, `terminated early`) are checked in that order and at
//! most one hits a request; only the one that hits counts an attempt, so a rule for 429 and one
//! for disconnects on the same day give 429, then a disconnect, then success. Engage and
//! Query API requests have no day: only rules selecting `all` days apply to them, with their
//! own counters. Data faults (malformed, split lines) hit selected days on every attempt.
//! The `http_status` rule counts attempts per endpoint and is checked before all of these.

use std::collections::HashMap;

use chrono::NaiveDate;
use http::StatusCode;

use crate::config::{DaySelector, FaultRule, Faults};

/// What a request covers, for attempt counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Target {
    Day(NaiveDate),
    Engage,
    /// A Query API endpoint (`events/names`, `segmentation`, ...).
    Query(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    RateLimit,
    ServerError,
    Disconnect,
    TerminatedEarly,
}

/// A fault that replaces or breaks the whole response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transient {
    RateLimit { retry_after_secs: u64 },
    ServerError(StatusCode),
    Disconnect,
    TerminatedEarly,
}

impl Transient {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::RateLimit { .. } => "rate_limit",
            Self::ServerError(_) => "server_error",
            Self::Disconnect => "disconnect",
            Self::TerminatedEarly => "terminated_early",
        }
    }
}

#[derive(Debug)]
pub(crate) struct FaultState {
    faults: Faults,
    first_day: NaiveDate,
    counters: HashMap<(Kind, Target), u32>,
    server_errors: u32,
    status_counters: HashMap<String, u32>,
}

impl FaultState {
    pub(crate) fn new(faults: Faults, first_day: NaiveDate) -> Self {
        Self {
            faults,
            first_day,
            counters: HashMap::new(),
            server_errors: 0,
            status_counters: HashMap::new(),
        }
    }

    pub(crate) fn retry_after_secs(&self) -> u64 {
        self.faults.retry_after_secs
    }

    /// The status (and the rule's message, if any) the `http_status` rule answers `endpoint`
    /// with, if it hits; counts the attempt.
    pub(crate) fn take_status(&mut self, endpoint: &str) -> Option<(StatusCode, Option<String>)> {
        let rule = self.faults.http_status.as_ref()?;
        if !rule.selects(endpoint) {
            return None;
        }
        let seen = self.status_counters.entry(endpoint.to_owned()).or_insert(0);
        if rule.attempts != 0 && *seen >= rule.attempts {
            return None;
        }
        *seen += 1;
        Some((StatusCode::from_u16(rule.status).ok()?, rule.message.clone()))
    }

    pub(crate) fn set(&mut self, faults: Faults) {
        *self = Self::new(faults, self.first_day);
    }

    /// Bodies of at most this many lines are never cut short (0: any body may be).
    pub(crate) fn terminated_early_above_lines(&self) -> usize {
        self.faults.terminated_early_above_lines as usize
    }

    pub(crate) fn slow_first_byte_ms(&self) -> u64 {
        self.faults.slow_first_byte_ms
    }

    /// The transient fault this request gets, if any; counts the attempt.
    pub(crate) fn take_transient(&mut self, targets: &[Target]) -> Option<Transient> {
        let exports = targets.iter().any(|t| matches!(t, Target::Day(_)));
        let kinds = [
            (Kind::RateLimit, self.faults.rate_limit.clone()),
            (Kind::ServerError, self.faults.server_error.clone()),
            (Kind::Disconnect, self.faults.disconnect.clone().filter(|_| exports)),
            (Kind::TerminatedEarly, self.faults.terminated_early.clone().filter(|_| exports)),
        ];
        for (kind, rule) in kinds {
            let Some(rule) = rule else { continue };
            let selected: Vec<Target> =
                targets.iter().copied().filter(|t| self.selects(&rule.days, *t)).collect();
            let hit = selected.iter().any(|t| {
                rule.attempts == 0
                    || self.counters.get(&(kind, *t)).copied().unwrap_or(0) < rule.attempts
            });
            if !hit {
                continue;
            }
            for t in selected {
                *self.counters.entry((kind, t)).or_insert(0) += 1;
            }
            return Some(match kind {
                Kind::RateLimit => {
                    Transient::RateLimit { retry_after_secs: self.faults.retry_after_secs }
                }
                Kind::ServerError => {
                    const CODES: [StatusCode; 3] = [
                        StatusCode::INTERNAL_SERVER_ERROR,
                        StatusCode::BAD_GATEWAY,
                        StatusCode::SERVICE_UNAVAILABLE,
                    ];
                    let code = CODES[self.server_errors as usize % CODES.len()];
                    self.server_errors += 1;
                    Transient::ServerError(code)
                }
                Kind::Disconnect => Transient::Disconnect,
                Kind::TerminatedEarly => Transient::TerminatedEarly,
            });
        }
        None
    }

    /// Whether `day`'s body gets a malformed line and/or a split record.
    pub(crate) fn corruption(&self, day: NaiveDate) -> (bool, bool) {
        let on = |rule: &Option<FaultRule>| {
            rule.as_ref().is_some_and(|r| self.selects(&r.days, Target::Day(day)))
        };
        (on(&self.faults.malformed_line), on(&self.faults.split_line))
    }

    fn selects(&self, days: &DaySelector, target: Target) -> bool {
        match target {
            Target::Day(day) => days.contains(day, self.first_day),
            Target::Engage | Target::Query(_) => *days == DaySelector::All,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::date;

    fn state(faults: Faults) -> FaultState {
        FaultState::new(faults, date(2024, 1, 1))
    }

    #[test]
    fn attempts_count_per_day_and_zero_means_always() {
        let d1 = Target::Day(date(2024, 1, 1));
        let d2 = Target::Day(date(2024, 1, 2));
        let mut s = state(Faults { rate_limit: Some(FaultRule::all_days(2)), ..Faults::default() });
        assert!(s.take_transient(&[d1]).is_some());
        assert!(s.take_transient(&[d1]).is_some());
        assert_eq!(s.take_transient(&[d1]), None);
        // A range hits while any of its days still has attempts left.
        assert!(s.take_transient(&[d1, d2]).is_some());
        assert!(s.take_transient(&[d2]).is_some());
        assert_eq!(s.take_transient(&[d1, d2]), None);

        let mut always =
            state(Faults { disconnect: Some(FaultRule::all_days(0)), ..Faults::default() });
        for _ in 0..5 {
            assert_eq!(always.take_transient(&[d1]), Some(Transient::Disconnect));
        }
    }

    #[test]
    fn faults_take_turns_in_order() {
        let d = Target::Day(date(2024, 1, 3));
        let mut s = state(Faults {
            rate_limit: Some(FaultRule::all_days(1)),
            server_error: Some(FaultRule::all_days(2)),
            disconnect: Some(FaultRule::all_days(1)),
            terminated_early: Some(FaultRule::all_days(1)),
            retry_after_secs: 7,
            ..Faults::default()
        });
        let seen: Vec<Option<Transient>> = (0..6).map(|_| s.take_transient(&[d])).collect();
        assert_eq!(
            seen,
            [
                Some(Transient::RateLimit { retry_after_secs: 7 }),
                Some(Transient::ServerError(StatusCode::INTERNAL_SERVER_ERROR)),
                Some(Transient::ServerError(StatusCode::BAD_GATEWAY)),
                Some(Transient::Disconnect),
                Some(Transient::TerminatedEarly),
                None,
            ]
        );
    }

    #[test]
    fn day_rules_skip_other_days_and_dayless_endpoints() {
        let mut s = state(Faults {
            rate_limit: Some(FaultRule::on_days(vec![date(2024, 1, 5)], 1)),
            disconnect: Some(FaultRule::all_days(1)),
            ..Faults::default()
        });
        assert_eq!(s.take_transient(&[Target::Engage]), None);
        assert_eq!(s.take_transient(&[Target::Day(date(2024, 1, 4))]), Some(Transient::Disconnect));
        assert!(matches!(
            s.take_transient(&[Target::Day(date(2024, 1, 5))]),
            Some(Transient::RateLimit { .. })
        ));
    }

    #[test]
    fn status_rule_counts_attempts_per_endpoint() {
        use crate::config::StatusRule;
        let rule = StatusRule {
            status: 402,
            endpoints: vec!["funnels".to_owned()],
            attempts: 1,
            message: None,
        };
        let mut s = state(Faults { http_status: Some(rule), ..Faults::default() });
        assert_eq!(s.take_status("funnels"), Some((StatusCode::PAYMENT_REQUIRED, None)));
        assert_eq!(s.take_status("funnels"), None);
        assert_eq!(s.take_status("segmentation"), None);
        let every = StatusRule { status: 503, endpoints: Vec::new(), attempts: 0, message: None };
        s.set(Faults { http_status: Some(every), ..Faults::default() });
        for endpoint in ["export", "engage", "funnels", "funnels"] {
            assert_eq!(s.take_status(endpoint), Some((StatusCode::SERVICE_UNAVAILABLE, None)));
        }
    }

    #[test]
    fn corruption_follows_the_selector_on_every_attempt() {
        let s = state(Faults {
            split_line: Some(FaultRule { days: DaySelector::EveryNth(2), attempts: 1 }),
            ..Faults::default()
        });
        for _ in 0..3 {
            assert_eq!(s.corruption(date(2024, 1, 3)), (false, true));
            assert_eq!(s.corruption(date(2024, 1, 2)), (false, false));
        }
    }
}
