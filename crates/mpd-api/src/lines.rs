//! Incremental splitting of a byte stream into numbered lines.
//!
//! Splitting happens on raw bytes, so a multi-byte UTF-8 character cut by a chunk boundary is
//! simply carried over with the rest of its line.

use std::ops::Range;

/// Complete lines from one stretch of the body, in one contiguous buffer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineBatch {
    buf: Vec<u8>,
    spans: Vec<Span>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Span {
    number: u64,
    start: usize,
    end: usize,
}

/// One non-empty line, without its `\n` and trailing `\r`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line<'a> {
    /// 1-based physical line number in the response body (blank lines count).
    pub number: u64,
    /// The line's bytes.
    pub bytes: &'a [u8],
}

impl LineBatch {
    /// The non-empty lines, in body order.
    pub fn iter(&self) -> impl Iterator<Item = Line<'_>> {
        self.spans.iter().map(|s| Line { number: s.number, bytes: &self.buf[s.start..s.end] })
    }

    /// Number of non-empty lines.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether the batch holds no non-empty line.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The raw buffer: whole physical lines, each ending in `\n` except possibly the body's last.
    /// Useful to hand a batch to a push decoder in one piece.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Takes the raw buffer (see [`LineBatch::as_bytes`]).
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

/// Why the splitter refused a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SplitError {
    /// A line grew past the limit; carries its line number.
    TooLong(u64),
}

/// Accumulates bytes and cuts them into batches of whole lines.
#[derive(Debug)]
pub(crate) struct LineSplitter {
    pending: Vec<u8>,
    /// One past the last `\n` in `pending`, or 0 when it has none.
    complete: usize,
    /// Number of the first line in `pending`.
    next_number: u64,
    target: usize,
    max_line: usize,
}

impl LineSplitter {
    /// `target`: batch size to aim for in bytes; `max_line`: longest line accepted.
    pub(crate) fn new(target: usize, max_line: usize) -> LineSplitter {
        LineSplitter { pending: Vec::new(), complete: 0, next_number: 1, target, max_line }
    }

    /// Adds bytes; returns a batch once at least `target` bytes of whole lines are buffered.
    pub(crate) fn push(&mut self, chunk: &[u8]) -> Result<Option<LineBatch>, SplitError> {
        self.extend(chunk)?;
        Ok(self.take_ready())
    }

    /// Adds bytes without cutting a batch.
    pub(crate) fn extend(&mut self, chunk: &[u8]) -> Result<(), SplitError> {
        let base = self.pending.len();
        self.pending.extend_from_slice(chunk);
        if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
            self.complete = base + i + 1;
        }
        if self.pending.len() - self.complete > self.max_line {
            let whole_lines = bytecount_newlines(&self.pending[..self.complete]);
            return Err(SplitError::TooLong(self.next_number + whole_lines));
        }
        Ok(())
    }

    /// Cuts a batch if at least `target` bytes of whole lines are buffered.
    pub(crate) fn take_ready(&mut self) -> Option<LineBatch> {
        if self.complete > 0 && self.complete >= self.target {
            self.cut(self.complete)
        } else {
            None
        }
    }

    /// Returns everything still buffered at the end of the body, the final unterminated line too.
    pub(crate) fn finish(&mut self) -> Option<LineBatch> {
        let all = self.pending.len();
        if all == 0 {
            return None;
        }
        self.cut(all)
    }

    /// Splits off `pending[..end]` as a batch; `None` if it holds only blank lines.
    fn cut(&mut self, end: usize) -> Option<LineBatch> {
        if end == 0 {
            return None;
        }
        let rest = self.pending.split_off(end);
        let buf = std::mem::replace(&mut self.pending, rest);
        self.complete = 0;
        let mut spans = Vec::new();
        let mut start = 0;
        for (i, line) in buf.split(|&b| b == b'\n').enumerate() {
            let end = start + line.len();
            let range = trimmed(&buf, start..end);
            if !range.is_empty() {
                spans.push(Span { number: self.next_number + i as u64, start, end: range.end });
            }
            start = end + 1;
        }
        // `split` yields one piece more than there are newlines; a trailing newline leaves an
        // empty last piece that is not a line.
        let newlines = bytecount_newlines(&buf);
        let lines = if buf.last() == Some(&b'\n') { newlines } else { newlines + 1 };
        self.next_number += lines;
        if spans.is_empty() { None } else { Some(LineBatch { buf, spans }) }
    }
}

/// Drops one trailing `\r`.
fn trimmed(buf: &[u8], range: Range<usize>) -> Range<usize> {
    if range.end > range.start && buf[range.end - 1] == b'\r' {
        range.start..range.end - 1
    } else {
        range
    }
}

fn bytecount_newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

