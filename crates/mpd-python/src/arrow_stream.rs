//! `SqlResult`: a query's rows as Arrow batches, handed to other engines through the Arrow
//! PyCapsule interface (`__arrow_c_stream__`), so `polars.DataFrame(r)`, `pyarrow.table(r)` and
//! DuckDB's `FROM r` take the buffers without a copy and without pyarrow being required. The
//! batches are shared, not moved: a result can be handed over any number of times.

use std::sync::Arc;

use arrow_array::ffi_stream::FFI_ArrowArrayStream;
use arrow_array::{RecordBatch, RecordBatchIterator};
use arrow_schema::SchemaRef;
use arrow_schema::ffi::FFI_ArrowSchema;
use pyo3::prelude::*;
use pyo3::types::PyCapsule;

use crate::errors::MpdError;

/// Rows shown by `repr()`.
const REPR_ROWS: usize = 20;

/// The rows of a SQL query over the store, as Arrow batches.
#[pyclass(module = "mpd._mpd", frozen)]
pub(crate) struct SqlResult {
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
}

impl SqlResult {
    pub(crate) fn new(result: mpd_service::QueryResult) -> Self {
        Self { schema: result.schema, batches: result.batches }
    }

    fn rows_as_json(&self, limit: Option<usize>) -> PyResult<Vec<serde_json::Value>> {
        // Null values are kept as `null`, as `mpd query sql --format json` prints them.
        let mut writer = arrow_json::WriterBuilder::new()
            .with_explicit_nulls(true)
            .build::<_, arrow_json::writer::JsonArray>(Vec::new());
        let mut left = limit.unwrap_or(usize::MAX);
        for batch in &self.batches {
            if left == 0 {
                break;
            }
            let take = batch.num_rows().min(left);
            writer.write(&batch.slice(0, take)).map_err(convert_error)?;
            left -= take;
        }
        writer.finish().map_err(convert_error)?;
        let text = writer.into_inner();
        if text.is_empty() {
            return Ok(Vec::new());
        }
        serde_json::from_slice(&text)
            .map_err(|e| MpdError::new_err(format!("cannot convert the rows: {e}")))
    }
}

fn convert_error(error: arrow_schema::ArrowError) -> PyErr {
    MpdError::new_err(format!("cannot convert the rows: {error}"))
}

#[pymethods]
impl SqlResult {
    /// The Arrow C stream of the rows (the Arrow PyCapsule interface). The rows keep their own
    /// schema; `requested_schema` is accepted and not applied, as the interface allows.
    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema;
        let batches: Vec<_> = self.batches.iter().cloned().map(Ok).collect();
        let reader = RecordBatchIterator::new(batches, Arc::clone(&self.schema));
        let stream = FFI_ArrowArrayStream::new(Box::new(reader));
        PyCapsule::new_with_value(py, stream, c"arrow_array_stream")
    }

    /// The Arrow C schema of the rows (the Arrow PyCapsule interface).
    fn __arrow_c_schema__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
        let schema = FFI_ArrowSchema::try_from(self.schema.as_ref()).map_err(convert_error)?;
        PyCapsule::new_with_value(py, schema, c"arrow_schema")
    }

    /// Number of rows.
    #[getter]
    fn num_rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }

    /// Column names, in order.
    #[getter]
    fn columns(&self) -> Vec<String> {
        self.schema.fields().iter().map(|f| f.name().clone()).collect()
    }

    /// Column names and Arrow types, in order.
    #[getter]
    fn schema(&self) -> Vec<(String, String)> {
        self.schema.fields().iter().map(|f| (f.name().clone(), f.data_type().to_string())).collect()
    }

    fn __len__(&self) -> usize {
        self.num_rows()
    }

    /// The rows as a list of dicts (values as in `mpd query sql --format json`).
    fn to_pylist(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        crate::convert::json_to_python(py, &serde_json::Value::Array(self.rows_as_json(None)?))
    }

    /// The rows as a pandas DataFrame: through pyarrow when it is installed (Arrow types kept),
    /// else from `to_pylist()`.
    fn to_pandas(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        if let Ok(pyarrow) = py.import("pyarrow") {
            let table = pyarrow.call_method1("table", (slf,))?;
            return table.call_method0("to_pandas").map(Bound::unbind);
        }
        let pandas = py.import("pandas")?;
        let kwargs = pyo3::types::PyDict::new(py);
        kwargs.set_item("columns", slf.get().columns())?;
        let rows = slf.get().to_pylist(py)?;
        pandas.call_method("DataFrame", (rows,), Some(&kwargs)).map(Bound::unbind)
    }

    /// The rows as a Polars DataFrame (`polars.DataFrame(result)`).
    fn to_polars(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        let polars = slf.py().import("polars")?;
        polars.call_method1("DataFrame", (slf,)).map(Bound::unbind)
    }

    /// The first column of the first row, or None when there are no rows.
    fn scalar(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let Some(batch) = self.batches.iter().find(|b| b.num_rows() > 0 && b.num_columns() > 0)
        else {
            return Ok(py.None());
        };
        // By position: two columns may share a name.
        let cell = batch.project(&[0]).map_err(convert_error)?.slice(0, 1);
        let json = SqlResult { schema: cell.schema(), batches: vec![cell] }.rows_as_json(None)?;
        let value = json.first().and_then(|row| row.as_object()?.values().next().cloned());
        crate::convert::json_to_python(py, &value.unwrap_or_default())
    }

    fn __repr__(&self) -> PyResult<String> {
        let rows = self.num_rows();
        let mut shown = Vec::new();
        let mut left = REPR_ROWS;
        for batch in &self.batches {
            if left == 0 {
                break;
            }
            let take = batch.num_rows().min(left);
            shown.push(batch.slice(0, take));
            left -= take;
        }
        let table = if shown.is_empty() {
            self.columns().join(" | ")
        } else {
            arrow_cast::pretty::pretty_format_batches(&shown).map_err(convert_error)?.to_string()
        };
        let more =
            if rows > REPR_ROWS { format!(" (first {REPR_ROWS} shown)") } else { String::new() };
        Ok(format!("{table}\n{rows} rows{more}"))
    }
}
