//! The client side of whale's OAuth: `whale login` obtains tokens from a
//! remote whale server's authorization server ([`oauth`]), keeps them in the
//! OS keychain or an explicit 0600 file ([`store`]), refreshes them one
//! process at a time ([`session`]), and `whale mcp --server URL` bridges a
//! desktop host's stdio to the remote MCP endpoint with them ([`bridge`]).

pub mod bridge;
pub mod oauth;
pub mod session;
pub mod store;

use std::time::Duration;

use crate::error::CliError;

/// Runs blocking work (keychain calls, file locks) off the async threads,
/// bounded by `limit`: a keychain that never answers must not hang whale
/// (the OS may be showing an unlock prompt nobody will see).
pub async fn blocking<T, F>(limit: Duration, what: &str, f: F) -> Result<T, CliError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, CliError> + Send + 'static,
{
    match tokio::time::timeout(limit, tokio::task::spawn_blocking(f)).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => Err(CliError::Runtime(format!("{what} failed: {e}"))),
        Err(_) => Err(CliError::Runtime(format!(
            "{what} did not finish within {} s (is the keychain waiting to be unlocked?)",
            limit.as_secs()
        ))),
    }
}

/// How long a keychain or file-store operation may take.
pub const STORE_LIMIT: Duration = Duration::from_secs(30);
/// How long to wait for another whale process that is refreshing the same
/// login (its refresh request is itself bounded by the HTTP timeout).
pub const LOCK_LIMIT: Duration = Duration::from_secs(90);
