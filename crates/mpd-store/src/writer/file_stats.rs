//! The statistics of a data file in the form Delta's log keeps them (the `stats` of an `add`
//! action: row count, and per column minimum, maximum and null count), read from the file's
//! Parquet footer. Readers skip files by them, so they must say what deltalake's own writer
//! says for the same file: the same columns (the table's `delta.dataSkippingNumIndexedCols` or
//! `delta.dataSkippingStatsColumns`, partition columns left out), minimums and maximums taken
//! over the row groups, timestamps cut to milliseconds. A test writes the same rows both ways
//! and compares.
//!
//! Only flat schemas of the types mpd's tables use are handled here ([`handles`]); a table of
//! other types is written by deltalake's writer.

use std::collections::HashMap;

use arrow_schema::{DataType, Schema};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Timelike};
use delta_kernel::table_properties::DataSkippingNumIndexedCols;
use deltalake::operations::get_num_idx_cols_and_stats_columns;
use deltalake::parquet::basic::{ConvertedType, LogicalType, TimeUnit};
use deltalake::parquet::file::metadata::ParquetMetaData;
use deltalake::parquet::file::statistics::Statistics;
use deltalake::protocol::{ColumnCountStat, ColumnValueStat, Stats};
use serde_json::Value;

/// Which columns get statistics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Indexed {
    /// The first n columns that are not partition columns.
    First(usize),
    /// These columns (`delta.dataSkippingStatsColumns`).
    Named(Vec<String>),
}

impl Indexed {
    /// The columns a table's properties ask statistics for; `None` when the list names a
    /// column in a form this module does not read the way Delta does (quoted, nested).
    pub(super) fn of_table(properties: &HashMap<String, Option<String>>) -> Option<Self> {
        // Read by the function deltalake's writer is configured with (`part.rs`).
        let (first, named) = get_num_idx_cols_and_stats_columns(None, properties.clone());
        if let Some(names) = named {
            let names: Vec<String> = names.iter().map(|name| name.trim().to_owned()).collect();
            return names
                .iter()
                .all(|name| plain_identifier(name))
                .then_some(Indexed::Named(names));
        }
        Some(Indexed::First(match first {
            DataSkippingNumIndexedCols::NumColumns(n) => usize::try_from(n).unwrap_or(usize::MAX),
            DataSkippingNumIndexedCols::AllColumns => usize::MAX,
        }))
    }
}

fn plain_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether files of `schema` can be described here: flat columns of text, signed integers,
/// floats, booleans, dates and timestamps.
pub(super) fn handles(schema: &Schema) -> bool {
    schema.fields().iter().all(|field| {
        matches!(
            field.data_type(),
            DataType::Utf8
                | DataType::LargeUtf8
                | DataType::Int8
                | DataType::Int16
                | DataType::Int32
                | DataType::Int64
                | DataType::Float32
                | DataType::Float64
                | DataType::Boolean
                | DataType::Date32
                | DataType::Timestamp(..)
        )
    })
}

/// The `stats` JSON of a file from its footer; partition columns get none.
pub(super) fn stats_json(
    metadata: &ParquetMetaData,
    partition_columns: &[String],
    indexed: &Indexed,
) -> serde_json::Result<String> {
    let schema = metadata.file_metadata().schema_descr();
    let is_partition = |name: &str| partition_columns.iter().any(|p| p == name);
    let columns: Vec<usize> = match indexed {
        Indexed::Named(names) => (0..schema.num_columns())
            .filter(|i| names.iter().any(|n| n == schema.column(*i).name()))
            .collect(),
        Indexed::First(n) => (0..schema.num_columns())
            .filter(|i| !is_partition(schema.column(*i).name()))
            .take(*n)
            .collect(),
    };
    let mut stats = Stats {
        num_records: metadata.file_metadata().num_rows(),
        min_values: HashMap::new(),
        max_values: HashMap::new(),
        null_count: HashMap::new(),
    };
    for index in columns {
        let column = schema.column(index);
        if is_partition(column.name()) {
            continue;
        }
        let logical = column.logical_type_ref().cloned().or(match column.converted_type() {
            ConvertedType::UTF8 => Some(LogicalType::String),
            ConvertedType::DATE => Some(LogicalType::Date),
            _ => None,
        });
        let aggregated = metadata
            .row_groups()
            .iter()
            .filter_map(|group| group.column(index).statistics())
            .map(|statistics| Aggregate::of(statistics, logical.as_ref()))
            .reduce(Aggregate::merge);
        let Some(aggregated) = aggregated else { continue };
        let name = column.name().to_owned();
        if let Some(min) = aggregated.min {
            stats.min_values.insert(name.clone(), ColumnValueStat::Value(min.to_json()));
        }
        if let Some(max) = aggregated.max {
            stats.max_values.insert(name.clone(), ColumnValueStat::Value(max.to_json()));
        }
        let nulls = i64::try_from(aggregated.null_count).unwrap_or(i64::MAX);
        stats.null_count.insert(name, ColumnCountStat::Value(nulls));
    }
    serde_json::to_string(&stats)
}

/// A minimum or maximum as a value of its column's type, so that row groups compare rightly.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
enum Bound {
    Boolean(bool),
    Int32(i32),
    Int64(i64),
    Float32(f32),
    Float64(f64),
    Date(NaiveDate),
    Timestamp(NaiveDateTime),
    TimestampNtz(NaiveDateTime),
    Text(String),
}

