//! An export request on a connection of its own, driven by the task that reads its body.
//!
//! Through the pooled client, hyper runs each connection on a task of its own and hands the
//! body over through a channel that holds one frame, so every chunk the server sends costs two
//! wake-ups across threads. An export arrives in as many frames as the server writes chunks
//! (a server writing 4 KiB chunks sends 89,000 for 365 MB; `strace` of such a fetch counted
//! 82,000 futex calls against 1,000 for the same rows read from a file). Here the body's
//! reader polls the connection itself, so a frame goes from the socket's buffer to the reader
//! without waking anything. An export request lasts seconds to minutes, so a connection of its
//! own costs nothing a pool would save.

use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::HOST;
use http::{HeaderValue, Request, Response, Uri};
use http_body_util::Full;
use hyper::body::{Body as _, Frame, Incoming};
use tokio::time::{Duration, Instant, Sleep};

use crate::client::{Client, Prepared};
use crate::error::{BoxError, Error, Result, TimeoutPhase};

type Connection = Pin<Box<dyn Future<Output = hyper::Result<()>> + Send>>;

/// A response body and the connection it arrives on, polled together.
pub(crate) struct DrivenBody {
    body: Incoming,
    /// `None` once the connection's future finished (the body then reports how it ended).
    connection: Option<Connection>,
    /// Keeps the connection open until the body is read.
    _sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
}

impl fmt::Debug for DrivenBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DrivenBody").field("open", &self.connection.is_some()).finish()
    }
}

impl DrivenBody {
    /// The next frame, moving the connection along as far as the socket's bytes allow.
    pub(crate) fn poll_frame(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<std::result::Result<Frame<Bytes>, hyper::Error>>> {
        poll_connection(&mut self.connection, cx);
        Pin::new(&mut self.body).poll_frame(cx)
    }
}

/// Polls the connection unless it already finished; a finished connection is dropped (its
/// outcome reaches the request or the body through hyper).
fn poll_connection(connection: &mut Option<Connection>, cx: &mut Context<'_>) {
    if let Some(running) = connection
        && running.as_mut().poll(cx).is_ready()
    {
        *connection = None;
    }
}

/// What one attempt on a connection of its own brought back.
pub(crate) enum OwnResponse {
    /// A 2xx response whose body is read by polling the connection.
    Success { headers: http::HeaderMap, body: DrivenBody },
    /// Any other status; its connection runs on a task of its own so the body can be read.
    Failure(Response<Incoming>),
}

impl Client {
    /// Sends one attempt on a new connection (TCP, TLS for https) and waits for the response
    /// head. Only the transport can fail here, statuses are the caller's business.
    pub(crate) async fn send_on_own_connection(
        &self,
        prepared: &Prepared,
        attempt: u32,
    ) -> Result<OwnResponse> {
        let transport = |source: BoxError| Error::Transport {
            endpoint: prepared.label.as_str().into(),
            source,
        };
        let uri: Uri = prepared.url.as_str().parse().map_err(|e| transport(Box::new(e)))?;
        let mut connector = self.inner.connector.clone();
        poll_fn(|cx| tower_service::Service::<Uri>::poll_ready(&mut connector, cx))
            .await
            .map_err(transport)?;
        let io = tower_service::Service::call(&mut connector, uri).await.map_err(transport)?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(io).await.map_err(|e| transport(Box::new(e)))?;
        let mut connection: Option<Connection> = Some(Box::pin(connection));

        let mut request = self.request(prepared, attempt)?;
        to_origin_form(&mut request, &prepared.url).map_err(transport)?;
        let mut responding = std::pin::pin!(sender.send_request(request));
        let response = poll_fn(|cx| {
            poll_connection(&mut connection, cx);
            responding.as_mut().poll(cx)
        })
        .await
        .map_err(|e| transport(Box::new(e)))?;

        if !response.status().is_success() {
            if let Some(connection) = connection {
                tokio::spawn(connection);
            }
            return Ok(OwnResponse::Failure(response));
        }
        let (parts, body) = response.into_parts();
        Ok(OwnResponse::Success {
            headers: parts.headers,
            body: DrivenBody { body, connection, _sender: sender },
        })
    }
}

/// A request on a connection of its own names its path (`/api/2.0/export?…`) and says the host
/// in `Host`, as a server expects from a client that is not a proxy.
fn to_origin_form(
    request: &mut Request<Full<Bytes>>,
    url: &url::Url,
) -> std::result::Result<(), BoxError> {
    let host = match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        (None, _) => return Err(format!("the URL {url} names no host").into()),
    };
    request.headers_mut().insert(HOST, HeaderValue::from_str(&host)?);
    let path = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    };
    *request.uri_mut() = path.parse()?;
    Ok(())
}

/// The idle-read limit of a body, armed once and moved on only when it fires: a timer set
/// again for every frame would cost a timer-wheel update per frame.
pub(crate) struct IdleLimit {
    after: Duration,
    last_progress: Instant,
    sleep: Pin<Box<Sleep>>,
}

impl fmt::Debug for IdleLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdleLimit").field("after", &self.after).finish()
    }
}

impl IdleLimit {
    pub(crate) fn new(after: Duration) -> Self {
        let now = Instant::now();
        IdleLimit {
            after,
            last_progress: now,
            sleep: Box::pin(tokio::time::sleep_until(now + after)),
        }
    }

    /// Bytes arrived.
    pub(crate) fn progressed(&mut self) {
        self.last_progress = Instant::now();
    }

    /// Ready when nothing arrived for the whole limit; otherwise registers for the moment it
    /// could be.
    pub(crate) fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<Duration> {
        loop {
            if self.sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let deadline = self.last_progress + self.after;
            if Instant::now() >= deadline {
                return Poll::Ready(self.after);
            }
            self.sleep.as_mut().reset(deadline);
        }
    }
}

/// Waits for `body`'s next frame within `idle`.
pub(crate) async fn next_frame(
    body: &mut DrivenBody,
    idle: &mut IdleLimit,
    endpoint: &str,
) -> Result<Option<Frame<Bytes>>> {
    poll_fn(|cx| match body.poll_frame(cx) {
        Poll::Ready(Some(Ok(frame))) => {
            idle.progressed();
            Poll::Ready(Ok(Some(frame)))
        }
        Poll::Ready(Some(Err(source))) => {
            Poll::Ready(Err(Error::Body { endpoint: endpoint.into(), source: Box::new(source) }))
        }
        Poll::Ready(None) => Poll::Ready(Ok(None)),
        Poll::Pending => idle.poll_expired(cx).map(|after| {
            Err(Error::Timeout { endpoint: endpoint.into(), phase: TimeoutPhase::IdleRead, after })
        }),
    })
    .await
}
