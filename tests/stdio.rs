//! MCP over stdio, spoken as raw newline-delimited JSON-RPC to `whale mcp`.
//!
//! Covers the handshake (session revisions and the stateless 2026-07-28
//! `server/discover`), tools/list in grouped and flat mode and across pages,
//! both spellings of tools/call, input errors that change nothing, scope
//! enforcement and filtering, sandbox and store isolation, revocation during
//! a session, order semantics (cents, cancel, refunds), and protocol hygiene
//! (garbage, non-UTF-8 and oversized lines, cancellation, clean exit).

mod common;

use std::time::Duration;

use common::{Mcp, TIMEOUT, Whale, error_text, order_input, registry, stocked_variant};
use serde_json::{Value, json};

/// The seven built-in tools this suite knows by name.
const KNOWN_TOOLS: [&str; 7] = [
    "products",
    "orders",
    "customers",
    "inventory",
    "locations",
    "store",
    "audit_trail",
];

/// Every tool over `tools/list`, following `nextCursor` to the end.
fn list_all(m: &mut Mcp) -> (Vec<Value>, usize) {
    let mut tools = Vec::new();
    let mut pages = 0;
    let mut cursor: Option<String> = None;
    loop {
        let params = match &cursor {
            Some(c) => json!({"cursor": c}),
            None => json!({}),
        };
        let reply = m.request("tools/list", params);
        let result = reply
            .get("result")
            .unwrap_or_else(|| panic!("tools/list failed: {reply}"));
        tools.extend(result["tools"].as_array().expect("tools array").iter().cloned());
        pages += 1;
        assert!(pages < 1000, "tools/list never ends");
        match result.get("nextCursor").and_then(Value::as_str) {
            Some(c) => cursor = Some(c.to_string()),
            None => return (tools, pages),
        }
    }
}

fn names(tools: &[Value]) -> Vec<String> {
    tools
        .iter()
        .map(|t| t["name"].as_str().expect("tool name").to_string())
        .collect()
}

/// `call` through an MCP session, returning structured content.
fn via(m: &mut Mcp) -> impl FnMut(&str, &str, Value) -> Value + '_ {
    move |tool, action, mut input| {
        input["action"] = json!(action);
        m.call_ok(tool, input)
    }
}

fn orders_total(m: &mut Mcp) -> i64 {
    m.call_ok("orders", json!({"action": "list_orders", "limit": 1}))["total"]
        .as_i64()
        .expect("orders total")
}

// ---------------------------------------------------------------------------
// Handshake
// ---------------------------------------------------------------------------

#[test]
fn initialize_echoes_each_session_protocol_version() {
    let w = Whale::new();
    for version in ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"] {
        let mut m = w.mcp(&[]);
        let result = m.initialize(version);
        assert_eq!(result["protocolVersion"], json!(version), "{result}");
        assert_eq!(result["serverInfo"]["name"], json!("whale"), "{result}");
        assert!(
            result["capabilities"]["tools"].is_object(),
            "tools capability missing: {result}"
        );
        // The session works after the handshake.
        let reply = m.request("tools/list", json!({}));
        assert!(!reply["result"]["tools"].as_array().expect("tools").is_empty());
        m.finish();
    }
}

#[test]
fn initialize_with_an_unknown_version_falls_back_to_a_supported_one() {
    let w = Whale::new();
    let mut m = w.mcp(&[]);
    let result = m.initialize("2099-01-01");
    let v = result["protocolVersion"].as_str().expect("protocolVersion");
    assert!(
        ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"].contains(&v),
        "server answered with {v}, which has no initialize handshake"
    );
    m.finish();
}

/// JSON has one number type: `5.0` is the integer 5 to JSON Schema and
/// to many clients' encoders, and whale reads it so.
#[test]
fn whole_number_floats_are_read_as_integers() {
    let w = Whale::new();
    let mut m = w.mcp(&[]).started();
    let v = m.call_ok("products_list_products", json!({"limit": 5.0}));
    assert_eq!(v["items"].as_array().map(Vec::len), Some(5), "{v}");
    let t = m.call_err("products_list_products", json!({"limit": 5.5}));
    assert!(t.contains("limit"), "{t}");
    m.finish();
}

/// What agents send as a matter of course: `null` for every parameter they
/// do not use (the other actions' ones too, in grouped mode), a customer
/// named by email wherever a customer is named, an order number as a JSON
/// number. Each works as meant; a filter naming no customer is an error,
/// not an empty list; and money with a decimal point (15.00 is dollars to
/// whoever wrote it) is refused, with nothing changed.
#[test]
fn an_agents_natural_inputs_are_read_as_meant() {
    let w = Whale::new();
    let mut m = w.mcp(&[]).started();

    // nulls for unused parameters, including other actions' and `limit`
    let page = m.call_ok(
        "orders",
        json!({"action": "list_orders", "order_id": null, "customer_id": null, "status": null,
               "limit": null, "items": null, "amount_cents": null}),
    );
    assert_eq!(page["limit"], 20, "{page}");
    let newest = &page["items"][0];
    // a nullable field given null keeps its meaning (here: no filter), and
    // a required one given null is reported as missing
    let t = m.call_err("orders_get_order", json!({"order_id": null}));
    assert!(t.contains("`order_id`") && t.contains("required"), "{t}");

    // a customer by email, wherever a customer is named
    let customers = m.call_ok("customers_list_customers", json!({"limit": 100}));
    let buyer = customers["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["orders_count"].as_i64() > Some(0))
        .expect("a customer with orders")
        .clone();
    let by_id = m.call_ok("orders_list_orders", json!({"customer_id": buyer["id"]}));
    let email = buyer["email"].as_str().unwrap().to_uppercase();
    let by_email = m.call_ok("orders_list_orders", json!({"customer_id": format!(" {email} ")}));
    assert_eq!(by_email["total"], by_id["total"], "{by_email}");
    assert_eq!(by_id["total"], buyer["orders_count"], "{by_id}");
    for unknown in ["cus_doesnotexist", "nobody@example.com"] {
        let t = m.call_err("orders_list_orders", json!({"customer_id": unknown}));
        assert!(t.contains(unknown) && t.contains("not found"), "{t}");
    }
    let renamed = m.call_ok(
        "customers_update_customer",
        json!({"customer_id": email, "name": "Renamed By Email"}),
    );
    assert_eq!(renamed["id"], buyer["id"], "{renamed}");
    let t = m.call_err("customers_update_customer", json!({"customer_id": buyer["id"]}));
    assert!(t.contains("nothing to change"), "{t}");

    // an order number as a JSON number, or quoted with spaces
    let number = newest["number"].as_i64().expect("number");
    for given in [json!(number), json!(format!(" #{number} "))] {
        let order = m.call_ok("orders_get_order", json!({"order_id": given}));
        assert_eq!(order["id"], newest["id"], "{given}: {order}");
    }

    // money with a decimal point is refused, and the price stays
    let v = common::stocked_variant(via(&mut m), 1);
    let first = m.call_ok("products_list_products", json!({"limit": 1}));
    let product = json!({"product_id": first["items"][0]["id"]});
    let variant = m.call_ok("products_get_product", product.clone())["variants"][0].clone();
    let t = m.call_err(
        "products_set_price",
        json!({"variant_id": variant["id"], "price_cents": 15.00}),
    );
    assert!(t.contains("`price_cents`") && t.contains("decimal point"), "{t}");
    let after = m.call_ok("products_get_product", product)["variants"][0].clone();
    assert_eq!(after["price_cents"], variant["price_cents"], "{after}");

    // a key a nested object does not take lists that object's fields
    let t = m.call_err(
        "orders_create_order",
        json!({"items": [{"variant_id": v.variant_id, "quantity": 1, "price_cents": 100}]}),
    );
    assert!(
        t.contains("`items[0].price_cents`")
            && t.contains("is not a field of `items[0]`; its fields: `quantity`, `sku`, `variant_id`"),
        "{t}"
    );
    m.finish();
}

/// A client's mistake is answered to the client; it does not also land in
/// the host's log as a warning (rmcp warns about every refused request),
/// unless asked for with RUST_LOG.
#[test]
fn refused_requests_are_not_logged_as_warnings_by_default() {
    let w = Whale::new();
    // The database exists (its creation is noted on stderr, once).
    assert!(w.run(&["stores", "list"]).status.success());
    let lines = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
               "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "nope", "arguments": {}}}),
    ];
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let run = |env: &[(&str, &str)]| {
        common::run_bounded_input(w.command_env(&["mcp"], env), "whale mcp < session", Some(&text))
    };
    let out = run(&[]);
    assert!(
        common::stdout(&out).contains("-32602"),
        "{}",
        common::stdout(&out)
    );
    assert!(common::stderr(&out).is_empty(), "{}", common::stderr(&out));
    let out = run(&[("RUST_LOG", "rmcp=warn")]);
    assert!(
        common::stderr(&out).contains("unknown tool"),
        "{}",
        common::stderr(&out)
    );
}

#[test]
fn ping_works_before_and_after_initialize() {
    let w = Whale::new();
    let mut m = w.mcp(&[]);
    let before = m.request("ping", Value::Null);
    assert_eq!(before["result"], json!({}), "{before}");
    m.initialize("2025-11-25");
    let after = m.request("ping", Value::Null);
    assert_eq!(after["result"], json!({}), "{after}");
    let unknown = m.request("no/such/method", json!({}));
    assert_eq!(unknown["error"]["code"], json!(-32601), "{unknown}");
    assert_eq!(
        unknown["error"]["message"],
        json!("method not found: `no/such/method`"),
        "{unknown}"
    );
    // A capability the server does not declare: -32601 with a sentence, not
    // just the method's name.
    // Completions are a capability too (the answer was an empty list).
    for (method, params) in [
        ("logging/setLevel", json!({"level": "debug"})),
        (
            "completion/complete",
            json!({"ref": {"type": "ref/prompt", "name": "x"}, "argument": {"name": "a", "value": "b"}}),
        ),
    ] {
        let reply = m.request(method, params);
        assert_eq!(reply["error"]["code"], json!(-32601), "{reply}");
        assert!(
            reply["error"]["message"]
                .as_str()
                .is_some_and(|t| t.contains(&format!("`{method}`")) && t.contains("only tools")),
            "{reply}"
        );
    }
    m.finish();
}

/// A notification sent before `initialize` (an early
/// `notifications/initialized`, a stray cancellation) is dropped; it used
/// to end the session before it began, and the host's `initialize` then hit
/// a closed pipe. A request sent before it is told to send `initialize`.
#[test]
fn a_notification_before_initialize_does_not_end_the_session() {
    let w = Whale::new();
    let mut m = w.mcp(&[]);
    m.notify("notifications/initialized", Value::Null);
    m.notify("notifications/cancelled", json!({"requestId": 9}));
    // A request before initialize is told to start the session (not asked
    // for the stateless revision's _meta fields), and the session goes on.
    let early = m.request("tools/list", json!({}));
    assert_eq!(early["error"]["code"], json!(-32600), "{early}");
    assert!(
        early["error"]["message"]
            .as_str()
            .is_some_and(|t| t.contains("send initialize first")),
        "{early}"
    );
    m.initialize("2025-11-25");
    m.call_ok("store_get_settings", json!({}));
    m.finish();
}

