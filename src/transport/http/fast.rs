//! The Streamable HTTP fast path for `tools/call`.
//!
//! rmcp's `StreamableHttpService` routes every request of a session through
//! the session's worker task and answers it as a one-event SSE stream: a
//! priming event, the message, the end — channel hops, task spawns and
//! several socket writes per call. A `tools/call` on an established session
//! needs none of it, so this layer (in front of rmcp, behind the guard and
//! the session binding) answers it directly with one `application/json`
//! response, which the transport allows for any request. Everything else —
//! initialize, lists, notifications, GET streams, DELETE, sessionless and
//! 2026-07-28 requests, unusual headers — goes to rmcp unchanged.
//!
//! The call runs through the same pipeline (`Pipeline::call_as`, with the
//! principal the guard resolved for this request) and turns into the same
//! result (`transport::mcp::call_result`) as on the rmcp path — except a
//! call an OAuth token's scopes do not cover, which is the HTTP 403 step-up
//! challenge (see `step_up`); every session-era `tools/call` comes here.
//! `notifications/cancelled` for a call in flight here cancels it, and the
//! cancelled request gets no JSON-RPC answer. A client that disconnects
//! does not cancel its call: the session-era transport says a disconnect
//! is not a cancellation, and the pipeline finishes and audits the call
//! whether or not anyone still waits for it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rmcp::model::{CallToolRequestParams, ProtocolVersion};
use rmcp::transport::streamable_http_server::session::SessionManager;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::{HttpState, SESSION_HEADER};
use crate::auth::{Credential, Principal};
use crate::error::ToolError;
use crate::pipeline::CallRequest;

/// Whether the fast path serves a session of protocol version `v`: one of
/// rmcp's known versions of the session era that carry the version header
/// (2025-03-26 on, up to the last with `initialize`); anything else is
/// rmcp's to judge.
fn session_version(v: &str) -> bool {
    ProtocolVersion::known_up_to(&ProtocolVersion::LATEST_WITH_INITIALIZE)
        .iter()
        .any(|k| *k != ProtocolVersion::V_2024_11_05 && k.as_str() == v)
}

/// Calls in flight on the fast path, by session and JSON-RPC id.
#[derive(Default)]
pub struct InFlight(Mutex<HashMap<(String, String), CancellationToken>>);

impl InFlight {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), CancellationToken>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Removes a call from [`InFlight`] when it ends or its caller goes away.
struct Tracked<'a> {
    map: &'a InFlight,
    key: (String, String),
}

impl Drop for Tracked<'_> {
    fn drop(&mut self) {
        self.map.lock().remove(&self.key);
    }
}

fn eligible_headers(headers: &HeaderMap) -> Option<String> {
    let session = headers.get(SESSION_HEADER)?.to_str().ok()?.to_string();
    let accept = headers.get(header::ACCEPT)?.to_str().ok()?;
    if !(accept.contains("application/json") && accept.contains("text/event-stream")) {
        return None;
    }
    if !super::is_json_content(headers) {
        return None;
    }
    if let Some(v) = headers.get("mcp-protocol-version")
        && !session_version(v.to_str().ok()?)
    {
        return None;
    }
    Some(session)
}

/// The id of a JSON-RPC request as a map key (numbers and strings differ);
/// None for one MCP does not allow (it "MUST" be a string or an integer:
/// `1.5`, null), which rmcp refuses in the usual words (and `1e3`, which
/// rmcp reads as 1000).
fn id_key(id: &Value) -> Option<String> {
    match id {
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(id.to_string()),
        Value::String(_) => Some(id.to_string()),
        _ => None,
    }
}

