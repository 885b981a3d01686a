//! Black-box test harness for the `whale` binary.
//!
//! Every test drives the built binary (`CARGO_BIN_EXE_whale`) the way a user
//! or an MCP host does: command lines for the CLI, newline-delimited JSON-RPC
//! over a child's stdin/stdout for `whale mcp`. Nothing here links to the
//! crate's internals.
//!
//! Test files, by area:
//! - `tests/stdio.rs` — MCP over stdio as raw JSON-RPC: handshake (session
//!   and stateless `server/discover`), tools/list in both modes and pages,
//!   both spellings of tools/call, input errors that change nothing, scopes,
//!   tool filters, sandbox (test-mode) and store isolation, revocation
//!   mid-session, order money/cancel/refund semantics, and protocol hygiene
//!   (parse errors, non-UTF-8 and oversized lines, cancellation, clean exit,
//!   stdout only JSON-RPC).
//! - `tests/cli.rs` — the shell surface: keys (create/list/rotate/revoke,
//!   shown once), executions (list/show/stats and their filters), tools
//!   (list/schema/test/call), stores, `install claude`, exit codes.
//! - `tests/concurrency.rs` — several processes on one database: no
//!   overselling, one audit row per order, concurrent first run, and no lost
//!   acknowledged write after SIGKILL.
//! - `tests/python_client.rs` — an independent client (the official Python
//!   MCP SDK, `tests/clients/stdio_client.py`) against `whale mcp`.
//! - `tests/http.rs` — HTTP mode: both transports (hand-written clients in
//!   `common/http_client.rs` and the Python SDK), auth, sessions bound to
//!   credentials, Host/Origin, body limits, rate limits, REST, load and
//!   graceful shutdown.
//! - `tests/oauth.rs` — the embedded authorization server with the test as
//!   browser (and once headless Chromium, `tests/clients/browser_login.mjs`),
//!   every negative case with nothing issued, client credentials,
//!   introspection, metadata documents, external-AS mode against a fake
//!   introspection endpoint, and `whale login` → bridge → refresh → logout.
//! - `tests/login.rs`, `tests/bridge.rs` — the client side (login, keychain
//!   or file store, refresh serialization, logout) against a fake
//!   authorization server, and the stdio bridge against a real server.
//!
//! Rules every helper follows: each [`Whale`] owns a fresh temporary
//! directory and database; children run with `WHALETOOLS_API_KEY`,
//! `WHALE_STORE`, `WHALE_DB` and `RUST_LOG` removed unless a test sets them;
//! every wait on a child is bounded ([`TIMEOUT`]) and children are killed on
//! drop. Replies are matched by JSON-RPC id, never by arrival order.

#![allow(dead_code)] // each test crate uses a different part of the harness

pub mod http_client;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Upper bound for any single wait on a child (a reply, an exit). Generous:
/// debug builds on a loaded CI machine are slow, and a test that hits it has
/// hung, not merely been slow.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_whale")
}

/// Environment variables whale reads; removed from every child unless the
/// test passes them explicitly.
const CLEARED_ENV: &[&str] = &[
    "WHALETOOLS_API_KEY",
    "WHALE_STORE",
    "WHALE_DB",
    "RUST_LOG",
    "WHALE_TOOL_TIMEOUT_MS",
    "WHALE_AUDIT_GIVE_UP_MS",
    "WHALE_INTROSPECTION_CLIENT_ID",
    "WHALE_INTROSPECTION_CLIENT_SECRET",
    "DBUS_SESSION_BUS_ADDRESS",
    "WHALE_CREDENTIAL_STORE",
    "WHALE_CONFIG_DIR",
    "DISPLAY",
    "WAYLAND_DISPLAY",
];

// ---------------------------------------------------------------------------
// A temporary directory with a database
// ---------------------------------------------------------------------------

/// A fresh directory and database path for one test; removed on drop.
pub struct Whale {
    pub dir: PathBuf,
    pub db: PathBuf,
}

impl Default for Whale {
    fn default() -> Self {
        Self::new()
    }
}

