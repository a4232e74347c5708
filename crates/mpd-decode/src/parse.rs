//! A read-only view of one parsed line (built by [`crate::json`]) shared by the event,
//! profile and identity decoders: strings borrow from the original line unless they had
//! escapes, numbers are parsed when asked for.

use std::borrow::Cow;

use crate::error::LineError;
use crate::json::{self, Fault, Kind, Node, Tape};

/// Scratch space reused across lines.
pub(crate) struct Parser {
    tape: Tape,
}

impl Parser {
    pub(crate) fn new() -> Self {
        Self { tape: Tape::default() }
    }

    /// Validates `line` as JSON and hands a view of it, every member recorded, to `read`.
    pub(crate) fn parse<'a, R>(
        &mut self,
        line: &'a [u8],
        read: impl FnOnce(&Doc<'_, '_, 'a>) -> Result<R, LineError>,
    ) -> Result<R, LineError> {
        self.parse_wanting(line, |_| 1, read)
    }

    /// As [`parse`](Self::parse), recording the members of objects below the root only where
    /// `wanted` tags their key (see [`json::read`]); the members of the root are all there.
    pub(crate) fn parse_wanting<'a, R>(
        &mut self,
        line: &'a [u8],
        wanted: impl Fn(&[u8]) -> u16,
        read: impl FnOnce(&Doc<'_, '_, 'a>) -> Result<R, LineError>,
    ) -> Result<R, LineError> {
        if line.len() > json::MAX_LINE_BYTES {
            return Err(LineError::new("line is not valid JSON: line is longer than 4 GiB", None));
        }
        // Checked once for the whole line, so that every string in it can be borrowed as
        // `&str`; bytes outside strings must be ASCII for the line to be JSON anyway.
        let Ok(text) = simdutf8::basic::from_utf8(line) else {
            let at = std::str::from_utf8(line).err().map_or(0, |e| e.valid_up_to());
            return Err(json_error(line, Fault { at, what: "invalid UTF-8" }));
        };
        json::read(line, &mut self.tape, wanted).map_err(|fault| json_error(line, fault))?;
        read(&Doc { line, text, unescaped: &self.tape.unescaped, nodes: &self.tape.nodes })
    }
}

/// The reader's faults are terse, so on this cold path serde_json re-reads the line for its
/// precise message and column; the reader's own report is the fallback when they disagree.
fn json_error(line: &[u8], fault: Fault) -> LineError {
    if let Err(precise) = serde_json::from_slice::<serde_json::Value>(line) {
        let text = precise.to_string();
        let position = format!(" at line {} column {}", precise.line(), precise.column());
        let detail = text.strip_suffix(&position).unwrap_or(&text);
        let column = (precise.column() > 0).then_some(precise.column());
        return LineError::new(format!("line is not valid JSON: {detail}"), column);
    }
    let column = (!line.is_empty()).then(|| fault.at.min(line.len() - 1) + 1);
    LineError::new(format!("line is not valid JSON: {}", fault.what), column)
}

/// A number as the line spells it: an integer when it has no fraction or exponent and fits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Number {
    Int(i64),
    UInt(u64),
    Float(f64),
}

impl Number {
    /// `text` passed the reader's number grammar; an integer beyond `u64` becomes a float.
    fn parse(text: &str) -> Option<Number> {
        // Most numbers are short integers (times, counts): added up digit by digit.
        let (negative, digits) = match text.as_bytes() {
            [b'-', digits @ ..] => (true, digits),
            digits => (false, digits),
        };
        if digits.len() <= 18 && digits.iter().all(u8::is_ascii_digit) {
            let n = digits.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0'));
            return Some(Number::Int(if negative { -n } else { n }));
        }
        if !text.bytes().any(|c| matches!(c, b'.' | b'e' | b'E')) {
            if let Ok(n) = text.parse::<i64>() {
                return Some(Number::Int(n));
            }
            if let Ok(n) = text.parse::<u64>() {
                return Some(Number::UInt(n));
            }
        }
        text.parse::<f64>().ok().map(Number::Float)
    }
}

