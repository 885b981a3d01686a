//! HTTP mode (`whale mcp --transport sse|http`): one axum app on one port
//! serving both MCP transports — Streamable HTTP at `/mcp` (rmcp's service)
//! and the legacy HTTP+SSE pair `/sse` + `/messages` (our adapter) — the
//! REST API, `/openapi.json`, `/health` and the RFC 9728 metadata.
//!
//! Every MCP and REST route passes [`guard::guard`] (Host/Origin, body size,
//! Bearer credential, rate limit). `/mcp` sessions are bound to the
//! credential that created them; both transports end in the same
//! `WhaleServer` and so the same pipeline as stdio.

mod error;
mod fast;
mod guard;
mod oauth;
mod rest;
mod sse;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use rmcp::transport::streamable_http_server::session::SessionManager;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

pub use guard::Policy;

use crate::auth::{Credential, Principal};
use crate::cli::ToolMode;
use crate::pipeline::Pipeline;
use crate::ratelimit::RateLimiter;
use crate::store::Db;
use crate::tools::ToolFilter;
use crate::transport::mcp::WhaleServer;
use error::HttpError;

pub struct HttpOptions {
    /// Where to listen; [`router`] takes it as the address bound (its port
    /// is the server's own, also after `--port 0`).
    pub addr: SocketAddr,
    pub policy: Policy,
    pub max_body: usize,
    pub rate_limit_per_min: u32,
    /// Base URL clients reach us at, when behind a proxy (else from Host,
    /// whose port the guard has checked is ours).
    pub public_url: Option<String>,
    pub filter: ToolFilter,
    pub tool_mode: ToolMode,
    pub page_size: usize,
    pub auth: AuthMode,
    /// A Streamable HTTP session no request has named for this long is
    /// closed (`--session-idle`).
    pub session_idle: Duration,
    /// Streamable HTTP sessions one credential may hold open
    /// (`--max-sessions-per-credential`).
    pub max_sessions_per_credential: usize,
    /// A client that takes longer to send a request's headers (or, kept
    /// alive, to begin its next request) is disconnected
    /// (`--header-timeout`, hidden: the tests shorten it).
    pub header_timeout: Duration,
    /// Connections served at once (`--max-connections`, hidden); None: as
    /// many as the open-file limit leaves room for.
    pub max_connections: Option<usize>,
}

/// Who issues the OAuth tokens the server accepts (API keys always work).
pub enum AuthMode {
    /// The embedded authorization server.
    Embedded(crate::oauth::AuthConfig),
    /// An external one, trusted through introspection (already set on the
    /// pipeline); its issuer URL is named in the RFC 9728 metadata.
    External { issuer: String },
}

pub struct HttpState {
    pipeline: Arc<Pipeline>,
    db: Arc<Db>,
    filter: ToolFilter,
    tool_mode: ToolMode,
    page_size: usize,
    policy: Policy,
    max_body: usize,
    /// How long a request's body may take to arrive after its headers.
    body_timeout: Duration,
    limiter: RateLimiter,
    /// Refused credentials per client address (its own map: addresses are
    /// unbounded in number, credentials are not).
    auth_failures: RateLimiter,
    /// The endpoints without a credential (registration, sign-in), per
    /// address and per account: their own map for the same reason.
    open_limiter: RateLimiter,
    public_url: Option<String>,
    /// The address the server listens on (the port it was given, or the
    /// one `--port 0` picked).
    local: SocketAddr,
    /// `Mcp-Session-Id` → who created it and when it was last used.
    bindings: Mutex<HashMap<String, Binding>>,
    /// The binding count at which ended sessions are next swept out.
    prune_at: AtomicUsize,
    /// Sessions one credential may hold (`--max-sessions-per-credential`).
    max_sessions: usize,
    legacy: sse::LegacySessions,
    /// Cancelled once calls in flight have answered at shutdown: ends the
    /// legacy SSE sessions (rmcp's own sessions share the token).
    sessions_ct: CancellationToken,
    /// rmcp's Streamable HTTP sessions (the fast path asks whether one lives).
    sessions: Arc<LocalSessionManager>,
    /// `tools/call`s running on the fast path, for `notifications/cancelled`.
    fast_calls: fast::InFlight,
    /// The embedded authorization server (None with `--auth-server`).
    auth: Option<Arc<crate::oauth::AuthServer>>,
    /// The issuer named in the protected-resource metadata when external.
    external_issuer: Option<String>,
    /// The scopes a 401's challenge asks for (MCP 2025-11-25: clients
    /// request exactly these, not every entry of `scopes_supported`).
    challenge_scope: String,
}