impl Whale {
    /// A new empty directory under the system temp dir. The database is
    /// created (and the demo store seeded) by the first command that runs.
    pub fn new() -> Whale {
        static N: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "whale-test-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        let db = dir.join("whale.db");
        Whale { dir, db }
    }

    /// A `whale --db <db> ...` command with a clean environment. HOME and the
    /// XDG directories point into the temp dir so nothing can touch the real
    /// user's files, and the D-Bus session address points at nothing, so no
    /// test can reach (or prompt from) a real keychain: the keychain is
    /// unavailable, as on a headless CI machine.
    pub fn command(&self, args: &[&str]) -> Command {
        self.command_under(&[], args)
    }

    /// [`Whale::command`] run through `wrapper` (a program and its
    /// arguments that exec the rest, such as `prlimit --nice=0:0`): the
    /// same database, environment and directory, and whale's own pid.
    pub fn command_under(&self, wrapper: &[&str], args: &[&str]) -> Command {
        self.command_on(&self.db, wrapper, args)
    }

    /// [`Whale::run_env`] on another database file than this one's (one
    /// that does not exist, or is not a database), in the same clean
    /// environment.
    pub fn run_on(&self, db: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = self.command_on(db, &[], args);
        cmd.envs(env.iter().copied());
        run_bounded(cmd, &format!("whale --db {} {}", db.display(), args.join(" ")))
    }

    fn command_on(&self, db: &std::path::Path, wrapper: &[&str], args: &[&str]) -> Command {
        let mut cmd = match wrapper.split_first() {
            None => Command::new(bin()),
            Some((program, rest)) => {
                let mut c = Command::new(program);
                c.args(rest).arg(bin());
                c
            }
        };
        cmd.arg("--db").arg(db).args(args);
        for k in CLEARED_ENV {
            cmd.env_remove(k);
        }
        cmd.env("XDG_DATA_HOME", self.dir.join("xdg-data"))
            .env("XDG_CONFIG_HOME", self.dir.join("xdg-config"))
            .env("HOME", &self.dir)
            .env("XDG_RUNTIME_DIR", self.dir.join("xdg-runtime"))
            .env(
                "DBUS_SESSION_BUS_ADDRESS",
                format!("unix:path={}", self.dir.join("no-dbus-here").display()),
            )
            .current_dir(&self.dir);
        cmd
    }

    /// [`Whale::command`] with extra environment variables.
    pub fn command_env(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut cmd = self.command(args);
        cmd.envs(env.iter().copied());
        cmd
    }

