//! The embedded OAuth 2.1 authorization server (SPEC §5): RFC 8414
//! metadata, RFC 7591 dynamic registration and client ID metadata
//! documents, `/authorize` with a login and consent page, authorization
//! code + PKCE S256, `/token` (authorization_code, rotated refresh_token,
//! client_credentials), RFC 8707 audiences, RFC 7009 revocation and RFC 7662
//! introspection.
//!
//! This module holds the rules; `transport/http/oauth.rs` is the thin axum
//! door over them. Codes and tokens are opaque random strings of the API-key
//! shape (prefix, 30 base62 characters, checksum) stored only as SHA-256
//! hashes. One token resolves to one store and mode — the same
//! [`Principal`] an API key resolves to, so the pipeline treats both alike.

pub mod cimd;
pub mod external;
pub mod pages;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::keys::{generate_with, hash_str, well_formed};
use crate::auth::{AuthError, Principal, ScopeSet, Secret, password};
use crate::store::oauth::{self as rows, ClientRow, CodeRow, NewClient, NewToken, TokenRow};
use crate::store::{Db, DbError, Mode, Scope, keys as key_rows, new_id, now_ms, stores, users};

pub const ACCESS_PREFIX: &str = "wo_at_";
pub const REFRESH_PREFIX: &str = "wo_rt_";
pub const CODE_PREFIX: &str = "wo_ac_";
pub const SECRET_PREFIX: &str = "wo_cs_";

/// Pending authorization requests (login and consent in progress) live
/// this long.
const PENDING_TTL_MS: i64 = 10 * 60 * 1000;
/// Wrong passwords allowed on one authorization request.
const MAX_LOGIN_ATTEMPTS: u32 = 5;
const TOO_MANY_ATTEMPTS: &str = "too many wrong passwords; start again from the application";
const PENDING_GONE: &str = "this sign-in expired or was already used; start again from the application";
/// Pending requests kept at most, in all and per address (IPv6: per /64).
/// Past either, the oldest make room (the address's own first): a newcomer
/// is never refused because strangers filled the table.
const MAX_PENDING: usize = 10_000;
const MAX_PENDING_PER_PEER: usize = 30;
/// What one RFC 7591 registration may hold: it costs nothing to send, and
/// what it holds is stored.
pub const MAX_REGISTRATION_BYTES: usize = 16 * 1024;
const MAX_REDIRECT_URIS: usize = 10;
const MAX_REDIRECT_URI_LEN: usize = 1024;

#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    pub code_ttl: Duration,
    /// Accept `http://` and loopback client ID metadata documents (local
    /// development and tests only).
    pub insecure_client_metadata: bool,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            access_ttl: Duration::from_secs(3600),
            refresh_ttl: Duration::from_secs(30 * 24 * 3600),
            code_ttl: Duration::from_secs(60),
            insecure_client_metadata: false,
        }
    }
}

/// An OAuth error response (`{error, error_description}`).
#[derive(Debug)]
pub struct OAuthError {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: String,
}

impl OAuthError {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> OAuthError {
        OAuthError {
            status,
            error,
            description: description.into(),
        }
    }
    fn bad(error: &'static str, description: impl Into<String>) -> OAuthError {
        OAuthError::new(StatusCode::BAD_REQUEST, error, description)
    }
    fn invalid_client(description: impl Into<String>) -> OAuthError {
        OAuthError::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
    }
    fn invalid_grant(description: impl Into<String>) -> OAuthError {
        OAuthError::bad("invalid_grant", description)
    }
}

impl From<DbError> for OAuthError {
    fn from(e: DbError) -> Self {
        tracing::error!(error = %e, "authorization server database error");
        OAuthError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "the authorization server could not complete the request",
        )
    }
}

impl From<rusqlite::Error> for OAuthError {
    fn from(e: rusqlite::Error) -> Self {
        OAuthError::from(DbError::Sql(e))
    }
}

/// The query of `GET /authorize`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuthorizeQuery {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub resource: Option<String>,
    /// whale extension: the store to preselect on the consent page.
    pub store: Option<String>,
}

/// Why `/authorize` stops: either shown to the person (the client or its
/// redirect URI cannot be trusted with the answer), or sent back to the
/// client's redirect URI.
#[derive(Debug)]
pub enum AuthorizeFailure {
    Show(String),
    Redirect(String),
}

/// An authorization request between the login page and the consent.
#[derive(Debug, Clone)]
pub struct Pending {
    pub id: String,
    pub csrf: String,
    pub client_id: String,
    pub client_name: String,
    /// `dynamic` (registered itself) or `metadata` (a client ID metadata
    /// document): the consent page says which, since the name is the
    /// client's own claim.
    pub client_kind: String,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub scopes: String,
    pub code_challenge: String,
    pub resource: String,
    pub store_hint: Option<String>,
    pub issuer: String,
    /// The address (IPv6: its /64) that opened the request, for the
    /// per-address cap.
    pub peer: String,
    pub created_at: i64,
    pub user_id: Option<String>,
    pub user_email: Option<String>,
    pub stores: Vec<(String, String)>,
    pub attempts: u32,
}

/// What a sign-in attempt leads to.
pub enum LoginOutcome {
    Consent(Pending),
    /// A wrong email or password: the form again, with a message.
    Retry(Pending, String),
    /// Too many wrong passwords on this request: it is dropped.
    GiveUp(String),
}

pub struct AuthServer {
    db: Arc<Db>,
    cfg: AuthConfig,
    scopes_supported: Vec<String>,
    pending: Mutex<HashMap<String, Pending>>,
    metadata_docs: cimd::Fetcher,
}

impl AuthServer {
    pub fn new(db: Arc<Db>, cfg: AuthConfig, scopes_supported: Vec<String>) -> AuthServer {
        let metadata_docs = cimd::Fetcher::new(cfg.insecure_client_metadata);
        AuthServer {
            db,
            cfg,
            scopes_supported,
            pending: Mutex::new(HashMap::new()),
            metadata_docs,
        }
    }

