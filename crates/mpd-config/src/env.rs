//! A snapshot of the environment variables this crate reads.

use std::collections::BTreeMap;
use std::fmt;

/// The environment variables this crate reads, captured once.
///
/// Passing a snapshot instead of reading the process environment keeps resolution pure,
/// so callers and tests can supply their own variables without mutating global state.
/// Empty values are treated as unset (`export MP_SECRET=` means "no secret").
#[derive(Clone, Default, PartialEq, Eq)]
pub struct EnvVars(BTreeMap<String, String>);

impl EnvVars {
    /// Captures `MP_*`, `MPD_*` and the home-directory variables of this process.
    /// Variables that are not valid Unicode are skipped.
    pub fn from_process() -> Self {
        let relevant = std::env::vars_os().filter_map(|(k, v)| {
            let (k, v) = (k.into_string().ok()?, v.into_string().ok()?);
            is_relevant(&k).then_some((k, v))
        });
        EnvVars(relevant.collect())
    }

    /// Builds a snapshot from explicit pairs (all kept, whatever their names).
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        EnvVars(pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
    }

    /// The value of `key`, or `None` when it is unset or empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// The non-empty variables whose names start with `prefix`, in name order.
    pub fn with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.0
            .iter()
            .filter(move |(k, v)| k.starts_with(prefix) && !v.is_empty())
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

fn is_relevant(key: &str) -> bool {
    key.starts_with("MP_") || key.starts_with("MPD_") || key == "HOME" || key == "USERPROFILE"
}

/// Only the names: values include `MP_SECRET`.
impl fmt::Debug for EnvVars {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("EnvVars").field(&self.0.keys().collect::<Vec<_>>()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_values_are_unset() {
        let env = EnvVars::from_pairs([("MP_SECRET", ""), ("MP_USERNAME", "u")]);
        assert_eq!(env.get("MP_SECRET"), None);
        assert_eq!(env.get("MP_USERNAME"), Some("u"));
        assert_eq!(env.get("NOPE"), None);
    }

    #[test]
    fn prefix_iteration_is_sorted_and_skips_empty() {
        let env =
            EnvVars::from_pairs([("MPD_B", "2"), ("MPD_A", "1"), ("MPD_C", ""), ("MP_X", "x")]);
        let got: Vec<_> = env.with_prefix("MPD_").collect();
        assert_eq!(got, vec![("MPD_A", "1"), ("MPD_B", "2")]);
    }

    #[test]
    fn debug_shows_names_only() {
        let env = EnvVars::from_pairs([("MP_SECRET", "s3cr3t-value")]);
        let shown = format!("{env:?}");
        assert!(shown.contains("MP_SECRET"));
        assert!(!shown.contains("s3cr3t-value"));
    }

    #[test]
    fn relevance_filter() {
        assert!(is_relevant("MP_SECRET"));
        assert!(is_relevant("MPD_STORE"));
        assert!(is_relevant("HOME"));
        assert!(!is_relevant("AWS_SECRET_ACCESS_KEY"));
    }
}
