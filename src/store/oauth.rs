//! Rows of the embedded authorization server: clients, authorization codes
//! and tokens. Codes, tokens and client secrets are stored as SHA-256
//! hashes only.

use rusqlite::{Connection, OptionalExtension, params};

use super::{Mode, new_id, now_ms};

#[derive(Debug, Clone)]
pub struct ClientRow {
    pub id: String,
    pub kind: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub auth_method: String,
    pub secret_hash: Option<Vec<u8>>,
    pub store_id: Option<String>,
    pub mode: Option<Mode>,
    pub scopes: Option<String>,
    pub created_at: i64,
    pub fetched_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl ClientRow {
    pub fn is_public(&self) -> bool {
        self.auth_method == "none"
    }
    pub fn allows_grant(&self, grant: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant)
    }
}

const CLIENT_SELECT: &str = "SELECT id, kind, name, redirect_uris, grant_types, auth_method, secret_hash,
        store_id, mode, scopes, created_at, fetched_at, revoked_at FROM oauth_clients";

fn client_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ClientRow> {
    let uris: String = r.get(3)?;
    let grants: String = r.get(4)?;
    let mode: Option<String> = r.get(8)?;
    Ok(ClientRow {
        id: r.get(0)?,
        kind: r.get(1)?,
        name: r.get(2)?,
        redirect_uris: serde_json::from_str(&uris).unwrap_or_default(),
        grant_types: serde_json::from_str(&grants).unwrap_or_default(),
        auth_method: r.get(5)?,
        secret_hash: r.get(6)?,
        store_id: r.get(7)?,
        mode: mode.as_deref().and_then(Mode::parse),
        scopes: r.get(9)?,
        created_at: r.get(10)?,
        fetched_at: r.get(11)?,
        revoked_at: r.get(12)?,
    })
}

pub fn client(conn: &Connection, id: &str) -> rusqlite::Result<Option<ClientRow>> {
    conn.prepare_cached(&format!("{CLIENT_SELECT} WHERE id = ?1"))?
        .query_row([id], client_row)
        .optional()
}

pub fn clients(conn: &Connection) -> rusqlite::Result<Vec<ClientRow>> {
    let mut stmt = conn.prepare_cached(&format!("{CLIENT_SELECT} ORDER BY created_at, id"))?;
    let rows = stmt.query_map([], client_row)?;
    rows.collect()
}

pub struct NewClient<'a> {
    pub id: &'a str,
    pub kind: &'a str,
    pub name: &'a str,
    pub redirect_uris: &'a [String],
    pub grant_types: &'a [String],
    pub auth_method: &'a str,
    pub secret_hash: Option<&'a [u8]>,
    pub store_id: Option<&'a str>,
    pub mode: Option<Mode>,
    pub scopes: Option<&'a str>,
    pub metadata: &'a str,
}

/// Removes the dynamically registered clients created before `before` that
/// never took part in a sign-in (no code, token or agent names them).
/// Registration is open to anyone, so abandoned ones would pile up in
/// `whale clients list`; one that was ever used stays (its grants and audit
/// rows name it).
pub fn prune_unused_dynamic_clients(conn: &Connection, before: i64) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "DELETE FROM oauth_clients
          WHERE kind = 'dynamic' AND created_at < ?1
            AND NOT EXISTS (SELECT 1 FROM oauth_codes c WHERE c.client_id = oauth_clients.id)
            AND NOT EXISTS (SELECT 1 FROM oauth_tokens t WHERE t.client_id = oauth_clients.id)
            AND NOT EXISTS (SELECT 1 FROM agents a WHERE a.client_id = oauth_clients.id)",
    )?
    .execute([before])
}

/// Inserts a client, or (for a metadata-document client fetched again)
/// replaces its registration.
pub fn upsert_client(conn: &Connection, c: &NewClient<'_>) -> rusqlite::Result<()> {
    let now = now_ms();
    conn.execute(
        "INSERT INTO oauth_clients (id, kind, name, redirect_uris, grant_types, auth_method, secret_hash,
            store_id, mode, scopes, metadata, created_at, fetched_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)
         ON CONFLICT(id) DO UPDATE SET name = excluded.name, redirect_uris = excluded.redirect_uris,
            grant_types = excluded.grant_types, auth_method = excluded.auth_method,
            metadata = excluded.metadata, fetched_at = excluded.fetched_at",
        params![
            c.id,
            c.kind,
            c.name,
            serde_json::to_string(c.redirect_uris).unwrap_or_else(|_| "[]".into()),
            serde_json::to_string(c.grant_types).unwrap_or_else(|_| "[]".into()),
            c.auth_method,
            c.secret_hash,
            c.store_id,
            c.mode.map(Mode::as_str),
            c.scopes,
            c.metadata,
            now
        ],
    )?;
    Ok(())
}

/// Revokes a client and every token issued to it.
pub fn revoke_client(conn: &Connection, id: &str) -> rusqlite::Result<bool> {
    let now = now_ms();
    let n = conn.execute(
        "UPDATE oauth_clients SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
        params![id, now],
    )?;
    conn.execute(
        "UPDATE oauth_tokens SET revoked_at = ?2 WHERE client_id = ?1 AND revoked_at IS NULL",
        params![id, now],
    )?;
    Ok(n == 1)
}

