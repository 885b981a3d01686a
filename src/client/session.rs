//! Using a stored login: a valid access token, refreshed before it expires
//! (or after the server answers 401).
//!
//! The server rotates the refresh token on every use and revokes the whole
//! family when an old one comes back, so refreshes of one login are
//! serialized across processes: an exclusive lock on a per-login lock file,
//! then re-read the stored credential (another process may have refreshed it
//! already — then use that), refresh, store, unlock.

use std::sync::Arc;

use crate::auth::Secret;
use crate::client::oauth::{self, TokenError};
use crate::client::store::{self, LoginEntry, StoredCredential, Vault};
use crate::client::{LOCK_LIMIT, STORE_LIMIT, blocking};
use crate::error::CliError;

/// Refresh when the access token expires within this many seconds.
pub const REFRESH_MARGIN_SECS: i64 = 60;

/// A login in use.
pub struct LoginSession {
    vault: Arc<Vault>,
    entry: LoginEntry,
    cred: StoredCredential,
    http: reqwest::Client,
}

impl LoginSession {
    /// The store this login is for.
    pub fn store_id(&self) -> &str {
        &self.entry.store_id
    }

    /// Loads the stored login `entry`.
    pub async fn open(vault: Arc<Vault>, entry: LoginEntry) -> Result<LoginSession, CliError> {
        let cred = {
            let (v, e) = (vault.clone(), entry.clone());
            blocking(STORE_LIMIT, "reading the stored login", move || v.load(&e)).await?
        };
        Ok(LoginSession {
            vault,
            entry,
            cred,
            http: oauth::http_client()?,
        })
    }

    /// An access token that is not about to expire.
    pub async fn fresh(&mut self) -> Result<Secret, CliError> {
        if self.cred.expires_within(REFRESH_MARGIN_SECS) {
            self.refresh(None).await?;
        }
        Ok(self.cred.access_token.clone())
    }

    /// A replacement for `rejected`, which the server answered 401 to.
    pub async fn after_rejection(&mut self, rejected: &Secret) -> Result<Secret, CliError> {
        if self.cred.access_token != *rejected {
            // Another task of this process refreshed already.
            return Ok(self.cred.access_token.clone());
        }
        self.refresh(Some(rejected.clone())).await?;
        Ok(self.cred.access_token.clone())
    }

    async fn refresh(&mut self, rejected: Option<Secret>) -> Result<(), CliError> {
        let lock_path = self.vault.paths.refresh_lock(&self.entry.key());
        let _guard = blocking(
            LOCK_LIMIT,
            "waiting for another whale process to refresh the login",
            move || store::lock_file(&lock_path),
        )
        .await?;
        let current = {
            let (v, e) = (self.vault.clone(), self.entry.clone());
            blocking(STORE_LIMIT, "reading the stored login", move || v.load(&e)).await?
        };
        let already = match &rejected {
            Some(r) => current.access_token != *r,
            None => !current.expires_within(REFRESH_MARGIN_SECS),
        };
        if already {
            tracing::debug!(server = %current.server, "another process refreshed the login");
            self.cred = current;
            return Ok(());
        }
        let server = current.server.clone();
        let relogin = format!(
            "run {}",
            crate::client::store::login_command(&server, Some(&current.store_id))
        );
        let Some(refresh_token) = current.refresh_token.clone() else {
            return Err(CliError::Auth(format!(
                "the login for {server} (store {}) has expired and cannot be refreshed; {relogin}",
                current.store_id
            )));
        };
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose()),
            ("client_id", current.client_id.as_str()),
            ("resource", current.resource.as_str()),
        ];
        let tr = match oauth::token_request(&self.http, &current.token_endpoint, &form).await {
            Ok(tr) => tr,
            Err(e @ TokenError::OAuth { .. }) => {
                return Err(CliError::Auth(format!(
                    "the login for {server} (store {}) is no longer valid ({e}); {relogin}",
                    current.store_id
                )));
            }
            Err(TokenError::Other(e)) => {
                return Err(CliError::Runtime(format!(
                    "cannot refresh the login for {server}: {e}"
                )));
            }
        };
        let now = jiff::Timestamp::now().as_second();
        let next = StoredCredential {
            access_token: Secret::new(tr.access_token),
            // A server that does not rotate keeps the old refresh token valid.
            refresh_token: tr.refresh_token.map(Secret::new).or(Some(refresh_token)),
            expires_at: tr.expires_in.map(|s| now + s),
            scopes: tr.scope.unwrap_or(current.scopes.clone()),
            ..current
        };
        {
            let (v, c, kind) = (self.vault.clone(), next.clone(), self.entry.storage);
            blocking(STORE_LIMIT, "storing the refreshed login", move || {
                v.save(&c, kind)
            })
            .await?;
        }
        tracing::info!(server = %next.server, store = %next.store_id, "refreshed the access token");
        self.cred = next;
        Ok(())
    }
}