    /// Runs `whale ARGS` to completion (bounded by [`TIMEOUT`]).
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_env(args, &[])
    }

    /// Runs `whale ARGS` with extra environment variables.
    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        run_bounded(self.command_env(args, env), &format!("whale {}", args.join(" ")))
    }

    /// Runs `whale ARGS` with `input` on its stdin (bounded by [`TIMEOUT`]).
    pub fn run_input(&self, args: &[&str], input: &str) -> Output {
        run_bounded_input(
            self.command(args),
            &format!("whale {}", args.join(" ")),
            Some(input),
        )
    }

    /// Runs `whale ARGS`, asserts exit 0 and parses stdout as JSON.
    pub fn json(&self, args: &[&str]) -> Value {
        self.json_env(args, &[])
    }

    pub fn json_env(&self, args: &[&str], env: &[(&str, &str)]) -> Value {
        let out = self.run_env(args, env);
        assert_exit(&out, 0, &format!("whale {}", args.join(" ")));
        parse_json(&out.stdout, &format!("stdout of whale {}", args.join(" ")))
    }

    /// `whale tools call TOOL --action ACTION --input INPUT` as the local
    /// owner; asserts success and returns the result.
    pub fn tool(&self, tool: &str, action: &str, input: Value) -> Value {
        self.tool_with(&[], tool, action, input)
    }

    /// [`Whale::tool`] on another store than the default (`--store`).
    pub fn tool_in(&self, store: &str, tool: &str, action: &str, input: Value) -> Value {
        self.tool_with(&["--store", store], tool, action, input)
    }

    fn tool_with(&self, global: &[&str], tool: &str, action: &str, input: Value) -> Value {
        let input = input.to_string();
        let mut args = global.to_vec();
        args.extend(["tools", "call", tool, "--action", action, "--input", &input]);
        self.json(&args)
    }

    /// Creates an API key for `scopes` (test mode when `test`) and returns
    /// `(id, key)`.
    pub fn create_key(&self, scopes: &str, test: bool) -> (String, String) {
        self.create_key_as("test-agent", scopes, test, &[])
    }

    /// Creates a key for a named agent; `extra` is appended to the command
    /// (e.g. `["--store", "other"]`).
    pub fn create_key_as(&self, agent: &str, scopes: &str, test: bool, extra: &[&str]) -> (String, String) {
        let mut args = vec!["keys", "create", "--agent", agent, "--scopes", scopes, "--json"];
        if test {
            args.push("--test");
        }
        args.extend_from_slice(extra);
        let v = self.json(&args);
        let id = v["id"].as_str().expect("key id").to_string();
        let key = v["key"].as_str().expect("key secret").to_string();
        assert!(id.starts_with("key_"), "key id {id}");
        let prefix = if test { "wt_test_" } else { "wt_live_" };
        assert!(key.starts_with(prefix), "key {key} lacks {prefix}");
        (id, key)
    }

    /// `executions list --json` with extra filter arguments, newest first.
    pub fn executions(&self, filter: &[&str]) -> Value {
        let mut args = vec!["executions", "list", "--json", "--limit", "1000"];
        args.extend_from_slice(filter);
        self.json(&args)
    }

    /// Spawns `whale --db <db> mcp ARGS` as the local owner.
    pub fn mcp(&self, args: &[&str]) -> Mcp {
        Mcp::spawn(self, args, &[])
    }

    /// Spawns `whale --db <db> mcp ARGS` acting as API key `key`.
    pub fn mcp_key(&self, args: &[&str], key: &str) -> Mcp {
        Mcp::spawn(self, args, &[("WHALETOOLS_API_KEY", key)])
    }

    /// Opens the database read-only (for what no whale surface shows).
    #[allow(clippy::disallowed_methods)] // a test's own read-only look, not the product's store layer
    pub fn sqlite(&self) -> rusqlite::Connection {
        rusqlite::Connection::open_with_flags(&self.db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open the database read-only")
    }

    /// A connection of another process's kind that holds the database's
    /// write lock (`BEGIN IMMEDIATE`) until it is dropped.
    #[allow(clippy::disallowed_methods)] // plays another program holding the lock
    pub fn hold_write_lock(&self) -> rusqlite::Connection {
        let conn = rusqlite::Connection::open(&self.db).expect("open the database");
        conn.busy_timeout(TIMEOUT).expect("busy timeout");
        conn.execute_batch("BEGIN IMMEDIATE")
            .expect("take the write lock");
        conn
    }

    /// The number of audit rows on disk.
    pub fn audit_rows(&self) -> i64 {
        self.sqlite()
            .query_row("SELECT count(*) FROM executions", [], |r| r.get(0))
            .expect("count executions")
    }

    /// A session (with `env`) whose first call's audit row is on disk, so
    /// that what follows is the only work queued.
    pub fn mcp_with_one_audit_row(&self, env: &[(&str, &str)]) -> Mcp {
        let mut m = Mcp::spawn(self, &[], env).started();
        m.call_ok("store", json!({"action": "get_settings"}));
        let deadline = std::time::Instant::now() + TIMEOUT;
        while self.audit_rows() == 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(self.audit_rows(), 1, "the first call's audit row");
        m
    }

    /// The name in the `demo` store's live settings, read from the file.
    pub fn demo_store_name(&self) -> String {
        self.sqlite()
            .query_row(
                "SELECT name FROM store_settings WHERE store_id = 'demo' AND mode = 'live'",
                [],
                |r| r.get(0),
            )
            .expect("store name")
    }

    /// `PRAGMA integrity_check` on the database file.
    pub fn integrity_check(&self) -> String {
        self.sqlite()
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .expect("integrity_check")
    }
}

