//! An rmcp transport over a pair of in-memory channels.
//!
//! The rmcp service reads client messages from one channel and writes its
//! own to the other; whoever owns the other ends does the I/O. The stdio
//! door puts two blocking threads on them (fast, see `stdio.rs`), the legacy
//! HTTP+SSE door an HTTP POST handler and an SSE stream.

use rmcp::RoleServer;
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use serde_json::Value;
use tokio::sync::mpsc;

/// What goes out to the client: a message of the service, or a raw JSON-RPC
/// error the door produced itself (for input it could not parse).
pub enum Out {
    Msg(Box<TxJsonRpcMessage<RoleServer>>),
    Raw(Value),
    /// Sent by the door after the service ended: everything before it has
    /// been written; the writer may stop.
    Close,
}

impl serde::Serialize for Out {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Out::Msg(m) => m.serialize(s),
            Out::Raw(v) => v.serialize(s),
            Out::Close => s.serialize_unit(),
        }
    }
}

pub struct ChannelTransport {
    rx: mpsc::Receiver<RxJsonRpcMessage<RoleServer>>,
    tx: mpsc::UnboundedSender<Out>,
    /// Once cancelled, the service reads no more messages (as at the end
    /// of the input), even those already queued.
    stop: Option<tokio_util::sync::CancellationToken>,
}

impl ChannelTransport {
    /// Ends the input when `stop` is cancelled: the service then finishes
    /// the requests it has (rmcp drains them for a few seconds) and ends.
    pub fn stop_on(mut self, stop: tokio_util::sync::CancellationToken) -> Self {
        self.stop = Some(stop);
        self
    }
}

/// The door's ends of a [`ChannelTransport`].
pub struct Ends {
    /// Client → service.
    pub incoming: mpsc::Sender<RxJsonRpcMessage<RoleServer>>,
    /// Door-made replies (parse errors) → client, beside the service's.
    pub errors: mpsc::UnboundedSender<Out>,
    /// Service → client.
    pub outgoing: mpsc::UnboundedReceiver<Out>,
}

pub fn pair(capacity: usize) -> (ChannelTransport, Ends) {
    let (in_tx, in_rx) = mpsc::channel(capacity);
    let (out_tx, out_rx) = mpsc::unbounded_channel();
    (
        ChannelTransport {
            rx: in_rx,
            tx: out_tx.clone(),
            stop: None,
        },
        Ends {
            incoming: in_tx,
            errors: out_tx,
            outgoing: out_rx,
        },
    )
}

/// A JSON-RPC error object the door sends on its own.
/// What to answer to input that did not parse as one JSON-RPC message
/// (`e` is serde's complaint), the same for every door: -32700 when it is
/// not JSON, -32600 when it is JSON but not a message — a batch included,
/// which MCP no longer has. `id` is the request's when it has one; `None`
/// for a notification-shaped message (a stream may leave it unanswered).
pub struct Unreadable {
    pub id: Option<Value>,
    pub code: i64,
    pub message: String,
}

pub fn unreadable(text: &[u8], e: &serde_json::Error) -> Unreadable {
    match serde_json::from_slice::<Value>(text) {
        Err(_) => Unreadable {
            id: None,
            code: -32700,
            message: format!("parse error: the message is not valid JSON ({e})"),
        },
        Ok(Value::Array(_)) => Unreadable {
            id: None,
            code: -32600,
            message: "invalid request: JSON-RPC batches are not supported; send one message at a time".into(),
        },
        Ok(v) => Unreadable {
            id: v.get("id").cloned(),
            code: -32600,
            message: format!("invalid request: {e}"),
        },
    }
}

/// A request for a method of the protocol whose params do not fit it lands
/// in rmcp's catch-all `CustomRequest` and would be answered "method not
/// found"; the method exists, its params are wrong: the -32602 reply,
/// saying what `tools/call` needs, for the door to send instead. The doors
/// that read messages themselves (stdio, legacy SSE) answer here, before
/// rmcp, so a malformed `initialize` does not end the session; the handler
/// answers the same for Streamable HTTP ([`invalid_params`]).
pub fn malformed_params(msg: &RxJsonRpcMessage<RoleServer>) -> Option<Out> {
    let rmcp::model::JsonRpcMessage::Request(r) = msg else {
        return None;
    };
    let rmcp::model::ClientRequest::CustomRequest(c) = &r.request else {
        return None;
    };
    let message = invalid_params(c)?;
    let id = serde_json::to_value(&r.id).unwrap_or(Value::Null);
    Some(error_reply(id, -32602, &message))
}

/// What is wrong with a request rmcp could not type: the -32602 message
/// when its method is one of the protocol's (so its params are what did not
/// fit), None for a method MCP does not have.
pub fn invalid_params(c: &rmcp::model::CustomRequest) -> Option<String> {
    if !PROTOCOL_METHODS.contains(&c.method.as_str()) {
        return None;
    }
    Some(match c.method.as_str() {
        "tools/call" => tools_call_params(c.params_as::<rmcp::model::CallToolRequestParams>().err().as_ref()),
        m => format!("invalid params for {m}"),
    })
}

/// The -32602 message for `tools/call` params that did not decode (`e`,
/// serde's complaint, when there were params to decode).
pub fn tools_call_params(e: Option<&serde_json::Error>) -> String {
    let needs = "it needs {\"name\": string, \"arguments\": object}";
    match e {
        Some(e) => format!("invalid params for tools/call ({e}): {needs}"),
        None => format!("invalid params for tools/call: {needs}"),
    }
}

/// Client request methods of MCP that rmcp parses into typed requests.
const PROTOCOL_METHODS: &[&str] = &[
    "initialize",
    "ping",
    "tools/call",
    "tools/list",
    "prompts/get",
    "prompts/list",
    "resources/list",
    "resources/read",
    "resources/templates/list",
    "resources/subscribe",
    "resources/unsubscribe",
    "completion/complete",
    "logging/setLevel",
];

pub fn error_reply(id: Value, code: i64, message: &str) -> Out {
    Out::Raw(serde_json::json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}))
}

impl Transport<RoleServer> for ChannelTransport {
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleServer>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let r = self
            .tx
            .send(Out::Msg(Box::new(item)))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client is gone"));
        std::future::ready(r)
    }

    fn receive(&mut self) -> impl Future<Output = Option<RxJsonRpcMessage<RoleServer>>> + Send {
        let stop = self.stop.clone();
        let rx = &mut self.rx;
        async move {
            match stop {
                None => rx.recv().await,
                Some(stop) => tokio::select! {
                    biased;
                    _ = stop.cancelled() => None,
                    m = rx.recv() => m,
                },
            }
        }
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.rx.close();
        Ok(())
    }
}
