//! simd-json plumbing shared by the event and profile decoders: a reusable parser and a
//! read-only view of one parsed line whose strings borrow from the original line.

use std::borrow::Cow;
use std::ops::Range;

use simd_json::{Buffers, ErrorType, INPUT_PADDING, Node, StaticNode, Tape};

use crate::error::LineError;
use crate::scan;

/// Scratch space reused across lines: simd-json parses a padded, mutable copy of the line.
pub(crate) struct Parser {
    scratch: Vec<u8>,
    buffers: Buffers,
    /// Kept empty between lines; only its allocation is reused.
    tape: Tape<'static>,
}

impl Parser {
    pub(crate) fn new() -> Self {
        Self { scratch: Vec::new(), buffers: Buffers::default(), tape: Tape(Vec::new()) }
    }

    /// Validates `line` as JSON and hands a view of it to `read`.
    pub(crate) fn parse<'a, R>(
        &mut self,
        line: &'a [u8],
        read: impl FnOnce(&Doc<'_, '_, 'a>) -> Result<R, LineError>,
    ) -> Result<R, LineError> {
        self.scratch.clear();
        self.scratch.extend_from_slice(line);
        self.scratch.resize(line.len() + INPUT_PADDING, 0);
        let base = self.scratch.as_ptr().addr();
        let mut tape = std::mem::replace(&mut self.tape, Tape(Vec::new())).reset();
        let result = match simd_json::fill_tape_padded(
            &mut self.scratch,
            line.len(),
            &mut self.buffers,
            &mut tape,
        ) {
            // simd-json has validated the UTF-8 already; this is the one check that lets every
            // string of the line be borrowed as `&str` without re-validating it.
            Ok(()) => match std::str::from_utf8(line) {
                Ok(text) => read(&Doc { line, text, base, nodes: &tape.0 }),
                Err(e) => Err(LineError::new("line is not valid UTF-8", Some(e.valid_up_to() + 1))),
            },
            Err(e) => Err(json_error(line, &e)),
        };
        self.tape = tape.reset();
        result
    }
}

/// simd-json's positions and kinds are coarse (a truncated line is a "syntax error" at the first
/// or last structural character), so on this cold path serde_json re-reads the line for a
/// precise message and column; simd-json's own report is the fallback when they disagree.
fn json_error(line: &[u8], e: &simd_json::Error) -> LineError {
    if let Err(precise) = serde_json::from_slice::<serde_json::Value>(line) {
        let text = precise.to_string();
        let position = format!(" at line {} column {}", precise.line(), precise.column());
        let detail = text.strip_suffix(&position).unwrap_or(&text);
        let column = (precise.column() > 0).then_some(precise.column());
        return LineError::new(format!("line is not valid JSON: {detail}"), column);
    }
    let detail = match e.error() {
        ErrorType::InvalidNumber | ErrorType::InvalidExponent => "invalid number",
        ErrorType::InputTooLarge => "line is longer than 4 GiB",
        _ => "syntax error",
    };
    let reason = match e.character() {
        Some(c) if !c.is_control() => format!("line is not valid JSON: {detail} (found '{c}')"),
        _ => format!("line is not valid JSON: {detail}"),
    };
    // simd-json may report the end of the input; a column past the last byte points nowhere.
    let column = (!line.is_empty()).then(|| e.index().min(line.len() - 1) + 1);
    LineError::new(reason, column)
}

/// A number as simd-json parsed it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Number {
    Int(i64),
    UInt(u64),
    Float(f64),
}

/// One member of an object on the tape.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Member<'s> {
    /// Position among the object's members in text order (for the scanner).
    pub(crate) ordinal: usize,
    /// The unescaped key.
    pub(crate) key: &'s str,
    /// Tape index of the value.
    pub(crate) value: usize,
}

/// A parsed line: `'d` is the tape borrow, `'s` the scratch copy, `'a` the original line.
pub(crate) struct Doc<'d, 's, 'a> {
    line: &'a [u8],
    /// The same line as text.
    text: &'a str,
    /// Address of the scratch copy, to map tape strings back to the line.
    base: usize,
    nodes: &'d [Node<'s>],
}

