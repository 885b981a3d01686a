//! `whale login`, `auth status`, `logout`, token refresh and the stdio
//! bridge's use of a stored login — against a fake OAuth 2.1 authorization
//! server + MCP endpoint written here (axum on a loopback port), with the
//! test playing the browser: it reads the URL whale prints, GETs it, and the
//! fake's `/authorize` redirects at once to whale's loopback callback.
//!
//! The fake checks what a real server checks (PKCE S256, exact redirect URI
//! with any loopback port, single-use codes, RFC 8707 resource, refresh
//! token rotation with family revocation on reuse) and records what it saw
//! so the tests can assert on the wire behaviour.
//!
//! Every whale child runs with its D-Bus address pointing at nothing (see
//! tests/common): the keychain is unreachable, so these tests use the file
//! store, and one test checks the keychain-unavailable error.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use common::{Mcp, TIMEOUT, Whale, assert_exit, parse_json, run_bounded, stderr, stdout};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

// ---------------------------------------------------------------------------
// The fake authorization server + resource server
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum AuthorizeMode {
    Approve,
    Deny,
    WrongState,
}

struct Grant {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    scope: String,
    store: String,
}

#[derive(Default)]
struct Seen {
    registrations: Vec<Value>,
    authorize_queries: Vec<HashMap<String, String>>,
    code_grants: usize,
    refresh_grants: usize,
    reused_refresh: usize,
    revocations: Vec<(String, String, String)>,
    mcp_posts: Vec<(String, Option<String>, Option<String>)>,
    mcp_deletes: usize,
}

struct FakeState {
    base: String,
    mode: AuthorizeMode,
    expires_in: i64,
    /// Answer revocation requests with 503.
    revoke_fails: bool,
    clients: Vec<String>,
    codes: HashMap<String, Grant>,
    /// Valid access tokens and their expiry (unix seconds).
    access: HashMap<String, i64>,
    /// Refresh token → (family, used already).
    refresh: HashMap<String, (u64, bool)>,
    revoked_families: Vec<u64>,
    next: u64,
    seen: Seen,
}

type Shared = Arc<Mutex<FakeState>>;

struct Fake {
    base: String,
    state: Shared,
    _stop: tokio::sync::oneshot::Sender<()>,
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn challenge_of(verifier: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn form(body: &str) -> HashMap<String, String> {
    form_urlencoded::parse(body.as_bytes()).into_owned().collect()
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

impl Fake {
    fn start() -> Fake {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind fake");
        std_listener.set_nonblocking(true).expect("nonblocking");
        let addr: SocketAddr = std_listener.local_addr().expect("addr");
        let base = format!("http://{addr}");
        let state: Shared = Arc::new(Mutex::new(FakeState {
            base: base.clone(),
            mode: AuthorizeMode::Approve,
            expires_in: 3600,
            revoke_fails: false,
            clients: Vec::new(),
            codes: HashMap::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            revoked_families: Vec::new(),
            next: 1,
            seen: Seen::default(),
        }));
        let app = Router::new()
            .route("/.well-known/oauth-protected-resource/mcp", get(prm))
            .route("/.well-known/oauth-authorization-server", get(as_metadata))
            .route("/register", post(register))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/revoke", post(revoke))
            .route("/mcp", post(mcp_post).delete(mcp_delete).get(mcp_get))
            .with_state(state.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(std_listener).expect("listener");
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await;
            });
        });
        Fake {
            base,
            state,
            _stop: stop,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut FakeState) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

async fn prm(State(s): State<Shared>) -> Response {
    let base = s.lock().unwrap().base.clone();
    axum::Json(json!({
        "resource": format!("{base}/mcp"),
        "authorization_servers": [base],
        "scopes_supported": ["products:read", "orders"],
        "bearer_methods_supported": ["header"],
    }))
    .into_response()
}

async fn as_metadata(State(s): State<Shared>) -> Response {
    let base = s.lock().unwrap().base.clone();
    axum::Json(json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "registration_endpoint": format!("{base}/register"),
        "revocation_endpoint": format!("{base}/revoke"),
        "code_challenge_methods_supported": ["S256"],
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["none"],
    }))
    .into_response()
}

async fn register(State(s): State<Shared>, body: String) -> Response {
    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let mut st = s.lock().unwrap();
    let id = format!("client-{}", st.next);
    st.next += 1;
    st.clients.push(id.clone());
    st.seen.registrations.push(v.clone());
    let mut reply = v;
    reply["client_id"] = json!(id);
    (StatusCode::CREATED, axum::Json(reply)).into_response()
}