impl Drop for Whale {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// ---------------------------------------------------------------------------
// Running a command with a deadline
// ---------------------------------------------------------------------------

/// What `whale login --no-browser` prints before the authorize URL.
pub const LOGIN_URL_PREFIX: &str = "Open this URL to sign in: ";

impl Whale {
    /// Runs `whale ARGS` (a `login --no-browser …`) with extra environment,
    /// hands the authorize URL it prints to `browser` (which plays the
    /// person and returns what the browser ends up showing), and waits for
    /// whale to exit. Bounded by [`TIMEOUT`].
    pub fn login_with_browser(
        &self,
        args: &[&str],
        env: &[(&str, &str)],
        browser: impl FnOnce(&str) -> String,
    ) -> (Output, Option<String>) {
        let mut cmd = self.command_env(args, env);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn whale login");
        let out = drain(child.stdout.take().expect("stdout"));
        let err = child.stderr.take().expect("stderr");
        let (tx, rx) = channel::<String>();
        let err_reader = std::thread::spawn(move || {
            let mut all = Vec::new();
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = tx.send(line.clone());
                all.push(line);
            }
            all.join("\n")
        });
        let mut page = None;
        let deadline = Instant::now() + TIMEOUT;
        while let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            if let Some(url) = line.strip_prefix(LOGIN_URL_PREFIX) {
                page = Some(browser(url.trim()));
                break;
            }
        }
        let status = wait_bounded(&mut child, TIMEOUT).unwrap_or_else(|| {
            let _ = child.kill();
            panic!("whale login did not exit within {TIMEOUT:?}");
        });
        let output = Output {
            status,
            stdout: out.join().expect("stdout reader"),
            stderr: err_reader.join().expect("stderr reader").into_bytes(),
        };
        (output, page)
    }
}

/// The Python with the official MCP SDK that the independent-client tests
/// run: `WHALE_TEST_PYTHON`, else `.venv/bin/python` (made by `.ci/run`).
pub fn python() -> PathBuf {
    #[allow(clippy::disallowed_methods)] // tests read their own configuration
    let from_env = std::env::var_os("WHALE_TEST_PYTHON").filter(|v| !v.is_empty());
    let candidate = from_env
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python"));
    assert!(
        candidate.exists(),
        "no Python with the MCP SDK at {} — run .ci/run or: python3 -m venv .venv && .venv/bin/pip install mcp \
         (or set WHALE_TEST_PYTHON to an interpreter that has it)",
        candidate.display()
    );
    candidate
}

/// Runs `cmd` to completion, reading stdout and stderr on threads; kills it
/// and panics if it does not exit within [`TIMEOUT`].
pub fn run_bounded(cmd: Command, what: &str) -> Output {
    run_bounded_input(cmd, what, None)
}

/// [`run_bounded`] with `input` written to the child's stdin.
pub fn run_bounded_input(mut cmd: Command, what: &str, input: Option<&str>) -> Output {
    cmd.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {what}: {e}"));
    if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin
            .write_all(input.as_bytes())
            .unwrap_or_else(|e| panic!("{what}: write stdin: {e}"));
    }
    let out = drain(child.stdout.take().expect("stdout"));
    let err = drain(child.stderr.take().expect("stderr"));
    let status = wait_bounded(&mut child, TIMEOUT).unwrap_or_else(|| {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{what} did not exit within {TIMEOUT:?}");
    });
    Output {
        status,
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
    }
}

fn drain(mut r: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        buf
    })
}

/// Polls `child` until it exits or `timeout` passes.
pub fn wait_bounded(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            return Some(s);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts the exit code, showing both streams when it differs.
pub fn assert_exit(out: &Output, code: i32, what: &str) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{what}: expected exit {code}\n--- stdout\n{}\n--- stderr\n{}",
        stdout(out),
        stderr(out)
    );
}

pub fn parse_json(bytes: &[u8], what: &str) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("{what} is not JSON ({e}):\n{}", String::from_utf8_lossy(bytes)))
}

// ---------------------------------------------------------------------------
// An MCP session over a child's stdio
// ---------------------------------------------------------------------------

