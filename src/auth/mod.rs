//! Who is calling: scopes, the resolved [`Principal`], and API keys.

pub mod keys;
pub mod password;
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
    /// An OAuth access token (issued here, or by the external authorization
    /// server), presented to `resource` — the protected resource the request
    /// reached, whose audience the token must carry (none from the CLI).
    Token { token: Secret, resource: Option<String> },
}

impl Credential {
    /// A bearer string from an HTTP request: an API key by its shape, else
    /// an OAuth access token for `resource`.
    pub fn bearer(token: &str, resource: String) -> Credential {
        if token.starts_with("wt_live_") || token.starts_with("wt_test_") {
            Credential::ApiKey(Secret::new(token))
        } else {
            Credential::Token {
                token: Secret::new(token),
                resource: Some(resource),
            }
        }
    }
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::LocalOwner { store_id, mode } => write!(f, "LocalOwner({store_id}, {mode})"),
            Credential::ApiKey(s) => write!(f, "ApiKey({s:?})"),
            Credential::Token { resource, .. } => write!(f, "Token(****, {resource:?})"),
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
    /// The principal of a stored credential (an API key or an OAuth token
    /// row). Its scope string was written by [`ScopeSet`]; one that no
    /// longer parses grants nothing.
    pub fn stored(
        scope: Scope,
        agent_id: String,
        agent_name: String,
        scopes: &str,
        key_id: String,
        rate_limit_per_min: Option<i64>,
    ) -> Principal {
        Principal {
            scope,
            agent_id: Some(agent_id),
            agent_name,
            scopes: ScopeSet::parse(scopes).unwrap_or_else(|_| ScopeSet::none()),
            key_id: Some(key_id),
            rate_limit_per_min,
        }
    }

    pub fn local_owner(store_id: &str, mode: Mode) -> Principal {
        Principal {
            scope: Scope {
                store_id: store_id.to_string(),
                mode,
            },
            agent_id: None,
            agent_name: LOCAL_OWNER.into(),
            scopes: ScopeSet::all(),
            key_id: None,
            rate_limit_per_min: None,
        }
    }
}

/// The agent name of the local owner (stdio or the CLI without a key):
/// no key or client may take it, so the audit trail cannot be made to
/// show another caller as the owner.
pub const LOCAL_OWNER: &str = "local-owner";

/// Checks the name of an agent (a key's `--agent`, an OAuth client's name):
/// trimmed, 1–100 characters, no control or invisible format characters
/// (a name is printed in admins' terminals and on the consent page, where
/// an escape sequence could redraw the screen or forge a row, and a
/// zero-width or direction character could disguise it: see
/// [`crate::printer::hides_text`]), and not the local owner's. `what` names
/// the field in the message.
pub fn agent_name<'a>(name: &'a str, what: &str) -> Result<&'a str, String> {
    let name = name.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > 100 {
        return Err(format!("{what} must be 1–100 characters (got {chars})"));
    }
    if let Some(c) = name.chars().find(|&c| crate::printer::hides_text(c)) {
        return Err(format!(
            "{what} must not contain control characters or invisible formatting (found {})",
            c.escape_unicode()
        ));
    }
    if name.eq_ignore_ascii_case(LOCAL_OWNER) {
        return Err(format!(
            "{what} `{name}` is reserved: it names the local owner in the audit trail"
        ));
    }
    Ok(name)
}

/// The `client_name` an OAuth client gives for itself (RFC 7591
/// registration or a client ID metadata document): checked like an agent
/// name, since anyone may register and it is shown on the consent page, in
/// `whale clients list` and as the agent in the audit trail; a long one is
/// cut rather than refused. `None` when absent or blank.
pub fn client_name(raw: Option<&str>) -> Result<Option<String>, String> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(n) => {
            let n: String = n.chars().take(100).collect();
            agent_name(&n, "client_name").map(|n| Some(n.to_string()))
        }
    }
}

/// The PKCE S256 code challenge of a verifier (RFC 7636 §4.2): the
/// base64url (unpadded) SHA-256 of it. The login client sends it, the
/// authorization server checks it.
pub fn pkce_s256(verifier: &str) -> String {
    use base64::Engine;
    use sha2::{Digest, Sha256};
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
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
    #[error("the access token is not known (revoked, expired long ago, or from another server)")]
    UnknownToken,
    /// A bearer string of neither shape (a mistyped OAuth token was told
    /// it was a malformed API key).
    #[error(
        "the bearer token is neither an API key (wt_live_… or wt_test_…) nor an access token of this server (wo_at_…); check that it was copied whole"
    )]
    MalformedToken,
    #[error("the access token expired; refresh it or sign in again")]
    TokenExpired,
    #[error("the access token was revoked; sign in again")]
    TokenRevoked,
    #[error("the access token was issued for another resource (`{0}`), not this server")]
    WrongAudience(String),
    #[error(
        "the authorization server's answer names no audience (`aud`), so the token may be for another resource; \
         it must name this server"
    )]
    NoAudience,
    #[error("the authorization server's answer names no store (`store_id`) or an unknown mode")]
    NoStoreClaim,
    #[error("the token could not be checked with the authorization server")]
    IntrospectionFailed,
    #[error(transparent)]
    Db(#[from] crate::store::DbError),
}
