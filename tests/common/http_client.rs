//! MCP over HTTP from the outside, shared by the HTTP-mode and OAuth test
//! crates: plain HTTP helpers, a server-sent-events reader, and two MCP
//! clients (Streamable HTTP and legacy HTTP+SSE) written by hand so tests
//! control every header.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use super::{HttpServer, TIMEOUT, Whale, error_text};

// ===========================================================================
// Plain HTTP helpers
// ===========================================================================

/// The protocol version the hand-written clients ask for.
pub const PROTOCOL_VERSION: &str = "2025-06-18";
/// What a Streamable HTTP POST must accept.
pub const ACCEPT_MCP: &str = "application/json, text/event-stream";

/// A blocking client builder. whale builds reqwest without a TLS provider
/// of its own (it installs ring itself; the tests share its reqwest build),
/// so the tests install ring too before building a client.
pub fn client_builder() -> reqwest::blocking::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder()
}

/// A client for loopback only: bounded, no proxy, no redirects.
pub fn http() -> Client {
    client_builder()
        .timeout(TIMEOUT)
        .connect_timeout(TIMEOUT)
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("build an HTTP client")
}

/// `POST url` carrying an `initialize` request with the Accept and
/// Content-Type that Streamable HTTP asks for (and no credential: add one).
pub fn initialize_post(c: &Client, url: String) -> RequestBuilder {
    c.post(url)
        .header("accept", ACCEPT_MCP)
        .header("content-type", "application/json")
        .body(rpc(1, "initialize", init_params()).to_string())
}

pub fn bearer(key: &str) -> String {
    format!("Bearer {key}")
}

/// Sends; a transport failure (as opposed to an HTTP status) panics.
pub fn send(rb: RequestBuilder, what: &str) -> Response {
    rb.send().unwrap_or_else(|e| panic!("{what}: {e}"))
}

pub fn header_str(h: &HeaderMap, name: &str) -> String {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// Asserts a 200 with a JSON body and returns the body.
pub fn ok_json(resp: Response, what: &str) -> Value {
    let status = resp.status();
    let text = resp.text().unwrap_or_default();
    assert_eq!(status, StatusCode::OK, "{what}: {text}");
    super::parse_json(text.as_bytes(), what)
}

/// Asserts an OAuth-style error (SPEC §7): `status`, a JSON body
/// `{error, error_description}` with `error == code`. Returns the headers and
/// the body.
pub fn expect_error(resp: Response, status: StatusCode, code: &str, what: &str) -> (HeaderMap, Value) {
    let got = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().unwrap_or_default();
    assert_eq!(got, status, "{what}: status (body: {text})");
    let ct = header_str(&headers, "content-type");
    assert!(
        ct.starts_with("application/json"),
        "{what}: the error is not JSON (content-type {ct:?}): {text}"
    );
    let body: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{what}: the error body is not JSON ({e}): {text}"));
    assert_eq!(body["error"], json!(code), "{what}: {body}");
    assert!(
        body["error_description"].as_str().is_some_and(|d| !d.is_empty()),
        "{what}: no error_description: {body}"
    );
    (headers, body)
}

/// Asserts that an error body's `error_description` names `word` (the
/// reason the request was refused, not some other).
pub fn assert_description_mentions(body: &Value, word: &str, what: &str) {
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| d.contains(word)),
        "{what}: the error does not mention `{word}`: {body}"
    );
}

/// Polls `cond` until it holds; panics after [`TIMEOUT`].
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// SIGTERM, then a clean exit (code 0) within [`TIMEOUT`].
#[cfg(unix)]
pub fn stop(mut server: HttpServer) {
    server.sigterm();
    let status = server.wait(TIMEOUT).unwrap_or_else(|| {
        panic!(
            "whale did not exit within {TIMEOUT:?} of SIGTERM\nstderr:\n{}",
            server.stderr()
        )
    });
    assert_eq!(
        status.code(),
        Some(0),
        "whale exit status after SIGTERM: {status:?}\nstderr:\n{}",
        server.stderr()
    );
}

