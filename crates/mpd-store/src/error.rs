//! The store's single error type and its fault classes.

use std::path::PathBuf;

use datafusion::error::DataFusionError;
use deltalake::DeltaTableError;

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The named table is not in the store.
    #[error("table `{table}` does not exist in the store ({})", list_tables(available))]
    TableNotFound {
        /// The table asked for.
        table: String,
        /// The tables the store does hold, sorted.
        available: Vec<String>,
    },
    /// A create found the table already there.
    #[error(
        "table `{table}` already exists: use --append to add rows or --replace to overwrite it"
    )]
    TableExists {
        /// The table.
        table: String,
    },
    /// A query could not be parsed or planned.
    #[error("{}", describe_sql(message, *line, *column))]
    Sql {
        /// DataFusion's message.
        message: String,
        /// 1-based line of the offending token, when known.
        line: Option<u64>,
        /// 1-based column of the offending token, when known.
        column: Option<u64>,
    },
    /// A data file a table's log references is gone (deleted outside mpd, a lost disk).
    #[error(
        "a data file of the store is missing: {path} ({detail}); it was removed outside mpd: restore it from a backup, or drop the table (`mpd inspect drop TABLE`) and fetch or sync its days again"
    )]
    MissingDataFile {
        /// The file as the object store named it.
        path: String,
        /// What the store said.
        detail: String,
    },
    /// A data file of a table is there but is not Parquet the table can read (damaged,
    /// truncated, overwritten outside mpd).
    #[error(
        "a data file of table `{table}` cannot be read: {path} ({detail}); restore it from a backup, or drop the table (`mpd inspect drop TABLE`) and fetch or sync its days again"
    )]
    UnreadableDataFile {
        /// The table.
        table: String,
        /// The file, relative to the store.
        path: String,
        /// What the Parquet reader said.
        detail: String,
    },
    /// A planned query failed while it ran (unreadable file, bad data).
    #[error("query failed: {message}")]
    Query {
        /// DataFusion's message.
        message: String,
    },
    /// The disk (or quota) holding the store ran out of space while writing a table.
    #[error(
        "no space left where the store keeps table `{table}` ({detail}); the table is unchanged and this write's files were removed: free some space and rerun"
    )]
    StorageFull {
        /// The table being written.
        table: String,
        /// The operating system's words (`No space left on device (os error 28)`).
        detail: String,
    },
    /// The Delta Lake layer failed on a table.
    #[error("delta table `{table}`: {source}")]
    Delta {
        /// The table.
        table: String,
        /// The underlying error (boxed: it is large).
        source: Box<DeltaTableError>,
    },
    /// A folder or file of the store could not be created, read or removed.
    #[error("cannot access {path}: {source}")]
    Io {
        /// The folder or file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Another writer committed to the table after this command read it: the command's last
    /// commit was not made (its rows might be there already). Running it again is safe.
    #[error(
        "another writer committed to table `{table}` while this command was writing to it; \
         this command's last commit was not made: run it again"
    )]
    ConcurrentCommit {
        /// The table.
        table: String,
        /// The version the command had read; `None` when the table did not exist yet.
        read: Option<i64>,
    },
    /// A store URL names an object store this build cannot open.
    #[error("cannot open the store {url}: {why}")]
    UnsupportedStore {
        /// The store URL.
        url: String,
        /// Why (the scheme, a missing build feature, the cloud's own complaint).
        why: String,
    },
    /// Rows or columns do not fit the table's schema.
    #[error("schema of table `{table}` does not match: expected {expected}, found {found}")]
    SchemaMismatch {
        /// The table.
        table: String,
        /// What the table (or the request) expects.
        expected: String,
        /// What was given.
        found: String,
    },
    /// Another process holds the store's write lock.
    #[error(
        "another mpd is writing this store{}; retry later (lock file {path})",
        holder.as_deref().map(|h| format!(" (held by {h})")).unwrap_or_default()
    )]
    StoreLocked {
        /// The lock file.
        path: PathBuf,
        /// Who holds it, as the holder wrote it ("pid 42 (sync)"), when readable.
        holder: Option<String>,
    },
    /// A delete predicate that does not parse or does not fit the table's columns.
    #[error("invalid predicate for table `{table}`: {message}")]
    Predicate {
        /// The table.
        table: String,
        /// What is wrong with it.
        message: String,
    },
    /// A table name outside `[a-z0-9_]`, or starting with `_` (reserved for the store's own folders).
    #[error(
        "invalid table name `{name}`: use lowercase letters, digits and `_`, not starting with `_`"
    )]
    InvalidTableName {
        /// The rejected name.
        name: String,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Who has to act on an [`Error`]: the CLI maps classes to exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The request was wrong (bad SQL, bad name, schema clash, table already there).
    Usage,
    /// A table that was asked for does not exist.
    NotFound,
    /// Storage or data failed underneath a valid request.
    Storage,
}

