//! A push decoder over raw JSON-lines bytes: feed chunks of any size, get batches.

use std::fmt;

use crate::batch::{
    EventBatchBuilder, IdentityBatchBuilder, IdentitySource, LineBatchBuilder, ProfileBatchBuilder,
};
use crate::error::{Error, LineError, Result};
use crate::event::{LineFormat, TimeCorrection};

/// Lines longer than this (without terminator) stop a [`StreamDecoder`] unless changed with
/// [`StreamDecoder::with_max_line_bytes`]; Mixpanel events are far below 1 MiB.
pub const DEFAULT_MAX_LINE_BYTES: usize = 16 << 20;

/// A [`BadLine`] keeps at most this many bytes of its line's text.
pub const BAD_LINE_TEXT_LIMIT: usize = 64 << 10;

/// A line that was skipped because it could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    /// 1-based line number in the input (blank lines count).
    pub line: u64,
    /// Byte offset of the start of the line in the input.
    pub byte_offset: u64,
    /// Why, as the rendered [`LineError`](crate::LineError), column included.
    pub reason: String,
    /// The line without its terminator (`\n`, `\r\n`), cut at [`BAD_LINE_TEXT_LIMIT`] bytes.
    pub text: Vec<u8>,
}

impl BadLine {
    /// The same facts as an [`Error::Malformed`], for callers that treat bad lines as fatal.
    #[must_use]
    pub fn to_error(&self) -> Error {
        Error::Malformed {
            line: self.line,
            byte_offset: self.byte_offset,
            reason: self.reason.clone(),
        }
    }
}

/// Push decoder over raw JSON-lines bytes: export response bodies, export dumps, pipelines
/// files. Every line mpd reads goes through it.
///
/// Feed chunks of any size: it carries the partial last line over to the next chunk, counts
/// lines (1-based, blank ones included) and byte offsets, skips blank lines and a trailing
/// `\r`, and yields a batch whenever the builder is full. Batches, bad lines and their
/// positions do not depend on how the input is cut into chunks.
///
/// Lines that cannot be decoded are collected as [`BadLine`]s, not fatal: take them with
/// [`take_bad_lines`](Self::take_bad_lines) after each call, or they accumulate. A bad line is
/// held back one line: Mixpanel occasionally sends one record broken over two lines, and when
/// the next line is not a record on its own but the two joined are, they count as that one
/// record. With [`stop_at_truncation_marker`](Self::stop_at_truncation_marker), Mixpanel's
/// `terminated early` line ends the input with [`Error::TerminatedEarly`].
///
/// ```
/// use mpd_decode::{EventStreamDecoder, LineFormat, TimeCorrection};
///
/// let input = b"{\"event\":\"A\",\"properties\":{\"time\":1700000000}}\r\n\nnot json\n{\"event\":\"B\",\"prop";
/// let mut decoder = EventStreamDecoder::new(LineFormat::Export, TimeCorrection::None, 1, 8192);
/// let mut batches = decoder.feed(&input[..20])?;
/// batches.extend(decoder.feed(&input[20..])?);
/// assert!(batches.is_empty(), "a batch comes when 8192 rows are in");
/// decoder.feed(b"erties\":{\"time\":1700000001}}")?;
/// let last = decoder.finish()?.expect("two rows");
/// assert_eq!(last.num_rows(), 2);
/// let bad = decoder.take_bad_lines();
/// assert_eq!((bad[0].line, bad[0].byte_offset, bad[0].text.as_slice()), (3, 49, &b"not json"[..]));
/// # Ok::<(), mpd_decode::Error>(())
/// ```
pub struct StreamDecoder<B> {
    builder: B,
    /// The partial last line of the input so far.
    carry: Vec<u8>,
    /// Byte offset of the carried line.
    carry_start: u64,
    /// Lines completed so far; the carried line is number `lines + 1`.
    lines: u64,
    /// Bytes fed so far.
    bytes: u64,
    max_line_bytes: usize,
    bad: Vec<BadLine>,
    /// A bad line held back: the next line may be the rest of its record.
    held: Option<Held>,
    /// Scratch space for a held line and the next one joined.
    joined: Vec<u8>,
    /// Rows accepted in the current input.
    records: u64,
    /// Rows the current input may still add; lines past it are read but not decoded.
    row_limit: u64,
    /// Whether Mixpanel's `terminated early` line fails the input.
    truncation_marker: bool,
    /// Set once a line was too long or a truncation marker came: every call fails.
    failed: Option<Error>,
}

/// A line that failed on its own, kept until the next line tells whether it was half a record.
#[derive(Debug)]
struct Held {
    line: u64,
    byte_offset: u64,
    reason: String,
    text: Vec<u8>,
}

impl Held {
    fn into_bad(self) -> BadLine {
        let mut text = self.text;
        text.truncate(BAD_LINE_TEXT_LIMIT);
        BadLine { line: self.line, byte_offset: self.byte_offset, reason: self.reason, text }
    }
}

