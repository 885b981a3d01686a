//! stdio transport: newline-delimited JSON-RPC on stdin/stdout.
//!
//! rmcp's own stdio transport goes through tokio's `stdin()`/`stdout()`,
//! which hand every read and write to a blocking thread pool — about 100 µs
//! per call measured here. This transport feeds the same rmcp service
//! through channels ([`super::channel`]) and does the I/O itself:
//!
//! - when stdin and stdout are pipes or sockets (how every MCP host starts
//!   a server), on the runtime's own thread: both are switched to
//!   non-blocking mode (restored when the session ends) and driven by the
//!   runtime's epoll, so a request wakes one thread, which reads, parses,
//!   runs the call and writes the reply with no hand-off in between, and
//!   starting a session spawns no thread;
//! - otherwise (a terminal, a file, another OS) on two dedicated threads
//!   doing blocking I/O.
//!
//! Either way the reader answers unparseable lines itself (-32700/-32600)
//! and the writer batches whatever replies are ready into one write. Only
//! JSON-RPC is written to stdout; logs go to stderr.

use std::io::{BufRead, Write};

use rmcp::RoleServer;
use rmcp::service::RxJsonRpcMessage;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::channel::{ChannelTransport, Out, error_reply, malformed_params, pair, unreadable};

/// Lines longer than this are refused (protects memory from a runaway peer).
const MAX_LINE: usize = 16 * 1024 * 1024;

/// The stdout writer; [`Writer::finish`] after the service ended waits
/// until every reply has reached stdout.
pub struct Writer {
    closer: mpsc::UnboundedSender<Out>,
    done: Done,
    stop: CancellationToken,
}

enum Done {
    Thread(std::thread::JoinHandle<()>),
    #[cfg(unix)]
    Task(tokio::task::JoinHandle<()>),
}

impl Writer {
    /// Ends the session's input as if stdin had closed: the service reads
    /// no further request and finishes those it has (a signal asks for
    /// this). The writer does the same by itself when stdout is gone.
    pub fn stop_reading(&self) {
        self.stop.cancel();
    }

    pub async fn finish(self) {
        let _ = self.closer.send(Out::Close);
        match self.done {
            // The session is over: blocking the runtime here is harmless.
            Done::Thread(t) => {
                let _ = t.join();
            }
            #[cfg(unix)]
            Done::Task(t) => {
                let _ = t.await;
            }
        }
    }
}

/// Starts the transport on this process's stdin/stdout. Must be called
/// inside a tokio runtime with I/O enabled.
pub fn transport() -> (ChannelTransport, Writer) {
    let (transport, ends) = pair(256);
    let stop = CancellationToken::new();
    let transport = transport.stop_on(stop.clone());
    let closer = ends.errors.clone();
    #[cfg(unix)]
    if let Some((input, output)) = pipes::open() {
        let done = tokio::spawn(pipes::write_loop(output, ends.outgoing, stop.clone()));
        tokio::spawn(pipes::read_loop(input, ends.incoming, ends.errors));
        return (
            transport,
            Writer {
                closer,
                done: Done::Task(done),
                stop,
            },
        );
    }
    let gone = stop.clone();
    let thread = std::thread::Builder::new()
        .name("whale-stdout".into())
        .spawn(move || write_loop(ends.outgoing, gone))
        .expect("spawn stdout thread");
    let (incoming, errors) = (ends.incoming, ends.errors);
    // The reader blocks on stdin until EOF; it is never joined.
    std::thread::Builder::new()
        .name("whale-stdin".into())
        .spawn(move || read_loop(incoming, errors))
        .expect("spawn stdin thread");
    (
        transport,
        Writer {
            closer,
            done: Done::Thread(thread),
            stop,
        },
    )
}

/// stdout failed: the host stopped reading (or closed the pipe). Nothing
/// more can be answered, so nothing more is run: the session's input ends.
fn stdout_gone(e: &std::io::Error, stop: &CancellationToken) {
    tracing::warn!(error = %e, "stdout is closed (the host stopped reading); ending the session");
    stop.cancel();
}

/// What one input line is for the service.
enum Line {
    Msg(Box<RxJsonRpcMessage<RoleServer>>),
    /// The door answers it itself (parse error, invalid request).
    Reply(Out),
    /// Blank, or a malformed notification (which gets no answer).
    Skip,
}

