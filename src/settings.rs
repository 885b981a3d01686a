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
/// Where `whale login` keeps tokens: `keychain` (the default) or `file`
/// (same as `--insecure-storage`).
pub const WHALE_CREDENTIAL_STORE: &str = "WHALE_CREDENTIAL_STORE";
/// Directory for the login index, the file credential store and lock files
/// (default: `$XDG_CONFIG_HOME/whale`, else `~/.config/whale` on Unix).
pub const WHALE_CONFIG_DIR: &str = "WHALE_CONFIG_DIR";
/// Hidden, for tests: how long (ms) the audit writer may fail before calls
/// stop waiting for a full audit queue (default 60000; see `audit::GIVE_UP`).
pub const WHALE_AUDIT_GIVE_UP_MS: &str = "WHALE_AUDIT_GIVE_UP_MS";
/// XDG base directories (Unix).
const XDG_DATA_HOME: &str = "XDG_DATA_HOME";
const XDG_CONFIG_HOME: &str = "XDG_CONFIG_HOME";
/// A graphical session on Linux/BSD: `whale login` launches a browser only
/// when one of these is set.
const DISPLAY: &str = "DISPLAY";
const WAYLAND_DISPLAY: &str = "WAYLAND_DISPLAY";
/// This machine's name, for the OAuth client name (else /proc or "unknown").
const HOSTNAME: &str = "HOSTNAME";

/// Where the database lives when neither `--db` nor `WHALE_DB` says: the
/// XDG data directory on every Unix (so macOS users find it where Linux
/// users do), the platform's data directory elsewhere.
pub fn default_db_path() -> Result<PathBuf, CliError> {
    whale_dir(XDG_DATA_HOME, ".local/share", |d| d.data_dir())
        .map(|d| d.join("whale.db"))
        .ok_or_else(|| CliError::Runtime("cannot find a home directory; pass --db PATH".into()))
}

/// whale's directory of one XDG kind: `$XDG_…/whale`, else `~/<home_rel>/whale`
/// on every Unix, else the platform's directory (`platform` of
/// `ProjectDirs`).
fn whale_dir(
    xdg_var: &str,
    home_rel: &str,
    platform: fn(&directories::ProjectDirs) -> &std::path::Path,
) -> Option<PathBuf> {
    #[cfg(unix)]
    {
        if let Some(x) = std::env::var_os(xdg_var).filter(|v| !v.is_empty()) {
            return Some(PathBuf::from(x).join("whale"));
        }
        if let Some(home) = directories::BaseDirs::new().map(|b| b.home_dir().to_path_buf()) {
            return Some(home.join(home_rel).join("whale"));
        }
    }
    directories::ProjectDirs::from("", "", "whale").map(|d| platform(&d).to_path_buf())
}

/// The per-call timeout: `WHALE_TOOL_TIMEOUT_MS`, else the default. A value
/// that is not a positive number of milliseconds is an error, not ignored.
pub fn tool_timeout() -> Result<Duration, CliError> {
    match std::env::var(WHALE_TOOL_TIMEOUT_MS) {
        // Empty counts as unset, as for the other variables.
        Err(_) => Ok(crate::pipeline::DEFAULT_TIMEOUT),
        Ok(v) if v.trim().is_empty() => Ok(crate::pipeline::DEFAULT_TIMEOUT),
        Ok(v) => match v.trim().parse::<u64>() {
            Ok(ms) if (1..=3_600_000).contains(&ms) => Ok(Duration::from_millis(ms)),
            _ => Err(CliError::Usage(format!(
                "{WHALE_TOOL_TIMEOUT_MS}=`{v}`: give the per-call timeout in milliseconds, 1 to 3600000"
            ))),
        },
    }
}

/// `WHALE_AUDIT_GIVE_UP_MS`, if set to a positive number of milliseconds
/// (hidden, for tests; anything else is the default).
pub fn audit_give_up() -> Option<Duration> {
    std::env::var(WHALE_AUDIT_GIVE_UP_MS)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis)
}

