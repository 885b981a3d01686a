//! Many processes on one database: stock is never oversold, every order has
//! exactly one audit row, a fresh database survives a concurrent first run,
//! and an acknowledged write survives SIGKILL (SPEC §3 orders, §10).

mod common;

use std::collections::{HashMap, HashSet};

use common::{Mcp, TIMEOUT, Whale, error_text, order_input, stock_at, stocked_variant};
use serde_json::{Value, json};

/// `call` through `whale tools call` as the local owner.
fn cli(w: &Whale) -> impl FnMut(&str, &str, Value) -> Value + '_ {
    move |tool, action, input| w.tool(tool, action, input)
}

/// Sets the units of a variant at a location to exactly `target`.
fn set_stock(w: &Whale, variant_id: &str, location_id: &str, target: i64) {
    let now = stock_at(cli(w), variant_id, location_id);
    if now != target {
        w.tool(
            "inventory",
            "adjust_stock",
            json!({"variant_id": variant_id, "location_id": location_id, "delta": target - now,
                   "reason": "correction", "note": "test setup"}),
        );
    }
    assert_eq!(
        stock_at(cli(w), variant_id, location_id),
        target,
        "stock was not set"
    );
}

/// Successful `create_order` audit rows (live mode), by order id.
fn create_order_audit(w: &Whale) -> HashMap<String, usize> {
    let rows = w.executions(&["--tool", "orders", "--status", "success"]);
    assert!(
        rows["total"].as_i64().expect("total") <= 1000,
        "more rows than one page"
    );
    let mut by_order: HashMap<String, usize> = HashMap::new();
    for e in rows["executions"].as_array().expect("executions") {
        if e["action"] == json!("create_order") {
            let id = e["output"]["id"]
                .as_str()
                .unwrap_or_else(|| panic!("audit output lacks the order id: {e}"));
            *by_order.entry(id.to_string()).or_default() += 1;
        }
    }
    by_order
}

#[test]
fn concurrent_sessions_never_oversell_and_audit_every_order_once() {
    const PROCESSES: usize = 8;
    const ORDERS_EACH: usize = 3;
    const STOCK: i64 = 5;

    let w = Whale::new();
    let v = stocked_variant(cli(&w), 1);
    set_stock(&w, &v.variant_id, &v.location_id, STOCK);
    let orders_before = w.tool("orders", "list_orders", json!({"limit": 1}))["total"]
        .as_i64()
        .expect("total");

    // Start every session first, then fire all requests, then collect.
    let mut sessions: Vec<Mcp> = (0..PROCESSES).map(|_| w.mcp(&[]).started()).collect();
    let mut pending: Vec<Vec<Value>> = Vec::new();
    for m in &mut sessions {
        let ids = m.send_calls(ORDERS_EACH, "orders_create_order", &order_input(&v.variant_id, 1));
        pending.push(ids);
    }
    let mut created = Vec::new();
    let mut refusals = Vec::new();
    for (m, ids) in sessions.iter_mut().zip(&pending) {
        for id in ids {
            let reply = m.response(id, TIMEOUT);
            let r = reply
                .get("result")
                .unwrap_or_else(|| panic!("JSON-RPC error: {reply}"));
            if r["isError"] == json!(true) {
                refusals.push(error_text(r));
            } else {
                let order = &r["structuredContent"];
                assert_eq!(order["items"][0]["variant_id"], json!(v.variant_id), "{order}");
                assert_eq!(order["items"][0]["quantity"], json!(1));
                created.push(order["id"].as_str().expect("order id").to_string());
            }
        }
    }
    for m in sessions {
        m.finish();
    }

    assert_eq!(
        created.len(),
        STOCK as usize,
        "successes; refusals were: {refusals:#?}"
    );
    assert_eq!(refusals.len(), PROCESSES * ORDERS_EACH - STOCK as usize);
    for t in &refusals {
        assert!(
            t.contains("insufficient stock"),
            "a refusal that is not a stock conflict: {t}"
        );
    }
    let unique: HashSet<&String> = created.iter().collect();
    assert_eq!(unique.len(), created.len(), "duplicate order ids: {created:?}");

    // Stock went to exactly zero, never below.
    assert_eq!(stock_at(cli(&w), &v.variant_id, &v.location_id), 0);
    let orders_after = w.tool("orders", "list_orders", json!({"limit": 1}))["total"]
        .as_i64()
        .expect("total");
    assert_eq!(orders_after - orders_before, STOCK, "orders created");

    // Every order exists and has exactly one success audit row naming it.
    for id in &created {
        let o = w.tool("orders", "get_order", json!({"order_id": id}));
        assert_eq!(o["id"], json!(id));
        assert_eq!(o["status"], json!("paid"));
    }
    let audit = create_order_audit(&w);
    assert_eq!(audit.len(), created.len(), "audit rows: {audit:?}");
    for id in &created {
        assert_eq!(audit.get(id), Some(&1), "order {id} audit rows: {audit:?}");
    }
    // …and every refusal was audited as a conflict, none lost.
    let errors = w.executions(&["--tool", "orders", "--status", "error"]);
    let conflicts = errors["executions"]
        .as_array()
        .expect("executions")
        .iter()
        .filter(|e| e["action"] == json!("create_order") && e["error_code"] == json!("conflict"))
        .count();
    assert_eq!(conflicts, refusals.len(), "refusals in the audit trail");
    assert_eq!(w.integrity_check(), "ok");
}

