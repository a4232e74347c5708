//! The JSON reader against serde_json: the same verdict on every line, what it records and
//! skips, the quote bitmap against reading byte by byte, and the faults it names.

use proptest::prelude::*;
use serde_json::Value;

use super::*;

fn accepts(line: &[u8]) -> bool {
    read(line, &mut Tape::default(), |_| 1).is_ok() && std::str::from_utf8(line).is_ok()
}

/// serde_json's verdict, or `None` for what the reader accepts on purpose: a number too large
/// for a float, and nesting past serde_json's recursion limit.
fn serde_accepts(line: &[u8]) -> Option<bool> {
    match serde_json::from_slice::<Value>(line) {
        Ok(_) => Some(true),
        Err(e) if e.to_string().contains("out of range") => None,
        Err(e) if e.to_string().contains("recursion limit") => None,
        Err(_) => Some(false),
    }
}

#[test]
fn plain_run_stops_at_each_stop_byte_wherever_it_is() {
    for len in 0..24 {
        for stop in [b'"', b'\\', 0x00, 0x1f, b'\n'] {
            let mut text = vec![b'a'; len];
            text.extend_from_slice(&[stop, b'b', b'"']);
            assert_eq!(plain_run(&text), len, "stop {stop:#x} after {len} bytes");
        }
        let plain: Vec<u8> = "é x~\u{7f}".bytes().cycle().take(len).collect();
        assert_eq!(plain_run(&plain), len);
    }
}

proptest! {
    #[test]
    fn quote_bits_agree_with_a_look_at_every_byte(block in prop::array::uniform32(any::<u8>()), more in prop::array::uniform32(prop::sample::select(&b"\"\\ \x1f\x20a\x7f\x80\xff\x00"[..]))) {
        let mut bytes = [0u8; 64];
        bytes[..32].copy_from_slice(&block);
        bytes[32..].copy_from_slice(&more);
        prop_assert_eq!(quote_bits(&bytes), quote_bits_bytewise(&bytes));
    }
}

#[test]
fn digit_run_stops_at_the_first_other_byte() {
    for len in 0..20 {
        for stop in [b'/', b':', b'.', b',', b'e', 0x00, 0xb0, 0xff] {
            let mut text: Vec<u8> = b"x".to_vec();
            text.extend((0..len).map(|i| b'0' + (i % 10) as u8));
            text.extend_from_slice(&[stop, b'1', b'2']);
            assert_eq!(digit_run(&text, 1), len, "stop {stop:#x} after {len} digits");
        }
        let digits: Vec<u8> = (0..len).map(|i| b'9' - (i % 10) as u8).collect();
        assert_eq!(digit_run(&digits, 0), len);
    }
}