async fn authorize(State(s): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    let mut st = s.lock().unwrap();
    st.seen.authorize_queries.push(q.clone());
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    let redirect = get("redirect_uri");
    // RFC 8252 §7.3: the registered loopback URI matches on any port.
    let loopback_ok = redirect
        .strip_prefix("http://127.0.0.1:")
        .and_then(|r| r.split_once('/'))
        .is_some_and(|(port, path)| port.parse::<u16>().is_ok() && path == "callback");
    if get("response_type") != "code"
        || get("code_challenge_method") != "S256"
        || get("code_challenge").is_empty()
        || get("resource") != format!("{}/mcp", st.base)
        || !st.clients.contains(&get("client_id"))
        || !loopback_ok
    {
        return (StatusCode::BAD_REQUEST, "bad authorization request").into_response();
    }
    let state = get("state");
    let location = match st.mode {
        AuthorizeMode::Deny => format!("{redirect}?error=access_denied&state={state}"),
        AuthorizeMode::WrongState => format!("{redirect}?code=nope&state=forged"),
        AuthorizeMode::Approve => {
            let code = format!("code-{}", st.next);
            st.next += 1;
            st.codes.insert(
                code.clone(),
                Grant {
                    client_id: get("client_id"),
                    redirect_uri: redirect.clone(),
                    challenge: get("code_challenge"),
                    scope: get("scope"),
                    store: q.get("store").cloned().unwrap_or_else(|| "acme".into()),
                },
            );
            format!("{redirect}?code={code}&state={state}")
        }
    };
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

fn issue(st: &mut FakeState, family: u64, scope: &str, store: &str) -> Value {
    let n = st.next;
    st.next += 1;
    let access = format!("at-{n}-secret");
    let refresh = format!("rt-{n}-secret");
    st.access.insert(access.clone(), now() + st.expires_in);
    st.refresh.insert(refresh.clone(), (family, false));
    json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": st.expires_in,
        "refresh_token": refresh,
        "scope": scope,
        "store_id": store,
        "mode": "live",
    })
}

async fn token(State(s): State<Shared>, body: String) -> Response {
    let f = form(&body);
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let reply = {
        let mut st = s.lock().unwrap();
        if get("resource") != format!("{}/mcp", st.base) {
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_target", "wrong resource");
        }
        match get("grant_type").as_str() {
            "authorization_code" => {
                st.seen.code_grants += 1;
                let Some(g) = st.codes.remove(&get("code")) else {
                    return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "unknown or used code");
                };
                if g.client_id != get("client_id")
                    || g.redirect_uri != get("redirect_uri")
                    || g.challenge != challenge_of(&get("code_verifier"))
                {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "PKCE or redirect mismatch",
                    );
                }
                let family = st.next;
                st.next += 1;
                let scope = if g.scope.is_empty() {
                    "products:read".to_string()
                } else {
                    g.scope
                };
                issue(&mut st, family, &scope, &g.store)
            }
            "refresh_token" => {
                st.seen.refresh_grants += 1;
                let rt = get("refresh_token");
                let Some((family, used)) = st.refresh.get(&rt).copied() else {
                    return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "unknown refresh token");
                };
                if st.revoked_families.contains(&family) {
                    return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "grant revoked");
                }
                if used {
                    // Reuse of a rotated token: revoke the whole family.
                    st.seen.reused_refresh += 1;
                    st.revoked_families.push(family);
                    return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "refresh token reused");
                }
                st.refresh.insert(rt, (family, true));
                issue(&mut st, family, "products:read orders", "acme")
            }
            _ => return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", "no"),
        }
    };
    // Widen the window in which concurrent refreshes could race.
    if get("grant_type") == "refresh_token" {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    (
        StatusCode::OK,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(reply),
    )
        .into_response()
}

