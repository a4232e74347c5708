//! Response bodies: whole buffers, or a channel fed by a task that streams a body in
//! fixed-size chunks (optionally gzipped on the fly, optionally cut off mid-way).

use std::io::{self, Write};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use flate2::Compression;
use flate2::write::GzEncoder;
use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::mpsc;

type Chunk = Result<Bytes, io::Error>;

/// Body of every mock response.
#[derive(Debug)]
pub(crate) struct MockBody(Inner);

#[derive(Debug)]
enum Inner {
    Full(Option<Bytes>),
    Channel(mpsc::Receiver<Chunk>),
}

impl MockBody {
    pub(crate) fn full(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        Self(Inner::Full((!bytes.is_empty()).then_some(bytes)))
    }

    pub(crate) fn empty() -> Self {
        Self(Inner::Full(None))
    }
}

impl Body for MockBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match &mut self.get_mut().0 {
            Inner::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Inner::Channel(rx) => rx.poll_recv(cx).map(|c| c.map(|r| r.map(Frame::data))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.0, Inner::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match &self.0 {
            Inner::Full(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
            Inner::Channel(_) => SizeHint::default(),
        }
    }
}

/// How to stream a body.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StreamPlan {
    pub(crate) chunk_bytes: usize,
    pub(crate) gzip: bool,
    /// Abort the connection after this many (uncompressed) bytes.
    pub(crate) cut_after: Option<usize>,
}

/// Starts a task streaming `segments` (in order) and returns the body it feeds.
pub(crate) fn stream(
    segments: impl Iterator<Item = Bytes> + Send + 'static,
    plan: StreamPlan,
) -> MockBody {
    let (tx, rx) = mpsc::channel(32);
    tokio::spawn(async move {
        let mut out = Chunker::new(plan.chunk_bytes, tx);
        // Ok(()) = finished; Err(()) = the client went away, nothing left to do.
        let _ = if plan.gzip {
            feed_gzip(segments, plan.cut_after, &mut out).await
        } else {
            feed_plain(segments, plan.cut_after, &mut out).await
        };
    });
    MockBody(Inner::Channel(rx))
}

async fn feed_plain(
    segments: impl Iterator<Item = Bytes>,
    cut: Option<usize>,
    out: &mut Chunker,
) -> Result<(), ()> {
    let mut left = cut.unwrap_or(usize::MAX);
    for segment in segments {
        let take = segment.len().min(left);
        out.push(segment.slice(..take)).await?;
        left -= take;
        if left == 0 && cut.is_some() {
            return out.abort().await;
        }
    }
    if cut.is_some() {
        return out.abort().await;
    }
    out.finish().await
}

async fn feed_gzip(
    segments: impl Iterator<Item = Bytes>,
    cut: Option<usize>,
    out: &mut Chunker,
) -> Result<(), ()> {
    // Small input steps keep compressed output flowing instead of arriving at the very end.
    const STEP: usize = 64 * 1024;
    let mut enc = GzEncoder::new(Vec::with_capacity(STEP), Compression::fast());
    let mut left = cut.unwrap_or(usize::MAX);
    for segment in segments {
        for piece in segment.chunks(STEP) {
            let take = piece.len().min(left);
            // Writing into a Vec cannot fail.
            let _ = enc.write_all(&piece[..take]);
            left -= take;
            let produced = std::mem::take(enc.get_mut());
            out.push(Bytes::from(produced)).await?;
            if left == 0 && cut.is_some() {
                let _ = enc.flush();
                out.push(Bytes::from(std::mem::take(enc.get_mut()))).await?;
                return out.abort().await;
            }
        }
    }
    let tail = enc.finish().unwrap_or_default();
    out.push(Bytes::from(tail)).await?;
    out.finish().await
}

/// Re-cuts a byte stream into chunks of exactly `size` (the last may be shorter); slices
/// without copying whenever a chunk lies inside one input buffer.
struct Chunker {
    size: usize,
    pending: BytesMut,
    tx: mpsc::Sender<Chunk>,
}