/// The store `WHALE_STORE` names, if set (it wins over `whale stores use`).
pub fn store_env() -> Option<String> {
    std::env::var(WHALE_STORE).ok().filter(|v| !v.trim().is_empty())
}

/// The API key from the environment, if any (an empty value is none).
pub fn api_key() -> Option<Secret> {
    std::env::var(WHALETOOLS_API_KEY)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .map(|v| Secret::new(v.trim()))
}

/// The API key for a session that acts as it (`whale mcp`, the bridge,
/// `whale tools call|test`). Set but empty is refused (exit 3) rather than
/// read as no key: a host config or CI job that sets the variable meant to
/// hand over a key (an unexpanded template, a secret a fork cannot see),
/// and without one the session would act as the local owner with every
/// scope, or as the stored login.
pub fn session_api_key() -> Result<Option<Secret>, CliError> {
    match std::env::var(WHALETOOLS_API_KEY) {
        Ok(v) if v.trim().is_empty() => Err(CliError::Auth(format!(
            "{WHALETOOLS_API_KEY} is set but empty: set it to an API key (wt_live_… or wt_test_…), or unset it"
        ))),
        _ => Ok(api_key()),
    }
}

/// How commands that run tools present themselves: the key in the
/// environment, else the local owner of `store_id`.
pub fn credential(store_id: &str) -> Result<Credential, CliError> {
    Ok(match session_api_key()? {
        Some(k) => Credential::ApiKey(k),
        None => Credential::LocalOwner {
            store_id: store_id.to_string(),
            mode: crate::store::Mode::Live,
        },
    })
}

/// The introspection client secret for `--auth-server`, if set.
pub fn introspection_secret() -> Option<Secret> {
    std::env::var(WHALE_INTROSPECTION_CLIENT_SECRET)
        .ok()
        .filter(|v| !v.is_empty())
        .map(Secret::new)
}

/// Where login tokens go, from `WHALE_CREDENTIAL_STORE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialStoreChoice {
    Keychain,
    File,
}

/// `WHALE_CREDENTIAL_STORE`, if set; a value other than `keychain` or
/// `file` is a usage error.
pub fn credential_store() -> Result<Option<CredentialStoreChoice>, CliError> {
    match std::env::var(WHALE_CREDENTIAL_STORE) {
        Err(_) => Ok(None),
        Ok(v) => match v.trim().to_ascii_lowercase().as_str() {
            "" => Ok(None),
            "keychain" => Ok(Some(CredentialStoreChoice::Keychain)),
            "file" => Ok(Some(CredentialStoreChoice::File)),
            other => Err(CliError::Usage(format!(
                "{WHALE_CREDENTIAL_STORE}={other}: expected `keychain` or `file`"
            ))),
        },
    }
}

/// The directory holding `logins.json`, `credentials.json` and lock files:
/// `WHALE_CONFIG_DIR`, else the XDG config directory on every Unix, else the
/// platform's config directory.
pub fn config_dir() -> Result<PathBuf, CliError> {
    if let Some(d) = std::env::var_os(WHALE_CONFIG_DIR).filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(d));
    }
    whale_dir(XDG_CONFIG_HOME, ".config", |d| d.config_dir())
        .ok_or_else(|| CliError::Runtime(format!("cannot find a home directory; set {WHALE_CONFIG_DIR}")))
}

/// Can a browser window be opened here? Always on macOS and Windows; on
/// other Unix systems only inside a graphical session.
pub fn has_display() -> bool {
    if cfg!(any(target_os = "macos", target_os = "windows")) {
        return true;
    }
    [DISPLAY, WAYLAND_DISPLAY]
        .iter()
        .any(|k| std::env::var_os(k).is_some_and(|v| !v.is_empty()))
}

/// This machine's name (for the OAuth client name shown on consent pages).
pub fn hostname() -> String {
    std::env::var(HOSTNAME)
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown host".into())
}