/// `initialize` params for the hand-written clients.
pub fn init_params() -> Value {
    json!({
        "protocolVersion": PROTOCOL_VERSION,
        "capabilities": {},
        "clientInfo": {"name": "whale-http-tests", "version": "0"}
    })
}

pub fn rpc(id: i64, method: &str, params: Value) -> Value {
    let mut msg = json!({"jsonrpc": "2.0", "id": id, "method": method});
    if !params.is_null() {
        msg["params"] = params;
    }
    msg
}

/// The `whale/executionId` of a tool result.
pub fn exec_id(result: &Value) -> String {
    result["_meta"]["whale/executionId"]
        .as_str()
        .unwrap_or_else(|| panic!("no whale/executionId in {result}"))
        .to_string()
}

/// Runs tools as the local owner, through the CLI.
pub fn cli(w: &Whale) -> impl FnMut(&str, &str, Value) -> Value + '_ {
    move |tool, action, input| w.tool(tool, action, input)
}

/// `total` of `whale executions list --json --limit 1 FILTER`.
pub fn executions_total(w: &Whale, filter: &[&str]) -> i64 {
    let mut args = vec!["executions", "list", "--json", "--limit", "1"];
    args.extend_from_slice(filter);
    w.json(&args)["total"].as_i64().expect("total")
}

pub fn orders_total(w: &Whale) -> i64 {
    w.tool("orders", "list_orders", json!({"limit": 1}))["total"]
        .as_i64()
        .expect("orders total")
}

// ===========================================================================
// Server-sent events
// ===========================================================================

/// One server-sent event: its name (`message` when absent) and its data.
pub struct SseEvent {
    pub event: String,
    pub data: String,
}

/// The next event on an SSE stream; `None` at the end of the stream.
pub fn next_event(r: &mut impl BufRead) -> std::io::Result<Option<SseEvent>> {
    let mut event = None;
    let mut data: Vec<String> = Vec::new();
    let mut seen = false;
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let l = line.trim_end_matches(['\r', '\n']);
        if l.is_empty() {
            if seen {
                return Ok(Some(SseEvent {
                    event: event.unwrap_or_else(|| "message".into()),
                    data: data.join("\n"),
                }));
            }
            continue;
        }
        if l.starts_with(':') {
            continue; // a comment (keep-alive)
        }
        seen = true;
        let (field, value) = l
            .split_once(':')
            .map(|(f, v)| (f, v.strip_prefix(' ').unwrap_or(v)))
            .unwrap_or((l, ""));
        match field {
            "event" => event = Some(value.to_string()),
            "data" => data.push(value.to_string()),
            _ => {} // id, retry
        }
    }
}

/// The reply to request `id` in a Streamable HTTP POST response, whether
/// sent as one JSON body or as an SSE stream.
pub fn read_reply(resp: Response, id: &Value) -> Result<Value, String> {
    let ct = header_str(resp.headers(), "content-type");
    let is_reply =
        |v: &Value| v.get("id") == Some(id) && (v.get("result").is_some() || v.get("error").is_some());
    if ct.starts_with("application/json") {
        let v: Value = resp.json().map_err(|e| format!("reading the JSON reply: {e}"))?;
        return if is_reply(&v) {
            Ok(v)
        } else {
            Err(format!("not the reply to {id}: {v}"))
        };
    }
    if !ct.starts_with("text/event-stream") {
        return Err(format!("unexpected content-type {ct:?}"));
    }
    let mut r = BufReader::new(resp);
    while let Some(ev) = next_event(&mut r).map_err(|e| format!("reading the SSE reply: {e}"))? {
        if ev.data.trim().is_empty() {
            continue; // the priming event
        }
        let v: Value =
            serde_json::from_str(&ev.data).map_err(|e| format!("SSE data is not JSON ({e}): {}", ev.data))?;
        if is_reply(&v) {
            return Ok(v);
        }
    }
    Err(format!("the reply stream ended without an answer to {id}"))
}