/// The stateless revision: `server/discover` needs the per-request `_meta`
/// (protocol version and client capabilities); with it the server lists its
/// versions, and later requests carrying `_meta` work without `initialize`.
#[test]
fn stateless_discover_then_calls_with_request_meta() {
    let w = Whale::new();
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "whale-tests", "version": "0"}
    });
    let mut m = w.mcp(&[]);

    // Without `_meta` the opener is refused, naming what is missing.
    let bare = m.request("server/discover", json!({}));
    assert_eq!(bare["error"]["code"], json!(-32602), "{bare}");
    let msg = bare["error"]["message"].as_str().unwrap_or_default();
    assert!(msg.contains("io.modelcontextprotocol/protocolVersion"), "{msg}");

    let found = m.request("server/discover", json!({"_meta": meta}));
    let result = found
        .get("result")
        .unwrap_or_else(|| panic!("server/discover failed: {found}"));
    let versions: Vec<&str> = result["supportedVersions"]
        .as_array()
        .expect("supportedVersions")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for v in ["2024-11-05", "2025-11-25", "2026-07-28"] {
        assert!(versions.contains(&v), "{v} not in {versions:?}");
    }
    assert!(result["capabilities"]["tools"].is_object(), "{result}");
    assert_eq!(
        result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        json!("whale"),
        "{result}"
    );

    // Stateless requests: tools/list and tools/call with `_meta` on each.
    let listed = m.request("tools/list", json!({"_meta": meta}));
    let tools = names(
        listed["result"]["tools"]
            .as_array()
            .expect("stateless tools/list"),
    );
    assert!(tools.iter().any(|t| t == "store"), "{tools:?}");
    let called = m.request(
        "tools/call",
        json!({"name": "store", "arguments": {"action": "get_settings"}, "_meta": meta}),
    );
    let r = &called["result"];
    assert_ne!(r["isError"], json!(true), "{called}");
    assert_eq!(r["structuredContent"]["store_id"], json!("demo"), "{called}");
    assert!(
        r["_meta"]["whale/executionId"]
            .as_str()
            .is_some_and(|s| s.starts_with("exec_"))
    );
    let flat = m.request(
        "tools/call",
        json!({"name": "products_list_products", "arguments": {"limit": 1}, "_meta": meta}),
    );
    assert_eq!(
        flat["result"]["structuredContent"]["items"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "{flat}"
    );

    // A stateless request without `_meta` is refused, not served silently.
    let no_meta = m.request(
        "tools/call",
        json!({"name": "store_get_settings", "arguments": {}}),
    );
    assert_eq!(no_meta["error"]["code"], json!(-32602), "{no_meta}");
    m.finish();
}

/// A discover probe does not commit the session to the stateless lifecycle:
/// `initialize` still works afterwards.
#[test]
fn discover_then_initialize_still_works() {
    let w = Whale::new();
    let mut m = w.mcp(&[]);
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {}
    });
    let found = m.request("server/discover", json!({"_meta": meta}));
    assert!(found.get("result").is_some(), "{found}");
    let init = m.initialize("2025-06-18");
    assert_eq!(init["protocolVersion"], json!("2025-06-18"));
    let s = m.call_ok("store_get_settings", json!({}));
    assert_eq!(s["store_id"], json!("demo"));
    m.finish();
}

// ---------------------------------------------------------------------------
// tools/list
// ---------------------------------------------------------------------------

/// The writes MCP calls "only additive updates" (`destructiveHint: false`):
/// creates that add records and change nothing that exists.
const ADDITIVE: [&str; 3] = [
    "customers_create_customer",
    "products_create_product",
    "locations_create_location",
];

