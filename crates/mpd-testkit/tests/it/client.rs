//! A minimal HTTP/1.1 client over a fresh TCP connection per request, so tests see exactly
//! what goes over the wire (including aborted bodies).

use std::io::Read;
use std::net::SocketAddr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use chrono::NaiveDate;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use mpd_testkit::MockServer;
use serde_json::Value;
use tokio::net::TcpStream;

pub(crate) struct Resp {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    /// Err when the body ended abnormally (connection dropped mid-body).
    pub(crate) body: Result<Bytes, String>,
}

impl Resp {
    pub(crate) fn bytes(&self) -> Bytes {
        match &self.body {
            Ok(b) => b.clone(),
            Err(e) => panic!("body failed: {e}"),
        }
    }

    /// The body, gunzipped if the server said so.
    pub(crate) fn text(&self) -> String {
        let raw = self.bytes();
        let plain = if self.headers.get("content-encoding").is_some_and(|v| v == "gzip") {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&raw[..]).read_to_end(&mut out).expect("valid gzip");
            out
        } else {
            raw.to_vec()
        };
        String::from_utf8(plain).expect("utf-8 body")
    }

    /// Lines of the body; every line must end in `\n`.
    pub(crate) fn lines(&self) -> Vec<String> {
        let text = self.text();
        if text.is_empty() {
            return Vec::new();
        }
        assert!(text.ends_with('\n'), "body must end with a newline");
        text[..text.len() - 1].split('\n').map(str::to_owned).collect()
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.text()).expect("JSON body")
    }
}

pub(crate) fn basic(user: &str, pass: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{pass}")))
}

pub(crate) fn service_account() -> String {
    basic("mock-user", "mock-secret")
}

pub(crate) async fn send(
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, String)>,
) -> Resp {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.expect("handshake");
    tokio::spawn(async move {
        // The connection error (if any) surfaces through the body below.
        let _ = conn.await;
    });
    let mut req = Request::builder().method(method).uri(path).header("host", addr.to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let payload = match body {
        Some((content_type, text)) => {
            req = req.header("content-type", content_type);
            Bytes::from(text)
        }
        None => Bytes::new(),
    };
    let response = sender
        .send_request(req.body(Full::new(payload)).expect("request"))
        .await
        .expect("response head");
    let status = response.status();
    let headers = response.headers().clone();
    let body =
        response.into_body().collect().await.map(|c| c.to_bytes()).map_err(|e| e.to_string());
    Resp { status, headers, body }
}

pub(crate) async fn get(server: &MockServer, path: &str) -> Resp {
    let auth = service_account();
    send(
        server.addr(),
        Method::GET,
        path,
        &[("authorization", auth.as_str()), ("accept-encoding", "gzip")],
        None,
    )
    .await
}

pub(crate) fn export_path(from: NaiveDate, to: NaiveDate) -> String {
    format!("/api/2.0/export?from_date={from}&to_date={to}&project_id=1234")
}

pub(crate) async fn export(server: &MockServer, from: NaiveDate, to: NaiveDate) -> Resp {
    get(server, &export_path(from, to)).await
}

pub(crate) fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}
