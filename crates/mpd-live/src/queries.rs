//! Live queries through the Query API and the tolerant parsing of their answers. Each
//! request is checked before it is sent (a refused request still costs one of the
//! project's hourly queries), and answers come back typed with `source: live`.

pub(crate) mod params;
mod parse_activity;
mod parse_cohorts;
mod parse_flows;
mod parse_funnel;
mod parse_report;
pub(crate) mod parse_series;

use crate::LiveApi;
use crate::error::Result;
use crate::request::{
    ActivityQuery, EventCountsQuery, FlowsView, FrequencyQuery, FunnelQuery, MetricQuery,
    PropertyCountsQuery, RetentionQuery, SegmentationQuery,
};
use crate::result::{
    ActivityFeed, EventCountsResult, FlowsResult, FrequencyResult, FunnelResult, Metric,
    MetricResult, PropertyCountsResult, RetentionResult, SavedReport, SegmentationResult, Source,
};
use crate::wire::{not_found_as, unreadable};

const SEGMENTATION: &str = "segmentation";
const SEGMENTATION_NUMERIC: &str = "segmentation/numeric";
const EVENTS: &str = "events";
const EVENT_PROPERTIES: &str = "events/properties";
const FUNNELS: &str = "funnels";
const RETENTION: &str = "retention";
const FREQUENCY: &str = "retention/addiction";
const STREAM: &str = "stream/query";
const INSIGHTS: &str = "insights";
const FLOWS: &str = "arb_funnels";