/// Several processes starting at once on a database that does not exist yet
/// (a host launching whale twice, a script running commands in parallel):
/// every one must succeed and the demo store must be seeded exactly once.
/// The race is short, so it is run on several fresh databases.
#[test]
fn concurrent_first_runs_on_a_fresh_database_seed_once() {
    const ROUNDS: usize = 25;
    const PROCESSES: usize = 16;
    let mut failures = Vec::new();
    for round in 0..ROUNDS {
        let w = Whale::new();
        let children: Vec<_> = (0..PROCESSES)
            .map(|i| {
                let cmd = w.command(&[
                    "tools",
                    "call",
                    "products_list_products",
                    "--input",
                    r#"{"limit":1}"#,
                ]);
                std::thread::spawn(move || (i, common::run_bounded(cmd, "concurrent first run")))
            })
            .collect();
        for h in children {
            let (i, out) = h.join().expect("thread");
            if out.status.code() != Some(0) {
                failures.push(format!(
                    "round {round} run {i}: {:?}: {}",
                    out.status,
                    common::stderr(&out).trim()
                ));
                continue;
            }
            let v = common::parse_json(&out.stdout, "list_products");
            assert_eq!(
                v["total"],
                json!(48),
                "round {round} run {i} saw a partly seeded store: {v}"
            );
        }
        let stores = w.json(&["stores", "list", "--json"]);
        assert_eq!(stores["stores"].as_array().map(Vec::len), Some(1), "{stores}");
        assert_eq!(
            w.tool("orders", "list_orders", json!({"limit": 1}))["total"],
            json!(100)
        );
        assert_eq!(
            w.tool("customers", "list_customers", json!({"limit": 1}))["total"],
            json!(30)
        );
        assert_eq!(w.integrity_check(), "ok");
    }
    assert!(
        failures.is_empty(),
        "{} of {} concurrent first runs failed:\n{}",
        failures.len(),
        ROUNDS * PROCESSES,
        failures.join("\n")
    );
}

