//! A second independent MCP client — the official TypeScript SDK, driven by
//! `tests/clients/ts_client.mjs` — launches `whale mcp` and calls every
//! action. It is stricter than the Python SDK: it validates the tools/list
//! result against MCP's own schema (one boolean subschema in one tool once
//! made it refuse the whole flat listing) and each successful
//! structuredContent against the tool's outputSchema.
//!
//! Needs `node` and `npm ci --prefix tests/clients` (`.ci/run` does both).

mod common;

use std::path::Path;
use std::process::Command;

use common::{Whale, run_bounded, stderr, stdout};
use serde_json::{Value, json};

fn run_client(mode: &str) -> Value {
    let clients = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients");
    assert!(
        clients.join("node_modules/@modelcontextprotocol/sdk").exists(),
        "the TypeScript MCP SDK is missing: run `npm ci --prefix tests/clients` (.ci/run does)"
    );
    let w = Whale::new();
    let mut cmd = Command::new("node");
    cmd.arg(clients.join("ts_client.mjs"))
        .arg(common::bin())
        .arg(&w.db)
        .arg(mode)
        .env_remove("WHALETOOLS_API_KEY")
        .env_remove("WHALE_STORE")
        .env_remove("WHALE_DB")
        .env_remove("RUST_LOG")
        .env("XDG_DATA_HOME", w.dir.join("xdg-data"))
        .current_dir(&w.dir);
    let out = run_bounded(cmd, &format!("ts_client.mjs {mode}"));
    assert!(
        out.status.success(),
        "the TypeScript MCP client failed ({mode}): {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        stdout(&out),
        stderr(&out)
    );
    let summary = common::parse_json(stdout(&out).trim().as_bytes(), "client summary");
    assert_eq!(summary["server"], json!("whale"), "{summary}");
    assert_eq!(
        summary["warnings"],
        json!([]),
        "the SDK reported errors: {summary}"
    );

    let calls = summary["calls"].as_object().expect("calls");
    assert_eq!(calls.len(), 32, "every action was called: {summary}");
    for (name, call) in calls {
        if call["effect"] == json!("read") {
            // A read with real ids succeeds, and its structuredContent passed
            // the SDK's outputSchema validation (or callTool would throw).
            assert_eq!(call["ok"], json!(true), "{name}: {call}");
        }
        if call["ok"] == json!(true) {
            assert_eq!(call["structured"], json!(true), "{name} has no structuredContent");
        } else {
            // A refused write (the examples run one after another on the
            // same rows) tells the agent why and which execution to look up.
            let text = call["error"].as_str().unwrap_or_default();
            assert!(text.contains("(execution exec_"), "{name}: {text}");
        }
    }
    for write in [
        "products.create_product",
        "customers.create_customer",
        "orders.create_order",
        "inventory.adjust_stock",
        "inventory.transfer_stock",
    ] {
        assert_eq!(calls[write]["ok"], json!(true), "{write}: {}", calls[write]);
    }

    // The audit row's free-form input came through the schema check.
    assert_eq!(summary["execution"]["tool"], json!("products"), "{summary}");
    assert_eq!(
        summary["execution"]["input"],
        json!({"limit": 1, "status": "active"}),
        "{summary}"
    );
    assert_eq!(summary["bad_input"]["is_error"], json!(true));
    assert!(
        summary["bad_input"]["text"]
            .as_str()
            .is_some_and(|t| t.contains("items[0].quantity")),
        "{summary}"
    );
    summary
}

fn tool_names(summary: &Value) -> Vec<&str> {
    summary["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(Value::as_str)
        .collect()
}

#[test]
fn typescript_sdk_client_grouped_mode() {
    let s = run_client("grouped");
    let tools = tool_names(&s);
    assert_eq!(tools.len(), 7, "{tools:?}");
    assert_eq!(s["pages"], json!(2), "7 tools in pages of 5");
}

#[test]
fn typescript_sdk_client_flat_mode() {
    let s = run_client("flat");
    let tools = tool_names(&s);
    assert_eq!(tools.len(), 32, "{tools:?}");
    assert!(tools.contains(&"audit_trail_get_execution"), "{tools:?}");
    assert_eq!(s["pages"], json!(7), "32 tools in pages of 5");
}
