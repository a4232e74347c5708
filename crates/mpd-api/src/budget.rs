//! Client-side rate limiting: a concurrency semaphore plus sliding hour and second windows.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::options::Budget;

const HOUR: Duration = Duration::from_secs(3600);
const SECOND: Duration = Duration::from_secs(1);

/// Start times of the requests made within the last `span`; a capacity of zero means unlimited.
#[derive(Debug)]
struct Window {
    capacity: usize,
    span: Duration,
    starts: VecDeque<Instant>,
}

impl Window {
    fn new(capacity: u32, span: Duration) -> Window {
        Window { capacity: capacity as usize, span, starts: VecDeque::new() }
    }

    /// How long until a request may start at `now`; zero when it may start right away.
    fn wait_at(&mut self, now: Instant) -> Duration {
        if self.capacity == 0 {
            return Duration::ZERO;
        }
        while let Some(&oldest) = self.starts.front() {
            if now.saturating_duration_since(oldest) >= self.span {
                self.starts.pop_front();
            } else {
                break;
            }
        }
        if self.starts.len() < self.capacity {
            return Duration::ZERO;
        }
        // The slot frees up when the oldest start leaves the window.
        let oldest = self.starts[self.starts.len() - self.capacity];
        (oldest + self.span).saturating_duration_since(now)
    }

    fn record(&mut self, now: Instant) {
        if self.capacity > 0 {
            self.starts.push_back(now);
        }
    }
}

#[derive(Debug)]
struct Windows {
    hour: Window,
    second: Window,
    /// Until when the last "waiting for the hourly budget" warning holds, so it is logged once.
    warned_until: Option<Instant>,
}

/// What the limiter decided for one try at `now`.
#[derive(Debug, PartialEq, Eq)]
enum Decision {
    Go,
    Wait { delay: Duration, hourly: bool },
}

impl Windows {
    fn decide(&mut self, now: Instant) -> Decision {
        let hour = self.hour.wait_at(now);
        let second = self.second.wait_at(now);
        if hour.is_zero() && second.is_zero() {
            self.hour.record(now);
            self.second.record(now);
            Decision::Go
        } else {
            Decision::Wait { delay: hour.max(second), hourly: !hour.is_zero() }
        }
    }
}

/// The limiter of one API family, shared by all clones of a client.
#[derive(Debug, Clone)]
pub(crate) struct Limiter {
    family: &'static str,
    semaphore: Option<Arc<Semaphore>>,
    windows: Arc<Mutex<Windows>>,
}

/// Held for the whole request, body streaming included; frees the concurrency slot on drop.
#[derive(Debug)]
pub(crate) struct Permit {
    _permit: Option<OwnedSemaphorePermit>,
}

impl Limiter {
    pub(crate) fn new(family: &'static str, budget: Budget) -> Limiter {
        Limiter {
            family,
            semaphore: (budget.concurrent > 0)
                .then(|| Arc::new(Semaphore::new(budget.concurrent as usize))),
            windows: Arc::new(Mutex::new(Windows {
                hour: Window::new(budget.per_hour, HOUR),
                second: Window::new(budget.per_second, SECOND),
                warned_until: None,
            })),
        }
    }

