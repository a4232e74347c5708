//! Engage (user and group profiles) with `session_id` paging.

use serde_json::Value;

use crate::client::Client;
use crate::error::{Error, Result};

/// Mixpanel's page size when the request does not name one.
const DEFAULT_PAGE_SIZE: usize = 1000;

/// Which profiles to read (`POST /api/2.0/engage`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngageRequest {
    /// Expression over profile properties (`where`).
    pub where_expr: Option<String>,
    /// Only members of this cohort (`filter_by_cohort`).
    pub cohort_id: Option<u64>,
    /// Only these properties (`output_properties`); empty means all.
    pub output_properties: Vec<String>,
    /// Only these profiles (`distinct_ids`); empty means all.
    pub distinct_ids: Vec<String>,
    /// Group profiles of this group key (`data_group_id`) instead of user profiles.
    pub group_id: Option<String>,
    /// Requested page size (not always honoured by Mixpanel).
    pub page_size: Option<u32>,
}

/// One page of profiles.
#[derive(Debug, Clone, PartialEq)]
pub struct EngagePage {
    /// 0-based page number.
    pub page: u32,
    /// Overall number of matching profiles, when the server sent it (usually page 0 only).
    pub total: Option<u64>,
    /// The raw profile objects: `{"$distinct_id": string-or-number, "$properties": {..}}`.
    pub results: Vec<Value>,
}

/// Walks the pages of one engage query.
#[derive(Debug)]
pub struct EngagePager {
    client: Client,
    form: Vec<(&'static str, String)>,
    next_page: u32,
    session_id: Option<String>,
    requested_page_size: Option<u32>,
    /// Page 0, fetched by [`Client::engage`] so that errors surface there.
    first: Option<EngagePage>,
    done: bool,
}

impl Client {
    /// Starts an engage query and fetches its first page.
    pub async fn engage(&self, request: &EngageRequest) -> Result<EngagePager> {
        let mut pager = EngagePager {
            client: self.clone(),
            form: engage_form(request),
            next_page: 0,
            session_id: None,
            requested_page_size: request.page_size,
            first: None,
            done: false,
        };
        pager.first = pager.fetch().await?;
        Ok(pager)
    }
}

impl EngagePager {
    /// The next page, or `None` after the last one. Page 0 goes without `session_id`, later
    /// pages repeat the filters with the `session_id` of the first response. Paging stops after
    /// a page shorter than the page size, an empty page, or a response without `session_id`.
    pub async fn next_page(&mut self) -> Result<Option<EngagePage>> {
        if let Some(first) = self.first.take() {
            return Ok(Some(first));
        }
        self.fetch().await
    }

    async fn fetch(&mut self) -> Result<Option<EngagePage>> {
        if self.done {
            return Ok(None);
        }
        let mut form = self.form.clone();
        form.push(("page", self.next_page.to_string()));
        if let Some(session_id) = &self.session_id {
            form.push(("session_id", session_id.clone()));
        }
        let url = self.client.inner.endpoints.engage()?;
        let value = self.client.post_form(url, &form).await?;
        let response = parse_response(&value, self.next_page).map_err(|reason| {
            Error::InvalidResponse { endpoint: "POST /api/2.0/engage".into(), reason }
        })?;
        let page_size = response
            .page_size
            .or(self.requested_page_size.map(|n| n as usize))
            .unwrap_or(DEFAULT_PAGE_SIZE);
        if response.session_id.is_some() {
            self.session_id = response.session_id;
        }
        self.done = response.page.results.is_empty()
            || response.page.results.len() < page_size
            || self.session_id.is_none();
        tracing::debug!(
            page = response.page.page,
            results = response.page.results.len(),
            last = self.done,
            "engage page"
        );
        self.next_page = response.page.page.saturating_add(1);
        Ok(Some(response.page))
    }
}

fn engage_form(request: &EngageRequest) -> Vec<(&'static str, String)> {
    let mut form = Vec::new();
    if let Some(expr) = &request.where_expr {
        form.push(("where", expr.clone()));
    }
    if let Some(id) = request.cohort_id {
        form.push(("filter_by_cohort", serde_json::json!({ "id": id }).to_string()));
    }
    if !request.output_properties.is_empty() {
        form.push((
            "output_properties",
            Value::from(request.output_properties.clone()).to_string(),
        ));
    }
    if !request.distinct_ids.is_empty() {
        form.push(("distinct_ids", Value::from(request.distinct_ids.clone()).to_string()));
    }
    if let Some(group) = &request.group_id {
        form.push(("data_group_id", group.clone()));
    }
    if let Some(size) = request.page_size {
        form.push(("page_size", size.to_string()));
    }
    form
}

struct Response {
    page: EngagePage,
    page_size: Option<usize>,
    session_id: Option<String>,
}

fn parse_response(value: &Value, requested_page: u32) -> Result<Response, String> {
    let Value::Object(map) = value else {
        return Err("expected a JSON object".to_owned());
    };
    let Some(Value::Array(results)) = map.get("results") else {
        return Err("the response has no \"results\" array".to_owned());
    };
    let page = map
        .get("page")
        .and_then(Value::as_u64)
        .and_then(|p| u32::try_from(p).ok())
        .unwrap_or(requested_page);
    let session_id = match map.get("session_id") {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    Ok(Response {
        page: EngagePage {
            page,
            total: map.get("total").and_then(Value::as_u64),
            results: results.clone(),
        },
        page_size: map
            .get("page_size")
            .and_then(Value::as_u64)
            .map(|n| n as usize)
            .filter(|&n| n > 0),
        session_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn form_encodes_filters_as_json() {
        let request = EngageRequest {
            where_expr: Some("properties[\"plan\"] == \"pro\"".to_owned()),
            cohort_id: Some(12),
            output_properties: vec!["$email".to_owned()],
            distinct_ids: vec!["a".to_owned(), "b".to_owned()],
            group_id: Some("-140".to_owned()),
            page_size: Some(250),
        };
        let form = engage_form(&request);
        let get = |key: &str| form.iter().find(|(k, _)| *k == key).map(|(_, v)| v.as_str());
        assert_eq!(get("where"), Some("properties[\"plan\"] == \"pro\""));
        assert_eq!(get("filter_by_cohort"), Some(r#"{"id":12}"#));
        assert_eq!(get("output_properties"), Some(r#"["$email"]"#));
        assert_eq!(get("distinct_ids"), Some(r#"["a","b"]"#));
        assert_eq!(get("data_group_id"), Some("-140"));
        assert_eq!(get("page_size"), Some("250"));
        assert!(engage_form(&EngageRequest::default()).is_empty());
    }

    #[test]
    fn parses_documented_response() {
        let value = json!({"page": 0, "page_size": 1000, "session_id": "1234-EX", "status": "ok",
            "total": 1, "results": [{"$distinct_id": 42, "$properties": {"$email": "a@b.c"}}]});
        let response = parse_response(&value, 0).expect("valid");
        assert_eq!(response.page.total, Some(1));
        assert_eq!(response.page.results.len(), 1);
        assert_eq!(response.page_size, Some(1000));
        assert_eq!(response.session_id.as_deref(), Some("1234-EX"));
    }

    #[test]
    fn tolerates_missing_optional_fields_and_refuses_missing_results() {
        let response = parse_response(&json!({"results": []}), 3).expect("valid");
        assert_eq!(response.page.page, 3);
        assert_eq!(response.page.total, None);
        assert_eq!(response.session_id, None);
        assert!(parse_response(&json!({"status": "ok"}), 0).is_err());
        assert!(parse_response(&json!([1, 2]), 0).is_err());
    }
}