/// `whale mcp` as a child process spoken to in newline-delimited JSON-RPC.
///
/// A reader thread forwards every stdout line; replies are buffered by id so
/// pipelined requests can be answered in any order. Messages without a
/// matching id (notifications, errors with `id: null`) are kept in
/// [`Mcp::unmatched`]. The child is killed when the value is dropped.
pub struct Mcp {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    /// Every stdout line received so far, verbatim.
    pub raw: Vec<String>,
    /// Replies received but not yet claimed, by serialized id.
    replies: HashMap<String, Value>,
    /// Messages that are not replies to a request (or have a null id).
    pub unmatched: Vec<Value>,
    stderr: Arc<Mutex<Vec<u8>>>,
    next_id: i64,
}

impl Mcp {
    /// Spawns `whale --db <db> mcp ARGS` with extra environment variables.
    pub fn spawn(w: &Whale, args: &[&str], env: &[(&str, &str)]) -> Mcp {
        let mut full = vec!["mcp"];
        full.extend_from_slice(args);
        Mcp::from_command(w.command_env(&full, env))
    }

    /// Spawns an arbitrary prepared command that speaks MCP on stdio.
    pub fn from_command(mut cmd: Command) -> Mcp {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn whale mcp");
        let stdin = child.stdin.take();
        let out = child.stdout.take().expect("stdout");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                match line {
                    Ok(l) => {
                        if tx.send(l).is_err() {
                            return;
                        }
                    }
                    Err(_) => return,
                }
            }
        });
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let sink = stderr.clone();
        let mut err = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    return;
                }
                sink.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend_from_slice(&buf[..n]);
            }
        });
        Mcp {
            child,
            stdin,
            lines,
            raw: Vec::new(),
            replies: HashMap::new(),
            unmatched: Vec::new(),
            stderr,
            next_id: 1,
        }
    }

    /// What the child wrote to stderr so far.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }

    /// Writes one line (a newline is appended).
    pub fn send_raw(&mut self, line: &str) {
        self.send_bytes(line.as_bytes());
    }

    /// Writes one line of arbitrary bytes (a newline is appended).
    pub fn send_bytes(&mut self, line: &[u8]) {
        self.send_piece(&[line, b"\n"].concat());
    }

    /// Writes bytes as they are (no newline), flushed: a message can be
    /// split across writes.
    pub fn send_piece(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin already closed");
        stdin
            .write_all(bytes)
            .and_then(|_| stdin.flush())
            .expect("write to whale mcp");
    }

    /// Writes one JSON-RPC message.
    pub fn send(&mut self, msg: &Value) {
        self.send_raw(&msg.to_string());
    }

    /// Sends a notification (no reply expected).
    pub fn notify(&mut self, method: &str, params: Value) {
        let mut msg = json!({"jsonrpc": "2.0", "method": method});
        if !params.is_null() {
            msg["params"] = params;
        }
        self.send(&msg);
    }

    /// Sends a request with the next id without waiting; returns the id.
    pub fn send_request(&mut self, method: &str, params: Value) -> Value {
        let id = json!(self.next_id);
        self.next_id += 1;
        let mut msg = json!({"jsonrpc": "2.0", "id": id, "method": method});
        if !params.is_null() {
            msg["params"] = params;
        }
        self.send(&msg);
        id
    }

    /// Sends `n` calls of tool `name` with `arguments` without waiting;
    /// their ids, in order.
    pub fn send_calls(&mut self, n: usize, name: &str, arguments: &Value) -> Vec<Value> {
        (0..n)
            .map(|_| self.send_request("tools/call", json!({"name": name, "arguments": arguments})))
            .collect()
    }

    /// Sends a request and waits for its reply (the whole JSON-RPC message).
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.send_request(method, params);
        self.response(&id, TIMEOUT)
    }

    /// The next stdout message, or `None` after `timeout` or at EOF.
    pub fn next_message(&mut self, timeout: Duration) -> Option<Value> {
        match self.lines.recv_timeout(timeout) {
            Ok(line) => {
                self.raw.push(line.clone());
                Some(serde_json::from_str(&line).unwrap_or_else(|e| {
                    panic!(
                        "whale mcp wrote a non-JSON line to stdout ({e}): {line}\nstderr:\n{}",
                        self.stderr()
                    )
                }))
            }
            Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => None,
        }
    }

    /// Waits for the reply to request `id`, buffering any other message.
    pub fn response(&mut self, id: &Value, timeout: Duration) -> Value {
        self.try_response(id, timeout).unwrap_or_else(|| {
            panic!(
                "no reply to request {id} within {timeout:?}; stdout so far:\n{}\nstderr:\n{}",
                self.raw.join("\n"),
                self.stderr()
            )
        })
    }

    /// Like [`Mcp::response`] but `None` when no reply came (timeout or EOF).
    pub fn try_response(&mut self, id: &Value, timeout: Duration) -> Option<Value> {
        let key = id.to_string();
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = self.replies.remove(&key) {
                return Some(v);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            let msg = self.next_message(left)?;
            self.file(msg);
        }
    }

    /// Waits for the next message that is not a reply to a request with a
    /// non-null id (e.g. an error answered with `id: null`).
    pub fn next_unmatched(&mut self, timeout: Duration) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            if !self.unmatched.is_empty() {
                return Some(self.unmatched.remove(0));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            let msg = self.next_message(left)?;
            self.file(msg);
        }
    }

    fn file(&mut self, msg: Value) {
        let is_reply = msg.get("result").is_some() || msg.get("error").is_some();
        match msg.get("id") {
            Some(id) if is_reply && !id.is_null() => {
                self.replies.insert(id.to_string(), msg);
            }
            _ => self.unmatched.push(msg),
        }
    }

    /// The `initialize` handshake followed by `notifications/initialized`;
    /// returns the initialize result.
    pub fn initialize(&mut self, protocol_version: &str) -> Value {
        let reply = self.request(
            "initialize",
            json!({
                "protocolVersion": protocol_version,
                "capabilities": {},
                "clientInfo": {"name": "whale-tests", "version": "0"}
            }),
        );
        let result = reply
            .get("result")
            .unwrap_or_else(|| panic!("initialize failed: {reply}\nstderr:\n{}", self.stderr()))
            .clone();
        self.notify("notifications/initialized", Value::Null);
        result
    }

    /// A started session: spawned and initialized with 2025-11-25.
    pub fn started(mut self) -> Mcp {
        self.initialize("2025-11-25");
        self
    }

    /// `tools/call` and its reply (the whole JSON-RPC message).
    pub fn call_reply(&mut self, name: &str, args: Value) -> Value {
        self.request("tools/call", json!({"name": name, "arguments": args}))
    }

    /// `tools/call` and its result; panics on a JSON-RPC error (a tool
    /// failure is a result with `isError: true`, returned normally).
    pub fn call(&mut self, name: &str, args: Value) -> Value {
        let reply = self.call_reply(name, args);
        match reply.get("result") {
            Some(r) => r.clone(),
            None => panic!("tools/call {name} got a JSON-RPC error: {reply}"),
        }
    }

    /// `tools/call` that must succeed; returns `structuredContent`.
    pub fn call_ok(&mut self, name: &str, args: Value) -> Value {
        let r = self.call(name, args.clone());
        assert_ne!(
            r["isError"],
            json!(true),
            "{name} {args} failed: {}",
            error_text(&r)
        );
        r.get("structuredContent")
            .cloned()
            .unwrap_or_else(|| panic!("{name} result lacks structuredContent: {r}"))
    }

    /// `tools/call` that must fail as a tool error; returns its text.
    pub fn call_err(&mut self, name: &str, args: Value) -> String {
        let r = self.call(name, args.clone());
        assert_eq!(r["isError"], json!(true), "{name} {args} should have failed: {r}");
        error_text(&r)
    }

    /// Closes stdin (EOF) and waits for the exit; kills and panics after
    /// [`TIMEOUT`].
    pub fn close(mut self) -> ExitStatus {
        drop(self.stdin.take());
        match wait_bounded(&mut self.child, TIMEOUT) {
            Some(s) => s,
            None => panic!(
                "whale mcp did not exit within {TIMEOUT:?} of stdin EOF\nstderr:\n{}",
                self.stderr()
            ),
        }
    }

    /// Closes stdin and asserts a clean exit (code 0).
    pub fn finish(self) {
        let status = self.close();
        assert_eq!(status.code(), Some(0), "whale mcp exit status {status:?}");
    }

    /// SIGKILL (no chance to flush anything), then reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM (a graceful shutdown request).
    #[cfg(unix)]
    pub fn sigterm(&self) {
        sigterm(&self.child);
    }

    /// Waits for the exit, at most `timeout` (stdin stays open).
    pub fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        wait_bounded(&mut self.child, timeout)
    }
}

