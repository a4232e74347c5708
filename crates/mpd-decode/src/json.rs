//! Reads one JSON line into the few nodes the decoders look at.
//!
//! The whole line is validated as RFC 8259 JSON (what serde_json accepts, except that a number
//! too large for a float is not an error here), but only the top two levels are recorded: the
//! root value, the members of a root object, and those members of objects that are values of
//! root members (an event's `properties`) whose keys the caller may want. Every deeper value is
//! checked and recorded as one node with its span. Nothing is copied: a node is a byte span of
//! the line, strings are unescaped only when they hold escapes, and numbers are parsed only
//! when asked for.
//!
//! A general-purpose parser builds a tree (or tape) of every value and copies every string;
//! an event line has dozens of properties of which the decoders read a handful.

use std::ops::Range;

/// What a node holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Object,
    Array,
    String,
    Number,
    Bool,
    Null,
}

/// One recorded value (or object key).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Node {
    pub(crate) kind: Kind,
    /// A key below the root: what the caller's `wanted` answered for it (0 for a key with
    /// escapes, which it was not asked about). Otherwise 0.
    pub(crate) tag: u16,
    /// Byte span in the line: the whole value, except for a string, whose span is its text
    /// between the quotes.
    pub(crate) start: u32,
    pub(crate) end: u32,
    /// An object whose members are recorded: the index of the node after its last member's
    /// value. A string with escapes: where its unescaped text starts in [`Tape::unescaped`].
    /// Otherwise 0.
    pub(crate) aux: u32,
    /// A string with escapes: where its unescaped text ends. An object: whether its members
    /// are recorded (1) or not (0). Otherwise 0.
    pub(crate) aux2: u32,
}

impl Node {
    /// The members of this object are recorded after it.
    pub(crate) fn has_members(&self) -> bool {
        self.kind == Kind::Object && self.aux2 == 1
    }

    /// This string's text is in [`Tape::unescaped`], not in the line.
    pub(crate) fn is_escaped(&self) -> bool {
        self.kind == Kind::String && self.aux2 > self.aux
    }

    /// Nodes taken by this value: itself and, for an object with members, all of them.
    pub(crate) fn width(&self, at: usize) -> usize {
        if self.has_members() { self.aux as usize - at } else { 1 }
    }

    pub(crate) fn span(&self) -> Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// The nodes of one line and the unescaped text of its escaped strings; reused across lines.
#[derive(Debug, Default)]
pub(crate) struct Tape {
    pub(crate) nodes: Vec<Node>,
    pub(crate) unescaped: String,
    /// Open containers while skipping a deep value: `true` for an object.
    stack: Vec<bool>,
    /// Where the line's quotes are, one bit per byte (see [`index_quotes`]).
    quotes: Vec<u64>,
}

/// Why a line is not JSON, and the byte offset where that was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fault {
    pub(crate) at: usize,
    pub(crate) what: &'static str,
}

/// Objects nested deeper than this are checked but their members are not recorded: the root
/// is depth 0, an event's `properties` depth 1.
const RECORDED_DEPTH: u8 = 1;

/// Longest line whose offsets fit the nodes.
pub(crate) const MAX_LINE_BYTES: usize = u32::MAX as usize;

/// Reads `line` (valid UTF-8, no longer than [`MAX_LINE_BYTES`]) into `tape`. A member of an
/// object below the root is recorded when `wanted` gives its key as written in the line a tag
/// other than 0 (kept on the key's node, so that the caller need not compare the key again),
/// or when the key has escapes (tagged 0: the caller compares it then).
pub(crate) fn read(
    line: &[u8],
    tape: &mut Tape,
    wanted: impl Fn(&[u8]) -> u16,
) -> Result<(), Fault> {
    let mut quotes = std::mem::take(&mut tape.quotes);
    let plain = index_quotes(line, &mut quotes);
    let result = read_with(line, tape, plain.then_some(&quotes), wanted);
    tape.quotes = quotes;
    result
}

