//! HTTP MCP benchmark: whale beside a minimal rmcp Streamable HTTP server, in
//! one run.
//!
//! The reference server lives in this file: started with `--echo-server`, this
//! binary is axum + rmcp 3.9's `StreamableHttpService` (default config:
//! stateful sessions, SSE replies) mounted at `/mcp` on 127.0.0.1:0 with
//! TCP_NODELAY, serving one hand-written `ServerHandler` with one tool, `echo`
//! (returns its arguments as text); it prints its port on stdout. whale is the
//! release binary cargo builds beside this bench, run as
//! `whale --db <fresh temp dir>/whale.db mcp --transport sse --port 0` after
//! `whale stores list` (first-run seeding) and `whale keys create --agent
//! bench --scopes "products platform" --rate-limit 100000000 --json` (the key
//! is sent as `Authorization: Bearer …`; the echo server gets no header).
//!
//! One load generator drives both servers through the same code: N
//! concurrent clients (tokio tasks in this process, one reqwest client and so
//! one keep-alive HTTP/1.1 connection each). Each client opens its own
//! session (`initialize` + `notifications/initialized`, keeping
//! `Mcp-Session-Id`), then loops `tools/call` — one call in flight per client,
//! each response body read to its end and checked for a non-error result —
//! for a warm-up period and then for the measured period; the session is
//! closed with DELETE afterwards. Cases, at 1, 8 and 32 clients each:
//! - whale `store` `{"action":"get_settings"}` and `products`
//!   `{"action":"list_products","limit":20}` over Streamable HTTP (`/mcp`);
//! - echo `echo` `{"message":"hello","n":42}` over Streamable HTTP;
//! - whale `store` `get_settings` over the legacy HTTP+SSE transport at 8
//!   clients: a `GET /sse` stream per client, `POST /messages?sessionId=…`
//!   (202), the reply read from that client's stream and matched by id.
//!
//! Figures: calls/s (calls completed in the measured period / its length),
//! p50/p99/mean latency (request sent → response fully read, all clients
//! pooled), CPU time per call of the server and of the load generator over
//! the measured period (utime + stime from /proc/<pid>/stat, 10 ms ticks),
//! and each server's peak RSS (VmHWM from /proc/<pid>/status) after start-up
//! and at the end of the run.
//!
//! Caveat: the load generator runs on the same machine and competes with the
//! server for CPU (2 cores here); the handicap is the same for both servers,
//! so compare the ratios rather than the absolute figures. Other work on the
//! machine skews both (the report prints the load average); server CPU per
//! call is the steadiest figure. A server that answers initialize without
//! `Mcp-Session-Id` (stateless mode) is measured as such.
//!
//! Run:   cargo bench --bench http
//!        cargo bench --bench http -- --json target/http-bench.json
//! Quick: WHALE_BENCH_SECS=1 WHALE_BENCH_ROUNDS=1 cargo bench --bench http
//!        (seconds measured per case, default 3; warm-up is a fifth of it,
//!        between 0.2 and 1 s; rounds, default 3: the whole plan runs that
//!        many times over)
//! A/B:   WHALE_BENCH_WHALE=/path/to/other/whale cargo bench --bench http
//! Some:  cargo bench --bench http -- "store get_settings c=8" echo
//!        (cases whose "server transport call c=N" contains a word given)
//!
//! Prints a markdown table with the target ratios: whale store-read calls/s
//! over echo calls/s at 8 and 32 clients (target ≥ 1.0) and whale store-read
//! p99 over echo p99 (target ≤ 1.5). Each ratio is taken within a round and
//! the figure is the median over the rounds (each round's value is shown):
//! on a shared 2-core machine one case's p99 can move by 2× from one run to
//! the next, and rounds keep one disturbed stretch from deciding the verdict.

#![allow(clippy::print_stdout, clippy::print_stderr)] // the report is the output
#![allow(clippy::disallowed_methods)] // the bench reads its own switches (WHALE_BENCH_*)

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{Stream, StreamExt};
use serde_json::{Value, json};

