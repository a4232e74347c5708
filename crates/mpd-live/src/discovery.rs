//! Schema discovery (event names, properties, values, funnels, cohorts, top events), cached
//! for as long as the caller keeps its [`DiscoveryCache`] because every call spends one of the project's hourly
//! queries and the answers rarely change.

mod cache;
mod parse;
mod suggest;

pub use cache::DiscoveryCache;

use crate::LiveApi;
use crate::error::{Error, Result};
use crate::queries::params::{Params, check_limit, check_name};
use crate::request::CountType;
use crate::result::{CohortInfo, FunnelInfo, PropertyCount, TopEvent};
use crate::wire::unreadable;

const EVENT_NAMES: &str = "events/names";
const PROPERTIES_TOP: &str = "events/properties/top";
const PROPERTY_VALUES: &str = "events/properties/values";
const FUNNELS_LIST: &str = "funnels/list";
const COHORTS_LIST: &str = "cohorts/list";
const EVENTS_TOP: &str = "events/top";

impl LiveApi<'_> {
    /// The project's event names, most common in the last 31 days first (cached).
    pub async fn list_events(&self) -> Result<Vec<String>> {
        if let Some(hit) = self.discovery.get(|e| e.events.as_ref()) {
            return Ok(hit);
        }
        let mut params = Params::default();
        params.push("type", CountType::General.as_str());
        let answer = self.live_get(EVENT_NAMES, params.pairs()).await?;
        let names = parse::event_names(&answer).map_err(|why| unreadable(EVENT_NAMES, why))?;
        self.discovery.put(|e| e.events = Some(names.clone()));
        Ok(names)
    }

    /// The properties seen on `event` and how often, most frequent first (cached per event).
    /// An unknown event is [`Error::EventNotFound`] with the closest known names.
    pub async fn list_properties(&self, event: &str) -> Result<Vec<PropertyCount>> {
        check_name("the event", event)?;
        if let Some(hit) = self.discovery.get(|e| e.properties.get(event)) {
            return Ok(hit);
        }
        let mut params = Params::default();
        params.push("event", event);
        let answer = match self.live_get(PROPERTIES_TOP, params.pairs()).await {
            Ok(answer) => answer,
            Err(error) => return Err(self.explain_refusal(event, error).await),
        };
        let properties =
            parse::properties(&answer).map_err(|why| unreadable(PROPERTIES_TOP, why))?;
        if properties.is_empty() {
            self.ensure_event_known(event).await?;
        }
        self.discovery.put(|e| {
            e.properties.insert(event.to_owned(), properties.clone());
        });
        Ok(properties)
    }

    /// Values of `property` (on `event` if given), most frequent first, at most `limit`
    /// (cached per property, event and limit).
    pub async fn list_property_values(
        &self,
        property: &str,
        event: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>> {
        check_name("the property", property)?;
        if let Some(event) = event {
            check_name("the event", event)?;
        }
        check_limit("--limit", limit)?;
        let key = (property.to_owned(), event.map(str::to_owned), limit);
        if let Some(hit) = self.discovery.get(|e| e.values.get(&key)) {
            return Ok(hit);
        }
        let mut params = Params::default();
        params.push("name", property).push("limit", limit.to_string()).push_opt("event", event);
        let answer = match (self.live_get(PROPERTY_VALUES, params.pairs()).await, event) {
            (Ok(answer), _) => answer,
            (Err(error), Some(event)) => return Err(self.explain_refusal(event, error).await),
            (Err(error), None) => return Err(error),
        };
        let values =
            parse::property_values(&answer).map_err(|why| unreadable(PROPERTY_VALUES, why))?;
        if let (true, Some(event)) = (values.is_empty(), event) {
            self.ensure_event_known(event).await?;
        }
        self.discovery.put(|e| {
            e.values.insert(key, values.clone());
        });
        Ok(values)
    }

    /// The project's saved funnels (cached).
    pub async fn list_funnels(&self) -> Result<Vec<FunnelInfo>> {
        if let Some(hit) = self.discovery.get(|e| e.funnels.as_ref()) {
            return Ok(hit);
        }
        let answer = self.live_get(FUNNELS_LIST, &[]).await?;
        let funnels = parse::funnels(&answer).map_err(|why| unreadable(FUNNELS_LIST, why))?;
        self.discovery.put(|e| e.funnels = Some(funnels.clone()));
        Ok(funnels)
    }

    /// The project's saved cohorts (cached).
    pub async fn list_cohorts(&self) -> Result<Vec<CohortInfo>> {
        if let Some(hit) = self.discovery.get(|e| e.cohorts.as_ref()) {
            return Ok(hit);
        }
        // Mixpanel documents POST; some clients use GET, the mock accepts both.
        let answer = self.live_post(COHORTS_LIST, &[]).await?;
        let cohorts = parse::cohorts(&answer).map_err(|why| unreadable(COHORTS_LIST, why))?;
        self.discovery.put(|e| e.cohorts = Some(cohorts.clone()));
        Ok(cohorts)
    }

    /// Today's most frequent events, largest first (never cached: it changes all day).
    pub async fn top_events(&self, count_type: CountType, limit: u32) -> Result<Vec<TopEvent>> {
        check_limit("--limit", limit)?;
        let mut params = Params::default();
        params.push("type", count_type.as_str()).push("limit", limit.to_string());
        let answer = self.live_get(EVENTS_TOP, params.pairs()).await?;
        parse::top_events(&answer).map_err(|why| unreadable(EVENTS_TOP, why))
    }

    /// Mixpanel answers 400 for an event it does not know: if the event list agrees, say so
    /// with suggestions; otherwise the 400 was about something else and is kept.
    async fn explain_refusal(&self, event: &str, error: Error) -> Error {
        let refused = matches!(&error, Error::Api(api)
            if api.class() == mpd_api::ErrorClass::InvalidRequest);
        if !refused {
            return error;
        }
        match self.list_events().await {
            Ok(known) if !known.iter().any(|k| k == event) => self.event_not_found(event, &known),
            Ok(_) => error,
            Err(list_error) => {
                tracing::debug!(%list_error, "cannot list events to explain a refusal");
                error
            }
        }
    }

    /// An empty answer is only trusted for an event the project has.
    async fn ensure_event_known(&self, event: &str) -> Result<()> {
        match self.list_events().await {
            Ok(known) if !known.iter().any(|k| k == event) => {
                Err(self.event_not_found(event, &known))
            }
            Ok(_) => Ok(()),
            Err(list_error) => {
                tracing::warn!(%list_error, event, "cannot check that the event exists");
                Ok(())
            }
        }
    }

    fn event_not_found(&self, event: &str, known: &[String]) -> Error {
        Error::EventNotFound {
            event: event.to_owned(),
            project_id: self.project_id,
            suggestions: suggest::suggest(event, known),
        }
    }
}
