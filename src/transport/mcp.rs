//! The rmcp `ServerHandler`, written by hand over the registry:
//! `tools/list` is the registry filtered for the caller, `tools/call` is the
//! pipeline. Shared by every MCP transport.

use std::sync::{Arc, OnceLock};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, CustomRequest, CustomResult,
    Implementation, InitializeRequestParams, InitializeResult, ListToolsResult, MetaObject,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use serde_json::{Value, json};

use crate::auth::{Credential, Principal};
use crate::cli::ToolMode;
use crate::pipeline::{CallError, CallRequest, Pipeline};
use crate::tools::{Action, Registry, Tool, ToolFilter};

const INSTRUCTIONS: &str = "whale gives you audited access to a commerce store. Money is always integer \
minor units (cents). Every call is checked against your credential's scopes and recorded in the audit \
trail. Tools that failed return isError with a message saying what to fix.";

/// One MCP session's view of whale. Over stdio and legacy SSE the
/// credential is fixed for the session; over Streamable HTTP each request
/// carries its own (put into the request by the HTTP auth layer, which also
/// binds the session to it).
#[derive(Clone)]
pub struct WhaleServer {
    pipeline: Arc<Pipeline>,
    cred: Option<Credential>,
    filter: ToolFilter,
    mode: ToolMode,
    page_size: usize,
    listing: Arc<OnceLock<Arc<Vec<rmcp::model::Tool>>>>,
}

impl WhaleServer {
    pub fn new(
        pipeline: Arc<Pipeline>,
        cred: Option<Credential>,
        filter: ToolFilter,
        mode: ToolMode,
        page_size: usize,
    ) -> Self {
        WhaleServer {
            pipeline,
            cred,
            filter,
            mode,
            page_size: page_size.max(1),
            listing: Arc::new(OnceLock::new()),
        }
    }

    /// Who is calling: the session's credential (stdio), or what the HTTP
    /// layer attached to this request — the principal its guard resolved
    /// through the pipeline's stage 1 for this very request.
    fn caller(&self, ext: &rmcp::model::Extensions) -> Result<Caller, McpError> {
        if let Some(c) = &self.cred {
            return Ok(Caller::Credential(c.clone()));
        }
        let parts = ext.get::<http::request::Parts>();
        if let Some(p) = parts.and_then(|p| p.extensions.get::<Principal>()) {
            return Ok(Caller::Resolved(p.clone()));
        }
        parts
            .and_then(|p| p.extensions.get::<Credential>())
            .cloned()
            .map(Caller::Credential)
            .ok_or_else(|| McpError::invalid_request("the request carries no credential", None))
    }

    async fn principal(&self, caller: Caller) -> Result<Principal, McpError> {
        match caller {
            Caller::Resolved(p) => Ok(p),
            // Resolve every time, so a key revoked mid-session lists nothing.
            // Not -32600: the request is well formed, its credential is not
            // (an implementation-defined server error, worded as tools/call
            // words it).
            Caller::Credential(c) => self.pipeline.resolve(&c).await.map_err(|e| {
                McpError::new(
                    rmcp::model::ErrorCode(UNAUTHENTICATED),
                    format!("authentication failed: {e}"),
                    None,
                )
            }),
        }
    }

    /// The caller's tool list; the scopes of a session's credential never
    /// change, so it is built once per session.
    async fn listing(&self, caller: Caller) -> Result<Arc<Vec<rmcp::model::Tool>>, McpError> {
        let principal = self.principal(caller).await?;
        if let Some(l) = self.listing.get() {
            return Ok(l.clone());
        }
        let visible = self.pipeline.visible(&principal, &self.filter);
        let tools = mcp_tools(&visible, self.mode);
        Ok(self.listing.get_or_init(|| Arc::new(tools)).clone())
    }
}

/// The JSON-RPC error code of a request whose credential no longer
/// resolves (a key revoked or expired mid-session).
pub const UNAUTHENTICATED: i32 = -32001;

