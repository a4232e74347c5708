//! The MCP server: a [`Workspace`] behind the protocol's tools, resources and prompts.
//! Tools are in `tools/`; this file holds what the server is and what it lists.

use std::sync::Arc;
use std::time::Duration;

use mpd_service::Workspace;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{
    GetPromptRequestParams, GetPromptResponse, GetPromptResult, Implementation, ListPromptsResult,
    ListResourcesResult, PaginatedRequestParams, Prompt, PromptMessage, ReadResourceRequestParams,
    ReadResourceResponse, ReadResourceResult, Resource, ResourceContents, Role, ServerCapabilities,
    ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, tool_handler};

use crate::guide::{SQL_COOKBOOK, TABLES_GUIDE};

/// How the server treats its clients.
#[derive(Debug, Clone, Copy)]
pub struct McpOptions {
    /// Offer the tools that write to the store (`sync`).
    pub allow_write: bool,
    /// Rows a `sql` answer may hold at most, whatever the client asks.
    pub max_rows: usize,
    /// How long a `sql` query may run before it is stopped.
    pub query_timeout: Duration,
}

impl Default for McpOptions {
    fn default() -> Self {
        Self { allow_write: false, max_rows: 1000, query_timeout: Duration::from_secs(60) }
    }
}

/// The server: one workspace shared by every request of the session.
#[derive(Clone)]
pub struct MpdServer {
    pub(crate) workspace: Arc<Workspace>,
    pub(crate) options: McpOptions,
    tool_router: ToolRouter<Self>,
}

/// The protocol name of the prompt that explains the store.
const EXPLAIN_PROMPT: &str = "explain_store";
const GUIDE_URI: &str = "mpd://guide";
const COOKBOOK_URI: &str = "mpd://cookbook";
const SCHEMA_URI: &str = "mpd://schema";

impl MpdServer {
    /// A server over `workspace`; the writing tools are listed only with `allow_write`.
    pub fn new(workspace: Workspace, options: McpOptions) -> Self {
        let mut tool_router = Self::read_tools();
        tool_router.merge(Self::analytics_tools());
        if options.allow_write {
            tool_router.merge(Self::write_tools());
        }
        Self { workspace: Arc::new(workspace), options, tool_router }
    }

    /// The names of the tools this server offers, in the order they are listed.
    pub fn tool_names(&self) -> Vec<String> {
        self.tool_router.list_all().into_iter().map(|tool| tool.name.into_owned()).collect()
    }

    /// Every table's columns and types, as the `mpd://schema` resource shows them.
    pub(crate) async fn schema_text(&self) -> String {
        let tables = match self.workspace.table_list().await {
            Ok(tables) => tables,
            Err(error) => return crate::tools::failure_text(&error),
        };
        if tables.is_empty() {
            return "The store has no tables yet: sync or fetch some data first.".to_owned();
        }
        let mut text = String::new();
        for table in tables {
            let rows = table.rows.map_or_else(|| "?".to_owned(), |n| n.to_string());
            text.push_str(&format!("## {} ({rows} rows)\n", table.name));
            match self.workspace.table_schema(&table.name).await {
                Ok(columns) => {
                    for column in columns {
                        let null = if column.nullable { "" } else { " not null" };
                        text.push_str(&format!("- {} {}{null}\n", column.name, column.data_type));
                    }
                }
                Err(error) => text.push_str(&crate::tools::failure_text(&error)),
            }
            text.push('\n');
        }
        text
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for MpdServer {
    fn get_info(&self) -> ServerConfig {
        let capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_resources()
            .enable_prompts()
            .build();
        ServerConfig::new(capabilities)
            .with_server_info(Implementation::new("mpd", env!("CARGO_PKG_VERSION")))
            .with_instructions(TABLES_GUIDE)
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        Ok(ListResourcesResult::with_all_items(vec![
            Resource::new(GUIDE_URI, "guide")
                .with_description("What each table of the store holds and how to query it")
                .with_mime_type("text/plain"),
            Resource::new(SCHEMA_URI, "schema")
                .with_description("Every table's columns and types, read from the store now")
                .with_mime_type("text/markdown"),
            Resource::new(COOKBOOK_URI, "sql-cookbook")
                .with_description("Worked SQL for Mixpanel questions over the store")
                .with_mime_type("text/markdown"),
        ]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let text = match request.uri.as_str() {
            GUIDE_URI => TABLES_GUIDE.to_owned(),
            COOKBOOK_URI => SQL_COOKBOOK.to_owned(),
            SCHEMA_URI => self.schema_text().await,
            other => {
                return Err(ErrorData::resource_not_found(
                    format!(
                        "no resource {other}: mpd offers {GUIDE_URI}, {SCHEMA_URI} and {COOKBOOK_URI}"
                    ),
                    None,
                ));
            }
        };
        Ok(ReadResourceResult::new(vec![ResourceContents::text(text, request.uri)]).into())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        Ok(ListPromptsResult::with_all_items(vec![Prompt::new(
            EXPLAIN_PROMPT,
            Some(
                "Explains the store's tables (dedup, identity resolution, JSON properties) and shows its schema, so SQL written next is correct",
            ),
            None,
        )]))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        if request.name != EXPLAIN_PROMPT {
            return Err(ErrorData::invalid_params(
                format!("no prompt {:?}: mpd offers {EXPLAIN_PROMPT}", request.name),
                None,
            ));
        }
        let text = format!(
            "You answer questions about a Mixpanel project with the mpd tools. Prefer the \
             `sql` tool over live queries: it costs no Mixpanel requests.\n\n{TABLES_GUIDE}\n\n\
             The store's schema now:\n\n{}",
            self.schema_text().await
        );
        Ok(GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)])
            .with_description("How to query the mpd store")
            .into())
    }
}
