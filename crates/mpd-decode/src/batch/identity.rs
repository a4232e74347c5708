//! Identity mappings to `identity_mappings` batches: pipelines lines
//! `{"distinct_id","resolved_distinct_id"}`, or pairs derived from events.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use arrow_array::{RecordBatch, StringArray};

use super::{Capacity, LineBatchBuilder, Utf8Column, record_batch, sync_id_column};
use crate::error::LineError;
use crate::parse::{Doc, Parser, ROOT};
use crate::schema::identity_schema;

/// Where a mapping came from: the `source` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentitySource {
    /// A JSON pipelines identity-mappings file.
    Pipelines,
    /// Derived from events (a `$device_id` seen with a `$user_id`).
    Derived,
}

impl IdentitySource {
    /// The text stored in the `source` column: `pipelines` or `derived`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            IdentitySource::Pipelines => "pipelines",
            IdentitySource::Derived => "derived",
        }
    }
}

/// Builds `identity_mappings` batches ([`identity_schema`]), every row with the same `source`.
pub struct IdentityBatchBuilder {
    parser: Parser,
    source: IdentitySource,
    sync_id: i64,
    capacity: Capacity,
    rows: usize,
    distinct_id: Utf8Column,
    resolved: Utf8Column,
}

impl fmt::Debug for IdentityBatchBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityBatchBuilder")
            .field("source", &self.source)
            .field("sync_id", &self.sync_id)
            .field("batch_rows", &self.capacity.rows)
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

impl IdentityBatchBuilder {
    /// A builder whose rows all have `source`, stamped with `sync_id`, full after `batch_rows`
    /// rows (at least 1).
    #[must_use]
    pub fn new(source: IdentitySource, sync_id: i64, batch_rows: usize) -> Self {
        let capacity = Capacity::new(batch_rows);
        Self {
            parser: Parser::new(),
            source,
            sync_id,
            capacity,
            rows: 0,
            distinct_id: Utf8Column::new(capacity, 24),
            resolved: Utf8Column::new(capacity, 24),
        }
    }

    /// Decodes one `{"distinct_id":…,"resolved_distinct_id":…}` line (without its `\n`) into
    /// one row; ids may be strings or numbers (stored as their decimal text).
    ///
    /// # Errors
    ///
    /// Malformed JSON, a non-object, or either id missing or neither a string nor a number;
    /// the line then adds no row.
    pub fn push_line(&mut self, line: &[u8]) -> Result<(), LineError> {
        let (distinct_id, resolved) = self.parser.parse(line, read_mapping)?;
        self.push_pair(&distinct_id, &resolved);
        Ok(())
    }

    /// Appends one mapping `distinct_id` → `resolved_distinct_id`.
    pub fn push_pair(&mut self, distinct_id: &str, resolved_distinct_id: &str) {
        self.distinct_id.append(distinct_id);
        self.resolved.append(resolved_distinct_id);
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

    /// The rows so far as one [`identity_schema`] batch, `None` if there are none; the builder
    /// is empty and reusable afterwards.
    pub fn finish(&mut self) -> Option<RecordBatch> {
        if self.rows == 0 {
            return None;
        }
        let rows = std::mem::take(&mut self.rows);
        let source = StringArray::from_iter_values(std::iter::repeat_n(self.source.as_str(), rows));
        let columns = vec![
            self.distinct_id.finish(),
            self.resolved.finish(),
            Arc::new(source),
            sync_id_column(self.sync_id, rows),
        ];
        Some(record_batch(identity_schema(), columns, self.capacity))
    }
}

impl LineBatchBuilder for IdentityBatchBuilder {
    type Batch = RecordBatch;

    fn push_line(&mut self, line: &[u8]) -> Result<(), LineError> {
        IdentityBatchBuilder::push_line(self, line)
    }

    fn len(&self) -> usize {
        self.rows
    }

    fn is_full(&self) -> bool {
        IdentityBatchBuilder::is_full(self)
    }

    fn finish(&mut self) -> Option<RecordBatch> {
        IdentityBatchBuilder::finish(self)
    }
}

fn read_mapping<'a>(doc: &Doc<'_, '_, 'a>) -> Result<(Cow<'a, str>, Cow<'a, str>), LineError> {
    let Some(members) = doc.members(ROOT) else {
        let reason = format!("line is not a JSON object (found {})", doc.kind(ROOT));
        return Err(LineError::new(reason, doc.root_column()));
    };
    let (mut id, mut resolved) = (None, None);
    for m in members {
        match m.key {
            "distinct_id" => id = Some(m),
            "resolved_distinct_id" => resolved = Some(m),
            _ => {}
        }
    }
    let text = |member: Option<crate::parse::Member<'_>>, key: &str| {
        let Some(m) = member else {
            return Err(LineError::new(format!("missing `{key}`"), None));
        };
        doc.id_text(m.value).ok_or_else(|| {
            let reason = format!("`{key}` is not a string or number (found {})", doc.kind(m.value));
            LineError::new(reason, doc.column(m.value))
        })
    };
    Ok((text(id, "distinct_id")?, text(resolved, "resolved_distinct_id")?))
}

#[cfg(test)]
mod tests {
    use arrow_array::cast::AsArray as _;
    use arrow_array::types::Int64Type;

    use super::*;

    fn strings(batch: &RecordBatch, i: usize) -> Vec<&str> {
        batch.column(i).as_string::<i32>().iter().map(Option::unwrap_or_default).collect()
    }

    #[test]
    fn pipelines_lines() {
        let mut b = IdentityBatchBuilder::new(IdentitySource::Pipelines, 9, 100);
        b.push_line(br#"{"distinct_id":"$device:d1","resolved_distinct_id":"user_1"}"#).unwrap();
        b.push_line(br#" {"resolved_distinct_id":"u\u00e9","distinct_id":12} "#).unwrap();
        let batch = b.finish().unwrap();
        assert_eq!(batch.schema(), identity_schema());
        assert_eq!(strings(&batch, 0), ["$device:d1", "12"]);
        assert_eq!(strings(&batch, 1), ["user_1", "ué"]);
        assert_eq!(strings(&batch, 2), ["pipelines", "pipelines"]);
        assert_eq!(batch.column(3).as_primitive::<Int64Type>().values().to_vec(), [9, 9]);
    }

    #[test]
    fn derived_pairs() {
        let mut b = IdentityBatchBuilder::new(IdentitySource::Derived, 1, 2);
        b.push_pair("d1", "u1");
        assert!(!b.is_full());
        b.push_pair("d2", "u1");
        assert!(b.is_full());
        let batch = b.finish().unwrap();
        assert_eq!(strings(&batch, 2), ["derived", "derived"]);
        assert!(b.finish().is_none());
    }

    #[test]
    fn bad_lines_add_no_row() {
        let mut b = IdentityBatchBuilder::new(IdentitySource::Pipelines, 1, 10);
        let reason =
            |line: &[u8], b: &mut IdentityBatchBuilder| b.push_line(line).unwrap_err().to_string();
        assert_eq!(reason(br#"{"distinct_id":"a"}"#, &mut b), "missing `resolved_distinct_id`");
        assert_eq!(
            reason(br#"{"distinct_id":null,"resolved_distinct_id":"b"}"#, &mut b),
            "`distinct_id` is not a string or number (found null) at column 16"
        );
        assert_eq!(reason(b"[]", &mut b), "line is not a JSON object (found array) at column 1");
        assert!(reason(b"{", &mut b).starts_with("line is not valid JSON"));
        assert!(b.is_empty() && b.finish().is_none());
    }
}
