//! Turns the physical lines of an export body into records, re-joining a record that arrived
//! split across two lines and setting aside lines that are not records.

use mpd_decode::EventDecoder;

/// A line that is not a record, with where it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadLine {
    pub(crate) line: u64,
    pub(crate) reason: String,
    pub(crate) text: Vec<u8>,
}

/// What a good record should become in the text output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OutputShape {
    /// The export line as Mixpanel sent it.
    Raw,
    /// The normalised record with PRODUCT.md §3 column names.
    Normalized,
}

/// Where accepted records go: a line either becomes one record, or is refused with a reason
/// and leaves nothing behind.
pub(crate) trait RecordSink {
    fn accept(&mut self, line: &[u8]) -> Result<(), String>;
}

/// Records as JSON lines (`--stdout`).
pub(crate) struct TextSink {
    decoder: EventDecoder,
    shape: OutputShape,
    pub(crate) out: Vec<u8>,
}

impl TextSink {
    pub(crate) fn new(shape: OutputShape) -> Self {
        Self {
            decoder: EventDecoder::new(
                mpd_decode::LineFormat::Export,
                mpd_decode::TimeCorrection::None,
            ),
            shape,
            out: Vec::with_capacity(1 << 16),
        }
    }
}

impl RecordSink for TextSink {
    fn accept(&mut self, line: &[u8]) -> Result<(), String> {
        let record = self.decoder.decode(line).map_err(|e| e.to_string())?;
        match self.shape {
            OutputShape::Raw => self.out.extend_from_slice(line),
            OutputShape::Normalized => mpd_decode::write_event_json(&record, &mut self.out),
        }
        self.out.push(b'\n');
        Ok(())
    }
}

/// Records as rows of `events` batches (fetch into a table).
impl RecordSink for mpd_decode::EventBatchBuilder {
    fn accept(&mut self, line: &[u8]) -> Result<(), String> {
        self.push_line(line).map_err(|e| e.to_string())
    }
}

/// Feeds physical lines one at a time into a [`RecordSink`], re-joining a record split across
/// two lines and setting aside lines that are not records.
#[derive(Default)]
pub(crate) struct LineAssembler {
    pending: Option<(u64, Vec<u8>, String)>,
    joined: Vec<u8>,
}

impl LineAssembler {
    /// Handles one physical line. Returns the number of records accepted (0 or 1; a re-joined
    /// record counts once) and pushes lines that are definitely bad onto `bad`.
    pub(crate) fn push(
        &mut self,
        number: u64,
        line: &[u8],
        sink: &mut impl RecordSink,
        bad: &mut Vec<BadLine>,
    ) -> u64 {
        let Some((pending_number, pending_text, pending_reason)) = self.pending.take() else {
            return self.accept_or_hold(number, line, sink);
        };
        if sink.accept(line).is_ok() {
            bad.push(BadLine { line: pending_number, reason: pending_reason, text: pending_text });
            return 1;
        }
        let mut joined = std::mem::take(&mut self.joined);
        joined.clear();
        joined.extend_from_slice(&pending_text);
        joined.extend_from_slice(line);
        let accepted = sink.accept(&joined).is_ok();
        self.joined = joined;
        if accepted {
            tracing::debug!(line = pending_number, "re-joined a record split across two lines");
            return 1;
        }
        bad.push(BadLine { line: pending_number, reason: pending_reason, text: pending_text });
        self.accept_or_hold(number, line, sink)
    }

    /// Ends the body: a line still held is bad.
    pub(crate) fn finish(&mut self, bad: &mut Vec<BadLine>) {
        if let Some((line, text, reason)) = self.pending.take() {
            bad.push(BadLine { line, reason, text });
        }
    }

    fn accept_or_hold(&mut self, number: u64, line: &[u8], sink: &mut impl RecordSink) -> u64 {
        match sink.accept(line) {
            Ok(()) => 1,
            Err(reason) => {
                self.pending = Some((number, line.to_vec(), reason));
                0
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD_A: &str =
        r#"{"event":"A","properties":{"time":1704067200,"distinct_id":"u1","$insert_id":"i1"}}"#;
    const GOOD_B: &str =
        r#"{"event":"B","properties":{"time":1704067201,"distinct_id":"u2","$insert_id":"i2"}}"#;

    fn run(lines: &[&str]) -> (String, Vec<BadLine>, u64) {
        let mut assembler = LineAssembler::default();
        let mut sink = TextSink::new(OutputShape::Raw);
        let mut bad = Vec::new();
        let mut n = 0;
        for (i, line) in lines.iter().enumerate() {
            n += assembler.push(i as u64 + 1, line.as_bytes(), &mut sink, &mut bad);
        }
        assembler.finish(&mut bad);
        (String::from_utf8(sink.out).unwrap(), bad, n)
    }

    #[test]
    fn good_lines_pass_through_unchanged() {
        let (out, bad, n) = run(&[GOOD_A, GOOD_B]);
        assert_eq!(out, format!("{GOOD_A}\n{GOOD_B}\n"));
        assert!(bad.is_empty());
        assert_eq!(n, 2);
    }

    #[test]
    fn a_record_split_in_two_is_rejoined() {
        let (head, tail) = GOOD_B.split_at(30);
        let (out, bad, n) = run(&[GOOD_A, head, tail]);
        assert_eq!(out, format!("{GOOD_A}\n{GOOD_B}\n"));
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!(n, 2);
    }

    #[test]
    fn garbage_between_records_is_set_aside_with_its_line_number() {
        let (out, bad, n) = run(&[GOOD_A, r#"{"event":"Broken","properties":{"#, GOOD_B]);
        assert_eq!(out, format!("{GOOD_A}\n{GOOD_B}\n"));
        assert_eq!(n, 2);
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].line, 2);
        assert!(!bad[0].reason.is_empty());
    }

    #[test]
    fn two_garbage_lines_in_a_row_and_one_at_the_end_are_all_bad() {
        let (out, bad, _) = run(&["nope", "still nope", GOOD_A, "tail"]);
        assert_eq!(out, format!("{GOOD_A}\n"));
        let lines: Vec<u64> = bad.iter().map(|b| b.line).collect();
        assert_eq!(lines, vec![1, 2, 4]);
    }
}