impl Error {
    /// The fault class of this error.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Sql { .. }
            | Error::InvalidTableName { .. }
            | Error::SchemaMismatch { .. }
            | Error::TableExists { .. }
            | Error::Predicate { .. } => ErrorClass::Usage,
            Error::TableNotFound { .. } => ErrorClass::NotFound,
            // A held lock is no fault of the request; retrying later is the remedy.
            Error::Query { .. }
            | Error::Delta { .. }
            | Error::StorageFull { .. }
            | Error::MissingDataFile { .. }
            | Error::UnreadableDataFile { .. }
            | Error::Io { .. }
            | Error::UnsupportedStore { .. }
            | Error::ConcurrentCommit { .. }
            | Error::StoreLocked { .. } => ErrorClass::Storage,
        }
    }

    /// A failed read or write of `path` on this machine's disk, for `table`.
    pub(crate) fn io(table: &str, path: &std::path::Path, source: std::io::Error) -> Self {
        if let Some(detail) = storage_full(&source) {
            return Error::StorageFull { table: table.to_owned(), detail };
        }
        Error::Io { path: path.to_path_buf(), source }
    }

    pub(crate) fn delta(table: &str, source: DeltaTableError) -> Self {
        if let Some(detail) = storage_full(&source) {
            return Error::StorageFull { table: table.to_owned(), detail };
        }
        Error::Delta { table: table.to_owned(), source: Box::new(source) }
    }

    /// A failed commit onto version `read` of `table`: another writer's commit there is
    /// [`Error::ConcurrentCommit`].
    pub(crate) fn from_commit(table: &str, read: Option<i64>, source: DeltaTableError) -> Self {
        use deltalake::kernel::transaction::TransactionError;
        match source {
            DeltaTableError::VersionAlreadyExists(_)
            | DeltaTableError::Transaction {
                source: TransactionError::MaxCommitAttempts(_) | TransactionError::CommitConflict(_),
            } => Error::ConcurrentCommit { table: table.to_owned(), read },
            other => Error::delta(table, other),
        }
    }

    /// Sorts DataFusion's failures into the user's fault (parse, plan, schema) or the store's
    /// (also for the errors of a [`Store::sql_stream`](crate::Store::sql_stream)'s batches).
    pub fn from_datafusion(error: DataFusionError) -> Self {
        let (line, column) = error_location(&error);
        let root = error.find_root();
        let message = root.strip_backtrace();
        if let Some((path, detail)) = missing_file(&message) {
            return Error::MissingDataFile { path, detail };
        }
        match root {
            DataFusionError::SQL(..)
            | DataFusionError::Plan(_)
            | DataFusionError::SchemaError(..)
            | DataFusionError::NotImplemented(_) => Error::Sql { message, line, column },
            _ => Error::Query { message },
        }
    }
}

fn list_tables(available: &[String]) -> String {
    if available.is_empty() {
        "the store holds no tables".to_owned()
    } else {
        format!("tables: {}", available.join(", "))
    }
}

fn describe_sql(message: &str, line: Option<u64>, column: Option<u64>) -> String {
    match (line, column) {
        // The parser already appends the position to its message.
        (Some(line), Some(column)) if !message.contains("Line:") => {
            format!("{message} (line {line}, column {column})")
        }
        _ => message.to_owned(),
    }
}

/// Where in the query DataFusion located the error: the diagnostic span of planning errors,
/// or the "at Line: L, Column: C" suffix of parser errors.
fn error_location(error: &DataFusionError) -> (Option<u64>, Option<u64>) {
    if let Some(span) = error.diagnostic().and_then(|diagnostic| diagnostic.span)
        && span.start.line > 0
    {
        return (Some(span.start.line), Some(span.start.column));
    }
    parse_line_column(&error.to_string())
}

/// Reads "Line: 3, Column: 14" out of a parser message.
pub(crate) fn parse_line_column(message: &str) -> (Option<u64>, Option<u64>) {
    fn number_after(text: &str, label: &str) -> Option<u64> {
        let start = text.rfind(label)? + label.len();
        let digits: String = text[start..]
            .chars()
            .skip_while(|c| *c == ' ')
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    }
    (number_after(message, "Line:"), number_after(message, "Column:"))
}

