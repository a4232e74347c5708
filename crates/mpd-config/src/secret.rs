//! A string that must never be shown: service-account secrets.

use std::fmt;

/// A service-account secret.
///
/// `Debug` and `Display` print `***`, so a secret can sit in structs that are logged or
/// formatted into errors without leaking. Use [`Secret::expose`] only where the value is
/// sent (the HTTP `Authorization` header) or written (the config file).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The raw secret. Never log or print the result.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A hint for humans telling secrets apart: `ab…yz` for secrets of at least 12
    /// characters, `***` otherwise (showing 4 characters of a short secret gives too much away).
    pub fn masked(&self) -> String {
        let n_chars = self.0.chars().count();
        if n_chars < 12 {
            return "***".to_owned();
        }
        let head: String = self.0.chars().take(2).collect();
        let tail: String = self.0.chars().skip(n_chars - 2).collect();
        format!("{head}…{tail}")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_formatted() {
        let s = Secret::new("hunter2-very-secret");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(format!("{s:#?}"), "***");
        assert_eq!(s.expose(), "hunter2-very-secret");
    }

    #[test]
    fn masked_only_reveals_ends_of_long_secrets() {
        assert_eq!(Secret::new("abcdefghijkl").masked(), "ab…kl");
        assert_eq!(Secret::new("abcdefghijk").masked(), "***");
        assert_eq!(Secret::new("").masked(), "***");
        // Multi-byte characters must not split a code point.
        assert_eq!(Secret::new("éé34567890ßü").masked(), "éé…ßü");
    }
}
