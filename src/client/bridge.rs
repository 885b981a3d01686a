//! `whale mcp --transport stdio --server URL`: a desktop host speaks
//! newline-delimited JSON-RPC on our stdin/stdout; each message is POSTed to
//! the remote server's Streamable HTTP endpoint (`{server}/mcp`) with the
//! stored login's bearer token (or `WHALETOOLS_API_KEY`), and every message
//! that comes back — a JSON body or the `data:` of each SSE event — is
//! written to stdout as one line.
//!
//! Requests run concurrently (a long tool call does not hold up the next
//! one; replies may come back out of order, which JSON-RPC allows).
//! Notifications and replies to server requests are sent in order, inline,
//! so `notifications/initialized` reaches the server before anything after
//! it. `initialize` is sent inline too: its answer carries the session id
//! and protocol version every later request needs.
//!
//! Stdout carries only JSON-RPC; everything else goes to stderr (tracing).

use std::io::{BufRead, Write};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::StreamExt;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use serde_json::{Value, json};
use tokio::sync::{Mutex, mpsc};

use crate::auth::Secret;
use crate::client::oauth::{self, describe};
use crate::client::session::LoginSession;
use crate::client::store::{self, Paths, Vault};
use crate::client::{STORE_LIMIT, blocking};
use crate::error::CliError;

const SESSION_HEADER: &str = "mcp-session-id";
const VERSION_HEADER: &str = "mcp-protocol-version";
/// Longest line accepted from the host (the server bounds bodies too).
const MAX_LINE: usize = 16 * 1024 * 1024;
/// JSON-RPC error code for "the server would not accept our credential".
const AUTH_ERROR: i64 = -32001;
/// JSON-RPC error code for "the remote server could not be reached / failed".
const UPSTREAM_ERROR: i64 = -32002;

/// The credential the bridge presents.
enum Auth {
    /// `WHALETOOLS_API_KEY`: used as is, never refreshed.
    ApiKey(Secret),
    Login(Box<LoginSession>),
}

struct Bridge {
    http: reqwest::Client,
    server: String,
    endpoint: String,
    /// What to do when the server refuses the credential: `run `whale login …``.
    relogin: String,
    auth: Mutex<Auth>,
    session_id: RwLock<Option<HeaderValue>>,
    protocol_version: RwLock<Option<HeaderValue>>,
    out: mpsc::UnboundedSender<String>,
}

/// Resolves the credential, then bridges stdin/stdout to `{server}/mcp`
/// until stdin ends.
pub async fn run(server: &str, store_id: Option<&str>) -> Result<(), CliError> {
    let server = oauth::normalize_server(server)?;
    // Refuse a missing credential before the host starts talking to us: the
    // reason lands in the host's MCP log (stderr).
    let auth = match crate::settings::session_api_key()? {
        Some(key) => {
            tracing::info!(%server, "bridging with the API key from the environment");
            Auth::ApiKey(key)
        }
        None => {
            let vault = Arc::new(Vault::new(Paths::resolve()?));
            let v = vault.clone();
            let logins = blocking(STORE_LIMIT, "reading the login index", move || v.list()).await?;
            let entry = store::choose(&logins, Some(&server), store_id)?;
            tracing::info!(%server, store = %entry.store_id, "bridging with the stored login");
            Auth::Login(Box::new(LoginSession::open(vault, entry).await?))
        }
    };
    let http = crate::outbound::builder()
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| CliError::Runtime(format!("cannot build the HTTP client: {e}")))?;

    let (out_tx, out_rx) = mpsc::unbounded_channel::<String>();
    let writer = std::thread::spawn(move || write_stdout(out_rx));
    let (in_tx, mut in_rx) = mpsc::channel::<Vec<u8>>(64);
    std::thread::spawn(move || read_stdin(in_tx));

    let relogin = match &auth {
        Auth::ApiKey(_) => format!(
            "check {} (or unset it to use `whale login`)",
            crate::settings::WHALETOOLS_API_KEY
        ),
        Auth::Login(l) => format!("run {}", store::login_command(&server, Some(l.store_id()))),
    };
    let bridge = Arc::new(Bridge {
        http,
        relogin,
        endpoint: format!("{server}/mcp"),
        server,
        auth: Mutex::new(auth),
        session_id: RwLock::new(None),
        protocol_version: RwLock::new(None),
        out: out_tx,
    });
    let mut tasks = tokio::task::JoinSet::new();
    let mut listening = None;
    while let Some(line) = in_rx.recv().await {
        let msg: Value = match serde_json::from_slice(&line) {
            Ok(v) => v,
            Err(e) => {
                bridge.emit(&json!({
                    "jsonrpc": "2.0", "id": null,
                    "error": {"code": -32700, "message": format!("parse error: {e}")}
                }));
                continue;
            }
        };
        let id = msg.get("id").filter(|id| !id.is_null()).cloned();
        let method = msg.get("method").and_then(Value::as_str).map(str::to_string);
        let body = msg.to_string();
        match (method.as_deref(), id) {
            (Some("initialize"), id) => {
                bridge.post(body, id, true).await;
                if listening.is_none() && bridge.session().is_some() {
                    listening = Some(tokio::spawn(bridge.clone().listen()));
                }
            }
            (Some(_), Some(id)) => {
                let b = bridge.clone();
                tasks.spawn(async move { b.post(body, Some(id), false).await });
            }
            // Notifications and replies to the server's requests: in order.
            _ => bridge.post(body, None, false).await,
        }
        while tasks.try_join_next().is_some() {}
    }
    // stdin ended: let requests in flight answer (bounded), then end the
    // session on the server.
    let drain = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(30), drain)
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight 30 s after stdin closed; abandoning them");
        tasks.abort_all();
    }
    if let Some(l) = listening {
        l.abort();
    }
    bridge.end_session().await;
    drop(bridge);
    let _ = writer.join();
    Ok(())
}