#[test]
fn records_two_levels_and_skips_deeper_values() {
    let line = br#"{"e":"x","p":{"a":[1,{"b":2}],"o":{"c":{"d":3}},"n":null},"t":true}"#;
    let mut tape = Tape::default();
    read(line, &mut tape, |_| 1).unwrap();
    let kinds: Vec<Kind> = tape.nodes.iter().map(|n| n.kind).collect();
    use Kind::{Array, Bool, Null, Object, String};
    #[rustfmt::skip]
    let expected = [
        Object, String, String, String, Object, String, Array, String, Object, String, Null,
        String, Bool,
    ];
    assert_eq!(kinds, expected);
    let text = |i: usize| std::str::from_utf8(&line[tape.nodes[i].span()]).unwrap();
    assert_eq!(text(8), r#"{"c":{"d":3}}"#);
    assert_eq!(text(6), r#"[1,{"b":2}]"#);
    assert_eq!(tape.nodes[4].width(4), 7);
    assert_eq!(tape.nodes[0].width(0), kinds.len());
    assert!(!tape.nodes[8].has_members());
}

#[test]
fn escaped_strings_are_unescaped() {
    let line = r#"{"k\u00e9y":"a\"b\\c\/d\b\f\n\r\t\u0041\ud83d\ude00z","plain":"é"}"#;
    let mut tape = Tape::default();
    read(line.as_bytes(), &mut tape, |_| 1).unwrap();
    let key = tape.nodes[1];
    assert!(key.is_escaped());
    assert_eq!(&tape.unescaped[key.aux as usize..key.aux2 as usize], "kéy");
    let value = tape.nodes[2];
    assert_eq!(
        &tape.unescaped[value.aux as usize..value.aux2 as usize],
        "a\"b\\c/d\u{8}\u{c}\n\r\tA\u{1F600}z"
    );
    assert!(!tape.nodes[4].is_escaped());
}

#[test]
fn faults_name_the_problem_and_where() {
    let cases: &[(&str, usize, &str)] = &[
        ("", 0, "unexpected end of line"),
        ("{", 1, "expected a key"),
        (r#"{"a":1,}"#, 7, "expected a key"),
        (r#"{"a" 1}"#, 5, "expected `:`"),
        (r#"{"a":1 "b":2}"#, 7, "expected `,` or `}`"),
        (r#"{"a":[1 2]}"#, 8, "expected `,` or `]`"),
        (r#"{"a":{"b":{"c":[}}}"#, 16, "expected a value"),
        (r#"{"a":"b"} x"#, 10, "trailing characters"),
        (r#"{"a":01}"#, 6, "expected `,` or `}`"),
        (r#"{"a":-}"#, 6, "invalid number"),
        (r#"{"a":1.}"#, 7, "invalid number"),
        (r#"{"a":1e+}"#, 8, "invalid number"),
        (r#"{"a":tru}"#, 5, "expected a value"),
        ("{\"a\":\"b\tc\"}", 7, "control character in a string"),
        (r#"{"a":"b\x"}"#, 7, "invalid escape"),
        (r#"{"a":"\u12"}"#, 6, "invalid `\\u` escape"),
        (r#"{"a":"\ud800x"}"#, 6, "lone surrogate in a `\\u` escape"),
        (r#"{"a":"\udc00"}"#, 6, "lone surrogate in a `\\u` escape"),
        (r#"{"a":"b"#, 7, "unterminated string"),
    ];
    for &(line, at, what) in cases {
        let fault = read(line.as_bytes(), &mut Tape::default(), |_| 1).unwrap_err();
        assert_eq!(fault, Fault { at, what }, "{line}");
        assert_eq!(serde_accepts(line.as_bytes()), Some(false), "{line}");
    }
}

#[test]
fn members_below_the_root_are_recorded_when_wanted_or_escaped() {
    let line = br#"{"e":"x","p":{"a":[1],"b\u0061":2,"c":{"d":3},"keep":"y"},"q":{"keep":1}}"#;
    let mut tape = Tape::default();
    read(line, &mut tape, |key| u16::from(key == b"keep") * 7).unwrap();
    let tags: Vec<u16> = tape.nodes.iter().map(|n| n.tag).collect();
    assert_eq!(tags, [0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 7, 0]);
    let texts: Vec<&str> = tape
        .nodes
        .iter()
        .map(|n| {
            if n.is_escaped() {
                &tape.unescaped[n.aux as usize..n.aux2 as usize]
            } else {
                std::str::from_utf8(&line[n.span()]).unwrap()
            }
        })
        .collect();
    let p = r#"{"a":[1],"b\u0061":2,"c":{"d":3},"keep":"y"}"#;
    let expected =
        ["", "e", "x", "p", p, "ba", "2", "keep", "y", "q", r#"{"keep":1}"#, "keep", "1"];
    assert_eq!(texts[1..], expected[1..]);
    assert_eq!(tape.nodes[4].width(4), 5);
    assert!(read(br#"{"p":{"skipped":[1,}}"#, &mut tape, |_| 0).is_err());
}

#[test]
fn deep_nesting_costs_no_stack() {
    let depth = 100_000;
    let line = format!(r#"{{"p":{{"q":{}1{}}}}}"#, "[{\"a\":".repeat(depth), "}]".repeat(depth));
    assert!(accepts(line.as_bytes()));
    assert!(!accepts(&line.as_bytes()[..line.len() - 3]));
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e300f64..1e300).prop_map(Value::from),
        "(\\PC|[\"\\\\/\u{0}-\u{1f}\u{1F600}])*".prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((".{0,6}", inner), 0..6)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

/// Whitespace JSON allows, put between the tokens of `text` (outside strings).
fn spaced(text: &str, spaces: &[u8]) -> Vec<u8> {
    let (mut out, mut in_string, mut escaped, mut k) = (Vec::new(), false, false, 0);
    for c in text.bytes() {
        out.push(c);
        if in_string {
            (in_string, escaped) = (escaped || c != b'"', !escaped && c == b'\\');
        } else if c == b'"' {
            in_string = true;
        } else if matches!(c, b'{' | b'[' | b',' | b':') {
            out.extend(std::iter::repeat_n(
                b" \t\n\r"[k % 4],
                usize::from(spaces[k % spaces.len()]),
            ));
            k += 1;
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn accepts_what_serde_json_writes(value in json_value(), spaces in prop::collection::vec(0u8..3, 1..8)) {
        let line = spaced(&value.to_string(), &spaces);
        prop_assert!(accepts(&line), "{}", String::from_utf8_lossy(&line));
        let mut tape = Tape::default();
        read(&line, &mut tape, |_| 1).unwrap();
        // The root's recorded members hold serde_json's values.
        if let (Value::Object(map), Some(root)) = (&value, tape.nodes.first()) {
            prop_assert!(root.has_members());
            let mut at = 1;
            for (key, expected) in map {
                let key_node = tape.nodes[at];
                let key_text = if key_node.is_escaped() {
                    &tape.unescaped[key_node.aux as usize..key_node.aux2 as usize]
                } else {
                    std::str::from_utf8(&line[key_node.span()]).unwrap()
                };
                prop_assert_eq!(key_text, key.as_str());
                let node = tape.nodes[at + 1];
                let quotes = usize::from(node.kind == Kind::String);
                let raw = &line[node.start as usize - quotes..node.end as usize + quotes];
                // Both through serde_json's own float parsing, which is not exact.
                let again = serde_json::from_str::<Value>(&expected.to_string()).unwrap();
                prop_assert_eq!(serde_json::from_slice::<Value>(raw).unwrap(), again);
                at += 1 + node.width(at + 1);
            }
            prop_assert_eq!(at, tape.nodes.len());
        }
    }

    #[test]
    fn quote_bits_and_byte_by_byte_agree(value in json_value()) {
        let line = value.to_string().into_bytes();
        let mut quotes = Vec::new();
        let plain = index_quotes(&line, &mut quotes);
        prop_assert_eq!(plain, !line.iter().any(|&c| c == b'\\' || c < 0x20));
        let (mut fast, mut slow) = (Tape::default(), Tape::default());
        let fast_result = read_with(&line, &mut fast, plain.then_some(&quotes), |_| 1);
        let slow_result = read_with(&line, &mut slow, None, |_| 1);
        prop_assert_eq!(fast_result, slow_result);
        let spans = |t: &Tape| t.nodes.iter().map(|n| (n.kind, n.span(), n.aux, n.aux2)).collect::<Vec<_>>();
        prop_assert_eq!(spans(&fast), spans(&slow));
        prop_assert_eq!(fast.unescaped, slow.unescaped);
    }

    #[test]
    fn agrees_with_serde_json_on_damaged_lines(
        value in json_value(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, any::<u8>()), 1..4),
    ) {
        let mut line = value.to_string().into_bytes();
        for (at, how, byte) in edits {
            let bytes = b"{}[]\",:\\ 0123456789.eE+-tfnrlu\x01\xc3\xa9";
            let byte = bytes[usize::from(byte) % bytes.len()];
            let i = at.index(line.len() + 1);
            match how {
                0 => line.insert(i, byte),
                1 if i < line.len() => _ = line.remove(i),
                _ if i < line.len() => line[i] = byte,
                _ => line.push(byte),
            }
        }
        if let Some(expected) = serde_accepts(&line) {
            prop_assert_eq!(accepts(&line), expected, "{}", String::from_utf8_lossy(&line));
        }
    }
}