/// One member of a recorded object.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Member<'s> {
    /// The unescaped key.
    pub(crate) key: &'s str,
    /// What the parse's `wanted` answered for the key of a member below the root; 0 for a
    /// root member or a key with escapes.
    pub(crate) tag: u16,
    /// Node index of the value.
    pub(crate) value: usize,
}

/// A parsed line: `'d` borrows the nodes, `'s` the unescaped strings, `'a` the line.
pub(crate) struct Doc<'d, 's, 'a> {
    line: &'a [u8],
    /// The same line as text.
    text: &'a str,
    unescaped: &'s str,
    nodes: &'d [Node],
}

/// Node index of the root value.
pub(crate) const ROOT: usize = 0;

impl<'d, 's, 'a: 's> Doc<'d, 's, 'a> {
    /// The members of the object at node `idx`, or `None` if it is not an object. Members are
    /// recorded for the root and for objects that are values of its members (of those, the
    /// members with keys the parse wanted, and maybe others).
    pub(crate) fn members(&self, idx: usize) -> Option<Members<'d, 's>> {
        let node = self.nodes.get(idx)?;
        debug_assert!(node.kind != Kind::Object || node.has_members(), "members not recorded");
        node.has_members().then(|| Members {
            nodes: self.nodes,
            text: self.text,
            unescaped: self.unescaped,
            next: idx + 1,
            end: node.aux as usize,
        })
    }

    /// JSON type name of the value at `idx`, for messages.
    pub(crate) fn kind(&self, idx: usize) -> &'static str {
        match self.nodes.get(idx).map(|n| n.kind) {
            Some(Kind::String) => "string",
            Some(Kind::Object) => "object",
            Some(Kind::Array) => "array",
            Some(Kind::Bool) => "boolean",
            Some(Kind::Null) | None => "null",
            Some(Kind::Number) => "number",
        }
    }

    pub(crate) fn number(&self, idx: usize) -> Option<Number> {
        let node = self.nodes.get(idx).filter(|n| n.kind == Kind::Number)?;
        Number::parse(self.text.get(node.span())?)
    }

    /// The string at `idx`, borrowed from the line when it had no escapes.
    pub(crate) fn string(&self, idx: usize) -> Option<Cow<'a, str>> {
        let node = self.nodes.get(idx).filter(|n| n.kind == Kind::String)?;
        if node.is_escaped() {
            Some(Cow::Owned(string_text(node, self.text, self.unescaped)?.to_owned()))
        } else {
            Some(Cow::Borrowed(self.text.get(node.span())?))
        }
    }

    /// The string at `idx`, borrowed from the line or from the unescaped strings (for a value
    /// used while the line is parsed).
    pub(crate) fn tape_string(&self, idx: usize) -> Option<&'s str> {
        let node = self.nodes.get(idx).filter(|n| n.kind == Kind::String)?;
        string_text(node, self.text, self.unescaped)
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

    /// Original text of the value at `idx` (a string with its quotes), byte for byte.
    pub(crate) fn value_text(&self, idx: usize) -> Option<&'a str> {
        let node = self.nodes.get(idx)?;
        let quotes = usize::from(node.kind == Kind::String);
        self.text.get(node.start as usize - quotes..node.end as usize + quotes)
    }

    /// 1-based column of the value at `idx` (of a string's opening quote).
    pub(crate) fn column(&self, idx: usize) -> Option<usize> {
        let node = self.nodes.get(idx)?;
        Some(node.start as usize + usize::from(node.kind != Kind::String))
    }

    /// 1-based column of the root value.
    pub(crate) fn root_column(&self) -> Option<usize> {
        let i = self.line.iter().position(|c| !matches!(c, b' ' | b'\t' | b'\n' | b'\r'))?;
        Some(i + 1)
    }
}

