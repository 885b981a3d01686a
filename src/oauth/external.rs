//! External authorization server mode (`--auth-server URL`): whale is a pure
//! resource server. Bearer tokens that are not whale API keys are validated
//! by RFC 7662 introspection at that server; active answers are cached for
//! at most [`MAX_CACHE`] (never past the token's `exp`), and any failure to
//! introspect denies. The store and mode come from the answer's `store_id`
//! and `mode` members; its `aud` must name this server (an answer without
//! one is refused), checked again on every cached use.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::auth::{AuthError, Principal, ScopeSet, Secret};
use crate::store::{Db, Mode, Scope, now_ms, stores};

pub const MAX_CACHE: Duration = Duration::from_secs(60);
const TIMEOUT: Duration = Duration::from_secs(5);
const MAX_ENTRIES: usize = 10_000;

pub struct ExternalConfig {
    /// The authorization server's issuer URL (named in RFC 9728 metadata).
    pub issuer: String,
    /// Its introspection endpoint (discovered from RFC 8414 metadata when
    /// not given).
    pub introspection_endpoint: Option<String>,
    pub client_id: String,
    pub client_secret: Secret,
    /// How long an active answer is trusted (capped at [`MAX_CACHE`]).
    pub cache_ttl: Duration,
}

/// An accepted introspection answer: who, for which audiences, until when.
struct Cached {
    principal: Principal,
    audiences: Vec<String>,
    until: Instant,
}

pub struct Introspector {
    pub issuer: String,
    endpoint: String,
    client_id: String,
    client_secret: Secret,
    cache_ttl: Duration,
    http: reqwest::Client,
    db: Arc<Db>,
    cache: Mutex<HashMap<Vec<u8>, Cached>>,
    /// Whether the last introspection call got an answer (for /health).
    last_ok: AtomicBool,
}

impl Introspector {
    /// Builds the introspector, discovering the endpoint from
    /// `{issuer}/.well-known/oauth-authorization-server` when needed.
    pub async fn new(cfg: ExternalConfig, db: Arc<Db>) -> Result<Introspector, String> {
        let http = crate::outbound::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
        let issuer = cfg.issuer.trim_end_matches('/').to_string();
        let endpoint = match cfg.introspection_endpoint {
            Some(e) => e,
            None => {
                let url = format!("{issuer}/.well-known/oauth-authorization-server");
                let doc: Value = http
                    .get(&url)
                    .send()
                    .await
                    .and_then(|r| r.error_for_status())
                    .map_err(|e| format!("cannot read {url}: {}", e.without_url()))?
                    .json()
                    .await
                    .map_err(|e| format!("{url} is not JSON: {e}"))?;
                doc.get("introspection_endpoint")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .ok_or_else(|| {
                        format!("{url} names no introspection_endpoint; pass --introspection-endpoint")
                    })?
            }
        };
        Ok(Introspector {
            issuer,
            endpoint,
            client_id: cfg.client_id,
            client_secret: cfg.client_secret,
            cache_ttl: cfg.cache_ttl.min(MAX_CACHE),
            http,
            db,
            cache: Mutex::new(HashMap::new()),
            last_ok: AtomicBool::new(true),
        })
    }

