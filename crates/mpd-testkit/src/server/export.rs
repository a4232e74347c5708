//! `GET /api/2.0/export`: validated parameters, per-day bodies from the project cache, optional
//! filters, then faults, then a chunked (and maybe gzipped) stream.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderValue, Response, StatusCode};
use serde_json::Value;

use super::faults::{Target, Transient};
use super::request::Ctx;
use super::{Reply, State};
use crate::body::{self, MockBody, StreamPlan};
use crate::filter::WhereExpr;
use crate::project::{DayBuilder, DayData, lock};

/// Mixpanel's documented cap on `limit`.
const MAX_LIMIT: usize = 100_000;
/// Mixpanel gzips only bodies larger than this.
const GZIP_MIN_BYTES: usize = 1400;
const MALFORMED_LINE: &[u8] = br#"{"event":"Broken","properties":{"#;

/// Validated export parameters.
#[derive(Debug)]
pub(crate) struct ExportParams {
    from: NaiveDate,
    to: NaiveDate,
    events: Option<HashSet<String>>,
    where_expr: Option<WhereExpr>,
    limit: Option<usize>,
    time_in_ms: bool,
}

impl ExportParams {
    fn needs_rewrite(&self) -> bool {
        self.events.is_some() || self.where_expr.is_some() || self.time_in_ms
    }
}

