//! The HTTP client: connection setup, authentication, retries, Query API helpers.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::header::{ACCEPT_ENCODING, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, USER_AGENT};
use http::{HeaderValue, Method, Request, Response};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use url::Url;

use crate::budget::Limiter;
use crate::decoding::ContentDecoder;
use crate::error::{Error, HttpFailure, Result, TimeoutPhase, parse_error_message};
use crate::options::{ClientOptions, Region, RetryPolicy, Timeouts};
use crate::retry::retry_after;
use crate::urls::Endpoints;

type HttpClient = HyperClient<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Error bodies are only read this far; the message needs a few hundred bytes at most.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// Mixpanel API client. Cheap to clone; clones share connections and budgets.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    http: HttpClient,
    /// Export requests connect on their own (`own_connection.rs`).
    pub(crate) connector: HttpsConnector<HttpConnector>,
    pub(crate) endpoints: Endpoints,
    /// Marked sensitive so hyper never logs it.
    authorization: HeaderValue,
    region: Region,
    username: String,
    pub(crate) project_id: u64,
    pub(crate) export_limiter: Limiter,
    query_limiter: Limiter,
    pub(crate) retry: RetryPolicy,
    pub(crate) timeouts: Timeouts,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &self.inner;
        f.debug_struct("Client")
            .field("region", &inner.region)
            .field("username", &inner.username)
            .field("secret", &"***")
            .field("project_id", &inner.project_id)
            .field("endpoints", &inner.endpoints)
            .field("retry", &inner.retry)
            .field("timeouts", &inner.timeouts)
            .finish_non_exhaustive()
    }
}

/// A request ready to be sent (and re-sent on retry).
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) method: Method,
    pub(crate) url: Url,
    /// `application/x-www-form-urlencoded` body for POST.
    pub(crate) form: Option<String>,
    pub(crate) accept_gzip: bool,
    /// `METHOD /path?query` for logs and errors; holds no credentials.
    pub(crate) label: String,
}

impl Prepared {
    pub(crate) fn new(method: Method, url: Url, form: Option<String>, accept_gzip: bool) -> Self {
        let label = match url.query() {
            Some(query) => format!("{method} {}?{query}", url.path()),
            None => format!("{method} {}", url.path()),
        };
        Prepared { method, url, form, accept_gzip, label }
    }
}

