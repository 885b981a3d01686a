//! `whale mcp`: serve the tools over stdio.

use rmcp::ServiceExt;

use crate::app::App;
use crate::cli::{McpArgs, Transport};
use crate::error::CliError;
use crate::tools::{Category, ToolFilter};
use crate::transport::{http, mcp::WhaleServer, stdio};

pub fn filter(app: &App, args: &McpArgs) -> Result<ToolFilter, CliError> {
    let categories = args
        .categories
        .as_ref()
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    Category::parse(c.trim()).ok_or_else(|| {
                        CliError::Usage(format!(
                            "unknown category `{c}`; one of {}",
                            Category::ALL.map(|c| c.as_str()).join(", ")
                        ))
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    if let Some(names) = &args.tools {
        for n in names {
            if app.pipeline.registry().tool(n.trim()).is_none() {
                let known: Vec<&str> = app.pipeline.registry().tools().iter().map(|t| t.name).collect();
                return Err(CliError::Usage(format!(
                    "unknown tool `{n}`; known tools: {}",
                    known.join(", ")
                )));
            }
        }
    }
    let filter = ToolFilter {
        tools: args
            .tools
            .as_ref()
            .map(|v| v.iter().map(|s| s.trim().to_string()).collect()),
        categories,
        read_only: args.read_only,
    };
    // A server with nothing to list is a mistake in the filters (often a
    // category of the spec whose tools are still to come), not a setup.
    let registry = app.pipeline.registry();
    let serves = |t: &crate::tools::Tool| {
        filter.allows_tool(t) && t.actions.iter().any(|a| filter.allows_action(t, a))
    };
    if !registry.tools().iter().any(serves) {
        let mut with_tools: Vec<&str> = registry.tools().iter().map(|t| t.category.as_str()).collect();
        with_tools.sort_unstable();
        with_tools.dedup();
        return Err(CliError::Usage(format!(
            "these filters leave no tool to serve; categories with tools in this version: {}",
            with_tools.join(", ")
        )));
    }
    Ok(filter)
}

pub async fn run(app: &App, args: McpArgs) -> Result<(), CliError> {
    let filter = filter(app, &args)?;
    // Reads are microseconds of SQLite work: running them on the calling
    // task costs less than a hop to the blocking pool and back (measured).
    app.pipeline.set_inline_reads(true);
    if args.transport != Transport::Stdio {
        return serve_http(app, args, filter).await;
    }
    // Refuse a bad credential before the host starts talking to us: the
    // reason lands in the host's MCP log (stderr) instead of every call.
    let (cred, principal) = app.credential()?;
    tracing::info!(store = %principal.scope.store_id, mode = %principal.scope.mode, agent = %principal.agent_name, "serving MCP over stdio");

    let server = WhaleServer::new(
        app.pipeline.clone(),
        Some(cred),
        filter,
        args.tool_mode,
        args.page_size,
    );
    let (transport, writer) = stdio::transport();
    let running = match server.serve(transport).await {
        Ok(r) => r,
        Err(e) => {
            // stdin closed before initialize, or a first message that was not
            // initialize: nothing more to serve.
            tracing::warn!(error = %e, "MCP session did not start");
            writer.finish().await;
            return Ok(());
        }
    };
    let ct = running.cancellation_token();
    let waiting = running.waiting();
    tokio::pin!(waiting);
    tokio::select! {
        r = &mut waiting => {
            if let Err(e) = r { tracing::warn!(error = %e, "MCP session ended with an error"); }
        }
        _ = shutdown_signal() => {
            // As the HTTP server does: no new request is read, the calls in
            // flight finish and are answered (rmcp gives them 5 s after the
            // input ends, then cancels what is left); a second signal
            // cancels them at once.
            tracing::info!("signal received; finishing the calls in flight (a second signal stops them)");
            writer.stop_reading();
            tokio::select! {
                _ = &mut waiting => {}
                _ = shutdown_signal() => {
                    ct.cancel();
                    let _ = waiting.await;
                }
            }
        }
    }
    app.shutdown();
    writer.finish().await;
    Ok(())
}

pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// An http(s) origin and its host name, from a URL that is nothing more:
/// no path (beyond `/`), query, fragment or credentials; or why not.
fn parse_origin(raw: &str) -> Result<(String, String), &'static str> {
    let u = url::Url::parse(raw.trim()).map_err(|_| "not a URL")?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err("use an http:// or https:// URL");
    }
    let Some(host) = u.host_str() else {
        return Err("the URL has no host");
    };
    if u.path() != "/" || u.query().is_some() || u.fragment().is_some() {
        return Err("give the origin only (scheme://host[:port]), no path");
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err("the URL must not carry credentials");
    }
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    Ok((u.origin().ascii_serialization(), host))
}

