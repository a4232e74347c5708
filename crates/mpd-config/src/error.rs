//! The crate's single error type and its coarse classification.

use std::io;
use std::path::PathBuf;

/// Result alias used throughout `mpd-config`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while reading credentials and settings.
///
/// No variant ever carries a secret: messages name files, accounts, keys and
/// variables, never the values of secrets.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file or directory failed.
    #[error("cannot access {path}: {source}; check that the path exists and is accessible")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying I/O error.
        source: io::Error,
    },
    /// The config file is not valid TOML or has the wrong shape.
    #[error("invalid config file {path}: {message}; fix or remove the file")]
    Parse {
        /// The config file.
        path: PathBuf,
        /// What is wrong, with a line and column when known.
        message: String,
    },
    /// A request about accounts that cannot be carried out as asked (an unknown region, an
    /// empty secret, no account to show).
    #[error("{0}")]
    InvalidRequest(String),
    /// An account entry has a missing or invalid field.
    #[error("account '{name}' has an invalid `{field}`: {message}")]
    InvalidAccount {
        /// The account name (`[accounts.<name>]`).
        name: String,
        /// The offending field.
        field: &'static str,
        /// What is wrong and what is expected.
        message: String,
    },
    /// No account with that name is configured.
    #[error("account '{name}' not found; {}", available_hint(.available))]
    AccountNotFound {
        /// The requested name.
        name: String,
        /// The configured account names, sorted.
        available: Vec<String>,
    },
    /// An account with that name already exists.
    #[error("account '{name}' already exists; remove it first with `mpd auth remove {name}`")]
    AccountExists {
        /// The conflicting name.
        name: String,
    },
    /// No credentials were found in the environment or the config file.
    #[error(
        "no mixpanel credentials found: add an account with `mpd auth add NAME` (saved to {path}) \
         or set MP_USERNAME, MP_SECRET, MP_PROJECT_ID and MP_REGION"
    )]
    NoCredentials {
        /// The config file that was consulted.
        path: PathBuf,
    },
    /// Some, but not all, of the four `MP_*` credential variables are set.
    #[error(
        "incomplete credentials in the environment: {} not set; set all of MP_USERNAME, \
         MP_SECRET, MP_PROJECT_ID and MP_REGION, or unset them to use a configured account",
        .missing.join(", ")
    )]
    IncompleteEnv {
        /// The variables that are missing.
        missing: Vec<&'static str>,
    },
    /// A credential environment variable has an invalid value.
    #[error("invalid {var}: {message}")]
    InvalidEnv {
        /// The variable name.
        var: &'static str,
        /// What is wrong and what is expected.
        message: String,
    },
    /// A setting has a wrong type or an invalid value.
    #[error("invalid setting `{key}`: {message}")]
    InvalidSetting {
        /// The setting key, e.g. `lookback_days`.
        key: String,
        /// Where the value came from (`file <path>`, `env VAR`, `flag`), what is wrong and
        /// what is expected.
        message: String,
    },
    /// The home directory is unknown, so the default config path cannot be built.
    #[error("cannot locate the home directory: set HOME or MP_CONFIG_PATH")]
    NoHome,
}

/// Coarse class of an [`Error`], for callers that map errors to exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The user's configuration, environment or arguments are wrong.
    Usage,
    /// Something the user named does not exist.
    NotFound,
    /// The file system failed.
    Io,
    /// No credentials could be found at all.
    Auth,
}

impl Error {
    /// The class of this error.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::AccountNotFound { .. } => ErrorClass::NotFound,
            Error::NoCredentials { .. } => ErrorClass::Auth,
            Error::Io { .. } => ErrorClass::Io,
            _ => ErrorClass::Usage,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }
}

fn available_hint(available: &[String]) -> String {
    if available.is_empty() {
        "no accounts are configured; add one with `mpd auth add NAME`".to_owned()
    } else {
        format!("available: {}", available.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        let not_found = Error::AccountNotFound { name: "x".into(), available: vec![] };
        assert_eq!(not_found.class(), ErrorClass::NotFound);
        let none = Error::NoCredentials { path: "config.toml".into() };
        assert_eq!(none.class(), ErrorClass::Auth);
        let io = Error::io("f", io::Error::other("boom"));
        assert_eq!(io.class(), ErrorClass::Io);
        assert_eq!(Error::NoHome.class(), ErrorClass::Usage);
        assert_eq!(Error::IncompleteEnv { missing: vec!["MP_SECRET"] }.class(), ErrorClass::Usage);
    }

    #[test]
    fn not_found_lists_available_or_says_how_to_add() {
        let e =
            Error::AccountNotFound { name: "x".into(), available: vec!["a".into(), "b".into()] };
        assert_eq!(e.to_string(), "account 'x' not found; available: a, b");
        let e = Error::AccountNotFound { name: "x".into(), available: vec![] };
        assert!(e.to_string().contains("mpd auth add"));
    }
}