pub(crate) async fn handle(state: &Arc<State>, ctx: &Ctx) -> Reply {
    if let Err(response) = ctx.authorize(state) {
        return (*response).into();
    }
    let params = match parse_params(ctx, state.today()) {
        Ok(p) => p,
        Err(msg) => return ctx.error(StatusCode::BAD_REQUEST, &msg).into(),
    };
    let days: Vec<NaiveDate> = params.from.iter_days().take_while(|d| *d <= params.to).collect();
    let targets: Vec<Target> = days.iter().map(|d| Target::Day(*d)).collect();
    let (mut transient, slow_ms, corrupted, cut_above) = {
        let mut faults = lock(&state.faults);
        let corrupted = days.iter().fold((false, false), |acc, d| {
            let (m, s) = faults.corruption(*d);
            (acc.0 || m, acc.1 || s)
        });
        let transient = faults.take_transient(&targets);
        (transient, faults.slow_first_byte_ms(), corrupted, faults.terminated_early_above_lines())
    };
    if slow_ms > 0 {
        tokio::time::sleep(Duration::from_millis(slow_ms)).await;
    }
    if let Some(t @ (Transient::RateLimit { .. } | Transient::ServerError(_))) = transient {
        return transient_reply(state, ctx, t);
    }
    let mut segments = DaySegments {
        state: Arc::clone(state),
        remaining: params.limit.unwrap_or(usize::MAX),
        days: days.into_iter(),
        params,
    };
    // Faults that need the whole body's size build it up front.
    let mut whole: Option<Vec<Arc<DayData>>> = None;
    if matches!(transient, Some(Transient::Disconnect | Transient::TerminatedEarly)) {
        let all: Vec<Arc<DayData>> = segments.by_ref().collect();
        let lines: usize = all.iter().map(|s| s.lines.len()).sum();
        if transient == Some(Transient::TerminatedEarly) && lines <= cut_above {
            transient = None;
        }
        whole = Some(all);
    }
    let mut fault_names: Vec<String> = transient.iter().map(|t| t.name().to_owned()).collect();
    for (on, name) in [(corrupted.0, "malformed_line"), (corrupted.1, "split_line")] {
        if on {
            fault_names.push(name.to_owned());
        }
    }

    let plan = |gzip: bool, cut_after: Option<usize>| StreamPlan {
        chunk_bytes: state.config.chunk_bytes,
        gzip,
        cut_after,
    };
    let may_gzip = |len: usize| state.config.gzip && ctx.accept_gzip && len > GZIP_MIN_BYTES;
    let (body, gzip) = match (transient, whole) {
        (Some(Transient::Disconnect | Transient::TerminatedEarly), Some(mut all)) => {
            if transient == Some(Transient::TerminatedEarly) {
                all = vec![Arc::new(terminated_early(&all))];
            }
            let total: usize = all.iter().map(|s| s.bytes.len()).sum();
            let cut = (transient == Some(Transient::Disconnect)).then_some(total / 2);
            let gzip = may_gzip(total);
            let bytes = all.iter().map(|s| s.bytes.clone()).collect::<Vec<_>>();
            (body::stream(bytes.into_iter(), plan(gzip, cut)), gzip)
        }
        (_, Some(all)) => {
            let total: usize = all.iter().map(|s| s.bytes.len()).sum();
            let gzip = may_gzip(total);
            let bytes = all.iter().map(|s| s.bytes.clone()).collect::<Vec<_>>();
            (body::stream(bytes.into_iter(), plan(gzip, None)), gzip)
        }
        (_, None) => {
            // Days are produced while streaming (a long range of big days never sits in
            // memory at once); only enough of the head is built to decide about gzip.
            let mut head = Vec::new();
            let mut head_len = 0;
            while head_len <= GZIP_MIN_BYTES {
                let Some(segment) = segments.next() else { break };
                head_len += segment.bytes.len();
                head.push(segment.bytes.clone());
            }
            if head_len == 0 {
                (MockBody::empty(), false)
            } else {
                let gzip = may_gzip(head_len);
                let rest = segments.map(|s| s.bytes.clone());
                (body::stream(head.into_iter().chain(rest), plan(gzip, None)), gzip)
            }
        }
    };
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    if gzip {
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    Reply { response, faults: fault_names }
}

/// The request's days as served: filtered, limited and corrupted as asked, one at a time.
struct DaySegments {
    state: Arc<State>,
    days: std::vec::IntoIter<NaiveDate>,
    params: ExportParams,
    remaining: usize,
}

impl Iterator for DaySegments {
    type Item = Arc<DayData>;

    fn next(&mut self) -> Option<Arc<DayData>> {
        if self.remaining == 0 {
            return None;
        }
        let day = self.days.next()?;
        let mut data = match self.state.time_zone {
            Some(zone) => Arc::new(local_day(&self.state, zone, day)),
            None => self.state.project.day(day),
        };
        if self.params.needs_rewrite() {
            data = Arc::new(rewrite(&data, &self.params, self.remaining));
        } else if data.lines.len() > self.remaining {
            data = Arc::new(take_lines(&data, self.remaining));
        }
        self.remaining -= data.lines.len();
        let (malformed, split) = lock(&self.state.faults).corruption(day);
        if malformed && !data.is_empty() {
            data = Arc::new(insert_malformed(&data));
        }
        if split && !data.is_empty() {
            data = Arc::new(split_record(&data));
        }
        Some(data)
    }
}

/// The events of `day` in the project's time zone: parts of the UTC days around it, in their
/// served order.
fn local_day(state: &State, zone: chrono_tz::Tz, day: NaiveDate) -> DayData {
    let mut out = DayBuilder::default();
    let around = [day.pred_opt(), Some(day), day.succ_opt()];
    for utc in around.into_iter().flatten() {
        let data = state.project.day(utc);
        for (line, span) in data.iter_lines() {
            let local = chrono::DateTime::from_timestamp_millis(span.time_ms)
                .map(|t| t.with_timezone(&zone).date_naive());
            if local == Some(day) {
                out.push(line, span.time_ms);
            }
        }
    }
    out.finish()
}

fn rate_limited(state: &State, ctx: &Ctx, retry_after_secs: u64) -> Response<MockBody> {
    let msg = format!(
        "Query rate limit exceeded for project_id: {}. 1/5 queries running concurrently and \
         61/60 queries running in the last hour. For more information, see the rate limits documentation",
        state.config.project_id
    );
    let mut response = ctx.error(StatusCode::TOO_MANY_REQUESTS, &msg);
    response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(retry_after_secs));
    response
}