/// The path and the reason when a query failed because a data file is gone. object_store says
/// `Object at location <path> not found: <reason>` whatever the backend.
pub(crate) fn missing_file(message: &str) -> Option<(String, String)> {
    let rest = message.split_once("Object at location ")?.1;
    let (path, reason) = rest.split_once(" not found")?;
    let reason = reason.trim_start_matches(':').trim();
    let reason = if reason.is_empty() { "not found" } else { reason };
    Some((path.to_owned(), reason.to_owned()))
}

/// The operating system's message when `error` (or one of its causes) is a full disk or
/// quota. Delta and object_store often carry the cause as text only, so the text is read too.
fn storage_full(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cause = Some(error);
    while let Some(current) = cause {
        if let Some(io) = current.downcast_ref::<std::io::Error>()
            && (io.kind() == std::io::ErrorKind::StorageFull
                || io.kind() == std::io::ErrorKind::QuotaExceeded)
        {
            return Some(io.to_string());
        }
        cause = current.source();
    }
    const TEXTS: [&str; 3] = [
        "No space left on device (os error 28)",
        "Disk quota exceeded (os error 122)",
        "No space left on device",
    ];
    let text = error.to_string();
    TEXTS.iter().find(|t| text.contains(*t)).map(|t| (*t).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parser_position_is_read_from_the_message() {
        let message =
            "sql parser error: Expected: an expression, found: FROM at Line: 2, Column: 8";
        assert_eq!(parse_line_column(message), (Some(2), Some(8)));
        assert_eq!(parse_line_column("no position here"), (None, None));
    }

    #[test]
    fn classes_follow_the_fault() {
        let exists = Error::TableExists { table: "events".into() };
        assert_eq!(exists.class(), ErrorClass::Usage);
        assert!(exists.to_string().contains("--append"), "{exists}");
        let missing = Error::TableNotFound { table: "x".into(), available: vec!["events".into()] };
        assert_eq!(missing.class(), ErrorClass::NotFound);
        assert!(missing.to_string().contains("tables: events"), "{missing}");
        let io = Error::Io { path: "p".into(), source: std::io::Error::other("boom") };
        assert_eq!(io.class(), ErrorClass::Storage);
    }

    #[test]
    fn plan_errors_are_usage_and_execution_errors_are_storage() {
        let plan = Error::from_datafusion(DataFusionError::Plan("table 'nope' not found".into()));
        assert!(matches!(plan, Error::Sql { .. }), "{plan:?}");
        let exec = Error::from_datafusion(DataFusionError::Execution("file vanished".into()));
        assert_eq!(exec.class(), ErrorClass::Storage);
    }

    #[test]
    fn a_full_disk_is_named_whether_it_comes_as_an_error_or_as_text() {
        let io = std::io::Error::from_raw_os_error(28);
        let error = Error::delta("events", DeltaTableError::Io { source: io });
        assert!(matches!(error, Error::StorageFull { .. }), "{error:?}");
        assert_eq!(
            error.to_string(),
            "no space left where the store keeps table `events` (No space left on device (os error 28)); the table is unchanged and this write's files were removed: free some space and rerun"
        );
        assert_eq!(error.class(), ErrorClass::Storage);
        // What deltalake 1.1 reports when the Parquet upload hits a full disk.
        let text = "Failed to parse parquet: External: Generic LocalFileSystem error: Unable to copy data to file: No space left on device (os error 28)";
        let error = Error::delta("events", DeltaTableError::Generic(text.to_owned()));
        assert!(
            matches!(error, Error::StorageFull { ref detail, .. } if detail == "No space left on device (os error 28)"),
            "{error:?}"
        );
        let other = Error::delta("events", DeltaTableError::Generic("boom".to_owned()));
        assert!(matches!(other, Error::Delta { .. }));
    }

    #[test]
    fn a_missing_data_file_names_the_file() {
        let message = "Parquet error: Failed to fetch metadata for file x: Object Store error: Object at location /s/events/date=2024-01-01/part-0.parquet not found: No such file or directory (os error 2)";
        let error = Error::from_datafusion(DataFusionError::Execution(message.to_owned()));
        assert!(
            matches!(&error, Error::MissingDataFile { path, detail } if path == "/s/events/date=2024-01-01/part-0.parquet" && detail == "No such file or directory (os error 2)"),
            "{error:?}"
        );
        assert_eq!(error.class(), ErrorClass::Storage);
    }

    #[test]
    fn error_stays_small() {
        // Boxed sources keep `Result<T>` cheap to move around.
        assert!(std::mem::size_of::<Error>() <= 80, "{}", std::mem::size_of::<Error>());
    }
}
