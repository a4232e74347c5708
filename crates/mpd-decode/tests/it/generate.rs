//! Strategies for event lines, and a JSON renderer that varies escaping and spacing so the
//! decoder sees more than serde_json's canonical text.

use proptest::prelude::*;
use serde_json::{Map, Value};

/// How to render JSON text.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Style {
    /// Escape every non-ASCII character as `\uXXXX` (surrogate pairs beyond the BMP).
    pub(crate) ascii: bool,
    /// Spaces around `:` and `,` and inside brackets.
    pub(crate) spaced: bool,
}

pub(crate) fn style() -> impl Strategy<Value = Style> {
    (any::<bool>(), any::<bool>()).prop_map(|(ascii, spaced)| Style { ascii, spaced })
}

pub(crate) fn render(v: &Value, style: Style) -> String {
    let mut out = String::new();
    render_into(v, style, &mut out);
    out
}

fn render_into(v: &Value, style: Style, out: &mut String) {
    let sep = |out: &mut String, c: char| {
        if style.spaced {
            out.push(' ');
            out.push(c);
            out.push(' ');
        } else {
            out.push(c);
        }
    };
    match v {
        Value::String(s) => render_string(s, style, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    sep(out, ',');
                }
                render_into(item, style, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    sep(out, ',');
                }
                render_string(k, style, out);
                sep(out, ':');
                render_into(item, style, out);
            }
            out.push('}');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

pub(crate) fn render_string(s: &str, style: Style, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '/' if style.ascii => out.push_str("\\/"),
            c if (c as u32) < 0x20 || (style.ascii && !c.is_ascii()) => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04X}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Any JSON value, nested a few levels, with unicode strings and keys.
pub(crate) fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (prop::num::f64::NORMAL | prop::num::f64::ZERO).prop_map(Value::from),
        any::<String>().prop_map(Value::String),
        "[{}\\[\\]\"\\\\:, ]{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 40, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// An epoch `time` in the shapes Mixpanel sends, and some it must not.
pub(crate) fn time_value() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        4 => (0i64..4_000_000_000).prop_map(|s| Some(Value::from(s))),
        3 => (0i64..4_000_000_000_000).prop_map(|ms| Some(Value::from(ms))),
        2 => (0i64..4_000_000_000, 0u32..1000)
            .prop_map(|(s, frac)| Some(Value::from(s as f64 + f64::from(frac) / 1000.0))),
        1 => (-100_000i64..100_000).prop_map(|s| Some(Value::from(s))),
        1 => any::<i64>().prop_map(|t| Some(Value::from(t))),
        1 => "[0-9]{10}".prop_map(|s| Some(Value::String(s))),
        1 => Just(None),
        1 => Just(Some(Value::Null)),
    ]
}

/// An id field: absent, null, a string, or a number.
pub(crate) fn id_value() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        2 => Just(None),
        1 => Just(Some(Value::Null)),
        4 => any::<String>().prop_map(|s| Some(Value::String(s))),
        1 => any::<i64>().prop_map(|n| Some(Value::from(n))),
        1 => any::<bool>().prop_map(|b| Some(Value::Bool(b))),
    ]
}

/// An event name: usually a string, sometimes absent or another type.
pub(crate) fn name_value() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        8 => any::<String>().prop_map(|s| Some(Value::String(s))),
        1 => Just(None),
        1 => any::<i64>().prop_map(|n| Some(Value::from(n))),
    ]
}

/// The special properties of an event, set into a random property map.
#[derive(Debug, Clone)]
pub(crate) struct Specials {
    pub(crate) time: Option<Value>,
    pub(crate) distinct_id: Option<Value>,
    pub(crate) device_id: Option<Value>,
    pub(crate) user_id: Option<Value>,
    pub(crate) insert_id: Option<Value>,
    pub(crate) processing: Option<Value>,
}

pub(crate) fn specials() -> impl Strategy<Value = Specials> {
    let processing = prop_oneof![
        Just(None),
        (1_600_000_000_000i64..1_800_000_000_000).prop_map(|ms| Some(Value::from(ms))),
        Just(Some(Value::String("late".into()))),
    ];
    (time_value(), id_value(), id_value(), id_value(), id_value(), processing).prop_map(
        |(time, distinct_id, device_id, user_id, insert_id, processing)| Specials {
            time,
            distinct_id,
            device_id,
            user_id,
            insert_id,
            processing,
        },
    )
}

/// A property map: random members plus the specials (under the given key names).
pub(crate) fn with_specials(
    mut map: Map<String, Value>,
    s: &Specials,
    keys: [&str; 6],
) -> Map<String, Value> {
    let fields = [&s.time, &s.distinct_id, &s.device_id, &s.user_id, &s.insert_id, &s.processing];
    for (key, value) in keys.into_iter().zip(fields) {
        match value {
            Some(v) => map.insert(key.to_owned(), v.clone()),
            None => map.remove(key),
        };
    }
    map
}

pub(crate) fn property_map() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map(any::<String>(), json_value(), 0..8)
        .prop_map(|m| m.into_iter().collect())
}

/// Renders an object from members in the given order, splicing `properties_text` verbatim for
/// the member named `properties`.
pub(crate) fn render_line(
    members: &[(&str, Option<Value>)],
    properties_text: &str,
    style: Style,
) -> String {
    let mut out = String::from(if style.spaced { " { " } else { "{" });
    let present = members.iter().filter_map(|(k, v)| Some((*k, v.as_ref()?)));
    for (i, (key, value)) in present.enumerate() {
        if i > 0 {
            out.push_str(if style.spaced { " , " } else { "," });
        }
        render_string(key, style, &mut out);
        out.push_str(if style.spaced { " :\t" } else { ":" });
        if key == "properties" {
            out.push_str(properties_text);
        } else {
            out.push_str(&render(value, style));
        }
    }
    out.push_str(if style.spaced { " } " } else { "}" });
    out
}
