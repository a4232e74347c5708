//! The raw event export: request, retries before the body starts, and the streamed body.

use std::time::Duration;

use chrono::NaiveDate;
use http::Method;
use http::header::CONTENT_ENCODING;

use crate::budget::Permit;
use crate::client::{Client, Prepared};
use crate::decoding::ContentDecoder;
use crate::error::{Error, Result, TimeoutPhase};
use crate::own_connection::{DrivenBody, IdleLimit, OwnResponse, next_frame};

/// Decompressed bytes handed out at once: big enough that handing a chunk to a decoding thread
/// costs nothing next to decoding it, small enough to keep several requests in flight cheaply.
const CHUNK_TARGET: usize = 1024 * 1024;

/// Parameters of one export request (`GET /api/2.0/export`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportRequest {
    /// First day, inclusive.
    pub from: NaiveDate,
    /// Last day, inclusive.
    pub to: NaiveDate,
    /// Only these event names; empty means all.
    pub events: Vec<String>,
    /// Segmentation expression (`where`).
    pub where_expr: Option<String>,
    /// At most this many events (Mixpanel allows up to 100 000).
    pub limit: Option<u32>,
    /// Ask for `time` in milliseconds instead of seconds.
    pub time_in_ms: bool,
}

impl ExportRequest {
    /// All events of the days `from..=to`.
    pub fn days(from: NaiveDate, to: NaiveDate) -> ExportRequest {
        ExportRequest {
            from,
            to,
            events: Vec::new(),
            where_expr: None,
            limit: None,
            time_in_ms: false,
        }
    }
}

impl Client {
    /// Opens one export request. Waits for the export budget, sends `Accept-Encoding: gzip`,
    /// retries 429 (Retry-After or backoff), 5xx and connection errors that happen before the
    /// body starts, per the retry policy. Failures while streaming are the caller's to retry.
    pub async fn export(&self, request: &ExportRequest) -> Result<ExportBody> {
        let prepared = self.prepare_export(request)?;
        let limit = self.inner.timeouts.export_first_byte;
        let mut attempt = 1;
        loop {
            let permit = self.inner.export_limiter.acquire().await;
            let sent = self.send_on_own_connection(&prepared, attempt);
            let error = match tokio::time::timeout(limit, sent).await {
                Ok(Ok(OwnResponse::Success { headers, body })) => {
                    return ExportBody::new(
                        &headers,
                        body,
                        permit,
                        prepared.label,
                        self.inner.timeouts.idle_read,
                    );
                }
                Ok(Ok(OwnResponse::Failure(response))) => {
                    self.error_from_response(response, &prepared).await
                }
                Ok(Err(error)) => error,
                Err(_) => Error::Timeout {
                    endpoint: prepared.label.as_str().into(),
                    phase: TimeoutPhase::FirstByte,
                    after: limit,
                },
            };
            drop(permit);
            self.pause_before_retry(error, &prepared, attempt).await?;
            attempt += 1;
        }
    }

    fn prepare_export(&self, request: &ExportRequest) -> Result<Prepared> {
        let mut url = self.inner.endpoints.export()?;
        self.add_project(&mut url);
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("from_date", &request.from.format("%Y-%m-%d").to_string());
            query.append_pair("to_date", &request.to.format("%Y-%m-%d").to_string());
            if !request.events.is_empty() {
                // A list of strings always serializes; the fallback only keeps this panic-free.
                let events = serde_json::to_string(&request.events).unwrap_or_default();
                query.append_pair("event", &events);
            }
            if let Some(expr) = &request.where_expr {
                query.append_pair("where", expr);
            }
            if let Some(limit) = request.limit {
                query.append_pair("limit", &limit.to_string());
            }
            if request.time_in_ms {
                query.append_pair("time_in_ms", "true");
            }
        }
        Ok(Prepared::new(Method::GET, url, None, true))
    }
}

/// A streaming export response; holds its budget slot until dropped.
#[derive(Debug)]
pub struct ExportBody {
    body: DrivenBody,
    decoder: ContentDecoder,
    endpoint: String,
    idle: IdleLimit,
    wire_bytes: u64,
    finished: bool,
    _permit: Permit,
}

impl ExportBody {
    fn new(
        headers: &http::HeaderMap,
        body: DrivenBody,
        permit: Permit,
        endpoint: String,
        idle_read: Duration,
    ) -> Result<ExportBody> {
        let encoding = headers.get(CONTENT_ENCODING).and_then(|v| v.to_str().ok());
        let Some(decoder) = ContentDecoder::for_encoding(encoding) else {
            return Err(Error::InvalidResponse {
                reason: format!("unsupported Content-Encoding {encoding:?}"),
                endpoint: endpoint.into(),
            });
        };
        tracing::debug!(endpoint = %endpoint, encoding = encoding.unwrap_or("identity"), "export body started");
        Ok(ExportBody {
            body,
            decoder,
            endpoint,
            idle: IdleLimit::new(idle_read),
            wire_bytes: 0,
            finished: false,
            _permit: permit,
        })
    }

    /// The request, for messages: method and path with query string, never credentials.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The next stretch of the body, decompressed (about 256 KiB, less at the end), cut
    /// wherever the network cut it: lines and UTF-8 characters may straddle chunks, so the
    /// caller frames lines (mpd frames them in `mpd_decode::StreamDecoder`). `Ok(None)` means
    /// the body is complete.
    ///
    /// Errors mid-body (connection reset, idle timeout, corrupt gzip) are retryable: the caller
    /// should restart the whole request. After an error the body is spent and further calls
    /// return `Ok(None)`.
    pub async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>> {
        if self.finished {
            return Ok(None);
        }
        let result = self.read_chunk().await;
        if result.is_err() {
            self.finished = true;
        }
        result
    }

    /// Compressed bytes received so far.
    pub fn bytes_received(&self) -> u64 {
        self.wire_bytes
    }

    async fn read_chunk(&mut self) -> Result<Option<Vec<u8>>> {
        let mut chunk = Vec::with_capacity(CHUNK_TARGET + (CHUNK_TARGET >> 2));
        loop {
            let frame = match next_frame(&mut self.body, &mut self.idle, &self.endpoint).await? {
                None => {
                    self.finished = true;
                    let tail = self.decoder.finish().map_err(|source| Error::Gzip {
                        endpoint: self.endpoint.as_str().into(),
                        source,
                    })?;
                    chunk.extend_from_slice(tail);
                    tracing::debug!(endpoint = %self.endpoint, wire_bytes = self.wire_bytes, "export body complete");
                    return Ok((!chunk.is_empty()).then_some(chunk));
                }
                Some(frame) => frame,
            };
            let Ok(data) = frame.into_data() else { continue };
            self.wire_bytes += data.len() as u64;
            let decoded = self.decoder.decode(&data).map_err(|source| Error::Gzip {
                endpoint: self.endpoint.as_str().into(),
                source,
            })?;
            chunk.extend_from_slice(decoded);
            if chunk.len() >= CHUNK_TARGET {
                return Ok(Some(chunk));
            }
        }
    }
}
