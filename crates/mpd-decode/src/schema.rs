//! The Arrow schemas of the tables this crate's batches are written to (listed in docs/ARCHITECTURE.md, "Contracts").
//!
//! Every timestamp is `Timestamp(Microsecond, "UTC")`: Delta Lake knows only microsecond
//! timestamps, so `mp_processing_time`, which Mixpanel gives in milliseconds, is stored as
//! microseconds too (the value times 1000).

use std::sync::{Arc, LazyLock};

use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

/// Column names shared by the builders and the schemas, so the two cannot drift apart.
pub(crate) mod col {
    pub(crate) const EVENT_NAME: &str = "event_name";
    pub(crate) const TIME: &str = "time";
    pub(crate) const DATE: &str = "date";
    pub(crate) const DISTINCT_ID: &str = "distinct_id";
    pub(crate) const DEVICE_ID: &str = "device_id";
    pub(crate) const USER_ID: &str = "user_id";
    pub(crate) const INSERT_ID: &str = "insert_id";
    pub(crate) const MP_PROCESSING_TIME: &str = "mp_processing_time";
    pub(crate) const PROPERTIES: &str = "properties";
    pub(crate) const SYNC_ID: &str = "_sync_id";
    pub(crate) const LAST_SEEN: &str = "last_seen";
    pub(crate) const RESOLVED_DISTINCT_ID: &str = "resolved_distinct_id";
    pub(crate) const SOURCE: &str = "source";
    pub(crate) const REJECTION_REASON: &str = "rejection_reason";
    pub(crate) const REJECTED_AT: &str = "rejected_at";
    pub(crate) const KEPT_SYNC_ID: &str = "kept_sync_id";
}

/// `Timestamp(Microsecond, Some("UTC"))`, the one timestamp type of every table.
#[must_use]
pub fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn utf8(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Utf8, nullable)
}

fn timestamp(name: &str, nullable: bool) -> Field {
    Field::new(name, timestamp_type(), nullable)
}

fn int64(name: &str) -> Field {
    Field::new(name, DataType::Int64, false)
}

fn event_fields() -> Vec<Field> {
    vec![
        utf8(col::EVENT_NAME, false),
        timestamp(col::TIME, false),
        Field::new(col::DATE, DataType::Date32, false),
        utf8(col::DISTINCT_ID, false),
        utf8(col::DEVICE_ID, true),
        utf8(col::USER_ID, true),
        utf8(col::INSERT_ID, true),
        timestamp(col::MP_PROCESSING_TIME, true),
        utf8(col::PROPERTIES, false),
        int64(col::SYNC_ID),
    ]
}

static EVENTS: LazyLock<SchemaRef> = LazyLock::new(|| Arc::new(Schema::new(event_fields())));

static PROFILES: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        utf8(col::DISTINCT_ID, false),
        utf8(col::PROPERTIES, false),
        timestamp(col::LAST_SEEN, true),
        int64(col::SYNC_ID),
    ]))
});

static IDENTITY: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        utf8(col::DISTINCT_ID, false),
        utf8(col::RESOLVED_DISTINCT_ID, false),
        utf8(col::SOURCE, false),
        int64(col::SYNC_ID),
    ]))
});

static REJECTED: LazyLock<SchemaRef> = LazyLock::new(|| {
    let mut fields = event_fields();
    fields.extend([
        utf8(col::REJECTION_REASON, false),
        timestamp(col::REJECTED_AT, false),
        int64(col::KEPT_SYNC_ID),
    ]);
    Arc::new(Schema::new(fields))
});

/// The `events` table: `event_name`, `time`, `date` (UTC day of `time`, the partition column),
/// `distinct_id`, `device_id`, `user_id`, `insert_id` (nullable), `mp_processing_time`
/// (nullable; Mixpanel's milliseconds stored as microseconds, see the module docs),
/// `properties` (the original JSON text) and `_sync_id` (the run that wrote the row).
#[must_use]
pub fn events_schema() -> SchemaRef {
    Arc::clone(&EVENTS)
}

/// The `profiles` table: `distinct_id`, `properties` (JSON text), `last_seen` (nullable),
/// `_sync_id`.
#[must_use]
pub fn profiles_schema() -> SchemaRef {
    Arc::clone(&PROFILES)
}

/// The `identity_mappings` table: `distinct_id`, `resolved_distinct_id`, `source`
/// (`pipelines` or `derived`, see [`IdentitySource`](crate::IdentitySource)), `_sync_id`.
#[must_use]
pub fn identity_schema() -> SchemaRef {
    Arc::clone(&IDENTITY)
}

/// The `rejected_duplicates` table: the [`events_schema`] columns, then `rejection_reason`,
/// `rejected_at` and `kept_sync_id` (the run whose copy was kept).
#[must_use]
pub fn rejected_duplicates_schema() -> SchemaRef {
    Arc::clone(&REJECTED)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(schema: &Schema) -> Vec<(&str, DataType, bool)> {
        schema
            .fields()
            .iter()
            .map(|f| (f.name().as_str(), f.data_type().clone(), f.is_nullable()))
            .collect()
    }

    fn event_shape() -> Vec<(&'static str, DataType, bool)> {
        vec![
            ("event_name", DataType::Utf8, false),
            ("time", timestamp_type(), false),
            ("date", DataType::Date32, false),
            ("distinct_id", DataType::Utf8, false),
            ("device_id", DataType::Utf8, true),
            ("user_id", DataType::Utf8, true),
            ("insert_id", DataType::Utf8, true),
            ("mp_processing_time", timestamp_type(), true),
            ("properties", DataType::Utf8, false),
            ("_sync_id", DataType::Int64, false),
        ]
    }

    #[test]
    fn timestamps_are_utc_microseconds() {
        assert_eq!(
            timestamp_type(),
            DataType::Timestamp(TimeUnit::Microsecond, Some(Arc::from("UTC")))
        );
    }

    #[test]
    fn events() {
        assert_eq!(shape(&events_schema()), event_shape());
    }

    #[test]
    fn profiles() {
        assert_eq!(
            shape(&profiles_schema()),
            vec![
                ("distinct_id", DataType::Utf8, false),
                ("properties", DataType::Utf8, false),
                ("last_seen", timestamp_type(), true),
                ("_sync_id", DataType::Int64, false),
            ]
        );
    }

    #[test]
    fn identity() {
        assert_eq!(
            shape(&identity_schema()),
            vec![
                ("distinct_id", DataType::Utf8, false),
                ("resolved_distinct_id", DataType::Utf8, false),
                ("source", DataType::Utf8, false),
                ("_sync_id", DataType::Int64, false),
            ]
        );
    }

    #[test]
    fn rejected_duplicates_extend_events() {
        let mut expected = event_shape();
        expected.extend([
            ("rejection_reason", DataType::Utf8, false),
            ("rejected_at", timestamp_type(), false),
            ("kept_sync_id", DataType::Int64, false),
        ]);
        assert_eq!(shape(&rejected_duplicates_schema()), expected);
    }

    #[test]
    fn schemas_are_shared_not_rebuilt() {
        assert!(Arc::ptr_eq(&events_schema(), &events_schema()));
    }
}
