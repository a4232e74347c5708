//! The tools, and how their answers and failures are put: a failure is a tool result the
//! agent reads (the CLI's `error:` line and its hint), never a protocol error it cannot see.

mod analytics;
mod store;

use rmcp::model::{CallToolResult, ContentBlock};

/// A tool's answer.
pub(crate) fn success(text: impl Into<String>) -> CallToolResult {
    CallToolResult::success(vec![ContentBlock::text(text)])
}

/// A service error as the agent sees it.
pub(crate) fn failure(error: &mpd_service::Error) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(failure_text(error))])
}

/// An argument the tool refuses before calling the service.
pub(crate) fn bad_argument(message: impl std::fmt::Display) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(format!("error: {message}"))])
}

/// `error: …` and, when the error has one, `hint: …` on the next line.
pub(crate) fn failure_text(error: &mpd_service::Error) -> String {
    match error.hint() {
        Some(hint) => format!("error: {error}\nhint: {hint}"),
        None => format!("error: {error}"),
    }
}