async fn revoke(State(s): State<Shared>, body: String) -> Response {
    let f = form(&body);
    let mut st = s.lock().unwrap();
    if st.revoke_fails {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let token = f.get("token").cloned().unwrap_or_default();
    st.access.remove(&token);
    if let Some((family, _)) = st.refresh.get(&token).copied() {
        st.revoked_families.push(family);
    }
    st.seen.revocations.push((
        token,
        f.get("token_type_hint").cloned().unwrap_or_default(),
        f.get("client_id").cloned().unwrap_or_default(),
    ));
    StatusCode::OK.into_response()
}

fn bearer_ok(st: &FakeState, headers: &HeaderMap) -> Option<String> {
    let token = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?
        .to_string();
    let exp = st.access.get(&token)?;
    (*exp > now()).then_some(token)
}

async fn mcp_post(State(s): State<Shared>, headers: HeaderMap, body: String) -> Response {
    let mut st = s.lock().unwrap();
    if bearer_ok(&st, &headers).is_none() {
        let base = st.base.clone();
        return (
            StatusCode::UNAUTHORIZED,
            [(
                header::WWW_AUTHENTICATE,
                format!("Bearer resource_metadata=\"{base}/.well-known/oauth-protected-resource/mcp\""),
            )],
            axum::Json(json!({"error": "invalid_token", "error_description": "expired or unknown"})),
        )
            .into_response();
    }
    let msg: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let method = msg["method"].as_str().unwrap_or_default().to_string();
    let h = |k: &str| headers.get(k).and_then(|v| v.to_str().ok()).map(str::to_string);
    st.seen
        .mcp_posts
        .push((method.clone(), h("mcp-session-id"), h("mcp-protocol-version")));
    let Some(id) = msg.get("id").cloned() else {
        return StatusCode::ACCEPTED.into_response();
    };
    if method == "initialize" {
        let reply = json!({"jsonrpc": "2.0", "id": id, "result": {
            "protocolVersion": "2025-06-18",
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "fake", "version": "0"},
        }});
        return (StatusCode::OK, [("mcp-session-id", "sess-1")], axum::Json(reply)).into_response();
    }
    let reply = json!({"jsonrpc": "2.0", "id": id, "result": {"echo": method}});
    if method == "tools/call" {
        // Streamed: a notification first, then the reply, as SSE events.
        let note = json!({"jsonrpc": "2.0", "method": "notifications/message",
                          "params": {"level": "info", "data": "working"}});
        let body =
            format!("id: 1\ndata:\n\nevent: message\ndata: {note}\n\nevent: message\ndata: {reply}\n\n");
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/event-stream")],
            body,
        )
            .into_response();
    }
    axum::Json(reply).into_response()
}

async fn mcp_delete(State(s): State<Shared>) -> Response {
    s.lock().unwrap().seen.mcp_deletes += 1;
    StatusCode::OK.into_response()
}

async fn mcp_get() -> Response {
    StatusCode::METHOD_NOT_ALLOWED.into_response()
}

// ---------------------------------------------------------------------------
// Driving whale
// ---------------------------------------------------------------------------

/// Runs `whale login --no-browser --server <fake> EXTRA…`, plays the
/// browser (GET the printed URL, following the redirect to whale's
/// callback), and returns whale's output and the page the browser got.
fn login(w: &Whale, fake: &Fake, extra: &[&str], env: &[(&str, &str)]) -> (Output, Option<String>) {
    login_at(w, &fake.base, extra, env)
}

/// [`login`] with `--server SERVER` spelled as given.
fn login_at(w: &Whale, server: &str, extra: &[&str], env: &[(&str, &str)]) -> (Output, Option<String>) {
    let mut args = vec!["login", "--no-browser", "--server", server];
    args.extend_from_slice(extra);
    w.login_with_browser(&args, env, |url| {
        let browser = common::http_client::client_builder()
            .timeout(TIMEOUT)
            .build()
            .expect("client");
        browser
            .get(url)
            .send()
            .and_then(|r| r.text())
            .unwrap_or_else(|e| format!("browser error: {e}"))
    })
}

fn login_ok(w: &Whale, fake: &Fake, extra: &[&str]) -> Output {
    let (out, page) = login(w, fake, extra, &[]);
    assert_exit(&out, 0, "whale login");
    assert!(
        page.as_deref()
            .is_some_and(|p| p.contains("You can close this tab")),
        "browser page: {page:?}"
    );
    out
}

fn config_dir(w: &Whale) -> std::path::PathBuf {
    w.dir.join("xdg-config").join("whale")
}

/// Every token the fake ever issued (to check none leaks into output).
fn issued_tokens(fake: &Fake) -> Vec<String> {
    fake.with(|st| st.access.keys().chain(st.refresh.keys()).cloned().collect())
}

fn assert_no_token_in(fake: &Fake, text: &str, what: &str) {
    for t in issued_tokens(fake) {
        assert!(!text.contains(&t), "{what} contains a token: {text}");
    }
}

fn status_json(w: &Whale) -> (Option<i32>, Value) {
    let out = w.run(&["auth", "status", "--json"]);
    (out.status.code(), parse_json(&out.stdout, "auth status --json"))
}

#[cfg(unix)]
fn mode_of(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777
}

/// `whale mcp --server <fake>` as a child speaking MCP on stdio.
fn bridge(w: &Whale, fake: &Fake) -> Mcp {
    Mcp::from_command(w.command(&["mcp", "--server", &fake.base]))
}

// ---------------------------------------------------------------------------
// login / auth status / logout
// ---------------------------------------------------------------------------

