//! The stdio bridge (`whale mcp --server URL`) against a real whale HTTP
//! server (`whale mcp --transport sse`), authenticated with an API key in
//! `WHALETOOLS_API_KEY`: an independent client (the official Python MCP
//! SDK, `tests/clients/stdio_client.py --bridge`) runs its whole session
//! through it, and raw JSON-RPC checks pipelining, errors and stdout hygiene.
//! Stored logins and refresh are covered in tests/login.rs.

mod common;

use common::python;

use std::path::PathBuf;
use std::process::Command;

use common::{HttpServer, Mcp, TIMEOUT, Whale, run_bounded, stderr, stdout};
use serde_json::{Value, json};

const SCOPES: &str = "products orders customers inventory commerce platform";

fn bridge(w: &Whale, server: &HttpServer, key: &str) -> Mcp {
    let mut cmd = w.command(&["mcp", "--server", &server.base]);
    cmd.env("WHALETOOLS_API_KEY", key);
    Mcp::from_command(cmd)
}

#[test]
fn python_sdk_session_through_the_bridge() {
    let w = Whale::new();
    let (_, key) = w.create_key(SCOPES, false);
    // Small pages: the client follows cursors through the bridge.
    let server = w.serve_http(&["--page-size", "3"]);
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients/stdio_client.py");
    let mut cmd = Command::new(python());
    cmd.arg(&script)
        .arg(common::bin())
        .arg(&w.db)
        .args(["--bridge", &server.base])
        .env("WHALE_TEST_KEY", &key)
        .env_remove("WHALETOOLS_API_KEY")
        .env_remove("WHALE_STORE")
        .env_remove("WHALE_DB")
        .env_remove("RUST_LOG")
        .env_remove("PYTHONPATH")
        .env("XDG_CONFIG_HOME", w.dir.join("xdg-config"))
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            format!("unix:path={}", w.dir.join("no-dbus").display()),
        )
        .current_dir(&w.dir);
    let out = run_bounded(cmd, "stdio_client.py --bridge");
    assert!(
        out.status.success(),
        "the Python MCP client failed through the bridge: {:?}\n--- stdout\n{}\n--- stderr\n{}\n--- server\n{}",
        out.status,
        stdout(&out),
        stderr(&out),
        server.stderr()
    );
    let s = common::parse_json(stdout(&out).trim().as_bytes(), "client summary");
    assert_eq!(s["server_name"], json!("whale"));
    assert_eq!(s["store_id"], json!("demo"));
    assert_eq!(s["products_total"], json!(48));
    assert_eq!(s["validated"].as_array().map(Vec::len), Some(4), "{s}");
    assert!(
        s["bad_input_error"]
            .as_str()
            .is_some_and(|e| e.contains("items[0].quantity")),
        "{s}"
    );
    // The calls ran on the server, as the key's agent, and were audited.
    let exec = s["execution_id"].as_str().expect("execution id");
    let shown = w.json(&["executions", "show", exec, "--json"]);
    assert_eq!(shown["action"], json!("get_settings"));
    assert_eq!(shown["agent_name"], json!("test-agent"), "{shown}");
}

#[test]
fn raw_json_rpc_through_the_bridge() {
    let w = Whale::new();
    let (_, key) = w.create_key(SCOPES, false);
    let server = w.serve_http(&[]);
    let mut m = bridge(&w, &server, &key);
    let init = m.initialize("2025-11-25");
    assert_eq!(init["serverInfo"]["name"], json!("whale"));
    assert_eq!(init["protocolVersion"], json!("2025-11-25"));

    // Pipelined requests: all answered, matched by id.
    let ids: Vec<Value> = (0..6)
        .map(|i| {
            m.send_request(
                "tools/call",
                json!({"name": "products", "arguments": {"action": "list_products", "limit": i + 1}}),
            )
        })
        .collect();
    for (i, id) in ids.iter().enumerate() {
        let r = m.response(id, TIMEOUT);
        let items = r["result"]["structuredContent"]["items"]
            .as_array()
            .unwrap_or_else(|| panic!("reply {id}: {r}"));
        assert_eq!(items.len(), i + 1);
    }

    // A line that is not JSON gets a parse error; the session goes on.
    m.send_raw("{not json");
    let e = m.next_unmatched(TIMEOUT).expect("a parse error");
    assert_eq!(e["error"]["code"], json!(-32700));
    let listed = m.request("tools/list", json!({}));
    assert!(
        listed["result"]["tools"]
            .as_array()
            .is_some_and(|t| !t.is_empty())
    );
    // An unknown method is the server's JSON-RPC error, passed through.
    let unknown = m.request("no/such/method", json!({}));
    assert!(unknown.get("error").is_some(), "{unknown}");

    // Every stdout line was one JSON-RPC message (Mcp panics otherwise).
    assert!(m.raw.iter().all(|l| l.contains("\"jsonrpc\"")));
    m.finish();
}

#[test]
fn a_rejected_api_key_is_a_json_rpc_error() {
    let w = Whale::new();
    let (id, key) = w.create_key(SCOPES, false);
    let server = w.serve_http(&[]);
    let out = w.run(&["keys", "revoke", &id]);
    common::assert_exit(&out, 0, "keys revoke");
    let mut m = bridge(&w, &server, &key);
    let reply = m.request(
        "initialize",
        json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}),
    );
    let msg = reply["error"]["message"].as_str().unwrap_or_default();
    assert!(msg.contains("WHALETOOLS_API_KEY"), "{reply}");
    assert!(!msg.contains(&key), "the key is never echoed");
    assert!(!m.stderr().contains(&key), "the key is never logged");
    m.finish();
}