impl Bound {
    fn of(statistics: &Statistics, logical: Option<&LogicalType>, min: bool) -> Option<Self> {
        macro_rules! pick {
            ($typed:expr) => {
                if min { *$typed.min_opt()? } else { *$typed.max_opt()? }
            };
        }
        Some(match (statistics, logical) {
            (Statistics::Boolean(v), _) => Bound::Boolean(pick!(v)),
            (Statistics::Int32(v), Some(LogicalType::Date)) => {
                let epoch = NaiveDate::from_ymd_opt(1970, 1, 1)?;
                Bound::Date(epoch + chrono::Duration::days(i64::from(pick!(v))))
            }
            (Statistics::Int32(v), _) => Bound::Int32(pick!(v)),
            (Statistics::Int64(v), Some(LogicalType::Timestamp(timestamp))) => {
                let value = pick!(v);
                let instant = match timestamp.unit {
                    TimeUnit::MILLIS => DateTime::from_timestamp_millis(value),
                    TimeUnit::MICROS => DateTime::from_timestamp_micros(value),
                    TimeUnit::NANOS => Some(DateTime::from_timestamp_nanos(value)),
                }?
                .naive_utc();
                if timestamp.is_adjusted_to_u_t_c {
                    Bound::Timestamp(instant)
                } else {
                    Bound::TimestampNtz(instant)
                }
            }
            (Statistics::Int64(v), _) => Bound::Int64(pick!(v)),
            (Statistics::Float(v), _) => Bound::Float32(pick!(v)),
            (Statistics::Double(v), _) => Bound::Float64(pick!(v)),
            (Statistics::ByteArray(v), Some(LogicalType::String)) => {
                let bytes = if min { v.min_bytes_opt()? } else { v.max_bytes_opt()? };
                Bound::Text(String::from_utf8(bytes.to_vec()).ok()?)
            }
            _ => return None,
        })
    }

    fn to_json(&self) -> Value {
        match self {
            Bound::Boolean(v) => Value::from(*v),
            Bound::Int32(v) => Value::from(*v),
            Bound::Int64(v) => Value::from(*v),
            Bound::Float32(v) => Value::from(*v),
            Bound::Float64(v) => Value::from(*v),
            Bound::Date(v) => Value::from(v.format("%Y-%m-%d").to_string()),
            // Delta keeps timestamps to the millisecond, cut (not rounded).
            Bound::Timestamp(v) => {
                let format = if v.nanosecond() == 0 {
                    "%Y-%m-%dT%H:%M:%SZ"
                } else {
                    "%Y-%m-%dT%H:%M:%S%.3fZ"
                };
                Value::from(v.format(format).to_string())
            }
            Bound::TimestampNtz(v) => {
                let format =
                    if v.nanosecond() == 0 { "%Y-%m-%d %H:%M:%S" } else { "%Y-%m-%d %H:%M:%S%.3f" };
                Value::from(v.format(format).to_string())
            }
            Bound::Text(v) => Value::from(v.as_str()),
        }
    }
}

/// A column's statistics over the row groups seen so far.
struct Aggregate {
    min: Option<Bound>,
    max: Option<Bound>,
    null_count: u64,
}

impl Aggregate {
    fn of(statistics: &Statistics, logical: Option<&LogicalType>) -> Self {
        let null_count = statistics.null_count_opt().unwrap_or_default();
        if statistics.min_bytes_opt().is_none() || statistics.max_bytes_opt().is_none() {
            return Aggregate { min: None, max: None, null_count };
        }
        Aggregate {
            min: Bound::of(statistics, logical, true),
            max: Bound::of(statistics, logical, false),
            null_count,
        }
    }

    /// Merged as Delta's writer merges: the smaller minimum, the larger maximum (on a tie or
    /// an unordered pair such as NaN, the later row group's), null counts added.
    fn merge(self, later: Aggregate) -> Aggregate {
        let min = match (self.min, later.min) {
            (Some(a), Some(b)) => Some(if a < b { a } else { b }),
            (a, b) => a.or(b),
        };
        let max = match (self.max, later.max) {
            (Some(a), Some(b)) => Some(if a > b { a } else { b }),
            (a, b) => a.or(b),
        };
        Aggregate { min, max, null_count: self.null_count + later.null_count }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn properties(pairs: &[(&str, &str)]) -> HashMap<String, Option<String>> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), Some((*v).to_owned()))).collect()
    }

    #[test]
    fn the_indexed_columns_follow_the_table_properties() {
        assert_eq!(Indexed::of_table(&HashMap::new()), Some(Indexed::First(32)));
        assert_eq!(
            Indexed::of_table(&properties(&[("delta.dataSkippingNumIndexedCols", "0")])),
            Some(Indexed::First(0))
        );
        assert_eq!(
            Indexed::of_table(&properties(&[(
                "delta.dataSkippingStatsColumns",
                "event_name, time"
            )])),
            Some(Indexed::Named(vec!["event_name".into(), "time".into()]))
        );
        // A quoted or nested name is left to deltalake's writer.
        assert_eq!(
            Indexed::of_table(&properties(&[("delta.dataSkippingStatsColumns", "`a b`,c")])),
            None
        );
    }

    #[test]
    fn timestamps_are_cut_to_the_millisecond() {
        let at = DateTime::from_timestamp_micros(1_735_689_600_123_999).unwrap().naive_utc();
        assert_eq!(Bound::Timestamp(at).to_json(), Value::from("2025-01-01T00:00:00.123Z"));
        let whole = DateTime::from_timestamp_micros(1_735_689_600_000_000).unwrap().naive_utc();
        assert_eq!(Bound::Timestamp(whole).to_json(), Value::from("2025-01-01T00:00:00Z"));
    }
}
