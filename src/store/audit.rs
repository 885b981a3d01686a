//! Execution records (the audit trail, SPEC §6).

use rusqlite::types::ToSqlOutput;
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

/// Inserts one row (a write's own row, in its transaction).
pub fn insert(conn: &Connection, r: &ExecutionRow) -> rusqlite::Result<()> {
    conn.prepare_cached(single_sql())?
        .execute(rusqlite::params_from_iter(values(r)?))?;
    Ok(())
}

/// Rows per `INSERT` statement in [`insert_all`]. One statement per row
/// repeats the statement's fixed work (reset, schema check, opening the
/// table's and its three indexes' cursors) for every row; 8 rows per
/// statement measured 40% less CPU per row (3.1 against 4.6–5.7 µs, 200k
/// rows in batches of 128), 32 no better than 8.
const ROWS_PER_INSERT: usize = 8;
/// Values per row, in the order of [`INSERT_INTO`].
const ROW_COLUMNS: usize = 15;

const INSERT_INTO: &str = "INSERT INTO executions (id, store_id, mode, tool, action, agent_id, \
    agent_name, status, error_code, error, duration_ms, duration_us, input, output, created_at) VALUES ";
const ROW_VALUES: &str = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

/// Inserts `rows` (the audit writer's batches): groups of
/// [`ROWS_PER_INSERT`] through one multi-row statement, the rest one by
/// one; both statements are prepared once per connection.
pub fn insert_all<'a>(
    conn: &Connection,
    rows: impl IntoIterator<Item = &'a ExecutionRow>,
) -> rusqlite::Result<()> {
    let mut rows = rows.into_iter();
    let mut group = Vec::with_capacity(ROWS_PER_INSERT * ROW_COLUMNS);
    loop {
        for r in rows.by_ref().take(ROWS_PER_INSERT) {
            group.extend(values(r)?);
        }
        if group.len() < ROWS_PER_INSERT * ROW_COLUMNS {
            break;
        }
        conn.prepare_cached(grouped_sql())?
            .execute(rusqlite::params_from_iter(group.drain(..)))?;
    }
    if !group.is_empty() {
        let mut stmt = conn.prepare_cached(single_sql())?;
        for row in group.chunks(ROW_COLUMNS) {
            stmt.execute(rusqlite::params_from_iter(row))?;
        }
    }
    Ok(())
}

fn single_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| format!("{INSERT_INTO}{ROW_VALUES}"))
}

fn grouped_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| format!("{INSERT_INTO}{}", [ROW_VALUES; ROWS_PER_INSERT].join(", ")))
}

/// One row's values, in the column order of [`INSERT_INTO`] (borrowed,
/// not copied, until SQLite binds them).
fn values(r: &ExecutionRow) -> rusqlite::Result<[ToSqlOutput<'_>; ROW_COLUMNS]> {
    Ok([
        r.id.to_sql()?,
        r.store_id.to_sql()?,
        r.mode.to_sql()?,
        r.tool.to_sql()?,
        r.action.to_sql()?,
        r.agent_id.to_sql()?,
        r.agent_name.to_sql()?,
        r.status.to_sql()?,
        r.error_code.to_sql()?,
        r.error.to_sql()?,
        ToSqlOutput::from(r.duration_us / 1000),
        r.duration_us.to_sql()?,
        r.input.to_sql()?,
        r.output.to_sql()?,
        r.created_at.to_sql()?,
    ])
}

