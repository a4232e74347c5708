//! How a sync cuts its window into export requests. Mixpanel's export answers a range of days
//! in one request and allows 60 requests an hour, so a first sync of two years asked day by
//! day waits twelve hours on the budget while the same days in two-week requests fit in one
//! hour. The planner picks the fewest days per request that keep the run within one hour's
//! budget, and no more days than keep a response under `max_rows_per_request` events at the
//! volume the store has seen lately (a big project falls back to one day per request, and a
//! day Mixpanel still cuts short is split further by the request loop).

use serde::Serialize;

/// Share of the hourly budget a plan aims at: the rest is left for retries and for other
/// tools using the same project.
const BUDGET_SHARE: f64 = 0.9;
/// A response's size is estimated from the volume seen times this margin (growth, peaks).
const VOLUME_MARGIN: u64 = 2;

/// Why a plan's requests cover the days they do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChunkChoice {
    /// `--chunk-days` said so.
    Forced,
    /// One day per request already fits within the hourly budget.
    OneDayFits,
    /// As many days per request as fit the run into one hour's budget.
    FitsBudget,
    /// Fewer days per request than the budget would allow, to keep responses bounded at the
    /// daily volume seen (the run then waits on the budget).
    BoundedByVolume,
    /// No volume is known yet: the first day is read alone and the rest planned from it.
    ProbeFirstDay,
}

/// How the window's days are cut into requests, and what that costs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RequestPlan {
    /// Days per request (the last request may have fewer).
    pub chunk_days: u32,
    /// Export requests the window takes (before retries).
    pub requests: u64,
    /// Why this size.
    pub choice: ChunkChoice,
    /// Events per day the plan assumed (the busiest recent stored day), when known.
    pub daily_events: Option<u64>,
    /// The most events a request should return.
    pub max_events_per_request: u64,
    /// The export budget per hour.
    pub budget_per_hour: u32,
    /// Seconds the run waits on the hourly budget at least (0 when it fits one hour).
    pub budget_wait_secs: u64,
}

impl RequestPlan {
    /// Share of the hourly export budget the requests need, in percent.
    pub fn budget_percent(&self) -> f64 {
        100.0 * self.requests as f64 / f64::from(self.budget_per_hour.max(1))
    }
}

/// What the planner knows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PlanInputs {
    /// Days in the window.
    pub(crate) n_days: u64,
    /// Export requests allowed per hour (0: no limit).
    pub(crate) budget_per_hour: u32,
    /// `--chunk-days`.
    pub(crate) forced: Option<u32>,
    /// Events on the busiest recent day the store holds.
    pub(crate) daily_events: Option<u64>,
    /// The most events one response should carry.
    pub(crate) max_events_per_request: u64,
}

/// The plan for `inputs` (see the module docs).
pub(crate) fn plan(inputs: PlanInputs) -> RequestPlan {
    let n_days = inputs.n_days.max(1);
    let fit = if inputs.budget_per_hour == 0 {
        u64::MAX
    } else {
        ((f64::from(inputs.budget_per_hour) * BUDGET_SHARE).floor() as u64).max(1)
    };
    let budget_chunk = n_days.div_ceil(fit).max(1);
    let (chunk, choice) = match (inputs.forced, inputs.daily_events) {
        (Some(days), _) => (u64::from(days.max(1)), ChunkChoice::Forced),
        _ if budget_chunk == 1 => (1, ChunkChoice::OneDayFits),
        (None, None) => {
            // The probe takes one request of the budget; the rest share the others.
            let rest_fit = fit.saturating_sub(1).max(1);
            ((n_days - 1).div_ceil(rest_fit).max(1), ChunkChoice::ProbeFirstDay)
        }
        (None, Some(daily)) => {
            let per_day = daily.max(1).saturating_mul(VOLUME_MARGIN);
            let by_volume = (inputs.max_events_per_request / per_day).max(1);
            if by_volume < budget_chunk {
                (by_volume, ChunkChoice::BoundedByVolume)
            } else {
                (budget_chunk, ChunkChoice::FitsBudget)
            }
        }
    };
    let chunk = chunk.min(n_days);
    let requests = match choice {
        // The probe day, then the rest in budget-sized requests (re-planned after the probe).
        ChunkChoice::ProbeFirstDay => 1 + (n_days - 1).div_ceil(chunk),
        _ => n_days.div_ceil(chunk),
    };
    RequestPlan {
        chunk_days: u32::try_from(chunk).unwrap_or(u32::MAX),
        requests,
        choice,
        daily_events: inputs.daily_events,
        max_events_per_request: inputs.max_events_per_request,
        budget_per_hour: inputs.budget_per_hour,
        budget_wait_secs: budget_wait_secs(requests, inputs.budget_per_hour),
    }
}