const DEFAULT_SECS: f64 = 3.0;
const SECS_ENV: &str = "WHALE_BENCH_SECS";
const DEFAULT_ROUNDS: usize = 3;
const ROUNDS_ENV: &str = "WHALE_BENCH_ROUNDS";
const WHALE_ENV: &str = "WHALE_BENCH_WHALE";
const CONCURRENCY: [usize; 3] = [1, 8, 32];
const LEGACY_CONCURRENCY: usize = 8;
const PROTOCOL_VERSION: &str = "2025-06-18";
const ACCEPT: &str = "application/json, text/event-stream";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--echo-server") {
        echo_server::run();
        return;
    }
    // cargo passes `--bench`: ignore the flags we do not know.
    let json_at = args.iter().position(|a| a == "--json");
    let json_path = json_at.map(|i| PathBuf::from(args.get(i + 1).expect("--json needs a PATH")));
    // Other words select cases: those whose "server transport call c=N"
    // contains one of them (all cases when none is given).
    let filters: Vec<&str> = args
        .iter()
        .enumerate()
        .filter(|&(i, a)| !a.starts_with("--") && json_at.is_none_or(|j| i != j + 1))
        .map(|(_, a)| a.as_str())
        .collect();
    let secs = match std::env::var(SECS_ENV) {
        Ok(v) => v
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s > 0.0)
            .unwrap_or_else(|| panic!("{SECS_ENV} must be a positive number of seconds, got `{v}`")),
        Err(_) => DEFAULT_SECS,
    };
    let measure = Duration::from_secs_f64(secs);
    let rounds = env_count(ROUNDS_ENV, DEFAULT_ROUNDS);
    let warmup = (measure / 5).clamp(Duration::from_millis(200), Duration::from_secs(1));

    let dir = TempDir::new("http");
    let whale_bin =
        std::env::var_os(WHALE_ENV).map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_whale")), PathBuf::from);
    let db = dir.0.join("whale.db");
    let key = whale_setup(&whale_bin, &db);
    let whale = ServerProc::whale(&whale_bin, &db);
    let echo = ServerProc::echo();
    let whale_rss_start = whale.peak_rss_kib();
    let echo_rss_start = echo.peak_rss_kib();

    eprintln!(
        "http bench: {} (pid {}, {}) vs echo (pid {}, {}); {rounds} rounds of {:.1} s warm-up + {:.1} s per case; {} cores",
        whale_bin.display(),
        whale.child.id(),
        whale.base,
        echo.child.id(),
        echo.base,
        warmup.as_secs_f64(),
        measure.as_secs_f64(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );

    let whale_target = Arc::new(Target {
        server: "whale",
        pid: whale.child.id(),
        base: whale.base.clone(),
        auth: Some(format!("Bearer {key}")),
    });
    let echo_target = Arc::new(Target {
        server: "echo",
        pid: echo.child.id(),
        base: echo.base.clone(),
        auth: None,
    });
    let store = Call::new("store", json!({"action": "get_settings"}));
    let products = Call::new("products", json!({"action": "list_products", "limit": 20}));
    let echo_call = Call::new("echo", json!({"message": "hello", "n": 42}));

    // echo and whale alternate, so a change in background load hits both.
    let mut plan: Vec<(Arc<Target>, Call, Transport, usize)> = Vec::new();
    for &c in &CONCURRENCY {
        plan.push((echo_target.clone(), echo_call.clone(), Transport::Streamable, c));
        plan.push((whale_target.clone(), store.clone(), Transport::Streamable, c));
        plan.push((whale_target.clone(), products.clone(), Transport::Streamable, c));
    }
    plan.push((
        whale_target.clone(),
        store.clone(),
        Transport::LegacySse,
        LEGACY_CONCURRENCY,
    ));
    plan.retain(|(target, call, transport, clients)| {
        let name = format!(
            "{} {} {} c={clients}",
            target.server,
            transport.label(),
            call.label()
        );
        filters.is_empty() || filters.iter().any(|f| name.contains(f))
    });
    assert!(!plan.is_empty(), "no case matches {filters:?}");

    let load_start = load_average();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut cases = Vec::new();
    for round in 1..=rounds {
        for (target, call, transport, clients) in plan.iter().cloned() {
            let mut case = runtime.block_on(run_case(target, call, transport, clients, warmup, measure));
            case.round = round;
            let st = case.stats();
            eprintln!(
                "  #{round} {:<5} {:<10} {:<26} c={:<2}  {:>7.0} calls/s  p50 {:>8.1} µs  p99 {:>8.1} µs  server CPU {:>6.1} µs/call",
                case.server,
                case.transport.label(),
                case.call,
                case.clients,
                st.per_sec,
                us(st.p50),
                us(st.p99),
                st.server_cpu_us.unwrap_or(f64::NAN),
            );
            cases.push(case);
        }
    }
    drop(runtime);

    let report = Report {
        whale_bin: whale_bin.display().to_string(),
        rounds,
        warmup,
        measure,
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        load: (load_start, load_average()),
        cases,
        whale_rss: (whale_rss_start, whale.peak_rss_kib()),
        echo_rss: (echo_rss_start, echo.peak_rss_kib()),
    };
    drop(whale);
    drop(echo);
    print!("{}", report.markdown());
    if let Some(path) = json_path {
        let text = serde_json::to_string_pretty(&report.json()).expect("serialize report");
        std::fs::write(&path, text + "\n").unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        eprintln!("wrote {}", path.display());
    }
}