#[test]
fn grouped_tools_list_matches_the_registry_with_schemas_and_annotations() {
    let w = Whale::new();
    let reg = registry(&w);
    let mut m = w.mcp(&[]).started();
    let (tools, pages) = list_all(&mut m);
    assert_eq!(pages, 1, "the default page size holds every tool");

    let expected: Vec<String> = reg.iter().map(|(t, _)| t.clone()).collect();
    assert_eq!(
        names(&tools),
        expected,
        "grouped tools/list differs from `tools list --json`"
    );
    for k in KNOWN_TOOLS {
        assert!(expected.iter().any(|t| t == k), "tool {k} missing");
    }

    for (tool, (name, actions)) in tools.iter().zip(&reg) {
        let schema = &tool["inputSchema"];
        assert_eq!(schema["type"], json!("object"), "{name}");
        assert_eq!(schema["additionalProperties"], json!(false), "{name}");
        let want: Vec<&str> = actions.iter().map(|(a, _, _)| a.as_str()).collect();
        let got: Vec<&str> = schema["properties"]["action"]["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("{name}: no action enum"))
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(got, want, "{name}: action enum");
        assert!(
            schema["required"]
                .as_array()
                .is_some_and(|r| r.contains(&json!("action"))),
            "{name}: `action` is not required"
        );
        assert_eq!(
            tool["outputSchema"]["type"],
            json!("object"),
            "{name}: outputSchema"
        );
        assert!(
            tool["description"].as_str().is_some_and(|d| !d.is_empty()),
            "{name}: description"
        );

        let ann = &tool["annotations"];
        let all_read = actions.iter().all(|(_, e, _)| e == "read");
        // MCP's destructiveHint: false only when every write only adds.
        let any_destructive = actions
            .iter()
            .any(|(a, e, _)| e != "read" && !ADDITIVE.contains(&format!("{name}_{a}").as_str()));
        let all_idempotent = actions.iter().all(|(_, _, i)| *i);
        assert_eq!(ann["readOnlyHint"], json!(all_read), "{name}: readOnlyHint");
        assert_eq!(
            ann["destructiveHint"],
            json!(any_destructive),
            "{name}: destructiveHint"
        );
        assert_eq!(
            ann["idempotentHint"],
            json!(all_idempotent),
            "{name}: idempotentHint"
        );
        assert_eq!(ann["openWorldHint"], json!(false), "{name}: openWorldHint");
    }
    let by = |n: &str| tools.iter().find(|t| t["name"] == json!(n)).expect(n).clone();
    assert_eq!(by("audit_trail")["annotations"]["readOnlyHint"], json!(true));
    assert_eq!(by("orders")["annotations"]["destructiveHint"], json!(true));
    assert_eq!(by("orders")["annotations"]["readOnlyHint"], json!(false));

    // Deterministic: the same list again, and from a second session.
    let (again, _) = list_all(&mut m);
    assert_eq!(again, tools);
    m.finish();
    let mut other = w.mcp(&[]).started();
    assert_eq!(list_all(&mut other).0, tools);
    other.finish();
}

#[test]
fn flat_tools_list_has_one_tool_per_action_with_per_action_hints() {
    let w = Whale::new();
    let reg = registry(&w);
    let mut m = w.mcp(&["--tool-mode", "flat"]).started();
    let (tools, _) = list_all(&mut m);
    let expected: Vec<String> = reg
        .iter()
        .flat_map(|(t, actions)| actions.iter().map(move |(a, _, _)| format!("{t}_{a}")))
        .collect();
    assert_eq!(names(&tools), expected);
    let effects: Vec<(&str, bool)> = reg
        .iter()
        .flat_map(|(_, actions)| actions.iter().map(|(_, e, i)| (e.as_str(), *i)))
        .collect();
    for (tool, (effect, idempotent)) in tools.iter().zip(effects) {
        let name = tool["name"].as_str().unwrap_or_default();
        let ann = &tool["annotations"];
        assert_eq!(ann["readOnlyHint"], json!(effect == "read"), "{name}");
        assert_eq!(
            ann["destructiveHint"],
            json!(effect != "read" && !ADDITIVE.contains(&name)),
            "{name}"
        );
        assert_eq!(ann["idempotentHint"], json!(idempotent), "{name}");
        assert!(
            tool["inputSchema"]["properties"].get("action").is_none(),
            "{name} has an action parameter"
        );
        assert_eq!(tool["inputSchema"]["type"], json!("object"), "{name}");
        assert!(tool["outputSchema"].is_object(), "{name}: outputSchema");
    }
    let by = |n: &str| tools.iter().find(|t| t["name"] == json!(n)).expect(n).clone();
    assert_eq!(
        by("orders_create_order")["annotations"]["readOnlyHint"],
        json!(false)
    );
    assert_eq!(
        by("orders_list_orders")["annotations"]["readOnlyHint"],
        json!(true)
    );
    assert_eq!(
        by("orders_cancel_order")["annotations"]["destructiveHint"],
        json!(true)
    );
    // An order takes stock: not an "only additive" update.
    assert_eq!(
        by("orders_create_order")["annotations"]["destructiveHint"],
        json!(true)
    );
    assert_eq!(
        by("customers_create_customer")["annotations"]["destructiveHint"],
        json!(false)
    );
    let required = by("orders_create_order")["inputSchema"]["required"].clone();
    assert!(
        required.as_array().is_some_and(|r| r.contains(&json!("items"))),
        "{required}"
    );
    m.finish();
}

#[test]
fn paged_tools_list_collects_the_same_tools_as_one_page() {
    let w = Whale::new();
    for mode in ["grouped", "flat"] {
        let mut one = w.mcp(&["--tool-mode", mode]).started();
        let (whole, pages) = list_all(&mut one);
        assert_eq!(pages, 1);
        one.finish();

        let mut paged = w.mcp(&["--tool-mode", mode, "--page-size", "2"]).started();
        let first = paged.request("tools/list", json!({}));
        assert_eq!(
            first["result"]["tools"].as_array().map(Vec::len),
            Some(2),
            "{mode}: first page"
        );
        assert!(
            first["result"]["nextCursor"].is_string(),
            "{mode}: first page has no nextCursor"
        );
        let (collected, pages) = list_all(&mut paged);
        assert_eq!(pages, whole.len().div_ceil(2), "{mode}: number of pages");
        assert_eq!(
            collected, whole,
            "{mode}: paged list differs from the single page"
        );

        let bad = paged.request("tools/list", json!({"cursor": "not-a-cursor"}));
        assert_eq!(bad["error"]["code"], json!(-32602), "{mode}: {bad}");
        paged.finish();
    }
}

#[test]
fn tool_filters_limit_what_is_listed_and_callable() {
    let w = Whale::new();

    let mut ro = w.mcp(&["--read-only"]).started();
    let (tools, _) = list_all(&mut ro);
    for t in &tools {
        assert_eq!(
            t["annotations"]["readOnlyHint"],
            json!(true),
            "--read-only lists {}",
            t["name"]
        );
    }
    let before = orders_total(&mut ro);
    // A write by either spelling is not offered.
    let text = ro.call_err(
        "orders",
        json!({"action": "create_order", "items": [{"sku": "x", "quantity": 1}]}),
    );
    assert!(text.contains("action"), "{text}");
    let flat = ro.call_reply(
        "orders_create_order",
        json!({"items": [{"sku": "x", "quantity": 1}]}),
    );
    assert_eq!(flat["error"]["code"], json!(-32602), "{flat}");
    assert_eq!(orders_total(&mut ro), before);
    ro.finish();

    let mut some = w.mcp(&["--tools", "orders,store"]).started();
    assert_eq!(names(&list_all(&mut some).0), ["orders", "store"]);
    let hidden = some.call_reply("products_list_products", json!({}));
    assert_eq!(hidden["error"]["code"], json!(-32602), "{hidden}");
    some.finish();

    let mut cat = w
        .mcp(&["--categories", "platform", "--tool-mode", "flat"])
        .started();
    for n in names(&list_all(&mut cat).0) {
        assert!(
            n.starts_with("store_") || n.starts_with("audit_trail_"),
            "{n} is not a platform tool"
        );
    }
    cat.finish();

    let bad = w.run(&["mcp", "--tools", "nope"]);
    common::assert_exit(&bad, 2, "mcp --tools nope");
    let bad = w.run(&["mcp", "--categories", "nope"]);
    common::assert_exit(&bad, 2, "mcp --categories nope");
    // Filters that leave nothing to serve: a category of the spec whose
    // tools are still to come, or a tool outside the category.
    for args in [
        vec!["mcp", "--categories", "marketing"],
        vec!["mcp", "--categories", "platform", "--tools", "products"],
    ] {
        let bad = w.run(&args);
        common::assert_exit(&bad, 2, &args.join(" "));
        let err = common::stderr(&bad);
        assert!(
            err.contains("no tool to serve") && err.contains("commerce"),
            "{err}"
        );
    }
}

// ---------------------------------------------------------------------------
// tools/call
// ---------------------------------------------------------------------------

#[test]
fn both_spellings_work_in_both_modes_and_are_audited() {
    let w = Whale::new();
    let mut exec_ids = Vec::new();
    for mode in ["grouped", "flat"] {
        let mut m = w.mcp(&["--tool-mode", mode]).started();
        let grouped = m.call("store", json!({"action": "get_settings"}));
        let flat = m.call("store_get_settings", json!({}));
        for r in [&grouped, &flat] {
            assert_ne!(r["isError"], json!(true), "{mode}: {r}");
            assert_eq!(r["structuredContent"]["store_id"], json!("demo"), "{mode}: {r}");
            // The text rendering carries the same data.
            let text: Value = serde_json::from_str(&error_text(r)).expect("text content is JSON");
            assert_eq!(text, r["structuredContent"], "{mode}");
            let id = r["_meta"]["whale/executionId"]
                .as_str()
                .expect("whale/executionId");
            assert!(id.starts_with("exec_"), "{id}");
            exec_ids.push(id.to_string());
        }
        assert_eq!(grouped["structuredContent"], flat["structuredContent"], "{mode}");

        let g = m.call_ok("products", json!({"action": "list_products", "limit": 3}));
        let f = m.call_ok("products_list_products", json!({"limit": 3}));
        assert_eq!(g["items"].as_array().map(Vec::len), Some(3));
        assert_eq!(g, f, "{mode}: the two spellings disagree");
        m.finish();
    }
    let unique: std::collections::HashSet<_> = exec_ids.iter().collect();
    assert_eq!(unique.len(), exec_ids.len(), "execution ids repeat: {exec_ids:?}");
    // Reads are audited (written behind, flushed at exit).
    for id in &exec_ids {
        let e = w.json(&["executions", "show", id, "--json"]);
        assert_eq!(e["id"], json!(id));
        assert_eq!(e["tool"], json!("store"));
        assert_eq!(e["action"], json!("get_settings"));
        assert_eq!(e["status"], json!("success"));
        assert_eq!(e["agent_name"], json!("local-owner"));
    }
}

/// Read audits are written behind, but an agent that is handed an
/// execution id (or asks for today's count) at once finds it: the audit
/// trail's own actions wait for the rows still queued.
#[test]
fn the_audit_trail_shows_calls_made_just_before() {
    let w = Whale::new();
    let mut m = w.mcp(&[]).started();
    for round in 0..20 {
        let r = m.call("products", json!({"action": "list_categories"}));
        let id = r["_meta"]["whale/executionId"]
            .as_str()
            .expect("whale/executionId")
            .to_string();
        let e = m.call_ok(
            "audit_trail",
            json!({"action": "get_execution", "execution_id": id}),
        );
        assert_eq!(e["id"], json!(id), "round {round}");
        assert_eq!(e["status"], json!("success"));
        let q = m.call_ok(
            "audit_trail",
            json!({"action": "query_executions", "tool": "products"}),
        );
        assert_eq!(q["total"], json!(round + 1), "round {round}: {q}");
        let s = m.call_ok(
            "audit_trail",
            json!({"action": "execution_stats", "tool": "products"}),
        );
        assert_eq!(s["total"], json!(round + 1), "round {round}: {s}");
    }
    // A call of an action that does not exist is recorded with what the
    // agent asked for (the `action` is part of its input).
    let r = m.call("orders", json!({"action": "ship_order", "order_id": "x"}));
    assert_eq!(r["isError"], json!(true), "{r}");
    let id = r["_meta"]["whale/executionId"]
        .as_str()
        .expect("execution id")
        .to_string();
    let e = m.call_ok(
        "audit_trail",
        json!({"action": "get_execution", "execution_id": id}),
    );
    assert_eq!(
        e["input"],
        json!({"action": "ship_order", "order_id": "x"}),
        "{e}"
    );
    assert_eq!(e["status"], json!("error"), "{e}");
    m.finish();
}

/// A read of the audit trail is audited with the ids it returned, not their
/// content: each query used to hold the previous queries' outputs, so the
/// trail (and every page of it an agent read) grew without bound. Large
/// inputs and outputs are listed by size and start, whole by get_execution.
#[test]
fn reading_the_audit_trail_does_not_grow_it() {
    let w = Whale::new();
    let mut m = w.mcp(&[]).started();
    let big = m.call("products", json!({"action": "list_products", "limit": 100}));
    let big_id = big["_meta"]["whale/executionId"]
        .as_str()
        .expect("id")
        .to_string();
    let mut sizes = Vec::new();
    let mut first_query = None;
    for _ in 0..4 {
        let r = m.call("audit_trail", json!({"action": "query_executions", "limit": 20}));
        assert_eq!(r["isError"], json!(false), "{r}");
        first_query.get_or_insert_with(|| r["_meta"]["whale/executionId"].as_str().expect("id").to_string());
        sizes.push(r.to_string().len());
    }
    // Each page holds one more (small) row than the one before, nothing more.
    for pair in sizes.windows(2) {
        assert!(pair[1] < pair[0] + 2048, "pages grew: {sizes:?}");
    }
    let q = m.call_ok(
        "audit_trail",
        json!({"action": "query_executions", "tool": "products"}),
    );
    let row = &q["executions"][0];
    assert_eq!(row["id"], json!(big_id), "{q}");
    let shown = &row["output"]["whale/truncated"];
    assert!(shown["bytes"].as_u64().unwrap_or(0) > 2048, "{row}");
    let whole = m.call_ok(
        "audit_trail",
        json!({"action": "get_execution", "execution_id": big_id}),
    );
    assert_eq!(
        whole["output"]["items"].as_array().map(Vec::len),
        Some(48),
        "{whole}"
    );
    // The query's own row: the ids it returned.
    let first_query = first_query.expect("a query");
    let own = m.call_ok(
        "audit_trail",
        json!({"action": "get_execution", "execution_id": first_query}),
    );
    let ids = own["output"]["whale/executions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(ids.contains(&json!(big_id)), "{own}");
    assert!(own["output"]["total"].is_number(), "{own}");
    m.finish();
}

/// Paging the audit trail with `before` (the last id of the previous page)
/// neither repeats nor skips, though every page request is itself a new
/// execution at the top; with `offset` each page would start one late.
#[test]
fn audit_trail_pages_with_before_stay_put() {
    let w = Whale::new();
    let mut m = w.mcp(&[]).started();
    for _ in 0..10 {
        m.call_ok("products", json!({"action": "list_categories"}));
    }
    let first = m.call_ok("audit_trail", json!({"action": "query_executions", "limit": 3}));
    let everything: Vec<Value> = first["executions"].as_array().unwrap().clone();
    let mut seen: Vec<String> = everything
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    let mut total = first["total"].as_i64().unwrap();
    while let Some(last) = seen.last().cloned() {
        let page = m.call_ok(
            "audit_trail",
            json!({"action": "query_executions", "limit": 3, "before": last}),
        );
        let ids: Vec<String> = page["executions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_string())
            .collect();
        // `total` counts what is left after the cursor.
        assert_eq!(page["total"].as_i64().unwrap(), total - 3.min(total), "{page}");
        total = page["total"].as_i64().unwrap();
        if ids.is_empty() {
            break;
        }
        seen.extend(ids);
    }
    let unique: std::collections::HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "a page repeated an execution: {seen:?}");
    // (A query is recorded after it answers: the pages hold the 10 calls.)
    assert_eq!(seen.len(), 10, "the 10 calls, each once: {seen:?}");
    let r = m.call(
        "audit_trail",
        json!({"action": "query_executions", "before": "exec_not_there"}),
    );
    assert_eq!(r["isError"], json!(true), "{r}");
    assert!(error_text(&r).contains("`before`"), "{r}");
    m.finish();
}

#[test]
fn invalid_input_names_the_field_and_changes_nothing() {
    let w = Whale::new();
    let mut m = w.mcp(&[]).started();
    let mut two = common::stocked_variants(via(&mut m), 1, 2);
    let (plenty, scarce) = (two.remove(0), two.remove(0));
    let orders_before = orders_total(&mut m);
    let stock_before = common::stock_at(via(&mut m), &plenty.variant_id, &plenty.location_id);
    let scarce_before = common::stock_at(via(&mut m), &scarce.variant_id, &scarce.location_id);
    assert!(
        scarce_before < 1000,
        "the over-order below must pass the schema (max 1000)"
    );

    // quantity below the minimum
    let t = m.call_err(
        "orders",
        json!({"action": "create_order", "items": [{"variant_id": plenty.variant_id, "quantity": 0}]}),
    );
    assert!(t.contains("invalid input at `items[0].quantity`"), "{t}");
    // wrong type
    let t = m.call_err(
        "orders_create_order",
        json!({"items": [{"variant_id": plenty.variant_id, "quantity": "two"}]}),
    );
    assert!(t.contains("items[0].quantity"), "{t}");
    // a value outside a documented enum: the allowed values are listed
    let t = m.call_err(
        "inventory_adjust_stock",
        json!({"variant_id": plenty.variant_id, "location_id": plenty.location_id, "delta": 1, "reason": "bogus"}),
    );
    assert!(
        t.contains("`reason`") && t.contains("not one of") && t.contains("\"cycle_count\""),
        "{t}"
    );
    // a whole number too large for its field: named, not `input`
    let t = m.call_err(
        "orders_refund_order",
        json!({"order_id": "ord_none", "amount_cents": 1e300}),
    );
    assert!(t.contains("`amount_cents`") && t.contains("too large"), "{t}");
    let t = m.call_err(
        "orders_refund_order",
        json!({"order_id": "ord_none", "amount_cents": 18446744073709551615u64}),
    );
    assert!(t.contains("`amount_cents`") && t.contains("too large"), "{t}");
    // a fraction where a whole number belongs
    let t = m.call_err(
        "orders_create_order",
        json!({"items": [{"variant_id": plenty.variant_id, "quantity": 1.5}]}),
    );
    assert!(t.contains("items[0].quantity"), "{t}");
    // unknown parameter
    let t = m.call_err(
        "orders_create_order",
        json!({"items": [{"variant_id": plenty.variant_id, "quantity": 1}], "bogus": true}),
    );
    assert!(t.contains("bogus"), "{t}");
    // missing required parameter
    let t = m.call_err("orders_create_order", json!({}));
    assert!(t.contains("items"), "{t}");
    // grouped call without / with a wrong action
    let t = m.call_err("orders", json!({"items": []}));
    assert!(t.contains("`action`"), "{t}");
    let t = m.call_err("orders", json!({"action": "fly"}));
    assert!(t.contains("`action`") && t.contains("fly"), "{t}");
    // unknown variant
    let t = m.call_err(
        "orders_create_order",
        json!({"items": [{"sku": "NOPE-NOPE", "quantity": 1}]}),
    );
    assert!(t.contains("items[0]"), "{t}");
    // Valid first line, impossible second line: the whole order is refused
    // and the first line's stock is not taken.
    let t = m.call_err(
        "orders_create_order",
        json!({"items": [
            {"variant_id": plenty.variant_id, "quantity": 1},
            {"variant_id": scarce.variant_id, "quantity": scarce_before + 1}
        ]}),
    );
    assert!(t.contains("insufficient stock"), "{t}");
    // It names the location, and says where else the variant is in stock
    // (listings sum every location's stock).
    let levels = m.call_ok("inventory_get_levels", json!({"variant_id": scarce.variant_id}));
    let mut elsewhere = 0;
    for l in levels["variants"][0]["levels"].as_array().expect("levels") {
        let (id, name, n) = (&l["location_id"], &l["location_name"], &l["available"]);
        if *id == json!(scarce.location_id) {
            let here = format!(
                "at {} (`{}`): {n} available",
                name.as_str().unwrap(),
                scarce.location_id
            );
            assert!(t.contains(&here), "{here}: {t}");
        } else if n.as_i64() > Some(0) {
            elsewhere += 1;
            let there = format!("{} (`{}`) has {n}", name.as_str().unwrap(), id.as_str().unwrap());
            assert!(t.contains(&there) && t.contains("`location_id`"), "{there}: {t}");
        }
    }
    if elsewhere == 0 {
        assert!(t.contains("no other location has any"), "{t}");
    }
    // A coupon that is expired / disabled.
    for code in ["SPRING25", "BULK50"] {
        let t = m.call_err(
            "orders_create_order",
            json!({"items": [{"variant_id": plenty.variant_id, "quantity": 1}], "coupon_code": code}),
        );
        assert!(t.contains(code), "{t}");
    }

    assert_eq!(orders_total(&mut m), orders_before, "a refused order was created");
    assert_eq!(
        common::stock_at(via(&mut m), &plenty.variant_id, &plenty.location_id),
        stock_before
    );
    assert_eq!(
        common::stock_at(via(&mut m), &scarce.variant_id, &scarce.location_id),
        scarce_before
    );
    m.finish();

    // Every failure is audited as an error; no create_order succeeded.
    let errors = w.executions(&["--tool", "orders", "--status", "error"]);
    let failed: Vec<&Value> = errors["executions"]
        .as_array()
        .expect("executions")
        .iter()
        .collect();
    assert!(
        failed.len() >= 10,
        "expected ≥10 failed orders calls, got {}",
        failed.len()
    );
    assert!(failed.iter().any(|e| e["error_code"] == json!("invalid_input")));
    assert!(failed.iter().any(|e| e["error_code"] == json!("conflict")));
    let ok = w.executions(&["--tool", "orders", "--status", "success"]);
    assert!(
        !ok["executions"]
            .as_array()
            .expect("executions")
            .iter()
            .any(|e| e["action"] == json!("create_order")),
        "a create_order succeeded: {ok}"
    );
}

/// A refused input can be as large as a request line; its audit row keeps
/// its size and beginning, not megabytes of it (each such call grew the
/// database, and every listing of the audit trail, by its whole size).
#[test]
fn a_huge_refused_input_is_audited_by_its_size_and_beginning() {
    let w = Whale::new();
    let mut m = w.mcp(&[]).started();
    let huge = "A".repeat(2 * 1024 * 1024);
    let t = m.call_err(
        "customers_create_customer",
        json!({"email": "huge@example.com", "name": huge}),
    );
    assert!(
        t.contains("`name`") && t.contains("longer than"),
        "{}",
        &t[..t.len().min(300)]
    );
    m.finish();
    let rows = w.executions(&["--tool", "customers", "--status", "error"]);
    let row = &rows["executions"][0];
    let kept = &row["input"]["whale/truncated"];
    let bytes = kept["bytes"].as_u64().expect("the size of the input");
    assert!(bytes > 2 * 1024 * 1024, "{kept}");
    let start = kept["start"].as_str().expect("its beginning");
    assert!(
        start.starts_with('{') && start.contains("huge@example.com"),
        "{start}"
    );
    assert!(
        start.chars().count() <= 1025,
        "{} characters kept",
        start.chars().count()
    );
    // A normal input is kept whole.
    let mut m = w.mcp(&[]).started();
    m.call_err(
        "customers_create_customer",
        json!({"email": "small@example.com", "name": ""}),
    );
    m.finish();
    let rows = w.executions(&["--tool", "customers", "--status", "error"]);
    assert_eq!(
        rows["executions"][0]["input"]["email"],
        json!("small@example.com"),
        "{rows}"
    );
}

#[test]
fn error_texts_name_other_actions_as_the_session_spells_them() {
    let w = Whale::new();
    for (mode, finder) in [("grouped", "orders.list_orders"), ("flat", "orders_list_orders")] {
        let mut m = w.mcp(&["--tool-mode", mode]).started();
        let r = m.call("orders_get_order", json!({"order_id": "ord_nosuch"}));
        assert_eq!(r["isError"], json!(true), "{mode}: {r}");
        let text = error_text(&r);
        assert!(
            text.contains(&format!("{finder} shows valid ids")),
            "{mode}: {text}"
        );
        m.finish();
    }
}

#[test]
fn unknown_tool_is_a_protocol_error_and_the_session_continues() {
    let w = Whale::new();
    for mode in ["grouped", "flat"] {
        let mut m = w.mcp(&["--tool-mode", mode]).started();
        for name in ["nope", "orders_fly", "ordersx"] {
            let reply = m.call_reply(name, json!({}));
            assert_eq!(reply["error"]["code"], json!(-32602), "{mode} {name}: {reply}");
            assert!(
                reply["error"]["message"]
                    .as_str()
                    .is_some_and(|s| s.contains(name)),
                "{mode}: error does not name {name}: {reply}"
            );
        }
        assert_eq!(
            m.call_ok("store_get_settings", json!({}))["store_id"],
            json!("demo")
        );
        m.finish();
    }
}

#[test]
fn garbage_lines_get_errors_and_the_server_keeps_serving() {
    let w = Whale::new();
    let mut m = w.mcp(&[]).started();

    m.send_raw("this is not json");
    let e = m.next_unmatched(TIMEOUT).expect("a reply to the garbage line");
    assert_eq!(e["jsonrpc"], json!("2.0"), "{e}");
    assert_eq!(e["error"]["code"], json!(-32700), "{e}");
    assert!(e["id"].is_null(), "{e}");

    m.send_raw("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"); // truncated JSON
    let e = m.next_unmatched(TIMEOUT).expect("a reply to truncated JSON");
    assert_eq!(e["error"]["code"], json!(-32700), "{e}");

    // Valid JSON that is not a JSON-RPC request: invalid request, same id.
    m.send_raw(r#"{"jsonrpc":"2.0","id":"odd","method":42}"#);
    let e = m.response(&json!("odd"), TIMEOUT);
    assert_eq!(e["error"]["code"], json!(-32600), "{e}");

    // A batch (gone from MCP since 2025-06-18) is refused, not ignored.
    m.send_raw(r#"[{"jsonrpc":"2.0","id":5,"method":"ping"}]"#);
    let e = m.next_unmatched(TIMEOUT).expect("a reply to a batch");
    assert_eq!(e["error"]["code"], json!(-32600), "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .is_some_and(|t| t.contains("batch")),
        "{e}"
    );

    // tools/call exists: params that do not fit it are -32602, not -32601.
    for (id, params) in [
        ("no-name", json!({"arguments": {}})),
        ("array-args", json!({"name": "store", "arguments": [1, 2]})),
        ("no-params", Value::Null),
    ] {
        let mut msg = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call"});
        if !params.is_null() {
            msg["params"] = params;
        }
        m.send_raw(&msg.to_string());
        let e = m.response(&json!(id), TIMEOUT);
        assert_eq!(e["error"]["code"], json!(-32602), "{id}: {e}");
        let text = e["error"]["message"].as_str().unwrap_or_default();
        assert!(text.contains("\"name\": string"), "{id}: {e}");
    }

    // Blank lines are ignored; the session is intact.
    m.send_raw("");
    m.send_raw("   ");
    let s = m.call_ok("store_get_settings", json!({}));
    assert_eq!(s["store_id"], json!("demo"));
    let listed = m.request("tools/list", json!({}));
    assert!(listed["result"]["tools"].is_array());
    m.finish();
}

/// A line that is not UTF-8 is a parse error like any other garbage; it
/// must not end the session.
#[test]
fn a_line_that_is_not_utf8_gets_a_parse_error_and_the_session_continues() {
    let w = Whale::new();
    let mut m = w.mcp(&[]).started();
    m.send_bytes(b"\xff\xfe not utf-8");
    m.send_bytes(b"{\"jsonrpc\":\"2.0\",\"id\":77,\"method\":\"ping\",\"params\":{\"x\":\"\xe9\"}}");
    let id = m.send_request("ping", Value::Null);
    let reply = m.try_response(&id, TIMEOUT).unwrap_or_else(|| {
        panic!(
            "the server stopped serving after a non-UTF-8 line; stderr:\n{}",
            m.stderr()
        )
    });
    assert_eq!(reply["result"], json!({}), "{reply}");
    let e = m
        .next_unmatched(TIMEOUT)
        .expect("an error reply to the non-UTF-8 line");
    assert_eq!(e["error"]["code"], json!(-32700), "{e}");
    m.finish();
}

/// An oversized message is refused, and only that message: the request
/// after it is still answered. Sizes around the 16 MiB line limit.
#[test]
fn an_oversized_line_is_refused_and_the_next_message_is_still_served() {
    let w = Whale::new();
    const MIB: usize = 1024 * 1024;
    for size in [17 * MIB, 16 * MIB] {
        let mut m = w.mcp(&[]).started();
        // A valid ping padded with spaces to exactly `size` bytes (newline excluded).
        let head = r#"{"jsonrpc":"2.0","id":"big","method":"ping"}"#;
        let mut line = String::with_capacity(size);
        line.push_str(&head[..head.len() - 1]);
        line.push_str(&" ".repeat(size - head.len()));
        line.push('}');
        assert_eq!(line.len(), size);
        m.send_raw(&line);
        // Two pings follow; once the second is answered the first must
        // have been too (it was not swallowed with the big line).
        let first = m.send_request("ping", Value::Null);
        let second = m.send_request("ping", Value::Null);
        let reply = m.response(&second, TIMEOUT);
        assert_eq!(reply["result"], json!({}), "{reply}");
        let reply = m.try_response(&first, Duration::from_secs(5)).unwrap_or_else(|| {
            panic!(
                "the request right after a {size}-byte line was swallowed; stderr:\n{}",
                m.stderr()
            )
        });
        assert_eq!(reply["result"], json!({}), "{reply}");
        // The big line got exactly one answer: refused as too large (null
        // id) or, if under the limit, served as the ping it is.
        let big = m.try_response(&json!("big"), Duration::from_millis(500));
        let refused = m
            .unmatched
            .iter()
            .filter(|e| e["error"]["code"] == json!(-32600))
            .count();
        assert_eq!(
            big.is_some() as usize + refused,
            1,
            "{size} bytes: answered {big:?}, refusals {refused}"
        );
        m.finish();
    }
}

/// Messages split across writes, and several in one write, are read as
/// the lines they are (the pipe reader buffers partial lines).
#[test]
fn messages_split_across_writes_or_sharing_one_are_each_served() {
    let w = Whale::new();
    let mut m = w.mcp(&[]).started();
    let call = json!({"jsonrpc": "2.0", "id": "split", "method": "tools/call",
        "params": {"name": "store", "arguments": {"action": "get_settings"}}})
    .to_string();
    let (a, b) = call.split_at(call.len() / 2);
    m.send_piece(a.as_bytes());
    std::thread::sleep(Duration::from_millis(100));
    m.send_piece(b.as_bytes());
    std::thread::sleep(Duration::from_millis(100));
    m.send_piece(b"\n");
    let reply = m.response(&json!("split"), TIMEOUT);
    assert_eq!(
        reply["result"]["structuredContent"]["store_id"],
        json!("demo"),
        "{reply}"
    );
    m.send_piece(
        concat!(
            r#"{"jsonrpc":"2.0","id":"one","method":"ping"}"#,
            "\n\n",
            r#"{"jsonrpc":"2.0","id":"two","method":"ping"}"#,
            "\r\n"
        )
        .as_bytes(),
    );
    for id in ["one", "two"] {
        let reply = m.response(&json!(id), TIMEOUT);
        assert_eq!(reply["result"], json!({}), "{reply}");
    }
    m.finish();
}

/// stdin and stdout that are files, not pipes (as in
/// `whale mcp < session.jsonl > out`), take the blocking-thread path: the
/// same session gets the same answers there as over pipes.
#[test]
fn a_session_read_from_a_file_is_answered_like_one_over_pipes() {
    let w = Whale::new();
    let session = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "file-test", "version": "1"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
            "params": {"name": "store", "arguments": {"action": "get_settings"}}}),
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
            "params": {"name": "products_list_products", "arguments": {"limit": "many"}}}),
    ];
    let mut input: String = session.iter().map(|m| format!("{m}\n")).collect();
    input.push_str("not json\n");
    input.push_str(&format!(
        "{}\n",
        json!({"jsonrpc": "2.0", "id": 4, "method": "ping"})
    ));

    // Answers by id (the parse error has a null id), without the parts that
    // differ from run to run (execution ids).
    let answers = |stdout: &str| -> Vec<Value> {
        let mut stdout = stdout.to_string();
        let mut at = 0;
        while let Some(i) = stdout[at..].find("exec_") {
            let start = at + i + "exec_".len();
            let len = stdout[start..]
                .find(|c: char| !c.is_ascii_alphanumeric())
                .unwrap_or(0);
            stdout.replace_range(start..start + len, "ID");
            at = start;
        }
        let mut out: Vec<Value> = stdout
            .lines()
            .map(|l| {
                let mut v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
                if let Some(r) = v.get_mut("result").and_then(Value::as_object_mut) {
                    r.remove("_meta");
                }
                v
            })
            .collect();
        out.sort_by_key(|v| v["id"].to_string());
        out
    };

    let piped = w.run_input(&["mcp"], &input);
    assert_eq!(piped.status.code(), Some(0), "{}", common::stderr(&piped));

    let dir = tempfile_dir(&w);
    let (in_path, out_path) = (dir.join("session.jsonl"), dir.join("out.jsonl"));
    std::fs::write(&in_path, &input).expect("write session file");
    let mut cmd = w.command(&["mcp"]);
    cmd.stdin(std::fs::File::open(&in_path).expect("open session file"))
        .stdout(std::fs::File::create(&out_path).expect("create out file"))
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().expect("spawn whale mcp");
    let status = common::wait_bounded(&mut child, TIMEOUT).expect("whale mcp exits at end of file");
    assert_eq!(status.code(), Some(0));
    let from_file = std::fs::read_to_string(&out_path).expect("read out file");

    let (a, b) = (answers(&common::stdout(&piped)), answers(&from_file));
    assert_eq!(a.len(), 5, "initialize, 2 calls, parse error, ping: {a:#?}");
    assert_eq!(a, b, "pipes and files answered differently");
    assert_eq!(
        a.iter().filter(|v| v["error"]["code"] == json!(-32700)).count(),
        1
    );
}