impl LiveApi<'_> {
    /// One event over time, optionally split by a property (`/segmentation`).
    pub async fn segmentation(&self, q: &SegmentationQuery) -> Result<SegmentationResult> {
        let params = params::segmentation(q)?;
        let answer = self.live_get(SEGMENTATION, params.pairs()).await?;
        let series =
            parse_series::values_answer(&answer).map_err(|why| unreadable(SEGMENTATION, why))?;
        Ok(SegmentationResult::answer(Source::Live, q, series))
    }

    /// How often a numeric property fell into each range (`/segmentation/numeric`).
    pub async fn segmentation_numeric(&self, q: &SegmentationQuery) -> Result<SegmentationResult> {
        let params = params::segmentation_numeric(q)?;
        let answer = self.live_get(SEGMENTATION_NUMERIC, params.pairs()).await?;
        let series = parse_series::values_answer(&answer)
            .map_err(|why| unreadable(SEGMENTATION_NUMERIC, why))?;
        Ok(SegmentationResult::answer(Source::Live, q, series))
    }

    /// Sum or mean of a numeric property per bucket (`/segmentation/sum`, `/average`).
    pub async fn segmentation_metric(
        &self,
        metric: Metric,
        q: &MetricQuery,
    ) -> Result<MetricResult> {
        let endpoint = match metric {
            Metric::Sum => "segmentation/sum",
            Metric::Average => "segmentation/average",
        };
        let params = params::metric(q)?;
        let answer = self.live_get(endpoint, params.pairs()).await?;
        let series = parse_series::results_answer(&answer, &q.on)
            .map_err(|why| unreadable(endpoint, why))?;
        Ok(MetricResult {
            source: Source::Live,
            metric,
            event: q.event.clone(),
            on: q.on.clone(),
            span: q.span,
            unit: q.unit,
            series,
        })
    }

    /// Several events over time (`/events`).
    pub async fn event_counts(&self, q: &EventCountsQuery) -> Result<EventCountsResult> {
        let params = params::event_counts(q)?;
        let answer = self.live_get(EVENTS, params.pairs()).await?;
        let series = parse_series::values_answer(&answer).map_err(|why| unreadable(EVENTS, why))?;
        Ok(EventCountsResult::answer(Source::Live, q, series))
    }

    /// One event over time, split by the values of a property (`/events/properties`).
    pub async fn property_counts(&self, q: &PropertyCountsQuery) -> Result<PropertyCountsResult> {
        let params = params::property_counts(q)?;
        let answer = self.live_get(EVENT_PROPERTIES, params.pairs()).await?;
        let series = parse_series::values_answer(&answer)
            .map_err(|why| unreadable(EVENT_PROPERTIES, why))?;
        Ok(PropertyCountsResult {
            source: Source::Live,
            event: q.event.clone(),
            property: q.property.clone(),
            span: q.span,
            unit: q.unit,
            count_type: q.count_type,
            total: series.total(),
            series,
        })
    }

    /// A saved funnel over a range (`/funnels`); needs `q.funnel_id`. Step counts are summed
    /// over the entry buckets and ratios recomputed. The name is filled in only when the
    /// funnel list is already cached (no extra request is spent on it).
    pub async fn funnel(&self, q: &FunnelQuery) -> Result<FunnelResult> {
        let params = params::funnel(q)?;
        let funnel_id = q.funnel_id;
        let answer = self
            .live_get(FUNNELS, params.pairs())
            .await
            .map_err(|e| not_found_as(e, || format!("funnel {}", funnel_id.unwrap_or_default())))?;
        let parsed =
            parse_funnel::funnel_answer(&answer).map_err(|why| unreadable(FUNNELS, why))?;
        Ok(FunnelResult {
            source: Source::Live,
            funnel_id,
            name: funnel_id.and_then(|id| self.discovery.funnel_name(id)),
            span: q.span,
            window: q.window,
            steps: parsed.steps,
            buckets: parsed.buckets,
            segments: parsed.segments,
        })
    }

    /// Users born in each bucket and how many came back per interval (`/retention`).
    pub async fn retention(&self, q: &RetentionQuery) -> Result<RetentionResult> {
        let params = params::retention(q)?;
        let answer = self.live_get(RETENTION, params.pairs()).await?;
        let cohorts =
            parse_cohorts::retention_answer(&answer).map_err(|why| unreadable(RETENTION, why))?;
        Ok(RetentionResult::answer(Source::Live, q, cohorts))
    }

    /// How many users did an event in at least N distinct hours/days of each bucket
    /// (`/retention/addiction`).
    pub async fn frequency(&self, q: &FrequencyQuery) -> Result<FrequencyResult> {
        let params = params::frequency(q)?;
        let answer = self.live_get(FREQUENCY, params.pairs()).await?;
        let rows =
            parse_cohorts::frequency_answer(&answer).map_err(|why| unreadable(FREQUENCY, why))?;
        Ok(FrequencyResult {
            event: q.event.clone(),
            span: q.span,
            unit: q.unit,
            addiction_unit: q.addiction_unit,
            rows,
        })
    }

    /// Every event of some users, oldest first (`/stream/query`).
    pub async fn activity_feed(&self, q: &ActivityQuery) -> Result<ActivityFeed> {
        let params = params::activity(q)?;
        let answer = self.live_get(STREAM, params.pairs()).await?;
        let events =
            parse_activity::activity_answer(&answer).map_err(|why| unreadable(STREAM, why))?;
        Ok(ActivityFeed { distinct_ids: q.distinct_ids.clone(), span: q.span, events })
    }

    /// A saved Insights report (`/insights?bookmark_id=`).
    pub async fn saved_report(&self, bookmark_id: u64) -> Result<SavedReport> {
        let params = [("bookmark_id", bookmark_id.to_string())];
        let answer = self
            .live_get(INSIGHTS, &params)
            .await
            .map_err(|e| not_found_as(e, || format!("saved report {bookmark_id}")))?;
        let report =
            parse_report::insights_answer(&answer).map_err(|why| unreadable(INSIGHTS, why))?;
        Ok(SavedReport {
            bookmark_id,
            computed_at: report.computed_at,
            from: report.from,
            to: report.to,
            headers: report.headers,
            series: report.series,
            series_info: report.series_info,
            secondary: report.secondary,
            other_values: report.other_values,
        })
    }

    /// A saved Flows report (`/arb_funnels?bookmark_id=&query_type=flows_sankey` or
    /// `flows_top_paths`, an undocumented endpoint). A report answers in its own shape
    /// whatever view was asked for, so either shape is read.
    pub async fn flows(&self, bookmark_id: u64, view: FlowsView) -> Result<FlowsResult> {
        let params = [
            ("bookmark_id", bookmark_id.to_string()),
            ("query_type", view.query_type().to_owned()),
        ];
        let answer = self
            .live_get(FLOWS, &params)
            .await
            .map_err(|e| not_found_as(e, || format!("saved flows report {bookmark_id}")))?;
        let flows = parse_flows::flows_answer(&answer).map_err(|why| unreadable(FLOWS, why))?;
        Ok(FlowsResult {
            bookmark_id,
            computed_at: flows.computed_at,
            steps: flows.steps,
            paths: flows.paths,
            paths_found: flows.paths_found,
            segments: flows.segments,
            overall_conversion_rate: flows.overall_conversion_rate,
        })
    }
}
