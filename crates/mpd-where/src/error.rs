//! The error of a `where` expression that is not understood.

use std::fmt;

/// Why a `where` expression was refused: the offending token or the byte where reading stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    reason: String,
    byte_offset: Option<usize>,
}

impl ParseError {
    pub(crate) fn new(reason: impl Into<String>) -> Self {
        Self { reason: reason.into(), byte_offset: None }
    }

    pub(crate) fn at_byte(reason: impl Into<String>, byte_offset: usize) -> Self {
        Self { reason: reason.into(), byte_offset: Some(byte_offset) }
    }

    /// The byte of the expression the error is about, when the message names one.
    pub fn byte_offset(&self) -> Option<usize> {
        self.byte_offset
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)?;
        match self.byte_offset {
            Some(byte) => write!(f, " at byte {byte}"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for ParseError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_names_the_byte_when_there_is_one() {
        assert_eq!(ParseError::new("it ends too early").to_string(), "it ends too early");
        let located = ParseError::at_byte("unsupported character ','", 21);
        assert_eq!(located.to_string(), "unsupported character ',' at byte 21");
        assert_eq!(located.byte_offset(), Some(21));
    }
}