fn parse_line(line: &[u8]) -> Line {
    let text = line.trim_ascii();
    if text.is_empty() {
        return Line::Skip;
    }
    match serde_json::from_slice::<RxJsonRpcMessage<RoleServer>>(text) {
        Ok(msg) => match malformed_params(&msg) {
            Some(reply) => Line::Reply(reply),
            None => Line::Msg(Box::new(msg)),
        },
        Err(e) => {
            tracing::warn!(error = %e, "unreadable JSON-RPC message");
            let u = unreadable(text, &e);
            match u.id {
                // A notification that makes no sense gets no answer.
                None if u.code == -32600 && text.starts_with(b"{") => Line::Skip,
                id => Line::Reply(error_reply(id.unwrap_or(Value::Null), u.code, &u.message)),
            }
        }
    }
}

/// Before the session starts — an `initialize`, or a first request of the
/// stateless revision carrying its `_meta` — only a few messages mean
/// anything. A notification or response sent first (`notifications/
/// initialized` too early, a stray cancellation) is dropped instead of
/// reaching the handshake, which would end the session over it; any other
/// request is told how to start (rmcp would ask it for the stateless
/// revision's `_meta` fields, a puzzling answer to a client that forgot
/// `initialize`).
#[derive(Default)]
struct Gate {
    open: bool,
}

enum Admit {
    Pass,
    Drop,
    Refuse(Out),
}

impl Gate {
    fn admit(&mut self, msg: &RxJsonRpcMessage<RoleServer>) -> Admit {
        use rmcp::model::{ClientRequest, GetMeta, JsonRpcMessage, ProtocolVersion};
        if self.open {
            return Admit::Pass;
        }
        let JsonRpcMessage::Request(r) = msg else {
            tracing::debug!("a notification or response before the session started; dropped");
            return Admit::Drop;
        };
        match &r.request {
            ClientRequest::PingRequest(_) | ClientRequest::DiscoverRequest(_) => Admit::Pass,
            ClientRequest::InitializeRequest(_) => {
                self.open = true;
                Admit::Pass
            }
            other
                if other
                    .get_meta()
                    .missing_required_keys(&ProtocolVersion::V_2026_07_28)
                    .is_empty() =>
            {
                self.open = true;
                Admit::Pass
            }
            _ => Admit::Refuse(error_reply(
                serde_json::to_value(&r.id).unwrap_or(Value::Null),
                -32600,
                "invalid request: the session has not started; send initialize first \
                 (or, for the stateless 2026-07-28 revision, server/discover and each request's _meta)",
            )),
        }
    }
}

fn too_large() -> Out {
    error_reply(Value::Null, -32600, "message too large")
}

/// Appends one outgoing message and its newline; `true` once the door said
/// the service has ended.
fn encode(buf: &mut Vec<u8>, item: Out) -> std::io::Result<bool> {
    if let Out::Close = item {
        return Ok(true);
    }
    serde_json::to_writer(&mut *buf, &item)?;
    buf.push(b'\n');
    Ok(false)
}

/// `buf` := `first` and every message already waiting behind it (one write
/// for all of them); `true` once the door said the service has ended.
fn encode_ready(
    buf: &mut Vec<u8>,
    first: Out,
    rx: &mut mpsc::UnboundedReceiver<Out>,
) -> std::io::Result<bool> {
    buf.clear();
    let mut result = encode(buf, first);
    while let Ok(false) = result {
        match rx.try_recv() {
            Ok(next) => result = encode(buf, next),
            Err(_) => break,
        }
    }
    result
}

fn read_loop(tx: mpsc::Sender<RxJsonRpcMessage<RoleServer>>, errors: mpsc::UnboundedSender<Out>) {
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut line: Vec<u8> = Vec::new();
    let mut gate = Gate::default();
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
            let _ = errors.send(too_large());
            let mut rest = Vec::new();
            match input.read_until(b'\n', &mut rest) {
                Ok(_) => continue,
                Err(_) => return,
            }
        }
        if let Some(msg) = for_service(&line, &mut gate, &errors)
            && tx.blocking_send(msg).is_err()
        {
            return; // the service ended
        }
    }
}