pub async fn tools_call(State(s): State<Arc<HttpState>>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let Some(session) = eligible_headers(req.headers()) else {
        return next.run(req).await;
    };
    let (parts, body) = req.into_parts();
    // The guard has buffered the body (bounded): this does not wait.
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let pass = |parts, bytes| next.run(Request::from_parts(parts, Body::from(bytes)));
    let Ok(mut msg) = serde_json::from_slice::<Value>(&bytes) else {
        return pass(parts, bytes).await;
    };
    // Not one well-formed request (a response's fields beside `method`):
    // rmcp refuses it as every other door does.
    if msg.get("jsonrpc").and_then(Value::as_str) != Some("2.0")
        || msg.get("result").is_some()
        || msg.get("error").is_some()
    {
        return pass(parts, bytes).await;
    }
    match msg.get("method").and_then(Value::as_str) {
        Some("tools/call") => {}
        Some("notifications/cancelled") => {
            // Ours to cancel if the call runs here; rmcp still gets the
            // notification (and answers 202).
            if let Some(id) = msg.pointer("/params/requestId").and_then(id_key)
                && let Some(ct) = s.fast_calls.lock().get(&(session.clone(), id))
            {
                ct.cancel();
            }
            return pass(parts, bytes).await;
        }
        _ => return pass(parts, bytes).await,
    }
    let (Some(id), Some(principal)) = (
        msg.get("id").cloned(),
        parts.extensions.get::<Principal>().cloned(),
    ) else {
        return pass(parts, bytes).await;
    };
    let Some(key) = id_key(&id) else {
        return pass(parts, bytes).await;
    };
    // An unknown or ended session is rmcp's to answer (404).
    if !s
        .sessions
        .has_session(&session.as_str().into())
        .await
        .unwrap_or(false)
    {
        return pass(parts, bytes).await;
    }
    let params = match msg.get_mut("params") {
        Some(p) if p.is_object() => p.take(),
        // Missing, null or not an object: a rare mistake, answered by rmcp
        // and the handler in the words every other door uses.
        _ => return pass(parts, bytes).await,
    };
    let params: CallToolRequestParams = match serde_json::from_value(params) {
        Ok(p) => p,
        Err(e) => {
            let e =
                rmcp::ErrorData::invalid_params(crate::transport::channel::tools_call_params(Some(&e)), None);
            return respond(error_body(&id, &e));
        }
    };
    // Not a child of the server's token: shutdown lets calls in flight
    // finish rather than cancelling them.
    let ct = CancellationToken::new();
    s.fast_calls
        .lock()
        .insert((session.clone(), key.clone()), ct.clone());
    let tracked = Tracked {
        map: &s.fast_calls,
        key: (session, key),
    };
    let call = CallRequest {
        name: params.name.to_string(),
        arguments: params.arguments,
    };
    let ran = s.pipeline.call_as(principal, &s.filter, call, ct.clone()).await;
    drop(tracked);
    if ct.is_cancelled() {
        // The client cancelled the request, so it gets no answer (MCP
        // cancellation): a stream that ends without a message, as rmcp
        // ends one.
        let mut resp = Response::new(Body::empty());
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        return resp;
    }
    if let Some(refused) = step_up(&s, &parts, &ran) {
        return refused;
    }
    // Serialized straight from the result (no intermediate JSON tree).
    let body = match crate::transport::mcp::call_result(ran, s.pipeline.registry(), s.tool_mode) {
        Ok(mut result) => {
            // Every version served here predates 2026-07-28: the result has
            // its historical shape, as rmcp gives it to such sessions.
            result.result_type.take_if(|t| t.is_complete());
            serde_json::to_vec(&Reply {
                jsonrpc: "2.0",
                id: &id,
                result: Some(&result),
                error: None,
            })
        }
        Err(e) => return respond(error_body(&id, &e)),
    };
    respond(body.unwrap_or_default())
}

/// A call refused for scope, made with an OAuth access token: HTTP 403
/// with the `insufficient_scope` challenge (RFC 6750 §3.1; MCP 2025-11-25,
/// "scope challenge handling"), from which the client can ask its user for
/// the scope and retry. `scope` names what the token has and what the call
/// needs, so a client that replaces its scopes with the challenge's loses
/// none. An API key cannot be stepped up (its scopes are set by whoever
/// created it), so its agent gets the refusal as a tool result it can read
/// and pass on, as over stdio. The pipeline has audited the denial either way.
fn step_up(
    s: &HttpState,
    parts: &axum::http::request::Parts,
    ran: &Result<crate::pipeline::CallOutcome, crate::pipeline::CallError>,
) -> Option<Response> {
    let Ok(outcome) = ran else { return None };
    let Err(e @ ToolError::InsufficientScope { needed, have, .. }) = &outcome.result else {
        return None;
    };
    if !matches!(
        parts.extensions.get::<Credential>(),
        Some(Credential::Token { .. })
    ) {
        return None;
    }
    let mut scope: Vec<&str> = have.split_whitespace().collect();
    if !scope.contains(&needed.as_str()) {
        scope.push(needed);
    }
    let mut refused = super::error::HttpError::new(
        StatusCode::FORBIDDEN,
        "insufficient_scope",
        format!("{e} (execution {})", outcome.exec_id),
    );
    refused.www_authenticate = Some(format!(
        "Bearer error=\"insufficient_scope\", scope=\"{}\", resource_metadata=\"{}\", error_description=\"{needed} is needed\"",
        scope.join(" "),
        s.resource_metadata_url(&parts.headers)
    ));
    Some(refused.into_response())
}

fn error_body(id: &Value, e: &rmcp::ErrorData) -> Vec<u8> {
    serde_json::to_vec(&Reply::<()> {
        jsonrpc: "2.0",
        id,
        result: None,
        error: Some(e),
    })
    .unwrap_or_default()
}

/// A JSON-RPC response.
#[derive(serde::Serialize)]
struct Reply<'a, T> {
    jsonrpc: &'static str,
    id: &'a Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<&'a T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a rmcp::ErrorData>,
}

fn respond(body: Vec<u8>) -> Response {
    let mut resp = Response::new(Body::from(body));
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}
