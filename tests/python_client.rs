//! An independent MCP client — the official Python SDK, driven by
//! `tests/clients/stdio_client.py` — launches `whale mcp` and talks to it:
//! handshake (or stateless discover), paged tools/list, both call spellings
//! with the SDK validating structuredContent against each tool's
//! outputSchema, and a bad input that must come back as isError.
//!
//! The interpreter is `$WHALE_TEST_PYTHON`, else `<repo>/.venv/bin/python`.

mod common;

use common::python;

use std::path::PathBuf;
use std::process::Command;

use common::{Whale, run_bounded, stderr, stdout};
use serde_json::{Value, json};

/// Runs the client in `mode`/`lifecycle` against a fresh database and
/// returns its JSON summary.
fn run_client(mode: &str, lifecycle: &str) -> Value {
    let w = Whale::new();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("clients")
        .join("stdio_client.py");
    let mut cmd = Command::new(python());
    cmd.arg(&script)
        .arg(common::bin())
        .arg(&w.db)
        .args(["--tool-mode", mode, "--lifecycle", lifecycle])
        .env_remove("WHALETOOLS_API_KEY")
        .env_remove("WHALE_STORE")
        .env_remove("WHALE_DB")
        .env_remove("RUST_LOG")
        .env_remove("PYTHONPATH")
        .env("XDG_DATA_HOME", w.dir.join("xdg-data"))
        .current_dir(&w.dir);
    let out = run_bounded(cmd, &format!("stdio_client.py {mode} {lifecycle}"));
    assert!(
        out.status.success(),
        "the Python MCP client failed ({mode}, {lifecycle}): {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        stdout(&out),
        stderr(&out)
    );
    let summary = common::parse_json(stdout(&out).trim().as_bytes(), "client summary");

    // The client's calls reached the pipeline and were audited.
    let exec = summary["execution_id"]
        .as_str()
        .expect("execution id in the summary")
        .to_string();
    let shown = w.json(&["executions", "show", &exec, "--json"]);
    assert_eq!(shown["tool"], json!("store"));
    assert_eq!(shown["action"], json!("get_settings"));
    let failed = w.json(&[
        "executions",
        "list",
        "--json",
        "--status",
        "error",
        "--tool",
        "orders",
    ]);
    assert_eq!(
        failed["total"],
        json!(1),
        "the bad create_order is audited once: {failed}"
    );
    assert_eq!(failed["executions"][0]["error_code"], json!("invalid_input"));
    summary
}

fn tool_names(summary: &Value) -> Vec<String> {
    summary["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t.as_str().map(str::to_string))
        .collect()
}

#[test]
fn python_sdk_client_grouped_mode() {
    let s = run_client("grouped", "handshake");
    assert_eq!(s["server_name"], json!("whale"));
    assert_eq!(s["store_id"], json!("demo"));
    assert_eq!(s["products_total"], json!(48));
    let names = tool_names(&s);
    for t in [
        "products",
        "orders",
        "customers",
        "inventory",
        "locations",
        "store",
        "audit_trail",
    ] {
        assert!(names.iter().any(|n| n == t), "{t} missing: {names:?}");
    }
    assert_eq!(s["validated"].as_array().map(Vec::len), Some(4), "{s}");
    assert!(
        s["bad_input_error"]
            .as_str()
            .is_some_and(|e| e.contains("items[0].quantity")),
        "{s}"
    );
}

#[test]
fn python_sdk_client_flat_mode() {
    let s = run_client("flat", "handshake");
    assert_eq!(s["store_id"], json!("demo"));
    let names = tool_names(&s);
    assert!(names.iter().any(|n| n == "orders_create_order"), "{names:?}");
    assert!(names.iter().all(|n| n.contains('_')), "{names:?}");
    assert_eq!(s["validated"].as_array().map(Vec::len), Some(5), "{s}");
}

#[test]
fn python_sdk_client_stateless_discover() {
    let s = run_client("grouped", "discover");
    assert_eq!(s["protocol_version"], json!("2026-07-28"), "{s}");
    let versions = s["supported_versions"].as_array().expect("supported_versions");
    assert!(
        versions.contains(&json!("2025-11-25")) && versions.contains(&json!("2026-07-28")),
        "{s}"
    );
    assert_eq!(s["store_id"], json!("demo"));
}