/// The README's first command: the demo session in examples/ is answered
/// in full, every call succeeds, the order is taken with its coupon, and
/// each call is in the audit trail afterwards.
#[test]
fn the_readme_demo_session_is_answered_and_audited() {
    let w = Whale::new();
    let session = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/demo-session.jsonl"
    ))
    .expect("examples/demo-session.jsonl");
    let out = w.run_input(&["mcp"], &session);
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    let answers: Vec<Value> = common::stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let requests: Vec<Value> = session
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("the session is JSON"))
        .filter(|m| m.get("id").is_some())
        .collect();
    assert_eq!(
        answers.len(),
        requests.len(),
        "one answer per request: {answers:#?}"
    );
    let mut calls = 0;
    for req in &requests {
        let a = answers
            .iter()
            .find(|a| a["id"] == req["id"])
            .unwrap_or_else(|| panic!("no answer to {req}"));
        assert!(a.get("error").is_none(), "{req} -> {a}");
        if req["method"] == json!("tools/call") {
            calls += 1;
            assert_eq!(a["result"]["isError"], json!(false), "{req} -> {a}");
            if req["params"]["arguments"]["action"] == json!("create_order") {
                let order = &a["result"]["structuredContent"];
                assert_eq!(order["status"], json!("paid"), "{order}");
                assert!(order["discount_cents"].as_i64().is_some_and(|d| d > 0), "{order}");
            }
        }
    }
    assert!(calls >= 3, "the demo makes calls");
    assert_eq!(w.executions(&[])["total"], json!(calls), "every call is audited");
}

