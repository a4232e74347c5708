//! Mixpanel's reports, answered from the store when it holds every day asked for (no request
//! spent) and by the live Query API otherwise; every answer says which answered and why.
//! Discovery (event names, properties, values) asks Mixpanel.

use mpd_service::{DateSpan, EventsCoverage};
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
        if args.source.local == Some(true) && query.steps.is_empty() {
            return Ok(bad_argument(
                "the store computes funnels from their steps: give steps with local=true \
                 (a saved funnel_id is answered by Mixpanel)",
            ));
        }
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
        let answerer = match self.answerer(args.source.local, query.span).await {
            Ok(answerer) => answerer,
            Err(error) => return Ok(failure(&error)),
        };
        match answerer {
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
            Ok(Answerer::Store(why)) => report(why, from_store.await),
            Ok(Answerer::Mixpanel(why)) => report(why, from_mixpanel.await),
            Err(error) => failure(&error),
        }
    }

    /// The store when asked for, or when it holds every day of `span` completely; else
    /// Mixpanel.
    pub(crate) async fn answerer(
        &self,
        local: Option<bool>,
        span: DateSpan,
    ) -> mpd_service::Result<Answerer> {
        Ok(match local {
            Some(true) => {
                Answerer::Store("answered from the store, as asked (no Mixpanel request)".into())
            }
            Some(false) => {
                Answerer::Mixpanel(format!("Mixpanel's Query API answered, as asked ({LIVE_COST})"))
            }
            None => {
                let coverage = self.workspace.events_coverage().await?;
                let utc = self.workspace.settings().project_timezone.is_some();
                choose(&coverage, span, utc)
            }
        })
    }
}

/// The store answers when its events hold every day of `span` and the sync completed them
/// (the cursor; without one, the last stored day counts as incomplete); Mixpanel otherwise.
fn choose(coverage: &EventsCoverage, span: DateSpan, utc_days: bool) -> Answerer {
    let live = |why: String| {
        Answerer::Mixpanel(format!("Mixpanel's Query API answered ({LIVE_COST}): {why}"))
    };
    let (Some(first), Some(last)) = (coverage.days.first(), coverage.days.last()) else {
        return live("the store holds no events".to_owned());
    };
    let complete_through = coverage.cursor.unwrap_or_else(|| last.pred_opt().unwrap_or(*last));
    if span.to > complete_through {
        return live(format!(
            "the store is complete through {complete_through}, and the range ends {}",
            span.to
        ));
    }
    if let Some(missing) =
        span.from.iter_days().take_while(|d| *d <= span.to).find(|d| !coverage.days.contains(d))
    {
        return live(format!(
            "the store holds {first} to {last} but no events of {missing} (never synced?)"
        ));
    }
    let days = if utc_days { " (the store's days are UTC days)" } else { "" };
    Answerer::Store(format!(
        "answered from the store, which holds every day of {} to {}, complete through \
         {complete_through}{days} (no Mixpanel request)",
        span.from, span.to
    ))
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

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn day(d: &str) -> NaiveDate {
        d.parse().unwrap()
    }

    fn coverage(cursor: Option<&str>, days: &[&str]) -> EventsCoverage {
        EventsCoverage { cursor: cursor.map(day), days: days.iter().map(|d| day(d)).collect() }
    }

    fn span(from: &str, to: &str) -> DateSpan {
        DateSpan { from: day(from), to: day(to) }
    }

    fn store_answers(answerer: &Answerer) -> bool {
        matches!(answerer, Answerer::Store(_))
    }

    #[test]
    fn the_store_answers_only_complete_days_it_holds_every_one_of() {
        let days = ["2024-03-01", "2024-03-02", "2024-03-03", "2024-03-04"];
        let synced = coverage(Some("2024-03-03"), &days);
        assert!(store_answers(&choose(&synced, span("2024-03-01", "2024-03-03"), false)));
        // The last stored day is past the cursor: still receiving events.
        let Answerer::Mixpanel(why) = choose(&synced, span("2024-03-02", "2024-03-04"), false)
        else {
            panic!("an incomplete day must go to Mixpanel");
        };
        assert!(
            why.ends_with(
                "the store is complete through 2024-03-03, and the range ends 2024-03-04"
            ),
            "{why}"
        );
        // A gap (a backfill far from the synced days) is not the store's to answer.
        let gap = coverage(Some("2024-03-04"), &["2024-02-01", "2024-03-03", "2024-03-04"]);
        let Answerer::Mixpanel(why) = choose(&gap, span("2024-02-01", "2024-03-04"), false) else {
            panic!("a missing day must go to Mixpanel");
        };
        assert!(why.contains("no events of 2024-02-02"), "{why}");
        // Without a cursor the last stored day counts as incomplete.
        let fetched = coverage(None, &days);
        assert!(store_answers(&choose(&fetched, span("2024-03-01", "2024-03-03"), false)));
        assert!(!store_answers(&choose(&fetched, span("2024-03-01", "2024-03-04"), false)));
        assert!(!store_answers(&choose(
            &EventsCoverage::default(),
            span("2024-03-01", "2024-03-01"),
            false
        )));
        let Answerer::Store(why) = choose(&synced, span("2024-03-01", "2024-03-01"), true) else {
            panic!("a held day is the store's");
        };
        assert!(why.contains("(the store's days are UTC days)"), "{why}");
    }
}
