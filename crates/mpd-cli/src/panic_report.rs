//! A panic is a bug in mpd or in a library it uses, never the user's fault: the CLI reports it
//! as one `error:` line and a hint to report it, instead of Rust's message and backtrace.
//!
//! The hook only records the panic (and prints the full report with `-vvv` or
//! `RUST_BACKTRACE`): libraries sometimes catch their own panics (deltalake does, when an
//! upload cannot be aborted after a full disk), and those must not reach the user. A panic
//! that does end the command is reported by `main` from what the hook recorded.

use std::backtrace::Backtrace;
use std::sync::Mutex;

/// The last panic seen: its message and where it happened.
static LAST: Mutex<Option<Recorded>> = Mutex::new(None);

/// A panic as the hook saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Recorded {
    pub(crate) message: String,
    pub(crate) location: Option<String>,
}

/// The hint printed under a panic's error line.
pub(crate) const HINT: &str = "this is a bug in mpd: please report it with the command you ran and this message (run with -vvv or RUST_BACKTRACE=1 for a backtrace)";

/// Installs the hook; `verbose` prints the full report (with a backtrace) as each panic happens.
pub(crate) fn install(verbose: bool) {
    std::panic::set_hook(Box::new(move |info| {
        let message = match info.payload().downcast_ref::<&str>() {
            Some(text) => (*text).to_owned(),
            None => match info.payload().downcast_ref::<String>() {
                Some(text) => text.clone(),
                None => "(no message)".to_owned(),
            },
        };
        let location = info.location().map(|l| format!("{}:{}", l.file(), l.line()));
        if verbose {
            print_full(&message, location.as_deref());
        }
        let recorded = Recorded { message, location };
        *LAST.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(recorded);
    }));
}

/// The panic the hook saw last, if any.
pub(crate) fn last() -> Option<Recorded> {
    LAST.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
}

/// The one-line report of a panic that ended the command.
pub(crate) fn error_line(recorded: Option<&Recorded>) -> String {
    match recorded {
        Some(Recorded { message, location: Some(location) }) => {
            format!("internal error: mpd panicked at {location}: {message}")
        }
        Some(Recorded { message, location: None }) => {
            format!("internal error: mpd panicked: {message}")
        }
        None => "internal error: mpd panicked".to_owned(),
    }
}

#[allow(clippy::print_stderr, reason = "the CLI is the one place that prints errors")]
fn print_full(message: &str, location: Option<&str>) {
    let thread = std::thread::current();
    let name = thread.name().unwrap_or("<unnamed>");
    eprintln!(
        "thread '{name}' panicked at {}:\n{message}\n{}",
        location.unwrap_or("an unknown place"),
        Backtrace::force_capture()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_line_names_the_place_and_the_message() {
        let recorded = Recorded { message: "boom".into(), location: Some("src/lib.rs:3".into()) };
        insta::assert_snapshot!(error_line(Some(&recorded)), @"internal error: mpd panicked at src/lib.rs:3: boom");
        let nowhere = Recorded { message: "boom".into(), location: None };
        assert_eq!(error_line(Some(&nowhere)), "internal error: mpd panicked: boom");
        assert_eq!(error_line(None), "internal error: mpd panicked");
    }
}
