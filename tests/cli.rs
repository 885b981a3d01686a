//! The command line, black box: keys, executions, tools, stores, install and
//! exit codes (0 ok, 1 runtime error, 2 usage error, 3 auth error).

mod common;

use std::time::{Duration, Instant};

use common::{Whale, assert_exit, parse_json, stderr, stdout};
use serde_json::{Value, json};

const KEY: &str = "WHALETOOLS_API_KEY";

/// `tools call orders --action list_orders` acting as `key`.
fn call_as(w: &Whale, key: &str) -> std::process::Output {
    w.run_env(
        &[
            "tools",
            "call",
            "orders",
            "--action",
            "list_orders",
            "--input",
            r#"{"limit":1}"#,
        ],
        &[(KEY, key)],
    )
}

/// `whale tools call TOOL --action ACTION --input INPUT` as the local owner.
fn tools_call(w: &Whale, tool: &str, action: &str, input: &str) -> std::process::Output {
    w.run(&["tools", "call", tool, "--action", action, "--input", input])
}

fn key_row(w: &Whale, id: &str) -> Value {
    let list = w.json(&["keys", "list", "--all", "--json"]);
    list["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["id"] == json!(id))
        .unwrap_or_else(|| panic!("key {id} not in {list}"))
        .clone()
}

/// Every byte of the database files, to search for secrets.
fn db_bytes(w: &Whale) -> Vec<u8> {
    let mut all = Vec::new();
    for ext in ["", "-wal", "-shm"] {
        if let Ok(b) = std::fs::read(format!("{}{ext}", w.db.display())) {
            all.extend(b);
        }
    }
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

// ---------------------------------------------------------------------------
// keys
// ---------------------------------------------------------------------------

#[test]
fn keys_create_shows_the_key_once_and_stores_only_a_hash() {
    let w = Whale::new();
    let v = w.json(&[
        "keys",
        "create",
        "--agent",
        "bot",
        "--scopes",
        "products:read, orders:read",
        "--json",
    ]);
    let key = v["key"].as_str().expect("key").to_string();
    let id = v["id"].as_str().expect("id").to_string();
    assert!(key.starts_with("wt_live_") && key.len() == 8 + 36, "{key}");
    assert_eq!(v["mode"], json!("live"));
    assert_eq!(v["agent"], json!("bot"));
    assert_eq!(v["status"], json!("active"));
    assert_eq!(
        v["scopes"],
        json!("orders:read products:read"),
        "scopes are normalized"
    );
    let hint = v["hint"].as_str().expect("hint");
    assert!(
        hint.starts_with(&key[..12]) && hint.ends_with(&key[key.len() - 4..]),
        "{hint}"
    );

    // Never again: not in the listing (JSON or table), not in the database.
    for args in [
        vec!["keys", "list", "--json"],
        vec!["keys", "list"],
        vec!["keys", "list", "--all"],
    ] {
        let out = w.run(&args);
        assert_exit(&out, 0, "keys list");
        assert!(!stdout(&out).contains(&key), "{args:?} shows the key");
        assert!(stdout(&out).contains(&id), "{args:?} lacks the key id");
    }
    // The table shows each key's rate limit: its own, or the server's.
    let (_, _) = w.create_key_as("throttled", "orders:read", false, &["--rate-limit", "7"]);
    let table = stdout(&w.run(&["keys", "list"]));
    assert!(
        table.lines().next().is_some_and(|h| h.contains("RATE LIMIT")),
        "{table}"
    );
    let line = |agent: &str| {
        table
            .lines()
            .find(|l| l.contains(agent))
            .unwrap_or_default()
            .to_string()
    };
    assert!(line("throttled").trim_end().ends_with("7/min"), "{table}");
    assert!(line(&id).trim_end().ends_with("server's"), "{table}");
    let list = w.json(&["keys", "list", "--json"]);
    let row = list["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["id"] == json!(id))
        .expect("the key is listed");
    assert_eq!(row["id"], json!(id));
    assert_eq!(row["hint"], json!(hint));
    assert!(row.get("key").is_none(), "{row}");
    assert!(
        !contains(&db_bytes(&w), &key),
        "the key is stored in clear in the database"
    );

    // The key works, and its last use is recorded.
    assert!(row["last_used_at"].is_null(), "{row}");
    assert_exit(&call_as(&w, &key), 0, "tools call with the new key");
    assert!(
        key_row(&w, &id)["last_used_at"].is_string(),
        "last_used_at not updated"
    );

    // Text mode prints the key alone on stdout (for `$(whale keys create …)`).
    let out = w.run(&["keys", "create", "--agent", "bot2", "--scopes", "orders:read"]);
    assert_exit(&out, 0, "keys create (text)");
    let text_key = stdout(&out).trim().to_string();
    assert!(text_key.starts_with("wt_live_"), "{text_key}");
    assert!(
        !stderr(&out).contains(&text_key),
        "the key is echoed on stderr too"
    );
    assert_exit(&call_as(&w, &text_key), 0, "tools call with the text-mode key");

    // Sandbox keys.
    let t = w.json(&[
        "keys", "create", "--agent", "sandbox", "--scopes", "orders", "--test", "--json",
    ]);
    assert!(
        t["key"].as_str().is_some_and(|k| k.starts_with("wt_test_")),
        "{t}"
    );
    assert_eq!(t["mode"], json!("test"));
}

/// The `audit_trail` tool refuses a tool filter that names nothing, as
/// `executions list` does; a name with rows (a tool an agent called in
/// vain) is listed. An unknown agent only gets a note.
#[test]
fn a_tool_filter_naming_nothing_is_refused_unless_it_has_rows() {
    let w = Whale::new();
    let out = tools_call(&w, "audit_trail", "query_executions", r#"{"tool":"order"}"#);
    assert_exit(&out, 1, "query_executions for `order`");
    assert!(
        stderr(&out).contains("invalid input at `tool`: `order` is not a tool"),
        "{}",
        stderr(&out)
    );
    // A name an agent called in vain has rows: they are listed.
    let mut s = w.mcp(&[]).started();
    let r = s.request("tools/call", json!({"name": "order", "arguments": {}}));
    assert!(r["error"].is_object(), "{r}");
    s.finish();
    let v = w.json(&["executions", "list", "--json", "--tool", "order"]);
    assert_eq!(v["total"], json!(1), "{v}");
    assert_eq!(v["executions"][0]["error_code"], json!("unknown_tool"), "{v}");

    // Agents are not refused: the store learns of some only from their
    // first execution (an external authorization server's agents, a call
    // still written behind), so an unknown name may yet match. The table
    // notes the agents there are; JSON and the tool answer an empty page.
    w.create_key_as("fresh-bot", "orders:read", false, &[]);
    let v = w.json(&["executions", "list", "--json", "--agent", "fresh-bot"]);
    assert_eq!(v["total"], json!(0), "{v}");
    let out = w.run(&["executions", "list", "--agent", "fresh-bot"]);
    assert!(!stderr(&out).contains("note:"), "{}", stderr(&out));
    for cmd in ["list", "stats"] {
        let out = w.run(&["executions", cmd, "--agent", "fresh-bto"]);
        assert_exit(&out, 0, &format!("executions {cmd} --agent fresh-bto"));
        assert!(
            stderr(&out).contains(
                "note: this store knows no agent `fresh-bto` (no key, client or execution of that name); its agents: local-owner, fresh-bot"
            ),
            "{}",
            stderr(&out)
        );
    }
    let v = w.json(&["executions", "stats", "--json", "--agent", "fresh-bto"]);
    assert_eq!(v["total"], json!(0), "{v}");
    let out = tools_call(&w, "audit_trail", "execution_stats", r#"{"agent":"fresh-bto"}"#);
    assert_exit(&out, 0, "execution_stats for `fresh-bto`");
}

/// A key an agent only connects with (lists the tools, calls none) is in
/// use: `keys list` says when, so nobody revokes it as unused.
#[test]
fn a_key_s_last_use_counts_requests_that_call_no_tool() {
    let w = Whale::new();
    let (id, key) = w.create_key_as("lister", "products:read", false, &[]);
    assert!(key_row(&w, &id)["last_used_at"].is_null());

    let mut s = w.mcp_key(&[], &key).started();
    let list = s.request("tools/list", json!({}));
    assert!(
        list["result"]["tools"].as_array().is_some_and(|t| !t.is_empty()),
        "{list}"
    );
    s.finish();

    let row = key_row(&w, &id);
    assert!(
        row["last_used_at"].is_string(),
        "a tools/list is not counted as a use: {row}"
    );
    // No tool was called: nothing in the audit trail for it.
    let rows = w.executions(&["--agent", "lister"]);
    assert_eq!(rows["total"], json!(0), "{rows}");
}

#[test]
fn keys_create_rejects_bad_input_with_usage_errors() {
    let w = Whale::new();
    for (scopes, named) in [
        ("prodcts:read", "prodcts"),
        ("orders:delete", "delete"),
        ("orders:read bogus", "bogus"),
        ("  ", "scopes"),
    ] {
        let out = w.run(&["keys", "create", "--agent", "bot", "--scopes", scopes, "--json"]);
        assert_exit(&out, 2, &format!("keys create --scopes {scopes:?}"));
        assert!(
            stderr(&out).contains(named),
            "error does not name {named:?}: {}",
            stderr(&out)
        );
        assert!(stdout(&out).trim().is_empty(), "{}", stdout(&out));
    }
    let out = w.run(&[
        "keys",
        "create",
        "--agent",
        "bot",
        "--scopes",
        "orders",
        "--expires-in",
        "soon",
    ]);
    assert_exit(&out, 2, "--expires-in soon");
    assert!(stderr(&out).contains("soon"), "{}", stderr(&out));
    let out = w.run(&["keys", "create", "--agent", "", "--scopes", "orders"]);
    assert_exit(&out, 2, "empty --agent");
    // A name is printed in admins' terminals: no escape sequences, no
    // newlines that forge a row of `keys list`; the owner's name is taken.
    for (agent, named) in [
        ("evil\u{1b}[2J\u{1b}[31m", "control characters"),
        ("a\nb", "control characters"),
        ("local-owner", "reserved"),
        ("Local-Owner", "reserved"),
    ] {
        let out = w.run(&["keys", "create", "--agent", agent, "--scopes", "orders"]);
        assert_exit(&out, 2, &format!("--agent {agent:?}"));
        assert!(stderr(&out).contains(named), "{agent:?}: {}", stderr(&out));
    }
    // 100 characters is the limit, not 100 bytes.
    let long = "é".repeat(100);
    let out = w.run(&["keys", "create", "--agent", &long, "--scopes", "orders", "--json"]);
    assert_exit(&out, 0, "100 two-byte characters");
    let id = parse_json(&out.stdout, "keys create")["id"]
        .as_str()
        .expect("id")
        .to_string();
    assert_exit(&w.run(&["keys", "revoke", &id]), 0, "revoke it again");
    let out = w.run(&[
        "keys",
        "create",
        "--agent",
        &"é".repeat(101),
        "--scopes",
        "orders",
    ]);
    assert_exit(&out, 2, "101 characters");
    let out = w.run(&["keys", "create", "--scopes", "orders"]);
    assert_exit(&out, 2, "missing --agent");
    // Nothing else was created.
    let list = w.json(&["keys", "list", "--all", "--json"]);
    let ids: Vec<&Value> = list["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| &k["id"])
        .collect();
    assert_eq!(ids, [&json!(id)], "{list}");
}

/// A scope of the spec that no tool of this version needs is kept, with a
/// note naming it, so a typo-free but useless grant does not go unnoticed.
#[test]
fn keys_create_notes_scopes_that_no_tool_needs() {
    let w = Whale::new();
    let out = w.run(&[
        "keys",
        "create",
        "--agent",
        "mkt",
        "--scopes",
        "marketing products:read",
        "--json",
    ]);
    assert_exit(&out, 0, "a scope for tools to come");
    assert!(
        stderr(&out).contains("`marketing`") && !stderr(&out).contains("`products`"),
        "{}",
        stderr(&out)
    );
    let v = parse_json(&out.stdout, "keys create");
    assert_eq!(v["scopes"], json!("marketing products:read"), "{v}");
    let out = w.run(&[
        "keys",
        "create",
        "--agent",
        "p",
        "--scopes",
        "products orders:read",
    ]);
    assert_exit(&out, 0, "scopes of existing tools");
    assert!(!stderr(&out).contains("note:"), "{}", stderr(&out));
}

#[test]
fn keys_rotate_without_grace_refuses_the_old_key() {
    let w = Whale::new();
    let (old_id, old_key) = w.create_key_as("rotor", "orders:read", false, &[]);
    assert_exit(&call_as(&w, &old_key), 0, "old key before rotation");

    let v = w.json(&["keys", "rotate", &old_id, "--json"]);
    let new_key = v["key"].as_str().expect("new key").to_string();
    let new_id = v["id"].as_str().expect("new id").to_string();
    assert_ne!(new_key, old_key);
    assert_ne!(new_id, old_id);
    assert_eq!(v["scopes"], json!("orders:read"), "same scopes");
    assert_eq!(v["agent"], json!("rotor"), "same agent");
    assert_eq!(
        v["replaces"],
        json!({"id": old_id, "works_until": null}),
        "without a grace the old key works no more"
    );

    let out = call_as(&w, &old_key);
    assert_exit(&out, 3, "old key after rotation without grace");
    assert!(stderr(&out).contains("revoked"), "{}", stderr(&out));
    assert!(!stderr(&out).contains(&old_key), "the error echoes the key");
    assert_exit(&call_as(&w, &new_key), 0, "new key");

    let old = key_row(&w, &old_id);
    assert_eq!(old["status"], json!("revoked"), "{old}");
    assert_eq!(old["replaced_by"], json!(new_id), "{old}");
    assert_eq!(key_row(&w, &new_id)["status"], json!("active"));

    // A revoked key cannot be rotated again.
    let out = w.run(&["keys", "rotate", &old_id]);
    assert_exit(&out, 1, "rotating a revoked key");
    // An unknown id is not there: a runtime error, nothing changed.
    for cmd in ["rotate", "revoke"] {
        let out = w.run(&["keys", cmd, "key_nonexistent"]);
        assert_exit(&out, 1, &format!("keys {cmd} of an unknown id"));
        assert!(stderr(&out).contains("key_nonexistent"), "{}", stderr(&out));
    }
}

#[test]
fn keys_rotate_with_grace_keeps_the_old_key_working() {
    let w = Whale::new();
    let (old_id, old_key) = w.create_key("orders:read", false);
    let v = w.json(&["keys", "rotate", &old_id, "--grace", "1h", "--json"]);
    let new_key = v["key"].as_str().expect("new key").to_string();
    // A script learns which key the new one replaces and until when it works.
    assert_eq!(v["replaces"]["id"], json!(old_id), "{v}");
    assert!(v["replaces"]["works_until"].is_string(), "{v}");

    assert_exit(&call_as(&w, &old_key), 0, "old key during the grace period");
    assert_exit(&call_as(&w, &new_key), 0, "new key during the grace period");
    let old = key_row(&w, &old_id);
    assert_eq!(old["status"], json!("rotating"), "{old}");
    assert!(
        old["revoked_at"].is_string(),
        "the old key has no end of grace: {old}"
    );

    // Revoking ends the grace at once; the new key is unaffected.
    assert_exit(&w.run(&["keys", "revoke", &old_id]), 0, "revoke during grace");
    assert_exit(&call_as(&w, &old_key), 3, "old key after revoke");
    assert_exit(&call_as(&w, &new_key), 0, "new key after the old one is revoked");

    let out = w.run(&["keys", "rotate", &old_id, "--grace", "forever"]);
    assert_exit(&out, 2, "--grace forever");

    // A grace period is bounded, and never promised past the key's expiry.
    let (brief_id, _) = w.create_key_as("brief", "orders:read", false, &["--expires-in", "1h"]);
    for (grace, says) in [("0s", "must be longer than zero"), ("31d", "at most 30 days")] {
        let out = w.run(&["keys", "rotate", &brief_id, "--grace", grace]);
        assert_exit(&out, 2, grace);
        assert!(stderr(&out).contains(says), "{grace}: {}", stderr(&out));
    }
    assert_eq!(
        key_row(&w, &brief_id)["status"],
        json!("active"),
        "a refused rotation changed the key"
    );
    let out = w.run(&["keys", "rotate", &brief_id, "--grace", "2h"]);
    assert_exit(&out, 0, "rotation of an expiring key");
    let expiry = key_row(&w, &brief_id)["expires_at"]
        .as_str()
        .expect("expires_at")
        .to_string();
    assert!(
        stderr(&out).contains(&format!("keeps working until {expiry} (its expiry")),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        key_row(&w, &brief_id)["revoked_at"],
        json!(expiry),
        "the grace is recorded past the key's expiry"
    );
}

/// Rotating a key that is already in its grace period would mint a second
/// replacement that nothing links to: refused, naming the replacement, and
/// nothing changes.
#[test]
fn keys_rotate_of_a_rotating_key_is_refused() {
    let w = Whale::new();
    let (old_id, old_key) = w.create_key("orders:read", false);
    let v = w.json(&["keys", "rotate", &old_id, "--grace", "1h", "--json"]);
    let new_id = v["id"].as_str().expect("new id").to_string();
    let before = w.json(&["keys", "list", "--all", "--json"]);

    let out = w.run(&["keys", "rotate", &old_id, "--grace", "5h"]);
    assert_exit(&out, 1, "rotating a rotating key");
    assert!(
        stderr(&out).contains("already rotated") && stderr(&out).contains(&new_id),
        "{}",
        stderr(&out)
    );
    assert!(
        stdout(&out).trim().is_empty(),
        "a key was printed: {}",
        stdout(&out)
    );
    assert_eq!(
        w.json(&["keys", "list", "--all", "--json"]),
        before,
        "keys changed"
    );
    assert_exit(&call_as(&w, &old_key), 0, "the old key keeps its grace period");
    // The replacement can be rotated in turn.
    assert_exit(
        &w.run(&["keys", "rotate", &new_id]),
        0,
        "rotating the replacement",
    );
}

/// Runs `whale ARGS` with stdout on `/dev/full`, where every write fails
/// as on a full disk (bounded by the harness timeout).
#[cfg(target_os = "linux")]
fn run_into_a_full_disk(w: &Whale, args: &[&str]) -> std::process::Output {
    use std::io::Read;
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("open /dev/full");
    let mut cmd = w.command(args);
    cmd.stdin(std::process::Stdio::null())
        .stdout(full)
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("spawn whale");
    let mut err = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err.read_to_end(&mut buf);
        buf
    });
    let status = common::wait_bounded(&mut child, common::TIMEOUT).unwrap_or_else(|| {
        let _ = child.kill();
        panic!("whale {} did not exit", args.join(" "));
    });
    std::process::Output {
        status,
        stdout: Vec::new(),
        stderr: reader.join().expect("stderr reader"),
    }
}

/// A secret shown only once that could not be written (stdout on a full
/// disk) is an error, exit 1, and nobody is left holding a credential they
/// never saw: a new key or client is revoked, a rotation is undone and the
/// old key keeps working.
#[cfg(target_os = "linux")]
#[test]
fn a_secret_that_cannot_be_written_fails_and_is_taken_back() {
    let w = Whale::new();
    let failed = |out: &std::process::Output, what: &str| {
        assert_exit(out, 1, what);
        let err = stderr(out);
        assert!(
            err.contains("could not write the secret of") && err.contains("No space left on device"),
            "{what}: {err}"
        );
        err
    };
    for json in [false, true] {
        let mut args = vec!["keys", "create", "--agent", "lost", "--scopes", "orders:read"];
        if json {
            args.push("--json");
        }
        let err = failed(&run_into_a_full_disk(&w, &args), "keys create");
        assert!(err.contains("it was revoked; create the key again"), "{err}");
    }
    let keys = w.json(&["keys", "list", "--all", "--json"]);
    let lost: Vec<&Value> = keys["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter(|k| k["agent"] == json!("lost"))
        .collect();
    assert_eq!(lost.len(), 2, "{keys}");
    assert!(lost.iter().all(|k| k["status"] == json!("revoked")), "{keys}");

    let (old_id, old_key) = w.create_key_as("rotor", "orders:read", false, &[]);
    let err = failed(
        &run_into_a_full_disk(&w, &["keys", "rotate", &old_id]),
        "keys rotate",
    );
    assert!(
        err.contains(&format!(
            "the rotation was undone: it is revoked, and {old_id} works as before"
        )),
        "{err}"
    );
    let old = key_row(&w, &old_id);
    assert_eq!(old["status"], json!("active"), "{old}");
    assert_eq!(old["replaced_by"], json!(null), "{old}");
    assert_exit(
        &call_as(&w, &old_key),
        0,
        "the old key after a rotation nobody received",
    );
    let keys = w.json(&["keys", "list", "--all", "--json"]);
    let replacement: Vec<&Value> = keys["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter(|k| k["agent"] == json!("rotor") && k["id"] != json!(old_id))
        .collect();
    assert_eq!(replacement.len(), 1, "{keys}");
    assert_eq!(replacement[0]["status"], json!("revoked"), "{keys}");
    // The key can be rotated again (it is not "already rotated").
    let v = w.json(&["keys", "rotate", &old_id, "--json"]);
    assert_exit(
        &call_as(&w, v["key"].as_str().expect("key")),
        0,
        "the replacement",
    );

    for json in [false, true] {
        let mut args = vec!["clients", "create", "lostbot", "--scopes", "orders:read"];
        if json {
            args.push("--json");
        }
        let err = failed(&run_into_a_full_disk(&w, &args), "clients create");
        assert!(err.contains("it was revoked; create the client again"), "{err}");
    }
    let clients = w.json(&["clients", "list", "--json"]);
    let lost: Vec<&Value> = clients["clients"]
        .as_array()
        .expect("clients")
        .iter()
        .filter(|c| c["name"] == json!("lostbot"))
        .collect();
    assert_eq!(lost.len(), 2, "{clients}");
    assert!(lost.iter().all(|c| c["revoked"] == json!(true)), "{clients}");
}

#[test]
fn keys_rotate_gives_the_replacement_the_old_lifetime_from_now() {
    let w = Whale::new();
    let (old_id, old_key) = w.create_key_as("brief", "orders:read", false, &["--expires-in", "1s"]);
    std::thread::sleep(std::time::Duration::from_millis(1300));
    assert_exit(&call_as(&w, &old_key), 3, "a key past its expiry");
    let old = key_row(&w, &old_id);
    assert_eq!(old["status"], json!("expired"), "{old}");

    // Renewing an expired key is what rotation is for: the replacement is
    // not born expired, it gets the same one-second life from now.
    let v = w.json(&["keys", "rotate", &old_id, "--json"]);
    let new = key_row(&w, v["id"].as_str().expect("new id"));
    let (old_end, new_end) = (
        old["expires_at"].as_str().expect("old expiry"),
        new["expires_at"]
            .as_str()
            .expect("a replacement of an expiring key expires too"),
    );
    assert!(
        new_end > old_end,
        "replacement expires {new_end}, the old key {old_end}"
    );

    // Durations too long to mean anything are refused, and nothing is created.
    let before = w.json(&["keys", "list", "--all", "--json"])["keys"].clone();
    for d in ["99999999999w", "3651d"] {
        let out = w.run(&[
            "keys",
            "create",
            "--agent",
            "x",
            "--scopes",
            "orders",
            "--expires-in",
            d,
        ]);
        assert_exit(&out, 2, d);
        assert!(stderr(&out).contains(d), "{}", stderr(&out));
    }
    assert_eq!(w.json(&["keys", "list", "--all", "--json"])["keys"], before);
}

#[test]
fn keys_revoke_stops_a_key_and_is_idempotent() {
    let w = Whale::new();
    let (id, key) = w.create_key("orders:read", false);
    let out = w.run(&["keys", "revoke", &id]);
    assert_exit(&out, 0, "keys revoke");
    assert!(!stdout(&out).contains(&key), "revoke prints the key");

    let out = call_as(&w, &key);
    assert_exit(&out, 3, "revoked key");
    assert!(stderr(&out).contains("revoked"), "{}", stderr(&out));
    let again = w.run(&["keys", "revoke", &id]);
    assert_exit(&again, 0, "revoking twice");
    assert!(stdout(&again).contains("already"), "{}", stdout(&again));
    assert_exit(
        &w.run(&["keys", "revoke", "key_nope"]),
        1,
        "revoking an unknown key",
    );

    // Revoked keys drop out of the default listing but stay in --all.
    let list = w.json(&["keys", "list", "--json"]);
    assert!(
        !list["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .any(|k| k["id"] == json!(id)),
        "{list}"
    );
    assert_eq!(key_row(&w, &id)["status"], json!("revoked"));
}

#[test]
fn an_expired_key_is_refused() {
    let w = Whale::new();
    let v = w.json(&[
        "keys",
        "create",
        "--agent",
        "brief",
        "--scopes",
        "orders:read",
        "--expires-in",
        "1s",
        "--json",
    ]);
    let (id, key) = (
        v["id"].as_str().expect("id").to_string(),
        v["key"].as_str().expect("key").to_string(),
    );
    assert!(v["expires_at"].is_string(), "{v}");
    // Wait (bounded) until whale itself reports the key expired.
    let deadline = Instant::now() + common::TIMEOUT;
    while key_row(&w, &id)["status"] != json!("expired") {
        assert!(Instant::now() < deadline, "the key never expired");
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = call_as(&w, &key);
    assert_exit(&out, 3, "expired key");
    assert!(stderr(&out).contains("expired"), "{}", stderr(&out));
}

/// SPEC §1: exit 3 is an auth error, "no/expired/insufficient credential".
/// A key without the scope an action needs is an insufficient credential.
#[test]
fn insufficient_scope_from_the_cli_is_an_auth_error() {
    let w = Whale::new();
    let (_, key) = w.create_key("products:read", false);
    let out = call_as(&w, &key);
    assert!(stderr(&out).contains("orders:read"), "{}", stderr(&out));
    assert!(stdout(&out).trim().is_empty(), "{}", stdout(&out));
    assert_exit(&out, 3, "tools call without the needed scope");
}

// ---------------------------------------------------------------------------
// executions
// ---------------------------------------------------------------------------

const EXEC_FIELDS: [&str; 13] = [
    "id",
    "tool",
    "action",
    "agent_name",
    "status",
    "error_code",
    "error",
    "duration_ms",
    "input",
    "output",
    "store_id",
    "mode",
    "created_at",
];

#[test]
fn executions_list_show_and_stats_report_the_audit_trail() {
    let w = Whale::new();
    // 3 owner reads, 1 owner failure, 2 reads and 1 refusal by a key.
    for limit in [1, 2, 3] {
        w.tool("products", "list_products", json!({"limit": limit}));
    }
    let out = tools_call(&w, "orders", "get_order", r#"{"order_id":"nope"}"#);
    assert_exit(&out, 1, "get_order nope");
    let (_, key) = w.create_key_as("audit-bot", "products:read", false, &[]);
    for _ in 0..2 {
        let out = w.run_env(
            &["tools", "call", "products_list_products", "--input", "{}"],
            &[(KEY, &key)],
        );
        assert_exit(&out, 0, "key read");
    }
    let out = call_as(&w, &key);
    assert_ne!(out.status.code(), Some(0), "a read without orders:read succeeded");

    let all = w.json(&["executions", "list", "--json"]);
    assert_eq!(all["total"], json!(7), "{all}");
    assert_eq!(all["limit"], json!(20));
    assert_eq!(all["offset"], json!(0));
    let rows = all["executions"].as_array().expect("executions");
    assert_eq!(rows.len(), 7);
    for r in rows {
        for f in EXEC_FIELDS {
            assert!(r.get(f).is_some(), "execution lacks `{f}`: {r}");
        }
        assert!(r["id"].as_str().is_some_and(|i| i.starts_with("exec_")), "{r}");
        assert_eq!(r["store_id"], json!("demo"));
        assert_eq!(r["mode"], json!("live"));
        assert!(r["duration_ms"].as_i64().is_some_and(|d| d >= 0), "{r}");
        assert!(r["input"].is_object(), "{r}");
    }
    let times: Vec<&str> = rows
        .iter()
        .map(|r| r["created_at"].as_str().expect("created_at"))
        .collect();
    assert!(
        times.windows(2).all(|p| p[0] >= p[1]),
        "not newest first: {times:?}"
    );
    let ids: std::collections::HashSet<&str> = rows.iter().map(|r| r["id"].as_str().expect("id")).collect();
    assert_eq!(ids.len(), 7, "duplicate execution ids");
    // The table's footer says which of them a page holds.
    let page = w.run(&["executions", "list", "--limit", "2", "--offset", "2"]);
    assert_exit(&page, 0, "a page of executions");
    assert!(
        stdout(&page).contains("3–4 of 7 (live mode, store demo)"),
        "{}",
        stdout(&page)
    );

    // Filters.
    let products = w.json(&["executions", "list", "--json", "--tool", "products"]);
    assert_eq!(products["total"], json!(5), "{products}");
    assert!(
        products["executions"]
            .as_array()
            .expect("rows")
            .iter()
            .all(|r| r["tool"] == json!("products"))
    );
    // One action, in either spelling; an action of another tool is none.
    for one in ["orders.get_order", "orders_get_order", "Orders.Get_Order"] {
        let v = w.json(&["executions", "list", "--json", "--tool", one]);
        assert_eq!(v["total"], json!(1), "--tool {one}: {v}");
        assert_eq!(v["executions"][0]["action"], json!("get_order"), "{v}");
    }
    // A tool with no executions yet is an empty page.
    let v = w.json(&["executions", "list", "--json", "--tool", "locations"]);
    assert_eq!(v["total"], json!(0), "--tool locations: {v}");
    // A filter that names no tool or action (an action of another tool, a
    // slip like `order`) and matches nothing is refused, naming the tools,
    // not answered "none" — by the CLI and by the audit_trail tool alike.
    for none in ["orders.list_products", "products_get_order", "orders_", "order"] {
        for cmd in ["list", "stats"] {
            let out = w.run(&["executions", cmd, "--tool", none]);
            assert_exit(&out, 2, &format!("executions {cmd} --tool {none}"));
            assert!(
                stderr(&out).contains("is not a tool or action of this server")
                    && stderr(&out)
                        .contains("audit_trail, customers, inventory, locations, orders, products, store"),
                "{}",
                stderr(&out)
            );
        }
    }

    let errors = w.json(&["executions", "list", "--json", "--status", "error"]);
    assert_eq!(errors["total"], json!(2), "{errors}");
    for r in errors["executions"].as_array().expect("rows") {
        assert_eq!(r["status"], json!("error"));
        assert!(r["error"].as_str().is_some_and(|e| !e.is_empty()), "{r}");
        assert!(r["output"].is_null(), "{r}");
    }
    let codes: Vec<&str> = errors["executions"]
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|r| r["error_code"].as_str())
        .collect();
    assert!(
        codes.contains(&"not_found") && codes.contains(&"insufficient_scope"),
        "{codes:?}"
    );

    let bot = w.json(&["executions", "list", "--json", "--agent", "audit-bot"]);
    assert_eq!(bot["total"], json!(3), "{bot}");
    let agent_id = bot["executions"][0]["agent_id"]
        .as_str()
        .expect("agent_id of a key's execution")
        .to_string();
    assert!(
        bot["executions"]
            .as_array()
            .expect("rows")
            .iter()
            .all(|r| r["agent_name"] == json!("audit-bot"))
    );
    let by_id = w.json(&["executions", "list", "--json", "--agent", &agent_id]);
    assert_eq!(by_id["total"], json!(3), "filter by agent id: {by_id}");
    let owner = w.json(&["executions", "list", "--json", "--agent", "local-owner"]);
    assert_eq!(owner["total"], json!(4), "{owner}");

    let none = w.json(&[
        "executions",
        "list",
        "--json",
        "--tool",
        "orders",
        "--status",
        "success",
    ]);
    assert_eq!(none["total"], json!(0));
    assert_eq!(none["executions"], json!([]));

    let recent = w.json(&["executions", "list", "--json", "--from", "1h"]);
    assert_eq!(recent["total"], json!(7), "--from 1h: {recent}");
    let old = w.json(&["executions", "list", "--json", "--to", "2000-01-01"]);
    assert_eq!(old["total"], json!(0), "--to 2000-01-01: {old}");

    // Paging.
    let page = w.json(&["executions", "list", "--json", "--limit", "2", "--offset", "1"]);
    assert_eq!(page["total"], json!(7));
    assert_eq!(page["limit"], json!(2));
    assert_eq!(page["offset"], json!(1));
    assert_eq!(
        page["executions"].as_array().expect("rows").as_slice(),
        &rows[1..3]
    );
    let past = w.json(&["executions", "list", "--json", "--offset", "100"]);
    assert_eq!(past["total"], json!(7));
    assert_eq!(past["executions"], json!([]));
    // --before: the page after an execution, and what is left after it.
    let last = rows[2]["id"].as_str().expect("id");
    let after = w.json(&["executions", "list", "--json", "--limit", "3", "--before", last]);
    assert_eq!(
        after["executions"].as_array().expect("rows").as_slice(),
        &rows[3..6]
    );
    assert_eq!(after["total"], json!(4), "{after}");
    let out = w.run(&["executions", "list", "--before", "exec_nope"]);
    assert_exit(&out, 1, "--before an unknown execution");
    assert!(stderr(&out).contains("exec_nope"), "{}", stderr(&out));

    // show
    let first = &rows[0];
    let shown = w.json(&["executions", "show", first["id"].as_str().expect("id"), "--json"]);
    assert_eq!(&shown, first, "show differs from list");
    let failed = &errors["executions"][0];
    let shown = w.json(&["executions", "show", failed["id"].as_str().expect("id"), "--json"]);
    assert_eq!(shown["status"], json!("error"));
    // An id that is not there is a runtime error (1), like `gh issue view`
    // of a missing issue; 2 is for a command line that cannot be run.
    let out = w.run(&["executions", "show", "exec_nope", "--json"]);
    assert_exit(&out, 1, "show unknown");
    let out = w.run(&["executions", "show", first["id"].as_str().expect("id"), "--test"]);
    assert_exit(&out, 1, "a live execution is not in test mode");
    assert!(
        stderr(&out).contains("it is a live-mode execution: drop --test"),
        "{}",
        stderr(&out)
    );
    let out = w.run(&["executions", "show", "exec_nope", "--test"]);
    assert_exit(&out, 1, "show unknown in test mode");
    assert!(!stderr(&out).contains("it is a"), "{}", stderr(&out));
    let text = w.run(&["executions", "show", first["id"].as_str().expect("id")]);
    assert_exit(&text, 0, "show (text)");
    assert!(stdout(&text).contains(first["id"].as_str().expect("id")));

    // stats
    let s = w.json(&["executions", "stats", "--json"]);
    assert_eq!(s["total"], json!(7), "{s}");
    assert_eq!(s["by_status"], json!({"success": 5, "error": 2}), "{s}");
    let rate = s["success_rate"].as_f64().expect("success_rate");
    assert!((rate - 5.0 / 7.0).abs() < 1e-9, "{rate}");
    assert_eq!(s["unique_tools"], json!(2), "{s}");
    let avg = s["avg_latency_ms"].as_f64().expect("avg_latency_ms");
    assert!(avg >= 0.0, "{s}");
    // Of 7 executions the 95th percentile is the slowest, so it is at least
    // the average (both to the µs: p95 was once whole milliseconds, cut).
    let p95 = s["p95_latency_ms"].as_f64().expect("p95_latency_ms");
    assert!(p95 >= avg, "p95 {p95} below the average {avg}: {s}");
    assert!(
        s["executions_today"]
            .as_i64()
            .is_some_and(|n| (0..=7).contains(&n)),
        "{s}"
    );
    let sp = w.json(&["executions", "stats", "--json", "--tool", "products"]);
    assert_eq!(sp["total"], json!(5));
    assert_eq!(sp["success_rate"], json!(1.0));
    let empty = w.json(&["executions", "stats", "--json", "--test"]);
    assert_eq!(empty["total"], json!(0));
    assert!(empty["success_rate"].is_null(), "{empty}");

    // Bad arguments are usage errors.
    for args in [
        vec!["executions", "list", "--limit", "0"],
        vec!["executions", "list", "--limit", "1001"],
        vec!["executions", "list", "--offset=-1"],
        vec!["executions", "list", "--status", "bogus"],
        vec!["executions", "list", "--from", "yesterday-ish"],
        vec!["executions", "stats", "--to", "nope"],
    ] {
        assert_exit(&w.run(&args), 2, &args.join(" "));
    }

    // A filter is bounded: a long one is refused, naming it, and the
    // refusal quotes only the start of the value.
    let long = "_".repeat(5000);
    assert_exit(
        &w.run(&["executions", "list", "--tool", &long]),
        2,
        "a 5000-character --tool",
    );
    let t = w.run(&[
        "tools",
        "call",
        "audit_trail",
        "--action",
        "query_executions",
        "--input",
        &json!({"tool": long}).to_string(),
    ]);
    assert_exit(&t, 1, "a 5000-character tool filter through the tool");
    assert!(stderr(&t).contains("`tool`"), "{}", stderr(&t));
    assert!(
        stderr(&t).len() < 600,
        "the error echoes the whole value: {}",
        stderr(&t).len()
    );
}

/// "Today" and plain dates follow the store's time zone: `today_starts_at`
/// is local midnight with the zone's offset, `executions_today` counts the
/// executions since then, and `--from D --to D` (D = today's local date) is
/// that same day, whole.
#[test]
fn executions_today_and_dates_follow_the_store_time_zone() {
    let w = Whale::new();
    for limit in [1, 2] {
        w.tool("products", "list_products", json!({"limit": limit}));
    }
    // Any case in, the canonical name stored; a misspelt zone is refused.
    let set = |tz: &str| w.tool("store", "update_settings", json!({"timezone": tz}));
    assert_eq!(set("pacific/kiritimati")["timezone"], json!("Pacific/Kiritimati"));
    let out = tools_call(
        &w,
        "store",
        "update_settings",
        r#"{"timezone":"America/New_Yrok"}"#,
    );
    assert_exit(&out, 1, "misspelt time zone");
    assert!(stderr(&out).contains("America/New_Yrok"), "{}", stderr(&out));
    assert_eq!(
        w.tool("store", "get_settings", json!({}))["timezone"],
        json!("Pacific/Kiritimati"),
        "a refused update changed the settings"
    );

    let list = |extra: &[&str]| {
        let mut args = vec!["executions", "list", "--json", "--limit", "100"];
        args.extend_from_slice(extra);
        w.json(&args)
    };
    for (zone, offset) in [("Pacific/Kiritimati", "+14:00"), ("Etc/GMT+12", "-12:00")] {
        set(zone);
        let stats = w.json(&["executions", "stats", "--json"]);
        let starts = stats["today_starts_at"]
            .as_str()
            .expect("today_starts_at")
            .to_string();
        assert!(
            starts.ends_with(&format!("T00:00:00{offset}")),
            "{zone}: {starts}"
        );
        let midnight: jiff::Timestamp = starts.parse().expect("RFC 3339");
        let now = jiff::Timestamp::now();
        assert!(
            midnight <= now && now.duration_since(midnight).as_hours() < 24,
            "{zone}: {starts}"
        );

        let all = list(&[]);
        let since: Vec<&Value> = all["executions"]
            .as_array()
            .expect("executions")
            .iter()
            .filter(|e| {
                let at: jiff::Timestamp = e["created_at"]
                    .as_str()
                    .expect("created_at")
                    .parse()
                    .expect("time");
                at >= midnight
            })
            .collect();
        assert_eq!(stats["executions_today"], json!(since.len()), "{zone}: {stats}");

        let day = &starts[..10];
        let today = list(&["--from", day, "--to", day]);
        assert_eq!(
            today["total"],
            json!(since.len()),
            "{zone}: --from/--to {day}: {today}"
        );
        // "No limit" written as the last day of the calendar.
        assert_eq!(list(&["--to", "9999-12-31"])["total"], all["total"]);
        // A range that ends before it starts is a mistake, said so.
        let out = w.run(&["executions", "list", "--from", day, "--to", &prev_day(day)]);
        assert_exit(&out, 2, "inverted range");
        assert!(stderr(&out).contains("is before `from`"), "{}", stderr(&out));
        let before = list(&["--to", &prev_day(day)]);
        assert_eq!(
            before["total"],
            json!(all["total"].as_u64().expect("total") as usize - since.len()),
            "{zone}: --to the day before"
        );
    }

    // `stores create` checks the zone against the database too.
    let create = |tz: &str| w.run(&["stores", "create", "tz-shop", "--name", "TZ", "--timezone", tz]);
    let out = create("Europe/Berlinn");
    assert_exit(&out, 2, "misspelt --timezone");
    assert!(stderr(&out).contains("Europe/Berlinn"), "{}", stderr(&out));
    assert_exit(&create("europe/berlin"), 0, "stores create in any case");
    let stores = w.json(&["stores", "list", "--json"]);
    let created = stores["stores"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["id"] == "tz-shop"))
        .expect("tz-shop listed");
    assert_eq!(created["timezone"], json!("Europe/Berlin"));
}

/// `list_orders` reads a plain date as a day of the store's calendar (the
/// demo store keeps New York time): `from` = `to` = D lists exactly the
/// orders placed on D there, which a UTC day would not.
#[test]
fn list_orders_dates_are_days_in_the_store_time_zone() {
    let w = Whale::new();
    let ny = jiff::tz::TimeZone::get("America/New_York").expect("zone");
    let mut all = Vec::new();
    for offset in [0, 100] {
        let page = w.tool("orders", "list_orders", json!({"limit": 100, "offset": offset}));
        all.extend(page["items"].as_array().expect("items").iter().cloned());
    }
    let day_in = |o: &Value, tz: &jiff::tz::TimeZone| {
        let at: jiff::Timestamp = o["created_at"]
            .as_str()
            .expect("created_at")
            .parse()
            .expect("time");
        at.to_zoned(tz.clone()).date()
    };
    let local_day = |o: &Value| day_in(o, &ny);
    // Orders placed between midnight UTC and midnight in New York are on
    // different days in the two zones: those days go first, so a reading in
    // UTC cannot pass.
    let utc_day = |o: &Value| day_in(o, &jiff::tz::TimeZone::UTC);
    let straddling: Vec<jiff::civil::Date> = all
        .iter()
        .filter(|o| local_day(o) != utc_day(o))
        .map(local_day)
        .collect();
    assert!(
        !straddling.is_empty(),
        "no seeded order falls between midnight UTC and midnight in New York"
    );
    let mut checked = 0;
    let mut days: Vec<jiff::civil::Date> = all.iter().map(local_day).collect();
    days.sort_by_key(|d| (!straddling.contains(d), *d));
    days.dedup();
    for day in days.iter().take(10) {
        let d = day.to_string();
        let got = w.tool("orders", "list_orders", json!({"from": d, "to": d, "limit": 100}));
        let want: Vec<&Value> = all.iter().filter(|o| local_day(o) == *day).collect();
        assert_eq!(got["total"], json!(want.len()), "{d}: {got}");
        let ids = |v: Vec<&Value>| {
            let mut ids: Vec<String> = v
                .iter()
                .map(|o| o["id"].as_str().expect("id").to_string())
                .collect();
            ids.sort();
            ids
        };
        assert_eq!(
            ids(got["items"].as_array().expect("items").iter().collect()),
            ids(want),
            "{d}"
        );
        checked += 1;
    }
    assert_eq!(checked, days.len().min(10));
    assert!(days.len() > 20, "the seed spreads orders over 90 days");
}

/// The calendar day before `YYYY-MM-DD`.
fn prev_day(day: &str) -> String {
    let d: jiff::civil::Date = day.parse().expect("date");
    d.yesterday().expect("a day before").to_string()
}

#[test]
fn test_mode_executions_are_listed_apart() {
    let w = Whale::new();
    let (_, key) = w.create_key_as("sandbox", "products:read", true, &[]);
    let out = w.run_env(&["tools", "call", "products_list_products"], &[(KEY, &key)]);
    assert_exit(&out, 0, "test key call");
    w.tool("store", "get_settings", json!({}));

    let live = w.json(&["executions", "list", "--json"]);
    assert_eq!(live["total"], json!(1), "{live}");
    assert_eq!(live["executions"][0]["tool"], json!("store"));
    let test = w.json(&["executions", "list", "--json", "--test"]);
    assert_eq!(test["total"], json!(1), "{test}");
    assert_eq!(test["executions"][0]["mode"], json!("test"));
    assert_eq!(test["executions"][0]["agent_name"], json!("sandbox"));
    let id = test["executions"][0]["id"].as_str().expect("id");
    let out = w.run(&["executions", "show", id, "--json"]);
    assert_exit(&out, 1, "test execution without --test");
    assert!(
        stderr(&out).contains("it is a test-mode execution: add --test"),
        "{}",
        stderr(&out)
    );
    let shown = w.json(&["executions", "show", id, "--test", "--json"]);
    assert_eq!(shown["id"], json!(id));
}

// ---------------------------------------------------------------------------
// tools
// ---------------------------------------------------------------------------

#[test]
fn tools_test_all_passes_every_action_without_touching_the_database() {
    let w = Whale::new();
    let actions: usize = common::registry(&w).iter().map(|(_, a)| a.len()).sum();
    assert!(actions >= 32, "only {actions} actions registered");
    let orders_before = w.tool("orders", "list_orders", json!({"limit": 1}))["total"].clone();
    let audit_before = w.json(&["executions", "list", "--json"])["total"].clone();

    let v = w.json(&["tools", "test", "--all", "--json"]);
    let results = v["results"].as_array().expect("results");
    let failures: Vec<&Value> = results.iter().filter(|r| r["status"] != json!("pass")).collect();
    assert!(failures.is_empty(), "failing examples: {failures:#?}");
    assert_eq!(v["passed"], json!(actions), "{v}");
    assert_eq!(v["failed"], json!(0));
    assert_eq!(results.len(), actions);

    let out = w.run(&["tools", "test", "--all"]);
    assert_exit(&out, 0, "tools test --all");
    assert!(
        stdout(&out).contains(&format!("{actions} passed, 0 failed")),
        "{}",
        stdout(&out)
    );

    // The examples ran on scratch copies: the real store and trail are as before.
    assert_eq!(
        w.tool("orders", "list_orders", json!({"limit": 1}))["total"],
        orders_before
    );
    // (+1: the list_orders call just above)
    let audit_after = w.json(&["executions", "list", "--json"])["total"]
        .as_i64()
        .expect("total");
    assert_eq!(
        audit_after,
        audit_before.as_i64().expect("total") + 1,
        "tools test --all wrote to the real audit trail"
    );
}

#[test]
fn tools_test_one_action_reports_and_sets_the_exit_code() {
    let w = Whale::new();
    let out = w.run(&[
        "tools",
        "test",
        "orders",
        "--action",
        "get_order",
        "--input",
        r#"{"order_id":"nope"}"#,
    ]);
    assert_exit(&out, 1, "tools test get_order nope");
    assert!(stderr(&out).contains("nope"), "{}", stderr(&out));
    // Like a success, the failure says where it ran.
    assert!(
        stderr(&out).contains("on store demo (live) · exec_"),
        "{}",
        stderr(&out)
    );

    let out = w.run(&[
        "tools",
        "test",
        "orders",
        "--action",
        "get_order",
        "--input",
        r#"{"order_id":"nope"}"#,
        "--json",
    ]);
    assert_exit(&out, 1, "tools test --json get_order nope");
    let v = parse_json(&out.stdout, "tools test --json");
    assert_eq!(v["status"], json!("error"), "{v}");
    assert_eq!(v["error_code"], json!("not_found"), "{v}");
    assert!(
        v["execution_id"].as_str().is_some_and(|i| i.starts_with("exec_")),
        "{v}"
    );
    // It went through the pipeline: the execution is in the audit trail.
    let shown = w.json(&[
        "executions",
        "show",
        v["execution_id"].as_str().expect("id"),
        "--json",
    ]);
    assert_eq!(shown["error_code"], json!("not_found"));

    let ok = w.json(&["tools", "test", "store", "--action", "get_settings", "--json"]);
    assert_eq!(ok["status"], json!("success"), "{ok}");
    assert_eq!(ok["result"]["store_id"], json!("demo"));
    let flat = w.json(&["tools", "test", "store_get_settings", "--json"]);
    assert_eq!(flat["status"], json!("success"), "{flat}");
    // The action's example is the default input.
    let example = w.json(&["tools", "test", "products", "--action", "list_products", "--json"]);
    assert_eq!(example["status"], json!("success"), "{example}");

    assert_exit(
        &w.run(&["tools", "test", "orders"]),
        2,
        "tools test without --action",
    );
    assert_exit(
        &w.run(&["tools", "test", "orders", "--action", "fly"]),
        2,
        "unknown action",
    );
    assert_exit(
        &w.run(&["tools", "test", "nope", "--action", "x"]),
        2,
        "unknown tool",
    );
    assert_exit(&w.run(&["tools", "test"]), 2, "neither a tool nor --all");
}

#[test]
fn tools_test_of_an_example_runs_on_a_scratch_copy_with_real_ids() {
    let w = Whale::new();
    let settings = w.tool("store", "get_settings", json!({}));
    let orders = w.tool("orders", "list_orders", json!({"limit": 100, "status": "paid"}));
    let audit_before = w.json(&["executions", "list", "--json"])["total"].clone();

    // The examples write: they must not change the store the user works on.
    for (tool, action) in [
        ("store", "update_settings"),
        ("orders", "cancel_order"),
        ("orders", "create_order"),
        ("products", "create_product"),
    ] {
        let v = w.json(&["tools", "test", tool, "--action", action, "--json"]);
        assert_eq!(v["status"], json!("success"), "{tool}.{action}: {v}");
        assert_eq!(v["scratch"], json!(true), "{v}");
        assert_eq!(
            v["execution_id"],
            Value::Null,
            "a scratch row cannot be looked up: {v}"
        );
        let out = w.run(&["tools", "test", tool, "--action", action]);
        assert_exit(&out, 0, action);
        assert!(stderr(&out).contains("scratch copy"), "{}", stderr(&out));
    }
    assert_eq!(w.tool("store", "get_settings", json!({})), settings);
    assert_eq!(
        w.tool("orders", "list_orders", json!({"limit": 100, "status": "paid"})),
        orders
    );
    // +2: the two reads just above; the scratch runs left no row here.
    assert_eq!(
        w.json(&["executions", "list", "--json"])["total"].as_i64(),
        audit_before.as_i64().map(|n| n + 2)
    );

    // An explicit input runs on the store itself, and is audited there.
    let v = w.json(&[
        "tools",
        "test",
        "store",
        "--action",
        "update_settings",
        "--input",
        r#"{"low_stock_threshold": 9}"#,
        "--json",
    ]);
    assert_eq!(v["status"], json!("success"), "{v}");
    assert_eq!(v["scratch"], json!(false), "{v}");
    assert_eq!(
        w.tool("store", "get_settings", json!({}))["low_stock_threshold"],
        json!(9)
    );
    let id = v["execution_id"].as_str().expect("an execution id");
    assert_eq!(
        w.json(&["executions", "show", id, "--json"])["status"],
        json!("success")
    );
}

/// `tools test --input` runs on the store's own data: its report says which
/// store and mode (it said only "succeeded in 4.41 ms (execution …)"); an
/// example run says it ran on a scratch copy.
#[test]
fn tools_test_says_where_it_ran() {
    let w = Whale::new();
    let input = ["--input", r#"{"limit":1}"#];
    let mut args = vec!["tools", "test", "orders", "--action", "list_orders"];
    args.extend(input);
    let out = w.run(&args);
    assert_exit(&out, 0, "tools test --input");
    let line = stderr(&out);
    assert!(
        line.contains("✓ orders.list_orders succeeded in ") && line.contains(" on store demo (live) · exec_"),
        "{line}"
    );
    let v = parse_json(&out.stdout, "result");
    assert!(v["total"].is_number(), "{v}");

    // (A failure says the same: tools_test_one_action_reports_and_sets_the_exit_code.)

    // A test key acts on the store's test data, and the line says so.
    let (_, key) = w.create_key("orders:read", true);
    let out = w.run_env(&args, &[(KEY, &key)]);
    assert_exit(&out, 0, "tools test with a test key");
    assert!(
        stderr(&out).contains("on store demo (test) · exec_"),
        "{}",
        stderr(&out)
    );

    // Another store, in JSON too.
    assert_exit(
        &w.run(&["stores", "create", "shop2", "--name", "Shop 2", "--seed"]),
        0,
        "stores create",
    );
    let mut other = vec!["--store", "shop2"];
    other.extend(&args);
    let out = w.run(&other);
    assert_exit(&out, 0, "tools test --store shop2");
    assert!(
        stderr(&out).contains("on store shop2 (live) · exec_"),
        "{}",
        stderr(&out)
    );
    other.push("--json");
    let v = w.json(&other);
    assert_eq!(
        (&v["store"], &v["mode"]),
        (&json!("shop2"), &json!("live")),
        "{v}"
    );

    // The example runs on a scratch copy, and the line says that instead.
    let out = w.run(&["tools", "test", "orders", "--action", "list_orders"]);
    assert_exit(&out, 0, "tools test (example)");
    let line = stderr(&out);
    assert!(
        line.contains("on a scratch copy of store demo") && !line.contains("(live)"),
        "{line}"
    );
    let v = w.json(&["tools", "test", "orders", "--action", "list_orders", "--json"]);
    assert_eq!(
        (&v["store"], &v["mode"], &v["scratch"]),
        (&json!("demo"), &json!("test"), &json!(true)),
        "{v}"
    );
}

#[test]
fn tools_test_all_passes_on_a_store_created_without_data() {
    let w = Whale::new();
    assert_exit(
        &w.run(&["stores", "create", "bare", "--name", "Bare shop"]),
        0,
        "stores create",
    );
    let v = w.json(&["--store", "bare", "tools", "test", "--all", "--json"]);
    let results = v["results"].as_array().expect("results");
    let bad: Vec<&Value> = results.iter().filter(|r| r["status"] != json!("pass")).collect();
    assert!(bad.is_empty(), "examples not passing on a bare store: {bad:#?}");
    assert_eq!(v["seeded"], json!(true), "{v}");
    // The bare store is still bare: seeding happened on the copy.
    let listed = w.tool_in("bare", "products", "list_products", json!({}));
    assert_eq!(listed["total"], json!(0), "{listed}");
    let one = w.json(&[
        "--store",
        "bare",
        "tools",
        "test",
        "orders",
        "--action",
        "cancel_order",
        "--json",
    ]);
    assert_eq!(one["status"], json!("success"), "{one}");
}

#[test]
fn tools_call_prints_the_result_as_json() {
    let w = Whale::new();
    let v = w.json(&[
        "tools",
        "call",
        "products",
        "--action",
        "list_products",
        "--input",
        r#"{"limit":3}"#,
    ]);
    assert_eq!(v["items"].as_array().map(Vec::len), Some(3), "{v}");
    assert_eq!(v["total"], json!(48), "the demo store has 48 products");
    let flat = w.json(&[
        "tools",
        "call",
        "products_list_products",
        "--input",
        r#"{"limit":3}"#,
    ]);
    assert_eq!(flat, v, "flat and grouped spellings disagree");
    // The input from stdin (`-`) or a file (`@FILE`), as `gh api --input`.
    let piped = w.run_input(
        &["tools", "call", "products_list_products", "--input", "-"],
        r#"{"limit":3}"#,
    );
    assert_exit(&piped, 0, "--input -");
    assert_eq!(parse_json(&piped.stdout, "--input -"), v);
    let file = w.dir.join("input.json");
    std::fs::write(&file, r#"{"limit":3}"#).expect("write input");
    let from_file = w.json(&[
        "tools",
        "call",
        "products_list_products",
        "--input",
        &format!("@{}", file.display()),
    ]);
    assert_eq!(from_file, v);
    let out = w.run(&[
        "tools",
        "call",
        "products_list_products",
        "--input",
        "@/nonexistent/in.json",
    ]);
    assert_exit(&out, 2, "--input @missing");
    assert!(stderr(&out).contains("/nonexistent/in.json"), "{}", stderr(&out));
    let settings = w.json(&["tools", "call", "store", "--action", "get_settings"]);
    assert_eq!(settings["store_id"], json!("demo"));
    // An action without parameters names the stray one in the usual words.
    let out = tools_call(&w, "store", "get_overview", r#"{"verbose":true}"#);
    assert_exit(&out, 1, "a parameter of an action that takes none");
    assert!(
        stderr(&out).contains(
            "invalid input at `verbose`: is not a parameter of `get_overview`; it takes no parameters"
        ),
        "{}",
        stderr(&out)
    );
    let orders = w.tool("orders", "list_orders", json!({"limit": 1}));
    assert_eq!(orders["total"], json!(100), "the demo store has 100 orders");
    let customers = w.tool("customers", "list_customers", json!({"limit": 1}));
    assert_eq!(customers["total"], json!(30), "the demo store has 30 customers");
    let locations = w.tool("locations", "list_locations", json!({}));
    let locs = locations["locations"].as_array().expect("locations");
    assert_eq!(locs.len(), 2);
    let default: Vec<&Value> = locs.iter().filter(|l| l["is_default"] == json!(true)).collect();
    assert_eq!(default.len(), 1);
    assert_eq!(default[0]["name"], json!("Brooklyn Warehouse"));

    // A tool error: exit 1, nothing on stdout, the reason on stderr.
    let out = tools_call(
        &w,
        "orders",
        "create_order",
        r#"{"items":[{"sku":"WDO-NOPE","quantity":0}]}"#,
    );
    assert_exit(&out, 1, "invalid create_order");
    assert!(stdout(&out).trim().is_empty(), "{}", stdout(&out));
    assert!(stderr(&out).contains("items[0].quantity"), "{}", stderr(&out));

    // Usage errors.
    let audited = w.json(&["executions", "list", "--json"])["total"].clone();
    for (args, why) in [
        (
            vec![
                "tools",
                "call",
                "products",
                "--action",
                "list_products",
                "--input",
                "{not json",
            ],
            "bad JSON",
        ),
        (
            vec![
                "tools",
                "call",
                "products",
                "--action",
                "list_products",
                "--input",
                "[1]",
            ],
            "not an object",
        ),
        (vec!["tools", "call", "nope"], "unknown tool"),
        (
            vec!["tools", "call", "products", "--action", "fly"],
            "unknown action",
        ),
        (vec!["tools", "call"], "no tool"),
        (vec!["tools", "call", "orders"], "no action"),
    ] {
        let out = w.run(&args);
        assert_exit(&out, 2, why);
        assert!(stdout(&out).trim().is_empty(), "{why}: {}", stdout(&out));
    }
    // Each names the choices; none of them is a call, so none is audited.
    let out = w.run(&["tools", "call", "orders_nosuch"]);
    assert!(stderr(&out).contains("known tools: "), "{}", stderr(&out));
    let out = w.run(&["tools", "call", "orders"]);
    assert!(stderr(&out).contains("--action one of: "), "{}", stderr(&out));
    assert_eq!(
        w.json(&["executions", "list", "--json"])["total"],
        audited,
        "a usage error was audited as a call"
    );
}

/// A flat name and an --action that disagree ran the flat name's action
/// and ignored --action (exit 0): now a usage error naming both.
#[test]
fn a_flat_name_with_another_action_is_a_usage_error() {
    let w = Whale::new();
    let orders_before = w.tool("orders", "list_orders", json!({"limit": 1}))["total"].clone();
    for (args, why) in [
        (
            vec![
                "tools",
                "call",
                "orders_list_orders",
                "--action",
                "get_order",
                "--input",
                r#"{"limit":1}"#,
            ],
            "tools call",
        ),
        (
            vec![
                "tools",
                "schema",
                "orders_create_order",
                "--action",
                "list_orders",
            ],
            "tools schema",
        ),
        (
            vec![
                "tools",
                "test",
                "orders_create_order",
                "--action",
                "list_orders",
                "--input",
                r#"{"limit":1}"#,
            ],
            "tools test",
        ),
    ] {
        let out = w.run(&args);
        assert_exit(&out, 2, why);
        assert!(stdout(&out).trim().is_empty(), "{why}: {}", stdout(&out));
        let (flat, given) = (args[2], args[4]);
        assert!(
            stderr(&out).contains(flat) && stderr(&out).contains(given),
            "{why}: {}",
            stderr(&out)
        );
    }
    assert_eq!(
        w.tool("orders", "list_orders", json!({"limit": 1}))["total"],
        orders_before
    );
    // The same action twice is no conflict.
    let s = w.json(&[
        "tools",
        "schema",
        "orders_create_order",
        "--action",
        "create_order",
    ]);
    assert_eq!(s["name"], json!("orders_create_order"));
    let v = w.json(&[
        "tools",
        "call",
        "orders_list_orders",
        "--action",
        "list_orders",
        "--input",
        r#"{"limit":1}"#,
    ]);
    assert_eq!(v["total"], orders_before);
}

/// An input outside an enum is refused naming the field and every allowed
/// value (jsonschema named two and "2 other candidates"); `null`, an
/// optional field left out, is not offered.
#[test]
fn an_enum_input_error_lists_every_allowed_value() {
    let w = Whale::new();
    let products_before = w.tool("products", "list_products", json!({"limit": 1}))["total"].clone();
    for (tool, action, input, want) in [
        (
            "products",
            "list_products",
            json!({"status": ""}),
            r#"invalid input at `status`: "" is not one of "active", "draft", "archived""#,
        ),
        (
            "orders",
            "list_orders",
            json!({"status": "shipped"}),
            r#"invalid input at `status`: "shipped" is not one of "pending", "paid", "fulfilled", "cancelled", "refunded", "partially_refunded""#,
        ),
        (
            "products",
            "update_product",
            json!({"product_id": "prod_x", "status": "gone"}),
            r#"invalid input at `status`: "gone" is not one of "active", "draft", "archived""#,
        ),
        // A documented enum (a oneOf of consts) reads the same.
        (
            "inventory",
            "adjust_stock",
            json!({"variant_id": "var_x", "location_id": "loc_x", "delta": 1, "reason": "bogus"}),
            r#"invalid input at `reason`: "bogus" is not one of "received", "correction", "damaged", "lost", "returned", "cycle_count""#,
        ),
        // The parameter's description follows: where the other values went.
        (
            "orders",
            "update_status",
            json!({"order_id": "ord_x", "status": "cancelled"}),
            r#""cancelled" is not one of "paid", "fulfilled" (`paid` (from pending) or `fulfilled` (from paid). Use cancel_order / refund_order for the rest.)"#,
        ),
    ] {
        let input = input.to_string();
        let out = w.run(&["tools", "call", tool, "--action", action, "--input", &input]);
        assert_exit(&out, 1, &format!("{tool}.{action} {input}"));
        assert!(stderr(&out).contains(want), "{}", stderr(&out));
        assert!(!stderr(&out).contains("candidates"), "{}", stderr(&out));
        assert!(stdout(&out).trim().is_empty(), "{}", stdout(&out));
    }
    assert_eq!(
        w.tool("products", "list_products", json!({"limit": 1}))["total"],
        products_before
    );
}

/// docs/tools.md (`whale tools docs`) shows a parameter's allowed values:
/// a oneOf of consts rendered as `string or string or …`, an optional
/// enum ended in an empty value (its `null`), and an optional array lost
/// its item type.
#[test]
fn the_tool_catalog_lists_enum_values_and_array_items() {
    let w = Whale::new();
    let out = w.run(&["tools", "docs"]);
    assert_exit(&out, 0, "tools docs");
    let md = stdout(&out);
    let row = |section: &str, param: &str| -> String {
        let at = md
            .find(&format!("### `{section}`"))
            .unwrap_or_else(|| panic!("no {section}"));
        md[at..]
            .lines()
            .find(|l| l.starts_with(&format!("| `{param}` |")))
            .unwrap_or_else(|| panic!("no {param} in {section}"))
            .to_string()
    };
    assert!(
        row("inventory.adjust_stock", "reason").starts_with(
            "| `reason` | `received` \\| `correction` \\| `damaged` \\| `lost` \\| `returned` \\| `cycle_count` | yes |"
        ),
        "{}",
        row("inventory.adjust_stock", "reason")
    );
    assert!(
        row("products.update_product", "status")
            .starts_with("| `status` | `active` \\| `draft` \\| `archived` |  |"),
        "{}",
        row("products.update_product", "status")
    );
    assert!(
        row("products.update_product", "tags").starts_with("| `tags` | array of string |"),
        "{}",
        row("products.update_product", "tags")
    );
    assert!(
        !md.contains("string or string"),
        "a oneOf of consts shown as types"
    );
    assert!(!md.contains("\\| `` |"), "an empty enum value");
}

#[test]
fn tools_list_and_schema_describe_the_registry() {
    let w = Whale::new();
    let reg = common::registry(&w);
    let names: Vec<&str> = reg.iter().map(|(t, _)| t.as_str()).collect();
    for t in [
        "products",
        "orders",
        "customers",
        "inventory",
        "locations",
        "store",
        "audit_trail",
    ] {
        assert!(names.contains(&t), "{t} missing from {names:?}");
    }
    let list = w.json(&["tools", "list", "--json"]);
    for t in list["tools"].as_array().expect("tools") {
        for a in t["actions"].as_array().expect("actions") {
            let scope = a["scope"].as_str().expect("scope");
            let want = if a["effect"] == json!("read") {
                ":read"
            } else {
                ":write"
            };
            assert!(
                scope.ends_with(want),
                "{} {}: scope {scope}",
                t["name"],
                a["name"]
            );
        }
    }
    let platform = w.json(&["tools", "list", "--category", "platform", "--json"]);
    let p: Vec<&str> = platform["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(
        p.contains(&"store") && p.contains(&"audit_trail") && !p.contains(&"orders"),
        "{p:?}"
    );
    assert_exit(
        &w.run(&["tools", "list", "--category", "nope"]),
        2,
        "unknown category",
    );
    // A category of the catalog with no tool in this build says so.
    let none = w.run(&["tools", "list", "--category", "intelligence"]);
    assert_exit(&none, 0, "a category without tools");
    assert!(
        stdout(&none).contains("No tools in category `intelligence`; the categories with tools: commerce"),
        "{}",
        stdout(&none)
    );
    let table = w.run(&["tools", "list", "--actions"]);
    assert_exit(&table, 0, "tools list --actions");
    assert!(stdout(&table).contains("create_order"));

    // With a key in the environment: what that key may call, as its
    // agent's tools/list shows it, and a note saying so.
    let (_, key) = w.create_key_as("reader", "products:read orders", false, &[]);
    let out = w.run_env(&["tools", "list", "--json"], &[(KEY, &key)]);
    assert_exit(&out, 0, "tools list with a key");
    let listed: Vec<(String, Vec<String>)> = parse_json(&out.stdout, "tools list --json")["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .map(|t| {
            let acts = t["actions"].as_array().expect("actions");
            let names = acts
                .iter()
                .map(|a| a["name"].as_str().unwrap_or_default().to_string());
            (
                t["name"].as_str().unwrap_or_default().to_string(),
                names.collect(),
            )
        })
        .collect();
    let names: Vec<&str> = listed.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(names, ["orders", "products"], "{listed:?}");
    let products = &listed[1].1;
    assert!(products.contains(&"list_products".to_string()), "{products:?}");
    assert!(!products.contains(&"create_product".to_string()), "{products:?}");
    assert!(listed[0].1.contains(&"create_order".to_string()), "{listed:?}");
    assert!(
        stderr(&out).contains("the API key in WHALETOOLS_API_KEY may call (agent `reader`"),
        "{}",
        stderr(&out)
    );
    // Nothing this key may call in a category: an empty list for scripts.
    let none = w.json_env(
        &["tools", "list", "--category", "platform", "--json"],
        &[(KEY, &key)],
    );
    assert_eq!(none, json!({"tools": []}));
    assert_exit(
        &w.run_env(&["tools", "list"], &[(KEY, "wt_live_nope")]),
        3,
        "tools list with a malformed key",
    );

    let s = w.json(&["tools", "schema", "orders", "--action", "create_order"]);
    assert_eq!(s["name"], json!("orders_create_order"));
    assert!(s["inputSchema"]["properties"]["items"].is_object(), "{s}");
    assert!(s["outputSchema"]["properties"]["total_cents"].is_object(), "{s}");
    let g = w.json(&["tools", "schema", "orders"]);
    let n = g["inputSchema"]["properties"]["action"]["enum"]
        .as_array()
        .map(Vec::len);
    let want = reg.iter().find(|(t, _)| t == "orders").map(|(_, a)| a.len());
    assert_eq!(n, want, "{g}");
    assert_exit(
        &w.run(&["tools", "schema", "nope"]),
        2,
        "schema of an unknown tool",
    );
}

// ---------------------------------------------------------------------------
// stores
// ---------------------------------------------------------------------------

#[test]
fn stores_create_use_and_list() {
    let w = Whale::new();
    let list = w.json(&["stores", "list", "--json"]);
    assert_eq!(list["current"], json!("demo"));
    let ids: Vec<&str> = list["stores"]
        .as_array()
        .expect("stores")
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert_eq!(ids, ["demo"]);

    assert_exit(
        &w.run(&["stores", "create", "empty-shop", "--name", "Empty Shop"]),
        0,
        "create empty",
    );
    assert_exit(
        &w.run(&[
            "stores",
            "create",
            "full",
            "--name",
            "Full",
            "--seed",
            "--currency",
            "eur",
        ]),
        0,
        "create seeded",
    );
    let list = w.json(&["stores", "list", "--json"]);
    let stores = list["stores"].as_array().expect("stores");
    assert_eq!(stores.len(), 3, "{list}");
    let full = stores.iter().find(|s| s["id"] == json!("full")).expect("full");
    assert_eq!(full["name"], json!("Full"));
    assert_eq!(full["currency"], json!("EUR"));
    assert_eq!(list["current"], json!("demo"), "creating does not switch");

    // --store picks the store; an unseeded store is empty, a seeded one is not.
    let empty = w.tool_in("empty-shop", "orders", "list_orders", json!({}));
    assert_eq!(empty["total"], json!(0), "{empty}");
    let seeded = w.tool_in("full", "products", "list_products", json!({"limit": 1}));
    assert_eq!(seeded["total"], json!(48), "{seeded}");

    // `stores use` changes the default for later commands.
    let out = w.run(&["stores", "use", "full"]);
    assert_exit(&out, 0, "stores use");
    assert_eq!(w.json(&["stores", "list", "--json"])["current"], json!("full"));
    assert_eq!(
        w.tool("store", "get_settings", json!({}))["store_id"],
        json!("full")
    );
    assert_eq!(
        w.json(&["--store", "demo", "tools", "call", "store_get_settings"])["store_id"],
        json!("demo"),
        "--store overrides the default"
    );
    let env = w.json_env(
        &["tools", "call", "store_get_settings"],
        &[("WHALE_STORE", "empty-shop")],
    );
    assert_eq!(
        env["store_id"],
        json!("empty-shop"),
        "WHALE_STORE overrides the default"
    );
    // Choosing a default while WHALE_STORE names another says which wins.
    let out = w.run_env(&["stores", "use", "demo"], &[("WHALE_STORE", "empty-shop")]);
    assert_exit(&out, 0, "stores use under WHALE_STORE");
    assert!(
        stderr(&out).contains("WHALE_STORE is set to `empty-shop`"),
        "{}",
        stderr(&out)
    );
    let out = w.run(&["stores", "use", "full"]);
    assert!(!stderr(&out).contains("WHALE_STORE"), "{}", stderr(&out));

    // Usage errors (2) for what cannot be a store; runtime errors (1) for
    // ids that are taken or not there. Nothing changes.
    for (args, why, code) in [
        (
            vec!["stores", "create", "full", "--name", "Again"],
            "duplicate id",
            1,
        ),
        (vec!["stores", "create", "Bad Id", "--name", "X"], "bad id", 2),
        (vec!["stores", "create", "ok-id", "--name", " "], "blank name", 2),
        (
            vec![
                "stores",
                "create",
                "ok-id",
                "--name",
                "X",
                "--currency",
                "dollars",
            ],
            "bad currency",
            2,
        ),
        (
            vec!["stores", "create", "ok-id", "--name", "X", "--currency", "UDS"],
            "a three-letter code that is no currency",
            2,
        ),
        (
            vec![
                "stores",
                "create",
                "ok-id",
                "--name",
                "X",
                "--timezone",
                "Mars/Olympus Mons",
            ],
            "bad time zone",
            2,
        ),
        (vec!["stores", "use", "nope"], "unknown store", 1),
        (
            vec!["--store", "nope", "keys", "list"],
            "keys on an unknown store",
            1,
        ),
        (
            vec!["--store", "nope", "tools", "call", "store_get_settings"],
            "tools on an unknown store",
            1,
        ),
        (
            vec!["--store", "nope", "tools", "list"],
            "the catalog of an unknown store",
            1,
        ),
        (
            vec!["--store", "nope", "tools", "schema", "products"],
            "a schema on an unknown store",
            1,
        ),
    ] {
        assert_exit(&w.run(&args), code, why);
    }
    assert_eq!(
        w.json(&["stores", "list", "--json"])["stores"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
}

// ---------------------------------------------------------------------------
// install
// ---------------------------------------------------------------------------

#[test]
fn install_claude_writes_merges_and_backs_up() {
    let w = Whale::new();
    let config = w.dir.join("claude").join("claude_desktop_config.json");
    let cfg = config.to_str().expect("utf-8 path");
    let backups = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(config.parent().expect("dir"))
            .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.contains(".bak-"))
            })
            .collect()
    };

    // --print writes nothing.
    let printed = w.json(&["install", "claude", "--print", "--config", cfg]);
    let entry = printed["mcpServers"]["whale"].clone();
    assert!(
        entry["command"].as_str().is_some_and(|c| c.ends_with("whale")),
        "{printed}"
    );
    assert!(!config.exists(), "--print wrote the file");

    // First run creates the file (no backup: there was nothing to keep).
    assert_exit(&w.run(&["install", "claude", "--config", cfg]), 0, "install");
    let doc: Value = parse_json(&std::fs::read(&config).expect("config written"), "config");
    assert_eq!(
        doc["mcpServers"]["whale"], entry,
        "written entry differs from --print"
    );
    let args: Vec<&str> = entry["args"]
        .as_array()
        .expect("args")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(args[0], "mcp");
    let db = std::path::absolute(&w.db).expect("absolute");
    assert_eq!(
        args[1..],
        ["--db", db.to_str().expect("utf-8")],
        "the entry must keep the chosen database"
    );
    assert!(
        backups().is_empty(),
        "backup of a file that did not exist: {:?}",
        backups()
    );

    // Second run changes nothing.
    let before = std::fs::read(&config).expect("read");
    let out = w.run(&["install", "claude", "--config", cfg]);
    assert_exit(&out, 0, "install again");
    assert!(stdout(&out).contains("nothing changed"), "{}", stdout(&out));
    assert_eq!(std::fs::read(&config).expect("read"), before);
    assert!(backups().is_empty(), "a no-op run made a backup");

    // An existing config with other entries: merged, backed up first.
    let original =
        json!({"theme": "dark", "mcpServers": {"other": {"command": "other-server", "args": ["x"]}}});
    let original_text = serde_json::to_string_pretty(&original).expect("json");
    std::fs::write(&config, &original_text).expect("write config");
    assert_exit(
        &w.run(&["install", "claude", "--config", cfg]),
        0,
        "install into existing",
    );
    let doc: Value = parse_json(&std::fs::read(&config).expect("read"), "merged config");
    assert_eq!(doc["theme"], json!("dark"), "other settings lost");
    assert_eq!(
        doc["mcpServers"]["other"], original["mcpServers"]["other"],
        "other servers lost"
    );
    assert_eq!(doc["mcpServers"]["whale"], entry);
    let b = backups();
    assert_eq!(b.len(), 1, "{b:?}");
    assert_eq!(
        std::fs::read_to_string(&b[0]).expect("backup"),
        original_text,
        "backup differs from the original"
    );
    let again = w.run(&["install", "claude", "--config", cfg]);
    assert!(stdout(&again).contains("nothing changed"), "{}", stdout(&again));
    assert_eq!(backups().len(), 1);

    // A config that is not JSON is left alone.
    std::fs::write(&config, "{ broken").expect("write");
    let out = w.run(&["install", "claude", "--config", cfg]);
    assert_exit(&out, 1, "install into broken JSON");
    assert_eq!(std::fs::read_to_string(&config).expect("read"), "{ broken");
}

#[test]
fn install_keeps_the_store_and_the_entry_env() {
    let w = Whale::new();
    let config = w.dir.join("cursor-mcp.json");
    let cfg = config.to_str().expect("utf-8 path");

    // A store that does not exist would only fail later, inside the host.
    let out = w.run(&["--store", "nope", "install", "cursor", "--config", cfg]);
    assert_exit(&out, 1, "install --store nope");
    assert!(stderr(&out).contains("nope"), "{}", stderr(&out));
    assert!(!config.exists(), "a refused install wrote the config");

    assert_exit(
        &w.run(&["stores", "create", "shop2", "--name", "Shop 2"]),
        0,
        "stores create",
    );
    assert_exit(
        &w.run(&["--store", "shop2", "install", "cursor", "--config", cfg]),
        0,
        "install --store shop2",
    );
    let doc: Value = parse_json(&std::fs::read(&config).expect("written"), "config");
    let args = doc["mcpServers"]["whale"]["args"].clone();
    let args: Vec<&str> = args
        .as_array()
        .expect("args")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let at = args
        .iter()
        .position(|a| *a == "--store")
        .expect("--store in the entry");
    assert_eq!(args[at + 1], "shop2", "{args:?}");

    // The user gave the entry an env (a key, a log level): a re-install
    // with other options replaces command and args and keeps the rest.
    let mut doc = doc;
    doc["mcpServers"]["whale"]["env"] = json!({"RUST_LOG": "info"});
    std::fs::write(&config, serde_json::to_string_pretty(&doc).expect("json")).expect("write");
    let out = w.run(&["install", "cursor", "--config", cfg]);
    assert_exit(&out, 0, "install again without --store");
    assert!(stdout(&out).contains("Updated"), "{}", stdout(&out));
    let doc: Value = parse_json(&std::fs::read(&config).expect("read"), "config");
    assert_eq!(
        doc["mcpServers"]["whale"]["env"],
        json!({"RUST_LOG": "info"}),
        "{doc}"
    );
    assert!(
        !doc["mcpServers"]["whale"]["args"].to_string().contains("shop2"),
        "{doc}"
    );

    // A remote entry (its key is the remote server's) turned local: the key
    // and the remote-only fields go, the rest of the env stays.
    let mut doc = doc;
    doc["mcpServers"]["whale"] = json!({
        "command": "whale", "args": ["mcp", "--server", "https://mcp.example.com"],
        "type": "stdio", "url": "https://mcp.example.com",
        "env": {"WHALETOOLS_API_KEY": "wt_live_remote", "RUST_LOG": "debug"}
    });
    std::fs::write(&config, serde_json::to_string_pretty(&doc).expect("json")).expect("write");
    let out = w.run(&["install", "cursor", "--config", cfg]);
    assert_exit(&out, 0, "remote entry made local");
    assert!(stderr(&out).contains("WHALETOOLS_API_KEY"), "{}", stderr(&out));
    let doc: Value = parse_json(&std::fs::read(&config).expect("read"), "config");
    let entry = &doc["mcpServers"]["whale"];
    assert_eq!(entry["env"], json!({"RUST_LOG": "debug"}), "{doc}");
    assert!(entry.get("url").is_none() && entry.get("type").is_none(), "{doc}");

    // Checking the store reads the database; a missing one is not created.
    let missing = w.dir.join("not-yet.db");
    let out = w.run_on(
        &missing,
        &["--store", "shop2", "install", "cursor", "--print"],
        &[],
    );
    assert_exit(&out, 1, "a store in a database that does not exist yet");
    assert!(!missing.exists(), "install created the database");
}

/// Host configs hold secrets (API keys in an entry's `env`): a 0600 file
/// stays 0600 (it became 0644), a new one is created 0600, and a config
/// symlinked from a dotfiles directory stays a link (it was replaced by a
/// plain file).
#[cfg(unix)]
#[test]
fn install_keeps_the_config_mode_and_its_symlink() {
    use std::os::unix::fs::PermissionsExt;
    let w = Whale::new();
    let mode = |p: &std::path::Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
    let original = r#"{"mcpServers":{"other":{"command":"x","env":{"TOKEN":"s"}}}}"#;

    let private = w.dir.join("private.json");
    std::fs::write(&private, original).expect("write");
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let cfg = private.to_str().expect("utf-8");
    assert_exit(&w.run(&["install", "claude", "--config", cfg]), 0, "install 0600");
    assert_eq!(mode(&private), 0o600, "the config's mode changed");
    let doc: Value = parse_json(&std::fs::read(&private).expect("read"), "config");
    assert_eq!(doc["mcpServers"]["other"]["env"]["TOKEN"], json!("s"), "{doc}");
    assert!(doc["mcpServers"]["whale"].is_object(), "{doc}");

    // Another mode is kept as it is, too.
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    assert_exit(
        &w.run(&["install", "claude", "--config", cfg, "--name", "whale2"]),
        0,
        "install 0640",
    );
    assert_eq!(mode(&private), 0o640, "the config's mode changed");

    let fresh = w.dir.join("new").join("mcp.json");
    assert_exit(
        &w.run(&["install", "cursor", "--config", fresh.to_str().expect("utf-8")]),
        0,
        "install into a new file",
    );
    assert_eq!(mode(&fresh), 0o600, "a new config is readable by others");

    // A symlinked config: the target changes, the link stays, the backup
    // is beside the target.
    let dotfiles = w.dir.join("dotfiles");
    std::fs::create_dir_all(&dotfiles).expect("mkdir");
    let target = dotfiles.join("claude.json");
    std::fs::write(&target, original).expect("write");
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let hostdir = w.dir.join("host");
    std::fs::create_dir_all(&hostdir).expect("mkdir");
    let link = hostdir.join("claude_desktop_config.json");
    std::os::unix::fs::symlink("../dotfiles/claude.json", &link).expect("symlink");
    let out = w.run(&["install", "claude", "--config", link.to_str().expect("utf-8")]);
    assert_exit(&out, 0, "install through a symlink");
    assert!(
        std::fs::symlink_metadata(&link)
            .expect("lstat")
            .file_type()
            .is_symlink(),
        "the symlink was replaced by a file"
    );
    assert_eq!(mode(&target), 0o600);
    let doc: Value = parse_json(&std::fs::read(&target).expect("read"), "target");
    assert!(doc["mcpServers"]["whale"].is_object(), "{doc}");
    let names = |d: &std::path::Path| -> Vec<String> {
        std::fs::read_dir(d)
            .expect("read_dir")
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    };
    let backups: Vec<String> = names(&dotfiles)
        .into_iter()
        .filter(|n| n.contains(".bak-"))
        .collect();
    assert_eq!(backups.len(), 1, "{:?}", names(&dotfiles));
    assert_eq!(
        std::fs::read_to_string(dotfiles.join(&backups[0])).expect("backup"),
        original
    );
    assert_eq!(
        names(&hostdir),
        ["claude_desktop_config.json"],
        "stray files beside the link"
    );
}

#[test]
fn install_refuses_an_empty_name() {
    let w = Whale::new();
    let config = w.dir.join("claude.json");
    let cfg = config.to_str().expect("utf-8");
    for name in ["", "  "] {
        for extra in [None, Some("--print")] {
            let mut args = vec!["install", "claude", "--config", cfg, "--name", name];
            args.extend(extra);
            let out = w.run(&args);
            assert_exit(&out, 2, &format!("install --name {name:?} {extra:?}"));
            assert!(stderr(&out).contains("--name"), "{}", stderr(&out));
            assert!(stdout(&out).is_empty(), "{}", stdout(&out));
        }
    }
    assert!(!config.exists(), "a refused install wrote the config");
}

/// Every page a man page refers to (`whale\-keys(1)`) is one `whale man
/// --out` writes: `whale man` listed whale-help(1), which does not exist.
/// An --out that is a file is named and left alone.
#[test]
fn man_pages_refer_only_to_pages_that_exist() {
    let w = Whale::new();
    let dir = w.dir.join("man");
    let wrote = w.run(&["man", "--out", dir.to_str().expect("utf-8")]);
    assert_exit(&wrote, 0, "man --out");
    assert!(
        stderr(&wrote).contains("Wrote whale's man pages into"),
        "{}",
        stderr(&wrote)
    );
    let pages: Vec<String> = std::fs::read_dir(&dir)
        .expect("read_dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let top = w.run(&["man"]);
    assert_exit(&top, 0, "man");
    let mut texts = vec![("whale man".to_string(), stdout(&top))];
    for p in &pages {
        texts.push((
            p.clone(),
            std::fs::read_to_string(dir.join(p)).expect("read page"),
        ));
    }
    for (page, text) in &texts {
        for (at, _) in text.match_indices("(1)") {
            let start = text[..at].rfind(|c: char| c.is_whitespace()).map_or(0, |i| i + 1);
            let name = text[start..at].replace('\\', "");
            if name.starts_with("whale") {
                assert!(
                    pages.contains(&format!("{name}.1")),
                    "{page} refers to {name}(1), which is not generated ({pages:?})"
                );
            }
        }
    }
    assert!(!stdout(&top).contains("whale\\-help"), "{}", stdout(&top));

    let file = w.dir.join("notes.txt");
    std::fs::write(&file, "keep me").expect("write");
    let out = w.run(&["man", "--out", file.to_str().expect("utf-8")]);
    assert_exit(&out, 2, "man --out a file");
    assert!(
        stderr(&out).contains(file.to_str().expect("utf-8")) && stderr(&out).contains("not a directory"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_to_string(&file).expect("read"), "keep me");
}

/// `whale completions bash | head`: the reader leaves early; whale stops
/// quietly with success, like any filter (it panicked, or said "error").
#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let w = Whale::new();
    // More than a pipe holds (64 KiB), so the write meets the closed end.
    let mut child = w
        .command_env(&["completions", "bash"], &[])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn whale");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
}

#[test]
fn a_bad_tool_timeout_setting_is_an_error_not_ignored() {
    let w = Whale::new();
    let args = ["tools", "call", "store", "--action", "get_settings"];
    for bad in ["abc", "0", "-5", "99999999999"] {
        let out = w.run_env(&args, &[("WHALE_TOOL_TIMEOUT_MS", bad)]);
        assert_exit(&out, 2, bad);
        assert!(stderr(&out).contains("WHALE_TOOL_TIMEOUT_MS"), "{}", stderr(&out));
    }
    let out = w.run_env(&args, &[("WHALE_TOOL_TIMEOUT_MS", "5000")]);
    assert_exit(&out, 0, "a valid timeout");
    let out = w.run_env(&args, &[("WHALE_TOOL_TIMEOUT_MS", "")]);
    assert_exit(&out, 0, "an empty value is unset");
    // Refused before anything is touched: no database is created.
    let fresh = w.dir.join("fresh.db");
    let out = w.run_on(&fresh, &args, &[("WHALE_TOOL_TIMEOUT_MS", "abc")]);
    assert_exit(&out, 2, "bad timeout, fresh db");
    assert!(!fresh.exists(), "a refused command created the database");
}

#[test]
fn a_file_that_is_not_a_database_is_named_and_left_alone() {
    let w = Whale::new();
    let path = w.dir.join("notes.txt");
    let text = "shopping list: eggs, milk, and a great deal more than SQLite's header\n".repeat(20);
    std::fs::write(&path, &text).expect("write");
    let p = path.to_str().expect("utf-8");
    let out = w.run_on(
        &path,
        &["tools", "call", "store", "--action", "get_settings"],
        &[],
    );
    assert_exit(&out, 1, "--db pointing at a text file");
    assert!(
        stderr(&out).contains(p) && stderr(&out).contains("not a database"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read_to_string(&path).expect("read"),
        text,
        "the file was changed"
    );
}

/// Opens another program's SQLite file the way that program would.
#[allow(clippy::disallowed_methods)] // plays another program making its own database
fn foreign_db(path: &std::path::Path, sql: &str) {
    let conn = rusqlite::Connection::open(path).expect("create a foreign database");
    conn.execute_batch(sql).expect("fill the foreign database");
}

/// `--db` pointed at another program's SQLite database is refused, naming
/// the file, before anything changes (not even the switch to WAL); an empty
/// file is a new database, and a whale database made before whale stamped
/// its files (`application_id` 0) is still whale's.
#[test]
fn a_database_of_another_program_is_refused_and_left_alone() {
    let w = Whale::new();
    let cases = [
        (
            "places.db",
            "CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url TEXT);",
        ),
        (
            "versioned.db",
            "CREATE TABLE moz_places (id INTEGER PRIMARY KEY); PRAGMA user_version = 3;",
        ),
        (
            "lookalike.db",
            "CREATE TABLE stores (id TEXT); CREATE TABLE executions (id TEXT);
             PRAGMA user_version = 6; PRAGMA application_id = 42;",
        ),
        ("empty-but-theirs.db", "PRAGMA application_id = 42;"),
    ];
    for (name, sql) in cases {
        let path = w.dir.join(name);
        foreign_db(&path, sql);
        let before = std::fs::read(&path).expect("read");
        let out = w.run_on(&path, &["stores", "list"], &[]);
        assert_exit(&out, 1, name);
        let err = stderr(&out);
        assert!(
            err.contains(&format!("{} is not a whale database", path.display())),
            "{name}: {err}"
        );
        assert_eq!(std::fs::read(&path).expect("read"), before, "{name} was changed");
        assert!(
            !w.dir.join(format!("{name}-wal")).exists(),
            "{name} was switched to WAL"
        );
    }

    // A whale database from before the stamp: used, and stamped.
    assert_exit(&w.run(&["stores", "list"]), 0, "a new database");
    {
        #[allow(clippy::disallowed_methods)] // rewinds the stamp, as an older whale left it
        let conn = rusqlite::Connection::open(&w.db).expect("open");
        conn.pragma_update(None, "application_id", 0).expect("unstamp");
    }
    assert_exit(
        &w.run(&["stores", "list"]),
        0,
        "a whale database without the stamp",
    );
    let id: i64 = w
        .sqlite()
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .expect("application_id");
    assert_ne!(id, 0, "stamped");
}

/// `--db` is a file name: `file:shop.db` is the file of that name (not an
/// SQLite URI for `shop.db`), and `:memory:` (SQLite's private in-memory
/// database, which whale's processes could not share) is refused, leaving
/// no file behind.
#[test]
fn the_database_path_is_a_file_name_never_a_uri() {
    use std::os::unix::fs::PermissionsExt;
    let w = Whale::new();
    let out = w.run_on(
        std::path::Path::new("file:shop.db?mode=ro"),
        &["stores", "list"],
        &[],
    );
    assert_exit(&out, 0, "--db file:shop.db?mode=ro");
    let file = w.dir.join("file:shop.db?mode=ro");
    let meta = std::fs::metadata(&file).expect("the file named file:shop.db?mode=ro");
    assert!(meta.len() > 0, "the data went elsewhere");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert!(!w.dir.join("shop.db").exists(), "shop.db was created");

    let out = w.run_on(std::path::Path::new(":memory:"), &["stores", "list"], &[]);
    assert_exit(&out, 1, "--db :memory:");
    assert!(
        stderr(&out).contains("`:memory:` names SQLite's in-memory database"),
        "{}",
        stderr(&out)
    );
    assert!(!w.dir.join(":memory:").exists(), "a stray file");
}

/// A database whale cannot write (its mode, a read-only mount) is refused
/// at start, naming it: served, every call's audit row would be lost. Root
/// writes whatever the mode says, so as root the command runs as `nobody`
/// — a copy of whale and of the database in a fresh directory anyone may
/// enter, since the checkout (`target/`, the test's directory) may not be
/// (a checkout under /root is 0700).
#[cfg(unix)]
#[test]
fn a_read_only_database_is_refused_at_start() {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    use std::os::unix::process::CommandExt;
    let w = Whale::new();
    assert_exit(&w.run(&["stores", "list"]), 0, "create the database");
    let root = std::fs::metadata(&w.db).expect("stat").uid() == 0;
    struct Removed(std::path::PathBuf);
    impl Drop for Removed {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos();
    let dir = Removed(std::env::temp_dir().join(format!("whale-ro-{}-{nanos}", std::process::id())));
    let dir = &dir.0;
    std::fs::DirBuilder::new()
        .mode(0o755)
        .create(dir)
        .expect("create the directory");
    let chmod = |p: &std::path::Path, mode: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
            .unwrap_or_else(|e| panic!("chmod {}: {e}", p.display()))
    };
    chmod(dir, 0o755); // whatever the umask
    let bin = dir.join("whale");
    std::fs::copy(common::bin(), &bin).expect("copy whale");
    chmod(&bin, 0o755);
    // The exit checkpoint left everything in the main file.
    let db = dir.join("whale.db");
    std::fs::copy(&w.db, &db).expect("copy the database");
    chmod(&db, 0o444);
    let whale = |args: &[&str]| {
        let mut cmd = std::process::Command::new(&bin);
        cmd.arg("--db")
            .arg(&db)
            .args(args)
            .env_clear()
            .env("HOME", dir)
            .env("XDG_DATA_HOME", dir.join("xdg-data"))
            .env("XDG_CONFIG_HOME", dir.join("xdg-config"))
            .env("XDG_RUNTIME_DIR", dir.join("xdg-runtime"))
            .current_dir(dir);
        if root {
            cmd.uid(65534).gid(65534);
        }
        cmd
    };
    if root {
        // Said plainly when the switch to `nobody` itself is refused (no
        // CAP_SETUID in this container) or the copy is out of its reach.
        if let Err(e) = whale(&["--version"]).output() {
            panic!(
                "cannot run whale as uid 65534 (nobody) from {}: {e}; as root this test needs CAP_SETUID and \
                 CAP_SETGID, and a temporary directory nobody can reach",
                dir.display()
            );
        }
    }
    #[allow(clippy::disallowed_methods)] // the test's own read-only look at the copy
    let rows = || -> i64 {
        rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open the copy")
            .query_row("SELECT count(*) FROM executions", [], |r| r.get(0))
            .expect("count")
    };
    let before = rows();
    for args in [
        &["mcp"][..],
        &["tools", "call", "store", "--action", "get_settings"][..],
    ] {
        let out = common::run_bounded_input(whale(args), &args.join(" "), Some(""));
        assert_exit(&out, 1, &args.join(" "));
        let err = stderr(&out);
        assert!(
            err.contains(&format!("database {} is read-only to whale", db.display())),
            "{}: {err}",
            args.join(" ")
        );
    }
    assert_eq!(rows(), before);
}

/// An agent's key in the environment does not narrow admin commands, and
/// they say so (the `tools` commands do act as the key).
#[test]
fn admin_commands_say_they_act_as_the_owner_despite_a_key() {
    let w = Whale::new();
    let (_, key) = w.create_key("products:read", false);
    let out = w.run_env(&["executions", "list", "--json"], &[(KEY, &key)]);
    assert_exit(&out, 0, "executions list with a key set");
    assert!(
        stderr(&out).contains("local owner") && stderr(&out).contains(KEY),
        "{}",
        stderr(&out)
    );
    parse_json(&out.stdout, "stdout stays JSON");
    let out = w.run(&["executions", "list", "--json"]);
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
}

/// A key variable that is set but empty (an unexpanded template, a secret
/// a CI fork cannot see) is refused where a session would act as the key,
/// instead of acting as the local owner with every scope; admin commands,
/// which never act as a key, are unaffected.
#[test]
fn an_empty_api_key_variable_is_refused_not_read_as_the_owner() {
    let w = Whale::new();
    for empty in ["", "  "] {
        for args in [
            vec!["tools", "call", "store_get_settings"],
            vec!["tools", "test", "store_get_settings", "--input", "{}"],
            vec!["mcp"],
            vec!["mcp", "--server", "http://127.0.0.1:9"],
        ] {
            let out = w.run_env(&args, &[(KEY, empty)]);
            assert_exit(&out, 3, &format!("{args:?} with {KEY}={empty:?}"));
            assert!(stderr(&out).contains("set but empty"), "{}", stderr(&out));
            assert!(stdout(&out).is_empty(), "{args:?}: {}", stdout(&out));
        }
    }
    let out = w.run_env(&["executions", "list", "--json"], &[(KEY, "")]);
    assert_exit(&out, 0, "an admin command with an empty key variable");
    // Nothing ran as the owner.
    assert_eq!(w.executions(&[])["total"], json!(0));
}

#[test]
fn users_add_for_an_existing_person_says_the_password_was_not_changed() {
    let w = Whale::new();
    let hash = || -> String {
        w.sqlite()
            .query_row("SELECT password_hash || name FROM users", [], |r| r.get(0))
            .expect("user row")
    };
    let out = w.run_input(
        &["users", "add", "ann@example.com", "--password-stdin", "--json"],
        "first long password\n",
    );
    assert_exit(&out, 0, "users add (new)");
    let v = parse_json(&out.stdout, "users add --json");
    assert_eq!(
        (v["created"].clone(), v["password_set"].clone()),
        (json!(true), json!(true)),
        "{v}"
    );
    assert!(!stderr(&out).contains("not changed"), "{}", stderr(&out));
    let before = hash();

    assert_exit(
        &w.run(&["stores", "create", "second", "--name", "Second"]),
        0,
        "stores create",
    );
    // Adding her to another store is fine; the piped password and the name
    // are not applied, and the output says so.
    let out = w.run_input(
        &[
            "--store",
            "second",
            "users",
            "add",
            "ann@example.com",
            "--password-stdin",
            "--name",
            "Ann B",
        ],
        "second long password\n",
    );
    assert_exit(&out, 0, "users add (existing)");
    let err = stderr(&out);
    assert!(
        err.contains("password and name were not changed")
            && err.contains("whale users passwd ann@example.com"),
        "{err}"
    );
    assert!(
        stdout(&out).contains("added to store `second`"),
        "{}",
        stdout(&out)
    );
    assert_eq!(hash(), before, "password and name untouched");

    let out = w.run_input(
        &["users", "add", "ann@example.com", "--password-stdin", "--json"],
        "third long password\n",
    );
    assert_exit(&out, 0, "users add --json (existing)");
    let v = parse_json(&out.stdout, "users add --json");
    assert_eq!(v["created"], json!(false), "{v}");
    assert_eq!(v["added_to_store"], json!(false), "{v}");
    assert_eq!(v["password_set"], json!(false), "{v}");
    assert!(
        stderr(&out).contains("password was not changed"),
        "{}",
        stderr(&out)
    );
    assert_eq!(hash(), before);

    // Adding an existing person to a store, giving neither a password nor a
    // name, is the plain case: no note.
    assert_exit(
        &w.run(&["stores", "create", "third", "--name", "Third"]),
        0,
        "stores create third",
    );
    let out = w.run(&["--store", "third", "users", "add", "ann@example.com"]);
    assert_exit(&out, 0, "users add (existing, nothing else given)");
    assert!(!stderr(&out).contains("not changed"), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("added to store `third`"),
        "{}",
        stdout(&out)
    );
}

/// The database holds customer data and password hashes: a directory whale
/// creates for it is 0700 and a new database (with its -wal and -shm) is
/// 0600; directories and databases that already exist keep their modes.
#[cfg(unix)]
#[test]
fn a_new_database_and_its_directory_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| {
        std::fs::metadata(p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .permissions()
            .mode()
            & 0o777
    };
    let w = Whale::new();
    let shared = w.dir.join("shared");
    std::fs::create_dir(&shared).expect("mkdir");
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o755)).expect("chmod");

    let db = shared.join("sub").join("w.db");
    let first = w.run_on(&db, &["stores", "list"], &[]);
    assert_exit(&first, 0, "stores list on a new db");
    // A mistyped --db is not silently a fresh store: it is named.
    let note = format!("Created a new database at {}", db.display());
    assert!(stderr(&first).contains(&note), "{}", stderr(&first));
    let again = w.run_on(&db, &["stores", "list"], &[]);
    assert!(!stderr(&again).contains("Created"), "{}", stderr(&again));
    assert_eq!(mode(&shared), 0o755, "an existing directory is left alone");
    assert_eq!(mode(&shared.join("sub")), 0o700);
    for f in ["w.db", "w.db-wal", "w.db-shm"] {
        assert_eq!(mode(&shared.join("sub").join(f)), 0o600, "{f}");
    }

    // An existing database keeps its mode (it may be the user's choice).
    let own = shared.join("own.db");
    std::fs::write(&own, b"").expect("create");
    std::fs::set_permissions(&own, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    assert_exit(
        &w.run_on(&own, &["stores", "list"], &[]),
        0,
        "stores list on an existing db",
    );
    assert_eq!(mode(&own), 0o640);
}

// ---------------------------------------------------------------------------
// exit codes
// ---------------------------------------------------------------------------

#[test]
fn http_flags_with_the_stdio_transport_are_a_usage_error() {
    let w = Whale::new();
    // stdin is /dev/null: a stdio server that started would exit 0.
    let out = w.run(&["mcp", "--port", "3111", "--host", "0.0.0.0", "--rate-limit", "5"]);
    assert_exit(&out, 2, "whale mcp --port --host --rate-limit");
    let err = stderr(&out);
    assert!(
        err.contains("--port, --host, --rate-limit only apply to the HTTP server")
            && err.contains("--transport sse"),
        "{err}"
    );
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    let out = w.run(&["mcp", "--transport", "stdio", "--max-body", "10"]);
    assert_exit(&out, 2, "whale mcp --transport stdio --max-body");
    assert!(stderr(&out).contains("--max-body only applies to the HTTP server"));
    // Flags for both transports, and environment-backed HTTP settings, are fine.
    let out = w.run(&["mcp", "--read-only", "--tool-mode", "flat", "--tools", "products"]);
    assert_exit(&out, 0, "whale mcp with stdio flags");
    let out = w.run_env(&["mcp"], &[("WHALE_INTROSPECTION_CLIENT_ID", "x")]);
    assert_exit(&out, 0, "whale mcp with WHALE_INTROSPECTION_CLIENT_ID set");
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    let w = Whale::new();
    for args in [
        vec![],
        vec!["bogus"],
        vec!["keys"],
        vec!["keys", "create"],
        vec!["keys", "rotate"],
        vec!["mcp", "--tool-mode", "bogus"],
        vec!["mcp", "--transport", "carrier-pigeon"],
        vec!["executions", "list", "--limit", "many"],
        vec!["stores", "create"],
        vec!["install", "notepad"],
        vec!["tools", "list", "--nope"],
    ] {
        let out = w.run(&args);
        assert_exit(&out, 2, &format!("whale {}", args.join(" ")));
        assert!(
            stdout(&out).is_empty(),
            "usage error printed to stdout: {}",
            stdout(&out)
        );
    }
    for args in [
        vec!["--help"],
        vec!["--version"],
        vec!["keys", "--help"],
        vec!["mcp", "--help"],
    ] {
        let out = w.run(&args);
        assert_exit(&out, 0, &args.join(" "));
        assert!(!stdout(&out).is_empty());
    }
}

// ---------------------------------------------------------------------------
// orders and customers
// ---------------------------------------------------------------------------

/// `tools call TOOL --action ACTION --input INPUT` that must fail as a tool
/// error (exit 1, nothing on stdout); its message.
fn tool_err(w: &Whale, tool: &str, action: &str, input: Value) -> String {
    let input = input.to_string();
    let out = w.run(&["tools", "call", tool, "--action", action, "--input", &input]);
    assert_exit(&out, 1, &format!("{tool}.{action} {input}"));
    assert!(stdout(&out).trim().is_empty(), "{}", stdout(&out));
    stderr(&out)
}

/// A new customer with an unused email; `(id, email)`.
fn new_customer(w: &Whale, name: &str) -> (String, String) {
    let email = format!("{}@example.org", name.to_lowercase().replace(' ', "."));
    let c = w.tool(
        "customers",
        "create_customer",
        json!({"email": email, "name": name}),
    );
    (c["id"].as_str().expect("customer id").to_string(), email)
}

/// `customer_id` and `customer_email` name one customer or the order is
/// refused: an unknown id is not replaced by the email's customer, and an id
/// and an email of two customers are refused naming both.
#[test]
fn create_order_needs_customer_id_and_email_to_agree() {
    let w = Whale::new();
    let v = common::stocked_variant(|t, a, i| w.tool(t, a, i), 5);
    let (alice, alice_email) = new_customer(&w, "Alice Agree");
    let (bob, _) = new_customer(&w, "Bob Agree");
    let item = json!([{"variant_id": v.variant_id, "quantity": 1}]);
    let orders = || w.tool("orders", "list_orders", json!({"limit": 1}))["total"].clone();
    let before = orders();

    let t = tool_err(
        &w,
        "orders",
        "create_order",
        json!({"customer_id": "cus_nobody", "customer_email": alice_email, "items": item}),
    );
    assert!(t.contains("customer_id") && t.contains("cus_nobody"), "{t}");
    let t = tool_err(
        &w,
        "orders",
        "create_order",
        json!({"customer_id": bob, "customer_email": alice_email, "items": item}),
    );
    assert!(t.contains(&bob) && t.contains(&alice), "{t}");
    let t = tool_err(
        &w,
        "orders",
        "create_order",
        json!({"customer_email": "nobody@example.org", "items": item}),
    );
    assert!(
        t.contains("customer_email") && t.contains("nobody@example.org"),
        "{t}"
    );
    assert_eq!(orders(), before, "a refused order was created");

    // The same customer both ways, or the email alone (any case): theirs.
    let o = w.tool(
        "orders",
        "create_order",
        json!({"customer_id": alice, "customer_email": alice_email.to_uppercase(), "items": item}),
    );
    assert_eq!(o["customer_id"], json!(alice), "{o}");
    let o = w.tool(
        "orders",
        "create_order",
        json!({"customer_email": format!(" {alice_email} "), "items": item, "coupon_code": "WELCOME10"}),
    );
    assert_eq!(o["customer_id"], json!(alice), "{o}");
    // WELCOME10 is once per customer: counted for the customer it resolved to.
    let t = tool_err(
        &w,
        "orders",
        "create_order",
        json!({"customer_id": alice, "items": item, "coupon_code": "WELCOME10"}),
    );
    assert!(t.contains("WELCOME10") && t.contains("maximum"), "{t}");
    w.tool(
        "orders",
        "create_order",
        json!({"customer_id": bob, "items": item, "coupon_code": "WELCOME10"}),
    );
}

/// Revenue and a customer's spend are money captured less refunds: a
/// pending (unpaid) order adds nothing until it is paid.
#[test]
fn pending_orders_are_neither_revenue_nor_spend() {
    let w = Whale::new();
    let v = common::stocked_variant(|t, a, i| w.tool(t, a, i), 5);
    let (cid, email) = new_customer(&w, "Penny Pending");
    let revenue = || {
        w.tool("store", "get_overview", json!({}))["revenue_30d_cents"]
            .as_i64()
            .expect("revenue_30d_cents")
    };
    let customer = || w.tool("customers", "get_customer", json!({"customer_id": cid}));
    let listed = || {
        let page = w.tool("customers", "list_customers", json!({"query": email}));
        assert_eq!(page["total"], json!(1), "{page}");
        page["items"][0]["total_spent_cents"].clone()
    };
    let before = revenue();

    let o = w.tool(
        "orders",
        "create_order",
        json!({"customer_id": cid, "items": [{"variant_id": v.variant_id, "quantity": 2}], "paid": false}),
    );
    assert_eq!(o["status"], json!("pending"), "{o}");
    let id = o["id"].as_str().expect("order id");
    let total = o["total_cents"].as_i64().expect("total_cents");
    assert_eq!(revenue(), before, "an unpaid order counted as revenue");
    let c = customer();
    assert_eq!(c["orders_count"], json!(1), "{c}");
    assert_eq!(
        c["total_spent_cents"],
        json!(0),
        "an unpaid order counted as spend: {c}"
    );
    assert_eq!(c["average_order_cents"], Value::Null, "{c}");
    assert_eq!(listed(), json!(0));

    // Paid: it counts; a partial refund comes off; the average is over the
    // orders with money kept (the pending one below is not among them).
    w.tool(
        "orders",
        "update_status",
        json!({"order_id": id, "status": "paid"}),
    );
    assert_eq!(revenue(), before + total);
    w.tool(
        "orders",
        "refund_order",
        json!({"order_id": id, "amount_cents": 100}),
    );
    w.tool(
        "orders",
        "create_order",
        json!({"customer_id": cid, "items": [{"variant_id": v.variant_id, "quantity": 1}], "paid": false}),
    );
    assert_eq!(revenue(), before + total - 100);
    let c = customer();
    assert_eq!(c["orders_count"], json!(2), "{c}");
    assert_eq!(c["total_spent_cents"], json!(total - 100), "{c}");
    assert_eq!(c["average_order_cents"], json!(total - 100), "{c}");
    assert_eq!(listed(), json!(total - 100));
}

/// A variant that cannot be sold says why: its product was deleted, or is
/// a draft or archived one.
#[test]
fn create_order_says_why_a_variant_cannot_be_sold() {
    let w = Whale::new();
    let v = common::stocked_variant(|t, a, i| w.tool(t, a, i), 1);
    let product = w.tool("inventory", "get_levels", json!({"variant_id": v.variant_id}));
    let product_id = product["variants"][0]["product_id"]
        .as_str()
        .unwrap_or_else(|| panic!("product_id in {product}"))
        .to_string();
    w.tool("products", "delete_product", json!({"product_id": product_id}));
    for item in [
        json!({"variant_id": v.variant_id, "quantity": 1}),
        json!({"sku": v.sku, "quantity": 1}),
    ] {
        let t = tool_err(&w, "orders", "create_order", json!({"items": [item]}));
        assert!(
            t.contains("items[0]") && t.contains("deleted") && !t.contains("no variant"),
            "{t}"
        );
    }

    let archived = w.tool(
        "products",
        "list_products",
        json!({"status": "archived", "limit": 1}),
    );
    let p = w.tool(
        "products",
        "get_product",
        json!({"product_id": archived["items"][0]["id"]}),
    );
    let t = tool_err(
        &w,
        "orders",
        "create_order",
        json!({"items": [{"variant_id": p["variants"][0]["id"], "quantity": 1}]}),
    );
    assert!(t.contains("an archived product"), "{t}");
}

/// A coupon's usage limit counts the orders that use it and are not
/// cancelled, as its per-customer limit does: cancelling gives the use back.
#[test]
fn a_cancelled_order_gives_its_coupon_use_back() {
    let w = Whale::new();
    let v = common::stocked_variant(|t, a, i| w.tool(t, a, i), 5);
    w.tool("store", "get_settings", json!({}));
    // No tool manages coupons yet: a coupon used at most once, written
    // straight into the (created and seeded) database.
    #[allow(clippy::disallowed_methods)] // the test's own write, with whale not running
    rusqlite::Connection::open(&w.db)
        .expect("open the database")
        .execute(
            "INSERT INTO coupons (id, store_id, mode, code, kind, value, usage_limit, per_customer_limit,
                                  times_used, active, created_at)
             VALUES ('cpn_once', 'demo', 'live', 'ONCE', 'fixed', 100, 1, NULL, 0, 1, 0)",
            [],
        )
        .expect("insert coupon");
    let (cid, _) = new_customer(&w, "Cora Coupon");
    let order = json!({"customer_id": cid, "items": [{"variant_id": v.variant_id, "quantity": 1}],
                       "coupon_code": "ONCE"});
    let first = w.tool("orders", "create_order", order.clone());
    assert_eq!(first["discount_cents"], json!(100), "{first}");
    let t = tool_err(&w, "orders", "create_order", order.clone());
    assert!(t.contains("ONCE") && t.contains("usage limit"), "{t}");
    w.tool("orders", "cancel_order", json!({"order_id": first["id"]}));
    let again = w.tool("orders", "create_order", order.clone());
    assert_eq!(again["discount_cents"], json!(100), "{again}");
    let t = tool_err(&w, "orders", "create_order", order);
    assert!(t.contains("ONCE") && t.contains("usage limit"), "{t}");
}

/// The tag filter is exact and case-insensitive: spaces inside a tag count.
#[test]
fn customer_tag_filter_is_exact() {
    let w = Whale::new();
    w.tool(
        "customers",
        "create_customer",
        json!({"email": "tia.tag@example.org", "name": "Tia Tag", "tags": ["vip customer", "b"]}),
    );
    let found = |tag: &str| {
        w.tool(
            "customers",
            "list_customers",
            json!({"query": "tia.tag@", "tag": tag}),
        )["total"]
            .as_i64()
            .expect("total")
    };
    assert_eq!(found("VIP Customer"), 1);
    assert_eq!(found(" vip customer "), 1, "the filter is trimmed as tags are");
    assert_eq!(found("b"), 1);
    for other in ["vipcustomer", "vip", "customer", "vip  customer"] {
        assert_eq!(found(other), 0, "{other:?} matched tag \"vip customer\"");
    }
}

// ---------------------------------------------------------------------------
// products: prices, filters, soft delete and input rules
// ---------------------------------------------------------------------------

/// A new draft product with the given variants; returns it.
fn new_product(w: &Whale, title: &str, variants: Value) -> Value {
    w.tool(
        "products",
        "create_product",
        json!({"title": title, "category": "testing", "status": "active", "variants": variants}),
    )
}

/// "The cheapest", "the most expensive", "what is new": one call each, in
/// an order that holds across pages.
#[test]
fn products_list_sorted_by_price_or_newest_across_pages() {
    let w = Whale::new();
    let all = |sort: &str, key: &str| -> Vec<(i64, String)> {
        let mut out = Vec::new();
        for offset in (0..).step_by(7) {
            let page = w.tool(
                "products",
                "list_products",
                json!({"sort": sort, "limit": 7, "offset": offset}),
            );
            let items = page["items"].as_array().expect("items").clone();
            if items.is_empty() {
                break;
            }
            out.extend(items.iter().map(|p| {
                (
                    p[key].as_i64().expect(key),
                    p["id"].as_str().expect("id").to_string(),
                )
            }));
        }
        out
    };
    let cheap = all("price_asc", "price_min_cents");
    let total = w.tool("products", "list_products", json!({"limit": 1}))["total"].clone();
    assert_eq!(json!(cheap.len()), total, "every product, once");
    assert!(cheap.windows(2).all(|p| p[0].0 <= p[1].0), "{cheap:?}");
    let dear = all("price_desc", "price_max_cents");
    assert!(dear.windows(2).all(|p| p[0].0 >= p[1].0), "{dear:?}");
    assert!(cheap.first().unwrap().0 < dear.first().unwrap().0);

    let made = new_product(
        &w,
        "Brand New Beanie",
        json!([{"sku": "BEANIE-NEW-1", "title": "One size", "price_cents": 1}]),
    );
    let newest = w.tool("products", "list_products", json!({"sort": "newest", "limit": 1}));
    assert_eq!(newest["items"][0]["id"], made["id"], "{newest}");
    let cheapest = w.tool(
        "products",
        "list_products",
        json!({"sort": "price_asc", "limit": 1}),
    );
    assert_eq!(cheapest["items"][0]["id"], made["id"], "{cheapest}");

    let err = tool_err(&w, "products", "list_products", json!({"sort": "popularity"}));
    assert!(err.contains("`sort`") && err.contains("\"price_asc\""), "{err}");
}

#[test]
fn set_price_keeps_the_compare_at_price_unless_it_is_cleared() {
    let w = Whale::new();
    let p = new_product(
        &w,
        "Was-price Hat",
        json!([{"sku": "HAT-WAS-1", "title": "One size", "price_cents": 5000, "compare_at_cents": 6000}]),
    );
    let var = p["variants"][0]["id"].as_str().expect("variant id").to_string();
    let pid = p["id"].as_str().expect("product id").to_string();
    let compare_at = || {
        w.tool("products", "get_product", json!({"product_id": pid}))["variants"][0]["compare_at_cents"]
            .clone()
    };

    // Left out: kept.
    let set = w.tool(
        "products",
        "set_price",
        json!({"variant_id": var, "price_cents": 4500}),
    );
    assert_eq!(set["compare_at_cents"], json!(6000), "{set}");
    assert_eq!(compare_at(), json!(6000));
    // What it was, so a price given in dollars shows as the cut it is.
    assert_eq!(
        (&set["previous_price_cents"], &set["previous_compare_at_cents"]),
        (&json!(5000), &json!(6000)),
        "{set}"
    );

    // A "was" price not above the price is refused, naming both values.
    for was in [4500, 4000] {
        let err = tool_err(
            &w,
            "products",
            "set_price",
            json!({"variant_id": var, "price_cents": 4500, "compare_at_cents": was}),
        );
        assert!(err.contains("`compare_at_cents`"), "{err}");
        assert!(err.contains(&format!("{was}")) && err.contains("4500"), "{err}");
    }
    // Keeping the current one would leave it below a raised price.
    let err = tool_err(
        &w,
        "products",
        "set_price",
        json!({"variant_id": var, "price_cents": 7000}),
    );
    assert!(
        err.contains("6000") && err.contains("7000") && err.contains("null"),
        "{err}"
    );
    assert_eq!(compare_at(), json!(6000), "refused calls change nothing");

    // A new one replaces it; null clears it.
    let set = w.tool(
        "products",
        "set_price",
        json!({"variant_id": var, "price_cents": 4500, "compare_at_cents": 5500}),
    );
    assert_eq!(set["compare_at_cents"], json!(5500), "{set}");
    let set = w.tool(
        "products",
        "set_price",
        json!({"variant_id": var, "price_cents": 4500, "compare_at_cents": null}),
    );
    assert_eq!(set["compare_at_cents"], Value::Null, "{set}");
    assert_eq!(compare_at(), Value::Null);
    let after = w.tool("products", "get_product", json!({"product_id": pid}));
    assert_eq!(after["variants"][0]["price_cents"], json!(4500), "{after}");

    // create_product holds variants to the same rule.
    let err = tool_err(
        &w,
        "products",
        "create_product",
        json!({"title": "Cheap Was", "category": "testing",
               "variants": [{"sku": "CHEAP-WAS-1", "title": "One", "price_cents": 900, "compare_at_cents": 800}]}),
    );
    assert!(
        err.contains("`variants[0].compare_at_cents`") && err.contains("800") && err.contains("900"),
        "{err}"
    );
}

/// A category is one whatever its letter case: a new product joins the
/// spelling in use instead of listing as a second category.
#[test]
fn a_category_keeps_its_spelling_whatever_the_case_given() {
    let w = Whale::new();
    let p = w.tool(
        "products",
        "create_product",
        json!({"title": "Case Mug", "category": "ACCESSORIES",
               "variants": [{"sku": "MUG-CASE-1", "title": "One", "price_cents": 900}]}),
    );
    assert_eq!(p["category"], json!("accessories"), "{p}");
    let id = p["id"].as_str().expect("id");
    let moved = w.tool(
        "products",
        "update_product",
        json!({"product_id": id, "category": "Footwear"}),
    );
    assert_eq!(moved["category"], json!("footwear"), "{moved}");
    let cats = w.tool("products", "list_categories", json!({}));
    let names: Vec<&str> = cats["categories"]
        .as_array()
        .map(|a| a.iter().filter_map(|c| c["category"].as_str()).collect())
        .unwrap_or_default();
    assert!(names.iter().all(|n| *n == n.to_lowercase()), "{names:?}");
    // A new category keeps the spelling given, and a product alone in its
    // category can still change the category's letter case.
    let p = w.tool(
        "products",
        "create_product",
        json!({"title": "Odd One", "category": "Trail Gear",
               "variants": [{"sku": "ODD-1", "title": "One", "price_cents": 100}]}),
    );
    assert_eq!(p["category"], json!("Trail Gear"), "{p}");
    let recased = w.tool(
        "products",
        "update_product",
        json!({"product_id": p["id"], "category": "trail gear"}),
    );
    assert_eq!(recased["category"], json!("trail gear"), "{recased}");
}

/// Search finds a product by every word given, in any order, and by SKU.
#[test]
fn product_search_matches_every_word_in_any_order_and_skus() {
    let w = Whale::new();
    let titles = |q: &str| -> Vec<String> {
        let r = w.tool("products", "list_products", json!({"query": q, "limit": 100}));
        r["items"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|p| p["title"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let jackets = titles("insulated jacket");
    assert!(!jackets.is_empty(), "no insulated jacket in the demo");
    assert_eq!(titles("jacket insulated"), jackets);
    assert!(titles("jacket zzzz-nothing").is_empty());
    // Words are literal: % and _ are no wildcards, a backslash is itself.
    for literal in ["%", "_", "a\\"] {
        assert!(titles(literal).is_empty(), "{literal}");
    }
    // At most 10 different words (a repeat counts once); blank is refused.
    let many = (0..11).map(|n| format!("w{n}")).collect::<Vec<_>>().join(" ");
    let err = tool_err(&w, "products", "list_products", json!({"query": many}));
    assert!(err.contains("`query`") && err.contains("11"), "{err}");
    assert_eq!(titles(&"jacket ".repeat(20)).len(), titles("jacket").len());
    let err = tool_err(&w, "products", "list_products", json!({"query": "   "}));
    assert!(err.contains("`query`") && err.contains("blank"), "{err}");
    let p = &w.tool("products", "list_products", json!({"limit": 1}))["items"][0];
    let got = w.tool("products", "get_product", json!({"product_id": p["id"]}));
    let sku = got["variants"][0]["sku"].as_str().expect("sku").to_lowercase();
    assert_eq!(
        titles(&sku),
        vec![p["title"].as_str().expect("title").to_string()]
    );
}

/// A refund takes over the status whether or not the order shipped, so
/// `fulfilled` is what tells the orders waiting to ship.
#[test]
fn orders_waiting_to_ship_are_found_whatever_their_refunds() {
    let w = Whale::new();
    let o = w.tool(
        "orders",
        "create_order",
        json!({"items": [{"sku": "WDO-JKT-001-M", "quantity": 1}]}),
    );
    let id = o["id"].clone();
    w.tool(
        "orders",
        "refund_order",
        json!({"order_id": id, "amount_cents": 100}),
    );
    let listed = |filter: Value| -> Vec<Value> {
        let mut q = json!({"status": "partially_refunded", "limit": 100});
        q.as_object_mut()
            .expect("object")
            .extend(filter.as_object().cloned().unwrap_or_default());
        w.tool("orders", "list_orders", q)["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    let waiting = listed(json!({"fulfilled": false}));
    let row = waiting.iter().find(|r| r["id"] == id).expect("waiting to ship");
    assert_eq!(row["fulfilled_at"], Value::Null, "{row}");
    assert!(!listed(json!({"fulfilled": true})).iter().any(|r| r["id"] == id));
    let shipped = w.tool(
        "orders",
        "update_status",
        json!({"order_id": id, "status": "fulfilled"}),
    );
    assert_eq!(shipped["status"], json!("partially_refunded"), "{shipped}");
    let rows = listed(json!({"fulfilled": true}));
    let row = rows.iter().find(|r| r["id"] == id).expect("shipped");
    assert!(row["fulfilled_at"].is_string(), "{row}");
    assert!(!listed(json!({"fulfilled": false})).iter().any(|r| r["id"] == id));
}

/// get_customer takes an email (any case), as create_order's customer_email
/// does.
#[test]
fn a_customer_is_found_by_email() {
    let w = Whale::new();
    let first = &w.tool("customers", "list_customers", json!({"limit": 1}))["items"][0];
    let email = first["email"].as_str().expect("email").to_uppercase();
    let c = w.tool(
        "customers",
        "get_customer",
        json!({"customer_id": format!(" {email} ")}),
    );
    assert_eq!(c["id"], first["id"], "{c}");
    let err = tool_err(
        &w,
        "customers",
        "get_customer",
        json!({"customer_id": "nobody@example.com"}),
    );
    assert!(
        err.contains("nobody@example.com") && err.contains("list_customers"),
        "{err}"
    );
}

/// get_order takes the number people quote (1102, #1102) as well as the id.
#[test]
fn an_order_is_found_by_its_number() {
    let w = Whale::new();
    let first = &w.tool("orders", "list_orders", json!({"limit": 1}))["items"][0];
    let (id, number) = (first["id"].clone(), first["number"].as_i64().expect("number"));
    // As a string, quoted with # or spaces around, or as a JSON number.
    for given in [
        json!(number.to_string()),
        json!(format!("#{number}")),
        json!(format!(" # {number}\n")),
        json!(number),
    ] {
        let o = w.tool("orders", "get_order", json!({"order_id": given}));
        assert_eq!(o["id"], id, "{given}: {o}");
    }
    let err = tool_err(&w, "orders", "get_order", json!({"order_id": "#999999"}));
    assert!(err.contains("999999") && err.contains("list_orders"), "{err}");
    // Only digits (after an optional #) are a number; the rest is an id.
    for given in [
        format!("+{number}"),
        format!("{number}x"),
        "-5".into(),
        "#".into(),
    ] {
        let err = tool_err(&w, "orders", "get_order", json!({"order_id": given}));
        assert!(err.contains("not found"), "{given}: {err}");
    }
    // Every action that names an order takes its number.
    let o = w.tool(
        "orders",
        "create_order",
        json!({"items": [{"sku": "WDO-JKT-001-M", "quantity": 1}]}),
    );
    let n = o["number"].as_i64().expect("number");
    let r = w.tool(
        "orders",
        "refund_order",
        json!({"order_id": format!("#{n}"), "amount_cents": 100}),
    );
    assert_eq!(r["order"]["id"], o["id"], "{r}");
    let c = w.tool("orders", "cancel_order", json!({"order_id": n.to_string()}));
    assert_eq!((&c["id"], &c["status"]), (&o["id"], &json!("cancelled")), "{c}");
}

#[test]
fn a_price_range_matches_products_with_one_variant_inside_it() {
    let w = Whale::new();
    new_product(
        &w,
        "Rangeprobe Split",
        json!([{"sku": "RP-SPLIT-LO", "title": "Small", "price_cents": 1000},
               {"sku": "RP-SPLIT-HI", "title": "Large", "price_cents": 9000}]),
    );
    new_product(
        &w,
        "Rangeprobe Middle",
        json!([{"sku": "RP-MID-1", "title": "One", "price_cents": 5000}]),
    );
    let titles = |min: i64, max: i64| -> Vec<Value> {
        let page = w.tool(
            "products",
            "list_products",
            json!({"query": "Rangeprobe", "min_price_cents": min, "max_price_cents": max}),
        );
        assert_eq!(
            page["total"],
            json!(page["items"].as_array().expect("items").len()),
            "{page}"
        );
        page["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|p| p["title"].clone())
            .collect()
    };
    // No variant of Split is between 4000 and 6000, though its prices span it.
    assert_eq!(titles(4000, 6000), [json!("Rangeprobe Middle")]);
    assert_eq!(titles(2000, 4000), Vec::<Value>::new());
    assert_eq!(titles(1000, 1000), [json!("Rangeprobe Split")]);
    assert_eq!(
        titles(0, 100_000),
        [json!("Rangeprobe Middle"), json!("Rangeprobe Split")]
    );
    // The price span shown is the product's, over all its variants.
    let page = w.tool(
        "products",
        "list_products",
        json!({"query": "Rangeprobe Split", "min_price_cents": 8000, "max_price_cents": 9500}),
    );
    assert_eq!(page["items"][0]["price_min_cents"], json!(1000), "{page}");
    assert_eq!(page["items"][0]["price_max_cents"], json!(9000), "{page}");
    // One bound alone still means "some variant at or above / below".
    let one = w.tool(
        "products",
        "list_products",
        json!({"query": "Rangeprobe", "min_price_cents": 8000}),
    );
    assert_eq!(one["total"], json!(1), "{one}");
}

#[test]
fn a_deleted_product_deletes_again_and_refuses_changes() {
    let w = Whale::new();
    let p = new_product(
        &w,
        "Soon Gone",
        json!([{"sku": "GONE-1", "title": "One", "price_cents": 1200}]),
    );
    let pid = p["id"].as_str().expect("product id").to_string();
    let var = p["variants"][0]["id"].as_str().expect("variant id").to_string();
    let first = w.tool("products", "delete_product", json!({"product_id": pid}));
    assert_eq!(
        first,
        json!({"id": pid, "deleted": true, "already_deleted": false})
    );
    // Idempotent: a repeat succeeds and says so, in the same shape.
    let again = w.tool("products", "delete_product", json!({"product_id": pid}));
    assert_eq!(
        again,
        json!({"id": pid, "deleted": true, "already_deleted": true})
    );
    let err = tool_err(
        &w,
        "products",
        "delete_product",
        json!({"product_id": "prod_nope"}),
    );
    assert!(err.contains("`prod_nope` not found"), "{err}");

    let gone = format!("product `{pid}` was deleted");
    for (action, input) in [
        ("set_price", json!({"variant_id": var, "price_cents": 999})),
        (
            "update_product",
            json!({"product_id": pid, "title": "Back Again"}),
        ),
        ("get_product", json!({"product_id": pid})),
    ] {
        let err = tool_err(&w, "products", action, input);
        assert!(err.contains(&gone), "{action}: {err}");
    }
}

#[test]
fn products_refuse_blank_text_and_skus_that_differ_only_in_case() {
    let w = Whale::new();
    let before = w.tool("products", "list_products", json!({"limit": 1}))["total"].clone();
    let variant = json!({"sku": "BLANK-1", "title": "One", "price_cents": 100});
    for (field, input) in [
        (
            "title",
            json!({"title": "  ", "category": "c", "variants": [variant]}),
        ),
        (
            "category",
            json!({"title": "T", "category": " \t", "variants": [variant]}),
        ),
        (
            "variants[0].sku",
            json!({"title": "T", "category": "c", "variants": [{"sku": "   ", "title": "One", "price_cents": 100}]}),
        ),
        (
            "variants[1].title",
            json!({"title": "T", "category": "c",
                   "variants": [variant, {"sku": "BLANK-2", "title": " ", "price_cents": 100}]}),
        ),
        (
            "variants[1].sku",
            json!({"title": "T", "category": "c",
                   "variants": [variant, {"sku": "blank-1", "title": "Two", "price_cents": 100}]}),
        ),
        // Tags are stored comma-joined: a comma would split one tag in two.
        (
            "tags[1]",
            json!({"title": "T", "category": "c", "tags": ["ok", "a,b"], "variants": [variant]}),
        ),
    ] {
        let err = tool_err(&w, "products", "create_product", input);
        assert!(err.contains(&format!("`{field}`")), "{field}: {err}");
    }
    // A seeded SKU in another case is taken.
    let err = tool_err(
        &w,
        "products",
        "create_product",
        json!({"title": "Copy Jacket", "category": "c",
               "variants": [{"sku": "wdo-jkt-004-m", "title": "M", "price_cents": 100}]}),
    );
    assert!(err.contains("WDO-JKT-004-M"), "{err}");
    assert_eq!(
        w.tool("products", "list_products", json!({"limit": 1}))["total"],
        before
    );

    // Text is stored trimmed; an update to blank is refused.
    let p = new_product(
        &w,
        "  Padded Title  ",
        json!([{"sku": " Mixed-Case-1 ", "title": " One ", "price_cents": 700}]),
    );
    assert_eq!(p["title"], json!("Padded Title"), "{p}");
    assert_eq!(p["variants"][0]["sku"], json!("Mixed-Case-1"), "{p}");
    assert_eq!(p["variants"][0]["title"], json!("One"), "{p}");
    let pid = p["id"].as_str().expect("product id");
    for field in ["title", "category"] {
        let err = tool_err(
            &w,
            "products",
            "update_product",
            json!({"product_id": pid, field: "   "}),
        );
        assert!(err.contains(&format!("`{field}`")), "{err}");
    }

    // Orders and stock find a SKU by either spelling.
    let order = w.tool(
        "orders",
        "create_order",
        json!({"items": [{"sku": "wdo-jkt-004-m", "quantity": 1}]}),
    );
    assert_eq!(order["items"][0]["sku"], json!("WDO-JKT-004-M"), "{order}");
    let stock = w.tool("inventory", "get_levels", json!({"sku": "mixed-CASE-1"}));
    assert!(stock.to_string().contains("Mixed-Case-1"), "{stock}");
}

#[test]
fn the_category_filter_ignores_letter_case() {
    let w = Whale::new();
    let cats = w.tool("products", "list_categories", json!({}));
    let first = &cats["categories"][0];
    let name = first["category"].as_str().expect("category").to_string();
    for spelling in [name.clone(), name.to_uppercase()] {
        let page = w.tool("products", "list_products", json!({"category": spelling}));
        assert_eq!(page["total"], first["products"], "{spelling}: {page}");
    }
}