/// `--public-url` as (origin, host name): the server answers at its root,
/// so a path prefix would put the endpoints it advertises where no route
/// serves them.
fn public_origin(raw: &str) -> Result<(String, String), CliError> {
    parse_origin(raw).map_err(|why| {
        let hint = if why.contains("path") {
            "; serving under a path prefix is not supported"
        } else {
            ", e.g. https://mcp.example.com"
        };
        CliError::Usage(format!("--public-url `{raw}`: {why}{hint}"))
    })
}

/// An `--allowed-origin` as browsers send it in `Origin`: scheme://host[:port]
/// (lower-case, no default port). A value that could never equal an Origin
/// header — a path, a missing scheme — is refused rather than kept.
fn allowed_origin(raw: &str) -> Result<String, CliError> {
    parse_origin(raw).map(|(origin, _)| origin).map_err(|why| {
        CliError::Usage(format!(
            "--allowed-origin `{raw}`: {why}, e.g. https://app.example.com"
        ))
    })
}

/// An `--allowed-host`: a host name or IP address as the `Host` header names
/// it, without the port (any port is served) — a URL or a path could never
/// match and is refused rather than kept.
fn allowed_host(raw: &str) -> Result<String, CliError> {
    let h = raw.trim().to_ascii_lowercase();
    let bare = h.trim_start_matches('[').trim_end_matches(']');
    let ok = !h.is_empty()
        && !h.contains(['/', '@', '?', '#', ' '])
        && (bare.parse::<std::net::IpAddr>().is_ok() || (!h.contains(':') && url::Host::parse(&h).is_ok()));
    if !ok {
        return Err(CliError::Usage(format!(
            "--allowed-host `{raw}`: give a host name or address as clients send it in Host, without scheme, port or path, e.g. whale.example.com"
        )));
    }
    Ok(bare.to_string())
}

