//! `mpd mcp`: the Model Context Protocol server over stdio. stdout belongs to the protocol,
//! so this command prints nothing there; logs and errors go to stderr as always.

use crate::cli::{GlobalArgs, McpArgs};

#[cfg(feature = "mcp")]
pub(crate) async fn run(global: &GlobalArgs, args: McpArgs) -> anyhow::Result<()> {
    let workspace = mpd_service::Workspace::open(super::workspace_options(global))?;
    let options = mpd_mcp::McpOptions {
        allow_write: args.allow_write,
        max_rows: args.max_rows as usize,
        query_timeout: std::time::Duration::from_secs(args.query_timeout),
    };
    tracing::info!(allow_write = options.allow_write, "serving MCP over stdio");
    mpd_mcp::serve_stdio(workspace, options).await?;
    Ok(())
}

#[cfg(not(feature = "mcp"))]
pub(crate) async fn run(_global: &GlobalArgs, _args: McpArgs) -> anyhow::Result<()> {
    Err(crate::Exit {
        code: crate::EXIT_USAGE,
        message: "this mpd was built without the MCP server (cargo feature `mcp`); install it \
                  with default features to serve agents"
            .to_owned(),
    }
    .into())
}
