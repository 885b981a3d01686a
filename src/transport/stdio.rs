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
use std::thread::JoinHandle;

use rmcp::RoleServer;
use rmcp::service::RxJsonRpcMessage;
use serde_json::Value;
use tokio::sync::mpsc;

use super::channel::{ChannelTransport, Out, error_reply, pair};

/// Lines longer than this are refused (protects memory from a runaway peer).
const MAX_LINE: usize = 16 * 1024 * 1024;

/// The stdout writer thread; [`Writer::finish`] after the service ended
/// waits until every reply has reached stdout.
pub struct Writer {
    thread: JoinHandle<()>,
    closer: mpsc::UnboundedSender<Out>,
}

impl Writer {
    pub fn finish(self) {
        let _ = self.closer.send(Out::Close);
        let _ = self.thread.join();
    }
}

pub fn transport() -> (ChannelTransport, Writer) {
    let (transport, ends) = pair(256);
    let thread = std::thread::Builder::new()
        .name("whale-stdout".into())
        .spawn(move || write_loop(ends.outgoing))
        .expect("spawn stdout thread");
    let closer = ends.errors.clone();
    let (incoming, errors) = (ends.incoming, ends.errors);
    // The reader blocks on stdin until EOF; it is never joined.
    std::thread::Builder::new()
        .name("whale-stdin".into())
        .spawn(move || read_loop(incoming, errors))
        .expect("spawn stdin thread");
    (transport, Writer { thread, closer })
}

fn read_loop(tx: mpsc::Sender<RxJsonRpcMessage<RoleServer>>, errors: mpsc::UnboundedSender<Out>) {
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
            let _ = errors.send(error_reply(Value::Null, -32600, "message too large"));
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
                let _ = errors.send(reply);
            }
        }
    }
}

fn write_loop(mut rx: mpsc::UnboundedReceiver<Out>) {
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(64 * 1024, stdout.lock());
    // Ok(true) once the door said the service has ended.
    let write = |out: &mut BufWriter<std::io::StdoutLock<'_>>, item: Out| -> std::io::Result<bool> {
        if let Out::Close = item {
            return Ok(true);
        }
        serde_json::to_writer(&mut *out, &item)?;
        out.write_all(b"\n")?;
        Ok(false)
    };
    while let Some(first) = rx.blocking_recv() {
        let mut result = write(&mut out, first);
        // Batch every reply that is already waiting into one flush.
        while let Ok(false) = result {
            match rx.try_recv() {
                Ok(next) => result = write(&mut out, next),
                Err(_) => break,
            }
        }
        let closing = matches!(result, Ok(true));
        if result.and_then(|_| out.flush()).is_err() || closing {
            return; // finished, or stdout closed: nobody is listening
        }
    }
}