#[test]
fn login_to_file_store_then_status_and_logout() {
    let w = Whale::new();
    let fake = Fake::start();
    let out = login_ok(
        &w,
        &fake,
        &[
            "--store",
            "acme",
            "--scopes",
            "products:read,orders",
            "--insecure-storage",
        ],
    );
    let err = stderr(&out);
    assert!(err.contains(&format!("Logged in to {}", fake.base)), "{err}");
    assert!(
        err.contains("store acme") && err.contains("products:read orders"),
        "{err}"
    );
    assert!(err.contains("credentials.json"), "{err}");
    assert_no_token_in(&fake, &(stdout(&out) + &err), "login output");

    // What the fake saw: one registration, a well-formed authorize request.
    let (reg, q) = fake.with(|st| (st.seen.registrations.clone(), st.seen.authorize_queries.clone()));
    assert_eq!(reg.len(), 1);
    assert_eq!(reg[0]["redirect_uris"], json!(["http://127.0.0.1/callback"]));
    assert_eq!(reg[0]["token_endpoint_auth_method"], json!("none"));
    assert_eq!(
        reg[0]["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    assert!(
        reg[0]["client_name"]
            .as_str()
            .is_some_and(|n| n.starts_with("whale CLI ("))
    );
    assert_eq!(q.len(), 1);
    assert_eq!(q[0]["store"], "acme");
    assert_eq!(q[0]["scope"], "products:read orders");
    assert_eq!(q[0]["code_challenge_method"], "S256");
    assert!(q[0]["state"].len() >= 22, "state {:?}", q[0]["state"]);

    // The file store: 0600 in a 0700 directory; the index holds no token.
    let dir = config_dir(&w);
    let creds = dir.join("credentials.json");
    #[cfg(unix)]
    {
        assert_eq!(mode_of(&creds), 0o600);
        assert_eq!(mode_of(&dir.join("logins.json")), 0o600);
        assert_eq!(mode_of(&dir), 0o700);
    }
    let index = std::fs::read_to_string(dir.join("logins.json")).expect("index");
    assert_no_token_in(&fake, &index, "logins.json");
    let stored = std::fs::read_to_string(&creds).expect("credentials");
    assert!(
        stored.contains("at-") && stored.contains("rt-"),
        "tokens are in the file store"
    );

    // auth status, both outputs.
    let (code, v) = status_json(&w);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(
        v["api_key_env"],
        json!({"name": "WHALETOOLS_API_KEY", "set": false})
    );
    let l = &v["logins"][0];
    assert_eq!(l["server"], json!(fake.base));
    assert_eq!(l["issuer"], json!(fake.base));
    assert_eq!(l["store_id"], json!("acme"));
    assert_eq!(l["mode"], json!("live"));
    assert_eq!(l["scopes"], json!(["products:read", "orders"]));
    assert_eq!(l["storage"], json!("file"));
    assert_eq!(l["expired"], json!(false));
    assert_eq!(l["client_id"], json!("client-1"));
    assert!(l["expires_at"].as_str().is_some_and(|s| s.ends_with('Z')), "{l}");
    let human = w.run(&["auth", "status"]);
    assert_exit(&human, 0, "auth status");
    let text = stdout(&human);
    for needle in [
        fake.base.as_str(),
        "store:    acme (live)",
        "scopes:   products:read orders",
        "(in ",
        "credentials.json",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
    assert_no_token_in(&fake, &(text + &stderr(&human)), "auth status");
    let (_, key) = w.create_key("orders:read", false);
    let with_key = w.run_env(&["auth", "status"], &[("WHALETOOLS_API_KEY", &key)]);
    assert_exit(&with_key, 0, "auth status with a key set");
    let hint = format!("{}…{}", &key[..12], &key[key.len() - 4..]);
    assert!(
        stdout(&with_key).contains(&format!("WHALETOOLS_API_KEY is set (live key {hint})")),
        "{}",
        stdout(&with_key)
    );
    assert!(!stdout(&with_key).contains(&key), "the key itself is shown");
    // A key that cannot be one (a typo, a truncated paste) fails the check,
    // as gh fails on a bad token; the value is not echoed.
    for bad in ["wt_live_x", &key[..key.len() - 1], " "] {
        let out = w.run_env(&["auth", "status", "--json"], &[("WHALETOOLS_API_KEY", bad)]);
        assert_exit(&out, 1, bad);
        let v = parse_json(&out.stdout, "auth status --json");
        assert_eq!(v["api_key_env"]["well_formed"], json!(false), "{v}");
        assert!(bad.trim().is_empty() || !stdout(&out).contains(bad), "{v}");
    }

    // A second login reuses the registered client.
    login_ok(&w, &fake, &["--store", "acme", "--insecure-storage"]);
    assert_eq!(fake.with(|st| st.seen.registrations.len()), 1);
    assert_eq!(status_json(&w).1["logins"].as_array().map(Vec::len), Some(1));

    // logout revokes both tokens at the server and deletes them here.
    let tokens_before = std::fs::read_to_string(&creds).expect("credentials");
    let out = w.run(&["logout", "--server", &fake.base]);
    assert_exit(&out, 0, "logout");
    assert!(stderr(&out).contains("tokens revoked"), "{}", stderr(&out));
    let revoked = fake.with(|st| st.seen.revocations.clone());
    let hints: Vec<&str> = revoked.iter().map(|(_, h, _)| h.as_str()).collect();
    assert_eq!(hints, ["refresh_token", "access_token"]);
    for (token, _, client) in &revoked {
        assert!(
            tokens_before.contains(token.as_str()),
            "revoked the stored tokens"
        );
        assert_eq!(client, "client-1");
    }
    let after = std::fs::read_to_string(&creds).expect("credentials");
    assert!(!after.contains("at-") && !after.contains("rt-"), "{after}");

    // Nothing stored: `gh auth status` style, exit 1.
    let (code, v) = status_json(&w);
    assert_eq!(code, Some(1));
    assert_eq!(v["logins"], json!([]));
    let none = w.run(&["auth", "status"]);
    assert_exit(&none, 1, "auth status with nothing stored");
    assert!(stderr(&none).contains("not logged in"), "{}", stderr(&none));
    let again = w.run(&["logout"]);
    assert_exit(&again, 1, "logout with nothing stored");
}

#[test]
fn login_accepts_the_mcp_endpoint_url_the_server_prints() {
    let w = Whale::new();
    let fake = Fake::start();
    // `whale mcp --transport sse` prints `serving MCP on http://…/mcp`.
    let endpoint = format!("{}/mcp", fake.base);
    let (out, _) = login_at(&w, &endpoint, &["--insecure-storage"], &[]);
    assert_exit(&out, 0, "login --server …/mcp");
    let err = stderr(&out);
    assert!(err.contains(&format!("Logged in to {} ", fake.base)), "{err}");
    let q = fake.with(|st| st.seen.authorize_queries.clone());
    assert_eq!(q[0]["resource"], format!("{}/mcp", fake.base));
    let (_, v) = status_json(&w);
    assert_eq!(v["logins"][0]["server"], json!(fake.base));
    // The bridge finds that login under either spelling.
    let mut m = Mcp::from_command(w.command(&["mcp", "--server", &format!("{endpoint}/")]));
    m.initialize("2025-06-18");
    m.finish();
    // Any other path is refused before anything is contacted or stored.
    let before = fake.with(|st| st.seen.registrations.len());
    let out = w.run(&["login", "--no-browser", "--server", &format!("{}/api", fake.base)]);
    assert_exit(&out, 2, "login --server with a path");
    assert!(
        stderr(&out).contains("an origin like https://whale.example.com"),
        "{}",
        stderr(&out)
    );
    assert_eq!(fake.with(|st| st.seen.registrations.len()), before);
}

#[test]
fn several_stores_need_a_choice_and_logout_all_survives_revocation_failure() {
    let w = Whale::new();
    let fake = Fake::start();
    login_ok(&w, &fake, &["--store", "north", "--insecure-storage"]);
    login_ok(&w, &fake, &["--store", "south", "--insecure-storage"]);
    let (_, v) = status_json(&w);
    let stores: Vec<&str> = v["logins"]
        .as_array()
        .expect("logins")
        .iter()
        .filter_map(|l| l["store_id"].as_str())
        .collect();
    assert_eq!(stores, ["north", "south"]);

    // The bridge needs --store when one server has several logins.
    let out = run_bounded(w.command(&["mcp", "--server", &fake.base]), "ambiguous bridge");
    assert_exit(&out, 2, "bridge with two logins and no --store");
    assert!(stderr(&out).contains("--store north") && stderr(&out).contains("--store south"));
    let mut m = Mcp::from_command(w.command(&["--store", "south", "mcp", "--server", &fake.base]));
    m.initialize("2025-06-18");
    m.finish();

    // A revocation failure is a warning; the local delete still happens.
    fake.with(|st| st.revoke_fails = true);
    let out = w.run(&["logout", "--all"]);
    assert_exit(&out, 0, "logout --all");
    let err = stderr(&out);
    assert!(err.contains("warning:") && err.contains("503"), "{err}");
    assert!(
        err.contains("Logged out of") && err.contains("store north") && err.contains("store south"),
        "{err}"
    );
    assert_no_token_in(&fake, &err, "logout output");
    assert_eq!(status_json(&w).0, Some(1));
}

#[test]
fn file_store_via_environment_and_known_client_id() {
    let w = Whale::new();
    let fake = Fake::start();
    fake.with(|st| st.clients.push("preset-client".into()));
    let (out, _) = login(
        &w,
        &fake,
        &["--client-id", "preset-client"],
        &[("WHALE_CREDENTIAL_STORE", "file")],
    );
    assert_exit(&out, 0, "login with WHALE_CREDENTIAL_STORE=file");
    assert_eq!(
        fake.with(|st| st.seen.registrations.len()),
        0,
        "no registration with --client-id"
    );
    let (_, v) = status_json(&w);
    assert_eq!(v["logins"][0]["client_id"], json!("preset-client"));
    assert_eq!(v["logins"][0]["storage"], json!("file"));
    // Server defaults apply when no scopes are asked for.
    assert_eq!(v["logins"][0]["scopes"], json!(["products:read"]));

    let bad = w.run_env(
        &["login", "--no-browser"],
        &[("WHALE_CREDENTIAL_STORE", "plaintext")],
    );
    assert_exit(&bad, 2, "unknown WHALE_CREDENTIAL_STORE");
}

#[test]
fn keychain_unavailable_is_a_clear_error_and_stores_nothing() {
    let w = Whale::new();
    let fake = Fake::start();
    for env in [vec![], vec![("WHALE_CREDENTIAL_STORE", "keychain")]] {
        let (out, page) = login(&w, &fake, &[], &env);
        assert_exit(&out, 1, "login without a keychain");
        assert!(
            page.is_none(),
            "no URL is offered when the tokens could not be kept"
        );
        let err = stderr(&out);
        assert!(err.contains("keychain could not be reached"), "{err}");
        assert!(err.contains("nothing was stored"), "{err}");
        assert!(err.contains("--insecure-storage"), "{err}");
        assert!(err.contains("WHALE_CREDENTIAL_STORE=file"), "{err}");
        assert!(err.contains("credentials.json"), "the file path is named: {err}");
    }
    assert!(fake.with(|st| st.seen.registrations.is_empty() && st.seen.code_grants == 0));
    assert!(!config_dir(&w).join("credentials.json").exists());
    assert_eq!(status_json(&w).0, Some(1));
}

#[test]
fn denied_or_forged_redirects_store_nothing() {
    let w = Whale::new();
    let fake = Fake::start();
    fake.with(|st| st.mode = AuthorizeMode::Deny);
    let (out, page) = login(&w, &fake, &["--insecure-storage"], &[]);
    assert_exit(&out, 3, "denied login");
    assert!(stderr(&out).contains("access_denied"), "{}", stderr(&out));
    assert!(page.is_some_and(|p| p.contains("Sign-in failed")));

    fake.with(|st| st.mode = AuthorizeMode::WrongState);
    let (out, _) = login(&w, &fake, &["--insecure-storage"], &[]);
    assert_exit(&out, 3, "forged state");
    assert!(stderr(&out).contains("state does not match"), "{}", stderr(&out));

    assert_eq!(fake.with(|st| st.seen.code_grants), 0, "no code was exchanged");
    assert_eq!(status_json(&w).0, Some(1));
    let creds = config_dir(&w).join("credentials.json");
    assert!(
        !creds.exists()
            || !std::fs::read_to_string(&creds)
                .unwrap_or_default()
                .contains("at-")
    );
}

#[test]
fn login_gives_up_after_the_timeout() {
    let w = Whale::new();
    let fake = Fake::start();
    let out = w.run(&[
        "login",
        "--no-browser",
        "--insecure-storage",
        "--server",
        &fake.base,
        "--timeout",
        "1",
    ]);
    assert_exit(&out, 3, "login nobody completes");
    assert!(stderr(&out).contains("nothing was stored"), "{}", stderr(&out));
}

#[cfg(unix)]
#[test]
fn file_store_refuses_loose_permissions_and_symlinks() {
    use std::os::unix::fs::PermissionsExt;
    let w = Whale::new();
    let fake = Fake::start();
    login_ok(&w, &fake, &["--insecure-storage"]);
    let creds = config_dir(&w).join("credentials.json");

    std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = run_bounded(
        w.command(&["mcp", "--server", &fake.base]),
        "bridge on a loose file",
    );
    assert_exit(&out, 1, "bridge on a loose file");
    assert!(stderr(&out).contains("chmod 600"), "{}", stderr(&out));
    let out = w.run(&[
        "login",
        "--no-browser",
        "--insecure-storage",
        "--server",
        &fake.base,
    ]);
    assert_exit(&out, 1, "login onto a loose file");
    assert!(stderr(&out).contains("chmod 600"), "{}", stderr(&out));
    // `auth status` says so, instead of calling the file private.
    let (code, v) = status_json(&w);
    assert_eq!(code, Some(1), "{v}");
    let problem = v["logins"][0]["storage_problem"].as_str().unwrap_or_default();
    assert!(problem.contains("(644)") && problem.contains("chmod 600"), "{v}");
    // The API key wins over every login: then the file is named, not failed on.
    let (_, key) = w.create_key("orders:read", false);
    let with_key = w.run_env(&["auth", "status", "--json"], &[("WHALETOOLS_API_KEY", &key)]);
    assert_exit(&with_key, 0, "auth status on a loose file with an API key set");
    let human = w.run(&["auth", "status"]);
    assert_exit(&human, 1, "auth status on a loose file");
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains("storage:  unusable:") && !text.contains("readable only by you"),
        "{text}"
    );

    std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let (code, v) = status_json(&w);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["logins"][0]["storage_problem"], Value::Null, "{v}");
    let elsewhere = w.dir.join("elsewhere.json");
    std::fs::rename(&creds, &elsewhere).expect("move");
    std::os::unix::fs::symlink(&elsewhere, &creds).expect("symlink");
    let out = run_bounded(w.command(&["mcp", "--server", &fake.base]), "bridge on a symlink");
    assert_exit(&out, 1, "bridge on a symlink");
    assert!(stderr(&out).contains("symbolic link"), "{}", stderr(&out));
    let (code, v) = status_json(&w);
    assert_eq!(code, Some(1), "{v}");
    assert!(
        v["logins"][0]["storage_problem"]
            .as_str()
            .unwrap_or_default()
            .contains("symbolic link"),
        "{v}"
    );
}