/// What a 401 asks for: the resources of the tools this server serves
/// (`--tools`, `--categories`), only to read them under `--read-only`.
fn challenge_scope(registry: &crate::tools::Registry, filter: &ToolFilter) -> String {
    let mut scopes: Vec<String> = registry
        .tools()
        .iter()
        .filter(|t| filter.allows_tool(t))
        .map(|t| match filter.read_only {
            true => format!("{}:read", t.resource),
            false => t.resource.to_string(),
        })
        .collect();
    scopes.sort();
    scopes.dedup();
    scopes.join(" ")
}

impl HttpState {
    /// The origin clients reach the server at: `--public-url`, else the
    /// Host header — which every route's guard has checked names this
    /// server's port (`guard::check_host_and_origin`), so that the
    /// resource tokens are issued for and checked against is never another
    /// server's. A request without Host (HTTP/1.0) gets the bound address.
    fn base_url(&self, headers: &HeaderMap) -> String {
        if let Some(u) = &self.public_url {
            return u.trim_end_matches('/').to_string();
        }
        match headers.get(header::HOST).and_then(|v| v.to_str().ok()) {
            Some(host) => format!("http://{host}"),
            None if self.local.ip().is_unspecified() => format!("http://127.0.0.1:{}", self.local.port()),
            None => format!("http://{}", self.local),
        }
    }
    /// The protected resource (RFC 8707 audience) a request reached.
    fn resource_url(&self, headers: &HeaderMap) -> String {
        format!("{}/mcp", self.base_url(headers))
    }
    fn resource_metadata_url(&self, headers: &HeaderMap) -> String {
        format!(
            "{}/.well-known/oauth-protected-resource/mcp",
            self.base_url(headers)
        )
    }
    /// Streamable HTTP sessions open (as the binding layer counts them:
    /// created, not yet deleted or expired).
    fn streamable_sessions(&self) -> usize {
        self.bindings().len()
    }
    fn bindings(&self) -> std::sync::MutexGuard<'_, HashMap<String, Binding>> {
        self.bindings.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A Streamable HTTP session as the binding layer knows it.
struct Binding {
    /// The fingerprint of the credential that created it.
    owner: String,
    /// That credential, checked again while a stream of the session stays
    /// open (a revoked key's stream is closed by the idle sweep).
    cred: Option<Credential>,
    /// When a request last named it (or a stream of it ended): every
    /// request counts, those the fast path answers without rmcp's session
    /// worker included.
    seen: Instant,
    /// SSE streams of it open now: while any is, it is in use.
    streams: usize,
}

const SESSION_HEADER: &str = "mcp-session-id";

/// Binds Streamable HTTP sessions to their creator: a request naming a
/// session created by another credential is refused; a session id is never
/// a credential.
async fn bind_session(
    State(s): State<Arc<HttpState>>,
    Extension(principal): Extension<Principal>,
    req: Request,
    next: Next,
) -> Response {
    let me = guard::fingerprint(&principal);
    let asked = req
        .headers()
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if let Some(id) = &asked {
        match s.bindings().get_mut(id) {
            Some(binding) if binding.owner != me => {
                return HttpError::forbidden("this session belongs to another credential").into_response();
            }
            Some(binding) => binding.seen = Instant::now(),
            // Every session is bound when it is created: one not here has
            // ended (or never existed), whichever door would answer.
            None => return no_such_session(),
        }
    }
    // Kept for a session this request may create (one naming no session).
    let cred = match asked {
        None => req.extensions().get::<Credential>().cloned(),
        Some(_) => None,
    };
    let deleting = req.method() == Method::DELETE;
    // rmcp accepts the DELETE of a session it does not know (202); ending
    // a session that is not there is a 404, like any other use of it.
    if deleting
        && let Some(id) = &asked
        && !s.sessions.has_session(&id.as_str().into()).await.unwrap_or(false)
    {
        s.bindings().remove(id);
        return no_such_session();
    }
    let resp = next.run(req).await;
    match (
        &asked,
        resp.headers().get(SESSION_HEADER).and_then(|v| v.to_str().ok()),
    ) {
        (None, Some(created)) if resp.status().is_success() => {
            let (len, evicted) = {
                let mut b = s.bindings();
                b.insert(
                    created.to_string(),
                    Binding {
                        owner: me.clone(),
                        cred,
                        seen: Instant::now(),
                        streams: 0,
                    },
                );
                let evicted = over_cap(&mut b, &me, s.max_sessions);
                (b.len(), evicted)
            };
            if let Some(old) = evicted {
                tracing::info!(
                    session = %old,
                    limit = s.max_sessions,
                    "a credential opened more sessions than --max-sessions-per-credential; closing its least recently used"
                );
                let sessions = s.sessions.clone();
                tokio::spawn(async move {
                    let _ = sessions.close_session(&old.as_str().into()).await;
                });
            }
            // One sweep at a time (it claims the threshold), off this
            // response's path.
            let at = s.prune_at.load(Ordering::Relaxed);
            if len >= at
                && s.prune_at
                    .compare_exchange(at, usize::MAX, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
            {
                tokio::spawn(prune_bindings(s.clone()));
            }
        }
        (Some(id), _) if deleting && resp.status().is_success() => {
            s.bindings().remove(id);
            // rmcp answers 202 Accepted; the session has ended, and the
            // official Python SDK warns on anything but 200 or 204.
            return axum::http::StatusCode::NO_CONTENT.into_response();
        }
        // An SSE stream (the GET stream, or a reply rmcp streams) keeps its
        // session in use for as long as it is open.
        (Some(id), _) if is_event_stream(resp.headers()) => return in_use_while_open(&s, id, resp),
        _ => {}
    }
    resp
}

/// Past `max` sessions of `owner`, the one to close for the newest: the
/// least recently used, one without an open stream first. Removed from the
/// bindings here (so no request can use it from now on); the caller closes
/// it. Clients rarely end their sessions, so refusing a new one would lock
/// out a client that merely restarted; closing the oldest costs its client
/// a 404 and a new initialize, as the transport provides.
fn over_cap(b: &mut HashMap<String, Binding>, owner: &str, max: usize) -> Option<String> {
    let mine = b.values().filter(|x| x.owner == owner).count();
    if mine <= max {
        return None;
    }
    let oldest = b
        .iter()
        .filter(|(_, x)| x.owner == owner)
        .min_by_key(|(_, x)| (x.streams > 0, x.seen))
        .map(|(id, _)| id.clone())?;
    b.remove(&oldest);
    Some(oldest)
}

fn is_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/event-stream"))
}

/// `resp` with its body wrapped so that the session counts as in use until
/// the body ends or the client goes away (the idle sweep skips it), and as
/// seen at that moment.
fn in_use_while_open(s: &Arc<HttpState>, id: &str, resp: Response) -> Response {
    struct Open(Arc<HttpState>, String);
    impl Drop for Open {
        fn drop(&mut self) {
            if let Some(b) = self.0.bindings().get_mut(&self.1) {
                b.streams = b.streams.saturating_sub(1);
                b.seen = Instant::now();
            }
        }
    }
    match s.bindings().get_mut(id) {
        Some(b) => b.streams += 1,
        None => return resp,
    }
    let open = Open(s.clone(), id.to_string());
    let (parts, body) = resp.into_parts();
    let body = futures::StreamExt::map(body.into_data_stream(), move |chunk| {
        let _still_open = &open;
        chunk
    });
    Response::from_parts(parts, axum::body::Body::from_stream(body))
}

/// The answer to a request naming a session that is not open.
fn no_such_session() -> Response {
    HttpError::not_found("no such session; it ended or never existed (start a new one with initialize)")
        .into_response()
}

/// Whether the Content-Type is `application/json` (parameters aside), the
/// test rmcp applies.
fn is_json_content(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|e| e.trim().eq_ignore_ascii_case("application/json"))
}