/// A string node's text: in the line, or among the unescaped strings.
fn string_text<'s>(node: &Node, text: &'s str, unescaped: &'s str) -> Option<&'s str> {
    if node.is_escaped() {
        unescaped.get(node.aux as usize..node.aux2 as usize)
    } else {
        text.get(node.span())
    }
}

/// Iterator over the members of one recorded object.
pub(crate) struct Members<'d, 's> {
    nodes: &'d [Node],
    text: &'s str,
    unescaped: &'s str,
    next: usize,
    end: usize,
}

impl<'s> Iterator for Members<'_, 's> {
    type Item = Member<'s>;

    fn next(&mut self) -> Option<Member<'s>> {
        if self.next >= self.end {
            return None;
        }
        let key_node = self.nodes.get(self.next)?;
        let key = string_text(key_node, self.text, self.unescaped)?;
        let value = self.next + 1;
        self.next = value + self.nodes.get(value)?.width(value);
        Some(Member { key, tag: key_node.tag, value })
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
            doc.members(ROOT).map(|m| m.map(|m| m.key.to_owned()).collect::<Vec<_>>())
        })
        .unwrap();
        assert_eq!(keys, Some(vec!["a".into(), "b".into(), "c".into()]));
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
    fn member_texts_and_columns_are_those_of_the_line() {
        let line = r#" { "properties" :	{"x":{"y":"}"}} , "e\u0076ent" : "a" ,"n": -1.5e3 } "#;
        let found = with_doc(line, |doc| {
            doc.members(ROOT)
                .unwrap()
                .map(|m| {
                    let text = doc.value_text(m.value).unwrap();
                    (m.key.to_owned(), text.to_owned(), doc.column(m.value))
                })
                .collect::<Vec<_>>()
        })
        .unwrap();
        let expected = [
            ("properties", r#"{"x":{"y":"}"}}"#, Some(19)),
            ("event", r#""a""#, Some(52)),
            ("n", "-1.5e3", Some(62)),
        ];
        let found: Vec<_> = found.iter().map(|(k, t, c)| (k.as_str(), t.as_str(), *c)).collect();
        assert_eq!(found, expected);
    }

    #[test]
    fn numbers_are_integers_when_they_fit() {
        let numbers =
            ["0", "-0", "42", "-9223372036854775808", "18446744073709551615", "1e2", "2.5"]
                .map(Number::parse);
        let expected = [
            Some(Number::Int(0)),
            Some(Number::Int(0)),
            Some(Number::Int(42)),
            Some(Number::Int(i64::MIN)),
            Some(Number::UInt(u64::MAX)),
            Some(Number::Float(100.0)),
            Some(Number::Float(2.5)),
        ];
        assert_eq!(numbers, expected);
        assert_eq!(
            Number::parse("18446744073709551616"),
            Some(Number::Float(1.844_674_407_370_955_2e19))
        );
    }

    #[test]
    fn invalid_json_reports_a_column() {
        let err = Parser::new().parse(br#"{"a":1,}"#, |_| Ok(())).unwrap_err();
        assert!(err.reason.starts_with("line is not valid JSON: "), "{err}");
        assert_eq!(err.column, Some(8), "{err}");
    }

    #[test]
    fn invalid_utf8_is_reported_where_it_starts() {
        let err = Parser::new().parse(b"{\"a\":\"b\xff\"}", |_| Ok(())).unwrap_err();
        assert_eq!(
            err.to_string(),
            "line is not valid JSON at column 8: invalid unicode code point"
        );
    }

    #[test]
    fn parser_is_reusable_after_errors() {
        let mut parser = Parser::new();
        assert!(parser.parse(b"{", |_| Ok(())).is_err());
        let n = parser.parse(br#"{"a":1}"#, |doc| Ok(doc.members(ROOT).map(Iterator::count)));
        assert_eq!(n, Ok(Some(1)));
    }
}