/// [`read`], finding the end of each string with `quotes` (the line's quote bits) when the
/// line has no backslash and no control character, byte by byte otherwise.
fn read_with<W: Fn(&[u8]) -> u16>(
    line: &[u8],
    tape: &mut Tape,
    quotes: Option<&[u64]>,
    wanted: W,
) -> Result<(), Fault> {
    debug_assert!(line.len() <= MAX_LINE_BYTES);
    tape.nodes.clear();
    tape.unescaped.clear();
    let mut reader = Reader { b: line, i: 0, tape, quotes, wanted };
    reader.skip_ws();
    reader.value(0)?;
    reader.skip_ws();
    if reader.i < line.len() {
        return Err(reader.fault("trailing characters"));
    }
    Ok(())
}

struct Reader<'b, 't, W> {
    b: &'b [u8],
    i: usize,
    tape: &'t mut Tape,
    /// The line's quote bits, when every string in it ends at its next quote.
    quotes: Option<&'b [u64]>,
    /// Which keys of members below the root to record, and their tags.
    wanted: W,
}

impl<W: Fn(&[u8]) -> u16> Reader<'_, '_, W> {
    fn fault(&self, what: &'static str) -> Fault {
        Fault { at: self.i.min(self.b.len()), what }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline]
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    fn push(&mut self, kind: Kind, start: usize) -> usize {
        #[allow(clippy::cast_possible_truncation, reason = "the line fits MAX_LINE_BYTES")]
        let (start, end) = (start as u32, self.i as u32);
        self.tape.nodes.push(Node { kind, tag: 0, start, end, aux: 0, aux2: 0 });
        self.tape.nodes.len() - 1
    }

    fn value(&mut self, depth: u8) -> Result<(), Fault> {
        let start = self.i;
        let kind = match self.peek() {
            Some(b'"') => return self.string_node(),
            Some(b'{') if depth <= RECORDED_DEPTH => return self.object(depth),
            Some(b'{') => {
                self.skip_container()?;
                Kind::Object
            }
            Some(b'[') => {
                self.skip_container()?;
                Kind::Array
            }
            _ => self.scalar()?,
        };
        self.push(kind, start);
        Ok(())
    }