/// rmcp answers a POST body that is not one JSON-RPC message with 415, as
/// if the media type were wrong; the client is told what is wrong with the
/// body instead (400 with a JSON-RPC error). The guard has buffered the
/// body (bounded), so holding a copy costs a reference count.
async fn mcp_body_errors(req: Request, next: Next) -> Response {
    if req.method() != Method::POST || !is_json_content(req.headers()) {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return HttpError::bad_request("the request body could not be read").into_response();
    };
    let resp = next
        .run(Request::from_parts(parts, axum::body::Body::from(bytes.clone())))
        .await;
    if resp.status() == axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE {
        return error::jsonrpc_body_error(&bytes);
    }
    resp
}

/// Drops the bindings of sessions rmcp no longer has (closed by the
/// client's going away or by shutdown, not by DELETE), then waits for the
/// table to double before looking again: amortised O(1) per session.
async fn prune_bindings(s: Arc<HttpState>) {
    // Whatever ends the sweep (even a panic, or shutdown dropping the
    // task), the threshold it claimed is given back.
    struct Restore(Arc<HttpState>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let _ = self.0.prune_at.compare_exchange(
                usize::MAX,
                MIN_PRUNE_AT,
                Ordering::AcqRel,
                Ordering::Relaxed,
            );
        }
    }
    let _restore = Restore(s.clone());
    let ids: Vec<String> = s.bindings().keys().cloned().collect();
    let mut gone = Vec::new();
    for id in ids {
        if !s.sessions.has_session(&id.as_str().into()).await.unwrap_or(true) {
            gone.push(id);
        }
    }
    let mut b = s.bindings();
    for id in &gone {
        b.remove(id);
    }
    s.prune_at
        .store((b.len() * 2).max(MIN_PRUNE_AT), Ordering::Relaxed);
}