    /// RFC 8414 metadata for `issuer` (the server's base URL).
    pub fn metadata(&self, issuer: &str) -> Value {
        json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/authorize"),
            "token_endpoint": format!("{issuer}/token"),
            "registration_endpoint": format!("{issuer}/register"),
            "revocation_endpoint": format!("{issuer}/revoke"),
            "introspection_endpoint": format!("{issuer}/introspect"),
            "scopes_supported": self.scopes_supported,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
            "revocation_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "client_id_metadata_document_supported": true,
            "authorization_response_iss_parameter_supported": true,
            "service_documentation": format!("{issuer}/openapi.json"),
        })
    }

    fn scopes_ok(&self, scope: &str) -> Result<ScopeSet, String> {
        let set = ScopeSet::parse(scope)?;
        for item in set.items() {
            let resource = item.split(':').next().unwrap_or(&item);
            if !self.scopes_supported.iter().any(|s| s == resource) {
                return Err(format!(
                    "scope `{item}` is not served here; supported: {}",
                    self.default_scopes()
                ));
            }
        }
        Ok(set)
    }

    /// Every resource this server serves, as bare scopes (what a request
    /// without `scope` gets).
    fn default_scopes(&self) -> String {
        self.scopes_supported
            .iter()
            .filter(|s| !s.contains(':'))
            .cloned()
            .collect::<Vec<_>>()
            .join(" ")
    }

    // ----- clients -------------------------------------------------------

    /// RFC 7591 registration. Public clients (`token_endpoint_auth_method:
    /// none`, the default) get no secret; confidential ones get one, shown
    /// in this response only.
    pub fn register(&self, req: &Value) -> Result<Value, OAuthError> {
        let bad = |d: String| OAuthError::bad("invalid_client_metadata", d);
        let obj = req
            .as_object()
            .ok_or_else(|| bad("the registration request must be a JSON object".into()))?;
        let uris: Vec<String> = match obj.get("redirect_uris") {
            Some(Value::Array(a)) if !a.is_empty() => a
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<_>>()
                .ok_or_else(|| bad("redirect_uris must be strings".into()))?,
            _ => {
                return Err(OAuthError::bad(
                    "invalid_redirect_uri",
                    "redirect_uris must be a non-empty array",
                ));
            }
        };
        check_redirect_uris(&uris).map_err(|d| OAuthError::bad("invalid_redirect_uri", d))?;
        let method = obj
            .get("token_endpoint_auth_method")
            .and_then(Value::as_str)
            .unwrap_or("none");
        if !matches!(method, "none" | "client_secret_basic" | "client_secret_post") {
            return Err(bad(format!(
                "token_endpoint_auth_method `{method}` is not supported; use none, client_secret_basic or client_secret_post"
            )));
        }
        let grants: Vec<String> = match obj.get("grant_types") {
            None => vec!["authorization_code".into(), "refresh_token".into()],
            Some(v) => serde_json::from_value(v.clone())
                .map_err(|_| bad("grant_types must be an array of strings".into()))?,
        };
        for g in &grants {
            match g.as_str() {
                "authorization_code" | "refresh_token" => {}
                "client_credentials" => {
                    return Err(bad(
                        "client_credentials clients are created by the store's admin (`whale clients create`), \
                         which binds them to a store"
                            .into(),
                    ));
                }
                other => return Err(bad(format!("grant type `{other}` is not supported"))),
            }
        }
        if let Some(rt) = obj.get("response_types")
            && rt != &json!(["code"])
        {
            return Err(bad("response_types must be [\"code\"]".into()));
        }
        let name = crate::auth::client_name(obj.get("client_name").and_then(Value::as_str))
            .map_err(bad)?
            .unwrap_or_else(|| "unnamed client".into());
        let id = new_id("wc");
        let secret = (method != "none").then(|| generate_with(SECRET_PREFIX));
        let secret_hash = secret.as_ref().map(|s| hash_str(s.expose()));
        let mut out = json!({
            "client_id": id,
            "client_id_issued_at": now_ms() / 1000,
            "client_name": name,
            "redirect_uris": uris,
            "grant_types": grants,
            "response_types": ["code"],
            "token_endpoint_auth_method": method,
        });
        let conn = self.db.conn()?;
        let pruned = rows::prune_unused_dynamic_clients(&conn, now_ms() - UNUSED_CLIENT_KEPT_MS)?;
        if pruned > 0 {
            tracing::info!(pruned, "removed registered clients never used in 7 days");
        }
        rows::upsert_client(
            &conn,
            &NewClient {
                id: &id,
                kind: "dynamic",
                name: &name,
                redirect_uris: &uris,
                grant_types: &grants,
                auth_method: method,
                secret_hash: secret_hash.as_deref(),
                store_id: None,
                mode: None,
                scopes: None,
                // What was registered, as understood; never the request
                // itself, whose other members are anyone's to fill.
                metadata: &out.to_string(),
            },
        )?;
        if let Some(s) = secret {
            out["client_secret"] = json!(s.expose());
            out["client_secret_expires_at"] = json!(0);
        }
        Ok(out)
    }

    /// The client of `client_id`: registered here, or (an https URL) known
    /// by its metadata document, fetched and cached.
    pub async fn client(&self, client_id: &str) -> Result<ClientRow, String> {
        let stored = self.known_client(client_id)?;
        if cimd::is_metadata_url(client_id) {
            if let Some(c) = &stored
                && c.fetched_at.is_some_and(|t| now_ms() - t < cimd::CACHE_MS)
            {
                return Ok(c.clone());
            }
            let doc = self.metadata_docs.fetch(client_id).await.map_err(|e| {
                if let cimd::FetchError::Unreachable(detail) = &e {
                    tracing::warn!(client = ?client_id, reason = ?detail, "client metadata document not fetched");
                }
                e.shown(client_id)
            })?;
            let conn = self.db.conn().map_err(|e| e.to_string())?;
            rows::upsert_client(
                &conn,
                &NewClient {
                    id: client_id,
                    kind: "metadata",
                    name: &doc.name,
                    redirect_uris: &doc.redirect_uris,
                    grant_types: &doc.grant_types,
                    auth_method: "none",
                    secret_hash: None,
                    store_id: None,
                    mode: None,
                    scopes: None,
                    metadata: &doc.raw,
                },
            )
            .map_err(|e| e.to_string())?;
            return rows::client(&conn, client_id)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| "the client could not be stored".into());
        }
        stored.ok_or_else(|| {
            format!(
                "unknown client `{client_id}`: register it first (RFC 7591) or use a client ID metadata URL"
            )
        })
    }

    /// A client already stored here (registered, created by an admin, or a
    /// metadata document fetched at `/authorize`), unless it was revoked.
    /// Fetches nothing.
    fn known_client(&self, client_id: &str) -> Result<Option<ClientRow>, String> {
        let conn = self.db.conn().map_err(|e| e.to_string())?;
        let stored = rows::client(&conn, client_id).map_err(|e| e.to_string())?;
        if stored.as_ref().is_some_and(|c| c.revoked_at.is_some()) {
            return Err(format!("client `{client_id}` was revoked"));
        }
        Ok(stored)
    }

    /// Creates a confidential client bound to a store (`whale clients
    /// create`): it may use client_credentials, up to `scopes`.
    pub fn create_admin_client(
        db: &Db,
        name: &str,
        store_id: &str,
        mode: Mode,
        scopes: &ScopeSet,
    ) -> Result<(String, Secret), DbError> {
        let id = new_id("wc");
        let secret = generate_with(SECRET_PREFIX);
        let conn = db.conn()?;
        rows::upsert_client(
            &conn,
            &NewClient {
                id: &id,
                kind: "admin",
                name,
                redirect_uris: &[],
                grant_types: &["client_credentials".to_string()],
                auth_method: "client_secret_basic",
                secret_hash: Some(&hash_str(secret.expose())),
                store_id: Some(store_id),
                mode: Some(mode),
                scopes: Some(&scopes.to_string()),
                metadata: "{}",
            },
        )?;
        Ok((id, secret))
    }

    /// Client authentication at the token, revocation and introspection
    /// endpoints: HTTP Basic, `client_secret` in the form, or (public
    /// clients) `client_id` alone. Only clients stored here: these
    /// endpoints never fetch a metadata document (a stranger would have the
    /// server send requests at no cost) — a metadata-document client is
    /// public and was fetched at `/authorize` before it holds a code.
    fn authenticate_client(
        &self,
        form: &HashMap<String, String>,
        basic: Option<(String, String)>,
    ) -> Result<ClientRow, OAuthError> {
        let (id, secret) = match basic {
            // RFC 6749 §2.3: one authentication method per request.
            Some(_) if form.contains_key("client_secret") => {
                return Err(OAuthError::bad(
                    "invalid_request",
                    "the client authenticated twice, with HTTP Basic and with client_secret in the body; use one of them",
                ));
            }
            Some((id, secret)) => (id, Some(secret)),
            None => {
                let id = form
                    .get("client_id")
                    .cloned()
                    .ok_or_else(|| OAuthError::invalid_client("client authentication is missing"))?;
                (id, form.get("client_secret").cloned())
            }
        };
        // A database that fails is the server's error, not a failed client
        // login (the per-address limit counts those).
        let conn = self.db.conn()?;
        let client = rows::client(&conn, &id)?
            .filter(|c| c.revoked_at.is_none())
            .ok_or_else(|| OAuthError::invalid_client("unknown client or wrong secret"))?;
        match (&client.secret_hash, secret) {
            (None, None) => Ok(client),
            (Some(h), Some(s)) if constant_eq(h, &hash_str(&s)) => Ok(client),
            (None, Some(_)) => Err(OAuthError::invalid_client(
                "this is a public client; it has no secret",
            )),
            _ => Err(OAuthError::invalid_client("unknown client or wrong secret")),
        }
    }

    // ----- authorize -----------------------------------------------------

    /// Checks an authorization request from `peer` (its address, IPv6: its
    /// /64) and parks it for the login page.
    pub async fn begin(
        &self,
        q: &AuthorizeQuery,
        issuer: &str,
        peer: &str,
    ) -> Result<Pending, AuthorizeFailure> {
        let client_id = q
            .client_id
            .as_deref()
            .ok_or_else(|| AuthorizeFailure::Show("the request has no client_id".into()))?;
        let client = self.client(client_id).await.map_err(AuthorizeFailure::Show)?;
        let redirect_uri = q.redirect_uri.as_deref().ok_or_else(|| {
            AuthorizeFailure::Show("the request has no redirect_uri; nothing can be sent back".into())
        })?;
        if !redirect_matches(&client.redirect_uris, redirect_uri) {
            return Err(AuthorizeFailure::Show(format!(
                "redirect_uri `{redirect_uri}` is not registered for client `{}`; nothing was sent to it",
                client.name
            )));
        }
        // Before anyone signed in, an error goes back only to an app on this
        // computer (a loopback redirect). Any client may register any https
        // URI, so redirecting there would make whale's address an open
        // redirector to it (RFC 9700 §4.11.2): whale's own page says it.
        let back = |error: &str, description: &str| {
            if !is_loopback_redirect(redirect_uri) {
                return AuthorizeFailure::Show(format!("{description} (OAuth error `{error}`)"));
            }
            AuthorizeFailure::Redirect(redirect_with(
                redirect_uri,
                &[
                    ("error", error),
                    ("error_description", description),
                    ("state", q.state.as_deref().unwrap_or("")),
                    ("iss", issuer),
                ],
                q.state.is_none(),
            ))
        };
        if q.response_type.as_deref() != Some("code") {
            return Err(back(
                "unsupported_response_type",
                "only response_type=code is supported",
            ));
        }
        if !client.allows_grant("authorization_code") {
            return Err(back(
                "unauthorized_client",
                "this client may not use the authorization code grant",
            ));
        }
        let Some(challenge) = q.code_challenge.as_deref() else {
            return Err(back(
                "invalid_request",
                "PKCE is required: send code_challenge with code_challenge_method=S256",
            ));
        };
        if q.code_challenge_method.as_deref() != Some("S256") {
            return Err(back(
                "invalid_request",
                "only code_challenge_method=S256 is supported (plain is refused)",
            ));
        }
        if challenge.len() != 43
            || !challenge
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(back(
                "invalid_request",
                "code_challenge must be the base64url SHA-256 of the verifier (43 characters)",
            ));
        }
        let scope = q
            .scope
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| self.default_scopes());
        let scopes = match self.scopes_ok(&scope) {
            Ok(s) => s,
            Err(e) => return Err(back("invalid_scope", &e)),
        };
        let resource = match resource_for(q.resource.as_deref(), issuer) {
            Ok(r) => r,
            Err(e) => return Err(back("invalid_target", &e)),
        };
        let pending = Pending {
            id: random_token(),
            csrf: random_token(),
            client_id: client.id.clone(),
            client_name: client.name.clone(),
            client_kind: client.kind.clone(),
            redirect_uri: redirect_uri.to_string(),
            state: q.state.clone(),
            scopes: scopes.to_string(),
            code_challenge: challenge.to_string(),
            resource,
            store_hint: q.store.clone(),
            issuer: issuer.to_string(),
            peer: peer.to_string(),
            created_at: now_ms(),
            user_id: None,
            user_email: None,
            stores: Vec::new(),
            attempts: 0,
        };
        let mut map = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        park(
            &mut map,
            pending.clone(),
            now_ms(),
            MAX_PENDING_PER_PEER,
            MAX_PENDING,
        );
        Ok(pending)
    }

    /// The pending request `id`, when the form's and the cookie's CSRF
    /// tokens both match it.
    pub fn pending(&self, id: &str, csrf: &str, cookie: Option<&str>) -> Result<Pending, String> {
        let map = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let p = map
            .get(id)
            .filter(|p| now_ms() - p.created_at < PENDING_TTL_MS)
            .ok_or(PENDING_GONE)?;
        if !constant_eq(p.csrf.as_bytes(), csrf.as_bytes())
            || !cookie.is_some_and(|c| constant_eq(c.as_bytes(), csrf.as_bytes()))
        {
            return Err(
                "the form could not be verified (CSRF check failed); start again from the application".into(),
            );
        }
        Ok(p.clone())
    }

    fn put_pending(&self, p: Pending) {
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(p.id.clone(), p);
    }

    fn drop_pending(&self, id: &str) {
        self.pending.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
    }

    /// The login form of `p` (checked by [`AuthServer::pending`]) was posted.
    pub async fn login(&self, mut p: Pending, email: &str, pass: &str) -> Result<LoginOutcome, String> {
        // The request's attempt is taken under the lock before the password
        // is checked: posts that arrive while others are hashing find it
        // taken, so no more than MAX_LOGIN_ATTEMPTS are ever checked.
        p.attempts = {
            let mut map = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            let Some(parked) = map.get_mut(&p.id) else {
                return Err(PENDING_GONE.into());
            };
            if parked.attempts >= MAX_LOGIN_ATTEMPTS {
                return Ok(LoginOutcome::GiveUp(TOO_MANY_ATTEMPTS.into()));
            }
            parked.attempts += 1;
            parked.attempts
        };
        let user = {
            let conn = self.db.conn().map_err(|e| e.to_string())?;
            users::by_email(&conn, email.trim()).map_err(|e| e.to_string())?
        };
        let phc = user
            .as_ref()
            .map(|u| u.password_hash.clone())
            .unwrap_or_else(|| password::dummy_hash().to_string());
        let pass = pass.to_string();
        let ok = tokio::task::spawn_blocking(move || password::verify(&pass, &phc))
            .await
            .unwrap_or(false);
        let Some(user) = user.filter(|_| ok) else {
            if p.attempts >= MAX_LOGIN_ATTEMPTS {
                self.drop_pending(&p.id);
                return Ok(LoginOutcome::GiveUp(TOO_MANY_ATTEMPTS.into()));
            }
            return Ok(LoginOutcome::Retry(p, "Wrong email or password.".into()));
        };
        let stores = {
            let conn = self.db.conn().map_err(|e| e.to_string())?;
            users::stores_of(&conn, &user.id).map_err(|e| e.to_string())?
        };
        if stores.is_empty() {
            self.drop_pending(&p.id);
            return Err(format!(
                "{} is not a member of any store; ask an admin to run `whale users add {} --store ID`",
                user.email, user.email
            ));
        }
        p.user_id = Some(user.id);
        p.user_email = Some(user.email);
        p.stores = stores;
        self.put_pending(p.clone());
        Ok(LoginOutcome::Consent(p))
    }

    /// The consent form was posted: the redirect back to the client.
    pub fn decide(
        &self,
        id: &str,
        csrf: &str,
        cookie: Option<&str>,
        store: Option<&str>,
        approve: bool,
    ) -> Result<String, String> {
        let p = self.pending(id, csrf, cookie)?;
        let Some(user_id) = p.user_id.clone() else {
            return Err("sign in first".into());
        };
        self.drop_pending(id);
        let state = p.state.as_deref().unwrap_or("");
        if !approve {
            return Ok(redirect_with(
                &p.redirect_uri,
                &[
                    ("error", "access_denied"),
                    ("error_description", "the user denied access"),
                    ("state", state),
                    ("iss", &p.issuer),
                ],
                p.state.is_none(),
            ));
        }
        let store_id = match store {
            Some(s) => s.to_string(),
            None if p.stores.len() == 1 => p.stores[0].0.clone(),
            None => return Err("choose a store".into()),
        };
        // Asked again, not taken from the sign-in: an admin may have removed
        // the person while the consent page was open (`whale users remove`).
        let conn = self.db.conn().map_err(|e| e.to_string())?;
        if !p.stores.iter().any(|(s, _)| *s == store_id)
            || !users::is_member(&conn, &store_id, &user_id).map_err(|e| e.to_string())?
        {
            return Err(format!("you are not a member of store `{store_id}`"));
        }
        let code = generate_with(CODE_PREFIX);
        let row = CodeRow {
            grant_id: new_id("grt"),
            client_id: p.client_id.clone(),
            user_id,
            store_id,
            mode: Mode::Live,
            scopes: p.scopes.clone(),
            redirect_uri: p.redirect_uri.clone(),
            code_challenge: p.code_challenge.clone(),
            resource: p.resource.clone(),
            expires_at: now_ms().saturating_add(ttl_ms(self.cfg.code_ttl)),
            used_at: None,
        };
        rows::insert_code(&conn, &hash_str(code.expose()), &row).map_err(|e| e.to_string())?;
        Ok(redirect_with(
            &p.redirect_uri,
            &[("code", code.expose()), ("state", state), ("iss", &p.issuer)],
            p.state.is_none(),
        ))
    }

    // ----- token ---------------------------------------------------------

    /// `POST /token` from `peer` (named in the log of a replay).
    pub fn token(
        &self,
        form: &HashMap<String, String>,
        basic: Option<(String, String)>,
        issuer: &str,
        peer: &str,
    ) -> Result<Value, OAuthError> {
        let Some(grant) = form
            .get("grant_type")
            .map(String::as_str)
            .filter(|g| !g.is_empty())
        else {
            // A missing parameter (RFC 6749 §5.2), not an unknown grant.
            return Err(OAuthError::bad(
                "invalid_request",
                "grant_type is missing; use authorization_code, refresh_token or client_credentials",
            ));
        };
        if !matches!(
            grant,
            "authorization_code" | "refresh_token" | "client_credentials"
        ) {
            return Err(OAuthError::bad(
                "unsupported_grant_type",
                format!(
                    "grant_type `{grant}` is not supported; use authorization_code, refresh_token or client_credentials"
                ),
            ));
        }
        let client = self.authenticate_client(form, basic)?;
        match grant {
            "authorization_code" => self.exchange_code(form, &client, peer),
            "refresh_token" => self.refresh(form, &client, peer),
            _ => self.client_credentials(form, &client, issuer),
        }
    }

    fn exchange_code(
        &self,
        form: &HashMap<String, String>,
        client: &ClientRow,
        peer: &str,
    ) -> Result<Value, OAuthError> {
        let code = form
            .get("code")
            .filter(|c| well_formed(CODE_PREFIX, c))
            .ok_or_else(|| OAuthError::invalid_grant("the authorization code is missing or malformed"))?;
        let verifier = form.get("code_verifier").map(String::as_str).unwrap_or("");
        let hash = hash_str(code);
        enum Out {
            Issued(Value),
            Refused(OAuthError),
        }
        let out = self.db.write(|tx| -> Result<Out, OAuthError> {
            let Some(row) = rows::code(tx, &hash)? else {
                return Ok(Out::Refused(OAuthError::invalid_grant(
                    "unknown authorization code",
                )));
            };
            if row.used_at.is_some() {
                // A replayed code: whoever holds it is not to be trusted, and
                // neither are the tokens it bought.
                let revoked = rows::revoke_grant(tx, &row.grant_id)?;
                tracing::warn!(
                    client = %client.id,
                    grant = %row.grant_id,
                    user = %row.user_id,
                    peer,
                    tokens_revoked = revoked,
                    "authorization code replayed; its grant is revoked"
                );
                // The first attempt may have been refused (a wrong
                // verifier): then no token came of it to revoke.
                return Ok(Out::Refused(OAuthError::invalid_grant(if revoked > 0 {
                    "the authorization code was already used; the tokens issued from it are revoked"
                } else {
                    "the authorization code was already used (each code gets one attempt); start the authorization again"
                })));
            }
            // One attempt per code, whatever its outcome.
            rows::use_code(tx, &hash)?;
            if row.expires_at <= now_ms() {
                return Ok(Out::Refused(OAuthError::invalid_grant(
                    "the authorization code expired",
                )));
            }
            if row.client_id != client.id {
                return Ok(Out::Refused(OAuthError::invalid_grant(
                    "the authorization code was issued to another client",
                )));
            }
            if form.get("redirect_uri") != Some(&row.redirect_uri) {
                return Ok(Out::Refused(OAuthError::invalid_grant(
                    "redirect_uri does not match the one of the authorization request",
                )));
            }
            if !pkce_ok(verifier, &row.code_challenge) {
                return Ok(Out::Refused(OAuthError::invalid_grant(
                    "code_verifier does not match the code_challenge (PKCE S256)",
                )));
            }
            if let Some(r) = form.get("resource")
                && !same_resource(r, &row.resource)
            {
                return Ok(Out::Refused(OAuthError::bad(
                    "invalid_target",
                    format!(
                        "resource `{r}` differs from the one authorized (`{}`)",
                        row.resource
                    ),
                )));
            }
            let issued = self.issue(
                tx,
                Grant {
                    grant_id: &row.grant_id,
                    client,
                    user_id: Some(&row.user_id),
                    store_id: &row.store_id,
                    mode: row.mode,
                    scopes: &row.scopes,
                    audience: &row.resource,
                    refresh: client
                        .allows_grant("refresh_token")
                        .then_some(row.scopes.as_str()),
                },
            )?;
            Ok(Out::Issued(issued))
        });
        match out? {
            Out::Issued(v) => Ok(v),
            Out::Refused(e) => Err(e),
        }
    }

    fn refresh(
        &self,
        form: &HashMap<String, String>,
        client: &ClientRow,
        peer: &str,
    ) -> Result<Value, OAuthError> {
        if !client.allows_grant("refresh_token") {
            return Err(OAuthError::bad(
                "unauthorized_client",
                "this client may not use refresh tokens",
            ));
        }
        let token = form
            .get("refresh_token")
            .filter(|t| well_formed(REFRESH_PREFIX, t))
            .ok_or_else(|| OAuthError::invalid_grant("the refresh token is missing or malformed"))?;
        let hash = hash_str(token);
        enum Out {
            Issued(Value),
            Refused(OAuthError),
        }
        let out = self.db.write(|tx| -> Result<Out, OAuthError> {
            let Some(row) = rows::token(tx, &hash)?.filter(|r| r.kind == "refresh") else {
                return Ok(Out::Refused(OAuthError::invalid_grant("unknown refresh token")));
            };
            if row.client_id != client.id {
                return Ok(Out::Refused(OAuthError::invalid_grant(
                    "the refresh token was issued to another client",
                )));
            }
            if row.revoked_at.is_some() {
                return Ok(Out::Refused(OAuthError::invalid_grant(
                    "the refresh token was revoked; sign in again",
                )));
            }
            // Reuse of a rotated token: it leaked, or two clients share it.
            // Either way, the whole grant ends here.
            let reused = || -> Result<Out, OAuthError> {
                let revoked = rows::revoke_grant(tx, &row.grant_id)?;
                tracing::warn!(
                    client = %client.id,
                    grant = %row.grant_id,
                    user = row.user_id.as_deref().unwrap_or(""),
                    peer,
                    tokens_revoked = revoked,
                    "refresh token reused; its grant is revoked"
                );
                Ok(Out::Refused(OAuthError::invalid_grant(
                    "the refresh token was already used; every token of this grant is revoked — sign in again",
                )))
            };
            if row.used_at.is_some() {
                return reused();
            }
            // Every check that may refuse comes before the token is spent: a
            // refused request leaves it usable (RFC 6749 §5.2), and only a
            // token that bought new ones counts as used.
            if row.expires_at <= now_ms() {
                return Ok(Out::Refused(OAuthError::invalid_grant(
                    "the refresh token expired; sign in again",
                )));
            }
            let scopes = match form.get("scope").filter(|s| !s.trim().is_empty()) {
                None => row.scopes.clone(),
                Some(asked) => {
                    let have = ScopeSet::parse(&row.scopes).unwrap_or_else(|_| ScopeSet::none());
                    match ScopeSet::parse(asked) {
                        Ok(a) if have.covers(&a) => a.to_string(),
                        _ => {
                            return Ok(Out::Refused(OAuthError::bad(
                                "invalid_scope",
                                format!("scope `{asked}` exceeds the granted `{}`", row.scopes),
                            )));
                        }
                    }
                }
            };
            if let Some(r) = form.get("resource")
                && !same_resource(r, &row.audience)
            {
                return Ok(Out::Refused(OAuthError::bad(
                    "invalid_target",
                    format!("resource `{r}` differs from the granted `{}`", row.audience),
                )));
            }
            if !rows::use_refresh(tx, &row.id)? {
                return reused();
            }
            // Should issuing fail, the error rolls the transaction back, and
            // the token with it.
            let issued = self.issue(
                tx,
                Grant {
                    grant_id: &row.grant_id,
                    client,
                    user_id: row.user_id.as_deref(),
                    store_id: &row.store_id,
                    mode: row.mode,
                    scopes: &scopes,
                    audience: &row.audience,
                    // RFC 6749 §6: only the access token narrows; the new
                    // refresh token keeps the scope of the one presented.
                    refresh: Some(&row.scopes),
                },
            )?;
            Ok(Out::Issued(issued))
        });
        match out? {
            Out::Issued(v) => Ok(v),
            Out::Refused(e) => Err(e),
        }
    }

    fn client_credentials(
        &self,
        form: &HashMap<String, String>,
        client: &ClientRow,
        issuer: &str,
    ) -> Result<Value, OAuthError> {
        if client.is_public() {
            return Err(OAuthError::bad(
                "unauthorized_client",
                "client_credentials needs a confidential client (one with a secret, from `whale clients create`)",
            ));
        }
        let (Some(store_id), Some(mode), Some(granted)) = (&client.store_id, client.mode, &client.scopes)
        else {
            return Err(OAuthError::bad(
                "unauthorized_client",
                "this client is not bound to a store; create machine clients with `whale clients create`",
            ));
        };
        if !client.allows_grant("client_credentials") {
            return Err(OAuthError::bad(
                "unauthorized_client",
                "this client may not use client_credentials",
            ));
        }
        let have = ScopeSet::parse(granted).map_err(|e| OAuthError::bad("invalid_scope", e))?;
        let scopes = match form.get("scope").filter(|s| !s.trim().is_empty()) {
            None => granted.clone(),
            Some(asked) => match ScopeSet::parse(asked) {
                Ok(a) if have.covers(&a) => a.to_string(),
                _ => {
                    return Err(OAuthError::bad(
                        "invalid_scope",
                        format!("scope `{asked}` exceeds the client's `{granted}`"),
                    ));
                }
            },
        };
        let audience = resource_for(form.get("resource").map(String::as_str), issuer)
            .map_err(|e| OAuthError::bad("invalid_target", e))?;
        // One grant per client, whatever the number of tokens it mints: the
        // HTTP layer knows a caller by its grant, so a machine agent's MCP
        // sessions survive its token renewals and a fresh token does not
        // reset its rate limit. Nothing revokes it as a family (no code or
        // refresh token belongs to it); `whale clients revoke` ends them all.
        let grant_id = format!("grt_cc_{}", client.id);
        self.db.write(|tx| {
            self.issue(
                tx,
                Grant {
                    grant_id: &grant_id,
                    client,
                    user_id: None,
                    store_id,
                    mode,
                    scopes: &scopes,
                    audience: &audience,
                    refresh: None,
                },
            )
        })
    }

    fn issue(&self, tx: &rusqlite::Connection, g: Grant<'_>) -> Result<Value, OAuthError> {
        if !stores::exists(tx, g.store_id)? {
            return Err(OAuthError::invalid_grant(format!(
                "store `{}` no longer exists",
                g.store_id
            )));
        }
        // A person's grant lasts as long as their membership: a code or
        // refresh token from before `whale users remove` buys nothing.
        if let Some(user) = g.user_id
            && !users::is_member(tx, g.store_id, user)?
        {
            return Err(OAuthError::invalid_grant(format!(
                "the person who granted this access is no longer a member of store `{}`; sign in again",
                g.store_id
            )));
        }
        // The client's own agent, never a key's of the same name.
        let agent_id = key_rows::ensure_client_agent(tx, g.store_id, &g.client.id, &g.client.name)?;
        let now = now_ms();
        let access = generate_with(ACCESS_PREFIX);
        let access_ttl = ttl_ms(self.cfg.access_ttl);
        let mut new = NewToken {
            hash: &hash_str(access.expose()),
            kind: "access",
            grant_id: g.grant_id,
            client_id: &g.client.id,
            agent_id: &agent_id,
            user_id: g.user_id,
            store_id: g.store_id,
            mode: g.mode,
            scopes: g.scopes,
            audience: g.audience,
            expires_at: now.saturating_add(access_ttl),
        };
        rows::insert_token(tx, &new)?;
        let mut out = json!({
            "access_token": access.expose(),
            "token_type": "Bearer",
            "expires_in": access_ttl / 1000,
            "scope": g.scopes,
            "store_id": g.store_id,
            "mode": g.mode,
        });
        if let Some(refresh_scopes) = g.refresh {
            let refresh = generate_with(REFRESH_PREFIX);
            let hash = hash_str(refresh.expose());
            new.hash = &hash;
            new.kind = "refresh";
            new.scopes = refresh_scopes;
            new.expires_at = now.saturating_add(ttl_ms(self.cfg.refresh_ttl));
            rows::insert_token(tx, &new)?;
            out["refresh_token"] = json!(refresh.expose());
        }
        Ok(out)
    }

    // ----- revocation and introspection -----------------------------------

    /// RFC 7009: revoking a refresh token ends its grant; revoking an access
    /// token ends that token. Unknown tokens are not an error.
    pub fn revoke(
        &self,
        form: &HashMap<String, String>,
        basic: Option<(String, String)>,
        peer: &str,
    ) -> Result<(), OAuthError> {
        let client = self.authenticate_client(form, basic)?;
        let Some(token) = form.get("token") else {
            return Err(OAuthError::bad("invalid_request", "token is missing"));
        };
        let conn = self.db.conn()?;
        if let Some(row) = rows::token(&conn, &hash_str(token))?
            && row.client_id == client.id
        {
            if row.kind == "refresh" {
                let revoked = rows::revoke_grant(&conn, &row.grant_id)?;
                tracing::info!(
                    client = %client.id,
                    grant = %row.grant_id,
                    user = row.user_id.as_deref().unwrap_or(""),
                    peer,
                    tokens_revoked = revoked,
                    "grant revoked by its client (RFC 7009)"
                );
            } else {
                rows::revoke_token(&conn, &row.id)?;
            }
        }
        Ok(())
    }

    /// RFC 7662, for confidential clients. The server decides what a caller
    /// may see (§2.1, §4): a client its own tokens, an admin client (`whale
    /// clients create`, bound to a store) also every token of its store.
    /// Anything else is `{"active": false}`, like an unknown token (§2.2),
    /// so the endpoint tells a stranger nothing about other clients' tokens.
    pub fn introspect(
        &self,
        form: &HashMap<String, String>,
        basic: Option<(String, String)>,
    ) -> Result<Value, OAuthError> {
        let client = self.authenticate_client(form, basic)?;
        if client.is_public() {
            return Err(OAuthError::invalid_client(
                "introspection needs a confidential client",
            ));
        }
        let Some(token) = form.get("token") else {
            return Err(OAuthError::bad("invalid_request", "token is missing"));
        };
        let conn = self.db.conn()?;
        let now = now_ms();
        let Some(row) =
            rows::token(&conn, &hash_str(token))?.filter(|r| r.active(now) && may_introspect(&client, r))
        else {
            return Ok(json!({"active": false}));
        };
        Ok(json!({
            "active": true,
            "scope": row.scopes,
            "client_id": row.client_id,
            "username": row.client_name,
            "sub": row.user_id.clone().unwrap_or_else(|| row.client_id.clone()),
            "exp": row.expires_at / 1000,
            "iat": row.created_at / 1000,
            "aud": row.audience,
            "token_type": if row.kind == "access" { "Bearer" } else { "refresh_token" },
            "store_id": row.store_id,
            "mode": row.mode,
        }))
    }
}

