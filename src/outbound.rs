//! Outbound HTTP (OAuth discovery, client metadata documents, token
//! introspection, `whale login`): every reqwest client starts here, so every
//! one has the same TLS provider and user agent.

use std::sync::Once;

/// A reqwest client builder with TLS on rustls + ring and whale's user
/// agent. reqwest is built without a provider of its own (the default,
/// aws-lc-rs, is larger and runs a constructor in every `whale` process,
/// including the ones that never open a connection), so ring is installed
/// as the process default before the first client is built.
pub fn builder() -> reqwest::ClientBuilder {
    static PROVIDER: Once = Once::new();
    PROVIDER.call_once(|| {
        // Err only when a default is already installed: fine either way.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder().user_agent(concat!("whale/", env!("CARGO_PKG_VERSION")))
}