#[test]
fn acknowledged_orders_survive_sigkill() {
    const SENT: usize = 200;
    const KILL_AFTER: usize = 50;

    let w = Whale::new();
    let v = stocked_variant(cli(&w), 1);
    set_stock(&w, &v.variant_id, &v.location_id, 10_000);
    let orders_before = w.tool("orders", "list_orders", json!({"limit": 1}))["total"]
        .as_i64()
        .expect("total");

    let mut m = w.mcp(&[]).started();
    let ids = m.send_calls(SENT, "orders_create_order", &order_input(&v.variant_id, 1));
    // Read replies as they arrive; kill once enough writes are acknowledged.
    let wanted: HashSet<String> = ids.iter().map(|i| i.to_string()).collect();
    let mut acked: Vec<String> = Vec::new();
    while acked.len() < KILL_AFTER {
        let msg = m
            .next_message(TIMEOUT)
            .unwrap_or_else(|| panic!("no reply; stderr:\n{}", m.stderr()));
        if !msg.get("id").is_some_and(|i| wanted.contains(&i.to_string())) {
            continue;
        }
        let r = msg
            .get("result")
            .unwrap_or_else(|| panic!("JSON-RPC error: {msg}"));
        assert_ne!(
            r["isError"],
            json!(true),
            "create_order failed: {}",
            error_text(r)
        );
        acked.push(
            r["structuredContent"]["id"]
                .as_str()
                .expect("order id")
                .to_string(),
        );
    }
    m.kill();
    drop(m);

    // A fresh process sees every acknowledged order.
    let mut fresh = w.mcp(&[]).started();
    let checks: Vec<(String, Value)> = acked
        .iter()
        .map(|id| {
            let rid = fresh.send_request(
                "tools/call",
                json!({"name": "orders_get_order", "arguments": {"order_id": id}}),
            );
            (id.clone(), rid)
        })
        .collect();
    for (order_id, rid) in checks {
        let reply = fresh.response(&rid, TIMEOUT);
        let r = &reply["result"];
        assert_ne!(
            r["isError"],
            json!(true),
            "acknowledged order {order_id} was lost: {}",
            error_text(r)
        );
        assert_eq!(r["structuredContent"]["id"], json!(order_id));
    }
    let orders_after = fresh.call_ok("orders_list_orders", json!({"limit": 1}))["total"]
        .as_i64()
        .expect("total");
    let stock_after = stock_at(
        |t, a, mut i| {
            i["action"] = json!(a);
            fresh.call_ok(t, i)
        },
        &v.variant_id,
        &v.location_id,
    );
    fresh.finish();

    assert_eq!(w.integrity_check(), "ok");
    let created = orders_after - orders_before;
    assert!(
        created >= KILL_AFTER as i64 && created <= SENT as i64,
        "created {created}"
    );
    // Each order took exactly its unit: no half-committed order.
    assert_eq!(10_000 - stock_after, created, "stock taken vs orders that exist");
    // A write and its audit row commit together: every order that exists
    // (acknowledged or not) has exactly one success row.
    let audit = create_order_audit(&w);
    assert_eq!(
        audit.len() as i64,
        created,
        "orders without (or with extra) audit rows"
    );
    for id in &acked {
        assert_eq!(
            audit.get(id),
            Some(&1),
            "acknowledged order {id} lacks its audit row"
        );
    }
    assert!(audit.values().all(|&n| n == 1), "{audit:?}");
}

/// Another process reading a brand-new (empty) database file while whale
/// starts on it: whale must wait for the lock (its busy timeout) rather than
/// fail, then create and seed the store.
#[test]
fn first_run_waits_for_a_reader_of_the_new_file() {
    let w = Whale::new();
    std::fs::File::create(&w.db).expect("create an empty database file");
    let reader = w.sqlite();
    reader.execute_batch("BEGIN").expect("begin");
    let tables: i64 = reader
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .expect("read (takes a shared lock)");
    assert_eq!(tables, 0);

    let cmd = w.command(&["tools", "call", "store_get_settings"]);
    let child = std::thread::spawn(move || common::run_bounded(cmd, "whale on a locked new database"));
    // Hold the lock a moment, then let go; whale's busy timeout is far longer.
    std::thread::sleep(std::time::Duration::from_millis(1000));
    reader.execute_batch("COMMIT").expect("commit");
    drop(reader);
    let out = child.join().expect("thread");
    common::assert_exit(
        &out,
        0,
        "first run while another process briefly held a read lock",
    );
    let v = common::parse_json(&out.stdout, "get_settings");
    assert_eq!(v["store_id"], json!("demo"));
    assert_eq!(w.integrity_check(), "ok");
}