// ===========================================================================
// MCP clients over HTTP
// ===========================================================================

/// What both transports give a test: requests answered by id.
pub trait Session {
    /// Sends a request; its reply (the whole JSON-RPC message) or why none came.
    fn try_request(&mut self, method: &str, params: Value) -> Result<Value, String>;

    fn request(&mut self, method: &str, params: Value) -> Value {
        self.try_request(method, params.clone())
            .unwrap_or_else(|e| panic!("{method} {params}: {e}"))
    }

    /// `tools/call` and its result; panics on a JSON-RPC error.
    fn call(&mut self, name: &str, args: Value) -> Value {
        let reply = self.request("tools/call", json!({"name": name, "arguments": args}));
        reply
            .get("result")
            .cloned()
            .unwrap_or_else(|| panic!("tools/call {name} got a JSON-RPC error: {reply}"))
    }

    /// `tools/call` that succeeded with structuredContent: its whole result,
    /// or why not.
    fn try_call_ok(&mut self, name: &str, args: Value) -> Result<Value, String> {
        let reply = self.try_request("tools/call", json!({"name": name, "arguments": args}))?;
        let result = reply
            .get("result")
            .ok_or_else(|| format!("tools/call {name}: JSON-RPC error {reply}"))?;
        if result["isError"] == json!(true) {
            return Err(format!("tools/call {name} failed: {}", error_text(result)));
        }
        if !result["structuredContent"].is_object() {
            return Err(format!("tools/call {name}: no structuredContent in {result}"));
        }
        Ok(result.clone())
    }

    /// `tools/call` that must succeed; returns structuredContent.
    fn call_ok(&mut self, name: &str, args: Value) -> Value {
        match self.try_call_ok(name, args.clone()) {
            Ok(r) => r["structuredContent"].clone(),
            Err(e) => panic!("{name} {args}: {e}"),
        }
    }

    /// Every tool, following pagination.
    fn tools(&mut self) -> Vec<Value> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..100 {
            let params = cursor.as_ref().map_or(Value::Null, |c| json!({"cursor": c}));
            let reply = self.request("tools/list", params);
            let result = &reply["result"];
            all.extend(result["tools"].as_array().expect("tools").iter().cloned());
            match result["nextCursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return all,
            }
        }
        panic!("tools/list never ends");
    }
}

pub fn tool_names(tools: &[Value]) -> Vec<String> {
    tools
        .iter()
        .filter_map(|t| t["name"].as_str().map(str::to_string))
        .collect()
}

/// An MCP client over Streamable HTTP (`/mcp`), one POST per message.
pub struct Streamable {
    pub http: Client,
    pub url: String,
    pub key: String,
    /// The `mcp-session-id` returned by initialize.
    pub session: Option<String>,
    pub next_id: i64,
}

impl Streamable {
    pub fn new(server: &HttpServer, key: &str) -> Streamable {
        Streamable {
            http: http(),
            url: server.url("/mcp"),
            key: key.to_string(),
            session: None,
            next_id: 1,
        }
    }

    /// Connected and initialized.
    pub fn open(server: &HttpServer, key: &str) -> Streamable {
        Streamable::try_open(server, key).unwrap_or_else(|e| panic!("open a Streamable HTTP session: {e}"))
    }

    pub fn try_open(server: &HttpServer, key: &str) -> Result<Streamable, String> {
        let mut s = Streamable::new(server, key);
        s.initialize()?;
        Ok(s)
    }