impl Chunker {
    fn new(size: usize, tx: mpsc::Sender<Chunk>) -> Self {
        Self { size: size.max(1), pending: BytesMut::new(), tx }
    }

    async fn send(&self, chunk: Chunk) -> Result<(), ()> {
        self.tx.send(chunk).await.map_err(|_| ())
    }

    async fn push(&mut self, mut data: Bytes) -> Result<(), ()> {
        if !self.pending.is_empty() {
            let need = self.size - self.pending.len();
            let take = need.min(data.len());
            self.pending.extend_from_slice(&data.split_to(take));
            if self.pending.len() < self.size {
                return Ok(());
            }
            let full = self.pending.split().freeze();
            self.send(Ok(full)).await?;
        }
        while data.len() >= self.size {
            let chunk = data.split_to(self.size);
            self.send(Ok(chunk)).await?;
        }
        self.pending.extend_from_slice(&data);
        Ok(())
    }

    async fn finish(&mut self) -> Result<(), ()> {
        if !self.pending.is_empty() {
            let rest = self.pending.split().freeze();
            self.send(Ok(rest)).await?;
        }
        Ok(())
    }

    /// Sends what is pending, then an error: hyper drops the connection without ending the
    /// chunked body, so the client sees an incomplete message rather than a clean end.
    async fn abort(&mut self) -> Result<(), ()> {
        self.finish().await?;
        let err = io::Error::new(io::ErrorKind::ConnectionAborted, "mock: injected disconnect");
        self.send(Err(err)).await
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use http_body_util::BodyExt;

    use super::*;

    async fn collect(body: MockBody) -> (Vec<usize>, Vec<u8>, bool) {
        let mut body = body;
        let mut sizes = Vec::new();
        let mut all = Vec::new();
        while let Some(frame) = body.frame().await {
            match frame {
                Ok(f) => {
                    if let Ok(data) = f.into_data() {
                        sizes.push(data.len());
                        all.extend_from_slice(&data);
                    }
                }
                Err(_) => return (sizes, all, true),
            }
        }
        (sizes, all, false)
    }

    fn segments() -> Vec<Bytes> {
        vec![Bytes::from("a".repeat(10)), Bytes::from("b".repeat(3)), Bytes::from("c".repeat(20))]
    }

    #[tokio::test]
    async fn plain_stream_is_rechunked_exactly() {
        let plan = StreamPlan { chunk_bytes: 7, gzip: false, cut_after: None };
        let (sizes, all, failed) = collect(stream(segments().into_iter(), plan)).await;
        assert!(!failed);
        assert_eq!(sizes, [7, 7, 7, 7, 5]);
        assert_eq!(
            all,
            format!("{}{}{}", "a".repeat(10), "b".repeat(3), "c".repeat(20)).as_bytes()
        );
    }

    #[tokio::test]
    async fn cut_stream_ends_with_an_error() {
        let plan = StreamPlan { chunk_bytes: 4, gzip: false, cut_after: Some(12) };
        let (_, all, failed) = collect(stream(segments().into_iter(), plan)).await;
        assert!(failed);
        assert_eq!(all.len(), 12);
    }

    #[tokio::test]
    async fn gzip_stream_decompresses_to_the_input() {
        let big: Vec<Bytes> = (0..50)
            .map(|i| Bytes::from(format!("line {i} São Paulo 東京\n").repeat(200)))
            .collect();
        let expected: Vec<u8> = big.iter().flat_map(|b| b.to_vec()).collect();
        let plan = StreamPlan { chunk_bytes: 4093, gzip: true, cut_after: None };
        let (sizes, all, failed) = collect(stream(big.into_iter(), plan)).await;
        assert!(!failed);
        assert!(sizes[..sizes.len() - 1].iter().all(|s| *s == 4093));
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&all[..]).read_to_end(&mut plain).unwrap();
        assert_eq!(plain, expected);
    }

    #[test]
    fn full_body_reports_its_size() {
        assert_eq!(MockBody::full("abc").size_hint().exact(), Some(3));
        assert!(MockBody::empty().is_end_stream());
        assert!(MockBody::full("").is_end_stream());
    }
}
