//! Flags + environment → one resolved configuration. Every environment
//! variable whale reads is declared here, once, and read only here.
#![allow(clippy::disallowed_methods)]

use std::path::PathBuf;
use std::time::Duration;

use crate::auth::{Credential, Secret};
use crate::error::CliError;

/// Database file (same as `--db`).
pub const WHALE_DB: &str = "WHALE_DB";
/// Store to act on (same as `--store`).
pub const WHALE_STORE: &str = "WHALE_STORE";
/// An API key: the session acts as that key (its store, mode and scopes).
pub const WHALETOOLS_API_KEY: &str = "WHALETOOLS_API_KEY";
/// Per-call execution deadline in milliseconds (default 30000).
pub const WHALE_TOOL_TIMEOUT_MS: &str = "WHALE_TOOL_TIMEOUT_MS";
/// Client id whale introspects tokens with at an external authorization server.
pub const WHALE_INTROSPECTION_CLIENT_ID: &str = "WHALE_INTROSPECTION_CLIENT_ID";
/// Its secret (never a flag: flags show up in process listings).
pub const WHALE_INTROSPECTION_CLIENT_SECRET: &str = "WHALE_INTROSPECTION_CLIENT_SECRET";
/// Log filter for stderr (tracing's EnvFilter syntax).
pub const RUST_LOG: &str = "RUST_LOG";

/// Where the database lives when neither `--db` nor `WHALE_DB` says: the
/// XDG data directory on every Unix (so macOS users find it where Linux
/// users do), the platform's data directory elsewhere.
pub fn default_db_path() -> Result<PathBuf, CliError> {
    #[cfg(unix)]
    {
        if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
            return Ok(PathBuf::from(x).join("whale").join("whale.db"));
        }
        if let Some(home) = directories::BaseDirs::new().map(|b| b.home_dir().to_path_buf()) {
            return Ok(home.join(".local/share/whale/whale.db"));
        }
    }
    directories::ProjectDirs::from("", "", "whale")
        .map(|d| d.data_dir().join("whale.db"))
        .ok_or_else(|| CliError::Runtime("cannot find a home directory; pass --db PATH".into()))
}

pub fn tool_timeout() -> Duration {
    std::env::var(WHALE_TOOL_TIMEOUT_MS)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|&ms| ms > 0)
        .map(Duration::from_millis)
        .unwrap_or(crate::pipeline::DEFAULT_TIMEOUT)
}

/// The API key from the environment, if any (an empty value counts as none).
pub fn api_key() -> Option<Secret> {
    std::env::var(WHALETOOLS_API_KEY)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .map(|v| Secret::new(v.trim()))
}

/// How commands that run tools present themselves: the key in the
/// environment, else the local owner of `store_id`.
pub fn credential(store_id: &str) -> Credential {
    match api_key() {
        Some(k) => Credential::ApiKey(k),
        None => Credential::LocalOwner {
            store_id: store_id.to_string(),
            mode: crate::store::Mode::Live,
        },
    }
}

/// The introspection client secret for `--auth-server`, if set.
pub fn introspection_secret() -> Option<Secret> {
    std::env::var(WHALE_INTROSPECTION_CLIENT_SECRET)
        .ok()
        .filter(|v| !v.is_empty())
        .map(Secret::new)
}