/// SPEC §10: while another process holds the write lock, the audit rows of
/// reads wait in the queue for as long as the session runs; a stop waits
/// for them a bounded time only, then says how many rows it could not
/// write. It neither hangs on the lock (nor ignores SIGTERM meanwhile) nor
/// loses rows without a word.
#[cfg(unix)]
#[test]
fn a_stop_behind_a_locked_database_ends_and_counts_the_rows_it_lost() {
    let w = Whale::new();
    let mut m = w.mcp_with_one_audit_row(&[]);
    let lock = w.hold_write_lock();
    for _ in 0..3 {
        m.call_ok("store", json!({"action": "get_settings"}));
    }
    m.sigterm();
    let status = m.wait(TIMEOUT).unwrap_or_else(|| {
        panic!(
            "whale mcp did not exit within {TIMEOUT:?} of SIGTERM while the database was locked\nstderr:\n{}",
            m.stderr()
        )
    });
    assert_eq!(status.code(), Some(0), "exit status {status:?}");
    let deadline = std::time::Instant::now() + TIMEOUT;
    while !m.stderr().contains("they are lost") && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let err = m.stderr();
    assert!(
        err.contains("audit rows could not be written before exit; they are lost rows=3"),
        "{err}"
    );
    drop(lock);
    assert_eq!(w.audit_rows(), 1, "nothing was written behind the lock");
}

/// A database locked for good holds no call up for good, nor the SIGTERM
/// behind them (stdio's one runtime thread answers the calls): once the
/// audit queue is full and writes have failed for the give-up window
/// (shortened here from 60 s), rows that do not fit are dropped, counted,
/// and the calls answered. Once the lock is gone the queued rows are
/// written: every row is on disk or counted as lost.
#[cfg(unix)]
#[test]
fn a_locked_database_with_a_full_audit_queue_holds_no_call_or_sigterm_up() {
    // More than the audit queue (8192 rows) and the writer's batch hold.
    const CALLS: usize = 9000;
    let w = Whale::new();
    let mut m = w.mcp_with_one_audit_row(&[("WHALE_AUDIT_GIVE_UP_MS", "1000")]);
    let lock = w.hold_write_lock();
    // In rounds, so stdin never fills while whale waits (without the give-up
    // a reply then times out, rather than the test hanging in a write).
    for round in 0..CALLS.div_ceil(250) {
        let ids = m.send_calls(
            250.min(CALLS - round * 250),
            "store",
            &json!({"action": "get_settings"}),
        );
        for id in &ids {
            let reply = m.response(id, TIMEOUT);
            assert_ne!(reply["result"]["isError"], json!(true), "{reply}");
        }
    }
    drop(lock);
    m.call_ok("store", json!({"action": "get_settings"}));
    m.sigterm();
    let status = m.wait(TIMEOUT).unwrap_or_else(|| {
        panic!(
            "whale mcp did not exit within {TIMEOUT:?} of SIGTERM\nstderr:\n{}",
            m.stderr()
        )
    });
    assert_eq!(status.code(), Some(0), "exit status {status:?}");
    let said = "audit rows lost in all at a full queue while the database refused them rows=";
    let deadline = std::time::Instant::now() + TIMEOUT;
    while !m.stderr().contains(said) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let err = m.stderr();
    assert!(
        err.contains("the database has refused audit rows for too long"),
        "{err}"
    );
    let lost: i64 = err
        .split(said)
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count of lost rows: {err}"));
    assert!(!err.contains("before exit; they are lost"), "{err}");
    assert_eq!(
        w.audit_rows() + lost,
        1 + CALLS as i64 + 1,
        "every call's row is on disk or counted as lost\n{err}"
    );
}

/// A write that cannot get the write lock within the busy timeout is
/// refused as `busy` — the database is busy, nothing changed, retry — not
/// as an internal error; its audit row is written once the lock is gone.
#[test]
fn a_write_behind_a_held_lock_is_reported_busy_not_internal() {
    let w = Whale::new();
    let mut m = w.mcp_with_one_audit_row(&[]);
    let lock = w.hold_write_lock();
    let text = m.call_err(
        "store",
        json!({"action": "update_settings", "support_email": "busy@example.com"}),
    );
    assert!(
        text.starts_with(
            "the database is busy: another process holds its write lock; nothing was changed; retry shortly"
        ),
        "{text}"
    );
    drop(lock);
    m.finish();
    let failed = w.executions(&["--status", "error"]);
    let row = &failed["executions"][0];
    assert_eq!(row["action"], json!("update_settings"), "{failed}");
    assert_eq!(row["error_code"], json!("busy"), "{row}");
    let settings = w.tool("store", "get_settings", json!({}));
    assert_ne!(settings["support_email"], json!("busy@example.com"), "{settings}");
}