// ---------------------------------------------------------------------------
// Refresh and the bridge on a stored login
// ---------------------------------------------------------------------------

#[test]
fn bridge_uses_the_login_and_refreshes_before_expiry_and_after_401() {
    let w = Whale::new();
    let fake = Fake::start();
    // 30 s left is inside the 60 s refresh margin: the first use refreshes.
    fake.with(|st| st.expires_in = 30);
    login_ok(&w, &fake, &["--insecure-storage"]);
    fake.with(|st| st.expires_in = 3600);

    let mut m = bridge(&w, &fake);
    let init = m.initialize("2025-06-18");
    assert_eq!(init["serverInfo"]["name"], json!("fake"));
    assert_eq!(
        fake.with(|st| st.seen.refresh_grants),
        1,
        "refreshed before the first use"
    );
    let listed = m.request("tools/list", json!({}));
    assert_eq!(listed["result"]["echo"], json!("tools/list"));

    // An SSE answer: the notification and the reply both arrive, one line each.
    let called = m.request("tools/call", json!({"name": "x", "arguments": {}}));
    assert_eq!(called["result"]["echo"], json!("tools/call"));
    let note = m.next_unmatched(TIMEOUT).expect("the streamed notification");
    assert_eq!(note["method"], json!("notifications/message"));

    // The server forgets every access token: 401 → refresh → retry.
    fake.with(|st| st.access.clear());
    let again = m.request("tools/list", json!({}));
    assert_eq!(again["result"]["echo"], json!("tools/list"), "{again}");
    assert_eq!(fake.with(|st| st.seen.refresh_grants), 2);

    // Headers: the session id and negotiated version after initialize.
    let posts = fake.with(|st| st.seen.mcp_posts.clone());
    assert_eq!(posts[0].0, "initialize");
    assert_eq!(posts[0].1, None);
    for (method, session, version) in &posts[1..] {
        assert_eq!(session.as_deref(), Some("sess-1"), "{method}");
        assert_eq!(version.as_deref(), Some("2025-06-18"), "{method}");
    }
    assert!(posts.iter().any(|p| p.0 == "notifications/initialized"));
    m.finish();
    assert_eq!(
        fake.with(|st| st.seen.mcp_deletes),
        1,
        "the session is ended at EOF"
    );

    // The rotated token was stored: status shows the later expiry, and a
    // new bridge needs no refresh.
    let (_, v) = status_json(&w);
    assert_eq!(v["logins"][0]["expired"], json!(false));
    let mut m = bridge(&w, &fake);
    m.initialize("2025-06-18");
    m.finish();
    assert_eq!(fake.with(|st| st.seen.refresh_grants), 2);
    assert_eq!(fake.with(|st| st.seen.reused_refresh), 0);
}

