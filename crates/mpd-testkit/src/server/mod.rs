//! The HTTP server: accept loop, routing, the request log, and the [`MockServer`] handle.

mod control;
mod engage;
mod export;
mod faults;
mod query;
mod replies;
mod request;

use std::collections::HashSet;
use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use chrono::NaiveDate;
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::body::MockBody;
use crate::project::{Project, lock};
use crate::{Error, Faults, MockConfig, Result};
use faults::FaultState;
use request::Ctx;

/// One request as the mock saw it (control endpoints under `/__mock/` are not logged).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestRecord {
    /// HTTP method.
    pub method: String,
    /// Path without the query string.
    pub path: String,
    /// Decoded query-string pairs, in order.
    pub query: Vec<(String, String)>,
    /// Decoded form or JSON body parameters (engage POSTs), in order.
    pub body_params: Vec<(String, String)>,
    /// Status the mock answered.
    pub status: u16,
    /// Whether the request carried an `Authorization` header.
    pub had_auth: bool,
    /// Injected faults that shaped the response (`rate_limit`, `disconnect`, `split_line`, ...).
    pub faults: Vec<String>,
    /// When the request arrived.
    pub when: SystemTime,
}

impl RequestRecord {
    /// The first query-string value of `name`, then the first body value.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().chain(&self.body_params).find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Shared by every connection.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) config: MockConfig,
    pub(crate) project: Project,
    pub(crate) faults: Mutex<FaultState>,
    /// The project's time zone; `None` for UTC.
    pub(crate) time_zone: Option<chrono_tz::Tz>,
    log: Mutex<Vec<RequestRecord>>,
    pub(crate) sessions: Mutex<HashSet<String>>,
    pub(crate) next_session: AtomicU64,
    /// Query API requests admitted past authentication, for the hourly limit.
    query_requests: AtomicU64,
}

impl State {
    pub(crate) fn today(&self) -> NaiveDate {
        let now = chrono::Utc::now();
        self.config.today.unwrap_or_else(|| match self.time_zone {
            Some(zone) => now.with_timezone(&zone).date_naive(),
            None => now.date_naive(),
        })
    }
}

/// What a handler produced: the response and the faults it injected (for the log).
pub(crate) struct Reply {
    pub(crate) response: Response<MockBody>,
    pub(crate) faults: Vec<String>,
}

impl From<Response<MockBody>> for Reply {
    fn from(response: Response<MockBody>) -> Self {
        Self { response, faults: Vec::new() }
    }
}

/// A running mock Mixpanel; stops when dropped.
#[derive(Debug)]
pub struct MockServer {
    addr: SocketAddr,
    state: Arc<State>,
    /// Dropping the sender tells the accept loop (and a background runtime) to stop.
    shutdown: Option<watch::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MockServer {
    /// Starts the server on the current tokio runtime.
    pub async fn start(config: MockConfig) -> Result<MockServer> {
        let (addr, state, shutdown) = launch(config).await?;
        Ok(Self { addr, state, shutdown: Some(shutdown), thread: None })
    }

    /// Starts the server on its own runtime in a background thread, for synchronous callers
    /// and callers whose runtime may stop before the server should.
    pub fn spawn(config: MockConfig) -> Result<MockServer> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("mpd-mock".to_owned())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(Error::Runtime(e)));
                        return;
                    }
                };
                runtime.block_on(async move {
                    match launch(config).await {
                        Ok((addr, state, shutdown)) => {
                            let mut stopped = shutdown.subscribe();
                            if ready_tx.send(Ok((addr, state, shutdown))).is_ok() {
                                // Resolves with an error once the handle drops its sender.
                                let _ = stopped.changed().await;
                            }
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                    }
                });
            })
            .map_err(Error::Runtime)?;
        let ready = ready_rx.recv().map_err(|_| {
            Error::Runtime(std::io::Error::other("mock server thread ended before starting"))
        });
        match ready {
            Ok(Ok((addr, state, shutdown))) => {
                Ok(Self { addr, state, shutdown: Some(shutdown), thread: Some(thread) })
            }
            Ok(Err(e)) | Err(e) => {
                let _ = thread.join();
                Err(e)
            }
        }
    }

    /// The bound address (always on 127.0.0.1).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, to use as every API family's base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The truth the server serves.
    pub fn project(&self) -> &Project {
        &self.state.project
    }

    /// Every request served so far (control endpoints excluded), oldest first.
    pub fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.state.log).clone()
    }

    /// Adds `n` late events to `day` and returns their export lines.
    pub fn add_late_events(&self, day: NaiveDate, n: u32) -> Vec<String> {
        self.state.project.add_late_events(day, n)
    }

    /// Switches identity re-keying of served export lines on or off
    /// ([`Project::set_rekey_identified`]).
    pub fn set_rekey_identified(&self, on: bool) {
        self.state.project.set_rekey_identified(on);
    }

    /// Replaces the faults and resets their per-day attempt counters.
    pub fn set_faults(&self, faults: Faults) {
        lock(&self.state.faults).set(faults);
    }

    /// The step events and conversion window (seconds) of saved funnel `id`
    /// ([`Project::saved_funnels`]).
    pub fn funnel_steps(&self, id: u64) -> Option<(Vec<String>, i64)> {
        let funnel = self.state.project.saved_funnels().into_iter().find(|f| f.id == id)?;
        Some((funnel.steps, funnel.window_secs))
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        drop(self.shutdown.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn launch(config: MockConfig) -> Result<(SocketAddr, Arc<State>, watch::Sender<()>)> {
    config.validate()?;
    let port = config.port;
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))
        .await
        .map_err(|source| Error::Bind { port, source })?;
    let addr = listener.local_addr().map_err(|source| Error::Bind { port, source })?;
    let project = {
        let config = config.clone();
        // Loading a JSONL file can take seconds; keep it off the async workers.
        tokio::task::spawn_blocking(move || Project::new(&config))
            .await
            .map_err(|e| Error::Runtime(std::io::Error::other(e)))??
    };
    let state = Arc::new(State {
        faults: Mutex::new(FaultState::new(config.faults.clone(), config.first_day)),
        time_zone: config.time_zone()?,
        config,
        project,
        log: Mutex::default(),
        sessions: Mutex::default(),
        next_session: AtomicU64::new(0),
        query_requests: AtomicU64::new(0),
    });
    let (shutdown, stopped) = watch::channel(());
    tokio::spawn(accept_loop(listener, Arc::clone(&state), stopped));
    tracing::info!(%addr, "mock mixpanel listening");
    Ok((addr, state, shutdown))
}