/// What a `tools/call` answers for a pipeline outcome (shared by the rmcp
/// handler and the HTTP fast path): the result with `structuredContent`
/// and the execution id in `_meta`, an `isError` result the agent can act
/// on (naming other actions as the session's `mode` spells them), or — for
/// an unknown tool — JSON-RPC -32602.
pub fn call_result(
    ran: Result<crate::pipeline::CallOutcome, CallError>,
    registry: &Registry,
    mode: ToolMode,
) -> Result<CallToolResult, McpError> {
    let outcome = match ran {
        Ok(o) => o,
        Err(CallError::UnknownTool(n)) => {
            return Err(McpError::invalid_params(
                format!("unknown tool `{n}`; call tools/list for the tools this server offers"),
                Some(json!({"tool": n})),
            ));
        }
        Err(CallError::Unauthenticated(e)) => {
            return Ok(CallToolResult::error(vec![ContentBlock::text(format!(
                "authentication failed: {e}"
            ))]));
        }
    };
    let mut meta = MetaObject::new();
    meta.0
        .insert("whale/executionId".into(), Value::String(outcome.exec_id.clone()));
    let mut result = match outcome.result {
        Ok(value) => {
            let text = outcome
                .text
                .unwrap_or_else(|| serde_json::to_string(&value).unwrap_or_default());
            let mut r = CallToolResult::success(vec![ContentBlock::text(text)]);
            r.structured_content = Some(value);
            r
        }
        Err(e) => CallToolResult::error(vec![ContentBlock::text(format!(
            "{} (execution {})",
            registry.spelt(&e.to_string(), mode),
            outcome.exec_id
        ))]),
    };
    result.meta = Some(meta);
    Ok(result)
}

/// A request's caller, before or after stage 1.
enum Caller {
    Credential(Credential),
    Resolved(Principal),
}

/// The MCP tool list for `visible` in the given mode (also used by the
/// schema snapshots and docs generator).
pub fn mcp_tools(visible: &[(&Tool, Vec<&Action>)], mode: ToolMode) -> Vec<rmcp::model::Tool> {
    let mut out = Vec::new();
    for (tool, actions) in visible {
        match mode {
            ToolMode::Grouped => {
                let read_only = actions.iter().all(|a| a.effect.is_read());
                let annotations = ToolAnnotations::with_title(tool.title)
                    .read_only(read_only)
                    .destructive(actions.iter().any(|a| a.destructive_hint()))
                    .idempotent(actions.iter().all(|a| a.idempotent))
                    .open_world(false);
                let mut description = format!(
                    "{} Actions: {}",
                    tool.description,
                    actions
                        .iter()
                        .map(|a| format!("`{}` — {}", a.name, a.description))
                        .collect::<Vec<_>>()
                        .join(" ")
                );
                if !description.ends_with('.') {
                    description.push('.');
                }
                out.push(
                    rmcp::model::Tool::new(
                        tool.name,
                        description,
                        Arc::new(tool.grouped_input_schema(actions)),
                    )
                    .with_title(tool.title)
                    .with_raw_output_schema(Arc::new(tool.grouped_output_schema(actions)))
                    .with_annotations(annotations),
                );
            }
            ToolMode::Flat => {
                for a in actions {
                    let title = format!("{}: {}", tool.title, a.name.replace('_', " "));
                    let annotations = ToolAnnotations::with_title(title.clone())
                        .read_only(a.effect.is_read())
                        .destructive(a.destructive_hint())
                        .idempotent(a.idempotent)
                        .open_world(false);
                    out.push(
                        rmcp::model::Tool::new(
                            format!("{}_{}", tool.name, a.name),
                            a.description,
                            a.input_schema().clone(),
                        )
                        .with_title(title)
                        .with_raw_output_schema(a.output_schema().clone())
                        .with_annotations(annotations),
                    );
                }
            }
        }
    }
    out
}

/// -32601 for a method of a capability this server does not declare.
fn not_offered(method: &str, capability: &str) -> McpError {
    McpError::new(
        rmcp::model::ErrorCode::METHOD_NOT_FOUND,
        format!("method not found: `{method}`; this server offers no {capability}, only tools"),
        None,
    )
}