/// What of one input line goes to the service: the message, unless the
/// door answers it itself (sent on `errors`) or drops it.
fn for_service(
    line: &[u8],
    gate: &mut Gate,
    errors: &mpsc::UnboundedSender<Out>,
) -> Option<RxJsonRpcMessage<RoleServer>> {
    let reply = match parse_line(line) {
        Line::Msg(msg) => match gate.admit(&msg) {
            Admit::Pass => return Some(*msg),
            Admit::Drop => return None,
            Admit::Refuse(r) => r,
        },
        Line::Reply(r) => r,
        Line::Skip => return None,
    };
    let _ = errors.send(reply);
    None
}

fn write_loop(mut rx: mpsc::UnboundedReceiver<Out>, stop: CancellationToken) {
    // `buf` is the batch, assembled whole: it goes to stdout in one write
    // (no second buffer in between).
    let mut out = std::io::stdout().lock();
    let mut buf = Vec::with_capacity(16 * 1024);
    while let Some(first) = rx.blocking_recv() {
        let result = encode_ready(&mut buf, first, &mut rx);
        let closing = matches!(result, Ok(true));
        let written = result.and_then(|_| out.write_all(&buf)).and_then(|_| out.flush());
        if let Err(e) = &written {
            stdout_gone(e, &stop);
        }
        if written.is_err() || closing {
            return; // finished, or stdout closed: nobody is listening
        }
    }
}

/// stdin/stdout as non-blocking pipes on the runtime's epoll.
#[cfg(unix)]
mod pipes {
    use std::io::{Read, Write};
    use std::os::fd::{AsFd, BorrowedFd};

    use rmcp::RoleServer;
    use rmcp::service::RxJsonRpcMessage;
    use rustix::fs::OFlags;
    use tokio::io::Interest;
    use tokio::io::unix::AsyncFd;
    use tokio::sync::mpsc;

    use tokio_util::sync::CancellationToken;

    use super::{Gate, MAX_LINE, Out, encode_ready, for_service, stdout_gone, too_large};

    /// A duplicate of fd 0 or 1, switched to non-blocking mode until dropped.
    /// The flag belongs to the open file description the host handed us (a
    /// pipe or socket end no one else reads or writes), so it is put back
    /// as found when the session ends.
    pub struct Pipe {
        file: std::fs::File,
        saved: OFlags,
    }

    impl Pipe {
        fn new(fd: BorrowedFd<'_>) -> Option<Pipe> {
            use std::os::unix::fs::FileTypeExt;
            let file = std::fs::File::from(fd.try_clone_to_owned().ok()?);
            let kind = file.metadata().ok()?.file_type();
            // Terminals and files keep blocking I/O (a terminal's flags are
            // shared with the shell; epoll refuses regular files).
            if !(kind.is_fifo() || kind.is_socket()) {
                return None;
            }
            let saved = rustix::fs::fcntl_getfl(&file).ok()?;
            rustix::fs::fcntl_setfl(&file, saved | OFlags::NONBLOCK).ok()?;
            Some(Pipe { file, saved })
        }
    }

    impl Drop for Pipe {
        fn drop(&mut self) {
            let _ = rustix::fs::fcntl_setfl(&self.file, self.saved);
        }
    }

    impl std::os::fd::AsRawFd for Pipe {
        fn as_raw_fd(&self) -> std::os::fd::RawFd {
            self.file.as_fd().as_raw_fd()
        }
    }

    /// Both ends, or `None` (nothing changed) when either cannot be driven
    /// by epoll, or when stderr is the same pipe as one of them (as after
    /// `2>&1`): the non-blocking flag would then reach the log writes too.
    pub fn open() -> Option<(AsyncFd<Pipe>, AsyncFd<Pipe>)> {
        let id = |fd: BorrowedFd<'_>| rustix::fs::fstat(fd).ok().map(|st| (st.st_dev, st.st_ino));
        let err = id(std::io::stderr().as_fd());
        if err.is_some() && (err == id(std::io::stdin().as_fd()) || err == id(std::io::stdout().as_fd())) {
            return None;
        }
        let input = register(Pipe::new(std::io::stdin().as_fd())?, Interest::READABLE)?;
        let output = register(Pipe::new(std::io::stdout().as_fd())?, Interest::WRITABLE)?;
        Some((input, output))
    }

