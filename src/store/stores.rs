//! The stores themselves and local preferences (`whale stores use`).

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::rfc3339;

#[derive(Debug, Clone, Serialize)]
pub struct StoreRow {
    pub id: String,
    pub name: String,
    pub currency: String,
    pub timezone: String,
    pub created_at: String,
}

pub fn list(conn: &Connection) -> rusqlite::Result<Vec<StoreRow>> {
    let mut stmt = conn.prepare("SELECT id, name, currency, timezone, created_at FROM stores ORDER BY id")?;
    let rows = stmt.query_map([], |r| {
        Ok(StoreRow {
            id: r.get(0)?,
            name: r.get(1)?,
            currency: r.get(2)?,
            timezone: r.get(3)?,
            created_at: rfc3339(r.get(4)?),
        })
    })?;
    rows.collect()
}

pub fn exists(conn: &Connection, id: &str) -> rusqlite::Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM stores WHERE id = ?1")?
        .query_row([id], |_| Ok(()))
        .optional()?
        .is_some())
}

pub fn preference(conn: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT value FROM preferences WHERE key = ?1", [key], |r| {
        r.get(0)
    })
    .optional()
}

pub fn set_preference(conn: &Connection, key: &str, value: &str) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO preferences (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}
