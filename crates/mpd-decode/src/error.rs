//! Errors: [`LineError`] for one line without its position, [`Error`] once the caller knows it.

use std::fmt;

/// Why one line could not be decoded; the caller knows where the line sits in its input and
/// turns this into an [`Error`] with [`LineError::at`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// What is wrong, lowercase, e.g. `line is not valid JSON: unexpected character '}'`.
    pub reason: String,
    /// 1-based byte column in the line where the problem was found, when known.
    pub column: Option<usize>,
}

impl LineError {
    pub(crate) fn new(reason: impl Into<String>, column: Option<usize>) -> Self {
        Self { reason: reason.into(), column }
    }

    /// Attaches the 1-based line number and the byte offset of the line's start in its input.
    #[must_use]
    pub fn at(self, line: u64, byte_offset: u64) -> Error {
        Error::Malformed { line, byte_offset, reason: self.to_string() }
    }
}

impl fmt::Display for LineError {
    /// The column goes right after the headline so that a detail after `: ` stays last:
    /// `line is not valid JSON at column 17: unexpected character '}'`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.column, self.reason.split_once(": ")) {
            (None, _) => f.write_str(&self.reason),
            (Some(column), Some((head, detail))) => {
                write!(f, "{head} at column {column}: {detail}")
            }
            (Some(column), None) => write!(f, "{} at column {column}", self.reason),
        }
    }
}

impl std::error::Error for LineError {}

/// Errors of this crate, positioned in the caller's input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A line could not be decoded.
    #[error("line {line} (byte offset {byte_offset}): {reason}")]
    Malformed {
        /// 1-based line number.
        line: u64,
        /// Byte offset of the start of the line in its input.
        byte_offset: u64,
        /// The [`LineError`] rendered, column included.
        reason: String,
    },
    /// A line grew past the stream decoder's limit: the input is not JSON lines (or not
    /// decompressed), and buffering it would exhaust memory.
    #[error("line {line} (byte offset {byte_offset}) is longer than {limit} bytes")]
    LineTooLong {
        /// 1-based line number.
        line: u64,
        /// Byte offset of the start of the line in its input.
        byte_offset: u64,
        /// The limit in bytes, without the line terminator.
        limit: usize,
    },
    /// Mixpanel's truncation marker (`terminated early`) as a line of an export body: the export
    /// was cut short, and only sending the request again can give the whole body.
    #[error(
        "the export was cut short by Mixpanel: `terminated early` at line {line} (byte offset {byte_offset})"
    )]
    TerminatedEarly {
        /// 1-based line number of the marker.
        line: u64,
        /// Byte offset of the start of the marker line.
        byte_offset: u64,
    },
}

/// Result with this crate's [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_puts_the_column_before_the_detail() {
        let e = LineError::new("line is not valid JSON: unexpected character '}'", Some(17));
        assert_eq!(e.to_string(), "line is not valid JSON at column 17: unexpected character '}'");
    }

    #[test]
    fn display_appends_the_column_without_detail() {
        let e = LineError::new("`properties` is not an object (found string)", Some(30));
        assert_eq!(e.to_string(), "`properties` is not an object (found string) at column 30");
        let e = LineError::new("missing `properties`", None);
        assert_eq!(e.to_string(), "missing `properties`");
    }

    #[test]
    fn at_keeps_line_offset_and_rendered_reason() {
        let err = LineError::new("missing `time`", Some(3)).at(12, 4096);
        assert_eq!(
            err,
            Error::Malformed {
                line: 12,
                byte_offset: 4096,
                reason: "missing `time` at column 3".into()
            }
        );
        assert_eq!(err.to_string(), "line 12 (byte offset 4096): missing `time` at column 3");
    }
}