    fn literal(&mut self, word: &'static [u8]) -> Result<(), Fault> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(self.fault("expected a value"))
        }
    }

    /// An object whose members are recorded, each as its key's node then its value's.
    fn object(&mut self, depth: u8) -> Result<(), Fault> {
        let start = self.i;
        let at = self.push(Kind::Object, start);
        self.i += 1;
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
        } else {
            loop {
                if self.peek() != Some(b'"') {
                    return Err(self.fault("expected a key"));
                }
                let key_start = self.i + 1;
                let escaped = self.skip_string()?;
                let key_end = self.i - 1;
                // `None`: a member below the root whose key is not wanted, checked only.
                let tag = if depth == 0 || escaped {
                    Some(0)
                } else {
                    Some((self.wanted)(&self.b[key_start..key_end])).filter(|&tag| tag != 0)
                };
                if let Some(tag) = tag {
                    self.record_string(key_start, key_end, escaped, tag);
                    self.colon()?;
                    self.value(depth + 1)?;
                } else {
                    self.colon()?;
                    self.skip_value()?;
                }
                self.skip_ws();
                match self.peek() {
                    Some(b',') => {
                        self.i += 1;
                        self.skip_ws();
                    }
                    Some(b'}') => {
                        self.i += 1;
                        break;
                    }
                    _ => return Err(self.fault("expected `,` or `}`")),
                }
            }
        }
        #[allow(clippy::cast_possible_truncation, reason = "nodes are fewer than line bytes")]
        let (end, next) = (self.i as u32, self.tape.nodes.len() as u32);
        let node = &mut self.tape.nodes[at];
        (node.end, node.aux, node.aux2) = (end, next, 1);
        Ok(())
    }

    /// Whitespace, a `:` and whitespace after an object key.
    fn colon(&mut self) -> Result<(), Fault> {
        self.skip_ws();
        if self.peek() != Some(b':') {
            return Err(self.fault("expected `:`"));
        }
        self.i += 1;
        self.skip_ws();
        Ok(())
    }

    /// A string recorded as the span of its text; one with escapes is also unescaped.
    fn string_node(&mut self) -> Result<(), Fault> {
        let start = self.i + 1;
        let escaped = self.skip_string()?;
        self.record_string(start, self.i - 1, escaped, 0);
        Ok(())
    }

    /// Records the string whose text spans `start..end` of the line (`tag`: see [`Node::tag`]).
    #[allow(clippy::cast_possible_truncation, reason = "the line fits MAX_LINE_BYTES")]
    fn record_string(&mut self, start: usize, end: usize, escaped: bool, tag: u16) {
        let (mut aux, mut aux2) = (0, 0);
        if escaped {
            aux = self.tape.unescaped.len() as u32;
            unescape(&self.b[start..end], &mut self.tape.unescaped);
            // An escaped string that unescapes to nothing cannot exist (`\u0000` is one byte),
            // so `aux2 > aux` marks escaped strings.
            aux2 = self.tape.unescaped.len() as u32;
        }
        let (start, end) = (start as u32, end as u32);
        self.tape.nodes.push(Node { kind: Kind::String, tag, start, end, aux, aux2 });
    }

    /// At an opening quote: moves past the closing one; answers whether there were escapes.
    #[inline]
    fn skip_string(&mut self) -> Result<bool, Fault> {
        if let Some(end) = self.quotes.and_then(|quotes| next_quote(quotes, self.i + 1)) {
            self.i = end + 1;
            return Ok(false);
        }
        self.skip_string_bytewise()
    }

    /// [`skip_string`](Self::skip_string) looking at every byte.
    #[inline(never)]
    fn skip_string_bytewise(&mut self) -> Result<bool, Fault> {
        let b = self.b;
        let mut j = self.i + 1;
        let mut escaped = false;
        loop {
            j += plain_run(&b[j.min(b.len())..]);
            match b.get(j) {
                Some(b'"') => {
                    self.i = j + 1;
                    return Ok(escaped);
                }
                Some(b'\\') => {
                    escaped = true;
                    self.i = j;
                    j = self.escape()?;
                }
                Some(_) => {
                    self.i = j;
                    return Err(self.fault("control character in a string"));
                }
                None => {
                    self.i = j;
                    return Err(self.fault("unterminated string"));
                }
            }
        }
    }

    /// At a backslash: checks the escape (a `\u` high surrogate must be followed by a low one,
    /// as in serde_json) and answers the offset after it.
    fn escape(&self) -> Result<usize, Fault> {
        let b = self.b;
        let j = self.i;
        let bad = |at: usize, what| Fault { at: at.min(b.len()), what };
        match b.get(j + 1) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok(j + 2),
            Some(b'u') => {
                let unit = hex4(b, j + 2).ok_or(bad(j, "invalid `\\u` escape"))?;
                match unit {
                    0xD800..=0xDBFF => {
                        let low =
                            (b.get(j + 6..j + 8) == Some(b"\\u")).then(|| hex4(b, j + 8)).flatten();
                        match low {
                            Some(0xDC00..=0xDFFF) => Ok(j + 12),
                            _ => Err(bad(j, "lone surrogate in a `\\u` escape")),
                        }
                    }
                    0xDC00..=0xDFFF => Err(bad(j, "lone surrogate in a `\\u` escape")),
                    _ => Ok(j + 6),
                }
            }
            _ => Err(bad(j, "invalid escape")),
        }
    }

    /// Checks a number's grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    fn number(&mut self) -> Result<(), Fault> {
        let b = self.b;
        let digits = |j: usize| j + digit_run(b, j);
        let mut j = self.i + usize::from(b.get(self.i) == Some(&b'-'));
        j = match b.get(j) {
            Some(b'0') => j + 1,
            Some(b'1'..=b'9') => digits(j + 1),
            _ => return Err(Fault { at: j.min(b.len()), what: "invalid number" }),
        };
        if b.get(j) == Some(&b'.') {
            let end = digits(j + 1);
            if end == j + 1 {
                return Err(Fault { at: end.min(b.len()), what: "invalid number" });
            }
            j = end;
        }
        if let Some(b'e' | b'E') = b.get(j) {
            j += 1;
            if let Some(b'+' | b'-') = b.get(j) {
                j += 1;
            }
            let end = digits(j);
            if end == j {
                return Err(Fault { at: end.min(b.len()), what: "invalid number" });
            }
            j = end;
        }
        self.i = j;
        Ok(())
    }

    /// At `{` or `[` too deep to record: checks the whole value and moves past it, without
    /// recursion (a deeply nested line costs no stack).
    fn skip_container(&mut self) -> Result<(), Fault> {
        let mut stack = std::mem::take(&mut self.tape.stack);
        stack.clear();
        let result = self.skip_container_with(&mut stack);
        self.tape.stack = stack;
        result
    }

    fn skip_container_with(&mut self, stack: &mut Vec<bool>) -> Result<(), Fault> {
        loop {
            // At an opening bracket.
            let object = self.b[self.i] == b'{';
            stack.push(object);
            self.i += 1;
            self.skip_ws();
            let close = if object { b'}' } else { b']' };
            if self.peek() == Some(close) {
                self.i += 1;
                stack.pop();
                if stack.is_empty() || self.after_value(stack)? {
                    return Ok(());
                }
            }
            // At the start of a member: a key first in an object, then a value.
            loop {
                if stack.last() == Some(&true) {
                    if self.peek() != Some(b'"') {
                        return Err(self.fault("expected a key"));
                    }
                    self.skip_string()?;
                    self.colon()?;
                }
                if let Some(b'{' | b'[') = self.peek() {
                    break;
                }
                self.scalar()?;
                if self.after_value(stack)? {
                    return Ok(());
                }
            }
        }
    }

    /// Any value, checked and not recorded.
    fn skip_value(&mut self) -> Result<(), Fault> {
        match self.peek() {
            Some(b'{' | b'[') => self.skip_container(),
            _ => self.scalar().map(|_| ()),
        }
    }

    /// A string, number or literal (not a container), checked and not recorded; its kind.
    #[inline]
    fn scalar(&mut self) -> Result<Kind, Fault> {
        match self.peek() {
            Some(b'"') => self.skip_string().map(|_| Kind::String),
            Some(b'-' | b'0'..=b'9') => self.number().map(|()| Kind::Number),
            Some(b't') => self.literal(b"true").map(|()| Kind::Bool),
            Some(b'f') => self.literal(b"false").map(|()| Kind::Bool),
            Some(b'n') => self.literal(b"null").map(|()| Kind::Null),
            Some(_) => Err(self.fault("expected a value")),
            None => Err(self.fault("unexpected end of line")),
        }
    }

    /// After a value inside the containers on `stack`: a `,` (answers `false`, positioned at
    /// the next member), or closing brackets until one is followed by a `,` (`false`) or the
    /// outermost is closed (`true`).
    fn after_value(&mut self, stack: &mut Vec<bool>) -> Result<bool, Fault> {
        loop {
            self.skip_ws();
            let object = stack.last() == Some(&true);
            match self.peek() {
                Some(b',') => {
                    self.i += 1;
                    self.skip_ws();
                    return Ok(false);
                }
                Some(b'}') if object => {}
                Some(b']') if !object => {}
                _ if object => return Err(self.fault("expected `,` or `}`")),
                _ => return Err(self.fault("expected `,` or `]`")),
            }
            self.i += 1;
            stack.pop();
            if stack.is_empty() {
                return Ok(true);
            }
        }
    }
}