/// The first `budget` requests go at once; each further `budget` waits until the first ones
/// are an hour old.
fn budget_wait_secs(requests: u64, budget_per_hour: u32) -> u64 {
    if budget_per_hour == 0 {
        return 0;
    }
    (requests.div_ceil(u64::from(budget_per_hour)).max(1) - 1) * 3600
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(n_days: u64, daily_events: Option<u64>) -> PlanInputs {
        PlanInputs {
            n_days,
            budget_per_hour: 60,
            forced: None,
            daily_events,
            max_events_per_request: 1_000_000,
        }
    }

    #[test]
    fn a_short_window_is_read_day_by_day() {
        let plan = plan(inputs(6, Some(10_000)));
        assert_eq!((plan.chunk_days, plan.requests, plan.choice), (1, 6, ChunkChoice::OneDayFits));
        assert_eq!(plan.budget_wait_secs, 0);
    }

    #[test]
    fn two_years_of_a_small_project_fit_one_hour() {
        let plan = plan(inputs(731, Some(2_000)));
        assert_eq!((plan.chunk_days, plan.choice), (14, ChunkChoice::FitsBudget));
        assert_eq!(plan.requests, 53);
        assert!(plan.requests <= 60 && plan.budget_wait_secs == 0);
        assert!((plan.budget_percent() - 88.3).abs() < 0.1);
    }

    #[test]
    fn a_big_project_keeps_responses_bounded_and_waits() {
        // 200k events a day: 2 days keep a response under 1M events at twice that volume.
        let plan = plan(inputs(731, Some(200_000)));
        assert_eq!((plan.chunk_days, plan.choice), (2, ChunkChoice::BoundedByVolume));
        assert_eq!(plan.requests, 366);
        assert_eq!(plan.budget_wait_secs, 6 * 3600);
        // A day bigger than a response: one day per request.
        let huge = super::plan(inputs(731, Some(5_000_000)));
        assert_eq!((huge.chunk_days, huge.requests), (1, 731));
    }

    #[test]
    fn without_a_volume_the_first_day_is_a_probe() {
        let plan = plan(inputs(731, None));
        assert_eq!((plan.chunk_days, plan.choice), (14, ChunkChoice::ProbeFirstDay));
        assert_eq!(plan.requests, 1 + 53);
    }

    #[test]
    fn a_probe_plan_stays_within_the_budget_share() {
        for n_days in 55..=800 {
            let plan = plan(inputs(n_days, None));
            assert!(plan.requests <= 54, "{n_days} days: {} requests", plan.requests);
        }
    }

    #[test]
    fn chunk_days_forces_the_size_and_no_budget_means_no_wait() {
        let mut forced = inputs(30, None);
        forced.forced = Some(7);
        let plan = plan(forced);
        assert_eq!((plan.chunk_days, plan.requests, plan.choice), (7, 5, ChunkChoice::Forced));
        let mut unlimited = inputs(731, None);
        unlimited.budget_per_hour = 0;
        assert_eq!(super::plan(unlimited).chunk_days, 1);
        assert_eq!(budget_wait_secs(121, 60), 2 * 3600);
    }
}