/// Sends SIGTERM to our own child `child`, not yet reaped.
#[cfg(unix)]
#[allow(unsafe_code)] // one libc call on our own child's pid
fn sigterm(child: &Child) {
    let pid = libc::pid_t::try_from(child.id()).expect("pid fits pid_t");
    // SAFETY: kill(2) has no memory-safety preconditions; the pid is our
    // own child, not yet reaped (reaping happens only in `wait`/drop).
    let rc = unsafe { libc::kill(pid, libc::SIGTERM) };
    assert_eq!(rc, 0, "kill(SIGTERM) failed");
}

impl Drop for Mcp {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The text of a tool result's content blocks, joined.
pub fn error_text(result: &Value) -> String {
    result["content"]
        .as_array()
        .map(|blocks| {
            blocks
                .iter()
                .filter_map(|b| b["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------
// Store data helpers (through the product's own tools)
// ---------------------------------------------------------------------------

/// A variant with stock at the store's default location.
#[derive(Debug, Clone)]
pub struct StockedVariant {
    pub variant_id: String,
    pub sku: String,
    pub location_id: String,
    pub available: i64,
}

/// Finds an active product's variant with at least `min` units at the
/// default location, through any door: `call(tool, action, input)` returns
/// the action's structured result.
pub fn stocked_variant(call: impl FnMut(&str, &str, Value) -> Value, min: i64) -> StockedVariant {
    stocked_variants(call, min, 1).remove(0)
}

/// `n` distinct variants of active products, each with at least `min` units
/// at the default location.
pub fn stocked_variants(
    mut call: impl FnMut(&str, &str, Value) -> Value,
    min: i64,
    n: usize,
) -> Vec<StockedVariant> {
    let locations = call("locations", "list_locations", json!({}));
    let location_id = locations["locations"]
        .as_array()
        .expect("locations list")
        .iter()
        .find(|l| l["is_default"] == json!(true))
        .and_then(|l| l["id"].as_str())
        .expect("a default location")
        .to_string();
    let products = call("products", "list_products", json!({"limit": 100}));
    let mut found = Vec::new();
    for p in products["items"].as_array().expect("product items") {
        if p["status"] != json!("active") || p["available"].as_i64().unwrap_or(0) < min {
            continue;
        }
        let levels = call("inventory", "get_levels", json!({"product_id": p["id"]}));
        for v in levels["variants"].as_array().expect("variants") {
            let here = v["levels"]
                .as_array()
                .expect("levels")
                .iter()
                .find(|l| l["location_id"] == json!(location_id))
                .and_then(|l| l["available"].as_i64())
                .unwrap_or(0);
            if here >= min {
                found.push(StockedVariant {
                    variant_id: v["variant_id"].as_str().expect("variant_id").to_string(),
                    sku: v["sku"].as_str().expect("sku").to_string(),
                    location_id: location_id.clone(),
                    available: here,
                });
                if found.len() == n {
                    return found;
                }
            }
        }
    }
    panic!("fewer than {n} active variants with {min} units at the default location");
}

/// Units of `variant_id` at `location_id`, through `call`.
pub fn stock_at(
    mut call: impl FnMut(&str, &str, Value) -> Value,
    variant_id: &str,
    location_id: &str,
) -> i64 {
    let levels = call("inventory", "get_levels", json!({"variant_id": variant_id}));
    levels["variants"][0]["levels"]
        .as_array()
        .expect("levels")
        .iter()
        .find(|l| l["location_id"] == json!(location_id))
        .and_then(|l| l["available"].as_i64())
        .unwrap_or_else(|| panic!("no level at {location_id}: {levels}"))
}

/// An order input for `qty` units of one variant (paid).
pub fn order_input(variant_id: &str, qty: i64) -> Value {
    json!({"items": [{"variant_id": variant_id, "quantity": qty}], "paid": true})
}

/// One action as `tools list --json` describes it: `(name, effect, idempotent)`.
pub type ActionInfo = (String, String, bool);
/// One tool and its actions, in registry order.
pub type ToolInfo = (String, Vec<ActionInfo>);

/// The registry as `whale tools list --json` shows it, in its order.
pub fn registry(w: &Whale) -> Vec<ToolInfo> {
    let v = w.json(&["tools", "list", "--json"]);
    v["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .map(|t| {
            (
                t["name"].as_str().expect("name").to_string(),
                t["actions"]
                    .as_array()
                    .expect("actions")
                    .iter()
                    .map(|a| {
                        (
                            a["name"].as_str().expect("action name").to_string(),
                            a["effect"].as_str().expect("effect").to_string(),
                            a["idempotent"].as_bool().expect("idempotent"),
                        )
                    })
                    .collect(),
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------
// HTTP mode: `whale mcp --transport sse` as a server on a loopback port
// ---------------------------------------------------------------------------

/// A running `whale mcp --transport sse --port 0`: the port it chose (read
/// from its stderr banner), its stderr so far, and SIGTERM. Killed on drop.
pub struct HttpServer {
    child: Child,
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub base: String,
    pub port: u16,
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl Whale {
    /// Spawns `whale --db <db> mcp --transport sse --port 0 EXTRA...` and
    /// waits (bounded by [`TIMEOUT`]) for its banner
    /// `whale: serving MCP on http://127.0.0.1:PORT/mcp …`.
    pub fn serve_http(&self, extra: &[&str]) -> HttpServer {
        self.serve_http_env(extra, &[])
    }

    /// [`Whale::serve_http`] with extra environment variables.
    pub fn serve_http_env(&self, extra: &[&str], env: &[(&str, &str)]) -> HttpServer {
        let mut args = vec!["mcp", "--transport", "sse", "--port", "0"];
        args.extend_from_slice(extra);
        let mut cmd = self.command_env(&args, env);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn whale mcp --transport sse");
        let err = child.stderr.take().expect("stderr");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let sink = stderr.clone();
        let (tx, lines) = channel::<String>();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(err);
            let mut line = Vec::new();
            loop {
                line.clear();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        sink.lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .extend_from_slice(&line);
                        let _ = tx.send(String::from_utf8_lossy(&line).into_owned());
                    }
                }
            }
        });
        let deadline = Instant::now() + TIMEOUT;
        let port = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match lines.recv_timeout(left) {
                Ok(l) => l,
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "whale mcp --transport sse printed no banner within {TIMEOUT:?}\nstderr:\n{}",
                        String::from_utf8_lossy(&stderr.lock().unwrap_or_else(|p| p.into_inner()))
                    );
                }
            };
            // `http://127.0.0.1:PORT/mcp`, or another bound address (the
            // tests still connect over loopback).
            if let Some(addr) = line.split("serving MCP on http://").nth(1)
                && let Some((_, rest)) = addr.split('/').next().and_then(|a| a.rsplit_once(':'))
            {
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                break digits
                    .parse::<u16>()
                    .unwrap_or_else(|e| panic!("port in banner {line:?}: {e}"));
            }
        };
        HttpServer {
            child,
            base: format!("http://127.0.0.1:{port}"),
            port,
            stderr,
        }
    }
}

impl HttpServer {
    /// `base` + `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }

    /// Sends SIGTERM (a graceful shutdown request).
    #[cfg(unix)]
    pub fn sigterm(&self) {
        sigterm(&self.child);
    }

    /// Waits for the exit, at most `timeout`.
    pub fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        wait_bounded(&mut self.child, timeout)
    }

    /// Has the server exited already (without waiting)?
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("try_wait")
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