/// Whether a line is Mixpanel's truncation marker (`terminated early` / `export terminated early`).
pub(crate) fn is_terminated_early(line: &[u8]) -> bool {
    // Markers are short; skip the trim for ordinary event lines.
    if line.len() > 64 {
        return false;
    }
    let trimmed = line.trim_ascii();
    trimmed.eq_ignore_ascii_case(b"terminated early")
        || trimmed.eq_ignore_ascii_case(b"export terminated early")
}

#[cfg(test)]
mod tests {
    use super::*;

    type Owned = Vec<(u64, Vec<u8>)>;

    fn collect(batches: &[LineBatch]) -> Owned {
        batches.iter().flat_map(|b| b.iter().map(|l| (l.number, l.bytes.to_vec()))).collect()
    }

    fn split(chunks: &[&[u8]], target: usize) -> Owned {
        let mut splitter = LineSplitter::new(target, 1 << 20);
        let mut batches = Vec::new();
        for chunk in chunks {
            if let Some(batch) = splitter.push(chunk).expect("within limit") {
                batches.push(batch);
            }
        }
        batches.extend(splitter.finish());
        collect(&batches)
    }

    const BODY: &str = "{\"a\":\"é日本\"}\r\n\n{\"b\":2}\n  \n\r\n{\"c\":\"😀\"}\n{\"d\":4}";

    fn expected() -> Owned {
        vec![
            (1, "{\"a\":\"é日本\"}".as_bytes().to_vec()),
            (3, b"{\"b\":2}".to_vec()),
            (4, b"  ".to_vec()),
            (6, "{\"c\":\"😀\"}".as_bytes().to_vec()),
            (7, b"{\"d\":4}".to_vec()),
        ]
    }

    #[test]
    fn whole_body_in_one_chunk() {
        for target in [0, 1, 16, 1 << 16] {
            assert_eq!(split(&[BODY.as_bytes()], target), expected(), "target {target}");
        }
    }

    #[test]
    fn every_split_point_gives_the_same_lines() {
        let body = BODY.as_bytes();
        for at in 0..=body.len() {
            for target in [0, 8, 1 << 16] {
                let (a, b) = body.split_at(at);
                assert_eq!(split(&[a, b], target), expected(), "split at {at}, target {target}");
            }
        }
    }

    #[test]
    fn every_pair_of_split_points_gives_the_same_lines() {
        let body = BODY.as_bytes();
        for i in 0..=body.len() {
            for j in i..=body.len() {
                let chunks = [&body[..i], &body[i..j], &body[j..]];
                assert_eq!(split(&chunks, 4), expected(), "split at {i} and {j}");
            }
        }
    }

    #[test]
    fn one_byte_chunks() {
        let chunks: Vec<&[u8]> = BODY.as_bytes().chunks(1).collect();
        for target in [0, 5, 1 << 16] {
            assert_eq!(split(&chunks, target), expected(), "target {target}");
        }
    }

    #[test]
    fn multibyte_characters_come_out_whole() {
        let body = "😀😀\n日本\n".as_bytes();
        for at in 0..=body.len() {
            let (a, b) = body.split_at(at);
            let lines = split(&[a, b], 0);
            let texts: Vec<&str> =
                lines.iter().map(|(_, l)| std::str::from_utf8(l).expect("whole utf-8")).collect();
            assert_eq!(texts, ["😀😀", "日本"], "split at {at}");
        }
    }

    #[test]
    fn final_newline_is_optional_and_blank_bodies_are_empty() {
        assert_eq!(split(&[b"x\ny\n"], 0), vec![(1, b"x".to_vec()), (2, b"y".to_vec())]);
        assert_eq!(split(&[b"x\ny"], 0), vec![(1, b"x".to_vec()), (2, b"y".to_vec())]);
        assert!(split(&[b""], 0).is_empty());
        assert!(split(&[b"\n\r\n\n"], 0).is_empty());
    }

    #[test]
    fn batches_expose_their_raw_buffer() {
        let mut splitter = LineSplitter::new(0, 1024);
        let batch = splitter.push(b"a\nb\nc").expect("ok").expect("batch");
        assert_eq!(batch.as_bytes(), b"a\nb\n");
        assert_eq!(batch.len(), 2);
        let last = splitter.finish().expect("final line");
        assert_eq!(last.into_bytes(), b"c");
    }

    #[test]
    fn overlong_line_is_refused_with_its_number() {
        let mut splitter = LineSplitter::new(1 << 20, 8);
        assert_eq!(splitter.push(b"a\nb\n").ok(), Some(None));
        assert_eq!(splitter.push(b"0123456789"), Err(SplitError::TooLong(3)));
    }

    #[test]
    fn terminated_early_markers() {
        assert!(is_terminated_early(b"terminated early"));
        assert!(is_terminated_early(b"  export terminated early \r"));
        assert!(!is_terminated_early(b"{\"event\":\"terminated early\"}"));
        assert!(!is_terminated_early(b"terminated"));
    }
}