/// Tape index of the root value.
pub(crate) const ROOT: usize = 0;

impl<'d, 's, 'a> Doc<'d, 's, 'a> {
    /// The members of the object at tape index `idx`, or `None` if it is not an object.
    pub(crate) fn members(&self, idx: usize) -> Option<Members<'d, 's>> {
        match self.nodes.get(idx)? {
            Node::Object { len, .. } => {
                Some(Members { nodes: self.nodes, next: idx + 1, remaining: *len, ordinal: 0 })
            }
            _ => None,
        }
    }

    /// JSON type name of the value at `idx`, for messages.
    pub(crate) fn kind(&self, idx: usize) -> &'static str {
        match self.nodes.get(idx) {
            Some(Node::String(_)) => "string",
            Some(Node::Object { .. }) => "object",
            Some(Node::Array { .. }) => "array",
            Some(Node::Static(StaticNode::Bool(_))) => "boolean",
            Some(Node::Static(StaticNode::Null)) | None => "null",
            Some(Node::Static(_)) => "number",
        }
    }

    pub(crate) fn number(&self, idx: usize) -> Option<Number> {
        match self.nodes.get(idx)? {
            Node::Static(StaticNode::I64(n)) => Some(Number::Int(*n)),
            Node::Static(StaticNode::U64(n)) => Some(Number::UInt(*n)),
            Node::Static(StaticNode::F64(f)) => Some(Number::Float(*f)),
            _ => None,
        }
    }

    /// The string at `idx`, borrowed from the original line when it had no escapes.
    pub(crate) fn string(&self, idx: usize) -> Option<Cow<'a, str>> {
        match self.nodes.get(idx)? {
            Node::String(s) => Some(self.to_line(s)),
            _ => None,
        }
    }

    /// The string at `idx` as the tape holds it (unescaped), for a value used while the line
    /// is parsed: unlike [`Doc::string`] it needs no comparison with the line to be borrowed.
    pub(crate) fn tape_string(&self, idx: usize) -> Option<&'s str> {
        match self.nodes.get(idx)? {
            Node::String(s) => Some(s),
            _ => None,
        }
    }

    /// An identifier: a string as is, a number as its decimal text; anything else is absent.
    pub(crate) fn id_text(&self, idx: usize) -> Option<Cow<'a, str>> {
        match self.number(idx) {
            Some(Number::Int(n)) => Some(Cow::Owned(n.to_string())),
            Some(Number::UInt(n)) => Some(Cow::Owned(n.to_string())),
            Some(Number::Float(f)) => Some(Cow::Owned(f.to_string())),
            None => self.string(idx),
        }
    }

    /// simd-json leaves an unescaped string at its original offset in the scratch copy, so
    /// where the line holds the same bytes at that offset the line can be borrowed instead of
    /// copying. Comparing the bytes keeps this correct whatever simd-json does internally.
    fn to_line(&self, s: &'s str) -> Cow<'a, str> {
        match self.offset_in_line(s) {
            Some(start) => Cow::Borrowed(&self.text[start..start + s.len()]),
            None => Cow::Owned(s.to_owned()),
        }
    }

    /// Where the tape string `s` sits in the line, if it is there unchanged (no escapes).
    fn offset_in_line(&self, s: &str) -> Option<usize> {
        let start = s.as_ptr().addr().wrapping_sub(self.base);
        let raw = self.text.get(start..start.checked_add(s.len())?)?;
        (raw == s).then_some(start)
    }

    /// Original text of the value of a member of the root object, and its byte offset.
    pub(crate) fn root_member_text(&self, m: Member<'s>) -> Option<(&'a str, usize)> {
        let span = self.root_value_span(m).or_else(|| {
            let obj = scan::skip_ws(self.line, 0);
            scan::member_value_span(self.line, obj, m.ordinal)
        })?;
        let start = span.start;
        Some((self.text.get(span)?, start))
    }

    /// The span of an object-valued root member without scanning its text (which, for the
    /// `properties` of an event, is most of the line): it starts after the key and its `:`,
    /// and ends before the `,` of the next key or, for the last member, before the root's `}`.
    /// `None` (scan instead) when a key needed for this had escapes or is empty, since then
    /// its position is unknown.
    fn root_value_span(&self, m: Member<'s>) -> Option<Range<usize>> {
        let b = self.line;
        let key = self.string_token(m.key)?;
        let colon = scan::skip_ws(b, key.end);
        if b.get(colon) != Some(&b':') {
            return None;
        }
        let start = scan::skip_ws(b, colon + 1);

        let Some(Node::Object { count: root_count, .. }) = self.nodes.first() else { return None };
        let next = m.value + width(self.nodes.get(m.value)?);
        let end = if next <= *root_count {
            let Some(Node::String(next_key)) = self.nodes.get(next) else { return None };
            let comma = scan::trim_ws_end(b, self.string_token(next_key)?.start);
            if comma == 0 || b[comma - 1] != b',' {
                return None;
            }
            scan::trim_ws_end(b, comma - 1)
        } else {
            let close = scan::trim_ws_end(b, b.len());
            if close == 0 || b[close - 1] != b'}' {
                return None;
            }
            scan::trim_ws_end(b, close - 1)
        };
        let is_object = b.get(start) == Some(&b'{') && end > start && b[end - 1] == b'}';
        is_object.then_some(start..end)
    }

    /// The span of a string token, quotes included, of a non-empty tape string that sits
    /// unchanged in the line.
    fn string_token(&self, s: &str) -> Option<Range<usize>> {
        let at = self.offset_in_line(s).filter(|_| !s.is_empty())?;
        let end = at + s.len();
        let quoted = at > 0 && self.line[at - 1] == b'"' && self.line.get(end) == Some(&b'"');
        quoted.then_some(at - 1..end + 1)
    }

    /// 1-based column of the `ordinal`-th member value of the object whose text starts at
    /// byte `obj` of the line.
    pub(crate) fn column_of(&self, obj: usize, ordinal: usize) -> Option<usize> {
        scan::member_value_span(self.line, obj, ordinal).map(|span| span.start + 1)
    }

    /// Original text of the `ordinal`-th member value of the object whose text starts at
    /// byte `obj` of the line.
    pub(crate) fn member_text(&self, obj: usize, ordinal: usize) -> Option<&'a str> {
        self.text.get(scan::member_value_span(self.line, obj, ordinal)?)
    }

    /// 1-based column of the root value.
    pub(crate) fn root_column(&self) -> Option<usize> {
        let i = scan::skip_ws(self.line, 0);
        (i < self.line.len()).then_some(i + 1)
    }
}

