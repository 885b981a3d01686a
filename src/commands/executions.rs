//! `whale executions`: the audit trail from the shell.

use serde_json::json;

use crate::app::App;
use crate::cli::{ExecFilterArgs, ExecutionsCmd};
use crate::error::CliError;
use crate::printer;
use crate::store::audit::{self as db, ExecStatus, ExecutionFilter};
use crate::store::{Mode, Scope, Scoped};

fn scope(app: &App, test: bool) -> Scope {
    Scope {
        store_id: app.store_id.clone(),
        mode: if test { Mode::Test } else { Mode::Live },
    }
}

fn filter(f: &ExecFilterArgs) -> Result<ExecutionFilter, CliError> {
    let status = f
        .status
        .as_deref()
        .map(|s| {
            ExecStatus::parse(s).ok_or_else(|| {
                CliError::Usage(format!(
                    "--status `{s}`: use success, error, timeout, pending_approval or rejected"
                ))
            })
        })
        .transpose()?;
    if let Some(t) = &f.tool
        && t.chars().count() > db::MAX_TOOL_FILTER
    {
        return Err(CliError::Usage(format!(
            "--tool is longer than {} characters; give a tool (orders) or an action (orders.create_order)",
            db::MAX_TOOL_FILTER
        )));
    }
    Ok(ExecutionFilter {
        tool: f.tool.clone(),
        agent: f.agent.clone(),
        status,
        from: f.from.clone(),
        to: f.to.clone(),
    })
}

/// A `--tool` that matched nothing and names no tool or action is a slip,
/// refused as such (as the `audit_trail` tool refuses it). An `--agent`
/// the store does not know, matching nothing, gets a note on stderr beside
/// the empty table (not with `--json`): it may yet match (see
/// [`db::unknown_agent`]), so it is not refused.
fn slip(
    app: &App,
    scoped: &Scoped<'_>,
    f: &ExecutionFilter,
    matched: i64,
    json: bool,
) -> Result<(), CliError> {
    let registry = app.pipeline.registry();
    if let Some(m) = crate::tools::platform::audit_trail::slip(registry, f, matched) {
        return Err(CliError::Usage(format!("--tool {m}")));
    }
    if matched == 0
        && !json
        && let Some(a) = &f.agent
        && let Some(names) = db::unknown_agent(scoped, a, AGENTS_NAMED)?
    {
        let more = if names.len() > AGENTS_NAMED { ", …" } else { "" };
        let names: Vec<&str> = names.iter().take(AGENTS_NAMED).map(String::as_str).collect();
        printer::err(&format!(
            "note: this store knows no agent `{a}` (no key, client or execution of that name); its agents: {}{more}",
            names.join(", ")
        ));
    }
    Ok(())
}

/// How many agent names the note on an unknown `--agent` lists.
const AGENTS_NAMED: usize = 20;

fn bad_time(e: db::BadTime) -> CliError {
    CliError::Usage(format!("--{} {}", e.0, e.1))
}