async fn accept_loop(listener: TcpListener, state: Arc<State>, mut stopped: watch::Receiver<()>) {
    // Owning the connection tasks means stopping the loop also drops every open connection.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let state = Arc::clone(&state);
                    connections.spawn(async move {
                        let service = service_fn(move |req| handle(Arc::clone(&state), req));
                        let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                        if let Err(error) = conn.await {
                            tracing::debug!(%peer, %error, "mock connection ended with an error");
                        }
                    });
                }
                Err(error) => {
                    tracing::warn!(%error, "mock accept failed");
                    // Out of file descriptors and the like: back off instead of spinning.
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            },
        }
    }
    tracing::debug!("mock server stopped");
}

async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
) -> std::result::Result<Response<MockBody>, Infallible> {
    let when = SystemTime::now();
    let ctx = match Ctx::read(req).await {
        Ok(ctx) => ctx,
        Err(response) => return Ok(*response),
    };
    let reply = route(&state, &ctx).await;
    if !ctx.path.starts_with("/__mock/") {
        tracing::debug!(method = %ctx.method, path = %ctx.path, status = %reply.response.status(), "mock request");
        lock(&state.log).push(RequestRecord {
            method: ctx.method.to_string(),
            path: ctx.path.clone(),
            query: ctx.query.clone(),
            body_params: ctx.body_params.clone(),
            status: reply.response.status().as_u16(),
            had_auth: ctx.had_auth(),
            faults: reply.faults,
            when,
        });
    }
    Ok(reply.response)
}

/// The API families behind `/api/2.0/` and `/api/query/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    Export,
    Engage,
    Query(&'static str),
}

/// The family and endpoint name (`export`, `engage`, `segmentation/sum`, ...) of an API path.
fn api_endpoint(path: &str) -> Option<(Api, &str)> {
    let (legacy, rest) = match path.strip_prefix("/api/2.0/") {
        Some(rest) => (true, rest),
        None => (false, path.strip_prefix("/api/query/")?),
    };
    let name = rest.trim_matches('/');
    let api = match name {
        "export" if legacy => Api::Export,
        "engage" => Api::Engage,
        other => Api::Query(query::endpoint(other)?),
    };
    Some((api, name))
}

async fn route(state: &Arc<State>, ctx: &Ctx) -> Reply {
    if let Some((api, name)) = api_endpoint(&ctx.path) {
        return api_route(state, ctx, api, name).await;
    }
    let path = ctx.path.as_str();
    let method = &ctx.method;
    match path {
        "/__mock/truth" if method == Method::GET => control::truth(state, ctx).into(),
        "/__mock/requests" if method == Method::GET => control::requests(state).into(),
        "/__mock/late" if method == Method::POST => control::late(state, ctx).into(),
        "/__mock/rekey" if method == Method::POST => control::rekey(state, ctx).into(),
        "/__mock/faults" if method == Method::POST => control::faults(state, ctx).into(),
        "/__mock/truth" | "/__mock/requests" | "/__mock/late" | "/__mock/rekey"
        | "/__mock/faults" => {
            ctx.error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed").into()
        }
        _ => ctx.error(StatusCode::NOT_FOUND, "Not found").into(),
    }
}

/// Method, credentials, the query rate limit and the `http_status` fault, then the family.
async fn api_route(state: &Arc<State>, ctx: &Ctx, api: Api, name: &str) -> Reply {
    let method = &ctx.method;
    let allowed = match api {
        Api::Export => method == Method::GET,
        Api::Engage => method == Method::GET || method == Method::POST,
        Api::Query(endpoint) => query::allows(endpoint, method),
    };
    if !allowed {
        return ctx.error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed").into();
    }
    if let Err(response) = ctx.authorize(state) {
        return (*response).into();
    }
    if let Api::Query(endpoint) = api {
        let used = state.query_requests.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some(limit) = state.config.query_rate_limit_per_hour
            && used > u64::from(limit)
        {
            let response =
                replies::query_rate_limited(state, ctx, endpoint, used, u64::from(limit));
            return Reply { response, faults: vec!["query_rate_limit".to_owned()] };
        }
    }
    let status = lock(&state.faults).take_status(name);
    if let Some(status) = status {
        return replies::injected_status(state, ctx, name, status.0, status.1.as_deref());
    }
    match api {
        Api::Export => export::handle(state, ctx).await,
        Api::Engage => engage::handle(state, ctx),
        Api::Query(endpoint) => query::handle(state, ctx, endpoint),
    }
}
