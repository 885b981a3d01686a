//! Who is calling: scopes, the resolved [`Principal`], and API keys.

pub mod keys;
pub mod scopes;

pub use scopes::ScopeSet;

use crate::store::{Mode, Scope};

/// How a caller presents itself before it is resolved.
#[derive(Clone)]
pub enum Credential {
    /// stdio on the local database with no key: the owner of the machine,
    /// every scope, on the live mode of the chosen store.
    LocalOwner { store_id: String, mode: Mode },
    /// An API key (`wt_live_…` / `wt_test_…`).
    ApiKey(Secret),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::LocalOwner { store_id, mode } => write!(f, "LocalOwner({store_id}, {mode})"),
            Credential::ApiKey(s) => write!(f, "ApiKey({s:?})"),
        }
    }
}

/// A resolved caller: its store partition, its agent and its scopes.
#[derive(Debug, Clone)]
pub struct Principal {
    pub scope: Scope,
    pub agent_id: Option<String>,
    pub agent_name: String,
    pub scopes: ScopeSet,
    pub key_id: Option<String>,
    /// Requests per minute in HTTP mode, when the key sets its own.
    pub rate_limit_per_min: Option<i64>,
}

impl Principal {
    pub fn local_owner(store_id: &str, mode: Mode) -> Principal {
        Principal {
            scope: Scope {
                store_id: store_id.to_string(),
                mode,
            },
            agent_id: None,
            agent_name: "local-owner".into(),
            scopes: ScopeSet::all(),
            key_id: None,
            rate_limit_per_min: None,
        }
    }
}

/// A secret string that never prints itself.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("****")
    }
}
impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("****")
    }
}

/// A credential that does not resolve.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("the API key is malformed (expected wt_live_… or wt_test_… with a valid checksum)")]
    Malformed,
    #[error("the API key is not known to this store (revoked, or from another database)")]
    Unknown,
    #[error("the API key {0} was revoked")]
    Revoked(String),
    #[error("the API key {0} expired")]
    Expired(String),
    #[error("store `{0}` does not exist; `whale stores list` shows the stores")]
    NoStore(String),
    #[error(transparent)]
    Db(#[from] crate::store::DbError),
}
