//! Query results written to a file (`mpd query sql --output x.parquet|.csv|.jsonl`), streamed
//! batch by batch so results larger than memory work.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use futures::StreamExt;

use crate::{Error, Result, Store};

/// The file formats a query can be written to, chosen by the file's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// Apache Parquet.
    Parquet,
    /// Comma-separated values with a header line.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

impl FileFormat {
    /// The format for `path`'s extension (`.parquet`, `.csv`, `.jsonl`/`.ndjson`).
    pub fn from_path(path: &Path) -> Option<FileFormat> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "parquet" => Some(FileFormat::Parquet),
            "csv" => Some(FileFormat::Csv),
            "jsonl" | "ndjson" => Some(FileFormat::Jsonl),
            _ => None,
        }
    }
}

/// What [`Store::sql_to_file`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSummary {
    /// The file.
    pub path: PathBuf,
    /// Rows written.
    pub rows: u64,
}

impl Store {
    /// Runs `query` and writes its rows to `path` in `format`.
    pub async fn sql_to_file(
        &self,
        query: &str,
        path: &Path,
        format: FileFormat,
    ) -> Result<FileSummary> {
        let mut stream = self.sql_stream(query).await?;
        let schema = stream.schema();
        let io = |source| Error::Io { path: path.to_path_buf(), source };
        let file = BufWriter::with_capacity(1 << 20, File::create(path).map_err(io)?);
        let mut writer = match format {
            FileFormat::Parquet => Writer::Parquet(
                parquet::arrow::ArrowWriter::try_new(file, schema, None)
                    .map_err(|e| io(std::io::Error::other(e)))?,
            ),
            FileFormat::Csv => {
                Writer::Csv(arrow_csv::WriterBuilder::new().with_header(true).build(file))
            }
            FileFormat::Jsonl => Writer::Jsonl(arrow_json::LineDelimitedWriter::new(file)),
        };
        let mut rows = 0u64;
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(Error::from_datafusion)?;
            rows += batch.num_rows() as u64;
            let written = match &mut writer {
                Writer::Parquet(w) => w.write(&batch).map_err(std::io::Error::other),
                Writer::Csv(w) => w.write(&batch).map_err(std::io::Error::other),
                Writer::Jsonl(w) => w.write(&batch).map_err(std::io::Error::other),
            };
            written.map_err(io)?;
        }
        let closed = match writer {
            Writer::Parquet(w) => w.close().map(|_| ()).map_err(std::io::Error::other),
            Writer::Csv(w) => std::io::Write::flush(&mut w.into_inner()),
            Writer::Jsonl(mut w) => w.finish().map_err(std::io::Error::other),
        };
        closed.map_err(io)?;
        Ok(FileSummary { path: path.to_path_buf(), rows })
    }
}

enum Writer {
    Parquet(parquet::arrow::ArrowWriter<BufWriter<File>>),
    Csv(arrow_csv::Writer<BufWriter<File>>),
    Jsonl(arrow_json::LineDelimitedWriter<BufWriter<File>>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_follows_the_extension() {
        assert_eq!(FileFormat::from_path(Path::new("a/b.parquet")), Some(FileFormat::Parquet));
        assert_eq!(FileFormat::from_path(Path::new("x.CSV")), Some(FileFormat::Csv));
        assert_eq!(FileFormat::from_path(Path::new("x.ndjson")), Some(FileFormat::Jsonl));
        assert_eq!(FileFormat::from_path(Path::new("x.xlsx")), None);
        assert_eq!(FileFormat::from_path(Path::new("noext")), None);
    }
}