/// Whether `pid`'s descriptor `fd` is in non-blocking mode (Linux
/// `/proc/PID/fdinfo`, flags in octal; `O_NONBLOCK` is 0o4000).
#[cfg(target_os = "linux")]
fn nonblocking(pid: u32, fd: u32) -> bool {
    let info = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).expect("read fdinfo");
    let flags = info
        .lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .map(|f| u32::from_str_radix(f.trim(), 8).expect("octal flags"))
        .expect("flags line");
    flags & 0o4000 != 0
}

/// The thread that writes read audits behind runs in the idle scheduling
/// class (policy 5, `SCHED_IDLE`) at nice 19, so it only takes CPU that
/// requests leave unused; its rows still land by the end of the session.
/// Only a process that may raise a priority again (`CAP_SYS_NICE`, or
/// `RLIMIT_NICE` ≥ 1) does that; the next test covers the others. CI runs
/// as root, so there it always runs.
#[cfg(target_os = "linux")]
#[test]
#[allow(clippy::print_stderr)] // says why it skipped, to the developer running it
fn audit_writer_runs_in_the_idle_scheduling_class() {
    if nice_floor() > 19 {
        eprintln!("skipped: this process may not raise a priority (no CAP_SYS_NICE, RLIMIT_NICE 0)");
        return;
    }
    let w = Whale::new();
    let mut m = w.mcp(&[]).started();
    m.call_ok("store", json!({"action": "get_settings"}));
    let pid = m.id();
    let audit_thread = || audit_writer_class(pid);
    let deadline = std::time::Instant::now() + TIMEOUT;
    let mut seen = None;
    while std::time::Instant::now() < deadline {
        seen = audit_thread();
        if seen == Some((5, 19)) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(seen, Some((5, 19)), "(policy, nice) of the audit writer");
    m.finish();
    let rows = w.executions(&["--tool", "store"]);
    assert_eq!(rows["total"], json!(1), "{rows}");
}

/// Another program keeping the database locked past the busy timeout
/// (10 s) delays audit rows but loses none: the writer keeps them queued
/// and tries again. Meanwhile the backlog passes three quarters of the
/// queue, which raises the writer to the requests' priority (nice 0 where
/// the process may, else as near as it may) until it has caught up.
#[cfg(target_os = "linux")]
#[test]
fn audit_rows_outlast_a_locked_database_and_a_large_backlog_raises_the_writer() {
    // Past three quarters of the 8192-row queue, short of full (a full
    // queue would make the calls wait, as it should).
    const CALLS: usize = 6300;
    let w = Whale::new();
    let mut m = w.mcp_with_one_audit_row(&[]);
    let locked_at = std::time::Instant::now();
    let lock = w.hold_write_lock();
    let ids = m.send_calls(CALLS, "store", &json!({"action": "get_settings"}));
    for id in &ids {
        let reply = m.response(id, TIMEOUT);
        assert_eq!(reply["result"]["isError"], json!(false), "{reply}");
    }
    let floor = nice_floor();
    let urgent = if floor >= 19 { 19 } else { floor.max(0) };
    let pid = m.id();
    let mut seen = None;
    while locked_at.elapsed() < TIMEOUT {
        seen = audit_writer_class(pid);
        if seen == Some((0, urgent)) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        seen,
        Some((0, urgent)),
        "(policy, nice) of the audit writer behind a large backlog"
    );
    // Keep the lock past the writer's busy timeout, so its first try fails.
    while locked_at.elapsed() < Duration::from_secs(11) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        w.audit_rows(),
        1,
        "no row is written while the database is locked"
    );
    drop(lock);
    let deadline = std::time::Instant::now() + TIMEOUT;
    while w.audit_rows() < (CALLS + 1) as i64 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(w.audit_rows(), (CALLS + 1) as i64, "every call has its audit row");
    // Caught up: back to the background class (or nice 19 without the
    // right to leave the idle class).
    let background = if floor <= 19 { (5, 19) } else { (0, 19) };
    let deadline = std::time::Instant::now() + TIMEOUT;
    while std::time::Instant::now() < deadline && seen != Some(background) {
        seen = audit_writer_class(pid);
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        seen,
        Some(background),
        "(policy, nice) of the audit writer once caught up"
    );
    let stderr = m.stderr();
    assert!(
        stderr.contains("audit rows not written yet; trying again"),
        "{stderr}"
    );
    assert!(!stderr.contains("they are lost"), "{stderr}");
    m.finish();
}

/// The lowest nice value a process started like this one may set, as
/// whale works it out: -20 with `CAP_SYS_NICE`, else `20 - RLIMIT_NICE`.
/// Above 19, nothing may raise a priority again.
#[cfg(target_os = "linux")]
fn nice_floor() -> i32 {
    let capable = rustix::thread::capabilities(None)
        .is_ok_and(|c| c.effective.contains(rustix::thread::CapabilitySet::SYS_NICE));
    match rustix::process::getrlimit(rustix::process::Resource::Nice).current {
        _ if capable => -20,
        None => -20,
        Some(limit) => 20 - limit.min(40) as i32,
    }
}

/// (policy, nice) of the thread named whale-audit in process `pid`, from
/// /proc/PID/task/TID/stat: fields 41 and 19, counted after the name.
#[cfg(target_os = "linux")]
fn audit_writer_class(pid: u32) -> Option<(u32, i32)> {
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let path = task.ok()?.path();
        let comm = std::fs::read_to_string(path.join("comm")).ok()?;
        if comm.trim() != "whale-audit" {
            continue;
        }
        let stat = std::fs::read_to_string(path.join("stat")).ok()?;
        let fields: Vec<&str> = stat[stat.rfind(')')? + 2..].split(' ').collect();
        return Some((fields[38].parse().ok()?, fields[16].parse().ok()?));
    }
    None
}

/// A process without the right to raise a priority (no `CAP_SYS_NICE`,
/// `RLIMIT_NICE` 0: how most users run) could never bring an idle-class
/// thread back, so its audit writer stays in the normal class at nice 19,
/// and the rows are still written.
#[cfg(target_os = "linux")]
#[test]
fn audit_writer_stays_in_the_normal_class_without_the_right_to_leave_idle() {
    let w = Whale::new();
    // prlimit and setpriv exec whale: the pid stays whale's.
    let mut wrapper = vec!["prlimit", "--nice=0:0"];
    if rustix::process::geteuid().is_root() {
        wrapper.extend(["setpriv", "--bounding-set=-sys_nice", "--inh-caps=-sys_nice"]);
    }
    let mut m = Mcp::from_command(w.command_under(&wrapper, &["mcp"])).started();
    m.call_ok("store", json!({"action": "get_settings"}));
    let pid = m.id();
    let deadline = std::time::Instant::now() + TIMEOUT;
    let mut seen = None;
    while std::time::Instant::now() < deadline && seen.is_none() {
        seen = audit_writer_class(pid);
        std::thread::sleep(Duration::from_millis(20));
    }
    // Give a wrong move to the idle class time to show.
    std::thread::sleep(Duration::from_millis(100));
    seen = audit_writer_class(pid).or(seen);
    assert_eq!(seen, Some((0, 19)), "(policy, nice) of the audit writer");
    m.finish();
    let rows = w.executions(&["--tool", "store"]);
    assert_eq!(rows["total"], json!(1), "{rows}");
}

