//! Arrow schemas as Delta stores them.
//!
//! Delta keeps fewer types than Arrow (one string type, microsecond timestamps), so a table's
//! Arrow schema is the incoming schema after a round trip through Delta's types, and batches
//! are cast to it (losslessly: e.g. millisecond → microsecond timestamps) before encoding.

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{Schema, SchemaRef};
use deltalake::kernel::StructType;
use deltalake::kernel::engine::arrow_conversion::{TryIntoArrow, TryIntoKernel};

use crate::{Error, Result};

/// The Delta schema of `schema` and the Arrow schema tables built from it read back as.
pub(crate) fn to_delta(table: &str, schema: &Schema) -> Result<(StructType, SchemaRef)> {
    let mismatch = |error: String| Error::SchemaMismatch {
        table: table.to_owned(),
        expected: "columns of types Delta Lake can store".to_owned(),
        found: format!("{} ({error})", describe(schema)),
    };
    let delta: StructType = schema.try_into_kernel().map_err(|e| mismatch(e.to_string()))?;
    let arrow: Schema = (&delta).try_into_arrow().map_err(|e| mismatch(e.to_string()))?;
    Ok((delta, Arc::new(arrow)))
}

/// Same column names and types in the same order; nullability and metadata aside.
pub(crate) fn same_columns(left: &Schema, right: &Schema) -> bool {
    left.fields().len() == right.fields().len()
        && left
            .fields()
            .iter()
            .zip(right.fields())
            .all(|(l, r)| l.name() == r.name() && l.data_type() == r.data_type())
}

/// `batch` with the columns of `target` (same names and order), cast where Delta's types differ.
pub(crate) fn conform(table: &str, batch: RecordBatch, target: &SchemaRef) -> Result<RecordBatch> {
    let found = batch.schema();
    if same_columns(&found, target) {
        // Only nullability or metadata may differ: keep the data, adopt the table's schema.
        return RecordBatch::try_new(target.clone(), batch.columns().to_vec())
            .map_err(|error| mismatch(table, target, &found, &error.to_string()));
    }
    let names_match = found.fields().len() == target.fields().len()
        && found.fields().iter().zip(target.fields()).all(|(f, t)| f.name() == t.name());
    if !names_match {
        return Err(mismatch(table, target, &found, "columns differ"));
    }
    let columns = batch
        .columns()
        .iter()
        .zip(target.fields())
        .map(|(column, field)| {
            if column.data_type() == field.data_type() {
                Ok(column.clone())
            } else {
                arrow_cast::cast(column, field.data_type())
            }
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| mismatch(table, target, &found, &error.to_string()))?;
    RecordBatch::try_new(target.clone(), columns)
        .map_err(|error| mismatch(table, target, &found, &error.to_string()))
}

fn mismatch(table: &str, expected: &Schema, found: &Schema, why: &str) -> Error {
    Error::SchemaMismatch {
        table: table.to_owned(),
        expected: describe(expected),
        found: format!("{} ({why})", describe(found)),
    }
}

/// `name: type` pairs, for messages.
pub(crate) fn describe(schema: &Schema) -> String {
    let fields: Vec<String> =
        schema.fields().iter().map(|f| format!("{}: {}", f.name(), f.data_type())).collect();
    format!("[{}]", fields.join(", "))
}

#[cfg(test)]
mod tests {
    use arrow_array::{ArrayRef, TimestampMillisecondArray};
    use arrow_schema::{DataType, Field, TimeUnit};

    use super::*;

    fn ms_schema() -> Schema {
        Schema::new(vec![Field::new(
            "mp_processing_time",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            true,
        )])
    }

    #[test]
    fn millisecond_timestamps_become_microseconds() {
        let (_, arrow) = to_delta("events", &ms_schema()).expect("convertible");
        assert_eq!(
            arrow.field(0).data_type(),
            &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        );
        let column: ArrayRef =
            Arc::new(TimestampMillisecondArray::from(vec![Some(1_500)]).with_timezone("UTC"));
        let batch = RecordBatch::try_new(Arc::new(ms_schema()), vec![column]).expect("batch");
        let cast = conform("events", batch, &arrow).expect("cast");
        let micros = cast
            .column(0)
            .as_any()
            .downcast_ref::<arrow_array::TimestampMicrosecondArray>()
            .expect("microseconds");
        assert_eq!(micros.value(0), 1_500_000);
    }

    #[test]
    fn renamed_columns_are_a_mismatch() {
        let (_, arrow) = to_delta("events", &ms_schema()).expect("convertible");
        let other = Schema::new(vec![Field::new("other", DataType::Int64, true)]);
        let batch = RecordBatch::new_empty(Arc::new(other));
        let error = conform("events", batch, &arrow).expect_err("mismatch");
        assert!(matches!(error, Error::SchemaMismatch { .. }), "{error:?}");
        assert!(error.to_string().contains("mp_processing_time"), "{error}");
    }
}
