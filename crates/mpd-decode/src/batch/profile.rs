//! Profile lines to `profiles` batches.

use std::fmt;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_array::builder::TimestampMicrosecondBuilder;

use super::{Capacity, LineBatchBuilder, Utf8Column, record_batch, sync_id_column};
use crate::error::LineError;
use crate::profile::{ProfileDecoder, ProfileRecord};
use crate::schema::profiles_schema;

/// Builds `profiles` batches ([`profiles_schema`]) from Engage `results` objects or JSON
/// pipelines people lines, reusing one [`ProfileDecoder`].
pub struct ProfileBatchBuilder {
    decoder: ProfileDecoder,
    sync_id: i64,
    capacity: Capacity,
    rows: usize,
    distinct_id: Utf8Column,
    properties: Utf8Column,
    last_seen: TimestampMicrosecondBuilder,
}

impl fmt::Debug for ProfileBatchBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProfileBatchBuilder")
            .field("sync_id", &self.sync_id)
            .field("batch_rows", &self.capacity.rows)
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

impl ProfileBatchBuilder {
    /// A builder stamping every row with `sync_id`, full after `batch_rows` rows (at least 1).
    #[must_use]
    pub fn new(sync_id: i64, batch_rows: usize) -> Self {
        let capacity = Capacity::new(batch_rows);
        Self {
            decoder: ProfileDecoder::default(),
            sync_id,
            capacity,
            rows: 0,
            distinct_id: Utf8Column::new(capacity, 24),
            properties: Utf8Column::new(capacity, 512),
            last_seen: capacity.timestamps(),
        }
    }

    /// Decodes one profile line (without its `\n`) into one row.
    ///
    /// # Errors
    ///
    /// As [`ProfileDecoder::decode`]; the line then adds no row.
    pub fn push_line(&mut self, line: &[u8]) -> Result<(), LineError> {
        let record = self.decoder.decode(line)?;
        self.push_record(&record);
        Ok(())
    }

    /// Appends an already decoded profile as one row.
    pub fn push_record(&mut self, record: &ProfileRecord<'_>) {
        self.distinct_id.append(&record.distinct_id);
        self.properties.append(record.properties);
        self.last_seen.append_option(record.last_seen_us);
        self.rows += 1;
    }

    /// Rows pushed since the last [`finish`](Self::finish).
    #[must_use]
    pub fn len(&self) -> usize {
        self.rows
    }

    /// No rows pushed since the last [`finish`](Self::finish).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// `len() >= batch_rows`.
    #[must_use]
    pub fn is_full(&self) -> bool {
        self.rows >= self.capacity.rows
    }

    /// The rows so far as one [`profiles_schema`] batch, `None` if there are none; the builder
    /// is empty and reusable afterwards.
    pub fn finish(&mut self) -> Option<RecordBatch> {
        if self.rows == 0 {
            return None;
        }
        let rows = std::mem::take(&mut self.rows);
        let mut last_seen = std::mem::replace(&mut self.last_seen, self.capacity.timestamps());
        let columns = vec![
            self.distinct_id.finish(),
            self.properties.finish(),
            Arc::new(last_seen.finish()),
            sync_id_column(self.sync_id, rows),
        ];
        Some(record_batch(profiles_schema(), columns, self.capacity))
    }
}

impl LineBatchBuilder for ProfileBatchBuilder {
    type Batch = RecordBatch;

    fn push_line(&mut self, line: &[u8]) -> Result<(), LineError> {
        ProfileBatchBuilder::push_line(self, line)
    }

    fn len(&self) -> usize {
        self.rows
    }

    fn is_full(&self) -> bool {
        ProfileBatchBuilder::is_full(self)
    }

    fn finish(&mut self) -> Option<RecordBatch> {
        ProfileBatchBuilder::finish(self)
    }
}

#[cfg(test)]
mod tests {
    use arrow_array::cast::AsArray as _;
    use arrow_array::types::{Int64Type, TimestampMicrosecondType};

    use super::*;

    #[test]
    fn engage_and_pipelines_lines() {
        let mut b = ProfileBatchBuilder::new(3, 10);
        b.push_line(
            br#"{"$distinct_id":"u1","$properties":{"$last_seen":"2024-01-02T03:04:05","a":1}}"#,
        )
        .unwrap();
        b.push_line(br#"{"distinct_id":42,"properties":{}}"#).unwrap();
        assert!(b.push_line(br#"{"properties":{}}"#).is_err());
        assert_eq!(b.len(), 2);
        let batch = b.finish().unwrap();
        assert_eq!(batch.schema(), profiles_schema());
        let ids: Vec<_> = batch.column(0).as_string::<i32>().iter().collect();
        assert_eq!(ids, [Some("u1"), Some("42")]);
        let props: Vec<_> = batch.column(1).as_string::<i32>().iter().collect();
        assert_eq!(props, [Some(r#"{"$last_seen":"2024-01-02T03:04:05","a":1}"#), Some("{}")]);
        let seen: Vec<_> =
            batch.column(2).as_primitive::<TimestampMicrosecondType>().iter().collect();
        assert_eq!(seen, [Some(1_704_164_645_000_000), None]);
        let sync: Vec<_> = batch.column(3).as_primitive::<Int64Type>().values().to_vec();
        assert_eq!(sync, [3, 3]);
    }

    /// The documented engage page, with a cohort member that has no profile (see
    /// `fixtures/mixpanel/README.md`): the member is kept with empty properties.
    #[test]
    fn an_engage_result_without_properties_is_kept() {
        let page: serde_json::Value = serde_json::from_str(include_str!(
            "../../../../fixtures/mixpanel/engage_no_properties.json"
        ))
        .unwrap();
        let mut b = ProfileBatchBuilder::new(1, 10);
        for result in page["results"].as_array().unwrap() {
            b.push_line(result.to_string().as_bytes()).unwrap();
        }
        let batch = b.finish().unwrap();
        let ids: Vec<_> = batch.column(0).as_string::<i32>().iter().collect();
        assert_eq!(ids, [Some("u_42"), Some("u_43")]);
        assert_eq!(batch.column(1).as_string::<i32>().value(1), "{}");
        assert!(batch.column(2).is_null(1));
    }

    #[test]
    fn finish_empties_and_reuses() {
        let mut b = ProfileBatchBuilder::new(1, 1);
        assert!(b.finish().is_none());
        b.push_line(br#"{"$distinct_id":"a","$properties":{}}"#).unwrap();
        assert!(b.is_full());
        assert_eq!(b.finish().map(|b| b.num_rows()), Some(1));
        assert!(b.is_empty() && b.finish().is_none());
        b.push_line(br#"{"$distinct_id":"b","$properties":{}}"#).unwrap();
        let batch = b.finish().unwrap();
        assert_eq!(batch.column(0).as_string::<i32>().value(0), "b");
    }
}