/// Also used by engage and event names: same 429/5xx for the dayless endpoints.
pub(crate) fn transient_reply(state: &State, ctx: &Ctx, transient: Transient) -> Reply {
    let response = match transient {
        Transient::RateLimit { retry_after_secs } => rate_limited(state, ctx, retry_after_secs),
        Transient::ServerError(code) => ctx.error(code, "Internal server error, please retry"),
        Transient::Disconnect | Transient::TerminatedEarly => {
            ctx.error(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error, please retry")
        }
    };
    Reply { response, faults: vec![transient.name().to_owned()] }
}

fn parse_params(ctx: &Ctx, today: NaiveDate) -> Result<ExportParams, String> {
    let date = |name: &str| -> Result<NaiveDate, String> {
        let raw = ctx.param(name).ok_or_else(|| format!("'{name}' is a required parameter"))?;
        NaiveDate::parse_from_str(raw, "%Y-%m-%d")
            .map_err(|_| format!("'{name}' is not a valid date: {raw:?}, expected YYYY-MM-DD"))
    };
    let from = date("from_date")?;
    let to = date("to_date")?;
    if from > to {
        return Err("from_date cannot be later than to_date".to_owned());
    }
    if to > today {
        return Err("to_date cannot be later than today".to_owned());
    }
    let events = match ctx.param("event") {
        None => None,
        Some(raw) => Some(
            serde_json::from_str::<Vec<String>>(raw)
                .map_err(|_| format!("'event' must be a JSON array of event names, got {raw:?}"))?
                .into_iter()
                .collect(),
        ),
    };
    let where_expr = match ctx.param("where") {
        None => None,
        Some(raw) => Some(WhereExpr::parse(raw).map_err(|e| format!("invalid 'where': {e}"))?),
    };
    let limit = match ctx.param("limit") {
        None => None,
        Some(raw) => match raw.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Some(n),
            _ => {
                return Err(format!(
                    "'limit' must be an integer between 1 and {MAX_LIMIT}, got {raw:?}"
                ));
            }
        },
    };
    let time_in_ms = match ctx.param("time_in_ms") {
        None | Some("false" | "0") => false,
        Some("true" | "1") => true,
        Some(raw) => return Err(format!("'time_in_ms' must be true or false, got {raw:?}")),
    };
    Ok(ExportParams { from, to, events, where_expr, limit, time_in_ms })
}

/// Applies `event`/`where` filters and `time_in_ms`, keeping at most `max` lines.
fn rewrite(data: &DayData, params: &ExportParams, max: usize) -> DayData {
    let filtering = params.events.is_some() || params.where_expr.is_some();
    let mut out = DayBuilder::with_capacity(data.bytes.len(), data.lines.len());
    for (line, span) in data.iter_lines() {
        if out.len() >= max {
            break;
        }
        if filtering && !keep(line, params) {
            continue;
        }
        if params.time_in_ms {
            out.push(&time_in_ms(line, span.time_ms), span.time_ms);
        } else {
            out.push(line, span.time_ms);
        }
    }
    out.finish()
}

fn keep(line: &[u8], params: &ExportParams) -> bool {
    let Ok(v) = serde_json::from_slice::<Value>(line) else {
        return false;
    };
    if let Some(events) = &params.events
        && !v["event"].as_str().is_some_and(|e| events.contains(e))
    {
        return false;
    }
    match (&params.where_expr, v["properties"].as_object()) {
        (None, _) => true,
        (Some(expr), Some(props)) => expr.matches(props),
        (Some(_), None) => false,
    }
}