/// The index of the first quote at or after byte `from`, by the quote bits.
#[inline]
fn next_quote(quotes: &[u64], from: usize) -> Option<usize> {
    let mut word = from / 64;
    let mut bits = quotes.get(word)? & (u64::MAX << (from % 64));
    while bits == 0 {
        word += 1;
        bits = *quotes.get(word)?;
    }
    Some(word * 64 + bits.trailing_zeros() as usize)
}

/// Sets `quotes` to one bit per byte of `line` (bit `i % 64` of word `i / 64`), set where the
/// byte is a `"`; answers whether the line has no `\` and no byte below 0x20. In such a line
/// (most of what Mixpanel sends) a string ends at the next quote, and finding it takes one
/// look at the bits instead of a look at every byte of the string.
fn index_quotes(line: &[u8], quotes: &mut Vec<u64>) -> bool {
    quotes.clear();
    let mut special = 0;
    let mut blocks = line.chunks_exact(64);
    for block in &mut blocks {
        let (q, s) = quote_bits(block.try_into().unwrap_or(&[0; 64]));
        quotes.push(q);
        special |= s;
    }
    let rest = blocks.remainder();
    if !rest.is_empty() {
        let mut block = [b' '; 64];
        block[..rest.len()].copy_from_slice(rest);
        let (q, s) = quote_bits(&block);
        quotes.push(q);
        special |= s;
    }
    special == 0
}