/// Forwards stdin lines (blocking reads on their own thread: tokio's stdin
/// is slow, see PITFALLS).
fn read_stdin(tx: mpsc::Sender<Vec<u8>>) {
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut line = Vec::new();
    loop {
        line.clear();
        match (&mut input)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
        {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if line.len() > MAX_LINE && line.last() != Some(&b'\n') {
            // Skip the rest of an oversized line.
            tracing::warn!("dropping a message longer than {MAX_LINE} bytes");
            let mut sink = Vec::new();
            let _ = input.read_until(b'\n', &mut sink);
            continue;
        }
        let trimmed = line.trim_ascii();
        if trimmed.is_empty() {
            continue;
        }
        if tx.blocking_send(trimmed.to_vec()).is_err() {
            return;
        }
    }
}

use std::io::Read as _;

/// The only writer to stdout: one JSON message per line.
fn write_stdout(mut rx: mpsc::UnboundedReceiver<String>) {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    while let Some(line) = rx.blocking_recv() {
        if out
            .write_all(line.as_bytes())
            .and_then(|_| out.write_all(b"\n"))
            .is_err()
        {
            return;
        }
        while let Ok(more) = rx.try_recv() {
            if out
                .write_all(more.as_bytes())
                .and_then(|_| out.write_all(b"\n"))
                .is_err()
            {
                return;
            }
        }
        if out.flush().is_err() {
            return;
        }
    }
}

impl Bridge {
    fn emit(&self, msg: &Value) {
        let _ = self.out.send(msg.to_string());
    }

    fn reply_error(&self, id: Option<Value>, code: i64, message: String) {
        match id {
            Some(id) => self.emit(&json!({
                "jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}
            })),
            None => tracing::warn!("{message}"),
        }
    }

    fn session(&self) -> Option<HeaderValue> {
        self.session_id.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    async fn bearer(&self) -> Result<Secret, CliError> {
        match &mut *self.auth.lock().await {
            Auth::ApiKey(k) => Ok(k.clone()),
            Auth::Login(s) => s.fresh().await,
        }
    }

    /// After a 401: a refreshed token, or why there is none.
    async fn replacement(&self, rejected: &Secret) -> Result<Secret, CliError> {
        match &mut *self.auth.lock().await {
            Auth::ApiKey(_) => Err(CliError::Auth(format!(
                "{} rejected the API key in {}",
                self.server,
                crate::settings::WHALETOOLS_API_KEY
            ))),
            Auth::Login(s) => s.after_rejection(rejected).await,
        }
    }

    fn request(&self, method: reqwest::Method, token: &Secret) -> reqwest::RequestBuilder {
        let mut req = self
            .http
            .request(method, &self.endpoint)
            .bearer_auth(token.expose())
            .header(ACCEPT, "application/json, text/event-stream");
        if let Some(s) = self.session() {
            req = req.header(SESSION_HEADER, s);
        }
        if let Some(v) = self
            .protocol_version
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        {
            req = req.header(VERSION_HEADER, v);
        }
        req
    }

    /// POSTs one message and writes whatever comes back. `id` is the
    /// request's id (errors are answered to it); `init` marks `initialize`.
    async fn post(&self, body: String, id: Option<Value>, init: bool) {
        let relogin = &self.relogin;
        let mut token = match self.bearer().await {
            Ok(t) => t,
            Err(e) => return self.reply_error(id, AUTH_ERROR, format!("whale: {e}")),
        };
        let mut retried = false;
        loop {
            let sent = self
                .request(reqwest::Method::POST, &token)
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone())
                .send()
                .await;
            let resp = match sent {
                Ok(r) => r,
                Err(e) => {
                    return self.reply_error(
                        id,
                        UPSTREAM_ERROR,
                        format!("whale: cannot reach {}: {}", self.endpoint, describe(&e)),
                    );
                }
            };
            let status = resp.status();
            if status == StatusCode::UNAUTHORIZED {
                if retried {
                    return self.reply_error(
                        id,
                        AUTH_ERROR,
                        format!("whale: {} does not accept the credential; {relogin}", self.server),
                    );
                }
                retried = true;
                match self.replacement(&token).await {
                    Ok(t) => {
                        token = t;
                        continue;
                    }
                    Err(e) => {
                        let hint = if matches!(e, CliError::Auth(_)) && !e.to_string().contains("whale login")
                        {
                            format!("; {relogin}")
                        } else {
                            String::new()
                        };
                        return self.reply_error(id, AUTH_ERROR, format!("whale: {e}{hint}"));
                    }
                }
            }
            if status == StatusCode::ACCEPTED || status == StatusCode::NO_CONTENT {
                return;
            }
            if init
                && status.is_success()
                && let Some(s) = resp.headers().get(SESSION_HEADER)
            {
                *self.session_id.write().unwrap_or_else(|p| p.into_inner()) = Some(s.clone());
            }
            if !status.is_success() {
                return self.upstream_error(resp, id).await;
            }
            return self.forward(resp, init).await;
        }
    }

    /// A non-2xx answer: pass on a JSON-RPC error body, else make one.
    async fn upstream_error(&self, resp: reqwest::Response, id: Option<Value>) {
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        if let Ok(v) = serde_json::from_str::<Value>(&text)
            && v.get("jsonrpc").is_some()
        {
            if v.get("id").is_some_and(|i| !i.is_null()) || id.is_none() {
                return self.emit(&v);
            }
            // An error without our id: re-address it so the host can match it.
            let mut v = v;
            v["id"] = id.clone().unwrap_or(Value::Null);
            return self.emit(&v);
        }
        let detail = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| {
                v["error_description"]
                    .as_str()
                    .or(v["message"].as_str())
                    .or(v["error"].as_str())
                    .map(str::to_string)
            })
            .unwrap_or_else(|| text.chars().take(200).collect());
        let session_gone = status == StatusCode::NOT_FOUND && self.session().is_some();
        let message = if session_gone {
            format!(
                "whale: {} no longer knows this MCP session (it may have restarted); reconnect the server in your MCP host",
                self.server
            )
        } else {
            format!("whale: {} answered HTTP {status}: {detail}", self.endpoint)
        };
        self.reply_error(id, UPSTREAM_ERROR, message);
    }

    /// Writes the messages of a 2xx answer: a JSON body, or each SSE event.
    async fn forward(&self, resp: reqwest::Response, init: bool) {
        let is_sse = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("text/event-stream"));
        if !is_sse {
            match resp.bytes().await {
                Ok(b) if b.trim_ascii().is_empty() => {}
                Ok(b) => match serde_json::from_slice::<Value>(&b) {
                    Ok(v) => self.deliver(v, init),
                    Err(e) => tracing::warn!(error = %e, "the server answered with a body that is not JSON"),
                },
                Err(e) => tracing::warn!(error = %describe(&e), "reading the server's answer failed"),
            }
            return;
        }
        let mut events = sse_stream::SseStream::from_bytes_stream(resp.bytes_stream());
        while let Some(ev) = events.next().await {
            match ev {
                Ok(sse) => {
                    let Some(data) = sse.data.filter(|d| !d.trim().is_empty()) else {
                        continue; // priming events and keep-alives carry no message
                    };
                    match serde_json::from_str::<Value>(&data) {
                        Ok(v) => self.deliver(v, init),
                        Err(e) => tracing::warn!(error = %e, "an SSE event's data is not JSON"),
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the server's event stream broke off");
                    return;
                }
            }
        }
    }

    fn deliver(&self, v: Value, init: bool) {
        if init
            && let Some(pv) = v.pointer("/result/protocolVersion").and_then(Value::as_str)
            && let Ok(h) = HeaderValue::from_str(pv)
        {
            *self.protocol_version.write().unwrap_or_else(|p| p.into_inner()) = Some(h);
        }
        self.emit(&v);
    }

    /// The optional GET stream for messages the server sends on its own
    /// (list changes, …). A server without one answers 405.
    async fn listen(self: Arc<Self>) {
        let Ok(token) = self.bearer().await else { return };
        let resp = match self
            .request(reqwest::Method::GET, &token)
            .header(ACCEPT, "text/event-stream")
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) => return tracing::debug!(error = %describe(&e), "no server event stream"),
        };
        if !resp.status().is_success() {
            return tracing::debug!(status = %resp.status(), "no server event stream");
        }
        self.forward(resp, false).await;
    }

    /// DELETE the session (best effort, bounded).
    async fn end_session(&self) {
        if self.session().is_none() {
            return;
        }
        let Ok(token) = self.bearer().await else { return };
        let req = self.request(reqwest::Method::DELETE, &token).send();
        match tokio::time::timeout(Duration::from_secs(5), req).await {
            Ok(Ok(r)) => tracing::debug!(status = %r.status(), "ended the MCP session"),
            Ok(Err(e)) => tracing::debug!(error = %describe(&e), "could not end the MCP session"),
            Err(_) => tracing::debug!("ending the MCP session timed out"),
        }
    }
}
