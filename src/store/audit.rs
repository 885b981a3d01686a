//! Execution records (the audit trail, SPEC §6).

use rusqlite::{Connection, OptionalExtension, ToSql, params};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Scoped, rfc3339};

/// One execution, as written by the pipeline.
#[derive(Debug, Clone)]
pub struct ExecutionRow {
    pub id: String,
    pub store_id: String,
    pub mode: &'static str,
    pub tool: String,
    pub action: Option<String>,
    pub agent_id: Option<String>,
    pub agent_name: String,
    pub status: &'static str,
    pub error_code: Option<&'static str>,
    pub error: Option<String>,
    pub duration_us: i64,
    pub input: String,
    pub output: Option<String>,
    pub created_at: i64,
}

pub fn insert(conn: &Connection, r: &ExecutionRow) -> rusqlite::Result<()> {
    insert_all(conn, std::iter::once(r))
}

/// Inserts `rows` through one prepared statement (the audit writer's
/// batches: no statement-cache lookup per row).
pub fn insert_all<'a>(
    conn: &Connection,
    rows: impl IntoIterator<Item = &'a ExecutionRow>,
) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO executions (id, store_id, mode, tool, action, agent_id, agent_name, status,
            error_code, error, duration_ms, duration_us, input, output, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    )?;
    for r in rows {
        stmt.execute(params![
            r.id,
            r.store_id,
            r.mode,
            r.tool,
            r.action,
            r.agent_id,
            r.agent_name,
            r.status,
            r.error_code,
            r.error,
            r.duration_us / 1000,
            r.duration_us,
            r.input,
            r.output,
            r.created_at
        ])?;
    }
    Ok(())
}

/// An execution as queries return it (the shape of SPEC §6).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Execution {
    pub id: String,
    pub tool: String,
    pub action: Option<String>,
    pub agent_id: Option<String>,
    pub agent_name: String,
    pub store_id: String,
    pub mode: String,
    /// success | error | timeout | pending_approval | rejected
    pub status: String,
    /// Machine-readable failure kind (invalid_input, insufficient_scope, not_found, conflict, timeout, ...).
    pub error_code: Option<String>,
    pub error: Option<String>,
    pub duration_ms: i64,
    pub input: serde_json::Value,
    pub output: Option<serde_json::Value>,
    pub created_at: String,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecutionFilter {
    /// Only executions of this tool.
    pub tool: Option<String>,
    /// Only executions by this agent (name or id).
    pub agent: Option<String>,
    /// Only executions with this status.
    pub status: Option<ExecStatus>,
    /// Earliest time (RFC 3339, YYYY-MM-DD, or an age like 24h / 7d).
    pub from: Option<String>,
    /// Latest time (same forms as `from`).
    pub to: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ExecStatus {
    Success,
    Error,
    Timeout,
    PendingApproval,
    Rejected,
}

impl ExecStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ExecStatus::Success => "success",
            ExecStatus::Error => "error",
            ExecStatus::Timeout => "timeout",
            ExecStatus::PendingApproval => "pending_approval",
            ExecStatus::Rejected => "rejected",
        }
    }
    pub fn parse(s: &str) -> Option<ExecStatus> {
        [
            ExecStatus::Success,
            ExecStatus::Error,
            ExecStatus::Timeout,
            ExecStatus::PendingApproval,
            ExecStatus::Rejected,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// A time bound that does not parse.
#[derive(Debug)]
pub struct BadTime(pub &'static str, pub String);

fn where_clause(s: &Scoped<'_>, f: &ExecutionFilter) -> Result<(String, Vec<Box<dyn ToSql>>), BadTime> {
    let mut sql = String::from(" WHERE store_id = ? AND mode = ?");
    let mut args: Vec<Box<dyn ToSql>> = vec![Box::new(s.store().to_string()), Box::new(s.mode())];
    if let Some(t) = &f.tool {
        sql.push_str(" AND tool = ?");
        args.push(Box::new(t.clone()));
    }
    if let Some(a) = &f.agent {
        sql.push_str(" AND (agent_name = ? OR agent_id = ?)");
        args.push(Box::new(a.clone()));
        args.push(Box::new(a.clone()));
    }
    if let Some(st) = f.status {
        sql.push_str(" AND status = ?");
        args.push(Box::new(st.as_str()));
    }
    if let Some(from) = &f.from {
        let t = super::parse_time(from).ok_or_else(|| BadTime("from", from.clone()))?;
        sql.push_str(" AND created_at >= ?");
        args.push(Box::new(t));
    }
    if let Some(to) = &f.to {
        let t = super::parse_time(to).ok_or_else(|| BadTime("to", to.clone()))?;
        sql.push_str(" AND created_at <= ?");
        args.push(Box::new(t));
    }
    Ok((sql, args))
}

const COLUMNS: &str = "id, tool, action, agent_id, agent_name, store_id, mode, status, error_code, error,
    duration_ms, input, output, created_at";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Execution> {
    let input: String = r.get(11)?;
    let output: Option<String> = r.get(12)?;
    Ok(Execution {
        id: r.get(0)?,
        tool: r.get(1)?,
        action: r.get(2)?,
        agent_id: r.get(3)?,
        agent_name: r.get(4)?,
        store_id: r.get(5)?,
        mode: r.get(6)?,
        status: r.get(7)?,
        error_code: r.get(8)?,
        error: r.get(9)?,
        duration_ms: r.get(10)?,
        input: serde_json::from_str(&input).unwrap_or(serde_json::Value::String(input)),
        output: output.map(|o| serde_json::from_str(&o).unwrap_or(serde_json::Value::String(o))),
        created_at: rfc3339(r.get(13)?),
    })
}

/// Executions matching `f`, newest first, and the total count.
pub fn query(
    s: &Scoped<'_>,
    f: &ExecutionFilter,
    limit: i64,
    offset: i64,
) -> Result<Result<(Vec<Execution>, i64), BadTime>, rusqlite::Error> {
    let (clause, mut args) = match where_clause(s, f) {
        Ok(x) => x,
        Err(e) => return Ok(Err(e)),
    };
    let total: i64 = s.conn().query_row(
        &format!("SELECT count(*) FROM executions{clause}"),
        rusqlite::params_from_iter(args.iter()),
        |r| r.get(0),
    )?;
    args.push(Box::new(limit));
    args.push(Box::new(offset));
    let mut stmt = s.conn().prepare(&format!(
        "SELECT {COLUMNS} FROM executions{clause} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?"
    ))?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(args.iter()), row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Ok((rows, total)))
}

pub fn get(s: &Scoped<'_>, id: &str) -> rusqlite::Result<Option<Execution>> {
    s.conn()
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM executions WHERE store_id = ?1 AND mode = ?2 AND id = ?3"
        ))?
        .query_row(params![s.store(), s.mode(), id], row)
        .optional()
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Stats {
    pub total: i64,
    /// Share of executions with status success, 0.0–1.0 (null when there are none).
    pub success_rate: Option<f64>,
    pub avg_latency_ms: Option<f64>,
    pub p95_latency_ms: Option<i64>,
    pub executions_today: i64,
    pub unique_tools: i64,
    pub by_status: std::collections::BTreeMap<String, i64>,
}

