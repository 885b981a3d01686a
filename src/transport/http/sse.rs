//! The legacy HTTP+SSE transport (MCP 2024-11-05), which rmcp no longer
//! ships: `GET /sse` opens a session whose first event is `endpoint` with the
//! URL to POST to; `POST /messages?sessionId=…` answers 202 and the reply
//! travels as an `event: message` on that stream. Each session is the same
//! rmcp handler fed through an in-memory channel pair. The session belongs
//! to the credential that opened it: every POST is authenticated again (by
//! the guard) and must be the same key. Closing the stream ends the session.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Extension;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use rmcp::RoleServer;
use rmcp::ServiceExt;
use rmcp::service::RxJsonRpcMessage;
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::HttpState;
use super::error::HttpError;
use super::guard::fingerprint;
use crate::auth::Principal;
use crate::transport::channel;
use crate::transport::mcp::WhaleServer;

pub struct LegacySession {
    incoming: mpsc::Sender<RxJsonRpcMessage<RoleServer>>,
    /// Replies the door makes itself, onto the session's stream.
    errors: mpsc::UnboundedSender<channel::Out>,
    owner: String,
    /// Whether `initialize` has been passed on.
    initialized: Arc<AtomicBool>,
}

#[derive(Default)]
pub struct LegacySessions(Mutex<HashMap<String, LegacySession>>);

impl LegacySessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, LegacySession>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
    pub fn len(&self) -> usize {
        self.lock().len()
    }
}

/// Removes the session and stops its service when the stream is dropped
/// (client gone, or server shutting down).
struct SessionGuard {
    id: String,
    state: Arc<HttpState>,
    ct: CancellationToken,
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.state.legacy.lock().remove(&self.id);
        self.ct.cancel();
        tracing::debug!(session = %self.id, "legacy SSE session closed");
    }
}

pub async fn open(State(s): State<Arc<HttpState>>, Extension(principal): Extension<Principal>) -> Response {
    let id = crate::store::new_id("sse");
    let (transport, ends) = channel::pair(64);
    let ct = s.sessions_ct.child_token();
    // No fixed credential: each POST /messages brings its own, checked by
    // the guard and carried to the handler with the message (as rmcp's
    // Streamable HTTP service does), so a refreshed token keeps working.
    let server = WhaleServer::new(
        s.pipeline.clone(),
        None,
        s.filter.clone(),
        s.tool_mode,
        s.page_size,
    );
    let service_ct = ct.clone();
    tokio::spawn(async move {
        // initialize arrives on a later POST; serving waits for it.
        match server.serve_with_ct(transport, service_ct).await {
            Ok(running) => {
                let _ = running.waiting().await;
            }
            Err(e) => tracing::debug!(error = %e, "legacy SSE session ended before initialize"),
        }
    });
    s.legacy.lock().insert(
        id.clone(),
        LegacySession {
            incoming: ends.incoming,
            errors: ends.errors,
            owner: fingerprint(&principal),
            initialized: Arc::default(),
        },
    );
    let guard = SessionGuard {
        id: id.clone(),
        state: s.clone(),
        ct: ct.clone(),
    };
    let endpoint = Event::default()
        .event("endpoint")
        .data(format!("/messages?sessionId={id}"));
    let first = futures::stream::once(async move { Ok::<_, Infallible>(endpoint) });
    let messages = futures::stream::unfold((ends.outgoing, guard), |(mut rx, guard)| async move {
        let next = tokio::select! {
            biased; // replies already queued go out before the stream ends
            m = rx.recv() => m,
            _ = guard.ct.cancelled() => None,
        };
        let out = next?;
        let data = serde_json::to_string(&out).unwrap_or_default();
        Some((Ok(Event::default().event("message").data(data)), (rx, guard)))
    });
    use futures::StreamExt;
    Sse::new(first.chain(messages))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

#[derive(Deserialize)]
pub struct SessionQuery {
    #[serde(rename = "sessionId")]
    session_id: Option<String>,
}

pub async fn post(
    State(s): State<Arc<HttpState>>,
    Extension(principal): Extension<Principal>,
    Query(q): Query<SessionQuery>,
    req: axum::extract::Request,
) -> Response {
    let (parts, body) = req.into_parts();
    // The guard has buffered the body (bounded): this does not wait.
    let Ok(body) = axum::body::to_bytes(body, usize::MAX).await else {
        return HttpError::bad_request("the request body could not be read").into_response();
    };
    let Some(id) = q.session_id else {
        return HttpError::bad_request("missing `sessionId`; use the URL of the `endpoint` event")
            .into_response();
    };
    let (incoming, errors, initialized) = {
        let sessions = s.legacy.lock();
        match sessions.get(&id) {
            None => return HttpError::not_found("unknown or closed session").into_response(),
            Some(sess) if sess.owner != fingerprint(&principal) => {
                return HttpError::forbidden("this session belongs to another credential").into_response();
            }
            Some(sess) => (
                sess.incoming.clone(),
                sess.errors.clone(),
                sess.initialized.clone(),
            ),
        }
    };
    // A body that is not one JSON-RPC message: the JSON-RPC error /mcp and
    // stdio give, as the 400's body and, when it names a request's id, on
    // the stream too (where the client waits for that id's answer).
    let mut msg: RxJsonRpcMessage<RoleServer> = match serde_json::from_slice(&body) {
        Ok(m) => m,
        Err(e) => {
            let u = channel::unreadable(&body, &e);
            if let Some(id) = u.id.clone().filter(|id| !id.is_null()) {
                let _ = errors.send(channel::error_reply(id, u.code, &u.message));
            }
            return super::error::jsonrpc_error(u);
        }
    };
    // Accepted like any message; the answer travels on the stream.
    if let Some(reply) = channel::malformed_params(&msg) {
        let _ = errors.send(reply);
        return StatusCode::ACCEPTED.into_response();
    }
    // This transport serves the session-based revisions only: before
    // `initialize`, a request other than ping is told to send it (rmcp
    // would take it for a stateless 2026-07-28 request and ask for that
    // revision's `_meta` fields).
    // A notification or response before it means nothing yet and would end
    // the session in rmcp's handshake: dropped (as stdio drops it).
    if !initialized.load(Ordering::Acquire) && !matches!(msg, rmcp::model::ClientJsonRpcMessage::Request(_)) {
        tracing::debug!("a notification or response before initialize on a legacy session; dropped");
        return StatusCode::ACCEPTED.into_response();
    }
    if let rmcp::model::ClientJsonRpcMessage::Request(r) = &msg
        && !initialized.load(Ordering::Acquire)
    {
        match &r.request {
            rmcp::model::ClientRequest::InitializeRequest(_) => initialized.store(true, Ordering::Release),
            rmcp::model::ClientRequest::PingRequest(_) => {}
            _ => {
                let id = serde_json::to_value(&r.id).unwrap_or(serde_json::Value::Null);
                let _ = errors.send(channel::error_reply(
                    id,
                    -32600,
                    "invalid request: the session is not initialized; send initialize first",
                ));
                return StatusCode::ACCEPTED.into_response();
            }
        }
    }
    use rmcp::model::GetExtensions;
    match &mut msg {
        rmcp::model::ClientJsonRpcMessage::Request(r) => {
            r.request.extensions_mut().insert(parts);
        }
        rmcp::model::ClientJsonRpcMessage::Notification(n) => {
            n.notification.extensions_mut().insert(parts);
        }
        _ => {}
    }
    if incoming.send(msg).await.is_err() {
        return HttpError::not_found("the session has ended").into_response();
    }
    StatusCode::ACCEPTED.into_response()
}
