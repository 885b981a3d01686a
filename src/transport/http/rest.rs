//! The REST API (`/v1/stores/{storeId}/…`), `/openapi.json`, `/health` and
//! the RFC 9728 protected-resource metadata.
//!
//! REST reads of the audit trail are calls of the `audit_trail` tool through
//! the pipeline, so they are scope-checked (`platform:read`) and audited
//! exactly like an agent's call; this file only maps HTTP to a call and the
//! outcome back to HTTP.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use super::HttpState;
use super::error::HttpError;
use crate::auth::Principal;
use crate::error::ToolError;
use crate::pipeline::{CallError, CallRequest};
use crate::tools::ToolFilter;

pub async fn list_executions(
    State(s): State<Arc<HttpState>>,
    Extension(principal): Extension<Principal>,
    Path(store_id): Path<String>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if store_id != principal.scope.store_id {
        return not_this_store();
    }
    let mut args = Map::new();
    for (k, v) in q {
        let value = match k.as_str() {
            "limit" | "offset" => match v.parse::<i64>() {
                Ok(n) => json!(n),
                Err(_) => {
                    return HttpError::bad_request(format!("`{k}` must be an integer, got `{v}`"))
                        .into_response();
                }
            },
            "tool" | "agent" | "status" | "from" | "to" | "before" => json!(v),
            other => {
                return HttpError::bad_request(format!(
                    "unknown query parameter `{other}`; use tool, agent, status, from, to, limit, offset, before"
                ))
                .into_response();
            }
        };
        args.insert(k, value);
    }
    call(&s, &headers, principal, "audit_trail_query_executions", args).await
}