/// The bits of one 64-byte block where it holds a `"`, and where a `\` or a control byte.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[allow(unsafe_code, reason = "the one call of SSE2 code, which every x86_64 target has")]
#[inline]
fn quote_bits(block: &[u8; 64]) -> (u64, u64) {
    // SAFETY: `quote_bits_sse2` only needs SSE2, which this build enables (the `cfg` above).
    unsafe { quote_bits_sse2(block) }
}

/// [`quote_bits`] sixteen bytes at a time: a compare and a mask per byte class. LLVM does not
/// vectorise the portable loop below, which made the whole decoder a third slower.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[target_feature(enable = "sse2")]
fn quote_bits_sse2(block: &[u8; 64]) -> (u64, u64) {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set_epi64x,
        _mm_set1_epi8,
    };
    #[allow(clippy::cast_possible_wrap, reason = "byte patterns")]
    let (quote, backslash, control) =
        (_mm_set1_epi8(b'"' as i8), _mm_set1_epi8(b'\\' as i8), _mm_set1_epi8(0x1f));
    let (mut quotes, mut special) = (0, 0);
    for (k, lane) in block.chunks_exact(16).enumerate() {
        #[allow(clippy::cast_possible_wrap, reason = "the bits are what matters")]
        let word =
            |at: usize| u64::from_le_bytes(lane[at..at + 8].try_into().unwrap_or([0; 8])) as i64;
        let x = _mm_set_epi64x(word(8), word(0));
        let q = _mm_cmpeq_epi8(x, quote);
        // `min(x, 0x1f) == x` exactly where `x <= 0x1f`, unsigned.
        let below = _mm_cmpeq_epi8(_mm_min_epu8(x, control), x);
        let s = _mm_or_si128(_mm_cmpeq_epi8(x, backslash), below);
        #[allow(clippy::cast_sign_loss, reason = "16-bit masks")]
        let (q, s) = (_mm_movemask_epi8(q) as u32, _mm_movemask_epi8(s) as u32);
        quotes |= u64::from(q) << (16 * k);
        special |= u64::from(s) << (16 * k);
    }
    (quotes, special)
}

/// The bits of one 64-byte block where it holds a `"`, and where a `\` or a control byte.
#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
fn quote_bits(block: &[u8; 64]) -> (u64, u64) {
    quote_bits_bytewise(block)
}

