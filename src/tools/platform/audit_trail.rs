//! `audit_trail`: the executions of this store and mode, as agents see them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::ToolError;
use crate::store::audit::{self as db, Execution, ExecutionFilter, Stats};
use crate::tools::{Action, Category, Ctx, Effect, Registry, Tool, default_limit};

pub fn tool() -> Tool {
    Tool {
        name: "audit_trail",
        title: "Audit trail",
        description: "Query the record of every tool execution in this store: who called what, with which input, the outcome and its latency.",
        category: Category::Platform,
        resource: "platform",
        actions: vec![
            Action::new(
                "query_executions",
                "List executions newest first, filtered by tool, agent, status and time range; returns the total for paging. An input or output over 2 KB is listed as its size and start: get_execution has it whole.",
                Effect::Read,
                json!({"tool": "orders", "status": "success", "limit": 10}),
                query_executions,
            ).reads_audit()
            .audited_as(returned_ids),
            Action::new(
                "get_execution",
                "One execution with its full (redacted) input and output.",
                Effect::Read,
                json!({"execution_id": "exec_example"}),
                get_execution,
            ).reads_audit()
            .audited_as(returned_ids),
            Action::new(
                "execution_stats",
                "Average latency, success rate, executions today and unique tools over the filtered executions.",
                Effect::Read,
                json!({"from": "7d"}),
                execution_stats,
            ).reads_audit(),
        ],
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryInput {
    /// Only executions of this tool (`orders`), or of one action (`orders.create_order` or `orders_create_order`).
    /// A name that is neither, and that no execution has, is refused.
    #[schemars(length(max = db::MAX_TOOL_FILTER))]
    pub tool: Option<String>,
    /// Only executions by this agent (name or id).
    pub agent: Option<String>,
    /// Only executions with this status.
    pub status: Option<db::ExecStatus>,
    /// Earliest time: RFC 3339, a date (YYYY-MM-DD, from the start of that
    /// day in the store's time zone), a time of the store's clock
    /// (YYYY-MM-DDTHH:MM), or an age like 24h / 7d.
    pub from: Option<String>,
    /// Latest time (same forms as `from`; a date includes that whole day).
    pub to: Option<String>,
    /// Page size, 1–100 (default 20).
    #[serde(default = "default_limit")]
    #[schemars(range(min = 1, max = 100))]
    pub limit: i64,
    /// Records to skip (default 0): the next page starts at the previous
    /// `offset` + `limit`.
    #[serde(default)]
    #[schemars(range(min = 0))]
    pub offset: i64,
    /// Only executions listed after this one (an `exec_…` id, e.g. the last
    /// of the previous page): pages that stay put while new calls — this
    /// one included — arrive at the top. `total` then counts those after it.
    /// (A call is listed by when it started but recorded when it ends: one
    /// still running when a page was read can appear behind the cursor.)
    #[schemars(length(min = 1))]
    pub before: Option<String>,
}

// The response shape of SPEC §6.
/// A page of executions, newest first, with the total that match.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Executions {
    pub executions: Vec<Execution>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

/// The largest input or output (as JSON text) a listed execution shows
/// whole: a page is read by agents, whose context a few large results
/// would fill.
const LISTED_WHOLE: usize = 2048;

/// What a read of the trail keeps in its own audit row: the ids of the
/// executions it returned (and the total), not their content, which the
/// trail holds already.
fn returned_ids(out: &serde_json::Value) -> serde_json::Value {
    let ids: Vec<serde_json::Value> = match out.get("executions") {
        Some(serde_json::Value::Array(rows)) => rows.iter().filter_map(|r| r.get("id").cloned()).collect(),
        _ => out.get("id").cloned().into_iter().collect(),
    };
    let mut view = json!({ "whale/executions": ids });
    if let Some(total) = out.get("total") {
        view["total"] = total.clone();
    }
    view
}

/// `v` as a listed execution shows it: whole up to [`LISTED_WHOLE`].
fn listed(v: &mut serde_json::Value) {
    let text = v.to_string();
    if text.len() > LISTED_WHOLE {
        *v = crate::audit::truncated(&text, 512);
    }
}

fn query_executions(ctx: &Ctx<'_>, i: QueryInput) -> Result<Executions, ToolError> {
    let filter = ExecutionFilter {
        tool: i.tool,
        agent: i.agent,
        status: i.status,
        from: i.from,
        to: i.to,
    };
    if let Some(id) = &i.before
        && db::get(&ctx.db, id)?.is_none()
    {
        return Err(ToolError::invalid(
            "before",
            format!("execution `{id}` is not in this store's trail; give an id from a previous page"),
        ));
    }
    let (mut executions, total) = db::query(&ctx.db, &filter, i.before.as_deref(), i.limit, i.offset)??;
    if i.before.is_none()
        && let Some(m) = slip(ctx.registry, &filter, total)
    {
        return Err(ToolError::invalid("tool", m));
    }
    for e in &mut executions {
        listed(&mut e.input);
        if let Some(out) = &mut e.output {
            listed(out);
        }
    }
    Ok(Executions {
        executions,
        total,
        limit: i.limit,
        offset: i.offset,
    })
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecId {
    /// An execution id such as `exec_…`.
    #[schemars(length(min = 1))]
    pub execution_id: String,
}

fn get_execution(ctx: &Ctx<'_>, i: ExecId) -> Result<Execution, ToolError> {
    db::get(&ctx.db, &i.execution_id)?.ok_or_else(|| ToolError::not_found("execution", &i.execution_id))
}

fn execution_stats(ctx: &Ctx<'_>, f: ExecutionFilter) -> Result<Stats, ToolError> {
    let stats = db::stats(&ctx.db, &f)??;
    if let Some(m) = slip(ctx.registry, &f, stats.total) {
        return Err(ToolError::invalid("tool", m));
    }
    Ok(stats)
}

/// What to say, instead of an empty answer, when a tool filter matched
/// nothing (`matched`) and names no tool or action of this server: a slip
/// (`order` for `orders`) that would otherwise read as "no such calls".
/// A filter with rows is never refused, whatever it names (rows of a tool
/// this version no longer has, of a name an agent called in vain). Agents
/// get no such refusal: the store does not know every agent before its
/// first call is recorded (an external authorization server's agents, a
/// call still being written behind), so an unknown name may yet match.
pub fn slip(registry: &Registry, f: &ExecutionFilter, matched: i64) -> Option<String> {
    let t = f.tool.as_deref()?.trim().to_ascii_lowercase();
    let known = match t.split_once('.') {
        Some((tool, a)) => registry.tool(tool).is_some_and(|tool| tool.action(a).is_some()),
        None => registry.tool(&t).is_some() || registry.flat(&t).is_some(),
    };
    if matched > 0 || known {
        return None;
    }
    let mut tools: Vec<&str> = registry.tools().iter().map(|t| t.name).collect();
    tools.sort_unstable();
    Some(format!(
        "`{t}` is not a tool or action of this server, and no execution names it; \
         give a tool ({}) or an action (orders.create_order)",
        tools.join(", ")
    ))
}