/// Events: raw export or JSON pipelines lines to [`events_schema`](crate::events_schema) batches.
pub type EventStreamDecoder = StreamDecoder<EventBatchBuilder>;
/// Profiles: Engage objects or pipelines people lines to
/// [`profiles_schema`](crate::profiles_schema) batches.
pub type ProfileStreamDecoder = StreamDecoder<ProfileBatchBuilder>;
/// Identity mappings from pipelines files to [`identity_schema`](crate::identity_schema) batches.
pub type IdentityStreamDecoder = StreamDecoder<IdentityBatchBuilder>;

impl<B> fmt::Debug for StreamDecoder<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamDecoder")
            .field("lines", &self.lines)
            .field("bytes", &self.bytes)
            .field("carry_len", &self.carry.len())
            .field("bad_lines", &self.bad.len())
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl StreamDecoder<EventBatchBuilder> {
    /// An event stream decoder: see [`EventBatchBuilder::new`] for the arguments.
    #[must_use]
    pub fn new(
        format: LineFormat,
        correction: TimeCorrection,
        sync_id: i64,
        batch_rows: usize,
    ) -> Self {
        Self::with_builder(EventBatchBuilder::new(format, correction, sync_id, batch_rows))
    }
}

impl StreamDecoder<ProfileBatchBuilder> {
    /// A profile stream decoder: see [`ProfileBatchBuilder::new`] for the arguments.
    #[must_use]
    pub fn new(sync_id: i64, batch_rows: usize) -> Self {
        Self::with_builder(ProfileBatchBuilder::new(sync_id, batch_rows))
    }
}

impl StreamDecoder<IdentityBatchBuilder> {
    /// An identity stream decoder: see [`IdentityBatchBuilder::new`] for the arguments.
    #[must_use]
    pub fn new(source: IdentitySource, sync_id: i64, batch_rows: usize) -> Self {
        Self::with_builder(IdentityBatchBuilder::new(source, sync_id, batch_rows))
    }
}

impl<B: LineBatchBuilder> StreamDecoder<B> {
    /// A decoder pushing lines into `builder`, which must be empty.
    #[must_use]
    pub fn with_builder(builder: B) -> Self {
        Self {
            builder,
            carry: Vec::new(),
            carry_start: 0,
            lines: 0,
            bytes: 0,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            bad: Vec::new(),
            held: None,
            joined: Vec::new(),
            records: 0,
            row_limit: u64::MAX,
            truncation_marker: false,
            failed: None,
        }
    }

    /// Makes Mixpanel's truncation marker, a line `terminated early` (or `export terminated
    /// early`), fail the input with [`Error::TerminatedEarly`]: what export bodies need.
    #[must_use]
    pub fn stop_at_truncation_marker(mut self) -> Self {
        self.truncation_marker = true;
        self
    }

    /// Accepts at most `rows` rows per input; later lines are counted but not decoded.
    #[must_use]
    pub fn with_row_limit(mut self, rows: u64) -> Self {
        self.row_limit = rows;
        self
    }

    /// Rows accepted so far in the current input (a re-joined record counts once).
    #[must_use]
    pub fn records_read(&self) -> u64 {
        self.records
    }

    /// Sets the longest line accepted (without terminator), [`DEFAULT_MAX_LINE_BYTES`] unless
    /// set; a longer line makes the input fail with [`Error::LineTooLong`].
    #[must_use]
    pub fn with_max_line_bytes(mut self, max_line_bytes: usize) -> Self {
        self.max_line_bytes = max_line_bytes;
        self
    }

    /// Lines completed so far in the current input (blank and bad ones included).
    #[must_use]
    pub fn lines_read(&self) -> u64 {
        self.lines
    }

    /// Bytes fed so far in the current input.
    #[must_use]
    pub fn bytes_read(&self) -> u64 {
        self.bytes
    }

    /// Decodes every line completed by `chunk` and returns the batches that filled up.
    ///
    /// # Errors
    ///
    /// [`Error::LineTooLong`] when a line exceeds the limit, at once even before the line
    /// ends; the decoder then fails every call until [`finish`](Self::finish).
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<B::Batch>> {
        let mut out = Vec::new();
        self.feed_into(chunk, &mut out)?;
        Ok(out)
    }

