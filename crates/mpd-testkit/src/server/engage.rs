//! `/api/2.0/engage` and `/api/query/engage`: profile queries with session paging.

use std::collections::HashSet;
use std::sync::atomic::Ordering;

use http::StatusCode;
use serde_json::{Map, Value, json};

use super::export::transient_reply;
use super::faults::Target;
use super::request::{Ctx, json_response};
use super::{Reply, State};
use crate::filter::WhereExpr;
use crate::prng::hash;
use crate::project::lock;

#[derive(Debug)]
struct EngageParams {
    page: usize,
    page_size: usize,
    session_id: Option<String>,
    distinct_ids: Option<HashSet<String>>,
    output_properties: Option<Vec<String>>,
    where_expr: Option<WhereExpr>,
    cohort: Option<i64>,
    groups: bool,
}

pub(crate) fn handle(state: &State, ctx: &Ctx) -> Reply {
    if let Err(response) = ctx.authorize(state) {
        return (*response).into();
    }
    let params = match parse_params(ctx, state) {
        Ok(p) => p,
        Err(msg) => return ctx.error(StatusCode::BAD_REQUEST, &msg).into(),
    };
    if let Some(t) = lock(&state.faults).take_transient(&[Target::Engage]) {
        return transient_reply(state, ctx, t);
    }
    let project = &state.project;
    let candidates: Vec<&Value> = if params.groups {
        project.group_profile_values().iter().collect()
    } else {
        project
            .user_profiles()
            .iter()
            .filter(|p| params.cohort.is_none_or(|id| project.in_cohort(p.user, id)))
            .map(|p| &p.value)
            .collect()
    };
    let matching: Vec<&Value> = candidates
        .into_iter()
        .filter(|v| {
            params
                .distinct_ids
                .as_ref()
                .is_none_or(|ids| v["$distinct_id"].as_str().is_some_and(|id| ids.contains(id)))
        })
        .filter(|v| {
            params.where_expr.as_ref().is_none_or(|expr| {
                v["$properties"].as_object().is_some_and(|props| expr.matches(props))
            })
        })
        .collect();
    let results: Vec<Value> = matching
        .iter()
        .skip(params.page.saturating_mul(params.page_size))
        .take(params.page_size)
        .map(|v| project_output(v, params.output_properties.as_deref()))
        .collect();
    let session_id = params.session_id.clone().unwrap_or_else(|| new_session(state));
    let mut body = json!({
        "page": params.page,
        "page_size": params.page_size,
        "session_id": session_id,
        "status": "ok",
        "results": results,
    });
    if params.page == 0 {
        body["total"] = json!(matching.len());
    }
    json_response(StatusCode::OK, &body).into()
}

fn new_session(state: &State) -> String {
    let n = state.next_session.fetch_add(1, Ordering::Relaxed);
    let id = format!("{:010}-MOCK{n:04}", hash(&[state.config.seed, n]) % 10_000_000_000);
    lock(&state.sessions).insert(id.clone());
    id
}

fn project_output(profile: &Value, keep: Option<&[String]>) -> Value {
    let Some(keep) = keep else {
        return profile.clone();
    };
    let props: Map<String, Value> = profile["$properties"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| keep.contains(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    json!({"$distinct_id": profile["$distinct_id"], "$properties": props})
}

fn parse_params(ctx: &Ctx, state: &State) -> Result<EngageParams, String> {
    let number = |name: &str| -> Result<Option<usize>, String> {
        ctx.param(name)
            .map(|raw| {
                raw.parse::<usize>()
                    .map_err(|_| format!("'{name}' must be a non-negative integer, got {raw:?}"))
            })
            .transpose()
    };
    let page = number("page")?.unwrap_or(0);
    let page_size = number("page_size")?.unwrap_or(state.config.engage_page_size as usize);
    if page_size == 0 {
        return Err("'page_size' must be at least 1".to_owned());
    }
    let session_id = ctx.param("session_id").filter(|s| !s.is_empty()).map(str::to_owned);
    match &session_id {
        None if page > 0 => {
            return Err("'session_id' is required when 'page' is greater than 0".to_owned());
        }
        Some(id) if !lock(&state.sessions).contains(id) => {
            return Err(format!("unknown or expired session_id {id:?}"));
        }
        _ => {}
    }
    let mut distinct_ids: Option<HashSet<String>> =
        ctx.param("distinct_id").map(|id| HashSet::from([id.to_owned()]));
    if let Some(raw) = ctx.param("distinct_ids") {
        let ids: Vec<Value> = serde_json::from_str(raw)
            .map_err(|_| format!("'distinct_ids' must be a JSON array, got {raw:?}"))?;
        let set = distinct_ids.get_or_insert_with(HashSet::new);
        for id in ids {
            set.insert(match id {
                Value::String(s) => s,
                other => other.to_string(),
            });
        }
    }
    let output_properties = ctx
        .param("output_properties")
        .map(|raw| {
            serde_json::from_str::<Vec<String>>(raw).map_err(|_| {
                format!("'output_properties' must be a JSON array of names, got {raw:?}")
            })
        })
        .transpose()?;
    let where_expr = ctx
        .param("where")
        .map(|raw| WhereExpr::parse(raw).map_err(|e| format!("invalid 'where': {e}")))
        .transpose()?;
    let cohort = ctx.param("filter_by_cohort").map(parse_cohort).transpose()?;
    Ok(EngageParams {
        page,
        page_size,
        session_id,
        distinct_ids,
        output_properties,
        where_expr,
        cohort,
        groups: ctx.param("data_group_id").is_some_and(|g| !g.is_empty()),
    })
}

fn parse_cohort(raw: &str) -> Result<i64, String> {
    let err = || format!("'filter_by_cohort' must look like {{\"id\": 123}}, got {raw:?}");
    let v: Value = serde_json::from_str(raw).map_err(|_| err())?;
    match &v["id"] {
        Value::Number(n) => n.as_i64().ok_or_else(err),
        Value::String(s) => s.parse().map_err(|_| err()),
        _ => Err(err()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cohort_parameter_forms() {
        assert_eq!(parse_cohort(r#"{"id": 12}"#), Ok(12));
        assert_eq!(parse_cohort(r#"{"id": "12"}"#), Ok(12));
        assert!(parse_cohort(r#"{"raw_cohort": {}}"#).is_err());
        assert!(parse_cohort("12").is_err());
    }

    #[test]
    fn output_properties_keep_only_named_keys() {
        let p = json!({"$distinct_id": "u", "$properties": {"$email": "e", "plan": "pro", "x": 1}});
        let out = project_output(&p, Some(&["plan".to_owned(), "nope".to_owned()]));
        assert_eq!(out, json!({"$distinct_id": "u", "$properties": {"plan": "pro"}}));
        assert_eq!(project_output(&p, None), p);
    }
}
