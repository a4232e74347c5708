//! Event lines to JSON-lines text (`mpd fetch events --stdout`): every line is validated like a
//! row of the `events` table, then written as Mixpanel sent it or as the normalised record.

use std::fmt;

use crate::batch::LineBatchBuilder;
use crate::error::LineError;
use crate::event::{EventDecoder, LineFormat, TimeCorrection};
use crate::write::write_event_json;

/// What [`EventTextBuilder`] writes for a good line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextShape {
    /// The line unchanged.
    Raw,
    /// The normalised record ([`write_event_json`]): the store's column names.
    Normalized,
}

/// Builds JSON-lines text from event lines, each ending in `\n`; a bad line writes nothing.
///
/// ```
/// use mpd_decode::{EventTextBuilder, LineBatchBuilder, LineFormat, TextShape, TimeCorrection};
///
/// let mut text = EventTextBuilder::new(LineFormat::Export, TimeCorrection::None, TextShape::Raw, 1 << 16);
/// text.push_line(br#"{"event":"A","properties":{"time":1700000000}}"#)?;
/// assert!(text.push_line(b"{oops").is_err());
/// assert_eq!(text.finish().unwrap(), b"{\"event\":\"A\",\"properties\":{\"time\":1700000000}}\n");
/// # Ok::<(), mpd_decode::LineError>(())
/// ```
pub struct EventTextBuilder {
    decoder: EventDecoder,
    shape: TextShape,
    out: Vec<u8>,
    rows: usize,
    batch_bytes: usize,
}

impl fmt::Debug for EventTextBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventTextBuilder")
            .field("shape", &self.shape)
            .field("rows", &self.rows)
            .field("bytes", &self.out.len())
            .finish_non_exhaustive()
    }
}

impl EventTextBuilder {
    /// A builder whose batches hold about `batch_bytes` bytes of text.
    #[must_use]
    pub fn new(
        format: LineFormat,
        correction: TimeCorrection,
        shape: TextShape,
        batch_bytes: usize,
    ) -> Self {
        Self {
            decoder: EventDecoder::new(format, correction),
            shape,
            out: Vec::with_capacity(batch_bytes.max(1) + (batch_bytes.max(1) >> 3)),
            rows: 0,
            batch_bytes: batch_bytes.max(1),
        }
    }
}

impl LineBatchBuilder for EventTextBuilder {
    type Batch = Vec<u8>;

    fn push_line(&mut self, line: &[u8]) -> Result<(), LineError> {
        let record = self.decoder.decode(line)?;
        match self.shape {
            TextShape::Raw => self.out.extend_from_slice(line),
            TextShape::Normalized => write_event_json(&record, &mut self.out),
        }
        self.out.push(b'\n');
        self.rows += 1;
        Ok(())
    }

    fn len(&self) -> usize {
        self.rows
    }

    fn is_full(&self) -> bool {
        self.out.len() >= self.batch_bytes
    }

    fn finish(&mut self) -> Option<Vec<u8>> {
        if self.rows == 0 {
            return None;
        }
        self.rows = 0;
        let capacity = self.out.capacity();
        Some(std::mem::replace(&mut self.out, Vec::with_capacity(capacity)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &[u8] =
        br#"{"event":"A","properties":{"time":1700000000,"distinct_id":"u","$insert_id":"x"}}"#;

    #[test]
    fn normalized_text_uses_the_store_columns() {
        let mut text = EventTextBuilder::new(
            LineFormat::Export,
            TimeCorrection::None,
            TextShape::Normalized,
            8,
        );
        text.push_line(LINE).unwrap();
        assert!(text.is_full());
        let out = String::from_utf8(text.finish().unwrap()).unwrap();
        assert!(out.starts_with(r#"{"event_name":"A","time":"2023-11-14T22:13:20"#), "{out}");
        assert!(out.ends_with("}\n"));
        assert_eq!(text.finish(), None);
    }

    #[test]
    fn a_bad_line_writes_nothing() {
        let mut text =
            EventTextBuilder::new(LineFormat::Export, TimeCorrection::None, TextShape::Raw, 1024);
        assert!(text.push_line(br#"{"event":"A"}"#).is_err());
        assert!(text.is_empty());
        assert_eq!(text.finish(), None);
    }
}
