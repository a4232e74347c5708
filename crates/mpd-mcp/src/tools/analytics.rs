//! Mixpanel's reports, answered from the store when it holds every day asked for (no request
//! spent) and by the live Query API otherwise; every answer says which answered and why.
//! Discovery (event names, properties, values) asks Mixpanel.

use mpd_service::DateSpan;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::{ErrorData, tool, tool_router};
use serde::Serialize;
use serde_json::Value;

use super::{bad_argument, failure, success};
use crate::args::{
    EventCountsArgs, FunnelArgs, PropertiesArgs, PropertyValuesArgs, RetentionArgs,
    SegmentationArgs,
};
use crate::render::{self, Bounds};
use crate::server::MpdServer;

/// Which source answers a report, and the sentence that says why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answerer {
    Store(String),
    Mixpanel(String),
}

const LIVE_COST: &str = "one of the project's 60 Query API requests this hour";

#[tool_router(router = analytics_tools, vis = "pub(crate)")]
impl MpdServer {
    /// One event over time.
    #[tool(
        description = "Counts of one event per time bucket, optionally split by a property (Mixpanel's segmentation). Answered from the store when it holds every day of the range (no request spent), else by Mixpanel (one Query API request); local=true/false forces the choice. The answer says which answered.",
        annotations(read_only_hint = true)
    )]
    async fn segmentation(
        &self,
        Parameters(args): Parameters<SegmentationArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let query = match args.query() {
            Ok(query) => query,
            Err(bad) => return Ok(bad_argument(bad.0)),
        };
        let ws = &self.workspace;
        let (store, live) = (ws.local_segmentation(&query), ws.segmentation(&query));
        Ok(self.answered(args.source.local, query.span, store, live).await)
    }

    /// Several events over time.
    #[tool(
        description = "Counts of several events per time bucket (Mixpanel's event counts). From the store when it holds the range, else one Query API request; local forces the choice.",
        annotations(read_only_hint = true)
    )]
    async fn event_counts(
        &self,
        Parameters(args): Parameters<EventCountsArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let query = match args.query() {
            Ok(query) => query,
            Err(bad) => return Ok(bad_argument(bad.0)),
        };
        let ws = &self.workspace;
        let (store, live) = (ws.local_event_counts(&query), ws.event_counts(&query));
        Ok(self.answered(args.source.local, query.span, store, live).await)
    }

    /// A funnel's conversion.
    #[tool(
        description = "Conversion through a funnel: give steps (event names in order) to compute it from the store with Mixpanel's rules, or funnel_id of a saved funnel to ask Mixpanel (one Query API request).",
        annotations(read_only_hint = true)
    )]
    async fn funnel(
        &self,
        Parameters(args): Parameters<FunnelArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let query = match args.query() {
            Ok(query) => query,
            Err(bad) => return Ok(bad_argument(bad.0)),
        };
        let ws = &self.workspace;
        let wants_live = args.source.local == Some(false) || query.steps.is_empty();
        if wants_live {
            if query.funnel_id.is_none() {
                return Ok(bad_argument(
                    "Mixpanel answers saved funnels only: give funnel_id, or leave local unset \
                     to compute the steps from the store",
                ));
            }
            let why = format!(
                "Mixpanel's Query API answered ({LIVE_COST}): a saved funnel was asked for"
            );
            return Ok(report(why, ws.funnel(&query).await));
        }
        match self.answerer(args.source.local, query.span).await {
            Answerer::Store(why) => Ok(report(why, ws.local_funnel(&query).await)),
            Answerer::Mixpanel(why) if query.funnel_id.is_some() => {
                Ok(report(why, ws.funnel(&query).await))
            }
            Answerer::Mixpanel(why) => Ok(bad_argument(format!(
                "{why}; but Mixpanel computes only saved funnels: sync those days, pass \
                 local=true to use what the store has, or give a saved funnel_id"
            ))),
        }
    }

    /// Cohort retention.
    #[tool(
        description = "Retention of cohorts born on born_event (birth or compounded), per day, week or month. From the store when it holds the range, else one Query API request; local forces the choice.",
        annotations(read_only_hint = true)
    )]
    async fn retention(
        &self,
        Parameters(args): Parameters<RetentionArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let query = match args.query() {
            Ok(query) => query,
            Err(bad) => return Ok(bad_argument(bad.0)),
        };
        let ws = &self.workspace;
        let (store, live) = (ws.local_retention(&query), ws.retention(&query));
        Ok(self.answered(args.source.local, query.span, store, live).await)
    }

    /// Event names.
    #[tool(
        description = "The project's event names, most common in the last 31 days first (asks Mixpanel: one Query API request, cached for the session). For what the store holds, use sql: SELECT event_name, count(*) FROM events GROUP BY 1.",
        annotations(read_only_hint = true)
    )]
    async fn list_events(&self) -> Result<CallToolResult, ErrorData> {
        Ok(match self.workspace.list_events().await {
            Ok(names) => json_answer(&names),
            Err(error) => failure(&error),
        })
    }

    /// Properties of an event.
    #[tool(
        description = "The properties seen on an event and how often, most frequent first (asks Mixpanel: one Query API request, cached). describe_table shows the keys the store holds.",
        annotations(read_only_hint = true)
    )]
    async fn list_properties(
        &self,
        Parameters(args): Parameters<PropertiesArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(match self.workspace.list_properties(&args.event).await {
            Ok(properties) => json_answer(&properties),
            Err(error) => failure(&error),
        })
    }

    /// Values of a property.
    #[tool(
        description = "Values of a property (on one event if given), most frequent first (asks Mixpanel: one Query API request, cached).",
        annotations(read_only_hint = true)
    )]
    async fn list_property_values(
        &self,
        Parameters(args): Parameters<PropertyValuesArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let limit = args.limit.unwrap_or(50).clamp(1, 1000);
        let answer =
            self.workspace.list_property_values(&args.property, args.event.as_deref(), limit).await;
        Ok(match answer {
            Ok(values) => json_answer(&values),
            Err(error) => failure(&error),
        })
    }
}