    /// As [`feed`](Self::feed), appending the batches that filled up to `out`.
    ///
    /// # Errors
    ///
    /// As [`feed`](Self::feed).
    pub fn feed_into(&mut self, chunk: &[u8], out: &mut Vec<B::Batch>) -> Result<()> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let result = self.split(chunk, out);
        if let Err(e) = &result {
            self.failed = Some(e.clone());
            self.carry = Vec::new();
        }
        result
    }

    fn split(&mut self, chunk: &[u8], out: &mut Vec<B::Batch>) -> Result<()> {
        let chunk_start = self.bytes;
        self.bytes += chunk.len() as u64;
        let mut pos = 0;
        if !self.carry.is_empty() {
            let Some(nl) = memchr::memchr(b'\n', chunk) else {
                self.carry.extend_from_slice(chunk);
                return self.check_carry();
            };
            self.carry.extend_from_slice(&chunk[..nl]);
            let line = std::mem::take(&mut self.carry);
            let result = self.line(&line, self.carry_start, out);
            self.carry = line;
            self.carry.clear();
            result?;
            pos = nl + 1;
        }
        while let Some(nl) = memchr::memchr(b'\n', &chunk[pos..]) {
            self.line(&chunk[pos..pos + nl], chunk_start + pos as u64, out)?;
            pos += nl + 1;
        }
        self.carry_start = chunk_start + pos as u64;
        self.carry.extend_from_slice(&chunk[pos..]);
        self.check_carry()
    }

    /// Past the limit the carried line can never be decoded, and buffering the rest of it
    /// could exhaust memory: fail now rather than at its end. A last `\r` may still turn out
    /// to be part of the terminator, so it does not count yet.
    fn check_carry(&self) -> Result<()> {
        let len = self.carry.len() - usize::from(self.carry.last() == Some(&b'\r'));
        if len > self.max_line_bytes { Err(self.too_long(self.carry_start)) } else { Ok(()) }
    }

    fn too_long(&self, byte_offset: u64) -> Error {
        Error::LineTooLong { line: self.lines + 1, byte_offset, limit: self.max_line_bytes }
    }

    /// One complete line (without `\n`) starting at `byte_offset`.
    fn line(&mut self, raw: &[u8], byte_offset: u64, out: &mut Vec<B::Batch>) -> Result<()> {
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if line.len() > self.max_line_bytes {
            return Err(self.too_long(byte_offset));
        }
        self.lines += 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        if self.truncation_marker && is_truncation_marker(line) {
            return Err(Error::TerminatedEarly { line: self.lines, byte_offset });
        }
        if self.records >= self.row_limit {
            return Ok(());
        }
        let Some(held) = self.held.take() else {
            return self.push_or_hold(line, byte_offset, out);
        };
        if self.push(line, out).is_ok() {
            self.bad.push(held.into_bad());
            return Ok(());
        }
        let mut joined = std::mem::take(&mut self.joined);
        joined.clear();
        joined.extend_from_slice(&held.text);
        joined.extend_from_slice(line);
        let rejoined = self.push(&joined, out).is_ok();
        self.joined = joined;
        if rejoined {
            return Ok(());
        }
        self.bad.push(held.into_bad());
        self.push_or_hold(line, byte_offset, out)
    }

    /// Pushes a line that follows no held line; holds it back if it fails.
    fn push_or_hold(
        &mut self,
        line: &[u8],
        byte_offset: u64,
        out: &mut Vec<B::Batch>,
    ) -> Result<()> {
        if let Err(error) = self.push(line, out) {
            self.held = Some(Held {
                line: self.lines,
                byte_offset,
                reason: error.to_string(),
                text: line.to_vec(),
            });
        }
        Ok(())
    }

    /// One record into the builder; a full builder's batch goes to `out`.
    fn push(&mut self, line: &[u8], out: &mut Vec<B::Batch>) -> std::result::Result<(), LineError> {
        self.builder.push_line(line)?;
        self.records += 1;
        if self.builder.is_full() {
            out.extend(self.builder.finish());
        }
        Ok(())
    }

    /// Ends the input: decodes the final unterminated line and returns the remaining rows.
    /// The decoder then starts a new input (line 1, byte offset 0); bad lines not yet taken
    /// stay.
    ///
    /// # Errors
    ///
    /// The error that stopped the input, if any (the decoder is still reset).
    pub fn finish(&mut self) -> Result<Option<B::Batch>> {
        let result = match self.failed.take() {
            Some(e) => Err(e),
            None => {
                let line = std::mem::take(&mut self.carry);
                let mut out = Vec::new();
                let pushed = if line.is_empty() {
                    Ok(())
                } else {
                    self.line(&line, self.carry_start, &mut out)
                };
                self.carry = line;
                if let Some(held) = self.held.take() {
                    self.bad.push(held.into_bad());
                }
                // A full builder was flushed into `out`; otherwise its rows are the last batch.
                pushed.map(|()| out.pop().or_else(|| self.builder.finish()))
            }
        };
        // Rows of a failed input are dropped with it.
        let _ = self.builder.finish();
        self.held = None;
        self.carry.clear();
        self.lines = 0;
        self.bytes = 0;
        self.records = 0;
        result
    }

    /// The bad lines collected since the last call, in input order.
    pub fn take_bad_lines(&mut self) -> Vec<BadLine> {
        std::mem::take(&mut self.bad)
    }
}

/// Whether a line is Mixpanel's truncation marker: `terminated early` or `export terminated
/// early`, in any case, with surrounding white space.
fn is_truncation_marker(line: &[u8]) -> bool {
    let trimmed = line.trim_ascii();
    trimmed.eq_ignore_ascii_case(b"terminated early")
        || trimmed.eq_ignore_ascii_case(b"export terminated early")
}

#[cfg(test)]
mod tests;