    /// The handshake; remembers the session id.
    pub fn initialize(&mut self) -> Result<Value, String> {
        let reply = self.try_request("initialize", init_params())?;
        let result = reply
            .get("result")
            .cloned()
            .ok_or_else(|| format!("initialize failed: {reply}"))?;
        if self.session.is_none() {
            return Err("initialize returned no mcp-session-id header".into());
        }
        let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        let key = self.key.clone();
        let resp = self
            .post_as(&key, &note)
            .map_err(|e| format!("POST notifications/initialized: {e}"))?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(format!("notifications/initialized: HTTP {}", resp.status()));
        }
        Ok(result)
    }

    pub fn session_id(&self) -> String {
        self.session.clone().expect("an initialized session")
    }

    pub fn with_session(&self, mut rb: RequestBuilder) -> RequestBuilder {
        if let Some(s) = &self.session {
            rb = rb
                .header("mcp-session-id", s)
                .header("mcp-protocol-version", PROTOCOL_VERSION);
        }
        rb
    }

    /// POSTs one message with `key`'s credential (and this session's id).
    pub fn post_as(&self, key: &str, msg: &Value) -> reqwest::Result<Response> {
        let rb = self
            .http
            .post(&self.url)
            .header("authorization", bearer(key))
            .header("accept", ACCEPT_MCP)
            .header("content-type", "application/json")
            .body(msg.to_string());
        self.with_session(rb).send()
    }

    /// Opens the session's GET stream with `key`'s credential.
    pub fn get_stream_as(&self, key: &str) -> Response {
        let rb = self
            .http
            .get(&self.url)
            .header("authorization", bearer(key))
            .header("accept", "text/event-stream");
        send(self.with_session(rb), "GET /mcp")
    }

    /// DELETE /mcp for this session with `key`'s credential.
    pub fn delete_as(&self, key: &str) -> Response {
        let rb = self.http.delete(&self.url).header("authorization", bearer(key));
        send(self.with_session(rb), "DELETE /mcp")
    }
}

impl Session for Streamable {
    fn try_request(&mut self, method: &str, params: Value) -> Result<Value, String> {
        let id = self.next_id;
        self.next_id += 1;
        let key = self.key.clone();
        let resp = self
            .post_as(&key, &rpc(id, method, params))
            .map_err(|e| format!("POST /mcp {method}: {e}"))?;
        let status = resp.status();
        if !status.is_success() {
            let text = resp.text().unwrap_or_default();
            return Err(format!("POST /mcp {method}: HTTP {status}: {text}"));
        }
        if self.session.is_none() {
            let sid = header_str(resp.headers(), "mcp-session-id");
            if !sid.is_empty() {
                self.session = Some(sid);
            }
        }
        read_reply(resp, &json!(id))
    }
}

/// An MCP client over the legacy HTTP+SSE transport: `GET /sse` (read on a
/// thread), `POST /messages?sessionId=…` answered 202, replies on the stream.
pub struct Legacy {
    pub http: Client,
    pub key: String,
    /// The `sessionId` of the `endpoint` event.
    pub session_id: String,
    /// Where messages are POSTed (absolute).
    pub endpoint: String,
    /// `event: message` payloads, in stream order; disconnected when the
    /// stream ends.
    pub messages: Receiver<Value>,
    pub replies: HashMap<String, Value>,
    pub next_id: i64,
}