pub fn run(app: &App, cmd: ExecutionsCmd) -> Result<(), CliError> {
    app.require_store()?;
    // Rows of reads are written behind; make this process's own visible.
    app.pipeline.audit().flush();
    let conn = app.db.conn()?;
    match cmd {
        ExecutionsCmd::List {
            filter: f,
            limit,
            offset,
            before,
            json,
        } => {
            if !(1..=1000).contains(&limit) || offset < 0 {
                return Err(CliError::Usage("--limit must be 1–1000 and --offset ≥ 0".into()));
            }
            let sc = scope(app, f.test);
            let scoped = Scoped::new(&conn, &sc);
            if let Some(id) = &before
                && db::get(&scoped, id)?.is_none()
            {
                return Err(CliError::Runtime(format!(
                    "--before: no execution `{id}` in store {} ({} mode); give an id from a previous page",
                    sc.store_id, sc.mode
                )));
            }
            let filter = filter(&f)?;
            let (rows, total) =
                db::query(&scoped, &filter, before.as_deref(), limit, offset)?.map_err(bad_time)?;
            if before.is_none() {
                slip(app, &scoped, &filter, total, json)?;
            }
            if json {
                printer::json(&json!({"executions": rows, "total": total, "limit": limit, "offset": offset}));
                return Ok(());
            }
            let table: Vec<Vec<String>> = rows
                .iter()
                .map(|e| {
                    vec![
                        e.id.clone(),
                        e.created_at.clone(),
                        format!("{}.{}", e.tool, e.action.as_deref().unwrap_or("-")),
                        e.agent_name.clone(),
                        e.status.clone(),
                        format!("{} ms", e.duration_ms),
                        e.error_code.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            printer::table(
                &["ID", "TIME", "TOOL", "AGENT", "STATUS", "DURATION", "ERROR"],
                &table,
            );
            // Which of the matching executions these are (gh's "3–4 of 6").
            let shown = match rows.len() as i64 {
                0 => format!("none of {total}"),
                n => format!("{}–{} of {total}", offset + 1, offset + n),
            };
            let older = before.map(|b| format!(" older than {b}")).unwrap_or_default();
            printer::out(&format!(
                "{shown}{older} ({} mode, store {})",
                sc.mode, sc.store_id
            ));
            Ok(())
        }
        ExecutionsCmd::Show { id, test, json } => {
            let sc = scope(app, test);
            let Some(e) = db::get(&Scoped::new(&conn, &sc), &id)? else {
                // The same store's other mode is the usual slip: say so.
                let other = scope(app, !test);
                let there = db::get(&Scoped::new(&conn, &other), &id)?.is_some();
                return Err(CliError::Runtime(format!(
                    "no execution `{id}` in store {} ({} mode){}",
                    sc.store_id,
                    sc.mode,
                    match (there, test) {
                        (true, false) => "; it is a test-mode execution: add --test",
                        (true, true) => "; it is a live-mode execution: drop --test",
                        (false, _) => "",
                    }
                )));
            };
            if json {
                printer::json(&serde_json::to_value(&e)?);
                return Ok(());
            }
            printer::out(&format!("id:        {}", e.id));
            printer::out(&format!("time:      {}", e.created_at));
            printer::out(&format!(
                "tool:      {}.{}",
                printer::visible(&e.tool),
                e.action.as_deref().unwrap_or("-")
            ));
            printer::out(&format!(
                "agent:     {} ({})",
                printer::visible(&e.agent_name),
                e.agent_id.as_deref().unwrap_or("local")
            ));
            printer::out(&format!("store:     {} ({} mode)", e.store_id, e.mode));
            printer::out(&format!("status:    {}", e.status));
            printer::out(&format!("duration:  {} ms", e.duration_ms));
            if let Some(err) = &e.error {
                printer::out(&format!("error:     {}", printer::visible(err)));
            }
            printer::out(&format!("input:\n{}", serde_json::to_string_pretty(&e.input)?));
            if let Some(o) = &e.output {
                printer::out(&format!("output:\n{}", serde_json::to_string_pretty(o)?));
            }
            Ok(())
        }
        ExecutionsCmd::Stats { filter: f, json } => {
            let sc = scope(app, f.test);
            let (scoped, filter) = (Scoped::new(&conn, &sc), filter(&f)?);
            let s = db::stats(&scoped, &filter)?.map_err(bad_time)?;
            slip(app, &scoped, &filter, s.total, json)?;
            if json {
                printer::json(&serde_json::to_value(&s)?);
                return Ok(());
            }
            printer::out(&format!("executions:       {}", s.total));
            printer::out(&format!(
                "success rate:     {}",
                s.success_rate
                    .map(|r| format!("{:.1}%", r * 100.0))
                    .unwrap_or_else(|| "-".into())
            ));
            printer::out(&format!(
                "average latency:  {}",
                s.avg_latency_ms
                    .map(|l| format!("{l:.2} ms"))
                    .unwrap_or_else(|| "-".into())
            ));
            printer::out(&format!(
                "p95 latency:      {}",
                s.p95_latency_ms
                    .map(|l| format!("{l:.2} ms"))
                    .unwrap_or_else(|| "-".into())
            ));
            printer::out(&format!(
                "executions today: {} (since {})",
                s.executions_today, s.today_starts_at
            ));
            printer::out(&format!("unique tools:     {}", s.unique_tools));
            for (k, v) in &s.by_status {
                printer::out(&format!("  {k}: {v}"));
            }
            Ok(())
        }
    }
}