/// Whether `client` may learn about `token` at `/introspect`: its own, or
/// any of its store's when it is an admin client.
fn may_introspect(client: &ClientRow, token: &TokenRow) -> bool {
    token.client_id == client.id
        || (client.kind == "admin" && client.store_id.as_deref() == Some(token.store_id.as_str()))
}

struct Grant<'a> {
    grant_id: &'a str,
    client: &'a ClientRow,
    user_id: Option<&'a str>,
    store_id: &'a str,
    mode: Mode,
    /// The access token's scopes.
    scopes: &'a str,
    audience: &'a str,
    /// A refresh token too, with these scopes (the grant's, which a
    /// narrower access token leaves as they are).
    refresh: Option<&'a str>,
}

/// Stage 1 of the pipeline for an OAuth access token issued here: the
/// principal, and the token's expiry and audience (for the pipeline's cache).
/// `resource` is the protected resource the request reached (`…/mcp`);
/// a token for another audience is refused.
pub fn resolve_access(
    conn: &rusqlite::Connection,
    token: &Secret,
    resource: Option<&str>,
) -> Result<(Principal, i64, String), AuthError> {
    if !well_formed(ACCESS_PREFIX, token.expose()) {
        return Err(AuthError::MalformedToken);
    }
    let row: TokenRow = rows::token(conn, &hash_str(token.expose()))
        .map_err(DbError::from)?
        .filter(|r| r.kind == "access")
        .ok_or(AuthError::UnknownToken)?;
    let now = now_ms();
    if row.revoked_at.is_some() {
        return Err(AuthError::TokenRevoked);
    }
    if row.expires_at <= now {
        return Err(AuthError::TokenExpired);
    }
    if let Some(r) = resource
        && !same_resource(&row.audience, r)
    {
        return Err(AuthError::WrongAudience(row.audience));
    }
    let (expires_at, audience) = (row.expires_at, row.audience.clone());
    let principal = Principal::stored(
        Scope {
            store_id: row.store_id,
            mode: row.mode,
        },
        row.agent_id,
        row.client_name,
        &row.scopes,
        // The grant, not the token: a refreshed token keeps its sessions.
        row.grant_id,
        None,
    );
    Ok((principal, expires_at, audience))
}