/// Tape nodes taken by the value at a node: itself and, for containers, everything inside.
fn width(node: &Node<'_>) -> usize {
    match node {
        Node::Object { count, .. } | Node::Array { count, .. } => count + 1,
        _ => 1,
    }
}

/// Iterator over the members of one object on the tape.
pub(crate) struct Members<'d, 's> {
    nodes: &'d [Node<'s>],
    next: usize,
    remaining: usize,
    ordinal: usize,
}

impl<'s> Iterator for Members<'_, 's> {
    type Item = Member<'s>;

    fn next(&mut self) -> Option<Member<'s>> {
        if self.remaining == 0 {
            return None;
        }
        let Node::String(key) = self.nodes.get(self.next)? else { return None };
        let value = self.next + 1;
        let member = Member { ordinal: self.ordinal, key, value };
        self.next = value + width(self.nodes.get(value)?);
        self.remaining -= 1;
        self.ordinal += 1;
        Some(member)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_doc<'a, R>(
        line: &'a str,
        read: impl FnOnce(&Doc<'_, '_, 'a>) -> R,
    ) -> Result<R, LineError> {
        Parser::new().parse(line.as_bytes(), |doc| Ok(read(doc)))
    }

    #[test]
    fn members_skip_nested_values() {
        let keys = with_doc(r#"{"a":{"x":[1,{"y":2}]},"b":[[],{}],"c":"s"}"#, |doc| {
            doc.members(ROOT).map(|m| m.map(|m| (m.ordinal, m.key.to_owned())).collect::<Vec<_>>())
        })
        .unwrap();
        assert_eq!(keys, Some(vec![(0, "a".into()), (1, "b".into()), (2, "c".into())]));
    }

    #[test]
    fn strings_without_escapes_borrow_from_the_line() {
        let line = r#"{"plain":"héllo","esc":"dist\u00e9","nl":"a\nb"}"#;
        let values = with_doc(line, |doc| {
            doc.members(ROOT).unwrap().map(|m| doc.string(m.value).unwrap()).collect::<Vec<_>>()
        })
        .unwrap();
        assert!(matches!(&values[0], Cow::Borrowed("héllo")), "{values:?}");
        assert!(matches!(&values[1], Cow::Owned(s) if s == "disté"), "{values:?}");
        assert!(matches!(&values[2], Cow::Owned(s) if s == "a\nb"), "{values:?}");
    }

    #[test]
    fn ids_accept_numbers_as_text() {
        let ids = with_doc(
            r#"{"a":42,"b":-7,"c":18446744073709551615,"d":1.5,"e":true,"f":null}"#,
            |doc| doc.members(ROOT).unwrap().map(|m| doc.id_text(m.value)).collect::<Vec<_>>(),
        )
        .unwrap();
        let expected: Vec<Option<Cow<'_, str>>> = vec![
            Some("42".into()),
            Some("-7".into()),
            Some("18446744073709551615".into()),
            Some("1.5".into()),
            None,
            None,
        ];
        assert_eq!(ids, expected);
    }

    #[test]
    fn root_member_text_without_scanning_agrees_with_the_scanner() {
        let lines = [
            r#"{"event":"a","properties":{"x":{"y":"}"}}}"#,
            r#" { "properties" :	{"x":1} , "event" : "a" } "#,
            r#"{"a":1,"properties":{},"b":[{"c":2}],"d":"e"}"#,
            r#"{"prop\u0065rties":{"k":1},"n\u0065xt":{}}"#,
            r#"{"":{"k":1},"properties":{"":""}}"#,
            r#"{"p":{"k":1},"p":{"k":2}}"#,
        ];
        for line in lines {
            let spans = with_doc(line, |doc| {
                doc.members(ROOT)
                    .unwrap()
                    .filter(|m| doc.members(m.value).is_some())
                    .map(|m| {
                        let scanned = scan::member_value_span(
                            line.as_bytes(),
                            doc.root_column().unwrap() - 1,
                            m.ordinal,
                        );
                        let fast = doc.root_value_span(m);
                        if let Some(fast) = &fast {
                            assert_eq!(Some(fast.clone()), scanned, "{line}");
                        }
                        (fast.is_some(), doc.root_member_text(m).map(|(t, _)| t.to_owned()))
                    })
                    .collect::<Vec<_>>()
            })
            .unwrap();
            for (_, text) in &spans {
                let text = text.as_deref().expect("every object member has a text");
                assert!(text.starts_with('{') && text.ends_with('}'), "{line}: {text}");
            }
            // Unescaped, non-empty keys take the fast path.
            let fast: Vec<bool> = spans.iter().map(|(fast, _)| *fast).collect();
            let expected: &[bool] = match line {
                l if l.contains("\\u0065") => &[false, false],
                l if l.starts_with(r#"{"":"#) => &[false, true],
                l if l.starts_with(r#"{"a""#) => &[true],
                l if l.starts_with(r#"{"p""#) => &[true, true],
                _ => &[true],
            };
            assert_eq!(fast, expected, "{line}");
        }
    }

    #[test]
    fn invalid_json_reports_a_column() {
        let err = Parser::new().parse(br#"{"a":1,}"#, |_| Ok(())).unwrap_err();
        assert!(err.reason.starts_with("line is not valid JSON: "), "{err}");
        assert_eq!(err.column, Some(8), "{err}");
    }

    #[test]
    fn parser_is_reusable_after_errors() {
        let mut parser = Parser::new();
        assert!(parser.parse(b"{", |_| Ok(())).is_err());
        let n = parser.parse(br#"{"a":1}"#, |doc| Ok(doc.members(ROOT).map(Iterator::count)));
        assert_eq!(n, Ok(Some(1)));
    }
}