    #[allow(unsafe_code)]
    fn register(pipe: Pipe, interest: Interest) -> Option<AsyncFd<Pipe>> {
        // SAFETY: the descriptor is the `OwnedFd` inside `pipe.file`, which
        // the `AsyncFd` owns and never replaces: it stays open and refers
        // to the same file description until the `AsyncFd` is dropped.
        unsafe { AsyncFd::register_with_interest(pipe, interest) }.ok()
    }

    pub async fn read_loop(
        input: AsyncFd<Pipe>,
        tx: mpsc::Sender<RxJsonRpcMessage<RoleServer>>,
        errors: mpsc::UnboundedSender<Out>,
    ) {
        let mut chunk = vec![0u8; 64 * 1024];
        let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
        // Bytes of `buf` already searched for a newline.
        let mut scanned = 0;
        // Inside a line that was refused as too large: drop up to its newline.
        let mut skipping = false;
        let mut gate = Gate::default();
        loop {
            // Every complete line in the buffer, in order.
            let mut start = 0;
            while let Some(at) = buf[scanned..].iter().position(|&b| b == b'\n') {
                let end = scanned + at;
                if skipping {
                    skipping = false;
                } else if !deliver(&buf[start..end], &mut gate, &tx, &errors).await {
                    return; // the service ended
                }
                start = end + 1;
                scanned = start;
            }
            // What is left is one partial line, searched to its end.
            buf.drain(..start);
            scanned = buf.len();
            if buf.len() > MAX_LINE {
                if !skipping {
                    let _ = errors.send(too_large());
                }
                skipping = true;
                buf.clear();
                scanned = 0;
            }
            let mut guard = match input.readable().await {
                Ok(g) => g,
                Err(e) => {
                    tracing::error!(error = %e, "waiting for stdin failed");
                    return;
                }
            };
            match guard.try_io(|p| (&p.get_ref().file).read(&mut chunk[..])) {
                Ok(Ok(0)) => {
                    // EOF: the host closed our stdin. A last message without
                    // its newline is still a message (as when stdin is a file).
                    if !skipping {
                        deliver(&buf, &mut gate, &tx, &errors).await;
                    }
                    return;
                }
                Ok(Ok(n)) => {
                    buf.extend_from_slice(&chunk[..n]);
                    // A short read drained the pipe: sleep until epoll says
                    // there is more, instead of a read that says "not yet".
                    if n < chunk.len() {
                        guard.clear_ready();
                    }
                }
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "reading stdin failed");
                    return;
                }
                Err(_would_block) => {}
            }
        }
    }

    /// Hands one line to the service (or answers it); `false` once the
    /// service has ended.
    async fn deliver(
        line: &[u8],
        gate: &mut Gate,
        tx: &mpsc::Sender<RxJsonRpcMessage<RoleServer>>,
        errors: &mpsc::UnboundedSender<Out>,
    ) -> bool {
        match for_service(line, gate, errors) {
            Some(msg) => tx.send(msg).await.is_ok(),
            None => true,
        }
    }

    pub async fn write_loop(
        output: AsyncFd<Pipe>,
        mut rx: mpsc::UnboundedReceiver<Out>,
        stop: CancellationToken,
    ) {
        let mut buf = Vec::with_capacity(16 * 1024);
        while let Some(first) = rx.recv().await {
            let result = encode_ready(&mut buf, first, &mut rx);
            let closing = matches!(result, Ok(true));
            if result.is_err() || closing {
                return;
            }
            if let Err(e) = write_all(&output, &buf).await {
                stdout_gone(&e, &stop);
                return; // nobody is listening
            }
        }
    }

    async fn write_all(output: &AsyncFd<Pipe>, mut data: &[u8]) -> std::io::Result<()> {
        while !data.is_empty() {
            let mut guard = output.writable().await?;
            match guard.try_io(|p| (&p.get_ref().file).write(data)) {
                Ok(Ok(0)) => return Err(std::io::ErrorKind::WriteZero.into()),
                Ok(Ok(n)) => data = &data[n..],
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => {}
            }
        }
        Ok(())
    }
}