// ---------------------------------------------------------------------------
// The servers under test

/// A server child process, killed (by its pid) when dropped.
struct ServerProc {
    name: &'static str,
    child: Child,
    /// `http://127.0.0.1:PORT`
    base: String,
}

fn whale_command(bin: &Path, db: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin);
    cmd.arg("--db").arg(db).args(args);
    for var in [
        "WHALETOOLS_API_KEY",
        "WHALE_DB",
        "WHALE_STORE",
        "WHALE_TOOL_TIMEOUT_MS",
        "RUST_LOG",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// Seeds a fresh database and creates the bench's API key.
fn whale_setup(bin: &Path, db: &Path) -> String {
    let run = |args: &[&str]| {
        let out = whale_command(bin, db, args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", bin.display()));
        assert!(
            out.status.success(),
            "whale {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    run(&["stores", "list"]);
    let out = run(&[
        "keys",
        "create",
        "--agent",
        "bench",
        "--scopes",
        "products platform",
        "--rate-limit",
        "100000000",
        "--json",
    ]);
    let v: Value = serde_json::from_slice(&out).expect("`keys create --json` prints JSON");
    v["key"]
        .as_str()
        .unwrap_or_else(|| panic!("no `key` in {v}"))
        .to_string()
}

impl ServerProc {
    /// whale in HTTP mode; its address comes from the `serving MCP on` line
    /// on stderr, which keeps being forwarded to ours afterwards.
    fn whale(bin: &Path, db: &Path) -> ServerProc {
        let mut child = whale_command(bin, db, &["mcp", "--transport", "sse", "--port", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
        let stderr = child.stderr.take().expect("child stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(t) = &tx
                    && let Some(rest) = line.split("serving MCP on http://").nth(1)
                {
                    let addr = rest.split('/').next().unwrap_or_default().to_string();
                    let _ = t.send(addr);
                    tx = None;
                    continue;
                }
                eprintln!("[whale] {line}");
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("whale did not print `serving MCP on http://…` within 30 s");
        ServerProc {
            name: "whale",
            child,
            base: format!("http://{addr}"),
        }
    }

    /// This binary with `--echo-server`; it prints its port on stdout.
    fn echo() -> ServerProc {
        let mut child = Command::new(std::env::current_exe().expect("current exe"))
            .arg("--echo-server")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn echo server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("child stdout"))
            .read_line(&mut line)
            .expect("read the echo server's port");
        let port: u16 = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("echo server printed `{}`, not a port", line.trim()));
        ServerProc {
            name: "echo",
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Peak resident set size in KiB (VmHWM), Linux only.
    fn peak_rss_kib(&self) -> Option<u64> {
        util::peak_rss_kib(self.child.id())
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            eprintln!("{}: had already exited with {status}", self.name);
            return;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------
// The load generator (the same for every server)

struct Target {
    server: &'static str,
    /// The server's process id (for its CPU time).
    pid: u32,
    base: String,
    /// The `Authorization` header value, if the server wants one.
    auth: Option<String>,
}

#[derive(Clone)]
struct Call {
    tool: &'static str,
    arguments: Value,
    /// The JSON `params` of the `tools/call` request, serialized once.
    params: Arc<str>,
}

impl Call {
    fn new(tool: &'static str, arguments: Value) -> Call {
        let params = json!({"name": tool, "arguments": arguments}).to_string();
        Call {
            tool,
            arguments,
            params: params.into(),
        }
    }

    fn label(&self) -> String {
        match self.arguments.get("action").and_then(Value::as_str) {
            Some(a) => format!("{} {a}", self.tool),
            None => self.tool.to_string(),
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Transport {
    /// POST `/mcp` (Streamable HTTP, MCP 2025-03-26+).
    Streamable,
    /// GET `/sse` + POST `/messages` (HTTP+SSE, MCP 2024-11-05).
    LegacySse,
}

impl Transport {
    fn label(self) -> &'static str {
        match self {
            Transport::Streamable => "streamable",
            Transport::LegacySse => "legacy SSE",
        }
    }
}

fn http_client() -> reqwest::Client {
    // whale's reqwest build has no TLS provider of its own (whale installs
    // ring); the bench shares it, so it installs ring too.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(1)
        .build()
        .expect("reqwest client")
}

fn request_body(id: u64, method: &str, params: &str) -> String {
    format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"{method}","params":{params}}}"#)
}

fn initialize_params() -> String {
    json!({
        "protocolVersion": PROTOCOL_VERSION,
        "capabilities": {},
        "clientInfo": {"name": "whale-http-bench", "version": "0"}
    })
    .to_string()
}

const INITIALIZED: &str = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;

/// Whether `json` (one JSON-RPC message) is the response with this id.
fn has_id(json: &str, id: u64) -> bool {
    json.contains(&format!(r#""id":{id},"#)) || json.contains(&format!(r#""id":{id}}}"#))
}

/// A cheap check that a response is a success (not a JSON-RPC error, not a
/// tool error); the full parse happens once per client, outside the timing.
fn looks_ok(json: &str) -> bool {
    json.contains(r#""result":"#) && !json.contains(r#""isError":true"#)
}

fn assert_ok(server: &str, what: &str, json: &str) {
    let v: Value =
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{server}: {what}: bad JSON ({e}): {json}"));
    let ok = v
        .get("result")
        .is_some_and(|r| r.get("isError") != Some(&Value::Bool(true)));
    assert!(ok, "{server}: {what} failed: {json}");
}

/// One MCP client session over either transport.
enum Client {
    Streamable(StreamableClient),
    Legacy(LegacyClient),
}

impl Client {
    async fn open(target: &Target, transport: Transport) -> Client {
        match transport {
            Transport::Streamable => Client::Streamable(StreamableClient::open(target).await),
            Transport::LegacySse => Client::Legacy(LegacyClient::open(target).await),
        }
    }

    /// One `tools/call`, returning the JSON-RPC response.
    async fn call(&mut self, params: &str) -> String {
        match self {
            Client::Streamable(c) => c.request("tools/call", params).await,
            Client::Legacy(c) => c.request("tools/call", params).await,
        }
    }

    async fn close(self) {
        match self {
            Client::Streamable(c) => c.close().await,
            // Dropping the stream ends a legacy session.
            Client::Legacy(c) => drop(c),
        }
    }
}

struct StreamableClient {
    http: reqwest::Client,
    url: String,
    auth: Option<String>,
    /// `Mcp-Session-Id` from initialize (none from a stateless server).
    session: Option<String>,
    initialized: bool,
    next_id: u64,
}

impl StreamableClient {
    async fn open(target: &Target) -> StreamableClient {
        let mut c = StreamableClient {
            http: http_client(),
            url: format!("{}/mcp", target.base),
            auth: target.auth.clone(),
            session: None,
            initialized: false,
            next_id: 1,
        };
        let init = c.request("initialize", &initialize_params()).await;
        assert_ok(target.server, "initialize", &init);
        c.initialized = true;
        let resp = c.post(INITIALIZED.to_string()).await;
        assert!(
            resp.status().is_success(),
            "{}: notifications/initialized answered {}",
            target.server,
            resp.status()
        );
        let _ = resp.bytes().await;
        c
    }

    fn with_headers(&self, mut rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        if let Some(auth) = &self.auth {
            rb = rb.header("authorization", auth);
        }
        if let Some(session) = &self.session {
            rb = rb.header("mcp-session-id", session);
        }
        if self.initialized {
            rb = rb.header("mcp-protocol-version", PROTOCOL_VERSION);
        }
        rb
    }

    async fn post(&self, body: String) -> reqwest::Response {
        let rb = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .header("accept", ACCEPT)
            .body(body);
        self.with_headers(rb)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {}: {e}", self.url))
    }

    /// Sends one request and reads the whole response body (JSON, or an SSE
    /// stream that ends after the reply); returns the reply's JSON.
    async fn request(&mut self, method: &str, params: &str) -> String {
        let id = self.next_id;
        self.next_id += 1;
        let resp = self.post(request_body(id, method, params)).await;
        let status = resp.status();
        if self.session.is_none()
            && let Some(s) = resp.headers().get("mcp-session-id").and_then(|v| v.to_str().ok())
        {
            self.session = Some(s.to_string());
        }
        let is_sse = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        let body = resp
            .bytes()
            .await
            .unwrap_or_else(|e| panic!("{method} #{id}: reading the body: {e}"));
        let body = std::str::from_utf8(&body).expect("UTF-8 body");
        assert!(status.is_success(), "{method} #{id}: HTTP {status}: {body}");
        if !is_sse {
            return body.to_string();
        }
        body.lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(str::trim_start)
            .find(|d| d.starts_with('{') && has_id(d, id))
            .unwrap_or_else(|| panic!("{method} #{id}: no reply in the SSE body: {body}"))
            .to_string()
    }

    async fn close(self) {
        if self.session.is_none() {
            return;
        }
        let rb = self.with_headers(self.http.delete(&self.url));
        if let Ok(resp) = rb.send().await {
            let _ = resp.bytes().await;
        }
    }
}

type ByteStream = Pin<Box<dyn Stream<Item = reqwest::Result<axum::body::Bytes>> + Send>>;

struct LegacyClient {
    poster: Poster,
    events: ByteStream,
    buf: String,
    next_id: u64,
}

impl LegacyClient {
    async fn open(target: &Target) -> LegacyClient {
        let http = http_client();
        let mut rb = http
            .get(format!("{}/sse", target.base))
            .header("accept", "text/event-stream");
        if let Some(auth) = &target.auth {
            rb = rb.header("authorization", auth);
        }
        let resp = rb.send().await.expect("GET /sse");
        assert!(
            resp.status().is_success(),
            "{}: GET /sse answered {}",
            target.server,
            resp.status()
        );
        let mut c = LegacyClient {
            poster: Poster {
                http,
                endpoint: String::new(),
                auth: target.auth.clone(),
            },
            events: Box::pin(resp.bytes_stream()),
            buf: String::new(),
            next_id: 1,
        };
        let (event, data) = c.next_event().await;
        assert_eq!(event, "endpoint", "the first SSE event must be `endpoint`");
        c.poster.endpoint = format!("{}{data}", target.base);
        let init = c.request("initialize", &initialize_params()).await;
        assert_ok(target.server, "initialize (legacy SSE)", &init);
        c.poster.post(INITIALIZED.to_string()).await;
        c
    }

    /// The next SSE event with data: (event name, data). Comments
    /// (keep-alives) are skipped.
    async fn next_event(&mut self) -> (String, String) {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let (mut event, mut data) = (String::from("message"), String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim_start().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        if !data.is_empty() {
                            data.push('\n');
                        }
                        data.push_str(v.strip_prefix(' ').unwrap_or(v));
                    }
                }
                if data.is_empty() {
                    continue;
                }
                return (event, data);
            }
            let chunk = self
                .events
                .next()
                .await
                .expect("the SSE stream ended")
                .expect("reading the SSE stream");
            self.buf
                .push_str(std::str::from_utf8(&chunk).expect("UTF-8 SSE stream"));
        }
    }

    /// POSTs one request (202) and waits for its reply on the stream.
    async fn request(&mut self, method: &str, params: &str) -> String {
        let id = self.next_id;
        self.next_id += 1;
        self.poster.post(request_body(id, method, params)).await;
        loop {
            let (event, data) = self.next_event().await;
            if event == "message" && has_id(&data, id) {
                return data;
            }
        }
    }
}

/// The POST half of a legacy session (kept apart from the stream, which is
/// not `Sync`).
struct Poster {
    http: reqwest::Client,
    /// `http://host:port/messages?sessionId=…`
    endpoint: String,
    auth: Option<String>,
}

impl Poster {
    async fn post(&self, body: String) {
        let mut rb = self
            .http
            .post(&self.endpoint)
            .header("content-type", "application/json")
            .body(body);
        if let Some(auth) = &self.auth {
            rb = rb.header("authorization", auth);
        }
        let resp = rb
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {}: {e}", self.endpoint));
        let status = resp.status();
        let _ = resp.bytes().await;
        assert_eq!(status.as_u16(), 202, "POST /messages answered {status}");
    }
}

/// What one client did in the measured period.
struct ClientRun {
    samples: Vec<Duration>,
    last_end: Instant,
    failures: usize,
}

struct Case {
    /// Which pass over the plan (from 1): every case runs once per round.
    round: usize,
    server: &'static str,
    transport: Transport,
    call: String,
    clients: usize,
    samples: Vec<Duration>,
    elapsed: Duration,
    failures: usize,
    /// CPU time the server / this load generator used in the measured period.
    server_cpu: Option<Duration>,
    bench_cpu: Option<Duration>,
}

/// `clients` sessions, all opened before the clock starts; warm-up, then
/// `measure` of back-to-back calls per client.
async fn run_case(
    target: Arc<Target>,
    call: Call,
    transport: Transport,
    clients: usize,
    warmup: Duration,
    measure: Duration,
) -> Case {
    let ready = Arc::new(tokio::sync::Barrier::new(clients + 1));
    let (go_tx, go_rx) = tokio::sync::watch::channel(None::<(Instant, Instant)>);
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (target, params, ready, mut go) =
                (target.clone(), call.params.clone(), ready.clone(), go_rx.clone());
            let label = call.label();
            tokio::spawn(async move {
                let mut client = Client::open(&target, transport).await;
                ready.wait().await;
                let (warm_end, end) =
                    (*go.wait_for(Option::is_some).await.expect("start signal")).expect("start instants");
                let mut last = String::new();
                while Instant::now() < warm_end {
                    last = client.call(&params).await;
                }
                if !last.is_empty() {
                    assert_ok(target.server, &format!("tools/call {label} (warm-up)"), &last);
                }
                let mut samples = Vec::with_capacity(4096);
                let mut failures = 0;
                let mut last_end = Instant::now();
                while Instant::now() < end {
                    let start = Instant::now();
                    last = client.call(&params).await;
                    last_end = Instant::now();
                    samples.push(last_end - start);
                    failures += usize::from(!looks_ok(&last));
                }
                if !last.is_empty() {
                    assert_ok(target.server, &format!("tools/call {label}"), &last);
                }
                client.close().await;
                ClientRun {
                    samples,
                    last_end,
                    failures,
                }
            })
        })
        .collect();
    ready.wait().await;
    let warm_end = Instant::now() + warmup;
    let end = warm_end + measure;
    go_tx.send_replace(Some((warm_end, end)));
    // CPU time over the measured period only: the server's and ours.
    tokio::time::sleep_until(warm_end.into()).await;
    let cpu_start = (cpu_time(target.pid), cpu_time(std::process::id()));
    tokio::time::sleep_until(end.into()).await;
    let cpu_end = (cpu_time(target.pid), cpu_time(std::process::id()));
    let cpu = |a: Option<Duration>, b: Option<Duration>| Some(b? - a?);
    let mut samples = Vec::new();
    let mut last_end = end;
    let mut failures = 0;
    for t in tasks {
        let run = t.await.expect("client task panicked");
        samples.extend(run.samples);
        last_end = last_end.max(run.last_end);
        failures += run.failures;
    }
    assert!(!samples.is_empty(), "{}: no call completed", target.server);
    assert_eq!(failures, 0, "{}: {failures} calls failed", target.server);
    Case {
        round: 0,
        server: target.server,
        transport,
        call: call.label(),
        clients,
        samples,
        elapsed: last_end - warm_end,
        failures,
        server_cpu: cpu(cpu_start.0, cpu_end.0),
        bench_cpu: cpu(cpu_start.1, cpu_end.1),
    }
}

/// User + system CPU time of a process (all its threads), from
/// /proc/<pid>/stat; Linux only, 10 ms resolution (USER_HZ = 100).
fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces): state is 3rd,
    // utime the 14th, stime the 15th.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

struct Stats {
    p50: Duration,
    p99: Duration,
    mean: Duration,
    per_sec: f64,
    /// CPU per call completed in the measured period (µs).
    server_cpu_us: Option<f64>,
    bench_cpu_us: Option<f64>,
}

impl Case {
    fn stats(&self) -> Stats {
        let mut sorted = self.samples.clone();
        sorted.sort_unstable();
        // nearest-rank percentile
        let pct = |p: usize| sorted[(sorted.len() * p).div_ceil(100).max(1) - 1];
        Stats {
            p50: pct(50),
            p99: pct(99),
            mean: sorted.iter().sum::<Duration>() / sorted.len() as u32,
            per_sec: sorted.len() as f64 / self.elapsed.as_secs_f64(),
            server_cpu_us: self.server_cpu.map(|d| us(d) / sorted.len() as f64),
            bench_cpu_us: self.bench_cpu.map(|d| us(d) / sorted.len() as f64),
        }
    }
}

// ---------------------------------------------------------------------------
// Report

struct Report {
    whale_bin: String,
    rounds: usize,
    warmup: Duration,
    measure: Duration,
    cores: usize,
    /// 1-minute load average before and after the cases.
    load: (Option<f64>, Option<f64>),
    cases: Vec<Case>,
    /// (after start-up, at the end) peak RSS in KiB.
    whale_rss: (Option<u64>, Option<u64>),
    echo_rss: (Option<u64>, Option<u64>),
}

/// The median (the mean of the middle two for an even count).
fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The 1-minute load average (Linux): other work on the machine skews the
/// figures, and this says how much there was.
fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

struct Ratio {
    name: String,
    key: String,
    /// The median of `per_round`.
    value: f64,
    per_round: Vec<f64>,
    target: &'static str,
    met: bool,
}

impl Report {
    fn find(
        &self,
        round: usize,
        server: &str,
        tool: &str,
        transport: Transport,
        clients: usize,
    ) -> Option<&Case> {
        self.cases.iter().find(|c| {
            c.round == round
                && c.server == server
                && c.call.starts_with(tool)
                && c.transport == transport
                && c.clients == clients
        })
    }

    /// whale store-read (and, for information, products-list) against echo:
    /// each ratio is taken within a round (whale and echo measured minutes
    /// apart at most), and the median over the rounds is the figure, so one
    /// round skewed by other work on the machine does not decide it.
    fn ratios(&self) -> Vec<Ratio> {
        let mut out = Vec::new();
        for (tool, label) in [
            ("store", "store get_settings"),
            ("products", "products list_products"),
        ] {
            let targeted = tool == "store";
            for &c in &CONCURRENCY {
                let pairs: Vec<(Stats, Stats)> = (1..=self.rounds)
                    .filter_map(|r| {
                        Some((
                            self.find(r, "whale", tool, Transport::Streamable, c)?.stats(),
                            self.find(r, "echo", "echo", Transport::Streamable, c)?.stats(),
                        ))
                    })
                    .collect();
                if pairs.is_empty() {
                    continue;
                }
                let mut push = |name: String,
                                key: String,
                                per_round: Vec<f64>,
                                target: &'static str,
                                met: fn(f64) -> bool| {
                    let value = median(&per_round);
                    out.push(Ratio {
                        name,
                        key,
                        value,
                        per_round,
                        target,
                        met: met(value),
                    });
                };
                if c > 1 {
                    push(
                        format!("{label} calls/s ÷ echo calls/s, c={c}"),
                        format!("{tool}_throughput_c{c}"),
                        pairs.iter().map(|(w, e)| w.per_sec / e.per_sec).collect(),
                        if targeted { "≥ 1.0" } else { "(info)" },
                        if targeted { |v| v >= 1.0 } else { |_| true },
                    );
                }
                push(
                    format!("{label} p99 ÷ echo p99, c={c}"),
                    format!("{tool}_p99_c{c}"),
                    pairs.iter().map(|(w, e)| us(w.p99) / us(e.p99)).collect(),
                    if targeted { "≤ 1.5" } else { "(info)" },
                    if targeted { |v| v <= 1.5 } else { |_| true },
                );
                let cpu: Vec<f64> = pairs
                    .iter()
                    .filter_map(|(w, e)| Some(w.server_cpu_us? / e.server_cpu_us?))
                    .collect();
                if !cpu.is_empty() {
                    push(
                        format!("{label} server CPU/call ÷ echo's, c={c}"),
                        format!("{tool}_server_cpu_c{c}"),
                        cpu,
                        "(info)",
                        |_| true,
                    );
                }
            }
        }
        out
    }

    fn markdown(&self) -> String {
        let mut s = String::new();
        s += "\n## HTTP MCP: whale vs minimal rmcp Streamable HTTP server (echo)\n\n";
        let load = |l: Option<f64>| l.map_or("n/a".into(), |l| format!("{l:.2}"));
        s += &format!(
            "{} rounds of every case, {:.1} s warm-up + {:.1} s measured each; one call in flight per client; \
             load generator on the same {}-core machine as the server (same handicap for both); \
             load average {} before, {} after.\n\n",
            self.rounds,
            self.warmup.as_secs_f64(),
            self.measure.as_secs_f64(),
            self.cores,
            load(self.load.0),
            load(self.load.1),
        );
        s += "| round | server | transport | call | clients | calls | calls/s | p50 | p99 | mean | server CPU/call | client CPU/call |\n";
        s += "|---:|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
        let cpu = |v: Option<f64>| v.map_or("n/a".into(), |v| format!("{v:.0} µs"));
        for c in &self.cases {
            let st = c.stats();
            s += &format!(
                "| {} | {} | {} | {} | {} | {} | {:.0} | {:.0} µs | {:.0} µs | {:.0} µs | {} | {} |\n",
                c.round,
                c.server,
                c.transport.label(),
                c.call,
                c.clients,
                c.samples.len(),
                st.per_sec,
                us(st.p50),
                us(st.p99),
                us(st.mean),
                cpu(st.server_cpu_us),
                cpu(st.bench_cpu_us),
            );
        }
        s += "\nPeak RSS (VmHWM):\n\n| server | after start-up | end of run |\n|---|---:|---:|\n";
        for (name, (start, end)) in [("whale", self.whale_rss), ("echo", self.echo_rss)] {
            s += &format!("| {name} | {} | {} |\n", mib(start), mib(end));
        }
        s += "\nRatios (whale / echo; median over the rounds, each round's in order):\n\n\
              | ratio | median | rounds | target | met |\n|---|---:|---|---|---|\n";
        for r in self.ratios() {
            let rounds: Vec<String> = r.per_round.iter().map(|v| format!("{v:.2}")).collect();
            s += &format!(
                "| {} | {:.2}× | {} | {} | {} |\n",
                r.name,
                r.value,
                rounds.join(", "),
                r.target,
                if r.target == "(info)" {
                    ""
                } else if r.met {
                    "yes"
                } else {
                    "**no**"
                }
            );
        }
        s
    }

    fn json(&self) -> Value {
        let cases: Vec<Value> = self
            .cases
            .iter()
            .map(|c| {
                let st = c.stats();
                json!({
                    "round": c.round, "server": c.server, "transport": c.transport.label(), "call": c.call,
                    "clients": c.clients, "calls": c.samples.len(), "failures": c.failures,
                    "elapsed_s": c.elapsed.as_secs_f64(), "calls_per_s": st.per_sec,
                    "p50_us": us(st.p50), "p99_us": us(st.p99), "mean_us": us(st.mean),
                    "server_cpu_us_per_call": st.server_cpu_us, "client_cpu_us_per_call": st.bench_cpu_us,
                })
            })
            .collect();
        let ratios: serde_json::Map<String, Value> = self
            .ratios()
            .into_iter()
            .map(|r| {
                (
                    r.key,
                    json!({"value": r.value, "per_round": r.per_round, "target": r.target, "met": r.met}),
                )
            })
            .collect();
        json!({
            "whale_binary": self.whale_bin,
            "rounds": self.rounds,
            "warmup_s": self.warmup.as_secs_f64(),
            "measure_s": self.measure.as_secs_f64(),
            "cores": self.cores,
            "load_average": {"before": self.load.0, "after": self.load.1},
            "cases": cases,
            "peak_rss_kib": {
                "whale": {"after_start": self.whale_rss.0, "end": self.whale_rss.1},
                "echo": {"after_start": self.echo_rss.0, "end": self.echo_rss.1},
            },
            "ratios_whale_over_echo": ratios,
        })
    }
}

// ---------------------------------------------------------------------------
// The reference: a minimal rmcp Streamable HTTP server

#[path = "common/echo.rs"]
mod echo;
#[path = "common/util.rs"]
mod util;
use util::{TempDir, env_count, mib, us};

mod echo_server {
    use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
    use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
    use std::io::Write;
    use std::sync::Arc;

    use super::echo::Echo;

    /// Serves until killed; prints its port on stdout first.
    pub fn run() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        runtime.block_on(async {
            let service = StreamableHttpService::new(
                || Ok(Echo),
                Arc::new(LocalSessionManager::default()),
                StreamableHttpServerConfig::default(),
            );
            let app = axum::Router::new().nest_service("/mcp", service);
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind 127.0.0.1:0");
            let port = listener.local_addr().expect("local addr").port();
            let mut out = std::io::stdout().lock();
            writeln!(out, "{port}").expect("print the port");
            out.flush().expect("flush stdout");
            drop(out);
            use axum::serve::ListenerExt;
            let listener = listener.tap_io(|tcp| {
                // Without it, streamed replies stall ~40 ms (Nagle + delayed ACK).
                let _ = tcp.set_nodelay(true);
            });
            axum::serve(listener, app).await.expect("serve");
        });
    }
}
