//! stdio MCP benchmark: whale beside a minimal rmcp stdio server, in one run.
//!
//! The reference server lives in this file: started with `--echo-server`, this
//! binary is a minimal rmcp 3.9 server on `rmcp::transport::stdio()` with one
//! tool, `echo`, that returns its arguments as text. whale is the release
//! binary cargo builds beside this bench, run as
//! `whale --db <fresh temp dir>/whale.db mcp` (seeded once beforehand with
//! `whale stores list`, so first-run seeding is not counted; no API key, no
//! `RUST_LOG`).
//!
//! For each server it measures, through a blocking client (newline-delimited
//! JSON-RPC over the child's pipes, one request in flight):
//! - cold start: spawn → initialize response received, over 20 spawns
//!   (median and min);
//! - sequential `tools/call` latency: 200 warm-up calls, then N timed calls,
//!   each sent after the previous response arrived (p50, p99, mean, calls/s).
//!   whale: `store` `get_settings` and `products` `list_products` (limit 20);
//!   echo: `echo` with a small object;
//! - peak RSS (VmHWM from /proc/<pid>/status) after initialize and just before
//!   the session is closed.
//!
//! Run:   cargo bench --bench stdio
//!        cargo bench --bench stdio -- --json target/stdio-bench.json
//! Quick: WHALE_BENCH_CALLS=200 cargo bench --bench stdio
//! A/B:   WHALE_BENCH_WHALE=/path/to/other/whale cargo bench --bench stdio
//!        (measures that whale binary instead of the one cargo just built)
//!
//! Prints a markdown table with the ratios the targets are stated in
//! (whale/echo cold start, whale store-read p50 / echo p50).

#![allow(clippy::print_stdout, clippy::print_stderr)] // the report is the output
#![allow(clippy::disallowed_methods)] // the bench reads its own switches (WHALE_BENCH_*)

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const COLD_SPAWNS: usize = 20;
const WARMUP_CALLS: usize = 200;
const DEFAULT_CALLS: usize = 2000;
const CALLS_ENV: &str = "WHALE_BENCH_CALLS";
const WHALE_ENV: &str = "WHALE_BENCH_WHALE";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--echo-server") {
        echo_server::run();
        return;
    }
    // cargo passes `--bench` (and maybe a filter): ignore what we do not know.
    let json_path = args
        .iter()
        .position(|a| a == "--json")
        .map(|i| PathBuf::from(args.get(i + 1).expect("--json needs a PATH")));
    let calls = env_count(CALLS_ENV, DEFAULT_CALLS);

    let dir = TempDir::new("stdio");
    let whale = Server::whale(&dir.0.join("whale.db"));
    let echo = Server::echo();
    whale.seed();

    eprintln!(
        "stdio bench: {} vs echo; {COLD_SPAWNS} cold starts, {WARMUP_CALLS} warm-up + {calls} calls per workload",
        whale.program.display()
    );
    let report = Report {
        whale_bin: whale.program.display().to_string(),
        calls,
        whale_cold: cold_start(&whale),
        echo_cold: cold_start(&echo),
        whale_run: session(
            &whale,
            &[
                ("store", json!({"action": "get_settings"})),
                ("products", json!({"action": "list_products", "limit": 20})),
            ],
            calls,
        ),
        echo_run: session(&echo, &[("echo", json!({"message": "hello", "n": 42}))], calls),
    };
    print!("{}", report.markdown());
    if let Some(path) = json_path {
        let text = serde_json::to_string_pretty(&report.json()).expect("serialize report");
        std::fs::write(&path, text + "\n").unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        eprintln!("wrote {}", path.display());
    }
}

// ---------------------------------------------------------------------------
// The servers under test

struct Server {
    name: &'static str,
    program: PathBuf,
    /// whale's `--db`, given before every subcommand.
    db: Option<PathBuf>,
    /// What makes the program serve MCP on stdio.
    serve: &'static str,
}

impl Server {
    fn whale(db: &Path) -> Server {
        Server {
            name: "whale",
            program: std::env::var_os(WHALE_ENV)
                .map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_whale")), PathBuf::from),
            db: Some(db.to_path_buf()),
            serve: "mcp",
        }
    }

