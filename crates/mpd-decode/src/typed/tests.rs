//! Typed columns: the JSON functions' rules on every kind of value, the schema's metadata, and
//! the columns of stored properties.

use arrow_array::{Array, Float64Array, RecordBatch, StringArray};

use super::*;
use crate::{EventBatchBuilder, LineFormat, TimeCorrection};

fn typed(list: &[(&str, PropertyKind)]) -> TypedProperties {
    TypedProperties::new(list.iter().map(|(k, kind)| TypedProperty::new(k, *kind)).collect())
        .expect("valid")
}

fn build(typed: TypedProperties, lines: &[&str]) -> RecordBatch {
    let mut builder =
        EventBatchBuilder::with_typed(LineFormat::Export, TimeCorrection::None, 1, 64, typed);
    for line in lines {
        let _ = builder.push_line(line.as_bytes());
    }
    builder.finish().expect("rows")
}

fn line(props: &str) -> String {
    format!(r#"{{"event":"E","properties":{{"time":1700000000,"distinct_id":"u"{props}}}}}"#)
}

fn texts(batch: &RecordBatch, column: &str) -> Vec<Option<String>> {
    let array = batch.column_by_name(column).expect("column");
    let array = array.as_any().downcast_ref::<StringArray>().expect("utf8");
    (0..array.len()).map(|i| array.is_valid(i).then(|| array.value(i).to_owned())).collect()
}

fn floats(batch: &RecordBatch, column: &str) -> Vec<Option<f64>> {
    let array = batch.column_by_name(column).expect("column");
    let array = array.as_any().downcast_ref::<Float64Array>().expect("f64");
    (0..array.len()).map(|i| array.is_valid(i).then(|| array.value(i))).collect()
}

#[test]
fn column_names_drop_the_dollar_and_odd_characters() {
    assert_eq!(column_name("$browser"), "prop_browser");
    assert_eq!(column_name("mp_country_code"), "prop_mp_country_code");
    assert_eq!(column_name("Plan Type"), "prop_plan_type");
    assert_eq!(column_name("$city-ü"), "prop_city__");
}

#[test]
fn text_is_what_the_arrow_operator_returns() {
    let t = typed(&[("$browser", PropertyKind::Text)]);
    let batch = build(
        t,
        &[
            &line(r#","$browser":"Chrome""#),
            &line(r#","$browser":"Fire\u0066ox""#),
            &line(r#","$browser":null"#),
            &line(""),
            &line(r#","$browser":12.50"#),
            &line(r#","$browser":true"#),
            &line(r#","$browser":{"a": [1, 2]}"#),
            &line(r#","$browser":"first","$browser":"second""#),
        ],
    );
    assert_eq!(
        texts(&batch, "prop_browser"),
        vec![
            Some("Chrome".into()),
            Some("Firefox".into()),
            None,
            None,
            Some("12.50".into()),
            Some("true".into()),
            Some(r#"{"a": [1, 2]}"#.into()),
            Some("first".into()),
        ]
    );
}

#[test]
fn float_is_what_json_get_float_returns() {
    let t = typed(&[("amount", PropertyKind::Float)]);
    let batch = build(
        t,
        &[
            &line(r#","amount":9.99"#),
            &line(r#","amount":3"#),
            &line(r#","amount":"4.5""#),
            &line(r#","amount":"n/a""#),
            &line(r#","amount":null"#),
            &line(r#","amount":[1]"#),
            &line(""),
            &line(r#","amount":18446744073709551615"#),
        ],
    );
    assert_eq!(
        floats(&batch, "prop_amount"),
        vec![
            Some(9.99),
            Some(3.0),
            Some(4.5),
            None,
            None,
            None,
            None,
            Some(1.844_674_407_370_955_2e19)
        ]
    );
}

#[test]
fn a_failing_line_appends_no_typed_value() {
    let t = typed(&[("$os", PropertyKind::Text), ("amount", PropertyKind::Float)]);
    let mut builder =
        EventBatchBuilder::with_typed(LineFormat::Export, TimeCorrection::None, 1, 64, t);
    builder.push_line(line(r#","$os":"Mac","amount":1"#).as_bytes()).expect("good");
    let no_time = r#"{"event":"E","properties":{"distinct_id":"u","$os":"Linux","amount":2}}"#;
    assert!(builder.push_line(no_time.as_bytes()).is_err());
    builder.push_line(line(r#","amount":3,"$os":"iOS""#).as_bytes()).expect("good");
    let batch = builder.finish().expect("rows");
    assert_eq!(batch.num_rows(), 2);
    assert_eq!(texts(&batch, "prop_os"), vec![Some("Mac".into()), Some("iOS".into())]);
    assert_eq!(floats(&batch, "prop_amount"), vec![Some(1.0), Some(3.0)]);
}

#[test]
fn the_schema_records_key_and_kind_and_reads_back() {
    let t = typed(&[("$browser", PropertyKind::Text), ("amount", PropertyKind::Float)]);
    let schema = events_schema_with(&t);
    let base = crate::events_schema().fields().len();
    assert_eq!(schema.fields().len(), base + 2);
    assert_eq!(schema.field(base).name(), "prop_browser");
    assert_eq!(schema.field(base + 1).data_type(), &DataType::Float64);
    assert_eq!(TypedProperties::from_schema(&schema), t);
    assert!(TypedProperties::from_schema(&crate::events_schema()).is_empty());
    let batch = build(t, &[&line("")]);
    assert_eq!(batch.schema(), schema);
}

#[test]
fn a_field_whose_type_disagrees_with_its_kind_is_not_typed() {
    let field = TypedProperty::new("amount", PropertyKind::Float).field();
    let retyped = field.clone().with_data_type(DataType::Utf8);
    assert!(TypedProperty::from_field(&field).is_some());
    assert_eq!(TypedProperty::from_field(&retyped), None);
}

#[test]
fn invalid_lists_say_which_rule_they_break() {
    let dup = vec![
        TypedProperty::new("$os", PropertyKind::Text),
        TypedProperty::new("$os", PropertyKind::Float),
    ];
    assert_eq!(TypedProperties::new(dup).unwrap_err(), r#"typed property "$os" is listed twice"#);
    let clash = vec![
        TypedProperty::new("$os", PropertyKind::Text),
        TypedProperty::new("os", PropertyKind::Text),
    ];
    assert_eq!(
        TypedProperties::new(clash).unwrap_err(),
        r#"typed properties "$os" and "os" would share the column prop_os"#
    );
    let many = (0..17).map(|i| TypedProperty::new(&format!("k{i}"), PropertyKind::Text)).collect();
    assert_eq!(
        TypedProperties::new(many).unwrap_err(),
        "17 typed properties given, at most 16 are allowed"
    );
    assert_eq!(
        "int".parse::<PropertyKind>().unwrap_err(),
        r#"unknown property kind "int" (expected text or float)"#
    );
}

#[test]
fn long_keys_are_matched_too() {
    let key = "k".repeat(80);
    let t = typed(&[(&key, PropertyKind::Text), ("kk", PropertyKind::Text)]);
    let batch = build(t, &[&line(&format!(r#","{}":"x","{key}":"long""#, "k".repeat(70)))]);
    assert_eq!(texts(&batch, &column_name(&key)), vec![Some("long".into())]);
    assert_eq!(texts(&batch, "prop_kk"), vec![None]);
}

#[test]
fn stored_properties_give_the_same_columns_as_decoding() {
    let t = typed(&[("$browser", PropertyKind::Text), ("amount", PropertyKind::Float)]);
    let props = [r#","$browser":"Chrome","amount":"2.5""#, "", r#","$browser":[1],"amount":3"#];
    let lines: Vec<String> = props.iter().map(|p| line(p)).collect();
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let decoded = build(t.clone(), &refs);
    let texts_column = decoded.column_by_name("properties").expect("properties");
    let stored = texts_column.as_any().downcast_ref::<StringArray>().expect("utf8");
    let mut with_bad = stored.iter().collect::<Vec<_>>();
    with_bad.push(Some("not json"));
    with_bad.push(Some("[1, 2]"));
    let columns = typed_columns_of(&t, &StringArray::from(with_bad));
    let base = crate::events_schema().fields().len();
    for (i, column) in columns.iter().enumerate() {
        assert_eq!(column.len(), 5);
        assert_eq!(&column.slice(0, 3), decoded.column(base + i), "column {i}");
        assert_eq!(column.null_count(), 2 + decoded.column(base + i).null_count());
    }
}

#[test]
fn a_key_both_read_and_typed_or_spelled_with_escapes_counts_for_both() {
    let t = typed(&[("$device_id", PropertyKind::Text), ("$browser", PropertyKind::Text)]);
    let batch = build(
        t,
        &[
            &line(r#","$device_id":"d1","$browser":"B""#),
            // Escaped keys: the reader leaves them untagged and the decoder compares them.
            &line(
                r#","$d\u0065vice_id":"d2","$bro\u0077ser":"C","$browser":"D","dist\u0069nct_id":"w""#,
            ),
            // Read keys keep their last occurrence, typed ones their first.
            &line(r#","$device_id":"d3","$browser":"E","$device_id":"d4","$browser":"F""#),
        ],
    );
    assert_eq!(
        texts(&batch, "prop_device_id"),
        [Some("d1".into()), Some("d2".into()), Some("d3".into())]
    );
    assert_eq!(
        texts(&batch, "device_id"),
        [Some("d1".into()), Some("d2".into()), Some("d4".into())]
    );
    assert_eq!(
        texts(&batch, "prop_browser"),
        [Some("B".into()), Some("C".into()), Some("E".into())]
    );
    assert_eq!(
        texts(&batch, "distinct_id"),
        [Some("u".into()), Some("w".into()), Some("u".into())]
    );
}