const MIN_PRUNE_AT: usize = 256;

/// Closes the sessions no request has named for `idle`, until shutdown.
///
/// rmcp's own idle timer (its session `keep_alive`) is off: it counts only
/// what passes through the session's worker, and `tools/call`s on the fast
/// path do not, so a session an agent used for nothing but calls was closed
/// under it after five minutes. This timer counts every request.
async fn expire_idle_sessions(s: Arc<HttpState>, idle: Duration) {
    let every = (idle / 4).clamp(Duration::from_millis(100), Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = s.sessions_ct.cancelled() => return,
        }
        let (expired, streaming) = {
            let mut b = s.bindings();
            let ids: Vec<String> = b
                .iter()
                .filter(|(_, binding)| binding.streams == 0 && binding.seen.elapsed() >= idle)
                .map(|(id, _)| id.clone())
                .collect();
            for id in &ids {
                b.remove(id);
            }
            let streaming: Vec<(String, Credential)> = b
                .iter()
                .filter(|(_, binding)| binding.streams > 0)
                .filter_map(|(id, binding)| Some((id.clone(), binding.cred.clone()?)))
                .collect();
            (ids, streaming)
        };
        for id in expired {
            tracing::debug!(session = %id, "closing an idle session");
            let _ = s.sessions.close_session(&id.as_str().into()).await;
        }
        // A session in use is never idle, but its credential can end (a
        // key revoked, a token expired): every request after that is
        // refused by the guard, and an open stream is closed here.
        for (id, cred) in streaming {
            if let Err(e) = s.pipeline.resolve(&cred).await {
                tracing::info!(session = %id, "closing a session whose credential no longer works: {e}");
                s.bindings().remove(&id);
                let _ = s.sessions.close_session(&id.as_str().into()).await;
            }
        }
    }
}

