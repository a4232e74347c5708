//! `mpd mcp`: a Model Context Protocol server (the official Rust SDK, `rmcp`) that gives AI
//! agents the store — its tables, their schema, bounded read-only SQL, the sync's status —
//! and Mixpanel's reports, answered from the store when it holds the days asked for.
//!
//! What this crate offers:
//! - [`serve_stdio`]: serve one client over stdin/stdout until it disconnects;
//! - [`MpdServer`] and [`McpOptions`]: the server, to serve over another transport;
//! - [`Error`]: why serving stopped.
//!
//! Tools: `list_tables`, `describe_table`, `sample_rows`, `sql`, `sync_status`,
//! `segmentation`, `event_counts`, `funnel`, `retention`, `list_events`, `list_properties`,
//! `list_property_values`, and `sync` when [`McpOptions::allow_write`] is set. Resources:
//! `mpd://guide`, `mpd://schema`, `mpd://cookbook`; prompt: `explain_store`.

mod args;
mod guide;
mod render;
mod server;
mod tools;

use mpd_service::Workspace;
use rmcp::ServiceExt;

pub use server::{McpOptions, MpdServer};

/// Why the server stopped serving.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The client's first messages were not an MCP initialization.
    #[error(
        "the MCP session did not start: {0} (is the other end an MCP client speaking over stdio?)"
    )]
    Initialize(String),
    /// The session broke while serving.
    #[error("the MCP session ended with an error: {0}")]
    Session(String),
}

/// Serves `workspace` to one MCP client over stdin/stdout until the client disconnects.
/// Nothing else may write to stdout meanwhile: logs go to stderr.
pub async fn serve_stdio(workspace: Workspace, options: McpOptions) -> Result<(), Error> {
    let server = MpdServer::new(workspace, options);
    let running = server
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|error| Error::Initialize(error.to_string()))?;
    running.waiting().await.map_err(|error| Error::Session(error.to_string()))?;
    Ok(())
}
