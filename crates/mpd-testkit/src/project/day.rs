//! One day's export body, kept as a single `Bytes` plus line offsets so serving it is a
//! matter of slicing, not formatting.

use bytes::Bytes;

/// Where one line sits in a [`DayData`] body, and the event time it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LineSpan {
    pub(crate) start: usize,
    /// Exclusive, before the line's `\n`.
    pub(crate) end: usize,
    pub(crate) time_ms: i64,
}

/// A day's body: every line followed by `\n`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct DayData {
    pub(crate) bytes: Bytes,
    pub(crate) lines: Vec<LineSpan>,
}

impl DayData {
    #[cfg(test)]
    pub(crate) fn line(&self, i: usize) -> &[u8] {
        self.lines.get(i).and_then(|s| self.bytes.get(s.start..s.end)).unwrap_or_default()
    }

    pub(crate) fn iter_lines(&self) -> impl Iterator<Item = (&[u8], LineSpan)> {
        self.lines.iter().map(|s| (self.bytes.get(s.start..s.end).unwrap_or_default(), *s))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

/// Accumulates lines into a [`DayData`].
#[derive(Debug, Default)]
pub(crate) struct DayBuilder {
    buf: Vec<u8>,
    lines: Vec<LineSpan>,
}

impl DayBuilder {
    pub(crate) fn with_capacity(bytes: usize, lines: usize) -> Self {
        Self { buf: Vec::with_capacity(bytes), lines: Vec::with_capacity(lines) }
    }

    /// Appends `line` (without its `\n`) as one record.
    pub(crate) fn push(&mut self, line: &[u8], time_ms: i64) {
        let start = self.buf.len();
        self.buf.extend_from_slice(line);
        self.lines.push(LineSpan { start, end: self.buf.len(), time_ms });
        self.buf.push(b'\n');
    }

    pub(crate) fn len(&self) -> usize {
        self.lines.len()
    }

    pub(crate) fn finish(self) -> DayData {
        DayData { bytes: Bytes::from(self.buf), lines: self.lines }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_keeps_lines_addressable() {
        let mut b = DayBuilder::default();
        b.push(b"{\"a\":1}", 10);
        b.push("{\"b\":\"東京\"}".as_bytes(), 20);
        let d = b.finish();
        assert_eq!(&d.bytes[..], "{\"a\":1}\n{\"b\":\"東京\"}\n".as_bytes());
        assert_eq!(d.line(1), "{\"b\":\"東京\"}".as_bytes());
        assert_eq!(d.line(2), b"");
        let times: Vec<i64> = d.iter_lines().map(|(_, s)| s.time_ms).collect();
        assert_eq!(times, [10, 20]);
    }
}
