//! API keys and agents. A key row holds a hash, never the key.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::{Mode, new_id, now_ms, rfc3339};

#[derive(Debug, Clone, Serialize)]
pub struct KeyRow {
    pub id: String,
    pub store_id: String,
    pub mode: Mode,
    pub agent_id: String,
    pub agent_name: String,
    pub hint: String,
    pub scopes: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub replaced_by: Option<String>,
    /// Requests per minute in HTTP mode; None = the server default.
    pub rate_limit_per_min: Option<i64>,
}

impl KeyRow {
    pub fn status(&self, now: i64) -> &'static str {
        match (self.revoked_at, self.expires_at) {
            (Some(r), _) if r <= now => "revoked",
            (_, Some(e)) if e <= now => "expired",
            (Some(_), _) => "rotating",
            _ => "active",
        }
    }
    pub fn to_json(&self, now: i64) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "store_id": self.store_id,
            "mode": self.mode,
            "agent": self.agent_name,
            "agent_id": self.agent_id,
            "hint": self.hint,
            "scopes": self.scopes,
            "status": self.status(now),
            "created_at": rfc3339(self.created_at),
            "expires_at": self.expires_at.map(rfc3339),
            "last_used_at": self.last_used_at.map(rfc3339),
            "revoked_at": self.revoked_at.map(rfc3339),
            "replaced_by": self.replaced_by,
            "rate_limit_per_min": self.rate_limit_per_min,
        })
    }
}

const SELECT: &str = "SELECT k.id, k.store_id, k.mode, k.agent_id, a.name, k.hint, k.scopes, k.created_at,
        k.expires_at, k.last_used_at, k.revoked_at, k.replaced_by, k.rate_limit_per_min
   FROM api_keys k JOIN agents a ON a.id = k.agent_id";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<KeyRow> {
    let mode: String = r.get(2)?;
    Ok(KeyRow {
        id: r.get(0)?,
        store_id: r.get(1)?,
        mode: Mode::parse(&mode).unwrap_or(Mode::Test),
        agent_id: r.get(3)?,
        agent_name: r.get(4)?,
        hint: r.get(5)?,
        scopes: r.get(6)?,
        created_at: r.get(7)?,
        expires_at: r.get(8)?,
        last_used_at: r.get(9)?,
        revoked_at: r.get(10)?,
        replaced_by: r.get(11)?,
        rate_limit_per_min: r.get(12)?,
    })
}

/// The agent of API keys named `name` in `store`, created on first use.
/// OAuth clients' agents are never found by name: see [`ensure_client_agent`].
pub fn ensure_agent(conn: &Connection, store_id: &str, name: &str) -> rusqlite::Result<String> {
    if let Some(id) = conn
        .prepare_cached("SELECT id FROM agents WHERE store_id = ?1 AND name = ?2 AND client_id IS NULL")?
        .query_row(params![store_id, name], |r| r.get(0))
        .optional()?
    {
        return Ok(id);
    }
    let id = new_id("agt");
    conn.execute(
        "INSERT INTO agents (id, store_id, name, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![id, store_id, name, now_ms()],
    )?;
    Ok(id)
}

/// The agent of OAuth client `client_id` in `store`, created on first use:
/// one of its own, keyed by the client id. A client names itself (anyone may
/// register), so its name may be that of a key's agent or of another client;
/// it must not take their place in the audit trail. The agent's name follows
/// the client's (a metadata document may rename it).
pub fn ensure_client_agent(
    conn: &Connection,
    store_id: &str,
    client_id: &str,
    name: &str,
) -> rusqlite::Result<String> {
    let found: Option<(String, String)> = conn
        .prepare_cached("SELECT id, name FROM agents WHERE store_id = ?1 AND client_id = ?2")?
        .query_row(params![store_id, client_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    if let Some((id, known)) = found {
        if known != name {
            conn.execute("UPDATE agents SET name = ?2 WHERE id = ?1", params![id, name])?;
        }
        return Ok(id);
    }
    let id = new_id("agt");
    conn.execute(
        "INSERT INTO agents (id, store_id, name, client_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id, store_id, name, client_id, now_ms()],
    )?;
    Ok(id)
}

pub struct NewKey<'a> {
    pub store_id: &'a str,
    pub mode: Mode,
    pub agent_name: &'a str,
    pub scopes: &'a str,
    pub hint: &'a str,
    pub hash: &'a [u8],
    pub expires_at: Option<i64>,
    pub rate_limit_per_min: Option<i64>,
}

pub fn insert(conn: &Connection, k: &NewKey<'_>) -> rusqlite::Result<String> {
    let agent_id = ensure_agent(conn, k.store_id, k.agent_name)?;
    let id = new_id("key");
    conn.execute(
        "INSERT INTO api_keys (id, store_id, mode, agent_id, hint, key_hash, scopes, created_at, expires_at,
            rate_limit_per_min)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            id,
            k.store_id,
            k.mode.as_str(),
            agent_id,
            k.hint,
            k.hash,
            k.scopes,
            now_ms(),
            k.expires_at,
            k.rate_limit_per_min
        ],
    )?;
    Ok(id)
}

pub fn by_hash(conn: &Connection, hash: &[u8]) -> rusqlite::Result<Option<KeyRow>> {
    conn.prepare_cached(&format!("{SELECT} WHERE k.key_hash = ?1"))?
        .query_row([hash], row)
        .optional()
}

pub fn get(conn: &Connection, store_id: &str, id: &str) -> rusqlite::Result<Option<KeyRow>> {
    conn.prepare_cached(&format!("{SELECT} WHERE k.store_id = ?1 AND k.id = ?2"))?
        .query_row(params![store_id, id], row)
        .optional()
}

pub fn list(conn: &Connection, store_id: &str, include_revoked: bool) -> rusqlite::Result<Vec<KeyRow>> {
    let now = now_ms();
    let mut stmt = conn.prepare_cached(&format!(
        "{SELECT} WHERE k.store_id = ?1 AND (?2 OR k.revoked_at IS NULL OR k.revoked_at > ?3)
         ORDER BY k.created_at, k.id"
    ))?;
    let rows = stmt.query_map(params![store_id, include_revoked, now], row)?;
    rows.collect()
}

/// Marks a key revoked at `at` (now, or later for a rotation grace period).
pub fn revoke(conn: &Connection, id: &str, at: i64, replaced_by: Option<&str>) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE api_keys SET revoked_at = ?2, replaced_by = COALESCE(?3, replaced_by)
          WHERE id = ?1 AND (revoked_at IS NULL OR revoked_at > ?2)",
        params![id, at, replaced_by],
    )
}

/// Undoes a rotation whose new key nobody received: the new key is revoked
/// now and the old one gets back the revocation time it had (`revoked_at`)
/// and no replacement — unless something else has changed it since.
pub fn undo_rotation(
    conn: &Connection,
    old_id: &str,
    revoked_at: Option<i64>,
    new_id: &str,
) -> rusqlite::Result<()> {
    revoke(conn, new_id, now_ms(), None)?;
    conn.execute(
        "UPDATE api_keys SET revoked_at = ?2, replaced_by = NULL WHERE id = ?1 AND replaced_by = ?3",
        params![old_id, revoked_at, new_id],
    )?;
    Ok(())
}

pub fn touch(conn: &Connection, id: &str, at: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE api_keys SET last_used_at = max(coalesce(last_used_at, 0), ?2) WHERE id = ?1",
    )?
    .execute(params![id, at])?;
    Ok(())
}