#[derive(Debug, Clone)]
pub struct CodeRow {
    pub grant_id: String,
    pub client_id: String,
    pub user_id: String,
    pub store_id: String,
    pub mode: Mode,
    pub scopes: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub resource: String,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

pub fn insert_code(conn: &Connection, hash: &[u8], c: &CodeRow) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO oauth_codes (code_hash, grant_id, client_id, user_id, store_id, mode, scopes,
            redirect_uri, code_challenge, resource, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        params![
            hash,
            c.grant_id,
            c.client_id,
            c.user_id,
            c.store_id,
            c.mode.as_str(),
            c.scopes,
            c.redirect_uri,
            c.code_challenge,
            c.resource,
            now_ms(),
            c.expires_at
        ],
    )?;
    Ok(())
}

pub fn code(conn: &Connection, hash: &[u8]) -> rusqlite::Result<Option<CodeRow>> {
    conn.prepare_cached(
        "SELECT grant_id, client_id, user_id, store_id, mode, scopes, redirect_uri, code_challenge,
                resource, expires_at, used_at
           FROM oauth_codes WHERE code_hash = ?1",
    )?
    .query_row([hash], |r| {
        let mode: String = r.get(4)?;
        Ok(CodeRow {
            grant_id: r.get(0)?,
            client_id: r.get(1)?,
            user_id: r.get(2)?,
            store_id: r.get(3)?,
            mode: Mode::parse(&mode).unwrap_or(Mode::Test),
            scopes: r.get(5)?,
            redirect_uri: r.get(6)?,
            code_challenge: r.get(7)?,
            resource: r.get(8)?,
            expires_at: r.get(9)?,
            used_at: r.get(10)?,
        })
    })
    .optional()
}

/// Marks a code used; false when it already was (a replay).
pub fn use_code(conn: &Connection, hash: &[u8]) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "UPDATE oauth_codes SET used_at = ?2 WHERE code_hash = ?1 AND used_at IS NULL",
        params![hash, now_ms()],
    )? == 1)
}

#[derive(Debug, Clone)]
pub struct TokenRow {
    pub id: String,
    pub kind: String,
    pub grant_id: String,
    pub client_id: String,
    pub client_name: String,
    pub agent_id: String,
    pub user_id: Option<String>,
    pub store_id: String,
    pub mode: Mode,
    pub scopes: String,
    pub audience: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl TokenRow {
    /// Neither revoked, expired, nor (a refresh token) already rotated:
    /// what RFC 7662 §2.2 calls active.
    pub fn active(&self, now: i64) -> bool {
        self.revoked_at.is_none() && self.used_at.is_none() && self.expires_at > now
    }
}

pub fn token(conn: &Connection, hash: &[u8]) -> rusqlite::Result<Option<TokenRow>> {
    conn.prepare_cached(
        "SELECT t.id, t.kind, t.grant_id, t.client_id, a.name, t.agent_id, t.user_id, t.store_id, t.mode,
                t.scopes, t.audience, t.created_at, t.expires_at, t.used_at, t.revoked_at
           FROM oauth_tokens t JOIN agents a ON a.id = t.agent_id WHERE t.token_hash = ?1",
    )?
    .query_row([hash], |r| {
        let mode: String = r.get(8)?;
        Ok(TokenRow {
            id: r.get(0)?,
            kind: r.get(1)?,
            grant_id: r.get(2)?,
            client_id: r.get(3)?,
            client_name: r.get(4)?,
            agent_id: r.get(5)?,
            user_id: r.get(6)?,
            store_id: r.get(7)?,
            mode: Mode::parse(&mode).unwrap_or(Mode::Test),
            scopes: r.get(9)?,
            audience: r.get(10)?,
            created_at: r.get(11)?,
            expires_at: r.get(12)?,
            used_at: r.get(13)?,
            revoked_at: r.get(14)?,
        })
    })
    .optional()
}

pub struct NewToken<'a> {
    pub hash: &'a [u8],
    pub kind: &'a str,
    pub grant_id: &'a str,
    pub client_id: &'a str,
    pub agent_id: &'a str,
    pub user_id: Option<&'a str>,
    pub store_id: &'a str,
    pub mode: Mode,
    pub scopes: &'a str,
    pub audience: &'a str,
    pub expires_at: i64,
}

pub fn insert_token(conn: &Connection, t: &NewToken<'_>) -> rusqlite::Result<String> {
    let id = new_id(if t.kind == "access" { "tok" } else { "rtk" });
    conn.execute(
        "INSERT INTO oauth_tokens (id, token_hash, kind, grant_id, client_id, agent_id, user_id, store_id,
            mode, scopes, audience, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        params![
            id,
            t.hash,
            t.kind,
            t.grant_id,
            t.client_id,
            t.agent_id,
            t.user_id,
            t.store_id,
            t.mode.as_str(),
            t.scopes,
            t.audience,
            now_ms(),
            t.expires_at
        ],
    )?;
    Ok(id)
}

/// Marks a refresh token used (rotated); false when it already was.
pub fn use_refresh(conn: &Connection, id: &str) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "UPDATE oauth_tokens SET used_at = ?2 WHERE id = ?1 AND used_at IS NULL AND revoked_at IS NULL",
        params![id, now_ms()],
    )? == 1)
}

/// Revokes every token of a grant (code replay, refresh-token reuse,
/// revocation of a refresh token).
pub fn revoke_grant(conn: &Connection, grant_id: &str) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE oauth_tokens SET revoked_at = ?2 WHERE grant_id = ?1 AND revoked_at IS NULL",
        params![grant_id, now_ms()],
    )
}

pub fn revoke_token(conn: &Connection, id: &str) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE oauth_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
        params![id, now_ms()],
    )
}
