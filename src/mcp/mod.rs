//! `skillc mcp`: a Model Context Protocol server on stdin/stdout, so a
//! coding agent that generates datasets registers skillc once and calls it
//! as tools (docs/agents.md).
//!
//! This is the only module that knows MCP types, and the only one with an
//! async runtime: the official Rust SDK (`rmcp`) serves the protocol on a
//! single-threaded tokio runtime built in [`run_stdio`]; each tool call runs
//! on a blocking thread (the check itself on rayon, as `skillc check`), so a
//! long check does not stall the protocol. `tools.rs` does the work over
//! JSON values and holds the tool names, descriptions and input schemas.
//! Stdout is the protocol, so printing is denied here.
#![deny(clippy::print_stdout, clippy::print_stderr, clippy::dbg_macro)]

mod tools;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation, ListToolsResult, PaginatedRequestParams,
    ServerCapabilities, ServerConfig, Tool, ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};
use serde_json::Value;
use std::sync::Arc;

const INSTRUCTIONS: &str = "skillc validates synthetic datasets (JSON Lines, one record per line) against constraint rules \
written in Markdown skill files. Loop: `check` a batch, repair each rejected record from its reasons (message, values, \
hint), `requests` for what the dataset as a whole still lacks (shortfalls: how many records to change or add), generate, \
check again. `list_rules` and `explain_rule` give the rules in prose, as expressions and with example records.";

/// Serves the protocol on stdin and stdout until the client closes them.
pub fn run_stdio() -> Result<(), String> {
    // The same worker stacks as `skillc check`: a line nested to the JSON
    // parser's depth limit overflows rayon's default 2 MiB in a debug build.
    rayon::ThreadPoolBuilder::new().stack_size(16 << 20).build_global().map_err(|e| e.to_string())?;
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| format!("cannot start the server: {e}"))?;
    runtime.block_on(async {
        let service = Server::new().serve(rmcp::transport::stdio()).await.map_err(|e| format!("cannot start the session: {e}"))?;
        service.waiting().await.map_err(|e| format!("the session failed: {e}"))?;
        Ok(())
    })
}

struct Server {
    tools: Arc<[Tool]>,
}

impl Server {
    fn new() -> Server {
        let tools = tools::catalogue()
            .into_iter()
            .map(|(name, description, schema)| {
                let schema = schema.as_object().cloned().unwrap_or_default();
                let annotations = ToolAnnotations::new().read_only(true).destructive(false).idempotent(true).open_world(false);
                Tool::new(name, description, Arc::new(schema)).with_annotations(annotations)
            })
            .collect();
        Server { tools }
    }
}

/// A tool's result: the object as structured content and as its JSON text;
/// a failure as a tool error with the message (and diagnostics) as text.
fn result(outcome: Result<Value, tools::ToolError>) -> CallToolResult {
    match outcome {
        Ok(value) => CallToolResult::structured(value),
        Err(e) => {
            let mut r = CallToolResult::error(vec![ContentBlock::text(e.text())]);
            r.structured_content = Some(e.to_json());
            r
        }
    }
}

impl ServerHandler for Server {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("skillc", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.tools.to_vec()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.tools.iter().find(|t| t.name == name).cloned()
    }

    async fn call_tool(&self, request: CallToolRequestParams, _context: RequestContext<RoleServer>) -> Result<CallToolResponse, ErrorData> {
        let name = request.name.to_string();
        if self.get_tool(&name).is_none() {
            let names = self.tools.iter().map(|t| t.name.as_ref());
            let hint = crate::diagnostic::did_you_mean(&name, names).map(|h| format!("; {h}")).unwrap_or_default();
            return Err(ErrorData::invalid_params(format!("unknown tool `{name}`{hint}"), None));
        }
        let args = request.arguments.unwrap_or_default();
        // A panic in a tool is an error result, not the end of the server.
        let outcome =
            tokio::task::spawn_blocking(move || tools::call(&name, &args).unwrap_or_else(|| Err(format!("unknown tool `{name}`").into())))
                .await
                .unwrap_or_else(|e| Err(format!("internal error: the tool stopped ({e})").into()));
        Ok(result(outcome).into())
    }
}