/// Pipes from the host are driven non-blocking on the runtime; with stderr
/// on the same pipe as stdout (`2>&1`) they stay blocking (the thread path),
/// so log writes never meet a full pipe with `EAGAIN`; replies and logs
/// arrive whole either way.
#[cfg(target_os = "linux")]
#[test]
fn pipes_go_non_blocking_unless_stderr_shares_stdout() {
    use std::io::{BufRead, BufReader, Write};
    let w = Whale::new();
    // Separate pipes: stdin and stdout non-blocking while serving.
    let m = w.mcp(&[]).started();
    assert!(
        nonblocking(m.id(), 0) && nonblocking(m.id(), 1),
        "separate pipes stay blocking"
    );
    assert!(!nonblocking(m.id(), 2), "stderr must stay blocking");
    m.finish();

    // stdout and stderr on one pipe.
    let (reader, writer) = std::io::pipe().expect("pipe");
    let mut cmd = w.command(&["mcp"]);
    cmd.env("RUST_LOG", "debug")
        .stdin(std::process::Stdio::piped())
        .stdout(writer.try_clone().expect("clone pipe"))
        .stderr(writer);
    let mut child = cmd.spawn().expect("spawn whale mcp");
    drop(cmd); // the parent's copies of the write end
    let mut stdin = child.stdin.take().expect("stdin");
    let mut lines = BufReader::new(reader).lines();
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "shared-pipe", "version": "1"}}});
    writeln!(stdin, "{init}").expect("write initialize");
    let mut replies = 0;
    let mut json_line = |line: &str| {
        if line.starts_with('{') {
            let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            replies += usize::from(v.get("result").is_some());
            true
        } else {
            false
        }
    };
    for line in lines.by_ref() {
        if json_line(&line.expect("read the shared pipe")) {
            break;
        }
    }
    let pid = child.id();
    assert!(
        !nonblocking(pid, 1),
        "a pipe shared with stderr went non-blocking"
    );
    for i in 0..50 {
        let call = json!({"jsonrpc": "2.0", "id": 100 + i, "method": "tools/call",
            "params": {"name": "store", "arguments": {"action": "get_settings"}}});
        writeln!(stdin, "{call}").expect("write a call");
    }
    drop(stdin);
    for line in lines {
        json_line(&line.expect("read the shared pipe"));
    }
    let status = common::wait_bounded(&mut child, TIMEOUT).expect("whale mcp exits at EOF");
    assert_eq!(status.code(), Some(0));
    assert_eq!(replies, 51, "initialize and 50 calls");
}

fn tempfile_dir(w: &Whale) -> std::path::PathBuf {
    let dir = w.db.parent().expect("db dir").join("files");
    std::fs::create_dir_all(&dir).expect("create dir");
    dir
}

#[test]
fn pipelined_requests_are_all_answered_and_matched_by_id() {
    let w = Whale::new();
    let mut m = w.mcp(&[]).started();
    let mut ids = Vec::new();
    for i in 0..40 {
        let params = if i % 2 == 0 {
            json!({"name": "products_list_products", "arguments": {"limit": 1 + i % 5}})
        } else {
            json!({"name": "store", "arguments": {"action": "get_settings"}})
        };
        ids.push((i, m.send_request("tools/call", params)));
    }
    for (i, id) in ids.iter().rev() {
        let reply = m.response(id, TIMEOUT);
        let r = &reply["result"];
        assert_ne!(r["isError"], json!(true), "{reply}");
        if i % 2 == 0 {
            assert_eq!(
                r["structuredContent"]["items"].as_array().map(Vec::len),
                Some(1 + i % 5),
                "{reply}"
            );
        } else {
            assert_eq!(r["structuredContent"]["store_id"], json!("demo"), "{reply}");
        }
    }
    m.finish();
}

// ---------------------------------------------------------------------------
// Scopes
// ---------------------------------------------------------------------------

#[test]
fn missing_write_scope_is_refused_named_audited_and_changes_nothing() {
    let w = Whale::new();
    let (_, key) = w.create_key_as("reader-bot", "orders:read products:read", false, &[]);
    let variant = {
        let mut owner = w.mcp(&[]).started();
        let v = stocked_variant(via(&mut owner), 1);
        owner.finish();
        v
    };
    let mut m = w.mcp_key(&[], &key).started();
    let before = orders_total(&mut m);
    let t = m.call_err(
        "orders",
        json!({"action": "create_order", "items": [{"variant_id": variant.variant_id, "quantity": 1}]}),
    );
    assert!(t.contains("insufficient scope"), "{t}");
    assert!(t.contains("`orders:write`"), "{t}");
    assert_eq!(
        orders_total(&mut m),
        before,
        "an order was created without orders:write"
    );
    // A tool it has no scope for at all.
    let t = m.call_err("customers", json!({"action": "list_customers"}));
    assert!(t.contains("`customers:read`"), "{t}");
    m.finish();

    let errors = w.executions(&["--status", "error", "--agent", "reader-bot"]);
    let rows: Vec<&Value> = errors["executions"]
        .as_array()
        .expect("executions")
        .iter()
        .filter(|e| e["tool"] == json!("orders") && e["action"] == json!("create_order"))
        .collect();
    assert_eq!(
        rows.len(),
        1,
        "expected one audit row for the refused create_order: {errors}"
    );
    assert_eq!(rows[0]["status"], json!("error"));
    assert_eq!(rows[0]["error_code"], json!("insufficient_scope"));
    assert_eq!(rows[0]["agent_name"], json!("reader-bot"));
    assert!(
        rows[0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("orders:write")),
        "{}",
        rows[0]
    );
    assert!(rows[0]["output"].is_null());
}

#[test]
fn a_key_quoted_in_input_or_echoed_by_an_error_never_reaches_the_audit_trail() {
    let w = Whale::new();
    let (_, key) = w.create_key_as("leaky-bot", "products customers", false, &[]);
    // At debug level rmcp logs whole JSON-RPC messages, arguments included.
    let mut m = Mcp::spawn(&w, &[], &[("WHALETOOLS_API_KEY", &key), ("RUST_LOG", "debug")]).started();
    // A validation error quotes the bad value; a lookup error quotes the id.
    let t = m.call_err("products", json!({"action": "list_products", "limit": key}));
    assert!(t.contains("limit"), "{t}");
    let t = m.call_err("products", json!({"action": "get_product", "product_id": key}));
    assert!(t.contains("not found"), "{t}");
    // A write whose text holds the key among other words (its own audit row,
    // committed with the write).
    let note = format!("ref {key}!"); // tags are at most 50 characters
    let created = m.call_ok(
        "customers",
        json!({"action": "create_customer", "email": "leak@example.com", "name": "Lee Kee",
               "tags": [note]}),
    );
    assert!(created["id"].is_string(), "{created}");
    // An unknown tool's name is the caller's text too.
    let unknown = m.request(
        "tools/call",
        json!({"name": format!("no such {key}"), "arguments": {}}),
    );
    assert_eq!(unknown["error"]["code"], json!(-32602), "{unknown}");
    let stderr = m.stderr();
    m.finish();
    assert!(
        stderr.contains("DEBUG"),
        "RUST_LOG=debug logged nothing: {stderr}"
    );
    assert!(!stderr.contains(&key[8..]), "the key reached the log: {stderr}");

    let rows: Vec<String> = w
        .sqlite()
        .prepare(
            "SELECT json_array(id, tool, action, agent_name, status, error_code, error, input, output)
             FROM executions WHERE agent_name = 'leaky-bot'",
        )
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(rows.len(), 4, "{rows:#?}");
    for row in &rows {
        assert!(!row.contains(&key[8..]), "a raw key in an audit row: {row}");
        assert!(row.contains("[REDACTED]"), "nothing redacted in {row}");
    }
    // The words around the key are kept.
    let write = rows
        .iter()
        .find(|r| r.contains("create_customer"))
        .expect("the create_customer row");
    assert!(write.contains("ref [REDACTED]!"), "{write}");
}

#[test]
fn tools_list_shows_only_what_the_key_may_do() {
    let w = Whale::new();
    let (_, key) = w.create_key("orders:read products:read", false);

    let mut g = w.mcp_key(&[], &key).started();
    let (tools, _) = list_all(&mut g);
    assert_eq!(
        names(&tools),
        ["orders", "products"],
        "a reader sees only the tools it has scopes for"
    );
    let orders = tools
        .iter()
        .find(|t| t["name"] == json!("orders"))
        .expect("orders");
    let actions: Vec<&str> = orders["inputSchema"]["properties"]["action"]["enum"]
        .as_array()
        .expect("enum")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(actions, ["list_orders", "get_order"]);
    assert_eq!(
        orders["annotations"]["readOnlyHint"],
        json!(true),
        "only reads are offered"
    );
    g.finish();

    let mut f = w.mcp_key(&["--tool-mode", "flat"], &key).started();
    let flat = names(&list_all(&mut f).0);
    assert!(flat.contains(&"orders_list_orders".to_string()), "{flat:?}");
    assert!(!flat.contains(&"orders_create_order".to_string()), "{flat:?}");
    assert!(!flat.iter().any(|n| n.starts_with("customers_")), "{flat:?}");
    assert!(!flat.iter().any(|n| n.starts_with("products_create")), "{flat:?}");
    f.finish();

    // A bare resource grants read and write.
    let (_, writer) = w.create_key("orders", false);
    let mut o = w.mcp_key(&[], &writer).started();
    let (tools, _) = list_all(&mut o);
    assert_eq!(names(&tools), ["orders"]);
    let n = tools[0]["inputSchema"]["properties"]["action"]["enum"]
        .as_array()
        .map(Vec::len);
    let all = registry(&w)
        .into_iter()
        .find(|(t, _)| t == "orders")
        .map(|(_, a)| a.len());
    assert_eq!(n, all, "orders (bare) grants every orders action");
    o.finish();
}

// ---------------------------------------------------------------------------
// Isolation: sandbox mode and stores
// ---------------------------------------------------------------------------

#[test]
fn a_test_key_works_only_on_test_data() {
    let w = Whale::new();
    let (_, test_key) = w.create_key_as("sandbox-bot", "orders products inventory", true, &[]);

    // The handshake tells each agent whose data it is on.
    let mut owner = w.mcp(&[]);
    let hello = owner.initialize("2025-11-25");
    let said = hello["instructions"].as_str().unwrap_or_default();
    assert!(said.contains("store `demo`, in live mode"), "{hello}");
    let live_total = orders_total(&mut owner);
    let live_order = owner.call_ok("orders_list_orders", json!({"limit": 1}))["items"][0]["id"]
        .as_str()
        .expect("a live order")
        .to_string();

    let mut t = w.mcp_key(&[], &test_key);
    let hello = t.initialize("2025-06-18");
    let said = hello["instructions"].as_str().unwrap_or_default();
    assert!(
        said.contains("store `demo`, in test mode: sandbox data"),
        "{hello}"
    );
    let test_total = orders_total(&mut t);
    let v = stocked_variant(via(&mut t), 1);
    let created = t.call_ok("orders_create_order", order_input(&v.variant_id, 1));
    let order_id = created["id"].as_str().expect("order id").to_string();
    assert_eq!(created["items"][0]["variant_id"], json!(v.variant_id));

    // Visible to the test key…
    let got = t.call_ok("orders_get_order", json!({"order_id": order_id}));
    assert_eq!(got["id"], json!(order_id));
    assert_eq!(orders_total(&mut t), test_total + 1);
    // …but not to live mode, whose data is unchanged.
    assert_eq!(orders_total(&mut owner), live_total);
    let text = owner.call_err("orders_get_order", json!({"order_id": order_id}));
    assert!(text.contains("not found"), "{text}");
    // And live data is not visible to the test key.
    let text = t.call_err("orders_get_order", json!({"order_id": live_order}));
    assert!(text.contains("not found"), "{text}");
    // Nor can the test key sell a live variant.
    let live_variant = stocked_variant(via(&mut owner), 1);
    let text = t.call_err("orders_create_order", order_input(&live_variant.variant_id, 1));
    assert!(text.contains("items[0]"), "{text}");
    t.finish();
    owner.finish();

    // The audit trail keeps the modes apart too.
    let test_rows = w.executions(&["--test", "--tool", "orders", "--status", "success"]);
    assert!(
        test_rows["executions"]
            .as_array()
            .expect("executions")
            .iter()
            .any(|e| e["action"] == json!("create_order") && e["output"]["id"] == json!(order_id)),
        "{test_rows}"
    );
    let live_rows = w.executions(&["--tool", "orders", "--status", "success"]);
    assert!(
        !live_rows["executions"]
            .as_array()
            .expect("executions")
            .iter()
            .any(|e| e["action"] == json!("create_order")),
        "{live_rows}"
    );
}

