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
        },
        Ends {
            incoming: in_tx,
            errors: out_tx,
            outgoing: out_rx,
        },
    )
}

/// A JSON-RPC error object the door sends on its own.
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
        self.rx.recv()
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.rx.close();
        Ok(())
    }
}