#[test]
fn concurrent_processes_refresh_once() {
    let w = Whale::new();
    let fake = Fake::start();
    fake.with(|st| st.expires_in = 30);
    login_ok(&w, &fake, &["--insecure-storage"]);
    fake.with(|st| st.expires_in = 3600);

    let mut bridges: Vec<Mcp> = (0..4).map(|_| bridge(&w, &fake)).collect();
    let ids: Vec<Value> = bridges
        .iter_mut()
        .map(|m| {
            m.send_request(
                "initialize",
                json!({"protocolVersion": "2025-06-18", "capabilities": {},
                       "clientInfo": {"name": "t", "version": "0"}}),
            )
        })
        .collect();
    for (m, id) in bridges.iter_mut().zip(&ids) {
        let reply = m.response(id, TIMEOUT);
        assert!(reply.get("result").is_some(), "{reply}\n{}", m.stderr());
    }
    let (refreshes, reused) = fake.with(|st| (st.seen.refresh_grants, st.seen.reused_refresh));
    assert_eq!(refreshes, 1, "one refresh for four processes");
    assert_eq!(reused, 0, "no rotated refresh token was replayed");
    for m in bridges {
        m.finish();
    }
}

#[test]
fn a_revoked_grant_asks_for_a_new_login() {
    let w = Whale::new();
    let fake = Fake::start();
    login_ok(&w, &fake, &["--insecure-storage"]);
    // The server drops the access token and the grant behind it.
    fake.with(|st| {
        st.access.clear();
        let families: Vec<u64> = st.refresh.values().map(|(f, _)| *f).collect();
        st.revoked_families.extend(families);
    });
    let mut m = bridge(&w, &fake);
    let reply = m.request(
        "initialize",
        json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}),
    );
    let msg = reply["error"]["message"].as_str().unwrap_or_default().to_string();
    // The command to run again names the login's store, so it signs in to
    // the same one.
    let status = w.json(&["auth", "status", "--json"]);
    let store = status["logins"][0]["store_id"].as_str().expect("store_id");
    assert!(
        msg.contains(&format!("`whale login --server {} --store {store}`", fake.base)),
        "{reply}"
    );
    assert!(msg.contains("invalid_grant"), "{reply}");
    m.finish();
}