#[test]
fn stores_are_isolated_from_each_other() {
    let w = Whale::new();
    let created = w.run(&["stores", "create", "other", "--name", "Other", "--seed"]);
    common::assert_exit(&created, 0, "stores create other");
    let scopes = "orders products platform:read";
    let (_, other_key) = w.create_key_as("other-bot", scopes, false, &["--store", "other"]);
    let (_, demo_key) = w.create_key_as("demo-bot", scopes, false, &[]);

    let mut demo = w.mcp_key(&[], &demo_key).started();
    let mut other = w.mcp_key(&[], &other_key).started();

    let demo_ids: Vec<String> = demo.call_ok("orders_list_orders", json!({"limit": 100}))["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|o| o["id"].as_str().expect("id").to_string())
        .collect();
    let other_page = other.call_ok("orders_list_orders", json!({"limit": 100}));
    let other_ids: Vec<String> = other_page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|o| o["id"].as_str().expect("id").to_string())
        .collect();
    assert!(!demo_ids.is_empty() && !other_ids.is_empty());
    assert!(
        demo_ids.iter().all(|id| !other_ids.contains(id)),
        "stores share order ids"
    );

    for id in demo_ids.iter().take(5) {
        let t = other.call_err("orders_get_order", json!({"order_id": id}));
        assert!(t.contains("not found"), "store `other` read demo order {id}: {t}");
    }
    for id in other_ids.iter().take(5) {
        let t = demo.call_err("orders_get_order", json!({"order_id": id}));
        assert!(
            t.contains("not found"),
            "store `demo` read other's order {id}: {t}"
        );
    }
    let settings = other.call_ok("store", json!({"action": "get_settings"}));
    assert_eq!(settings["store_id"], json!("other"));
    assert_eq!(
        demo.call_ok("store_get_settings", json!({}))["store_id"],
        json!("demo")
    );
    demo.finish();
    other.finish();

    // A key used with an explicit other store is refused at start (exit 3).
    for args in [vec!["--store", "demo", "mcp"], vec!["mcp"]] {
        let env: Vec<(&str, &str)> = if args.len() == 1 {
            vec![("WHALETOOLS_API_KEY", &other_key), ("WHALE_STORE", "demo")]
        } else {
            vec![("WHALETOOLS_API_KEY", &other_key)]
        };
        let out = w.run_env(&args, &env);
        common::assert_exit(&out, 3, &format!("{args:?} with another store's key"));
        assert!(common::stderr(&out).contains("other"), "{}", common::stderr(&out));
    }
}

// ---------------------------------------------------------------------------
// Credentials during a session
// ---------------------------------------------------------------------------

#[test]
fn a_key_revoked_mid_session_is_refused_on_the_next_call() {
    let w = Whale::new();
    let (id, key) = w.create_key("orders:read", false);
    let mut m = w.mcp_key(&[], &key).started();
    let page = m.call_ok("orders_list_orders", json!({"limit": 1}));
    assert!(page["total"].as_i64().is_some());

    let out = w.run(&["keys", "revoke", &id]);
    common::assert_exit(&out, 0, "keys revoke");

    let r = m.call("orders_list_orders", json!({"limit": 1}));
    assert_eq!(r["isError"], json!(true), "a revoked key still works: {r}");
    let text = error_text(&r);
    assert!(text.contains("revoked"), "{text}");
    assert!(!text.contains(&key), "the error leaks the key: {text}");
    // tools/list refuses it too, with an implementation-defined server
    // error (the request itself is well formed: not -32600).
    let list = m.request("tools/list", json!({}));
    assert_eq!(list["error"]["code"], json!(-32001), "{list}");
    assert!(
        list["error"]["message"]
            .as_str()
            .is_some_and(|t| t.starts_with("authentication failed") && t.contains("revoked")),
        "{list}"
    );
    m.finish();
    // The refused call is in the audit trail, under the key's agent: an
    // agent that goes on calling with a revoked key is visible.
    let rows = w.executions(&["--status", "error", "--tool", "orders"]);
    let row = &rows["executions"][0];
    assert_eq!(rows["total"], json!(1), "{rows}");
    assert_eq!(row["error_code"], json!("unauthenticated"), "{row}");
    assert_eq!(row["action"], json!("list_orders"), "{row}");
    assert_ne!(row["agent_name"], json!("local-owner"), "{row}");
    assert!(row["agent_id"].is_string(), "{row}");
    assert!(
        !row.to_string().contains(&key),
        "the audit row leaks the key: {row}"
    );
}

#[test]
fn a_bad_key_is_refused_before_serving() {
    let w = Whale::new();
    let (id, key) = w.create_key("orders:read", false);
    for (bad, why) in [("wt_live_nope", "malformed"), ("not-a-key", "malformed")] {
        let out = w.run_env(&["mcp"], &[("WHALETOOLS_API_KEY", bad)]);
        common::assert_exit(&out, 3, &format!("mcp with a {why} key"));
        assert!(
            common::stdout(&out).is_empty(),
            "stdout must stay clean: {}",
            common::stdout(&out)
        );
        assert!(
            common::stderr(&out).contains("WHALETOOLS_API_KEY"),
            "{}",
            common::stderr(&out)
        );
    }
    common::assert_exit(&w.run(&["keys", "revoke", &id]), 0, "keys revoke");
    let out = w.run_env(&["mcp"], &[("WHALETOOLS_API_KEY", &key)]);
    common::assert_exit(&out, 3, "mcp with a revoked key");
    assert!(
        common::stderr(&out).contains("revoked"),
        "{}",
        common::stderr(&out)
    );
}

// ---------------------------------------------------------------------------
// Protocol hygiene
// ---------------------------------------------------------------------------

#[test]
fn stdout_is_only_json_rpc_even_with_debug_logs_and_eof_exits_zero() {
    let w = Whale::new();
    let mut m = Mcp::spawn(&w, &[], &[("RUST_LOG", "debug")]);
    m.initialize("2025-11-25");
    m.request("tools/list", json!({}));
    m.call_ok("store_get_settings", json!({}));
    m.call_err("orders_get_order", json!({"order_id": "nope"}));
    m.call_reply("nope", json!({}));
    m.send_raw("garbage");
    m.request("ping", Value::Null);
    m.notify("notifications/cancelled", json!({"requestId": 12345}));
    let last = m.request("ping", Value::Null);
    assert_eq!(last["result"], json!({}));
    // Drain whatever else is pending (e.g. the parse error).
    while m.next_message(Duration::from_millis(200)).is_some() {}
    let raw = m.raw.clone();
    let logs = m.stderr();
    let status = m.close();
    assert_eq!(status.code(), Some(0), "exit on stdin EOF: {status:?}");
    assert!(raw.len() >= 7, "too few stdout lines: {raw:?}");
    for line in &raw {
        let v: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("non-JSON stdout line ({e}): {line}"));
        assert_eq!(v["jsonrpc"], json!("2.0"), "{line}");
    }
    assert!(
        logs.to_lowercase().contains("debug"),
        "RUST_LOG=debug produced no debug logs on stderr"
    );
}

#[test]
fn eof_before_initialize_exits_zero() {
    let w = Whale::new();
    let m = w.mcp(&[]);
    let status = m.close();
    assert_eq!(status.code(), Some(0), "{status:?}");
}

#[test]
fn cancelling_an_unknown_request_is_harmless() {
    let w = Whale::new();
    let mut m = w.mcp(&[]).started();
    m.notify(
        "notifications/cancelled",
        json!({"requestId": 999_999, "reason": "test"}),
    );
    m.notify("notifications/cancelled", json!({"requestId": "nope"}));
    let s = m.call_ok("store_get_settings", json!({}));
    assert_eq!(s["store_id"], json!("demo"));
    // Cancel a request that has already been answered.
    let id = m.send_request(
        "tools/call",
        json!({"name": "store_get_settings", "arguments": {}}),
    );
    let reply = m.response(&id, TIMEOUT);
    assert!(reply.get("result").is_some());
    m.notify("notifications/cancelled", json!({"requestId": id}));
    let again = m.call_ok("products_list_products", json!({"limit": 1}));
    assert_eq!(again["items"].as_array().map(Vec::len), Some(1));
    m.finish();
}

// ---------------------------------------------------------------------------
// Order semantics through the protocol
// ---------------------------------------------------------------------------