    /// Waits for a concurrency slot and for room in both windows, then counts the request.
    pub(crate) async fn acquire(&self) -> Permit {
        let permit = match &self.semaphore {
            // The semaphore is never closed, so acquiring only fails if that invariant breaks;
            // then running without the concurrency cap is the lesser evil.
            Some(semaphore) => semaphore.clone().acquire_owned().await.ok(),
            None => None,
        };
        loop {
            let now = Instant::now();
            let decision = {
                let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
                let decision = windows.decide(now);
                if let Decision::Wait { delay, hourly: true } = decision {
                    let until = now + delay;
                    if windows.warned_until.is_none_or(|w| now >= w) {
                        windows.warned_until = Some(until);
                        let wall = chrono::Utc::now()
                            + chrono::Duration::from_std(delay).unwrap_or_default();
                        tracing::warn!(
                            family = self.family,
                            wait_secs = delay.as_secs(),
                            until = %wall.format("%Y-%m-%dT%H:%M:%SZ"),
                            "hourly request budget used up; waiting"
                        );
                    }
                }
                decision
            };
            match decision {
                Decision::Go => return Permit { _permit: permit },
                Decision::Wait { delay, .. } => tokio::time::sleep(delay).await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn windows(per_hour: u32, per_second: u32) -> Windows {
        Windows {
            hour: Window::new(per_hour, HOUR),
            second: Window::new(per_second, SECOND),
            warned_until: None,
        }
    }

    #[test]
    fn second_window_spaces_bursts() {
        let t0 = Instant::now();
        let mut w = windows(0, 3);
        for _ in 0..3 {
            assert_eq!(w.decide(t0), Decision::Go);
        }
        assert_eq!(w.decide(t0), Decision::Wait { delay: SECOND, hourly: false });
        let later = t0 + Duration::from_millis(400);
        assert_eq!(
            w.decide(later),
            Decision::Wait { delay: Duration::from_millis(600), hourly: false }
        );
        assert_eq!(w.decide(t0 + SECOND), Decision::Go);
    }

    #[test]
    fn hour_window_slides() {
        let t0 = Instant::now();
        let mut w = windows(2, 0);
        assert_eq!(w.decide(t0), Decision::Go);
        assert_eq!(w.decide(t0 + Duration::from_secs(600)), Decision::Go);
        // Full: the next slot opens when the first request is an hour old.
        assert_eq!(
            w.decide(t0 + Duration::from_secs(900)),
            Decision::Wait { delay: Duration::from_secs(2700), hourly: true }
        );
        assert_eq!(w.decide(t0 + HOUR), Decision::Go);
        // Now the second request (at +600 s) is the oldest in the window.
        assert_eq!(
            w.decide(t0 + HOUR + Duration::from_secs(1)),
            Decision::Wait { delay: Duration::from_secs(599), hourly: true }
        );
    }

    #[test]
    fn longer_wait_wins_and_waiting_does_not_count() {
        let t0 = Instant::now();
        let mut w = windows(1, 1);
        assert_eq!(w.decide(t0), Decision::Go);
        for _ in 0..5 {
            assert_eq!(w.decide(t0), Decision::Wait { delay: HOUR, hourly: true });
        }
        assert_eq!(w.hour.starts.len(), 1);
        assert_eq!(w.second.starts.len(), 1);
    }

    #[test]
    fn zero_means_unlimited() {
        let t0 = Instant::now();
        let mut w = windows(0, 0);
        for _ in 0..10_000 {
            assert_eq!(w.decide(t0), Decision::Go);
        }
        assert!(w.hour.starts.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn limiter_caps_concurrency_until_permits_drop() {
        let limiter = Limiter::new("test", Budget { per_hour: 0, per_second: 0, concurrent: 2 });
        let a = limiter.acquire().await;
        let _b = limiter.acquire().await;
        let third = tokio::time::timeout(Duration::from_secs(5), limiter.acquire()).await;
        assert!(third.is_err(), "a third permit must wait");
        drop(a);
        let third = tokio::time::timeout(Duration::from_secs(5), limiter.acquire()).await;
        assert!(third.is_ok(), "a freed slot must be reusable");
    }

    #[tokio::test(start_paused = true)]
    async fn limiter_waits_for_the_second_window() {
        let limiter = Limiter::new("test", Budget { per_hour: 0, per_second: 1, concurrent: 0 });
        let start = Instant::now();
        drop(limiter.acquire().await);
        drop(limiter.acquire().await);
        // Paused time advances exactly by the slept amount, so this is arithmetic, not timing.
        assert_eq!(Instant::now() - start, SECOND);
    }
}
