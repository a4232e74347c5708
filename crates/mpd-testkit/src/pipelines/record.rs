//! Record shapes of JSON pipelines: an export line reshaped into an event record, and the
//! people and identity-mapping records.

use serde_json::{Map, Value, json};

/// Reshapes one raw-export line into a pipeline event record:
/// `event_name, time, distinct_id, device_id, user_id, insert_id, properties`, ids copied from
/// the properties (`null` when absent) and the properties kept as they are (key order too).
pub(crate) fn event_record(line: &[u8]) -> Result<String, String> {
    let value: Value = serde_json::from_slice(line).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(mut top) = value else {
        return Err("not a JSON object".to_owned());
    };
    let Some(Value::Object(properties)) = top.remove("properties") else {
        return Err("no `properties` object".to_owned());
    };
    let copy = |key: &str| properties.get(key).cloned().unwrap_or(Value::Null);
    let mut record = Map::new();
    record.insert("event_name".to_owned(), top.remove("event").unwrap_or(Value::Null));
    record.insert("time".to_owned(), copy("time"));
    record.insert("distinct_id".to_owned(), copy("distinct_id"));
    record.insert("device_id".to_owned(), copy("$device_id"));
    record.insert("user_id".to_owned(), copy("$user_id"));
    record.insert("insert_id".to_owned(), copy("$insert_id"));
    record.insert("properties".to_owned(), Value::Object(properties));
    serde_json::to_string(&record).map_err(|e| e.to_string())
}

/// An engage profile (`$distinct_id`, `$properties`) as a people record.
pub(crate) fn people_record(profile: &Value) -> String {
    json!({
        "distinct_id": profile["$distinct_id"],
        "properties": profile["$properties"],
    })
    .to_string()
}

/// One identity merge as an identity-mapping record.
pub(crate) fn identity_record(distinct_id: &str, resolved_distinct_id: &str) -> String {
    json!({ "distinct_id": distinct_id, "resolved_distinct_id": resolved_distinct_id }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_lines_are_reshaped_with_properties_untouched() {
        let line = r#"{"event":"Purchase","properties":{"time":1700000000,"distinct_id":"u_1","$insert_id":"abc","$device_id":"d-9","$user_id":"u_1","amount":19.05,"z":1,"a":"東京"}}"#;
        let record = event_record(line.as_bytes()).unwrap();
        assert_eq!(
            record,
            r#"{"event_name":"Purchase","time":1700000000,"distinct_id":"u_1","device_id":"d-9","user_id":"u_1","insert_id":"abc","properties":{"time":1700000000,"distinct_id":"u_1","$insert_id":"abc","$device_id":"d-9","$user_id":"u_1","amount":19.05,"z":1,"a":"東京"}}"#
        );
    }

    #[test]
    fn absent_ids_are_null() {
        let record = event_record(br#"{"event":"Search","properties":{"time":5,"distinct_id":"$device:x","$device_id":"x"}}"#).unwrap();
        let v: Value = serde_json::from_str(&record).unwrap();
        assert_eq!(v["user_id"], Value::Null);
        assert_eq!(v["insert_id"], Value::Null);
        assert_eq!(v["device_id"], "x");
    }

    #[test]
    fn lines_without_properties_are_rejected() {
        assert!(event_record(b"terminated early").is_err());
        assert!(event_record(b"[1]").is_err());
        assert!(event_record(br#"{"event":"A","properties":3}"#).is_err());
    }

    #[test]
    fn people_and_identity_records() {
        let profile = json!({"$distinct_id": "u_1", "$properties": {"plan": "pro"}});
        assert_eq!(people_record(&profile), r#"{"distinct_id":"u_1","properties":{"plan":"pro"}}"#);
        assert_eq!(
            identity_record("$device:x", "u_1"),
            r#"{"distinct_id":"$device:x","resolved_distinct_id":"u_1"}"#
        );
    }
}