impl Legacy {
    /// Opens the stream and reads the `endpoint` event (not initialized).
    pub fn try_connect(server: &HttpServer, key: &str) -> Result<Legacy, String> {
        let http = http();
        let resp = http
            .get(server.url("/sse"))
            .header("authorization", bearer(key))
            .header("accept", "text/event-stream")
            .send()
            .map_err(|e| format!("GET /sse: {e}"))?;
        if resp.status() != StatusCode::OK {
            let status = resp.status();
            return Err(format!(
                "GET /sse: HTTP {status}: {}",
                resp.text().unwrap_or_default()
            ));
        }
        let ct = header_str(resp.headers(), "content-type");
        if !ct.starts_with("text/event-stream") {
            return Err(format!("GET /sse: content-type {ct:?}"));
        }
        let mut reader = BufReader::new(resp);
        let first = next_event(&mut reader)
            .map_err(|e| format!("reading /sse: {e}"))?
            .ok_or("the /sse stream ended before the endpoint event")?;
        if first.event != "endpoint" {
            return Err(format!("first /sse event is {:?}, not endpoint", first.event));
        }
        let endpoint = if first.data.starts_with('/') {
            server.url(&first.data)
        } else {
            first.data.clone()
        };
        let session_id = endpoint
            .split_once("sessionId=")
            .map(|(_, s)| s.split('&').next().unwrap_or(s).to_string())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| format!("endpoint without sessionId: {endpoint}"))?;
        let (tx, messages) = channel();
        std::thread::spawn(move || {
            while let Ok(Some(ev)) = next_event(&mut reader) {
                if ev.event != "message" || ev.data.trim().is_empty() {
                    continue;
                }
                let v =
                    serde_json::from_str::<Value>(&ev.data).unwrap_or_else(|_| json!({"unparsed": ev.data}));
                if tx.send(v).is_err() {
                    return;
                }
            }
        });
        Ok(Legacy {
            http,
            key: key.to_string(),
            session_id,
            endpoint,
            messages,
            replies: HashMap::new(),
            next_id: 1,
        })
    }

    /// Connected and initialized.
    pub fn open(server: &HttpServer, key: &str) -> Legacy {
        Legacy::try_open(server, key).unwrap_or_else(|e| panic!("open a legacy SSE session: {e}"))
    }

    pub fn try_open(server: &HttpServer, key: &str) -> Result<Legacy, String> {
        let mut l = Legacy::try_connect(server, key)?;
        let reply = l.try_request("initialize", init_params())?;
        if reply.get("result").is_none() {
            return Err(format!("initialize failed: {reply}"));
        }
        let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        let key = l.key.clone();
        let resp = l
            .post_as(&key, &note)
            .map_err(|e| format!("POST notifications/initialized: {e}"))?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(format!("notifications/initialized: HTTP {}", resp.status()));
        }
        Ok(l)
    }

    /// POSTs one message to this session's endpoint with `key`'s credential.
    pub fn post_as(&self, key: &str, msg: &Value) -> reqwest::Result<Response> {
        self.http
            .post(&self.endpoint)
            .header("authorization", bearer(key))
            .header("content-type", "application/json")
            .body(msg.to_string())
            .send()
    }

    /// Has a reply to `id` arrived (without waiting)?
    pub fn has_reply(&mut self, id: i64) -> bool {
        while let Ok(v) = self.messages.try_recv() {
            self.file(v);
        }
        self.replies.contains_key(&json!(id).to_string())
    }

    pub fn file(&mut self, v: Value) {
        let is_reply = v.get("result").is_some() || v.get("error").is_some();
        if let Some(id) = v.get("id").filter(|id| is_reply && !id.is_null()) {
            self.replies.insert(id.to_string(), v);
        }
    }
}

impl Session for Legacy {
    fn try_request(&mut self, method: &str, params: Value) -> Result<Value, String> {
        let id = self.next_id;
        self.next_id += 1;
        let key = self.key.clone();
        let resp = self
            .post_as(&key, &rpc(id, method, params))
            .map_err(|e| format!("POST /messages {method}: {e}"))?;
        if resp.status() != StatusCode::ACCEPTED {
            let status = resp.status();
            return Err(format!(
                "POST /messages {method}: HTTP {status}: {}",
                resp.text().unwrap_or_default()
            ));
        }
        let want = json!(id).to_string();
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(v) = self.replies.remove(&want) {
                return Ok(v);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.messages.recv_timeout(left) {
                Ok(v) => self.file(v),
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!("no reply to {method} (id {id}) within {TIMEOUT:?}"));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(format!(
                        "the /sse stream ended before the reply to {method} (id {id})"
                    ));
                }
            }
        }
    }
}