// The shape of SPEC §6.
/// One tool execution: who called what, with which input, and the outcome.
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
    /// The call's input as received, secrets redacted: any JSON value (in a
    /// list, one over 2 KB is `{"whale/truncated": {"bytes", "start"}}`).
    pub input: serde_json::Value,
    /// The result the caller got (any JSON value, secrets redacted); null when the call failed.
    /// A read of the audit trail is recorded with the ids of the executions it returned; in a
    /// list, an output over 2 KB is `{"whale/truncated": {"bytes", "start"}}`.
    pub output: Option<serde_json::Value>,
    pub created_at: String,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecutionFilter {
    /// Only executions of this tool (`orders`), or of one action
    /// (`orders.create_order` or `orders_create_order`). A name that is
    /// neither, and that no execution has, is refused.
    #[schemars(length(max = MAX_TOOL_FILTER))]
    pub tool: Option<String>,
    /// Only executions by this agent (name or id).
    pub agent: Option<String>,
    /// Only executions with this status.
    pub status: Option<ExecStatus>,
    /// Earliest time: RFC 3339, a date (YYYY-MM-DD, from the start of that
    /// day in the store's time zone), a time of the store's clock
    /// (YYYY-MM-DDTHH:MM), or an age like 24h / 7d.
    pub from: Option<String>,
    /// Latest time (same forms as `from`; a date includes that whole day).
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

pub use super::BadTime;

const MAX_TOOL_SPLITS: usize = 3;
/// The longest tool filter, in characters (tool and action names are short).
pub const MAX_TOOL_FILTER: usize = 100;

type Clause = (String, Vec<Box<dyn ToSql>>);

/// The WHERE clause of a filter, or the bound that does not parse; `tz` is
/// the store's time zone when the caller has it already.
fn where_clause(
    s: &Scoped<'_>,
    f: &ExecutionFilter,
    tz: Option<&jiff::tz::TimeZone>,
) -> rusqlite::Result<Result<Clause, BadTime>> {
    let mut sql = String::from(" WHERE store_id = ? AND mode = ?");
    let mut args: Vec<Box<dyn ToSql>> = vec![Box::new(s.store().to_string()), Box::new(s.mode())];
    if let Some(t) = &f.tool {
        // `orders`, `orders.create_order`, or the flat `orders_create_order`
        // (tried at each `_`: one indexed equality per reading), in any case:
        // every audited name is a registry name, all lower case.
        let t = &t.trim().to_ascii_lowercase();
        if let Some((tool, action)) = t.split_once('.') {
            sql.push_str(" AND tool = ? AND action = ?");
            args.push(Box::new(tool.to_string()));
            args.push(Box::new(action.to_string()));
        } else {
            sql.push_str(" AND (tool = ?");
            args.push(Box::new(t.clone()));
            // Tool names hold at most one `_` (audit_trail): a few splits
            // cover every real name and bound the work of a long filter.
            for (i, _) in t.match_indices('_').take(MAX_TOOL_SPLITS) {
                sql.push_str(" OR (tool = ? AND action = ?)");
                args.push(Box::new(t[..i].to_string()));
                args.push(Box::new(t[i + 1..].to_string()));
            }
            sql.push(')');
        }
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
    let (from, to) = match super::parse_bounds(s, f.from.as_deref(), f.to.as_deref(), tz)? {
        Ok(b) => b,
        Err(e) => return Ok(Err(e)),
    };
    if let Some(t) = from {
        sql.push_str(" AND created_at >= ?");
        args.push(Box::new(t));
    }
    if let Some(t) = to {
        sql.push_str(" AND created_at <= ?");
        args.push(Box::new(t));
    }
    Ok(Ok((sql, args)))
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
/// A page of the filtered executions, newest first, and how many there are.
/// With `before` (an execution id of this store and mode, checked by the
/// caller with [`get`]), only those listed after it: pages that stay put
/// while new calls — the paging agent's own included — arrive at the top.
pub fn query(
    s: &Scoped<'_>,
    f: &ExecutionFilter,
    before: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<Result<(Vec<Execution>, i64), BadTime>, rusqlite::Error> {
    let (mut clause, mut args) = match where_clause(s, f, None)? {
        Ok(x) => x,
        Err(e) => return Ok(Err(e)),
    };
    if let Some(id) = before {
        clause.push_str(
            " AND (created_at, rowid) < (SELECT created_at, rowid FROM executions WHERE store_id = ? AND mode = ? AND id = ?)",
        );
        args.push(Box::new(s.store().to_string()));
        args.push(Box::new(s.mode()));
        args.push(Box::new(id.to_string()));
    }
    let total: i64 = s.conn().query_row(
        &format!("SELECT count(*) FROM executions{clause}"),
        rusqlite::params_from_iter(args.iter()),
        |r| r.get(0),
    )?;
    args.push(Box::new(limit));
    args.push(Box::new(offset));
    let mut stmt = s.conn().prepare(&format!(
        // Ties of the millisecond in the order the rows were written (ids
        // are random within it): a row written later never sorts after
        // a `before` cursor it started in the same millisecond as. The
        // indexes end in the rowid, so this order needs no sort.
        "SELECT {COLUMNS} FROM executions{clause} ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?"
    ))?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(args.iter()), row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Ok((rows, total)))
}

/// The agents of this store by name (sorted, at most `max`, after the
/// local owner), when `agent` (a name or id) is none of them and has no
/// execution here either; `None` when it is known. (An external
/// authorization server's agents are known only by their executions.)
pub fn unknown_agent(s: &Scoped<'_>, agent: &str, max: usize) -> rusqlite::Result<Option<Vec<String>>> {
    let conn = s.conn();
    let known = agent == crate::auth::LOCAL_OWNER
        || conn
            .prepare_cached("SELECT 1 FROM agents WHERE store_id = ?1 AND (name = ?2 OR id = ?2)")?
            .exists(params![s.store(), agent])?
        || conn
            .prepare_cached(
                "SELECT 1 FROM executions WHERE store_id = ?1 AND mode = ?2 AND (agent_name = ?3 OR agent_id = ?3)",
            )?
            .exists(params![s.store(), s.mode(), agent])?;
    if known {
        return Ok(None);
    }
    let mut names: Vec<String> = conn
        .prepare_cached("SELECT DISTINCT name FROM agents WHERE store_id = ?1 ORDER BY name LIMIT ?2")?
        .query_map(params![s.store(), max as i64], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    names.insert(0, crate::auth::LOCAL_OWNER.to_string());
    Ok(Some(names))
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
    /// The latency 95% of the executions were within (µs precision, like the average).
    pub p95_latency_ms: Option<f64>,
    /// Executions since `today_starts_at`.
    pub executions_today: i64,
    /// Midnight of today in the store's time zone (RFC 3339 with its offset).
    pub today_starts_at: String,
    pub unique_tools: i64,
    pub by_status: std::collections::BTreeMap<String, i64>,
}

/// Microseconds as milliseconds rounded to two decimals.
fn us_to_ms(us: f64) -> f64 {
    (us / 10.0).round() / 100.0
}

/// Aggregates over the filtered executions; "today" is since midnight in
/// the store's time zone.
pub fn stats(s: &Scoped<'_>, f: &ExecutionFilter) -> Result<Result<Stats, BadTime>, rusqlite::Error> {
    let tz = super::settings::time_zone(s)?;
    let (clause, args) = match where_clause(s, f, Some(&tz))? {
        Ok(x) => x,
        Err(e) => return Ok(Err(e)),
    };
    let (midnight, today_starts_at) = super::start_of_today(&tz);
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
    let p95_us: Option<i64> = if total > 0 {
        conn.query_row(
            &format!(
                "SELECT duration_us FROM executions{clause} ORDER BY duration_us LIMIT 1 OFFSET {}",
                // Nearest rank: the smallest value with at least 95% of
                // the executions at or below it.
                ((total as f64) * 0.95).ceil() as i64 - 1
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
        avg_latency_ms: avg_us.map(us_to_ms),
        p95_latency_ms: p95_us.map(|us| us_to_ms(us as f64)),
        executions_today: today,
        today_starts_at,
        unique_tools: tools,
        by_status,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::types::Value;

    /// Every column of the test's rows, in the order of [`INSERT_INTO`].
    fn stored(conn: &Connection) -> Vec<Vec<Value>> {
        conn.prepare(
            "SELECT id, store_id, mode, tool, action, agent_id, agent_name, status, error_code,
                error, duration_ms, duration_us, input, output, created_at
             FROM executions WHERE agent_name = 'insert-test' ORDER BY rowid",
        )
        .unwrap()
        .query_map([], |r| (0..ROW_COLUMNS).map(|i| r.get(i)).collect())
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    }

    /// Batches of every length around the statement's group size store
    /// every row, in order, with each column where it belongs.
    #[test]
    fn insert_all_stores_every_row_of_grouped_and_leftover_statements() {
        let dir = std::env::temp_dir().join(crate::store::new_id("whale-test"));
        let db = crate::store::Db::open(&dir.join("w.db")).unwrap();
        let conn = db.conn().unwrap();
        let make = |i: usize| ExecutionRow {
            id: format!("exec_test{i:04}"),
            store_id: "demo".into(),
            mode: if i.is_multiple_of(2) { "live" } else { "test" },
            tool: "store".into(),
            action: (!i.is_multiple_of(3)).then(|| format!("action{i}")),
            agent_id: i.is_multiple_of(4).then(|| format!("key_{i}")),
            agent_name: "insert-test".into(),
            status: if i.is_multiple_of(5) { "error" } else { "success" },
            error_code: i.is_multiple_of(5).then_some("invalid_input"),
            error: i.is_multiple_of(5).then(|| format!("error {i}")),
            duration_us: 1_000 * i as i64 + 7,
            input: format!("{{\"i\":{i}}}"),
            output: (!i.is_multiple_of(5)).then(|| format!("{{\"out\":{i}}}")),
            created_at: 1_700_000_000_000 + i as i64,
        };
        let mut next = 0;
        let mut expected = Vec::new();
        for len in [
            0,
            1,
            ROWS_PER_INSERT - 1,
            ROWS_PER_INSERT,
            ROWS_PER_INSERT + 1,
            3 * ROWS_PER_INSERT + 5,
        ] {
            let rows: Vec<ExecutionRow> = (next..next + len).map(make).collect();
            next += len;
            insert_all(&conn, &rows).unwrap();
            // Built from the fields, not through `values`, so a value bound
            // to the wrong column fails here.
            let text = |v: &str| Value::Text(v.to_string());
            let opt = |v: Option<&str>| v.map_or(Value::Null, text);
            expected.extend(rows.iter().map(|r| {
                vec![
                    text(&r.id),
                    text(&r.store_id),
                    text(r.mode),
                    text(&r.tool),
                    opt(r.action.as_deref()),
                    opt(r.agent_id.as_deref()),
                    text(&r.agent_name),
                    text(r.status),
                    opt(r.error_code),
                    opt(r.error.as_deref()),
                    Value::Integer(r.duration_us / 1000),
                    Value::Integer(r.duration_us),
                    text(&r.input),
                    opt(r.output.as_deref()),
                    Value::Integer(r.created_at),
                ]
            }));
            assert_eq!(stored(&conn), expected, "after a batch of {len}");
        }
        drop(conn);
        drop(db);
        let _ = std::fs::remove_dir_all(dir);
    }
}