pub fn router(
    pipeline: Arc<Pipeline>,
    db: Arc<Db>,
    opts: &HttpOptions,
    sessions_ct: CancellationToken,
) -> Router {
    let scopes = rest::supported_scopes(pipeline.registry());
    let (max_body, body_timeout) = (opts.max_body, opts.header_timeout);
    let (auth, external_issuer) = match &opts.auth {
        AuthMode::Embedded(cfg) => (
            Some(Arc::new(crate::oauth::AuthServer::new(
                db.clone(),
                cfg.clone(),
                scopes,
            ))),
            None,
        ),
        AuthMode::External { issuer } => (None, Some(issuer.clone())),
    };
    let mut manager = LocalSessionManager::default();
    // Idle sessions are closed by `expire_idle_sessions`, which sees every
    // request. No priming events: they promise a resumable stream (an event
    // id), which needs an event store whale does not keep, and clients of
    // revisions before 2025-11-25 choke on their empty data.
    manager.session_config.keep_alive = None;
    manager.session_config.sse_retry = None;
    let sessions = Arc::new(manager);
    let state = Arc::new(HttpState {
        sessions: sessions.clone(),
        fast_calls: fast::InFlight::default(),
        pipeline: pipeline.clone(),
        db,
        filter: opts.filter.clone(),
        tool_mode: opts.tool_mode,
        page_size: opts.page_size,
        policy: opts.policy.clone(),
        max_body: opts.max_body,
        body_timeout: opts.header_timeout,
        limiter: RateLimiter::new(opts.rate_limit_per_min),
        auth_failures: RateLimiter::new(guard::FAILED_AUTH_PER_MIN as u32),
        open_limiter: RateLimiter::new(opts.rate_limit_per_min),
        public_url: opts.public_url.clone(),
        local: opts.addr,
        bindings: Mutex::new(HashMap::new()),
        prune_at: AtomicUsize::new(MIN_PRUNE_AT),
        max_sessions: opts.max_sessions_per_credential.max(1),
        legacy: sse::LegacySessions::default(),
        sessions_ct: sessions_ct.clone(),
        auth,
        external_issuer,
        challenge_scope: challenge_scope(pipeline.registry(), &opts.filter),
    });
    tokio::spawn(expire_idle_sessions(state.clone(), opts.session_idle));

    // Host/Origin are checked by our guard (before auth), so rmcp's own
    // checks are off rather than configured twice.
    let config = StreamableHttpServerConfig::default()
        .disable_allowed_hosts()
        .disable_allowed_origins()
        .with_sse_retry(None)
        .with_max_request_body_bytes(opts.max_body)
        .with_cancellation_token(sessions_ct);
    let (filter, mode, page) = (opts.filter.clone(), opts.tool_mode, opts.page_size);
    let mcp = StreamableHttpService::new(
        move || {
            Ok(WhaleServer::new(
                pipeline.clone(),
                None,
                filter.clone(),
                mode,
                page,
            ))
        },
        sessions,
        config,
    );
    // Layers run outside in: the binding check, then the tools/call fast
    // path, then rmcp.
    let mcp = Router::new()
        .nest_service("/mcp", mcp)
        .layer(middleware::from_fn(mcp_body_errors))
        .layer(middleware::from_fn_with_state(state.clone(), fast::tools_call))
        .layer(middleware::from_fn_with_state(state.clone(), bind_session));

    let guarded = Router::new()
        .route("/sse", get(sse::open))
        .route("/messages", axum::routing::post(sse::post))
        .route(
            "/v1/stores/{store_id}/tool-executions",
            get(rest::list_executions),
        )
        .route(
            "/v1/stores/{store_id}/tool-executions/{exec_id}",
            get(rest::get_execution),
        )
        .merge(mcp)
        .layer(middleware::from_fn_with_state(state.clone(), guard::guard));

    let open = Router::new()
        .route("/health", get(rest::health))
        .route("/openapi.json", get(rest::openapi))
        .route(
            "/.well-known/oauth-protected-resource",
            get(rest::protected_resource_root),
        )
        .route(
            "/.well-known/oauth-protected-resource/mcp",
            get(rest::protected_resource),
        )
        .route("/.well-known/oauth-authorization-server", get(oauth::metadata))
        .route(
            "/register",
            axum::routing::post(oauth::register).layer(middleware::from_fn_with_state(
                state.clone(),
                oauth::per_peer_limit,
            )),
        )
        .route(
            "/authorize",
            get(oauth::authorize).layer(middleware::from_fn_with_state(
                state.clone(),
                oauth::per_peer_limit,
            )),
        )
        .route(
            "/authorize/login",
            axum::routing::post(oauth::login).layer(middleware::from_fn_with_state(
                state.clone(),
                oauth::per_peer_limit,
            )),
        )
        .route("/authorize/consent", axum::routing::post(oauth::consent))
        .route(
            "/token",
            axum::routing::post(oauth::token).layer(middleware::from_fn_with_state(
                state.clone(),
                oauth::per_peer_rate_limit,
            )),
        )
        .route(
            "/revoke",
            axum::routing::post(oauth::revoke).layer(middleware::from_fn_with_state(
                state.clone(),
                oauth::per_peer_rate_limit,
            )),
        )
        .route(
            "/introspect",
            axum::routing::post(oauth::introspect).layer(middleware::from_fn_with_state(
                state.clone(),
                oauth::per_peer_rate_limit,
            )),
        )
        // The OAuth endpoints read their bodies through axum's extractors:
        // the same --max-body bounds them (axum's default is 2 MB), and the
        // body must arrive in time (the guard does both for its routes).
        .layer(axum::extract::DefaultBodyLimit::max(opts.max_body))
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            read_body_in_time(max_body, body_timeout, req, next)
        }))
        .layer(middleware::from_fn_with_state(state.clone(), guard::host_only));

    let policy = opts.policy.clone();
    let cors = tower_http::cors::CorsLayer::new()
        .allow_origin(tower_http::cors::AllowOrigin::predicate(
            move |origin: &HeaderValue, _| origin.to_str().is_ok_and(|o| policy.origin_allowed(o)),
        ))
        .allow_methods([Method::GET, Method::POST, Method::DELETE, Method::OPTIONS])
        // Whatever the preflight asks for, for an allowed origin: the
        // 2026-07-28 revision adds `Mcp-Method`, `Mcp-Name` and a family of
        // `Mcp-Param-*` headers that no fixed list can name.
        .allow_headers(tower_http::cors::AllowHeaders::mirror_request())
        .expose_headers([
            HeaderName::from_static(SESSION_HEADER),
            header::WWW_AUTHENTICATE,
            header::RETRY_AFTER,
        ])
        .max_age(Duration::from_secs(600));

    guarded
        .merge(open)
        .fallback(|| async { HttpError::not_found("no such endpoint").into_response() })
        .layer(middleware::from_fn(error::plain_to_json))
        .layer(cors)
        .with_state(state)
}

