//! stdio transport: newline-delimited JSON-RPC on stdin/stdout.
//!
//! rmcp's own stdio transport goes through tokio's `stdin()`/`stdout()`,
//! which hand every read and write to a blocking thread pool — about 100 µs
//! per call measured here. This transport does blocking I/O on two dedicated
//! threads and feeds the same rmcp service through channels: a reader that
//! parses lines (answering unparseable ones itself with -32700/-32600), and a
//! writer that batches whatever replies are ready into one flush.
//!
//! Only JSON-RPC is written to stdout; logs go to stderr.

use std::io::{BufRead, BufWriter, Write};
use std::sync::mpsc as std_mpsc;
use std::thread::JoinHandle;

use rmcp::RoleServer;
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// Lines longer than this are refused (protects memory from a runaway peer).
const MAX_LINE: usize = 16 * 1024 * 1024;

enum Out {
    Msg(Box<TxJsonRpcMessage<RoleServer>>),
    Raw(Value),
}

pub struct StdioTransport {
    rx: mpsc::Receiver<RxJsonRpcMessage<RoleServer>>,
    tx: std_mpsc::Sender<Out>,
}

/// The transport, and the writer thread to join after the service ends so
/// every reply reaches stdout before the process exits.
pub fn transport() -> (StdioTransport, JoinHandle<()>) {
    let (out_tx, out_rx) = std_mpsc::channel::<Out>();
    let (in_tx, in_rx) = mpsc::channel(256);
    let writer = std::thread::Builder::new()
        .name("whale-stdout".into())
        .spawn(move || write_loop(out_rx))
        .expect("spawn stdout thread");
    let errors = out_tx.clone();
    std::thread::Builder::new()
        .name("whale-stdin".into())
        .spawn(move || read_loop(in_tx, errors))
        .expect("spawn stdin thread");
    (
        StdioTransport {
            rx: in_rx,
            tx: out_tx,
        },
        writer,
    )
}

fn read_loop(tx: mpsc::Sender<RxJsonRpcMessage<RoleServer>>, errors: std_mpsc::Sender<Out>) {
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut line: Vec<u8> = Vec::new();
    loop {
        line.clear();
        // At most MAX_LINE bytes plus the newline; a longer line is refused
        // and the rest of it skipped, up to and including its newline.
        match std::io::Read::take(&mut input, MAX_LINE as u64 + 1).read_until(b'\n', &mut line) {
            Ok(0) => return, // EOF: the host closed our stdin
            Ok(_) => {}
            Err(e) => {
                tracing::error!(error = %e, "reading stdin failed");
                return;
            }
        }
        let complete = line.last() == Some(&b'\n');
        if !complete && line.len() > MAX_LINE {
            let _ = errors.send(Out::Raw(error_reply(Value::Null, -32600, "message too large")));
            let mut rest = Vec::new();
            match input.read_until(b'\n', &mut rest) {
                Ok(_) => continue,
                Err(_) => return,
            }
        }
        let text = line.trim_ascii();
        if text.is_empty() {
            continue;
        }
        match serde_json::from_slice::<RxJsonRpcMessage<RoleServer>>(text) {
            Ok(msg) => {
                if tx.blocking_send(msg).is_err() {
                    return; // the service ended
                }
            }
            Err(e) => {
                let reply = match serde_json::from_slice::<Value>(text) {
                    Err(_) => error_reply(Value::Null, -32700, &format!("parse error: {e}")),
                    Ok(v) => match v.get("id") {
                        // A malformed notification gets no answer.
                        None => continue,
                        Some(id) => error_reply(id.clone(), -32600, &format!("invalid request: {e}")),
                    },
                };
                tracing::warn!(error = %e, "unreadable JSON-RPC message");
                let _ = errors.send(Out::Raw(reply));
            }
        }
    }
}

fn error_reply(id: Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

fn write_loop(rx: std_mpsc::Receiver<Out>) {
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(64 * 1024, stdout.lock());
    let write = |out: &mut BufWriter<std::io::StdoutLock<'_>>, item: Out| -> std::io::Result<()> {
        match item {
            Out::Msg(m) => serde_json::to_writer(&mut *out, &m)?,
            Out::Raw(v) => serde_json::to_writer(&mut *out, &v)?,
        }
        out.write_all(b"\n")
    };
    while let Ok(first) = rx.recv() {
        let mut result = write(&mut out, first);
        // Batch every reply that is already waiting into one flush.
        while result.is_ok() {
            match rx.try_recv() {
                Ok(next) => result = write(&mut out, next),
                Err(_) => break,
            }
        }
        if result.and_then(|_| out.flush()).is_err() {
            return; // stdout closed: nobody is listening
        }
    }
}

impl Transport<RoleServer> for StdioTransport {
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleServer>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let r = self
            .tx
            .send(Out::Msg(Box::new(item)))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "stdout writer stopped"));
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