/// The sentence of the instructions that tells an agent whose data it is
/// working on: a sandbox (`wt_test_`) key's agent otherwise had no sign
/// that it was on test data.
fn session_note(p: &Principal) -> String {
    let data = match p.scope.mode {
        crate::store::Mode::Live => "live mode: real orders, customers and stock",
        crate::store::Mode::Test => "test mode: sandbox data, separate from the live store",
    };
    format!("This session works on store `{}`, in {data}.", p.scope.store_id)
}

impl ServerHandler for WhaleServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("whale", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }

    /// rmcp's handshake, with the instructions naming the caller's store
    /// and mode. A caller whose credential does not resolve gets the
    /// general instructions here; its first request says why it fails.
    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, McpError> {
        context.peer.set_peer_info(request.clone());
        let mut result = self.negotiate_initialize(&request)?;
        if let Ok(caller) = self.caller(&context.extensions)
            && let Ok(p) = self.principal(caller).await
        {
            result.instructions = Some(format!("{INSTRUCTIONS} {}", session_note(&p)));
        }
        Ok(result)
    }

    /// A method of the protocol with params that do not fit it is -32602
    /// saying what is wrong (rmcp's default answers -32601, method not
    /// found); a method MCP does not have stays -32601.
    async fn on_custom_request(
        &self,
        request: CustomRequest,
        _context: RequestContext<RoleServer>,
    ) -> Result<CustomResult, McpError> {
        Err(match super::channel::invalid_params(&request) {
            Some(message) => McpError::invalid_params(message, None),
            None => McpError::new(
                rmcp::model::ErrorCode::METHOD_NOT_FOUND,
                format!("method not found: `{}`", request.method),
                None,
            ),
        })
    }

    // Methods of capabilities whale does not offer: -32601 with a sentence
    // for the host's log, not just the method's name (rmcp's default).
    // Deprecated with the logging capability (SEP-2577), still asked for.
    #[allow(deprecated)]
    async fn set_level(
        &self,
        _request: rmcp::model::SetLevelRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        Err(not_offered("logging/setLevel", "logging"))
    }

    async fn get_prompt(
        &self,
        _request: rmcp::model::GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::GetPromptResponse, McpError> {
        Err(not_offered("prompts/get", "prompts"))
    }

    async fn read_resource(
        &self,
        _request: rmcp::model::ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ReadResourceResponse, McpError> {
        Err(not_offered("resources/read", "resources"))
    }

    async fn subscribe(
        &self,
        _request: rmcp::model::SubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        Err(not_offered("resources/subscribe", "resources"))
    }

    async fn unsubscribe(
        &self,
        _request: rmcp::model::UnsubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        Err(not_offered("resources/unsubscribe", "resources"))
    }

    /// rmcp answers an empty completion whether or not the capability is
    /// declared; MCP says a server without it answers -32601.
    async fn complete(
        &self,
        _request: rmcp::model::CompleteRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::CompleteResult, McpError> {
        Err(not_offered("completion/complete", "completions"))
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let caller = self.caller(&context.extensions)?;
        let all = self.listing(caller).await?;
        let start = match request.and_then(|r| r.cursor) {
            None => 0,
            Some(c) => c
                .parse::<usize>()
                .ok()
                .filter(|&n| n <= all.len())
                .ok_or_else(|| McpError::invalid_params(format!("invalid cursor `{c}`"), None))?,
        };
        let end = (start + self.page_size).min(all.len());
        let mut result = ListToolsResult::with_all_items(all[start..end].to_vec());
        if end < all.len() {
            result.next_cursor = Some(end.to_string());
        }
        Ok(result)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let caller = self.caller(&context.extensions)?;
        let call = CallRequest {
            name: request.name.to_string(),
            arguments: request.arguments,
        };
        let ran = match caller {
            Caller::Credential(cred) => {
                self.pipeline
                    .call(&cred, &self.filter, call, context.ct.clone())
                    .await
            }
            Caller::Resolved(principal) => {
                self.pipeline
                    .call_as(principal, &self.filter, call, context.ct.clone())
                    .await
            }
        };
        Ok(call_result(ran, self.pipeline.registry(), self.mode)?.into())
    }

    fn get_tool(&self, _name: &str) -> Option<rmcp::model::Tool> {
        None
    }
}
