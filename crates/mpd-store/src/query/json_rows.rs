//! A query's rows as JSON objects, the shape `mpd query sql --format json`, the MCP server and
//! the Python module's `rows()` show.

use arrow_array::RecordBatch;
use futures::TryStreamExt;
use serde_json::{Map, Value};

use crate::{Error, Result, Store};

/// A query's rows as JSON objects (column order kept), with the column names and types.
#[derive(Debug, Clone, serde::Serialize)]
pub struct QueryTable {
    /// Columns in order.
    pub columns: Vec<ColumnView>,
    /// Rows as objects keyed by column name.
    pub rows: Vec<Value>,
}

/// A column's name and type.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ColumnView {
    /// Name.
    pub name: String,
    /// Arrow type, e.g. `Utf8`, `Timestamp(µs, "UTC")`.
    #[serde(rename = "type")]
    pub data_type: String,
    /// Whether it may be null.
    pub nullable: bool,
}

/// The first rows of a query, and whether it had more.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CappedTable {
    /// At most the cap's rows, in the query's order.
    #[serde(flatten)]
    pub table: QueryTable,
    /// Whether the query had rows past the cap (they were never computed in full).
    pub truncated: bool,
}

impl Store {
    /// Runs a read-only SQL query and gives its rows as JSON objects.
    pub async fn sql_rows(&self, query: &str) -> Result<QueryTable> {
        let result = self.sql(query).await?;
        query_table(&result.schema, &result.batches)
    }

    /// [`Store::sql_rows`] stopped after `max_rows` rows: the plan is streamed and dropped once
    /// it yields one row past the cap, so `SELECT *` over a large table costs a few batches,
    /// not the table.
    pub async fn sql_rows_capped(&self, query: &str, max_rows: usize) -> Result<CappedTable> {
        let mut stream = self.sql_stream(query).await?;
        let schema = stream.schema();
        let mut batches = Vec::new();
        let mut held = 0;
        let mut truncated = false;
        while let Some(batch) = stream.try_next().await.map_err(Error::from_datafusion)? {
            let room = max_rows - held;
            if batch.num_rows() > room {
                batches.push(batch.slice(0, room));
                truncated = true;
                break;
            }
            held += batch.num_rows();
            batches.push(batch);
        }
        Ok(CappedTable { table: query_table(&schema, &batches)?, truncated })
    }
}

impl ColumnView {
    /// The columns of `schema`, in order.
    #[must_use]
    pub fn of_schema(schema: &arrow_schema::Schema) -> Vec<ColumnView> {
        schema
            .fields()
            .iter()
            .map(|f| ColumnView {
                name: f.name().clone(),
                data_type: f.data_type().to_string(),
                nullable: f.is_nullable(),
            })
            .collect()
    }
}

/// Batches as JSON objects in column order, nulls kept. Output columns that share a name
/// (`SELECT a.distinct_id, b.distinct_id ...`) get `_2`, `_3`, ... so no value is lost to an
/// object key written twice.
fn query_table(schema: &arrow_schema::SchemaRef, batches: &[RecordBatch]) -> Result<QueryTable> {
    let schema = &unique_names(schema);
    // Each batch keeps its own types (a string column may come back as a view type); only
    // the names change.
    let batches = batches
        .iter()
        .map(|batch| RecordBatch::try_new(unique_names(&batch.schema()), batch.columns().to_vec()))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| rendering("cannot rename the columns", &e))?;
    let mut bytes = Vec::new();
    {
        let mut writer = arrow_json::WriterBuilder::new()
            .with_explicit_nulls(true)
            .build::<_, arrow_json::writer::JsonArray>(&mut bytes);
        for batch in &batches {
            writer.write(batch).map_err(|e| rendering("cannot render the rows", &e))?;
        }
        writer.finish().map_err(|e| rendering("cannot render the rows", &e))?;
    }
    let rows: Vec<Value> = if bytes.is_empty() {
        Vec::new()
    } else {
        serde_json::from_slice(&bytes)
            .map_err(|e| rendering("cannot read the rendered rows", &e))?
    };
    // arrow-json writes object keys in column order; keep that order for every row.
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let rows = rows
        .into_iter()
        .map(|row| match row {
            Value::Object(mut map) => {
                let mut ordered = Map::new();
                for name in &names {
                    ordered.insert(name.clone(), map.remove(name).unwrap_or(Value::Null));
                }
                Value::Object(ordered)
            }
            other => other,
        })
        .collect();
    Ok(QueryTable { columns: ColumnView::of_schema(schema), rows })
}

/// `schema` with each repeated field name suffixed by its occurrence (`name_2`, `name_3`).
fn unique_names(schema: &arrow_schema::SchemaRef) -> arrow_schema::SchemaRef {
    let mut seen = std::collections::HashMap::<String, usize>::new();
    let mut renamed = false;
    let fields: Vec<arrow_schema::FieldRef> = schema
        .fields()
        .iter()
        .map(|field| {
            let count = seen.entry(field.name().clone()).or_insert(0);
            *count += 1;
            if *count == 1 {
                return field.clone();
            }
            renamed = true;
            let mut name = format!("{}_{count}", field.name());
            while schema.fields().iter().any(|f| f.name() == &name) {
                name.push('_');
            }
            std::sync::Arc::new(field.as_ref().clone().with_name(name))
        })
        .collect();
    if !renamed {
        return schema.clone();
    }
    std::sync::Arc::new(arrow_schema::Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// A failure to show a query's rows as JSON (an Arrow type arrow-json cannot write).
fn rendering(what: &str, error: &dyn std::fmt::Display) -> Error {
    Error::Query { message: format!("{what} as JSON: {error}") }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::StringArray;
    use arrow_schema::{DataType, Field, Schema};

    use super::*;

    #[test]
    fn columns_sharing_a_name_keep_their_values() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("distinct_id", DataType::Utf8, true),
            Field::new("distinct_id", DataType::Utf8, true),
            Field::new("distinct_id_2", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(vec!["a"])),
                Arc::new(StringArray::from(vec!["b"])),
                Arc::new(StringArray::from(vec!["c"])),
            ],
        )
        .unwrap();
        let table = query_table(&schema, &[batch]).unwrap();
        let names: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["distinct_id", "distinct_id_2_", "distinct_id_2"]);
        assert_eq!(
            table.rows[0],
            serde_json::json!({"distinct_id": "a", "distinct_id_2_": "b", "distinct_id_2": "c"})
        );
    }
}
