//! Local files as byte chunks for the line decoder: plain or gzipped JSON lines, read in large
//! pieces (never whole), as pipelines files and export dumps arrive.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use mpd_decode::{BadLine, LineBatchBuilder, StreamDecoder};

use crate::error::{Error, Result};

/// Bytes read (and gunzipped) at once.
const CHUNK_BYTES: usize = 1 << 20;

/// A file's content, a chunk at a time.
pub(crate) struct FileChunks {
    path: PathBuf,
    reader: Box<dyn Read + Send>,
    /// The chunk being handed out, reused: a fresh buffer a chunk cost the import 5% of its
    /// CPU in zeroing, page faults and reads into cold memory (docs/PERFORMANCE.md).
    chunk: Vec<u8>,
}

/// The first bytes of every gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

impl FileChunks {
    /// Opens `path`; gzip content is gunzipped (several gzip members are read as one), whatever
    /// the file is called.
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| read_error(path, &e))?;
        Self::from_reader(path.to_path_buf(), Box::new(file))
    }

    /// Reads `reader` (standard input, say), gunzipping gzip content; `name` stands for it in
    /// messages.
    pub(crate) fn from_reader(name: PathBuf, reader: Box<dyn Read + Send>) -> Result<Self> {
        let mut reader = BufReader::with_capacity(CHUNK_BYTES, reader);
        let head = std::io::BufRead::fill_buf(&mut reader).map_err(|e| read_error(&name, &e))?;
        let reader: Box<dyn Read + Send> = if head.starts_with(&GZIP_MAGIC) {
            Box::new(flate2::bufread::MultiGzDecoder::new(reader))
        } else {
            Box::new(reader)
        };
        Ok(Self { path: name, reader, chunk: vec![0; CHUNK_BYTES] })
    }

    /// The next chunk, `None` at the end.
    pub(crate) fn next_chunk(&mut self) -> Result<Option<&[u8]>> {
        let mut filled = 0;
        while filled < self.chunk.len() {
            match self.reader.read(&mut self.chunk[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(read_error(&self.path, &e)),
            }
        }
        Ok((filled > 0).then(|| &self.chunk[..filled]))
    }
}

fn read_error(path: &Path, source: &std::io::Error) -> Error {
    let what = if source.kind() == std::io::ErrorKind::InvalidInput
        || source.kind() == std::io::ErrorKind::InvalidData
        || source.kind() == std::io::ErrorKind::UnexpectedEof
    {
        "is not valid gzip"
    } else {
        "cannot be read"
    };
    Error::Unreadable(format!("{} {what}: {source}", path.display()))
}

/// A decoder's failure on a file, naming the file.
pub(crate) fn decode_error(path: &Path, error: &mpd_decode::Error) -> Error {
    Error::Unreadable(format!("{}: {error}", path.display()))
}

/// Decodes a whole input through `decoder` (which then starts a new input), handing each batch
/// to `on_batch`; returns the input's bad lines.
pub(crate) fn decode_chunks<B: LineBatchBuilder>(
    mut chunks: FileChunks,
    decoder: &mut StreamDecoder<B>,
    mut on_batch: impl FnMut(B::Batch),
) -> Result<Vec<BadLine>> {
    let path = chunks.path.clone();
    let path = path.as_path();
    let mut batches = Vec::new();
    while let Some(chunk) = chunks.next_chunk()? {
        decoder.feed_into(chunk, &mut batches).map_err(|e| decode_error(path, &e))?;
        batches.drain(..).for_each(&mut on_batch);
    }
    if let Some(last) = decoder.finish().map_err(|e| decode_error(path, &e))? {
        on_batch(last);
    }
    Ok(decoder.take_bad_lines())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn gzipped_and_plain_files_read_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let text: String = (0..50_000).map(|i| format!("line {i}\n")).collect();
        std::fs::write(dir.path().join("a.json"), &text).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(text.as_bytes()).unwrap();
        std::fs::write(dir.path().join("a.json.gz"), gz.finish().unwrap()).unwrap();
        for name in ["a.json", "a.json.gz"] {
            let mut chunks = FileChunks::open(&dir.path().join(name)).unwrap();
            let mut all: Vec<u8> = Vec::new();
            while let Some(chunk) = chunks.next_chunk().unwrap() {
                all.extend(chunk);
            }
            assert_eq!(all, text.as_bytes(), "{name}");
        }
    }

    #[test]
    fn gzip_is_recognised_by_its_content() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"a\nb\n").unwrap();
        let reader = Box::new(std::io::Cursor::new(gz.finish().unwrap()));
        let mut chunks = FileChunks::from_reader("-".into(), reader).unwrap();
        assert_eq!(chunks.next_chunk().unwrap().unwrap(), b"a\nb\n");
        assert_eq!(chunks.next_chunk().unwrap(), None);
    }

    #[test]
    fn a_missing_or_corrupt_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = FileChunks::open(&dir.path().join("nope.json")).err().unwrap();
        assert!(missing.to_string().contains("nope.json cannot be read"), "{missing}");
        std::fs::write(dir.path().join("bad.json.gz"), b"\x1f\x8bnot gzip after all").unwrap();
        let mut chunks = FileChunks::open(&dir.path().join("bad.json.gz")).unwrap();
        let error = chunks.next_chunk().unwrap_err();
        assert!(error.to_string().contains("bad.json.gz is not valid gzip"), "{error}");
    }
}
