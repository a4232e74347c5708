//! Why an ingest failed: the store, a temporary file, a table whose columns are not what mpd
//! writes, or (never expected) a bug.

/// Errors of ingesting rows.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing the store failed.
    #[error(transparent)]
    Store(Box<mpd_store::Error>),
    /// A temporary file (a request's batches, rows set aside by day, dedup keys set aside)
    /// could not be written or read back.
    #[error("cannot write {what}: {source}")]
    Write {
        /// What was being written.
        what: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A column of stored rows is missing or of another type than mpd writes: the table was
    /// written by another tool or an incompatible mpd.
    #[error("{}column `{column}` should be {expected} but is {found}", table_prefix(table))]
    Column {
        /// The table the rows came from, when known.
        table: Option<String>,
        /// The column.
        column: String,
        /// What mpd writes.
        expected: String,
        /// What was found.
        found: String,
    },
    /// An Arrow operation failed on rows mpd built itself, or a day's keys were asked for after
    /// they were let go: a bug in mpd.
    #[error("internal error: {0}")]
    Internal(String),
}

fn table_prefix(table: &Option<String>) -> String {
    table.as_ref().map(|t| format!("table {t}: ")).unwrap_or_default()
}

impl Error {
    /// The same error, naming the table its rows came from.
    #[must_use]
    pub fn in_table(self, name: &str) -> Self {
        match self {
            Error::Column { table: None, column, expected, found } => {
                Error::Column { table: Some(name.to_owned()), column, expected, found }
            }
            other => other,
        }
    }
}

impl From<mpd_store::Error> for Error {
    fn from(error: mpd_store::Error) -> Self {
        Error::Store(Box::new(error))
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_column_error_names_the_table_once_known() {
        let error = Error::Column {
            table: None,
            column: "time".to_owned(),
            expected: "a microsecond timestamp".to_owned(),
            found: "Utf8".to_owned(),
        };
        assert_eq!(
            error.to_string(),
            "column `time` should be a microsecond timestamp but is Utf8"
        );
        assert_eq!(
            error.in_table("events").to_string(),
            "table events: column `time` should be a microsecond timestamp but is Utf8"
        );
    }
}
