//! `synthetic_insert_id` ignores how the properties are written and sees what they say.

use mpd_decode::synthetic_insert_id;
use proptest::prelude::*;
use serde_json::{Map, Value};

use crate::generate::{property_map, render, style};

/// The same value with every object's members in another order (rotated by `shift`).
fn reorder(v: &Value, shift: usize) -> Value {
    match v {
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            if !members.is_empty() {
                let by = shift % members.len();
                members.rotate_left(by);
                members.reverse();
            }
            Value::Object(
                members.into_iter().map(|(k, v)| (k.clone(), reorder(v, shift))).collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| reorder(v, shift)).collect()),
        other => other.clone(),
    }
}

/// Number of scalar leaves (objects and arrays count as one if empty).
fn leaves(v: &Value) -> usize {
    match v {
        Value::Object(m) if !m.is_empty() => m.values().map(leaves).sum(),
        Value::Array(a) if !a.is_empty() => a.iter().map(leaves).sum(),
        _ => 1,
    }
}

/// Changes the `n`-th leaf (in document order) to a different value.
fn mutate(v: &mut Value, n: &mut usize) -> bool {
    match v {
        Value::Object(m) if !m.is_empty() => m.values_mut().any(|v| mutate(v, n)),
        Value::Array(a) if !a.is_empty() => a.iter_mut().any(|v| mutate(v, n)),
        leaf => {
            if *n > 0 {
                *n -= 1;
                return false;
            }
            *leaf = match leaf {
                Value::Null => Value::Bool(false),
                Value::Bool(b) => Value::Bool(!*b),
                Value::Number(x) => Value::String(x.to_string()),
                Value::String(s) => Value::String(format!("{s}x")),
                Value::Array(_) => Value::Array(vec![Value::Null]),
                Value::Object(_) => Value::Object(Map::from_iter([(String::new(), Value::Null)])),
            };
            true
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn invariant_under_key_order_whitespace_and_escaping(
        props in property_map(),
        a in style(),
        b in style(),
        shift in 0usize..8,
        name in ".*",
        id in ".*",
        time in any::<i64>(),
    ) {
        let props = Value::Object(props);
        let written = render(&props, a);
        let rewritten = render(&reorder(&props, shift), b);
        prop_assert_eq!(
            synthetic_insert_id(&name, &id, time, &written),
            synthetic_insert_id(&name, &id, time, &rewritten),
            "{} vs {}", written, rewritten
        );
    }

    #[test]
    fn changes_when_any_value_changes(
        props in property_map(),
        style in style(),
        leaf in any::<prop::sample::Index>(),
    ) {
        let original = Value::Object(props);
        let mut changed = original.clone();
        let mut n = leaf.index(leaves(&original));
        prop_assert!(mutate(&mut changed, &mut n));
        let key = |v: &Value| synthetic_insert_id("e", "d", 1, &render(v, style));
        prop_assert_ne!(key(&original), key(&changed), "{} vs {}", original, changed);
    }
}