/// Replaces the number after the first `"time":` with `time_ms`.
fn time_in_ms(line: &[u8], time_ms: i64) -> Vec<u8> {
    const KEY: &[u8] = b"\"time\":";
    let Some(pos) = line.windows(KEY.len()).position(|w| w == KEY) else {
        return line.to_vec();
    };
    let start = pos + KEY.len();
    let number_len = line[start..]
        .iter()
        .take_while(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E' | b' '))
        .count();
    let mut out = Vec::with_capacity(line.len() + 4);
    out.extend_from_slice(&line[..start]);
    out.extend_from_slice(time_ms.to_string().as_bytes());
    out.extend_from_slice(&line[start + number_len..]);
    out
}

fn take_lines(data: &DayData, n: usize) -> DayData {
    let end = data.lines.get(n).map_or(data.bytes.len(), |s| s.start);
    DayData {
        bytes: data.bytes.slice(..end),
        lines: data.lines[..n.min(data.lines.len())].to_vec(),
    }
}

fn insert_malformed(data: &DayData) -> DayData {
    let mid = data.lines.len() / 2;
    let mut out = DayBuilder::with_capacity(data.bytes.len() + 64, data.lines.len() + 1);
    for (i, (line, span)) in data.iter_lines().enumerate() {
        if i == mid {
            out.push(MALFORMED_LINE, span.time_ms);
        }
        out.push(line, span.time_ms);
    }
    out.finish()
}

/// Breaks the middle record in two physical lines, after a comma past its middle so the cut
/// never falls inside a multi-byte character; joining the two lines restores it exactly.
fn split_record(data: &DayData) -> DayData {
    let mid = data.lines.len() / 2;
    let mut out = DayBuilder::with_capacity(data.bytes.len() + 1, data.lines.len() + 1);
    for (i, (line, span)) in data.iter_lines().enumerate() {
        if i != mid {
            out.push(line, span.time_ms);
            continue;
        }
        let cut = line[line.len() / 2..]
            .iter()
            .position(|b| *b == b',')
            .map_or(line.len() / 2, |p| line.len() / 2 + p + 1);
        let cut = (cut..line.len())
            .find(|c| std::str::from_utf8(&line[..*c]).is_ok())
            .unwrap_or(line.len());
        out.push(&line[..cut], span.time_ms);
        out.push(&line[cut..], span.time_ms);
    }
    out.finish()
}

/// About half of all lines, then the `terminated early` line Mixpanel sends on a cut export.
fn terminated_early(segments: &[Arc<DayData>]) -> DayData {
    let total: usize = segments.iter().map(|s| s.lines.len()).sum();
    let mut out = DayBuilder::default();
    for (line, span) in segments.iter().flat_map(|s| s.iter_lines()).take(total / 2) {
        out.push(line, span.time_ms);
    }
    out.push(b"terminated early", 0);
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(lines: &[&str]) -> DayData {
        let mut b = DayBuilder::default();
        for (i, l) in lines.iter().enumerate() {
            b.push(l.as_bytes(), i as i64);
        }
        b.finish()
    }

    #[test]
    fn time_is_rewritten_in_ms() {
        let line = br#"{"event":"E","properties":{"time":1704067200,"$time":"x"}}"#;
        assert_eq!(
            time_in_ms(line, 1_704_067_200_123),
            br#"{"event":"E","properties":{"time":1704067200123,"$time":"x"}}"#.to_vec()
        );
        assert_eq!(time_in_ms(b"{}", 5), b"{}".to_vec());
    }

    #[test]
    fn split_joins_back_to_the_original() {
        let lines = [
            r#"{"event":"A","properties":{"time":1}}"#,
            r#"{"event":"B","properties":{"time":2,"$city":"東京","x":"São Paulo"}}"#,
            r#"{"event":"C","properties":{"time":3}}"#,
        ];
        let out = split_record(&day(&lines));
        let text = String::from_utf8(out.bytes.to_vec()).unwrap();
        let physical: Vec<&str> = text.lines().collect();
        assert_eq!(physical.len(), 4);
        assert_eq!(format!("{}{}", physical[1], physical[2]), lines[1]);
        assert!(serde_json::from_str::<Value>(physical[1]).is_err());
    }

    #[test]
    fn malformed_goes_in_the_middle() {
        let out = insert_malformed(&day(&["{}", "{}", "{}", "{}"]));
        assert_eq!(out.line(2), MALFORMED_LINE);
        assert_eq!(out.lines.len(), 5);
    }

    #[test]
    fn terminated_early_keeps_half_then_the_marker() {
        let a = Arc::new(day(&["1", "2", "3"]));
        let b = Arc::new(day(&["4", "5", "6"]));
        let out = terminated_early(&[a, b]);
        assert_eq!(&out.bytes[..], b"1\n2\n3\nterminated early\n");
    }

    #[test]
    fn take_lines_slices_without_copying() {
        let d = day(&["a", "bb", "ccc"]);
        let t = take_lines(&d, 2);
        assert_eq!(&t.bytes[..], b"a\nbb\n");
        assert_eq!(take_lines(&d, 9).bytes, d.bytes);
    }
}