    fn echo() -> Server {
        Server {
            name: "echo",
            program: std::env::current_exe().expect("current exe"),
            db: None,
            serve: "--echo-server",
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.program);
        if let Some(db) = &self.db {
            cmd.arg("--db").arg(db);
        }
        cmd.args(args);
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

    /// First run of whale on a fresh database: migrations and demo seed.
    fn seed(&self) {
        let out = self
            .command(&["stores", "list"])
            .stdin(Stdio::null())
            .output()
            .expect("run whale stores list");
        assert!(
            out.status.success(),
            "whale stores list failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn spawn(&self) -> Session {
        let mut child = self
            .command(&[self.serve])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", self.program.display()));
        Session {
            stdin: Some(child.stdin.take().expect("child stdin")),
            stdout: BufReader::new(child.stdout.take().expect("child stdout")),
            child,
            name: self.name,
            line: String::new(),
            next_id: 1,
        }
    }
}

// ---------------------------------------------------------------------------
// A blocking JSON-RPC client over a child's pipes

struct Session {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    name: &'static str,
    line: String,
    next_id: u64,
}

impl Session {
    /// Sends one request (a single write) and blocks until its response line
    /// arrives (kept in `self.line`); returns the instant it was read. Lines
    /// that are not this response (notifications) are skipped.
    fn request(&mut self, method: &str, params: &str) -> Instant {
        let id = self.next_id;
        self.next_id += 1;
        let msg = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"{method}","params":{params}}}"#) + "\n";
        let stdin = self.stdin.as_mut().expect("session open");
        stdin
            .write_all(msg.as_bytes())
            .unwrap_or_else(|e| panic!("{}: write failed: {e}", self.name));
        // One request is in flight, so any other line is a notification.
        let (a, b) = (format!(r#""id":{id},"#), format!(r#""id":{id}}}"#));
        loop {
            self.line.clear();
            let n = self
                .stdout
                .read_line(&mut self.line)
                .unwrap_or_else(|e| panic!("{}: read failed: {e}", self.name));
            let at = Instant::now();
            assert!(
                n > 0,
                "{}: stdout closed while waiting for {method} #{id}",
                self.name
            );
            if self.line.contains(&a) || self.line.contains(&b) {
                return at;
            }
        }
    }

    /// Checks (outside the timed part) that the last response is a success.
    fn check_last(&self, what: &str) {
        let v: Value = serde_json::from_str(&self.line)
            .unwrap_or_else(|e| panic!("{}: {what}: bad JSON ({e}): {}", self.name, self.line));
        let ok = v
            .get("result")
            .is_some_and(|r| r.get("isError") != Some(&Value::Bool(true)));
        assert!(ok, "{}: {what} failed: {}", self.name, self.line.trim());
    }

    fn initialize(&mut self) -> Instant {
        let params = json!({
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "whale-stdio-bench", "version": "0"}
        });
        self.request("initialize", &params.to_string())
    }

    fn notify_initialized(&mut self) {
        let stdin = self.stdin.as_mut().expect("session open");
        stdin
            .write_all(b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n")
            .expect("write notifications/initialized");
    }

    /// Peak resident set size in KiB (VmHWM), Linux only.
    fn peak_rss_kib(&self) -> Option<u64> {
        util::peak_rss_kib(self.child.id())
    }

    /// Closes stdin (EOF ends an MCP stdio server) and reaps the child,
    /// killing it if it does not exit within 10 s.
    fn close(mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    if !status.success() {
                        eprintln!("{}: exited with {status}", self.name);
                    }
                    return;
                }
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(1)),
                _ => {
                    eprintln!("{}: did not exit after EOF; killing it", self.name);
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return;
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Measurements

/// Spawn → initialize response, `COLD_SPAWNS` times.
fn cold_start(server: &Server) -> Vec<Duration> {
    (0..COLD_SPAWNS)
        .map(|_| {
            let start = Instant::now();
            let mut s = server.spawn();
            let end = s.initialize();
            s.check_last("initialize");
            s.close();
            end - start
        })
        .collect()
}

struct Workload {
    tool: &'static str,
    action: Option<String>,
    samples: Vec<Duration>,
    total: Duration,
}

struct Run {
    workloads: Vec<Workload>,
    rss_after_init_kib: Option<u64>,
    peak_rss_kib: Option<u64>,
}

/// One session: initialize, then for each tool `warm-up + calls` sequential
/// `tools/call`s, then the peak RSS.
fn session(server: &Server, tools: &[(&'static str, Value)], calls: usize) -> Run {
    let mut s = server.spawn();
    s.initialize();
    s.check_last("initialize");
    s.notify_initialized();
    let rss_after_init_kib = s.peak_rss_kib();
    let workloads = tools
        .iter()
        .map(|(tool, arguments)| {
            let params = json!({"name": tool, "arguments": arguments}).to_string();
            for _ in 0..WARMUP_CALLS {
                s.request("tools/call", &params);
            }
            s.check_last(&format!("tools/call {tool}"));
            let mut samples = Vec::with_capacity(calls);
            let run_start = Instant::now();
            for _ in 0..calls {
                let start = Instant::now();
                let end = s.request("tools/call", &params);
                samples.push(end - start);
            }
            let total = run_start.elapsed();
            s.check_last(&format!("tools/call {tool}"));
            Workload {
                tool,
                action: arguments
                    .get("action")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                samples,
                total,
            }
        })
        .collect();
    let peak_rss_kib = s.peak_rss_kib();
    s.close();
    Run {
        workloads,
        rss_after_init_kib,
        peak_rss_kib,
    }
}

struct Stats {
    p50: Duration,
    p99: Duration,
    mean: Duration,
    min: Duration,
    per_sec: f64,
}

fn stats(samples: &[Duration], total: Duration) -> Stats {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    // nearest-rank percentile
    let pct = |p: usize| sorted[(sorted.len() * p).div_ceil(100).max(1) - 1];
    Stats {
        p50: pct(50),
        p99: pct(99),
        mean: sorted.iter().sum::<Duration>() / sorted.len() as u32,
        min: sorted[0],
        per_sec: samples.len() as f64 / total.as_secs_f64(),
    }
}

// ---------------------------------------------------------------------------
// Report

struct Report {
    whale_bin: String,
    calls: usize,
    whale_cold: Vec<Duration>,
    echo_cold: Vec<Duration>,
    whale_run: Run,
    echo_run: Run,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

impl Report {
    fn cold(samples: &[Duration]) -> Stats {
        stats(samples, samples.iter().sum())
    }

    fn rows(&self) -> Vec<(&'static str, String, Stats)> {
        [("whale", &self.whale_run), ("echo", &self.echo_run)]
            .into_iter()
            .flat_map(|(server, run)| {
                run.workloads.iter().map(move |w| {
                    let call = match &w.action {
                        Some(a) => format!("{} {a}", w.tool),
                        None => w.tool.to_string(),
                    };
                    (server, call, stats(&w.samples, w.total))
                })
            })
            .collect()
    }

    fn cold_ratio(&self) -> f64 {
        us(Self::cold(&self.whale_cold).p50) / us(Self::cold(&self.echo_cold).p50)
    }

    /// whale `tools/call` p50 of workload `i` / echo p50.
    fn call_ratio(&self, i: usize) -> f64 {
        let echo = &self.echo_run.workloads[0];
        let whale = &self.whale_run.workloads[i];
        us(stats(&whale.samples, whale.total).p50) / us(stats(&echo.samples, echo.total).p50)
    }

    fn markdown(&self) -> String {
        let (wc, ec) = (Self::cold(&self.whale_cold), Self::cold(&self.echo_cold));
        let mut s = String::new();
        s += "\n## stdio MCP: whale vs minimal rmcp stdio server (echo)\n\n";
        s += &format!("Cold start (spawn → initialize response, {COLD_SPAWNS} spawns):\n\n");
        s += "| server | median | min | peak RSS after init | peak RSS at end |\n";
        s += "|---|---:|---:|---:|---:|\n";
        for (name, c, run) in [("whale", &wc, &self.whale_run), ("echo", &ec, &self.echo_run)] {
            s += &format!(
                "| {name} | {:.2} ms | {:.2} ms | {} | {} |\n",
                ms(c.p50),
                ms(c.min),
                mib(run.rss_after_init_kib),
                mib(run.peak_rss_kib)
            );
        }
        s += &format!(
            "\nSequential tools/call ({WARMUP_CALLS} warm-up, then {} timed calls each; one in flight):\n\n",
            self.calls
        );
        s += "| server | call | p50 | p99 | mean | min | calls/s |\n";
        s += "|---|---|---:|---:|---:|---:|---:|\n";
        for (server, call, st) in self.rows() {
            s += &format!(
                "| {server} | {call} | {:.1} µs | {:.1} µs | {:.1} µs | {:.1} µs | {:.0} |\n",
                us(st.p50),
                us(st.p99),
                us(st.mean),
                us(st.min),
                st.per_sec
            );
        }
        s += "\nRatios (whale / echo):\n\n";
        s += "| ratio | value |\n|---|---:|\n";
        s += &format!("| cold start median | {:.2}× |\n", self.cold_ratio());
        for (i, w) in self.whale_run.workloads.iter().enumerate() {
            let call = w.action.as_deref().unwrap_or(w.tool);
            s += &format!(
                "| {} {call} p50 / echo p50 | {:.2}× |\n",
                w.tool,
                self.call_ratio(i)
            );
        }
        if let (Some(w), Some(e)) = (self.whale_run.peak_rss_kib, self.echo_run.peak_rss_kib) {
            s += &format!("| peak RSS | {:.2}× |\n", w as f64 / e as f64);
        }
        s
    }

    fn json(&self) -> Value {
        let cold = |samples: &[Duration]| {
            let c = Self::cold(samples);
            json!({"median_us": us(c.p50), "min_us": us(c.min), "spawns": samples.len()})
        };
        let calls: Vec<Value> = self
            .rows()
            .into_iter()
            .map(|(server, call, st)| {
                json!({
                    "server": server, "call": call, "calls": self.calls,
                    "p50_us": us(st.p50), "p99_us": us(st.p99), "mean_us": us(st.mean),
                    "min_us": us(st.min), "calls_per_s": st.per_sec,
                })
            })
            .collect();
        let ratios: serde_json::Map<String, Value> =
            std::iter::once(("cold_start_median".to_string(), json!(self.cold_ratio())))
                .chain(self.whale_run.workloads.iter().enumerate().map(|(i, w)| {
                    let call = w.action.as_deref().unwrap_or(w.tool);
                    (format!("{}_{call}_p50", w.tool), json!(self.call_ratio(i)))
                }))
                .collect();
        json!({
            "whale_binary": self.whale_bin,
            "warmup_calls": WARMUP_CALLS,
            "cold_start": {"whale": cold(&self.whale_cold), "echo": cold(&self.echo_cold)},
            "tools_call": calls,
            "peak_rss_kib": {
                "whale": {"after_init": self.whale_run.rss_after_init_kib, "end": self.whale_run.peak_rss_kib},
                "echo": {"after_init": self.echo_run.rss_after_init_kib, "end": self.echo_run.peak_rss_kib},
            },
            "ratios_whale_over_echo": ratios,
        })
    }
}

// ---------------------------------------------------------------------------
// The reference: a minimal rmcp stdio server

#[path = "common/echo.rs"]
mod echo;
#[path = "common/util.rs"]
mod util;
use util::{TempDir, env_count, mib, us};

mod echo_server {
    use rmcp::ServiceExt;

    use super::echo::Echo;

    pub fn run() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        runtime.block_on(async {
            match Echo.serve(rmcp::transport::stdio()).await {
                Ok(running) => {
                    let _ = running.waiting().await;
                }
                Err(e) => eprintln!("echo server: session did not start: {e}"),
            }
        });
    }
}
