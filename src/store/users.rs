//! People who sign in on the authorization page, and the stores they belong to.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::{new_id, now_ms, rfc3339};

#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub name: String,
    pub stores: Vec<String>,
    pub created_at: String,
    pub password_changed_at: String,
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<UserRow> {
    Ok(UserRow {
        id: r.get(0)?,
        email: r.get(1)?,
        name: r.get(2)?,
        password_hash: r.get(3)?,
        created_at: r.get(4)?,
        updated_at: r.get(5)?,
    })
}

const SELECT: &str = "SELECT id, email, name, password_hash, created_at, updated_at FROM users";

pub fn by_email(conn: &Connection, email: &str) -> rusqlite::Result<Option<UserRow>> {
    conn.prepare_cached(&format!("{SELECT} WHERE email = ?1"))?
        .query_row([email], row)
        .optional()
}

pub fn insert(conn: &Connection, email: &str, name: &str, password_hash: &str) -> rusqlite::Result<String> {
    let id = new_id("usr");
    let now = now_ms();
    conn.execute(
        "INSERT INTO users (id, email, name, password_hash, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
        params![id, email, name, password_hash, now],
    )?;
    Ok(id)
}

pub fn set_password(conn: &Connection, user_id: &str, password_hash: &str) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE users SET password_hash = ?2, updated_at = ?3 WHERE id = ?1",
        params![user_id, password_hash, now_ms()],
    )
}

/// Adds `user_id` to `store_id` (no-op when already a member).
pub fn add_member(conn: &Connection, store_id: &str, user_id: &str) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "INSERT OR IGNORE INTO store_members (store_id, user_id, created_at) VALUES (?1, ?2, ?3)",
        params![store_id, user_id, now_ms()],
    )? == 1)
}

/// Removes `user_id` from `store_id` and ends what they granted there:
/// every token their consents issued for the store is revoked and their
/// codes not yet exchanged are spent (membership is checked when a person
/// signs in, at consent and whenever a token is issued). Whether they were
/// a member, and how many working tokens were revoked.
pub fn remove_member(conn: &Connection, store_id: &str, user_id: &str) -> rusqlite::Result<(bool, usize)> {
    let now = now_ms();
    let removed = conn.execute(
        "DELETE FROM store_members WHERE store_id = ?1 AND user_id = ?2",
        params![store_id, user_id],
    )? == 1;
    conn.execute(
        "UPDATE oauth_codes SET used_at = ?3 WHERE store_id = ?1 AND user_id = ?2 AND used_at IS NULL",
        params![store_id, user_id, now],
    )?;
    // Counted: the tokens that still worked (not the spent refresh tokens
    // of every rotation, nor expired access tokens).
    let live: i64 = conn.query_row(
        "SELECT count(*) FROM oauth_tokens
          WHERE store_id = ?1 AND user_id = ?2 AND revoked_at IS NULL AND used_at IS NULL AND expires_at > ?3",
        params![store_id, user_id, now],
        |r| r.get(0),
    )?;
    conn.execute(
        "UPDATE oauth_tokens SET revoked_at = ?3 WHERE store_id = ?1 AND user_id = ?2 AND revoked_at IS NULL",
        params![store_id, user_id, now],
    )?;
    Ok((removed, usize::try_from(live).unwrap_or(0)))
}

/// Whether `user_id` may (still) grant access to `store_id`.
pub fn is_member(conn: &Connection, store_id: &str, user_id: &str) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT 1 FROM store_members WHERE store_id = ?1 AND user_id = ?2")?
        .exists(params![store_id, user_id])
}

/// The stores a user may grant access to, by id.
pub fn stores_of(conn: &Connection, user_id: &str) -> rusqlite::Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT s.id, s.name FROM store_members m JOIN stores s ON s.id = m.store_id
          WHERE m.user_id = ?1 ORDER BY s.id",
    )?;
    let rows = stmt.query_map([user_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

pub fn list(conn: &Connection) -> rusqlite::Result<Vec<UserView>> {
    let users: Vec<UserRow> = {
        let mut stmt = conn.prepare_cached(&format!("{SELECT} ORDER BY email"))?;
        stmt.query_map([], row)?.collect::<rusqlite::Result<_>>()?
    };
    users
        .into_iter()
        .map(|u| {
            Ok(UserView {
                stores: stores_of(conn, &u.id)?.into_iter().map(|(id, _)| id).collect(),
                created_at: rfc3339(u.created_at),
                password_changed_at: rfc3339(u.updated_at),
                id: u.id,
                email: u.email,
                name: u.name,
            })
        })
        .collect()
}