/// [`quote_bits`] one byte at a time: for other targets, and to test the SSE2 version by.
#[cfg_attr(all(target_arch = "x86_64", target_feature = "sse2"), allow(dead_code))]
fn quote_bits_bytewise(block: &[u8; 64]) -> (u64, u64) {
    let (mut quotes, mut special) = (0, 0);
    for (i, &c) in block.iter().enumerate() {
        quotes |= u64::from(c == b'"') << i;
        special |= u64::from(c == b'\\' || c < 0x20) << i;
    }
    (quotes, special)
}

/// The number of leading bytes of `b` that a string may hold as they are: no `"`, no `\`, no
/// control character. Eight bytes at a time, then one at a time.
#[inline]
fn plain_run(b: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut j = 0;
    while let Some(chunk) = b.get(j..j + 8) {
        let w = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        let quote = w ^ (ONES * u64::from(b'"'));
        let backslash = w ^ (ONES * u64::from(b'\\'));
        // A byte is flagged when it is zero (after the XORs) or below 0x20; the lowest flag is
        // exact, higher ones may be borrows from it.
        let stops = (quote.wrapping_sub(ONES) & !quote)
            | (backslash.wrapping_sub(ONES) & !backslash)
            | (w.wrapping_sub(ONES * 0x20) & !w);
        let stops = stops & HIGHS;
        if stops != 0 {
            return j + (stops.trailing_zeros() / 8) as usize;
        }
        j += 8;
    }
    while let Some(&c) = b.get(j) {
        if c == b'"' || c == b'\\' || c < 0x20 {
            break;
        }
        j += 1;
    }
    j
}

/// The number of ASCII digits at `b[from..]`'s start; eight bytes at a time (a time in
/// milliseconds has 13 digits), so that the loop ends once rather than once per digit.
#[inline]
fn digit_run(b: &[u8], from: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut j = from;
    while let Some(chunk) = b.get(j..j + 8) {
        let w = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        let low = w & !HIGHS;
        // Per byte, without carries between bytes: the high bit says `>= b'0'`, then `>= b':'`.
        let at_least_zero = low + ONES * (0x80 - u64::from(b'0'));
        let past_nine = low + ONES * (0x80 - u64::from(b':'));
        let digits = at_least_zero & !past_nine & !w & HIGHS;
        let others = !digits & HIGHS;
        if others != 0 {
            return j - from + (others.trailing_zeros() / 8) as usize;
        }
        j += 8;
    }
    while b.get(j).is_some_and(u8::is_ascii_digit) {
        j += 1;
    }
    j - from
}

/// Four hex digits at `at`, as a number.
fn hex4(b: &[u8], at: usize) -> Option<u32> {
    let digits = b.get(at..at + 4)?;
    digits.iter().try_fold(0u32, |n, &d| Some(n * 16 + char::from(d).to_digit(16)?))
}

/// Appends the text of a string's escaped content (checked by [`Reader::escape`]) to `out`.
fn unescape(raw: &[u8], out: &mut String) {
    let mut j = 0;
    while j < raw.len() {
        let run = memchr::memchr(b'\\', &raw[j..]).unwrap_or(raw.len() - j);
        // The line is valid UTF-8 and a run ends before an ASCII backslash or at the end.
        out.push_str(std::str::from_utf8(&raw[j..j + run]).unwrap_or_default());
        j += run;
        if j >= raw.len() {
            break;
        }
        let c = match raw[j + 1] {
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let unit = hex4(raw, j + 2).unwrap_or(0xFFFD);
                j += 6;
                let code = if (0xD800..=0xDBFF).contains(&unit) {
                    let low = hex4(raw, j + 2).unwrap_or(0xDC00);
                    j += 6;
                    0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                } else {
                    unit
                };
                out.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
                continue;
            }
            other => char::from(other),
        };
        out.push(c);
        j += 2;
    }
}

#[cfg(test)]
mod tests;