/// Aggregates over the filtered executions; "today" is since midnight UTC.
pub fn stats(s: &Scoped<'_>, f: &ExecutionFilter) -> Result<Result<Stats, BadTime>, rusqlite::Error> {
    let (clause, args) = match where_clause(s, f) {
        Ok(x) => x,
        Err(e) => return Ok(Err(e)),
    };
    let midnight = {
        let now = super::now_ms();
        now - now.rem_euclid(86_400_000)
    };
    let conn = s.conn();
    let (total, ok, avg_us, today, tools): (i64, i64, Option<f64>, i64, i64) = conn.query_row(
        &format!(
            "SELECT count(*), coalesce(sum(status = 'success'), 0), avg(duration_us),
                    coalesce(sum(created_at >= {midnight}), 0),
                    count(DISTINCT CASE WHEN error_code IS NOT 'unknown_tool' THEN tool END)
               FROM executions{clause}"
        ),
        rusqlite::params_from_iter(args.iter()),
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
    )?;
    let p95: Option<i64> = if total > 0 {
        conn.query_row(
            &format!(
                "SELECT duration_ms FROM executions{clause} ORDER BY duration_us LIMIT 1 OFFSET {}",
                ((total as f64) * 0.95).floor().min((total - 1) as f64) as i64
            ),
            rusqlite::params_from_iter(args.iter()),
            |r| r.get(0),
        )
        .optional()?
    } else {
        None
    };
    let mut by_status = std::collections::BTreeMap::new();
    let mut stmt = conn.prepare(&format!(
        "SELECT status, count(*) FROM executions{clause} GROUP BY status"
    ))?;
    let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
    })?;
    for r in rows {
        let (k, v) = r?;
        by_status.insert(k, v);
    }
    Ok(Ok(Stats {
        total,
        success_rate: (total > 0).then(|| ok as f64 / total as f64),
        avg_latency_ms: avg_us.map(|us| (us / 10.0).round() / 100.0),
        p95_latency_ms: p95,
        executions_today: today,
        unique_tools: tools,
        by_status,
    }))
}
