//! The `/__mock/` control endpoints other processes use to read the truth and the request
//! log, add late events, and switch re-keying and faults.

use bytes::Bytes;
use chrono::NaiveDate;
use http::{Response, StatusCode};
use serde_json::json;

use super::State;
use super::request::{Ctx, bytes_response, json_response};
use crate::Faults;
use crate::body::MockBody;
use crate::project::lock;

/// `GET /__mock/truth?from_date=..&to_date=..`: the fault-free JSONL of the range.
pub(crate) fn truth(state: &State, ctx: &Ctx) -> Response<MockBody> {
    let (from, to) = match (date_param(ctx, "from_date"), date_param(ctx, "to_date")) {
        (Ok(from), Ok(to)) => (from, to),
        (Err(msg), _) | (_, Err(msg)) => return ctx.error(StatusCode::BAD_REQUEST, &msg),
    };
    let mut body = Vec::new();
    for day in from.iter_days().take_while(|d| *d <= to) {
        body.extend_from_slice(&state.project.day_bytes(day));
    }
    bytes_response(StatusCode::OK, "text/plain; charset=utf-8", Bytes::from(body))
}

/// `GET /__mock/requests`: the request log as a JSON array.
pub(crate) fn requests(state: &State) -> Response<MockBody> {
    let log = lock(&state.log).clone();
    let value = serde_json::to_value(log).unwrap_or_default();
    json_response(StatusCode::OK, &value)
}

/// `POST /__mock/late?day=..&n=..`: adds late events, answers their JSONL.
pub(crate) fn late(state: &State, ctx: &Ctx) -> Response<MockBody> {
    let day = match date_param(ctx, "day") {
        Ok(day) => day,
        Err(msg) => return ctx.error(StatusCode::BAD_REQUEST, &msg),
    };
    let Some(n) = ctx.param("n").and_then(|n| n.parse::<u32>().ok()) else {
        return ctx.error(StatusCode::BAD_REQUEST, "'n' must be a non-negative integer");
    };
    let mut body = String::new();
    for line in state.project.add_late_events(day, n) {
        body.push_str(&line);
        body.push('\n');
    }
    bytes_response(StatusCode::OK, "text/plain; charset=utf-8", Bytes::from(body))
}

/// `POST /__mock/rekey?on=true|false`: switches identity re-keying, answers the new state.
pub(crate) fn rekey(state: &State, ctx: &Ctx) -> Response<MockBody> {
    let on = match ctx.param("on") {
        Some("true" | "1") => true,
        Some("false" | "0") => false,
        _ => return ctx.error(StatusCode::BAD_REQUEST, "'on' must be true or false"),
    };
    state.project.set_rekey_identified(on);
    json_response(StatusCode::OK, &json!({ "rekey_identified": on }))
}

/// `POST /__mock/faults` with a JSON [`Faults`] body (empty: none): replaces the faults and
/// resets their counters, answers the faults now in force.
pub(crate) fn faults(state: &State, ctx: &Ctx) -> Response<MockBody> {
    let faults = if ctx.body.iter().all(u8::is_ascii_whitespace) {
        Faults::default()
    } else {
        match serde_json::from_slice::<Faults>(&ctx.body) {
            Ok(faults) => faults,
            Err(e) => return ctx.error(StatusCode::BAD_REQUEST, &format!("invalid faults: {e}")),
        }
    };
    if let Some(rule) = &faults.http_status
        && !(400..=599).contains(&rule.status)
    {
        return ctx
            .error(StatusCode::BAD_REQUEST, "http_status.status must be between 400 and 599");
    }
    let answer = serde_json::to_value(&faults).unwrap_or_default();
    lock(&state.faults).set(faults);
    json_response(StatusCode::OK, &answer)
}

fn date_param(ctx: &Ctx, name: &str) -> Result<NaiveDate, String> {
    let raw = ctx.param(name).ok_or_else(|| format!("'{name}' is a required parameter"))?;
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map_err(|_| format!("'{name}' is not a valid date: {raw:?}"))
}