impl Client {
    /// Builds a client; fails on an unusable base URL or TLS setup.
    pub fn new(options: ClientOptions) -> Result<Client> {
        let endpoints = Endpoints::resolve(options.region, &options.base_urls)?;
        let credentials = &options.credentials;
        let token = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            credentials.username,
            credentials.secret.expose()
        ));
        // Base64 output is always a valid header value; the error arm only guards that invariant.
        let mut authorization = HeaderValue::from_str(&format!("Basic {token}")).map_err(|_| {
            Error::InvalidCredentials { reason: "cannot be sent in an HTTP header" }
        })?;
        authorization.set_sensitive(true);

        let mut connector = HttpConnector::new();
        connector.enforce_http(false);
        connector.set_connect_timeout(Some(options.timeouts.connect));
        connector.set_nodelay(true);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .map_err(|source| Error::Tls { source: Box::new(source) })?
            .https_or_http()
            .enable_http1()
            .wrap_connector(connector);
        let http = HyperClient::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(https.clone());

        Ok(Client {
            inner: Arc::new(Inner {
                http,
                connector: https,
                endpoints,
                authorization,
                region: options.region,
                username: options.credentials.username.clone(),
                project_id: options.credentials.project_id,
                export_limiter: Limiter::new("export", options.export_budget),
                query_limiter: Limiter::new("query", options.query_budget),
                retry: options.retry,
                timeouts: options.timeouts,
            }),
        })
    }

    /// The retry policy this client was built with.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.inner.retry
    }

    /// GET a Query API endpoint (`{origin}/api/query/<endpoint>`) with `project_id` added.
    /// Uses the query budget and retries; a 200 whose JSON object has an `error` key is an error.
    pub async fn query_get(
        &self,
        endpoint: &str,
        params: &[(&str, String)],
    ) -> Result<serde_json::Value> {
        let mut url = self.inner.endpoints.query(endpoint)?;
        self.add_project(&mut url);
        url.query_pairs_mut().extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())));
        self.query_json(&Prepared::new(Method::GET, url, None, false)).await
    }

    /// POST a form to a Query API endpoint; `project_id` goes in the query string.
    pub async fn query_post(
        &self,
        endpoint: &str,
        form: &[(&str, String)],
    ) -> Result<serde_json::Value> {
        let url = self.inner.endpoints.query(endpoint)?;
        self.post_form(url, form).await
    }

    /// One cheap authenticated call; returns the number of event names (0 or 1) on success.
    pub async fn check_auth(&self) -> Result<usize> {
        let params = [("type", "general".to_owned()), ("limit", "1".to_owned())];
        let mut url = self.inner.endpoints.query("events/names")?;
        self.add_project(&mut url);
        url.query_pairs_mut().extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())));
        let prepared = Prepared::new(Method::GET, url, None, false);
        match self.query_json(&prepared).await? {
            serde_json::Value::Array(names) => Ok(names.len()),
            other => Err(Error::InvalidResponse {
                endpoint: prepared.label.into(),
                reason: format!("expected a JSON array of event names, got {}", kind(&other)),
            }),
        }
    }

    pub(crate) async fn post_form(
        &self,
        mut url: Url,
        form: &[(&str, String)],
    ) -> Result<serde_json::Value> {
        self.add_project(&mut url);
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form.iter().map(|(k, v)| (*k, v.as_str())))
            .finish();
        self.query_json(&Prepared::new(Method::POST, url, Some(body), false)).await
    }

    pub(crate) fn add_project(&self, url: &mut Url) {
        url.query_pairs_mut().append_pair("project_id", &self.inner.project_id.to_string());
    }

    /// One Query API call with budget, timeout and retries; the whole attempt (body included)
    /// is retried, since nothing has been handed to the caller yet.
    async fn query_json(&self, prepared: &Prepared) -> Result<serde_json::Value> {
        let limit = self.inner.timeouts.query;
        let mut attempt = 1;
        loop {
            let permit = self.inner.query_limiter.acquire().await;
            let result = tokio::time::timeout(limit, self.query_attempt(prepared, attempt)).await;
            drop(permit);
            let error = match result {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(error)) => error,
                Err(_) => Error::Timeout {
                    endpoint: prepared.label.as_str().into(),
                    phase: TimeoutPhase::Query,
                    after: limit,
                },
            };
            self.pause_before_retry(error, prepared, attempt).await?;
            attempt += 1;
        }
    }

    async fn query_attempt(&self, prepared: &Prepared, attempt: u32) -> Result<serde_json::Value> {
        let response = self.send(prepared, attempt).await?;
        if !response.status().is_success() {
            return Err(self.error_from_response(response, prepared).await);
        }
        let body = read_body(response, &prepared.label, usize::MAX).await?;
        let value: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| Error::InvalidResponse {
                endpoint: prepared.label.as_str().into(),
                reason: format!("invalid JSON: {e}"),
            })?;
        if let serde_json::Value::Object(map) = &value
            && map.contains_key("error")
        {
            return Err(Error::ErrorInBody(Box::new(HttpFailure {
                endpoint: prepared.label.as_str().into(),
                status: 200,
                message: parse_error_message(&body),
                retry_after: None,
            })));
        }
        Ok(value)
    }

    /// Sends one attempt; only the transport can fail here, statuses are the caller's business.
    pub(crate) async fn send(
        &self,
        prepared: &Prepared,
        attempt: u32,
    ) -> Result<Response<Incoming>> {
        let request = self.request(prepared, attempt)?;
        self.inner.http.request(request).await.map_err(|source| Error::Transport {
            endpoint: prepared.label.as_str().into(),
            source: Box::new(source),
        })
    }

    /// The request of one attempt, its URL in absolute form.
    pub(crate) fn request(
        &self,
        prepared: &Prepared,
        attempt: u32,
    ) -> Result<Request<Full<Bytes>>> {
        tracing::debug!(
            method = %prepared.method,
            path = prepared.url.path(),
            query = prepared.url.query().unwrap_or(""),
            attempt,
            "sending request"
        );
        let mut builder = Request::builder()
            .method(prepared.method.clone())
            .uri(prepared.url.as_str())
            .header(AUTHORIZATION, self.inner.authorization.clone())
            .header(USER_AGENT, concat!("mpd/", env!("CARGO_PKG_VERSION")));
        if prepared.accept_gzip {
            builder = builder.header(ACCEPT_ENCODING, "gzip");
        }
        let body = match &prepared.form {
            Some(form) => {
                builder = builder.header(CONTENT_TYPE, "application/x-www-form-urlencoded");
                Full::new(Bytes::from(form.clone()))
            }
            None => Full::new(Bytes::new()),
        };
        builder.body(body).map_err(|source| Error::BuildRequest {
            endpoint: prepared.label.as_str().into(),
            source: Box::new(source),
        })
    }

    /// Turns a non-success response into its error, reading a bounded part of the body.
    pub(crate) async fn error_from_response(
        &self,
        response: Response<Incoming>,
        prepared: &Prepared,
    ) -> Error {
        let status = response.status().as_u16();
        let retry_after = retry_after(response.headers());
        let read = read_body(response, &prepared.label, ERROR_BODY_LIMIT);
        let message = match tokio::time::timeout(self.inner.timeouts.query, read).await {
            Ok(Ok(body)) => parse_error_message(&body),
            // The status alone still says what happened.
            Ok(Err(_)) | Err(_) => "(the error body could not be read)".to_owned(),
        };
        Error::from_status(HttpFailure {
            endpoint: prepared.label.as_str().into(),
            status,
            message,
            retry_after,
        })
    }

    /// Returns the error if it is final, else logs and sleeps before the next attempt.
    pub(crate) async fn pause_before_retry(
        &self,
        error: Error,
        prepared: &Prepared,
        attempt: u32,
    ) -> Result<()> {
        if !error.is_retryable() || attempt >= self.inner.retry.attempts() {
            return Err(error);
        }
        let delay = error.retry_after().unwrap_or_else(|| self.inner.retry.backoff(attempt));
        let status = error.status().unwrap_or(0);
        if status == 429 {
            let budget = error.query_rate_limit();
            tracing::warn!(
                endpoint = %prepared.label,
                status,
                attempt,
                running = budget.and_then(|b| b.running),
                last_hour = budget.and_then(|b| b.last_hour),
                hourly_limit = budget.and_then(|b| b.hourly_limit),
                delay_ms = delay.as_millis() as u64,
                "rate limited; retrying"
            );
        } else {
            tracing::info!(
                endpoint = %prepared.label,
                status,
                attempt,
                delay_ms = delay.as_millis() as u64,
                error = %error,
                "request failed; retrying"
            );
        }
        tokio::time::sleep(delay).await;
        Ok(())
    }
}