/// Serves until SIGINT/SIGTERM, then stops taking connections, lets calls in
/// flight finish (bounded), closes sessions and flushes the audit trail.
pub async fn serve(pipeline: Arc<Pipeline>, db: Arc<Db>, opts: HttpOptions) -> std::io::Result<()> {
    let rmcp_ct = CancellationToken::new();
    let shutdown = CancellationToken::new();
    let listener = tokio::net::TcpListener::bind(opts.addr).await?;
    let local = listener.local_addr()?;
    let opts = HttpOptions { addr: local, ..opts };
    let app = router(pipeline.clone(), db, &opts, rmcp_ct.clone());
    crate::printer::err(&format!(
        "whale: serving MCP on http://{local}/mcp (legacy SSE: /sse){}",
        opts.public_url
            .as_deref()
            .map(|u| format!("; clients reach it at {}/mcp", u.trim_end_matches('/')))
            .unwrap_or_default()
    ));
    if !local.ip().is_loopback() {
        tracing::warn!(
            "listening on {local}, beyond this machine, over plain HTTP: put TLS (a reverse proxy) in front"
        );
    }
    // When the signal came, plus the time calls in flight get to finish.
    let deadline = Arc::new(std::sync::OnceLock::new());
    let signal = {
        let (shutdown, deadline) = (shutdown.clone(), deadline.clone());
        async move {
            crate::commands::mcp::shutdown_signal().await;
            tracing::info!("signal received; finishing calls in flight");
            let _ = deadline.set(tokio::time::Instant::now() + SHUTDOWN_GRACE);
            shutdown.cancel();
        }
    };
    tokio::spawn(signal);
    let drain = {
        let (shutdown, deadline) = (shutdown.clone(), deadline.clone());
        let pipeline = pipeline.clone();
        async move {
            shutdown.cancelled().await;
            // Let calls in flight answer (over either transport), then end
            // the MCP sessions: their open streams would hold the server up.
            calls_finished(&pipeline, grace_end(&deadline)).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            rmcp_ct.cancel();
        }
    };
    tokio::spawn(drain);
    let max_connections = opts.max_connections.unwrap_or_else(default_max_connections);
    tracing::debug!(max_connections, header_timeout = ?opts.header_timeout, "accepting connections");
    serve_connections(listener, app, &opts, max_connections, shutdown, &deadline).await;
    // A call whose client has gone runs on after its connection closed;
    // its audit row must be queued before the last flush.
    calls_finished(&pipeline, grace_end(&deadline)).await;
    pipeline.audit().flush();
    Ok(())
}

/// How long calls in flight at a shutdown signal get to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

fn grace_end(deadline: &std::sync::OnceLock<tokio::time::Instant>) -> tokio::time::Instant {
    *deadline.get_or_init(|| tokio::time::Instant::now() + SHUTDOWN_GRACE)
}

