//! Streaming removal of the response's `Content-Encoding`.

use std::io::{self, Write};

use flate2::write::GzDecoder;

/// The body's content coding, decoded chunk by chunk.
#[derive(Debug)]
pub(crate) enum ContentDecoder {
    Identity,
    Gzip { decoder: Box<GzDecoder<Vec<u8>>>, fed: bool },
}

impl ContentDecoder {
    /// Picks a decoder for a `Content-Encoding` value; `None` for codings this client never asks for.
    pub(crate) fn for_encoding(encoding: Option<&str>) -> Option<ContentDecoder> {
        match encoding.map(|e| e.trim().to_ascii_lowercase()).as_deref() {
            None | Some("" | "identity") => Some(ContentDecoder::Identity),
            Some("gzip" | "x-gzip") => Some(ContentDecoder::Gzip {
                decoder: Box::new(GzDecoder::new(Vec::new())),
                fed: false,
            }),
            Some(_) => None,
        }
    }

    /// Decodes one wire chunk; the returned bytes are valid until the next call.
    pub(crate) fn decode<'a>(&'a mut self, chunk: &'a [u8]) -> io::Result<&'a [u8]> {
        match self {
            ContentDecoder::Identity => Ok(chunk),
            ContentDecoder::Gzip { decoder, fed } => {
                decoder.get_mut().clear();
                if !chunk.is_empty() {
                    *fed = true;
                    decoder.write_all(chunk)?;
                    // The decoder keeps output in an internal buffer until flushed.
                    decoder.flush()?;
                }
                Ok(decoder.get_ref())
            }
        }
    }

    /// Ends the stream: checks the gzip trailer and returns the last decoded bytes.
    pub(crate) fn finish(&mut self) -> io::Result<&[u8]> {
        match self {
            ContentDecoder::Identity => Ok(&[]),
            ContentDecoder::Gzip { decoder, fed } => {
                decoder.get_mut().clear();
                // An empty body labelled gzip carries no data, not a corrupt stream.
                if *fed {
                    decoder.try_finish()?;
                }
                Ok(decoder.get_ref())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(data).expect("in-memory write");
        encoder.finish().expect("in-memory finish")
    }

    fn sample() -> Vec<u8> {
        (0..2000).flat_map(|i| format!("{{\"n\":{i},\"s\":\"日本😀\"}}\n").into_bytes()).collect()
    }

    fn run(decoder: &mut ContentDecoder, chunks: &[&[u8]]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        for chunk in chunks {
            out.extend_from_slice(decoder.decode(chunk)?);
        }
        out.extend_from_slice(decoder.finish()?);
        Ok(out)
    }

    #[test]
    fn gzip_in_tiny_chunks_round_trips() {
        let plain = sample();
        let compressed = gzip(&plain);
        for size in [1, 2, 3, 7, 64, 4096, compressed.len()] {
            let chunks: Vec<&[u8]> = compressed.chunks(size).collect();
            let mut decoder = ContentDecoder::for_encoding(Some("gzip")).expect("known coding");
            assert_eq!(run(&mut decoder, &chunks).expect("valid gzip"), plain, "chunk size {size}");
        }
    }

    #[test]
    fn truncated_gzip_is_an_error() {
        let compressed = gzip(&sample());
        let cut = &compressed[..compressed.len() / 2];
        let mut decoder = ContentDecoder::for_encoding(Some("GZIP")).expect("known coding");
        assert!(run(&mut decoder, &[cut]).is_err());
        let no_trailer = &compressed[..compressed.len() - 4];
        let mut decoder = ContentDecoder::for_encoding(Some("gzip")).expect("known coding");
        assert!(run(&mut decoder, &[no_trailer]).is_err());
    }

    #[test]
    fn corrupt_gzip_is_an_error() {
        let mut compressed = gzip(&sample());
        let mid = compressed.len() / 2;
        for byte in &mut compressed[mid..mid + 16] {
            *byte ^= 0x5a;
        }
        let mut decoder = ContentDecoder::for_encoding(Some("gzip")).expect("known coding");
        assert!(run(&mut decoder, &[&compressed]).is_err());
    }

    #[test]
    fn identity_and_empty_bodies() {
        let mut decoder = ContentDecoder::for_encoding(None).expect("identity");
        assert_eq!(run(&mut decoder, &[b"ab", b"c"]).expect("identity"), b"abc");
        let mut decoder = ContentDecoder::for_encoding(Some("gzip")).expect("known coding");
        assert_eq!(run(&mut decoder, &[]).expect("empty"), b"");
        assert!(ContentDecoder::for_encoding(Some("br")).is_none());
    }
}