/// Reads a whole body, undoing gzip, stopping after `limit` decoded bytes.
async fn read_body(response: Response<Incoming>, label: &str, limit: usize) -> Result<Vec<u8>> {
    let encoding = response.headers().get(CONTENT_ENCODING).and_then(|v| v.to_str().ok());
    let mut decoder =
        ContentDecoder::for_encoding(encoding).ok_or_else(|| Error::InvalidResponse {
            endpoint: label.into(),
            reason: format!("unsupported Content-Encoding {encoding:?}"),
        })?;
    let gzip_error = |source| Error::Gzip { endpoint: label.into(), source };
    let mut body = response.into_body();
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame
            .map_err(|source| Error::Body { endpoint: label.into(), source: Box::new(source) })?;
        if let Ok(data) = frame.into_data() {
            out.extend_from_slice(decoder.decode(&data).map_err(gzip_error)?);
            if out.len() >= limit {
                out.truncate(limit);
                return Ok(out);
            }
        }
    }
    out.extend_from_slice(decoder.finish().map_err(gzip_error)?);
    Ok(out)
}

fn kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::{Credentials, Secret};

    fn options() -> ClientOptions {
        ClientOptions::new(
            Region::Us,
            Credentials {
                username: "svc-user".to_owned(),
                secret: Secret::new("s3cr3t-value"),
                project_id: 7,
            },
        )
    }

    #[test]
    fn debug_hides_secret_and_its_base64() {
        let client = Client::new(options()).expect("client");
        let text = format!("{client:?} {:?}", client.inner.authorization);
        let encoded = base64::engine::general_purpose::STANDARD.encode("svc-user:s3cr3t-value");
        assert!(!text.contains("s3cr3t"), "{text}");
        assert!(!text.contains(&encoded), "{text}");
        assert!(text.contains("svc-user"), "{text}");
    }

    #[test]
    fn futures_are_send_so_callers_can_spawn_them() {
        fn is_send<T: Send>(_: &T) {}
        let client = Client::new(options()).expect("client");
        let day = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).expect("date");
        let export = crate::ExportRequest::days(day, day);
        is_send(&client.export(&export));
        let engage = crate::EngageRequest::default();
        is_send(&client.engage(&engage));
        is_send(&client.query_get("events/names", &[]));
        is_send(&client.query_post("insights", &[]));
        is_send(&client.check_auth());
    }

    // Type-checked only: the per-batch and per-page futures must be Send as well.
    #[allow(dead_code, reason = "compile-time check, never called")]
    fn body_and_pager_futures_are_send(
        body: &mut crate::ExportBody,
        pager: &mut crate::EngagePager,
    ) {
        fn is_send<T: Send>(_: &T) {}
        is_send(&body.next_chunk());
        is_send(&pager.next_page());
    }

    #[test]
    fn labels_carry_path_and_query_only() {
        let url = Url::parse("https://data.mixpanel.com/api/2.0/export?project_id=7&from_date=x")
            .expect("url");
        let prepared = Prepared::new(Method::GET, url, None, true);
        assert_eq!(prepared.label, "GET /api/2.0/export?project_id=7&from_date=x");
    }
}
