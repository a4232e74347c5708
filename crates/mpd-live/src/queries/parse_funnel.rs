//! Funnel answers: per-bucket steps, summed over the range with ratios recomputed and
//! count-weighted mean times; segmented answers (`on`) carry `$overall` plus one step list
//! per segment value inside each date.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::json::{Why, array, count, number, object, text};
use crate::result::{FunnelBucket, FunnelSegment, FunnelStep, bucket_day};

/// The key segmented answers use for all users.
const OVERALL: &str = "$overall";

/// What a funnel answer holds, before the request's fields are added.
#[derive(Debug, Default, PartialEq)]
pub(super) struct FunnelAnswer {
    pub(super) steps: Vec<FunnelStep>,
    pub(super) buckets: Vec<FunnelBucket>,
    pub(super) segments: Vec<FunnelSegment>,
}

/// One step as sent for one bucket.
#[derive(Debug, Clone)]
struct RawStep {
    event: String,
    count: u64,
    avg_time: Option<f64>,
    avg_time_from_start: Option<f64>,
}

/// Steps summed over buckets; times are weighted by the step's count in each bucket.
#[derive(Debug, Default, Clone)]
struct StepSums(Vec<StepSum>);

#[derive(Debug, Default, Clone)]
struct StepSum {
    event: String,
    count: u64,
    time: Weighted,
    time_from_start: Weighted,
}

#[derive(Debug, Default, Clone, Copy)]
struct Weighted {
    sum: f64,
    weight: u64,
}

impl Weighted {
    fn add(&mut self, value: Option<f64>, weight: u64) {
        if let Some(value) = value
            && weight > 0
        {
            self.sum += value * weight as f64;
            self.weight += weight;
        }
    }

    fn mean(self) -> Option<f64> {
        (self.weight > 0).then(|| self.sum / self.weight as f64)
    }
}

impl StepSums {
    fn add(&mut self, steps: &[RawStep]) {
        if self.0.len() < steps.len() {
            self.0.resize_with(steps.len(), StepSum::default);
        }
        for (sum, step) in self.0.iter_mut().zip(steps) {
            if sum.event.is_empty() {
                sum.event.clone_from(&step.event);
            }
            sum.count += step.count;
            sum.time.add(step.avg_time, step.count);
            sum.time_from_start.add(step.avg_time_from_start, step.count);
        }
    }

    fn first_count(&self) -> u64 {
        self.0.first().map_or(0, |s| s.count)
    }

    fn finish(&self) -> Vec<FunnelStep> {
        let first = self.first_count();
        let mut previous = None;
        let mut out = Vec::with_capacity(self.0.len());
        for (i, sum) in self.0.iter().enumerate() {
            let step_conv_ratio = match previous {
                None => 1.0,
                Some(0) => 0.0,
                Some(prev) => sum.count as f64 / prev as f64,
            };
            let first_step = i == 0;
            // Mixpanel's value: the first step converts 1 of 1, even when nobody entered.
            let overall_conv_ratio = match (first_step, first) {
                (true, _) => 1.0,
                (false, 0) => 0.0,
                (false, _) => sum.count as f64 / first as f64,
            };
            out.push(FunnelStep {
                step: i as u32 + 1,
                event: sum.event.clone(),
                count: sum.count,
                step_conv_ratio,
                overall_conv_ratio,
                avg_time: if first_step { None } else { sum.time.mean() },
                avg_time_from_start: if first_step { None } else { sum.time_from_start.mean() },
            });
            previous = Some(sum.count);
        }
        out
    }
}

/// `{"meta": {"dates": [...]}, "data": {date: {"steps": [...], "analysis": {...}}}}`; `data`
/// may also hold a `$overall` entry (skipped: buckets are the dates), and with `on` each
/// date holds `$overall` plus one step list per segment value.
pub(super) fn funnel_answer(root: &Value) -> Result<FunnelAnswer, Why> {
    let data = match root.get("data") {
        // A funnel nobody entered may come back as `{"data": []}`.
        Some(Value::Array(list)) if list.is_empty() => return Ok(FunnelAnswer::default()),
        Some(data) => data,
        None => root,
    };
    let data = object(data, "`data`")?;
    let mut dates: Vec<(&String, &Value)> =
        data.iter().filter(|(key, _)| bucket_day(key).is_some()).collect();
    dates.sort_by(|a, b| a.0.cmp(b.0));

    let mut total = StepSums::default();
    let mut segments: BTreeMap<String, StepSums> = BTreeMap::new();
    let mut buckets = Vec::with_capacity(dates.len());
    for (date, entry) in dates {
        let entry = object(entry, &format!("the funnel of {date}"))?;
        let steps = match entry.get("steps") {
            Some(steps) => steps_of(steps, date)?,
            None => segmented(entry, date, &mut segments)?,
        };
        let mut bucket = StepSums::default();
        bucket.add(&steps);
        total.add(&steps);
        buckets.push(FunnelBucket { date: date.clone(), steps: bucket.finish() });
    }
    let mut segments: Vec<FunnelSegment> = segments
        .into_iter()
        .map(|(segment, sums)| FunnelSegment { segment, steps: sums.finish() })
        .collect();
    segments.sort_by(|a, b| {
        let first = |s: &FunnelSegment| s.steps.first().map_or(0, |f| f.count);
        first(b).cmp(&first(a)).then_with(|| a.segment.cmp(&b.segment))
    });
    Ok(FunnelAnswer { steps: total.finish(), buckets, segments })
}

/// A segmented date: adds each segment's steps to `segments` and returns the `$overall`
/// steps (or, when Mixpanel left `$overall` out, the segments summed).
fn segmented(
    entry: &Map<String, Value>,
    date: &str,
    segments: &mut BTreeMap<String, StepSums>,
) -> Result<Vec<RawStep>, Why> {
    let mut overall = None;
    let mut summed = StepSums::default();
    for (segment, steps) in entry {
        // Non-step members (an `analysis` object, say) are not segments.
        if !steps.is_array() {
            continue;
        }
        let steps = steps_of(steps, &format!("{date}, segment {segment:?}"))?;
        if segment == OVERALL {
            overall = Some(steps);
        } else {
            summed.add(&steps);
            segments.entry(segment.clone()).or_default().add(&steps);
        }
    }
    Ok(overall.unwrap_or_else(|| {
        summed
            .0
            .into_iter()
            .map(|s| RawStep {
                event: s.event,
                count: s.count,
                avg_time: s.time.mean(),
                avg_time_from_start: s.time_from_start.mean(),
            })
            .collect()
    }))
}

fn steps_of(value: &Value, context: &str) -> Result<Vec<RawStep>, Why> {
    array(value, &format!("the steps of {context}"))?
        .iter()
        .enumerate()
        .map(|(i, step)| {
            let what = format!("step {} of {context}", i + 1);
            let fields = object(step, &what)?;
            let event = ["step_label", "event", "goal"]
                .iter()
                .find_map(|key| text(fields.get(*key)).filter(|s| !s.is_empty()))
                .unwrap_or_else(|| format!("step {}", i + 1));
            let count = count(fields.get("count"), &format!("the count of {what}"))?
                .ok_or_else(|| format!("{what} has no count"))?;
            Ok(RawStep {
                event,
                count,
                avg_time: number(fields.get("avg_time"), "avg_time")?,
                avg_time_from_start: number(
                    fields.get("avg_time_from_start"),
                    "avg_time_from_start",
                )?,
            })
        })
        .collect()
}

#[cfg(test)]
#[path = "parse_funnel_tests.rs"]
mod tests;