/// Money is integer cents and adds up; cancelling restocks and refunds what
/// was paid; a refund can never exceed what is left to refund.
#[test]
fn orders_add_up_in_cents_cancel_restocks_and_refunds_are_capped() {
    let w = Whale::new();
    let mut m = w.mcp(&[]).started();
    let v = stocked_variant(via(&mut m), 3);
    let stock = |m: &mut Mcp| common::stock_at(via(m), &v.variant_id, &v.location_id);
    let before = stock(&mut m);
    // A paid order of one unit of `v`; its id.
    let one_unit_order = |m: &mut Mcp| -> String {
        let o = m.call_ok("orders_create_order", order_input(&v.variant_id, 1));
        o["id"].as_str().expect("order id").to_string()
    };

    let o = m.call_ok(
        "orders_create_order",
        json!({"items": [{"variant_id": v.variant_id, "quantity": 2}], "coupon_code": "save5",
               "shipping_address": {"country": "US", "region": "NY"}, "shipping_cents": 500}),
    );
    for k in [
        "subtotal_cents",
        "discount_cents",
        "tax_cents",
        "shipping_cents",
        "total_cents",
        "paid_cents",
    ] {
        assert!(o[k].is_i64(), "{k} is not an integer: {}", o[k]);
    }
    let cents = |k: &str| o[k].as_i64().expect(k);
    let line = &o["items"][0];
    assert_eq!(line["quantity"], json!(2));
    assert_eq!(
        line["total_cents"].as_i64(),
        line["unit_price_cents"].as_i64().map(|p| p * 2)
    );
    assert_eq!(
        cents("subtotal_cents"),
        line["total_cents"].as_i64().expect("line total")
    );
    assert!(cents("discount_cents") > 0, "SAVE5 gave no discount: {o}");
    assert_eq!(
        o["coupon_code"],
        json!("SAVE5"),
        "coupon codes are case-insensitive"
    );
    assert!(cents("tax_cents") > 0, "no tax for a NY address: {o}");
    assert_eq!(
        (&o["tax_country"], &o["tax_region"]),
        (&json!("US"), &json!("NY")),
        "{o}"
    );
    // A region spelled out matched no rate and was charged the country's:
    // refused now, naming the field, with nothing ordered.
    for (address, field, says) in [
        (
            json!({"country": "US", "region": "New York"}),
            "shipping_address.region",
            "ISO 3166-2",
        ),
        (json!({"country": "U1"}), "shipping_address.country", "ISO 3166-1"),
        (
            json!({"country": "US", "region": "CA-ON"}),
            "shipping_address.region",
            "region of CA, not of US",
        ),
    ] {
        let t = m.call_err(
            "orders_create_order",
            json!({"items": [{"variant_id": v.variant_id, "quantity": 1}], "shipping_address": address}),
        );
        assert!(t.contains(field) && t.contains(says), "{t}");
    }
    assert_eq!(stock(&mut m), before - 2, "a refused order took stock");
    // The ISO form with its country prefix is the same region; a region
    // without a rate of its own is charged the country's, and says so.
    for (region, rule) in [("us-ny", "NY"), ("TX", "")] {
        let o = m.call_ok(
            "orders_create_order",
            json!({"items": [{"variant_id": v.variant_id, "quantity": 1}], "paid": false,
                   "shipping_address": {"country": "US", "region": region}}),
        );
        assert_eq!(o["tax_region"], json!(rule), "{region}: {o}");
        m.call_ok("orders_cancel_order", json!({"order_id": o["id"]}));
    }
    assert_eq!(
        cents("total_cents"),
        cents("subtotal_cents") - cents("discount_cents") + cents("tax_cents") + cents("shipping_cents"),
        "{o}"
    );
    assert_eq!(cents("paid_cents"), cents("total_cents"));
    assert_eq!(o["status"], json!("paid"));
    assert_eq!(stock(&mut m), before - 2, "stock not taken");
    let id = o["id"].as_str().expect("order id").to_string();

    // Refunds: above what was paid is refused; a partial one is recorded.
    let t = m.call_err(
        "orders_refund_order",
        json!({"order_id": id, "amount_cents": cents("paid_cents") + 1}),
    );
    assert!(t.contains("amount_cents"), "{t}");
    let r = m.call_ok(
        "orders_refund_order",
        json!({"order_id": id, "amount_cents": 100}),
    );
    assert_eq!(r["amount_cents"], json!(100));
    assert_eq!(r["remaining_refundable_cents"], json!(cents("paid_cents") - 100));
    assert_eq!(r["order"]["status"], json!("partially_refunded"));

    // Not shipped, only partly refunded: it can still be cancelled; the rest
    // is refunded and the stock comes back.
    let c = m.call_ok("orders_cancel_order", json!({"order_id": id}));
    assert_eq!(c["status"], json!("cancelled"), "{c}");
    assert_eq!(c["refunded_cents"], c["paid_cents"], "{c}");
    assert_eq!(c["refunds"].as_array().map(Vec::len), Some(2), "{c}");
    assert_eq!(c["fulfilled_at"], Value::Null, "{c}");
    assert_eq!(
        stock(&mut m),
        before,
        "cancelling a partly refunded order did not restock"
    );

    // Partly refunded, then shipped: it stays partly refunded, and shipped.
    let id5 = one_unit_order(&mut m);
    m.call_ok(
        "orders_refund_order",
        json!({"order_id": id5, "amount_cents": 100}),
    );
    let f = m.call_ok(
        "orders_update_status",
        json!({"order_id": id5, "status": "fulfilled"}),
    );
    assert_eq!(f["status"], json!("partially_refunded"), "{f}");
    assert!(f["fulfilled_at"].is_string(), "{f}");
    let t = m.call_err("orders_cancel_order", json!({"order_id": id5}));
    assert!(t.contains("has shipped"), "{t}");
    let before = before - 1;

    // Refunded in full before shipping: cancelling returns the stock and
    // refunds nothing more.
    let id4 = one_unit_order(&mut m);
    let r = m.call_ok("orders_refund_order", json!({"order_id": id4}));
    assert_eq!(r["order"]["status"], json!("refunded"), "{r}");
    assert_eq!(stock(&mut m), before - 1, "a refund alone moves no stock");
    let c = m.call_ok("orders_cancel_order", json!({"order_id": id4}));
    assert_eq!(c["status"], json!("cancelled"), "{c}");
    assert_eq!(
        c["refunds"].as_array().map(Vec::len),
        Some(1),
        "nothing more refunded: {c}"
    );
    assert_eq!(
        stock(&mut m),
        before,
        "cancelling a refunded order did not restock"
    );

    // Shipped, then partly refunded: not cancellable, and still shipped.
    let id3 = one_unit_order(&mut m);
    let f = m.call_ok(
        "orders_update_status",
        json!({"order_id": id3, "status": "fulfilled"}),
    );
    assert!(f["fulfilled_at"].is_string(), "{f}");
    m.call_ok(
        "orders_refund_order",
        json!({"order_id": id3, "amount_cents": 100}),
    );
    let t = m.call_err("orders_cancel_order", json!({"order_id": id3}));
    assert!(t.contains("has shipped") && t.contains("refund_order"), "{t}");
    let again = m.call_ok(
        "orders_update_status",
        json!({"order_id": id3, "status": "fulfilled"}),
    );
    assert_eq!(again["status"], json!("partially_refunded"), "{again}");
    assert_eq!(stock(&mut m), before - 1, "a refused cancel changed stock");
    // Refunded in full after shipping: marking it fulfilled again is the
    // no-op it is for any shipped order, and a further refund says why not.
    m.call_ok("orders_refund_order", json!({"order_id": id3}));
    let again = m.call_ok(
        "orders_update_status",
        json!({"order_id": id3, "status": "fulfilled"}),
    );
    assert_eq!(again["status"], json!("refunded"), "{again}");
    let t = m.call_err("orders_refund_order", json!({"order_id": id3}));
    assert!(t.contains("already refunded in full"), "{t}");
    let before = before - 1;

    // A coupon limited per customer needs a customer.
    let t = m.call_err(
        "orders_create_order",
        json!({"items": [{"variant_id": v.variant_id, "quantity": 1}], "coupon_code": "WELCOME10"}),
    );
    assert!(t.contains("WELCOME10"), "{t}");

    // Cancel a fresh order: stock comes back, the payment is refunded.
    let id2 = one_unit_order(&mut m);
    assert_eq!(stock(&mut m), before - 1);
    let c = m.call_ok("orders", json!({"action": "cancel_order", "order_id": id2}));
    assert_eq!(c["status"], json!("cancelled"));
    assert_eq!(c["refunded_cents"], c["paid_cents"]);
    assert_eq!(stock(&mut m), before, "cancel did not restock");
    // Cancelled is final: a repeat cancel says so (and changes nothing), as
    // do a refund and a status change.
    let t = m.call_err("orders_cancel_order", json!({"order_id": id2}));
    assert!(
        t.contains("already cancelled") && !t.contains("only orders that have not shipped"),
        "{t}"
    );
    let t = m.call_err("orders_refund_order", json!({"order_id": id2}));
    assert!(
        t.contains("is cancelled") && t.contains("nothing left to refund"),
        "{t}"
    );
    for status in ["paid", "fulfilled"] {
        let t = m.call_err("orders_update_status", json!({"order_id": id2, "status": status}));
        assert!(
            t.contains("is cancelled") && t.contains("create a new order"),
            "{t}"
        );
    }
    assert_eq!(
        m.call_ok("orders_get_order", json!({"order_id": id2}))["refunds"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "a refused call on a cancelled order changed it"
    );
    assert_eq!(stock(&mut m), before, "a refused cancel changed stock");
    m.finish();
}

/// SIGTERM lets a call in flight finish, as the HTTP server does: no new
/// request is read, the call waiting for a lock this test holds completes
/// once the lock is free and is answered and audited as a success. (It was
/// cancelled and audited as "cancelled by the client".)
#[cfg(unix)]
#[test]
fn sigterm_lets_a_call_in_flight_finish() {
    let w = Whale::new();
    let mut m = w.mcp(&[]).started();
    let lock = w.hold_write_lock();
    let id = m.send_request(
        "tools/call",
        json!({"name": "customers_create_customer",
               "arguments": {"email": "late@example.com", "name": "Late Arrival"}}),
    );
    // Time to read the request (it then waits for the lock).
    std::thread::sleep(Duration::from_millis(1000));
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &m.id().to_string()])
        .status()
        .expect("run kill");
    assert!(kill.success());
    std::thread::sleep(Duration::from_millis(300));
    drop(lock);
    let reply = m.response(&id, TIMEOUT);
    assert_ne!(reply["result"]["isError"], json!(true), "{reply}");
    assert_eq!(
        reply["result"]["structuredContent"]["email"],
        json!("late@example.com"),
        "{reply}"
    );
    let status = m.close();
    assert!(status.success(), "{status:?}");
    let rows = w.executions(&["--tool", "customers"]);
    assert_eq!(rows["executions"][0]["status"], json!("success"), "{rows}");
}

/// A host that stops reading our stdout (closes the pipe) cannot receive
/// answers, so nothing more is run: the first call whose answer cannot be
/// written ends the session, the later writes are never executed, and the
/// process exits by itself although stdin stays open.
#[cfg(unix)]
#[test]
fn a_closed_stdout_ends_the_session_and_runs_nothing_more() {
    use std::io::{BufRead, BufReader, Write};
    use std::process::Stdio;
    let w = Whale::new();
    let mut child = w
        .command(&["mcp"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn whale mcp");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "whale-tests", "version": "0"}}});
    writeln!(stdin, "{init}").expect("send initialize");
    let mut line = String::new();
    stdout.read_line(&mut line).expect("initialize reply");
    assert!(line.contains("\"result\""), "{line}");
    drop(stdout); // the host stops reading
    // stderr is collected as it comes, to see when whale noticed.
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let reader = {
        let (log, mut err) = (log.clone(), child.stderr.take().expect("stderr"));
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = std::io::Read::read(&mut err, &mut buf) {
                if n == 0 {
                    break;
                }
                log.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
    };
    let call = |i: i64| {
        json!({"jsonrpc": "2.0", "id": 10 + i, "method": "tools/call", "params": {
            "name": "customers_create_customer",
            "arguments": {"email": format!("unheard{i}@example.com"), "name": "Unheard"}}})
    };
    writeln!(
        stdin,
        "{}",
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"})
    )
    .expect("send");
    writeln!(stdin, "{}", call(0)).expect("send the first call");
    // The first call runs; its answer cannot be written, and whale says so.
    let deadline = std::time::Instant::now() + TIMEOUT;
    while !log.lock().unwrap().contains("stdout is closed") {
        assert!(
            std::time::Instant::now() < deadline,
            "whale never noticed that stdout was closed; stderr:\n{}",
            log.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Anything sent now is never run. (stdin may already be closed.)
    for i in 1..3 {
        let _ = writeln!(stdin, "{}", call(i));
    }
    let status = common::wait_bounded(&mut child, TIMEOUT);
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let _ = reader.join();
    let stderr = log.lock().unwrap().clone();
    let Some(status) = status else {
        panic!("whale mcp kept running with nobody reading its answers\nstderr:\n{stderr}");
    };
    assert!(status.success(), "{status:?}\n{stderr}");
    drop(stdin);
    let created: i64 = w
        .sqlite()
        .query_row(
            "SELECT count(*) FROM customers WHERE email LIKE 'unheard%'",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(created, 1, "only the call whose answer could not be written ran");
}

/// A last message without its newline is served when stdin ends, over a
/// pipe as from a file (over a pipe it was dropped).
#[test]
fn a_last_message_without_a_newline_is_served() {
    let w = Whale::new();
    let input = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "whale-tests", "version": "0"}}})
        .to_string(),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string(),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
               "params": {"name": "store_update_settings", "arguments": {"name": "No Newline Shop"}}})
        .to_string(),
    ]
    .join("\n");
    let out = w.run_input(&["mcp"], &input);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let replies: Vec<Value> = common::stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON-RPC line"))
        .collect();
    assert!(
        replies
            .iter()
            .any(|r| r["id"] == json!(2) && r["result"]["isError"] != json!(true)),
        "{replies:?}"
    );
    let name = w.demo_store_name();
    assert_eq!(name, "No Newline Shop");
}

/// SIGTERM (how hosts stop servers) is a clean shutdown: the written-behind
/// audit rows of reads are flushed before the process exits.
#[cfg(unix)]
#[test]
fn sigterm_flushes_pending_read_audit_rows() {
    let w = Whale::new();
    let mut m = w.mcp(&[]).started();
    // Pipelined reads; SIGTERM right after the last answer, inside the
    // write-behind window of the last batch.
    let requests: Vec<Value> = (0..50)
        .map(|_| {
            m.send_request(
                "tools/call",
                json!({"name": "store_get_settings", "arguments": {}}),
            )
        })
        .collect();
    let ids: Vec<String> = requests
        .iter()
        .map(|id| {
            let reply = m.response(id, TIMEOUT);
            reply["result"]["_meta"]["whale/executionId"]
                .as_str()
                .expect("execution id")
                .to_string()
        })
        .collect();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &m.id().to_string()])
        .status()
        .expect("run kill");
    assert!(kill.success());
    let status = m.close();
    assert!(
        status.success(),
        "SIGTERM should end whale mcp cleanly: {status:?}"
    );
    let rows = w.executions(&["--tool", "store"]);
    let logged: std::collections::HashSet<&str> = rows["executions"]
        .as_array()
        .expect("executions")
        .iter()
        .filter_map(|e| e["id"].as_str())
        .collect();
    let lost: Vec<&String> = ids.iter().filter(|id| !logged.contains(id.as_str())).collect();
    assert!(
        lost.is_empty(),
        "{} of {} audit rows lost on SIGTERM: {lost:?}",
        lost.len(),
        ids.len()
    );
}