#[test]
fn bridge_without_a_login_exits_3() {
    let w = Whale::new();
    let fake = Fake::start();
    // The hint is one command, quoted whole, --store included when given.
    for (global, hint) in [
        (vec![], format!("run `whale login --server {}`", fake.base)),
        (
            vec!["--store", "acme"],
            format!("run `whale login --server {} --store acme`", fake.base),
        ),
    ] {
        let mut args = global;
        args.extend(["mcp", "--server", &fake.base]);
        let out = run_bounded(w.command(&args), "bridge without login");
        assert_exit(&out, 3, &format!("bridge without login: {args:?}"));
        assert!(stderr(&out).contains(&hint), "{}", stderr(&out));
        assert!(stdout(&out).is_empty(), "stdout is only for JSON-RPC");
    }
    let sse = w.run(&["mcp", "--server", &fake.base, "--transport", "sse"]);
    assert_exit(&sse, 2, "--server with --transport sse");
}

#[test]
fn install_with_server_writes_no_secret() {
    let w = Whale::new();
    let cfg = w.dir.join("claude.json");
    let out = w.run(&[
        "--store",
        "acme",
        "install",
        "claude",
        "--server",
        "https://whale.example.com/",
        "--config",
        cfg.to_str().expect("utf-8"),
    ]);
    assert_exit(&out, 0, "install --server");
    assert!(
        stderr(&out).contains("`whale login --server https://whale.example.com --store acme`"),
        "{}",
        stderr(&out)
    );
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&cfg).expect("config")).expect("json");
    let entry = &doc["mcpServers"]["whale"];
    assert_eq!(
        entry["args"],
        json!(["mcp", "--server", "https://whale.example.com", "--store", "acme"])
    );
    assert!(entry.get("env").is_none(), "{entry}");

    // The endpoint URL names the same server; a plain-HTTP remote server is
    // warned about once (nothing is contacted: 192.0.2.0/24 is TEST-NET-1).
    let out = w.run(&[
        "install",
        "claude",
        "--server",
        "http://192.0.2.7:3100/mcp",
        "--config",
        cfg.to_str().expect("utf-8"),
    ]);
    assert_exit(&out, 0, "install --server …/mcp");
    let err = stderr(&out);
    assert_eq!(err.matches("uses plain HTTP").count(), 1, "{err}");
    assert!(
        err.contains("whale login --server http://192.0.2.7:3100`"),
        "{err}"
    );
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&cfg).expect("config")).expect("json");
    assert_eq!(
        doc["mcpServers"]["whale"]["args"],
        json!(["mcp", "--server", "http://192.0.2.7:3100"])
    );
}