/// The audience of a token for `resource` (RFC 8707): this server's MCP
/// endpoint, or its origin; the default is the MCP endpoint.
fn resource_for(resource: Option<&str>, issuer: &str) -> Result<String, String> {
    let canonical = format!("{issuer}/mcp");
    match resource {
        None => Ok(canonical),
        Some(r) if same_resource(r, &canonical) => Ok(r.trim_end_matches('/').to_string()),
        Some(r) => Err(format!(
            "resource `{r}` is not served by this authorization server; use {canonical}"
        )),
    }
}

/// Whether two resource identifiers name the same protected resource: equal
/// (ignoring a trailing slash), or one is the server origin of the other's
/// `/mcp` endpoint.
pub fn same_resource(a: &str, b: &str) -> bool {
    let a = a.trim_end_matches('/');
    let b = b.trim_end_matches('/');
    a == b || a.strip_suffix("/mcp") == Some(b) || b.strip_suffix("/mcp") == Some(a)
}

fn pkce_ok(verifier: &str, challenge: &str) -> bool {
    if !(43..=128).contains(&verifier.len())
        || !verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
    {
        return false;
    }
    constant_eq(crate::auth::pkce_s256(verifier).as_bytes(), challenge.as_bytes())
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A lifetime in milliseconds, for adding to a clock (saturating: no
/// lifetime overflows an expiry).
fn ttl_ms(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX)
}

/// Parks `p` among the pending requests: expired ones leave first; then,
/// when its address already has `per_peer` or the table holds `max`, the
/// oldest request makes room — the address's own when it has one, else the
/// oldest of all.
fn park(map: &mut HashMap<String, Pending>, p: Pending, now: i64, per_peer: usize, max: usize) {
    map.retain(|_, q| now - q.created_at < PENDING_TTL_MS);
    let mine = map.values().filter(|q| q.peer == p.peer).count();
    if mine >= per_peer || map.len() >= max {
        let oldest = map
            .values()
            .filter(|q| mine == 0 || q.peer == p.peer)
            .min_by_key(|q| q.created_at)
            .map(|q| q.id.clone());
        if let Some(id) = oldest {
            map.remove(&id);
        }
    }
    map.insert(p.id.clone(), p);
}

fn random_token() -> String {
    let s = generate_with("");
    s.expose().to_string()
}

/// The redirect URIs of one client: at most [`MAX_REDIRECT_URIS`], each
/// one [`check_redirect_uri`].
pub fn check_redirect_uris(uris: &[String]) -> Result<(), String> {
    if uris.len() > MAX_REDIRECT_URIS {
        return Err(format!(
            "redirect_uris has {} entries; at most {MAX_REDIRECT_URIS} are accepted",
            uris.len()
        ));
    }
    uris.iter().try_for_each(|u| check_redirect_uri(u))
}

/// Redirect URIs a client may register: https, a loopback http URI (any
/// port at use, RFC 8252 §7.3), or a private-use scheme (`com.example.app:`),
/// of at most [`MAX_REDIRECT_URI_LEN`] bytes.
pub fn check_redirect_uri(u: &str) -> Result<(), String> {
    if u.len() > MAX_REDIRECT_URI_LEN {
        return Err(format!(
            "a redirect_uri is {} bytes long; at most {MAX_REDIRECT_URI_LEN} are accepted",
            u.len()
        ));
    }
    let url = url::Url::parse(u).map_err(|e| format!("redirect_uri `{u}` is not a URL ({e})"))?;
    if url.fragment().is_some() {
        return Err(format!("redirect_uri `{u}` must not have a fragment"));
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback_host(&url) => Ok(()),
        "http" => Err(format!(
            "redirect_uri `{u}`: plain http is allowed only for this machine (127.0.0.1, [::1] or localhost)"
        )),
        s if s.contains('.') => Ok(()),
        s => Err(format!(
            "redirect_uri `{u}`: scheme `{s}` is neither https, loopback http nor a private-use scheme"
        )),
    }
}

/// Whether a redirect URI goes back to an app on this computer (loopback
/// http, RFC 8252 §7.3).
fn is_loopback_redirect(u: &str) -> bool {
    url::Url::parse(u).is_ok_and(|url| url.scheme() == "http" && is_loopback_host(&url))
}

fn is_loopback_host(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Exact match, except that a loopback redirect may use any port.
pub fn redirect_matches(registered: &[String], given: &str) -> bool {
    registered.iter().any(|r| {
        if r == given {
            return true;
        }
        let (Ok(a), Ok(b)) = (url::Url::parse(r), url::Url::parse(given)) else {
            return false;
        };
        a.scheme() == "http"
            && b.scheme() == "http"
            && is_loopback_host(&a)
            && a.host() == b.host()
            && a.path() == b.path()
            && a.query() == b.query()
            && a.username() == b.username()
            && a.password() == b.password()
            && b.fragment().is_none()
    })
}

fn redirect_with(redirect_uri: &str, pairs: &[(&str, &str)], no_state: bool) -> String {
    let Ok(mut url) = url::Url::parse(redirect_uri) else {
        return redirect_uri.to_string();
    };
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in pairs {
            if *k == "state" && no_state {
                continue;
            }
            q.append_pair(k, v);
        }
    }
    url.to_string()
}

/// How long a registered client that nobody has signed in with is kept
/// (see [`rows::prune_unused_dynamic_clients`]; the next registration
/// removes it).
const UNUSED_CLIENT_KEPT_MS: i64 = 7 * 24 * 3600 * 1000;

#[cfg(test)]
mod tests {
    use super::*;

    /// A registered client never used within 7 days is removed by a later
    /// registration; a used one (a code issued) and a recent one stay.
    #[test]
    fn abandoned_registrations_are_removed_by_later_ones() {
        let dir = std::env::temp_dir().join(crate::store::new_id("whale-test"));
        let db = Arc::new(Db::open(&dir.join("w.db")).unwrap());
        let server = AuthServer::new(db.clone(), AuthConfig::default(), Vec::new());
        let register = || {
            let made = server
                .register(&json!({"redirect_uris": ["http://127.0.0.1/cb"], "client_name": "x"}))
                .unwrap();
            made["client_id"].as_str().unwrap().to_string()
        };
        let (abandoned, used, recent) = (register(), register(), register());
        let conn = db.conn().unwrap();
        let old = now_ms() - UNUSED_CLIENT_KEPT_MS - 1000;
        for id in [&abandoned, &used] {
            conn.execute(
                "UPDATE oauth_clients SET created_at = ?1 WHERE id = ?2",
                rusqlite::params![old, id],
            )
            .unwrap();
        }
        conn.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
        conn.execute(
            "INSERT INTO oauth_codes (code_hash, grant_id, client_id, user_id, store_id, mode, scopes,
                                      redirect_uri, code_challenge, resource, created_at, expires_at)
             VALUES (x'00', 'grt_x', ?1, 'usr_x', 'demo', 'live', 'products', 'http://127.0.0.1/cb', 'c', 'r', 0, 0)",
            [&used],
        )
        .unwrap();
        let newest = register();
        let left: Vec<String> = conn
            .prepare("SELECT id FROM oauth_clients ORDER BY created_at, id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert!(!left.contains(&abandoned), "{left:?}");
        for kept in [&used, &recent, &newest] {
            assert!(left.contains(kept), "{kept}: {left:?}");
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn loopback_redirects_match_any_port_and_nothing_else_loosely() {
        let reg = vec!["http://127.0.0.1/callback".to_string()];
        assert!(redirect_matches(&reg, "http://127.0.0.1:53123/callback"));
        assert!(!redirect_matches(&reg, "http://127.0.0.1:53123/other"));
        assert!(!redirect_matches(&reg, "http://localhost:53123/callback"));
        assert!(!redirect_matches(&reg, "http://127.0.0.1:53123/callback?x=1"));
        let reg = vec!["https://app.example.com/cb".to_string()];
        assert!(redirect_matches(&reg, "https://app.example.com/cb"));
        assert!(!redirect_matches(&reg, "https://app.example.com:8443/cb"));
        assert!(!redirect_matches(&reg, "https://app.example.com/cb/"));
        assert!(check_redirect_uri("http://evil.example/cb").is_err());
        assert!(check_redirect_uri("com.example.app:/cb").is_ok());
        assert!(check_redirect_uri("javascript:alert(1)").is_err());
    }

    #[test]
    fn pkce_s256() {
        // RFC 7636 appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_ok(verifier, challenge));
        assert!(!pkce_ok("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXx", challenge));
        assert!(!pkce_ok("short", challenge));
    }

    /// A database that fails while a client authenticates is the server's
    /// error: counted as `invalid_client` (401), it charged every client
    /// behind one address against the failed-login limit.
    #[test]
    fn a_failing_database_is_no_failed_client_login() {
        let dir = std::env::temp_dir().join(crate::store::new_id("whale-test"));
        let db = Arc::new(Db::open(&dir.join("w.db")).unwrap());
        let server = AuthServer::new(db.clone(), AuthConfig::default(), Vec::new());
        let form = HashMap::from([
            ("grant_type".to_string(), "client_credentials".to_string()),
            ("client_id".to_string(), "wc_nobody".to_string()),
        ]);
        let unknown = server.token(&form, None, "http://h:1", "peer").unwrap_err();
        assert_eq!(
            (unknown.status, unknown.error),
            (StatusCode::UNAUTHORIZED, "invalid_client")
        );
        db.conn()
            .unwrap()
            .execute_batch("PRAGMA foreign_keys = OFF; DROP TABLE oauth_clients;")
            .unwrap();
        let failed = server.token(&form, None, "http://h:1", "peer").unwrap_err();
        assert_eq!(
            (failed.status, failed.error),
            (StatusCode::INTERNAL_SERVER_ERROR, "server_error")
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_full_table_of_pending_sign_ins_makes_room_instead_of_refusing() {
        let pending = |id: &str, peer: &str, at: i64| Pending {
            id: id.into(),
            csrf: String::new(),
            client_id: "wc_x".into(),
            client_name: "x".into(),
            client_kind: "dynamic".into(),
            redirect_uri: "http://127.0.0.1/cb".into(),
            state: None,
            scopes: "products".into(),
            code_challenge: String::new(),
            resource: "http://h:1/mcp".into(),
            store_hint: None,
            issuer: "http://h:1".into(),
            peer: peer.into(),
            created_at: at,
            user_id: None,
            user_email: None,
            stores: Vec::new(),
            attempts: 0,
        };
        let mut map = HashMap::new();
        let ids = |map: &HashMap<String, Pending>| {
            let mut v: Vec<String> = map.keys().cloned().collect();
            v.sort();
            v
        };
        // At most 2 per address, 3 in all.
        for (id, peer, at) in [("a1", "A", 1), ("a2", "A", 2), ("a3", "A", 3)] {
            park(&mut map, pending(id, peer, at), 10, 2, 3);
        }
        assert_eq!(ids(&map), ["a2", "a3"], "an address loses its own oldest");
        park(&mut map, pending("b1", "B", 4), 10, 2, 3);
        park(&mut map, pending("c1", "C", 5), 10, 2, 3);
        assert_eq!(ids(&map), ["a3", "b1", "c1"], "full: the oldest of all goes");
        park(&mut map, pending("b2", "B", 6), 10, 2, 3);
        assert_eq!(
            ids(&map),
            ["a3", "b2", "c1"],
            "full: the address's own oldest goes first"
        );
        // Expired requests leave before anyone is evicted.
        park(
            &mut map,
            pending("d1", "D", PENDING_TTL_MS + 4),
            PENDING_TTL_MS + 4,
            2,
            3,
        );
        assert_eq!(ids(&map), ["b2", "c1", "d1"]);
    }

    #[test]
    fn resources() {
        assert!(same_resource("http://h:1/mcp", "http://h:1"));
        assert!(same_resource("http://h:1/mcp/", "http://h:1/mcp"));
        assert!(!same_resource("http://h:2/mcp", "http://h:1/mcp"));
        assert_eq!(resource_for(None, "http://h:1").unwrap(), "http://h:1/mcp");
        assert!(resource_for(Some("https://other/mcp"), "http://h:1").is_err());
    }
}