impl MpdServer {
    /// The answer of `from_store` or of `from_mixpanel` (futures do nothing until awaited, so
    /// only the chosen one runs), after the line saying which answered and why.
    async fn answered<T: Serialize>(
        &self,
        local: Option<bool>,
        span: DateSpan,
        from_store: impl Future<Output = mpd_service::Result<T>>,
        from_mixpanel: impl Future<Output = mpd_service::Result<T>>,
    ) -> CallToolResult {
        match self.answerer(local, span).await {
            Answerer::Store(why) => report(why, from_store.await),
            Answerer::Mixpanel(why) => report(why, from_mixpanel.await),
        }
    }

    /// The store when asked for or when its events table holds every day of `span`, else
    /// Mixpanel.
    pub(crate) async fn answerer(&self, local: Option<bool>, span: DateSpan) -> Answerer {
        match local {
            Some(true) => {
                return Answerer::Store(
                    "answered from the store, as asked (no Mixpanel request)".into(),
                );
            }
            Some(false) => {
                return Answerer::Mixpanel(format!(
                    "Mixpanel's Query API answered, as asked ({LIVE_COST})"
                ));
            }
            None => {}
        }
        let days = match self.days_of("events").await {
            Ok((Some(first), Some(last))) => (first, last),
            _ => {
                return Answerer::Mixpanel(format!(
                    "Mixpanel's Query API answered ({LIVE_COST}): the store holds no events"
                ));
            }
        };
        let (from, to) = (span.from.to_string(), span.to.to_string());
        // `YYYY-MM-DD` strings order as the days do.
        if days.0 <= from && to <= days.1 {
            Answerer::Store(format!(
                "answered from the store, which holds {} to {} (no Mixpanel request)",
                days.0, days.1
            ))
        } else {
            Answerer::Mixpanel(format!(
                "Mixpanel's Query API answered ({LIVE_COST}): the store holds {} to {}, not all of \
                 {from} to {to}",
                days.0, days.1
            ))
        }
    }
}

fn report<T: Serialize>(why: String, answer: mpd_service::Result<T>) -> CallToolResult {
    match answer {
        Ok(result) => {
            let value = serde_json::to_value(&result).unwrap_or(Value::Null);
            success(format!("{why}\n{}", render::json(&value, Bounds::default())))
        }
        Err(error) => {
            let mut result = failure(&error);
            result.content.insert(0, rmcp::model::ContentBlock::text(why));
            result
        }
    }
}

fn json_answer<T: Serialize>(value: &T) -> CallToolResult {
    let value = serde_json::to_value(value).unwrap_or(Value::Null);
    success(render::json(&value, Bounds::default()))
}