pub async fn get_execution(
    State(s): State<Arc<HttpState>>,
    Extension(principal): Extension<Principal>,
    Path((store_id, exec_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if store_id != principal.scope.store_id {
        return not_this_store();
    }
    let mut args = Map::new();
    args.insert("execution_id".into(), json!(exec_id));
    call(&s, &headers, principal, "audit_trail_get_execution", args).await
}

/// The same answer for a store that does not exist and one that is not
/// the credential's: nothing leaks.
fn not_this_store() -> Response {
    HttpError::not_found("no such store for this credential").into_response()
}

/// Runs an audit_trail action as the principal the guard resolved (stage 1)
/// for this request.
async fn call(
    s: &HttpState,
    headers: &HeaderMap,
    principal: Principal,
    name: &str,
    args: Map<String, Value>,
) -> Response {
    let req = CallRequest {
        name: name.into(),
        arguments: Some(args),
    };
    let outcome = match s
        .pipeline
        .call_as(principal, &ToolFilter::default(), req, CancellationToken::new())
        .await
    {
        Ok(o) => o,
        Err(CallError::UnknownTool(_)) => return HttpError::internal().into_response(),
        Err(CallError::Unauthenticated(e)) => {
            return HttpError::new(StatusCode::UNAUTHORIZED, "invalid_token", e.to_string()).into_response();
        }
    };
    match outcome.result {
        Ok(v) => (StatusCode::OK, axum::Json(v)).into_response(),
        Err(e) => {
            let mut err = match &e {
                ToolError::InvalidInput { .. } => HttpError::bad_request(e.to_string()),
                ToolError::NotFound(_) => HttpError::not_found(e.to_string()),
                ToolError::InsufficientScope { needed, .. } => {
                    let mut h = HttpError::new(StatusCode::FORBIDDEN, "insufficient_scope", e.to_string());
                    h.www_authenticate = Some(format!(
                        "Bearer error=\"insufficient_scope\", scope=\"{needed}\", resource_metadata=\"{}\"",
                        s.resource_metadata_url(headers)
                    ));
                    h
                }
                ToolError::Timeout(_) => {
                    HttpError::new(StatusCode::GATEWAY_TIMEOUT, "timeout", e.to_string())
                }
                ToolError::Conflict(_) => HttpError::new(StatusCode::CONFLICT, "conflict", e.to_string()),
                ToolError::Busy => HttpError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", e.to_string()),
                ToolError::Cancelled | ToolError::Internal(_) => HttpError::internal(),
            };
            err.description = format!("{} (execution {})", err.description, outcome.exec_id);
            err.into_response()
        }
    }
}

pub async fn health(State(s): State<Arc<HttpState>>) -> Response {
    let db = s.db.clone();
    let db_ok = tokio::task::spawn_blocking(move || {
        db.conn()
            .ok()
            .and_then(|c| {
                c.query_row("SELECT count(*) FROM stores", [], |r| r.get::<_, i64>(0))
                    .ok()
            })
            .is_some()
    })
    .await
    .unwrap_or(false);
    // API keys and embedded OAuth tokens are checked against the database;
    // external tokens also need the introspection endpoint to answer.
    let external = s.pipeline.external();
    let introspection_ok = external.is_none_or(|e| e.healthy());
    let auth_ok = db_ok && introspection_ok;
    let status = if auth_ok { "ok" } else { "degraded" };
    let oauth = match (external, &s.external_issuer) {
        (Some(_), Some(issuer)) => json!({"mode": "external", "issuer": issuer,
            "introspection": if introspection_ok { "ok" } else { "failing" }}),
        _ => json!({"mode": "embedded"}),
    };
    let body = json!({
        "status": status,
        "version": env!("CARGO_PKG_VERSION"),
        "checks": {
            "database": if db_ok { "ok" } else { "unavailable" },
            "auth": if auth_ok { "ok" } else { "unavailable" },
        },
        "auth_methods": ["api_key", "oauth"],
        "oauth": oauth,
        "sessions": {"streamable_http": s.streamable_sessions(), "legacy_sse": s.legacy.len()},
    });
    let code = if auth_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(body)).into_response()
}

/// The scopes this server enforces: each tool resource, bare and split.
pub fn supported_scopes(registry: &crate::tools::Registry) -> Vec<String> {
    let mut scopes: Vec<String> = registry
        .tools()
        .iter()
        .flat_map(|t| {
            [
                t.resource.to_string(),
                format!("{}:read", t.resource),
                format!("{}:write", t.resource),
            ]
        })
        .collect();
    scopes.sort();
    scopes.dedup();
    scopes
}

/// RFC 9728 metadata for the MCP endpoint (`…/oauth-protected-resource/mcp`):
/// the resource, its authorization server, how to present a token, and the
/// scopes this server actually enforces.
pub async fn protected_resource(State(s): State<Arc<HttpState>>, headers: HeaderMap) -> Response {
    let base = s.base_url(&headers);
    resource_metadata(&s, format!("{base}/mcp"), &base)
}

/// The same for the server as a whole (`/.well-known/oauth-protected-resource`):
/// RFC 9728 §3.3 has the `resource` equal the identifier the well-known URL
/// was built from — here the origin, which the authorization server accepts
/// as an audience too.
pub async fn protected_resource_root(State(s): State<Arc<HttpState>>, headers: HeaderMap) -> Response {
    let base = s.base_url(&headers);
    resource_metadata(&s, base.clone(), &base)
}

fn resource_metadata(s: &HttpState, resource: String, base: &str) -> Response {
    let issuer = s.external_issuer.clone().unwrap_or_else(|| base.to_owned());
    axum::Json(json!({
        "resource": resource,
        "authorization_servers": [issuer],
        "scopes_supported": supported_scopes(s.pipeline.registry()),
        "bearer_methods_supported": ["header"],
        "resource_name": "whale",
        "resource_documentation": format!("{base}/openapi.json"),
    }))
    .into_response()
}

pub async fn openapi(State(s): State<Arc<HttpState>>, headers: HeaderMap) -> Response {
    let executions = Value::Object(crate::tools::schema_for::<
        crate::tools::platform::audit_trail::Executions,
    >());
    let execution = Value::Object(crate::tools::schema_for::<crate::store::audit::Execution>());
    let error = json!({
        "type": "object",
        "required": ["error", "error_description"],
        "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}}
    });
    let q = |name: &str, ty: &str, desc: &str| json!({"name": name, "in": "query", "required": false, "schema": {"type": ty}, "description": desc});
    let store = json!({"name": "storeId", "in": "path", "required": true, "schema": {"type": "string"},
                       "description": "The credential's store; any other id answers 404."});
    let errors = json!({
        "400": {"description": "Invalid parameter", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
        "401": {"description": "Missing or invalid credential", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
        "403": {"description": "Insufficient scope (platform:read)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
        "404": {"description": "Not found", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
        "429": {"description": "Rate limited (see Retry-After)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    });
    let with_ok = |ok: Value| {
        let mut r = errors.clone();
        r["200"] = ok;
        r
    };
    let base = s.base_url(&headers);
    let issuer = s.external_issuer.clone().unwrap_or_else(|| base.clone());
    let scope_words: serde_json::Map<String, Value> = supported_scopes(s.pipeline.registry())
        .into_iter()
        .map(|sc| {
            let words = crate::oauth::pages::describe_scope(&sc);
            (sc, Value::String(words))
        })
        .collect();
    axum::Json(json!({
        "openapi": "3.1.0",
        "info": {"title": "whale REST API", "version": env!("CARGO_PKG_VERSION"),
                 "description": "The audit trail of a whale store. Authenticate with `Authorization: Bearer <token>`: an API key or an OAuth 2.1 access token (see /.well-known/oauth-protected-resource)."},
        "servers": [{"url": base}],
        "security": [{"bearer": []}, {"oauth2": ["platform:read"]}],
        "paths": {
            "/v1/stores/{storeId}/tool-executions": {"get": {
                "operationId": "listToolExecutions",
                "summary": "Executions of the store, newest first",
                "parameters": [store,
                    q("tool", "string", "Only this tool (`orders`), or one action (`orders.create_order` or `orders_create_order`); a name that is neither, with no executions, is refused (400)"),
                    q("agent", "string", "Only this agent (name or id)"),
                    q("status", "string", "success | error | timeout | pending_approval | rejected"),
                    q("from", "string", "Earliest time: RFC 3339, YYYY-MM-DD or YYYY-MM-DDTHH:MM (store time), or an age like 24h"),
                    q("to", "string", "Latest time (same forms)"),
                    q("limit", "integer", "Page size 1–100 (default 20)"),
                    q("offset", "integer", "Rows to skip (default 0)"),
                    q("before", "string", "Only executions listed after this one (an `exec_…` id, e.g. the last of the previous page): stable pages while new calls arrive")],
                "responses": with_ok(json!({"description": "A page of executions",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Executions"}}}}))
            }},
            "/v1/stores/{storeId}/tool-executions/{execId}": {"get": {
                "operationId": "getToolExecution",
                "summary": "One execution with its redacted input and output",
                "parameters": [store, {"name": "execId", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": with_ok(json!({"description": "The execution",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Execution"}}}}))
            }},
            "/health": {"get": {"operationId": "health", "security": [],
                "summary": "Database and auth status",
                "responses": {"200": {"description": "Healthy"}, "503": {"description": "Degraded"}}}}
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "An API key (wt_live_… / wt_test_…)"},
                "oauth2": {"type": "oauth2", "description": "Tokens of the authorization server named in the RFC 9728 metadata",
                    "flows": {
                        "authorizationCode": {"authorizationUrl": format!("{issuer}/authorize"), "tokenUrl": format!("{issuer}/token"),
                            "refreshUrl": format!("{issuer}/token"), "scopes": scope_words.clone()},
                        "clientCredentials": {"tokenUrl": format!("{issuer}/token"), "scopes": scope_words}
                    }}
            },
            "schemas": {"Executions": executions, "Execution": execution, "Error": error}
        }
    }))
    .into_response()
}
