//! What handlers need from a request: decoded parameters, credentials, and error replies in
//! Mixpanel's `{"request": .., "error": ..}` shape.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::header::{ACCEPT_ENCODING, AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde_json::{Value, json};

use super::State;
use crate::body::MockBody;

/// Engage bodies are a few filters; anything bigger is a client bug.
const MAX_BODY_BYTES: usize = 1 << 20;

/// The credentials a request presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Credentials {
    Missing,
    /// `Authorization` present but not `Basic base64(user:pass)`.
    Unreadable,
    Basic {
        user: String,
        pass: String,
    },
}

/// A request with its parameters decoded.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub(crate) method: Method,
    pub(crate) path: String,
    /// `path?query` as received, echoed in error bodies like Mixpanel does.
    pub(crate) request_line: String,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) body_params: Vec<(String, String)>,
    /// The raw body (control endpoints read JSON from it).
    pub(crate) body: Bytes,
    pub(crate) credentials: Credentials,
    pub(crate) accept_gzip: bool,
}

impl Ctx {
    /// Reads the request (including a form or JSON body); a bad body is answered with a 400.
    pub(crate) async fn read(req: Request<Incoming>) -> Result<Self, Box<Response<MockBody>>> {
        let (parts, body) = req.into_parts();
        let path = parts.uri.path().to_owned();
        let raw_query = parts.uri.query().unwrap_or_default();
        let request_line =
            if raw_query.is_empty() { path.clone() } else { format!("{path}?{raw_query}") };
        let query = url::form_urlencoded::parse(raw_query.as_bytes()).into_owned().collect();
        let credentials =
            parts.headers.get(AUTHORIZATION).map_or(Credentials::Missing, parse_basic);
        let accept_gzip = parts
            .headers
            .get_all(ACCEPT_ENCODING)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|enc| enc.trim().split(';').next() == Some("gzip"));
        let is_json = parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("json"));
        let mut ctx = Self {
            method: parts.method,
            path,
            request_line,
            query,
            body_params: Vec::new(),
            body: Bytes::new(),
            credentials,
            accept_gzip,
        };
        let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) => {
                return Err(ctx.reject(StatusCode::BAD_REQUEST, &format!("cannot read body: {e}")));
            }
        };
        if !body.is_empty() {
            ctx.body_params = parse_body(&body, is_json)
                .map_err(|msg| ctx.reject(StatusCode::BAD_REQUEST, &msg))?;
        }
        ctx.body = body;
        Ok(ctx)
    }

    /// A parameter from the body, else from the query string.
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.body_params.iter().chain(&self.query).find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub(crate) fn had_auth(&self) -> bool {
        self.credentials != Credentials::Missing
    }

    /// `{"request": "<path?query>", "error": msg}` with `status`.
    pub(crate) fn error(&self, status: StatusCode, msg: &str) -> Response<MockBody> {
        json_response(status, &json!({"request": self.request_line, "error": msg}))
    }

    /// [`Ctx::error`], boxed: rejections travel in `Err` and responses are large.
    pub(crate) fn reject(&self, status: StatusCode, msg: &str) -> Box<Response<MockBody>> {
        Box::new(self.error(status, msg))
    }

    /// Checks credentials as Mixpanel does: a service account must name its project, a legacy
    /// project secret (`secret:`) need not.
    pub(crate) fn authorize(&self, state: &State) -> Result<(), Box<Response<MockBody>>> {
        let config = &state.config;
        let service_account = match &self.credentials {
            Credentials::Basic { user, pass }
                if *user == config.username && *pass == config.secret =>
            {
                true
            }
            Credentials::Basic { user, pass } if *user == config.secret && pass.is_empty() => false,
            Credentials::Missing => {
                return Err(self.reject(
                    StatusCode::UNAUTHORIZED,
                    "Unable to authenticate request: no credentials",
                ));
            }
            _ => return Err(self.reject(StatusCode::UNAUTHORIZED, "Invalid credentials")),
        };
        match self.param("project_id") {
            None if service_account => Err(self.reject(
                StatusCode::BAD_REQUEST,
                "project_id is required when authenticating with a service account",
            )),
            None => Ok(()),
            Some(raw) => match raw.parse::<u64>() {
                Ok(id) if id == config.project_id => Ok(()),
                Ok(id) => Err(self.reject(
                    StatusCode::FORBIDDEN,
                    &format!("the service account has no access to project {id}"),
                )),
                Err(_) => Err(self.reject(
                    StatusCode::BAD_REQUEST,
                    &format!("project_id must be an integer, got {raw:?}"),
                )),
            },
        }
    }
}

fn parse_basic(value: &HeaderValue) -> Credentials {
    let Some(encoded) = value.to_str().ok().and_then(|v| v.strip_prefix("Basic ")) else {
        return Credentials::Unreadable;
    };
    let Ok(decoded) = STANDARD.decode(encoded.trim()) else {
        return Credentials::Unreadable;
    };
    let Ok(text) = String::from_utf8(decoded) else {
        return Credentials::Unreadable;
    };
    match text.split_once(':') {
        Some((user, pass)) => Credentials::Basic { user: user.to_owned(), pass: pass.to_owned() },
        None => Credentials::Unreadable,
    }
}

/// Form bodies decode as pairs; JSON objects keep strings as-is and other values as JSON text
/// (so `{"page": 1}` and `page=1` read the same).
fn parse_body(body: &Bytes, is_json: bool) -> Result<Vec<(String, String)>, String> {
    if !is_json {
        return Ok(url::form_urlencoded::parse(body).into_owned().collect());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map
            .into_iter()
            .map(|(k, v)| match v {
                Value::String(s) => (k, s),
                other => (k, other.to_string()),
            })
            .collect()),
        Ok(_) => Err("JSON body must be an object".to_owned()),
        Err(e) => Err(format!("invalid JSON body: {e}")),
    }
}

pub(crate) fn json_response(status: StatusCode, value: &Value) -> Response<MockBody> {
    bytes_response(status, "application/json", Bytes::from(value.to_string()))
}

pub(crate) fn bytes_response(
    status: StatusCode,
    content_type: &'static str,
    body: Bytes,
) -> Response<MockBody> {
    let mut response = Response::new(MockBody::full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_decode() {
        let header = HeaderValue::from_str(&format!("Basic {}", STANDARD.encode("u:p:q"))).unwrap();
        assert_eq!(
            parse_basic(&header),
            Credentials::Basic { user: "u".to_owned(), pass: "p:q".to_owned() }
        );
        assert_eq!(parse_basic(&HeaderValue::from_static("Bearer x")), Credentials::Unreadable);
        assert_eq!(parse_basic(&HeaderValue::from_static("Basic !!!")), Credentials::Unreadable);
    }

    #[test]
    fn bodies_decode_as_form_or_json() {
        let form = parse_body(&Bytes::from("page=1&where=a%20b"), false).unwrap();
        assert_eq!(form, [("page".into(), "1".into()), ("where".into(), "a b".into())]);
        let json =
            parse_body(&Bytes::from(r#"{"page":1,"filter_by_cohort":{"id":3},"s":"x"}"#), true)
                .unwrap();
        assert!(json.contains(&("page".into(), "1".into())));
        assert!(json.contains(&("filter_by_cohort".into(), r#"{"id":3}"#.into())));
        assert!(json.contains(&("s".into(), "x".into())));
        assert!(parse_body(&Bytes::from("[1]"), true).is_err());
    }
}