    /// Whether the authorization server answered the last introspection.
    pub fn healthy(&self) -> bool {
        self.last_ok.load(Ordering::Relaxed)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, Cached>> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `token` was accepted recently and is still cached: it would
    /// be served without a call to the authorization server.
    pub fn knows(&self, token: &Secret) -> bool {
        let key = crate::auth::keys::hash(token);
        self.cache().get(&key).is_some_and(|c| Instant::now() < c.until)
    }

    pub async fn resolve(&self, token: &Secret, resource: Option<&str>) -> Result<Principal, AuthError> {
        let key = crate::auth::keys::hash(token);
        if let Some(c) = self.cache().get(&key)
            && Instant::now() < c.until
        {
            // The answer is cached, not the decision: a token accepted at
            // one resource is not thereby accepted at another.
            check_audience(&c.audiences, resource)?;
            return Ok(c.principal.clone());
        }
        let resp = self
            .http
            .post(&self.endpoint)
            .basic_auth(&self.client_id, Some(self.client_secret.expose()))
            .form(&[("token", token.expose()), ("token_type_hint", "access_token")])
            .send()
            .await
            .map_err(|e| {
                tracing::warn!(error = %e.without_url(), "token introspection failed");
                self.last_ok.store(false, Ordering::Relaxed);
                AuthError::IntrospectionFailed
            })?;
        if !resp.status().is_success() {
            tracing::warn!(status = %resp.status(), "token introspection refused");
            self.last_ok.store(false, Ordering::Relaxed);
            return Err(AuthError::IntrospectionFailed);
        }
        let body: Value = resp.json().await.map_err(|_| {
            self.last_ok.store(false, Ordering::Relaxed);
            AuthError::IntrospectionFailed
        })?;
        self.last_ok.store(true, Ordering::Relaxed);
        let (principal, exp, audiences) = self.principal(&body, resource)?;
        let ttl = exp
            .map(|e| Duration::from_millis((e * 1000 - now_ms()).max(0) as u64))
            .map_or(self.cache_ttl, |d| d.min(self.cache_ttl));
        let mut cache = self.cache();
        if cache.len() >= MAX_ENTRIES {
            let now = Instant::now();
            cache.retain(|_, c| c.until > now);
            if cache.len() >= MAX_ENTRIES {
                cache.clear();
            }
        }
        cache.insert(
            key,
            Cached {
                principal: principal.clone(),
                audiences,
                until: Instant::now() + ttl,
            },
        );
        Ok(principal)
    }

    /// The caller an active answer describes, its `exp`, and its audiences.
    fn principal(
        &self,
        body: &Value,
        resource: Option<&str>,
    ) -> Result<(Principal, Option<i64>, Vec<String>), AuthError> {
        if body.get("active") != Some(&Value::Bool(true)) {
            return Err(AuthError::UnknownToken);
        }
        let exp = body.get("exp").and_then(Value::as_i64);
        if exp.is_some_and(|e| e * 1000 <= now_ms()) {
            return Err(AuthError::TokenExpired);
        }
        let audiences: Vec<String> = match body.get("aud") {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(str::to_string).collect(),
            _ => vec![],
        };
        check_audience(&audiences, resource)?;
        let store_id = body
            .get("store_id")
            .and_then(Value::as_str)
            .ok_or(AuthError::NoStoreClaim)?
            .to_string();
        let mode = match body.get("mode").and_then(Value::as_str) {
            None => Mode::Live,
            Some(m) => Mode::parse(m).ok_or(AuthError::NoStoreClaim)?,
        };
        let conn = self.db.conn()?;
        if !stores::exists(&conn, &store_id).map_err(crate::store::DbError::from)? {
            return Err(AuthError::NoStore(store_id));
        }
        let scopes = body
            .get("scope")
            .and_then(Value::as_str)
            .map(ScopeSet::parse)
            .transpose()
            .map_err(|_| AuthError::UnknownToken)?
            .ok_or(AuthError::UnknownToken)?;
        let client = body
            .get("client_id")
            .and_then(Value::as_str)
            .unwrap_or("oauth-client");
        let sub = body.get("sub").and_then(Value::as_str).unwrap_or("");
        // The agent's name in the audit trail comes from another server:
        // checked like any client's name (no escape sequences, not the local
        // owner's), falling back to the client id, then to a fixed name.
        let checked = |n: Option<&str>| crate::auth::client_name(n).ok().flatten();
        let name = checked(body.get("username").and_then(Value::as_str))
            .or_else(|| checked(Some(client)))
            .unwrap_or_else(|| "external client".into());
        Ok((
            Principal {
                scope: Scope { store_id, mode },
                agent_id: None,
                agent_name: name,
                scopes,
                key_id: Some(format!("ext:{client}:{sub}")),
                rate_limit_per_min: None,
            },
            exp,
            audiences,
        ))
    }
}

/// A token is for this server only when its answer says so: an answer
/// without `aud` could be for any resource the authorization server
/// serves, so it is refused rather than taken for one of ours.
fn check_audience(audiences: &[String], resource: Option<&str>) -> Result<(), AuthError> {
    if audiences.is_empty() {
        return Err(AuthError::NoAudience);
    }
    if let Some(r) = resource
        && !audiences.iter().any(|a| super::same_resource(a, r))
    {
        return Err(AuthError::WrongAudience(audiences.join(" ")));
    }
    Ok(())
}