/// Waits until no call runs, or `until`.
async fn calls_finished(pipeline: &Pipeline, until: tokio::time::Instant) {
    while pipeline.in_flight() > 0 && tokio::time::Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if pipeline.in_flight() > 0 {
        tracing::warn!(
            calls = pipeline.in_flight(),
            "calls still running at shutdown are abandoned"
        );
    }
}

/// Accepts and serves HTTP/1.1 connections until `shutdown`, then has each
/// finish the request it is answering and waits for all to close (the
/// drain in [`serve`] ends the long-lived streams).
///
/// Two bounds keep slow or idle clients from holding the server: a client
/// must send a request's headers within `--header-timeout` (the same bound
/// applies to a kept-alive connection's next request), and at most
/// `max_connections` are served at once — further ones wait in the
/// listen backlog until one closes, so the file descriptors the database
/// and outbound calls need are never all taken by connections.
async fn serve_connections(
    listener: tokio::net::TcpListener,
    app: Router,
    opts: &HttpOptions,
    max_connections: usize,
    shutdown: CancellationToken,
    deadline: &std::sync::OnceLock<tokio::time::Instant>,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(opts.header_timeout);
    let slots = Arc::new(tokio::sync::Semaphore::new(max_connections));
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            _ = shutdown.cancelled() => break,
        };
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            _ = shutdown.cancelled() => break,
        };
        // Without it, streamed replies stall ~40 ms (Nagle + delayed ACK).
        let _ = tcp.set_nodelay(true);
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(axum::extract::ConnectInfo(peer));
            tower::Service::call(&mut app.clone(), req)
        });
        let conn = http.serve_connection(TokioIo::new(tcp), service);
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => return,
                _ = shutdown.cancelled() => {}
            }
            // Idle: closed now; answering: closed after the response.
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        });
    }
    drop(listener);
    // Every slot back: every connection has closed — or, past the grace
    // period (a client trickling a body, a stream that will not end), the
    // rest are dropped with the runtime.
    let closed = tokio::time::timeout_at(
        grace_end(deadline) + Duration::from_secs(1),
        slots.acquire_many(max_connections as u32),
    )
    .await;
    if closed.is_err() {
        tracing::warn!(
            connections = max_connections - slots.available_permits(),
            "connections still open at the end of the shutdown grace period are closed"
        );
    }
}

/// Every request's body is read here, within the same bound as its
/// headers: a client that sends headers and then trickles (or withholds)
/// the body is answered 408 and its connection closed, instead of holding
/// a connection slot — and the shutdown — for as long as it likes.
async fn read_body_in_time(limit: usize, within: Duration, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    match body_in_time(body, limit, within).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
                .await
        }
        Err(refused) => refused,
    }
}

/// A request's whole body, at most `limit` bytes (413 beyond) and within
/// `within` (408, and the connection closed).
pub(super) async fn body_in_time(
    body: axum::body::Body,
    limit: usize,
    within: Duration,
) -> Result<axum::body::Bytes, Response> {
    match tokio::time::timeout(within, axum::body::to_bytes(body, limit)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(_)) => Err(guard::too_large(limit).into_response()),
        Err(_) => {
            let mut resp = HttpError::new(
                axum::http::StatusCode::REQUEST_TIMEOUT,
                "invalid_request",
                format!("the request body did not arrive within {} s", within.as_secs()),
            )
            .into_response();
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            Err(resp)
        }
    }
}

/// An `accept` that failed: a connection gone before it was taken is
/// nothing; anything else (out of file descriptors) is logged and waited
/// out, as hyper and axum do.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(e.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset) {
        return;
    }
    tracing::error!("accepting a connection failed: {e}");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Connections served at once when `--max-connections` does not say: what
/// the open-file limit leaves after a reserve for the database, the log
/// and outbound calls (an eighth of the limit, at least 64).
fn default_max_connections() -> usize {
    #[cfg(unix)]
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
    #[cfg(not(unix))]
    let limit: Option<u64> = None;
    match limit {
        Some(n) => {
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            n.saturating_sub((n / 8).max(64)).clamp(16, MAX_CONNECTIONS)
        }
        None => MAX_CONNECTIONS,
    }
}

/// The most connections served at once by default, however high the
/// open-file limit.
const MAX_CONNECTIONS: usize = 16_384;