async fn serve_http(app: &App, args: McpArgs, filter: ToolFilter) -> Result<(), CliError> {
    if crate::settings::api_key().is_some() {
        tracing::warn!(
            "{} is ignored in HTTP mode: every request brings its own credential",
            crate::settings::WHALETOOLS_API_KEY
        );
    }
    if app.store_named() {
        tracing::warn!(
            store = %app.store_id,
            "--store (or WHALE_STORE) is ignored in HTTP mode: every credential acts on its own store"
        );
    }
    let allowed_origins = args
        .allowed_origins
        .iter()
        .map(|o| allowed_origin(o))
        .collect::<Result<Vec<_>, _>>()?;
    let allowed_hosts = args
        .allowed_hosts
        .iter()
        .map(|h| allowed_host(h))
        .collect::<Result<Vec<_>, _>>()?;
    let public = args.public_url.as_deref().map(public_origin).transpose()?;
    // Loopback binds answer loopback names only (DNS-rebinding defence); a
    // public bind also answers its own address and the --allowed-host names,
    // and any Host when bound to all interfaces with none named (health
    // checks and proxies address a container by its own IP or name). The
    // --public-url's host and origin are the server's own: always allowed.
    let mut hosts: Vec<String> = allowed_hosts
        .into_iter()
        .chain(public.as_ref().map(|(_, host)| host.clone()))
        .collect();
    let mut origins = allowed_origins;
    origins.extend(public.as_ref().map(|(origin, _)| origin.clone()));
    if !args.host.is_unspecified() {
        hosts.push(args.host.to_string());
    }
    if args.host.is_unspecified() && args.allowed_hosts.is_empty() {
        tracing::warn!("bound to all interfaces with no --allowed-host: any Host header is accepted");
        hosts.clear();
    } else if hosts.is_empty() {
        hosts.push("localhost".into());
    }
    let auth = match &args.auth_server {
        None => http::AuthMode::Embedded(crate::oauth::AuthConfig {
            access_ttl: args.access_token_ttl,
            refresh_ttl: args.refresh_token_ttl,
            insecure_client_metadata: args.insecure_client_metadata,
            ..Default::default()
        }),
        Some(issuer) => {
            if args.introspection_cache_ttl > crate::oauth::external::MAX_CACHE {
                return Err(CliError::Usage(
                    "--introspection-cache-ttl may be at most 60s: a revoked token must stop working within a minute"
                        .into(),
                ));
            }
            let client_id = args.introspection_client_id.clone().ok_or_else(|| {
                CliError::Usage(format!(
                    "--auth-server needs --introspection-client-id (or {}) and {}",
                    crate::settings::WHALE_INTROSPECTION_CLIENT_ID,
                    crate::settings::WHALE_INTROSPECTION_CLIENT_SECRET
                ))
            })?;
            let client_secret = crate::settings::introspection_secret().ok_or_else(|| {
                CliError::Usage(format!(
                    "--auth-server needs the introspection client secret in {}",
                    crate::settings::WHALE_INTROSPECTION_CLIENT_SECRET
                ))
            })?;
            let ext = crate::oauth::external::Introspector::new(
                crate::oauth::external::ExternalConfig {
                    issuer: issuer.clone(),
                    introspection_endpoint: args.introspection_endpoint.clone(),
                    client_id,
                    client_secret,
                    cache_ttl: args.introspection_cache_ttl,
                },
                app.db.clone(),
            )
            .await
            .map_err(CliError::Runtime)?;
            let issuer = ext.issuer.clone();
            app.pipeline.set_external(std::sync::Arc::new(ext));
            http::AuthMode::External { issuer }
        }
    };
    let opts = http::HttpOptions {
        auth,
        addr: std::net::SocketAddr::new(args.host, args.port),
        policy: http::Policy {
            hosts,
            origins,
            trusted_proxies: args.trusted_proxies.clone(),
        },
        max_body: args.max_body,
        rate_limit_per_min: args.rate_limit,
        public_url: public.map(|(origin, _)| origin),
        filter,
        tool_mode: args.tool_mode,
        page_size: args.page_size,
        session_idle: args.session_idle,
        max_sessions_per_credential: args.max_sessions_per_credential as usize,
        header_timeout: args.header_timeout,
        max_connections: args.max_connections.map(|n| n as usize),
    };
    http::serve(app.pipeline.clone(), app.db.clone(), opts)
        .await
        .map_err(|e| CliError::Runtime(format!("HTTP server on {}:{}: {e}", args.host, args.port)))?;
    app.shutdown();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{allowed_host, allowed_origin};

    #[test]
    fn allowed_origins_and_hosts_are_values_that_can_match() {
        assert_eq!(
            allowed_origin("https://App.Example.com").unwrap(),
            "https://app.example.com"
        );
        assert_eq!(
            allowed_origin("https://app.example.com:443/").unwrap(),
            "https://app.example.com"
        );
        assert_eq!(
            allowed_origin("http://127.0.0.1:5173").unwrap(),
            "http://127.0.0.1:5173"
        );
        for bad in [
            "app.example.com",
            "https://app.example.com/path",
            "ftp://x",
            "https://u:p@x",
            "*",
            "",
        ] {
            let e = allowed_origin(bad).expect_err(bad);
            assert_eq!(e.exit_code(), 2, "{bad}");
        }
        assert_eq!(allowed_host("Whale.Example.com").unwrap(), "whale.example.com");
        assert_eq!(allowed_host("10.0.0.7").unwrap(), "10.0.0.7");
        assert_eq!(allowed_host("[::1]").unwrap(), "::1");
        for bad in [
            "https://whale.example.com",
            "whale.example.com:443",
            "whale.example.com/mcp",
            "a b",
            "",
        ] {
            let e = allowed_host(bad).expect_err(bad);
            assert_eq!(e.exit_code(), 2, "{bad}");
            assert!(e.to_string().contains("--allowed-host"), "{e}");
        }
    }
}
