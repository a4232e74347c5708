//! `--jq EXPR`: a jq filter over json/jsonl results, evaluated by jaq.

use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Vars, data, unwrap_valr};
use jaq_json::Val;
use serde_json::Value;

/// Runs `expr` over `input` and returns every output value.
pub(crate) fn apply(expr: &str, input: &Value) -> Result<Vec<Value>, String> {
    let defs = jaq_core::defs().chain(jaq_std::defs()).chain(jaq_json::defs());
    let funs = jaq_core::funs().chain(jaq_std::funs()).chain(jaq_json::funs());
    let loader = Loader::new(defs);
    let arena = Arena::default();
    let modules = loader.load(&arena, File { code: expr, path: () }).map_err(|errors| {
        format!("cannot parse the jq expression {expr:?} ({} error(s))", errors.len())
    })?;
    let filter = Compiler::default().with_funs(funs).compile(modules).map_err(|errors| {
        format!("cannot compile the jq expression {expr:?} ({} error(s))", errors.len())
    })?;
    let text = serde_json::to_string(input).map_err(|e| e.to_string())?;
    let value = jaq_json::read::parse_single(text.as_bytes())
        .map_err(|e| format!("cannot read the result as JSON: {e}"))?;
    let ctx = Ctx::<data::JustLut<Val>>::new(&filter.lut, Vars::new([]));
    let mut outputs = Vec::new();
    for output in filter.id.run((ctx, value)).map(unwrap_valr) {
        let output = output.map_err(|e| format!("jq: {e}"))?;
        let json: Value = serde_json::from_str(&output.to_string())
            .map_err(|e| format!("jq produced a value that is not JSON ({e})"))?;
        outputs.push(json);
    }
    Ok(outputs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selects_and_maps() {
        let input = serde_json::json!([{"name": "a", "n": 1}, {"name": "b", "n": 5}]);
        let out = apply(".[] | select(.n > 2) | .name", &input).unwrap();
        assert_eq!(out, vec![Value::from("b")]);
    }

    #[test]
    fn several_outputs_are_kept_in_order() {
        let input = serde_json::json!({"a": [1, 2, 3]});
        assert_eq!(
            apply(".a[]", &input).unwrap(),
            vec![Value::from(1), Value::from(2), Value::from(3)]
        );
    }

    #[test]
    fn a_bad_expression_is_an_error() {
        assert!(apply(".[", &Value::Null).is_err());
    }
}
