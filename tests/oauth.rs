//! The embedded OAuth 2.1 authorization server from the outside: a whale
//! HTTP server on 127.0.0.1 and a test that plays both the client (RFC 7591
//! registration, PKCE, the token endpoint) and the browser (following the
//! authorize redirect, posting the login and consent forms, carrying the
//! CSRF cookie). Tokens are then used on `/mcp` and the REST API exactly as
//! API keys are.
//!
//! Every negative case checks that nothing was issued: the code and token
//! tables are read straight from the database file.
#![allow(clippy::disallowed_methods)]

mod common;

use common::python;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use common::http_client::*;
use common::{HttpServer, TIMEOUT, Whale, error_text, stderr, stdout};
use reqwest::StatusCode;
use reqwest::blocking::{Client, Response};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const EMAIL: &str = "owner@example.com";
const PASSWORD: &str = "correct horse battery staple";
const REDIRECT: &str = "http://127.0.0.1/callback";

// ===========================================================================
// Helpers
// ===========================================================================

fn add_user(w: &Whale, email: &str, password: &str, store: &str) {
    let out = w.run_input(
        &["--store", store, "users", "add", email, "--password-stdin"],
        &format!("{password}\n"),
    );
    assert!(out.status.success(), "users add: {}", stderr(&out));
}

/// A server with the owner as a member of `demo`.
fn server(extra: &[&str]) -> (Whale, HttpServer) {
    let w = Whale::new();
    add_user(&w, EMAIL, PASSWORD, "demo");
    let s = w.serve_http(extra);
    (w, s)
}

fn count(w: &Whale, table: &str) -> i64 {
    w.sqlite()
        .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .expect("count")
}

/// Nothing issued: no code, no token.
fn assert_nothing_issued(w: &Whale, what: &str) {
    assert_eq!(count(w, "oauth_codes"), 0, "{what}: a code was issued");
    assert_eq!(count(w, "oauth_tokens"), 0, "{what}: a token was issued");
}

fn pkce() -> (String, String) {
    let verifier: String = (0..64)
        .map(|i| {
            b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~"[(i * 7 + nanos()) % 66]
                as char
        })
        .collect();
    let challenge =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

fn nanos() -> usize {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as usize)
        .unwrap_or(7)
}

/// RFC 7591 registration of a public client; its client_id.
fn register(s: &HttpServer, name: &str, redirect: &str) -> String {
    let resp = http()
        .post(s.url("/register"))
        .json(
            &json!({"client_name": name, "redirect_uris": [redirect], "token_endpoint_auth_method": "none"}),
        )
        .send()
        .expect("POST /register");
    assert_eq!(resp.status(), StatusCode::CREATED);
    let body: Value = resp.json().expect("registration JSON");
    assert!(
        body.get("client_secret").is_none(),
        "a public client got a secret: {body}"
    );
    body["client_id"].as_str().expect("client_id").to_string()
}

fn query(url: &str) -> HashMap<String, String> {
    url::Url::parse(url)
        .unwrap_or_else(|e| panic!("{url}: {e}"))
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn location(resp: &Response) -> String {
    header_str(resp.headers(), "location")
}

/// The authorization request of a test client.
struct AuthRequest {
    client_id: String,
    redirect_uri: String,
    challenge: Option<String>,
    method: Option<&'static str>,
    scope: &'static str,
    state: &'static str,
    resource: Option<String>,
}

impl AuthRequest {
    fn new(client_id: &str, challenge: &str) -> AuthRequest {
        AuthRequest {
            client_id: client_id.into(),
            redirect_uri: "http://127.0.0.1:45678/callback".into(),
            challenge: Some(challenge.into()),
            method: Some("S256"),
            scope: "products platform:read orders:read",
            state: "st-123",
            resource: None,
        }
    }

    fn url(&self, s: &HttpServer) -> String {
        let mut u = url::Url::parse(&s.url("/authorize")).expect("url");
        {
            let mut q = u.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", &self.client_id)
                .append_pair("redirect_uri", &self.redirect_uri)
                .append_pair("scope", self.scope)
                .append_pair("state", self.state);
            if let Some(c) = &self.challenge {
                q.append_pair("code_challenge", c);
            }
            if let Some(m) = self.method {
                q.append_pair("code_challenge_method", m);
            }
            if let Some(r) = &self.resource {
                q.append_pair("resource", r);
            }
        }
        u.to_string()
    }
}

/// The browser: follows nothing by itself, keeps the CSRF cookie.
struct Browser {
    http: Client,
    cookies: Vec<String>,
}

impl Browser {
    fn new() -> Browser {
        Browser {
            http: http(),
            cookies: Vec::new(),
        }
    }

    /// A browser on another loopback address (127.0.0.2, …): another
    /// client to the per-address limits.
    fn at(address: &str) -> Browser {
        let http = client_builder()
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .local_address(address.parse::<std::net::IpAddr>().ok())
            .build()
            .expect("build an HTTP client");
        Browser {
            http,
            cookies: Vec::new(),
        }
    }

    fn keep_cookies(&mut self, resp: &Response) {
        for v in resp.headers().get_all("set-cookie") {
            let pair = v
                .to_str()
                .unwrap_or("")
                .split(';')
                .next()
                .unwrap_or("")
                .to_string();
            self.cookies.push(pair);
        }
    }

    fn get(&mut self, url: &str) -> Response {
        let resp = self.http.get(url).send().expect("GET");
        self.keep_cookies(&resp);
        resp
    }

    /// Opens the sign-in page at `url`; its form's `request_id` and `csrf`.
    fn sign_in_form(&mut self, url: &str) -> (String, String) {
        let html = self.get(url).text().expect("sign-in page");
        (input_value(&html, "request_id"), input_value(&html, "csrf"))
    }

    /// Signs in as the test user on the page at `authorize_url`; the
    /// request's id and CSRF token, and the consent page.
    fn consent(&mut self, s: &HttpServer, authorize_url: &str) -> (String, String, String) {
        let (id, csrf) = self.sign_in_form(authorize_url);
        let consent = self.sign_in(s, &id, &csrf, EMAIL, PASSWORD);
        assert_eq!(consent.status(), StatusCode::OK, "login");
        (id, csrf, consent.text().expect("consent page"))
    }

    /// Answers the consent page `html` of request `id` with `decision`
    /// for the store it offers; the redirect back to the client.
    fn decide(&mut self, s: &HttpServer, id: &str, csrf: &str, html: &str, decision: &str) -> String {
        let store = input_value(html, "store");
        let back = self.post_form(
            &s.url("/authorize/consent"),
            &[
                ("request_id", id),
                ("csrf", csrf),
                ("store", &store),
                ("decision", decision),
            ],
        );
        assert!(back.status().is_redirection(), "consent: {}", back.status());
        location(&back)
    }

    /// Posts the sign-in form of request `id`.
    fn sign_in(&mut self, s: &HttpServer, id: &str, csrf: &str, email: &str, password: &str) -> Response {
        self.post_form(
            &s.url("/authorize/login"),
            &[
                ("request_id", id),
                ("csrf", csrf),
                ("email", email),
                ("password", password),
            ],
        )
    }

    fn post_form(&mut self, url: &str, form: &[(&str, &str)]) -> Response {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        self.http
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", self.cookies.join("; "))
            .body(body)
            .send()
            .expect("POST form")
    }
}

/// The value of a hidden (or any) input named `name` in a page.
fn input_value(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no input `{name}` in page:\n{html}"))
        + marker.len();
    html[start..].split('"').next().unwrap_or("").to_string()
}

/// Signs in on the page at `authorize_url` and answers the consent;
/// returns the redirect back to the client (the `Location`).
fn sign_in_and_decide(
    s: &HttpServer,
    authorize_url: &str,
    email: &str,
    password: &str,
    decision: &str,
) -> String {
    let mut b = Browser::new();
    let page = b.get(authorize_url);
    assert_eq!(page.status(), StatusCode::OK, "authorize page");
    assert_eq!(header_str(page.headers(), "x-frame-options"), "DENY");
    assert!(header_str(page.headers(), "content-security-policy").contains("frame-ancestors 'none'"));
    let html = page.text().expect("page");
    let id = input_value(&html, "request_id");
    let csrf = input_value(&html, "csrf");
    let consent = b.sign_in(s, &id, &csrf, email, password);
    assert_eq!(consent.status(), StatusCode::OK, "login");
    let html = consent.text().expect("consent page");
    assert!(
        html.contains("See and change products"),
        "scopes in plain words: {html}"
    );
    // The name is the client's own claim, and the page says so; where the
    // answer goes is said in words (a loopback redirect: an app here).
    assert!(
        html.contains("whale has not checked its name")
            && html.contains("It sends you back to <strong>an app on this computer (port "),
        "where the client comes from: {html}"
    );
    b.decide(s, &id, &csrf, &html, decision)
}

/// [`sign_in_and_decide`] for a client whose redirect URI is on the web at
/// `host`: the consent page names it.
fn sign_in_and_decide_at(s: &HttpServer, authorize_url: &str, decision: &str, host: &str) -> String {
    let mut b = Browser::new();
    let (id, csrf, html) = b.consent(s, authorize_url);
    assert!(
        html.contains(&format!("It sends you back to <strong>{host}</strong>")),
        "{html}"
    );
    b.decide(s, &id, &csrf, &html, decision)
}

fn token(s: &HttpServer, form: &[(&str, &str)]) -> Response {
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    http()
        .post(s.url("/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .expect("POST /token")
}

/// A registered client that went through the whole browser flow: its id,
/// its verifier and the code.
struct Authorized {
    client_id: String,
    verifier: String,
    redirect_uri: String,
    code: String,
}

fn authorize(s: &HttpServer) -> Authorized {
    authorize_as(s, "Test Agent")
}

/// The browser flow for a client registered as `name`.
fn authorize_as(s: &HttpServer, name: &str) -> Authorized {
    let client_id = register(s, name, REDIRECT);
    let (verifier, challenge) = pkce();
    let req = AuthRequest::new(&client_id, &challenge);
    let back = sign_in_and_decide(s, &req.url(s), EMAIL, PASSWORD, "approve");
    assert!(back.starts_with("http://127.0.0.1:45678/callback?"), "{back}");
    let q = query(&back);
    assert_eq!(q.get("state").map(String::as_str), Some("st-123"), "state echoed");
    assert_eq!(q.get("iss"), Some(&s.base), "RFC 9207 iss");
    Authorized {
        client_id,
        verifier,
        redirect_uri: req.redirect_uri,
        code: q["code"].clone(),
    }
}

fn exchange(s: &HttpServer, a: &Authorized) -> Response {
    token(
        s,
        &[
            ("grant_type", "authorization_code"),
            ("code", &a.code),
            ("redirect_uri", &a.redirect_uri),
            ("client_id", &a.client_id),
            ("code_verifier", &a.verifier),
        ],
    )
}

fn tokens(s: &HttpServer) -> (Authorized, Value) {
    tokens_as(s, "Test Agent")
}

fn tokens_as(s: &HttpServer, name: &str) -> (Authorized, Value) {
    let a = authorize_as(s, name);
    let resp = exchange(s, &a);
    assert_eq!(header_str(resp.headers(), "cache-control"), "no-store");
    let t = ok_json(resp, "code exchange");
    (a, t)
}

fn refresh(s: &HttpServer, client_id: &str, rt: &str) -> Response {
    token(
        s,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt),
            ("client_id", client_id),
        ],
    )
}

fn tools_list_status(s: &HttpServer, bearer_token: &str) -> (StatusCode, String) {
    let resp = http()
        .post(s.url("/mcp"))
        .header("authorization", format!("Bearer {bearer_token}"))
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(
            json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}})
            .to_string(),
        )
        .send()
        .expect("POST /mcp");
    let status = resp.status();
    (status, resp.text().unwrap_or_default())
}

// ===========================================================================
// Discovery and the happy path
// ===========================================================================

#[test]
fn metadata_documents_name_each_other() {
    let (_w, s) = server(&[]);
    let prm = ok_json(
        http()
            .get(s.url("/.well-known/oauth-protected-resource/mcp"))
            .send()
            .unwrap(),
        "PRM",
    );
    assert_eq!(prm["authorization_servers"], json!([s.base]));
    let md = ok_json(
        http()
            .get(s.url("/.well-known/oauth-authorization-server"))
            .send()
            .unwrap(),
        "AS metadata",
    );
    assert_eq!(md["issuer"], json!(s.base));
    assert_eq!(md["code_challenge_methods_supported"], json!(["S256"]));
    for (k, path) in [
        ("authorization_endpoint", "/authorize"),
        ("token_endpoint", "/token"),
        ("registration_endpoint", "/register"),
        ("revocation_endpoint", "/revoke"),
        ("introspection_endpoint", "/introspect"),
    ] {
        assert_eq!(md[k], json!(s.url(path)), "{k}");
    }
    let grants = md["grant_types_supported"].as_array().unwrap();
    for g in ["authorization_code", "refresh_token", "client_credentials"] {
        assert!(grants.contains(&json!(g)), "{g}");
    }
    assert!(
        md["scopes_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("products:read"))
    );
}

#[test]
fn browser_flow_gives_tokens_that_work_like_api_keys() {
    let (w, s) = server(&[]);
    let (_a, t) = tokens(&s);
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["store_id"], "demo");
    assert!(t["expires_in"].as_i64().unwrap() > 0);
    let at = t["access_token"].as_str().unwrap();
    assert!(t["refresh_token"].as_str().unwrap().starts_with("wo_rt_"));

    // MCP: the token's scopes decide what is listed and callable.
    let mut mcp = Streamable::open(&s, at);
    let names: Vec<String> = mcp
        .tools()
        .iter()
        .filter_map(|t| t["name"].as_str().map(str::to_string))
        .collect();
    assert!(names.contains(&"products".to_string()), "{names:?}");
    assert!(
        !names.contains(&"customers".to_string()),
        "no customers scope: {names:?}"
    );
    let settings = mcp.call_ok("store", json!({"action": "get_settings"}));
    assert!(settings.is_object());
    // orders:write is not granted: the step-up challenge (see
    // a_call_beyond_the_token_s_scope_gets_the_step_up_challenge).
    let denied = mcp
        .try_request(
            "tools/call",
            json!({"name": "orders", "arguments": {"action": "cancel_order", "order_id": "ord_x", "reason": "x"}}),
        )
        .expect_err("orders:write is not granted");
    assert!(
        denied.contains("HTTP 403") && denied.contains("orders:write"),
        "{denied}"
    );

    // Audit: the agent is the OAuth client's name.
    // (reads are audited write-behind: wait for the batch)
    wait_until("the audit rows of the OAuth client", || {
        w.executions(&["--agent", "Test Agent"])["total"]
            .as_i64()
            .unwrap()
            >= 2
    });

    // REST accepts the token as well (its store in the path).
    let resp = http()
        .get(s.url("/v1/stores/demo/tool-executions?limit=1"))
        .header("authorization", format!("Bearer {at}"))
        .send()
        .unwrap();
    let page = ok_json(resp, "REST tool-executions with an OAuth token");
    assert_eq!(page["executions"][0]["agent_name"], json!("Test Agent"), "{page}");
    let resp = http()
        .get(s.url("/v1/stores/other/tool-executions"))
        .header("authorization", format!("Bearer {at}"))
        .send()
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND, "another store's path");

    // Nothing secret was stored in the clear.
    let conn = w.sqlite();
    let leaked: i64 = conn
        .query_row(
            "SELECT count(*) FROM oauth_tokens WHERE instr(CAST(token_hash AS TEXT), 'wo_') > 0",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(leaked, 0);
    assert!(!s.stderr().contains(at), "the token reached the log");
}

#[test]
fn a_client_named_like_a_key_agent_is_an_agent_of_its_own() {
    let (w, s) = server(&[]);
    let key = w.json(&[
        "keys",
        "create",
        "--agent",
        "support-bot",
        "--scopes",
        "products:read",
        "--json",
    ]);
    let key_agent = key["agent_id"].as_str().unwrap().to_string();
    let mut by_key = Streamable::open(&s, key["key"].as_str().unwrap());
    by_key.call_ok("products", json!({"action": "list_products", "limit": 1}));
    // Anyone may register as `support-bot`; two clients do.
    for _ in 0..2 {
        let (_a, t) = tokens_as(&s, "support-bot");
        let mut mcp = Streamable::open(&s, t["access_token"].as_str().unwrap());
        mcp.call_ok("products", json!({"action": "list_products", "limit": 1}));
    }
    let calls = || w.executions(&["--agent", "support-bot", "--tool", "products"]);
    wait_until("the audit rows of the key and both clients", || {
        calls()["total"].as_i64().unwrap() >= 3
    });
    let mut agents: Vec<String> = calls()["executions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(e["agent_name"], "support-bot", "the audit names the client: {e}");
            e["agent_id"].as_str().unwrap().to_string()
        })
        .collect();
    agents.sort();
    agents.dedup();
    assert_eq!(
        agents.len(),
        3,
        "one agent each for the key and both clients: {agents:?}"
    );
    // The key's agent id picks out the key's calls only.
    let by_id = w.executions(&["--agent", &key_agent, "--tool", "products"]);
    assert_eq!(by_id["total"], 1, "{by_id}");
    // And a later key for the same name joins the key's agent, not a client's.
    let again = w.json(&[
        "keys",
        "create",
        "--agent",
        "support-bot",
        "--scopes",
        "products:read",
        "--json",
    ]);
    assert_eq!(again["agent_id"], json!(key_agent));
}

#[test]
fn deny_redirects_with_access_denied_and_issues_nothing() {
    let (w, s) = server(&[]);
    let client_id = register(&s, "Denied", REDIRECT);
    let (_v, challenge) = pkce();
    let back = sign_in_and_decide(
        &s,
        &AuthRequest::new(&client_id, &challenge).url(&s),
        EMAIL,
        PASSWORD,
        "deny",
    );
    let q = query(&back);
    assert_eq!(q.get("error").map(String::as_str), Some("access_denied"));
    assert_eq!(q.get("state").map(String::as_str), Some("st-123"));
    assert_nothing_issued(&w, "deny");
}

#[test]
fn wrong_password_and_missing_csrf_cookie_are_refused() {
    let (w, s) = server(&[]);
    let client_id = register(&s, "Pw", REDIRECT);
    let (_v, challenge) = pkce();
    let url = AuthRequest::new(&client_id, &challenge).url(&s);
    let mut b = Browser::new();
    let (id, csrf) = b.sign_in_form(&url);
    let resp = b.sign_in(&s, &id, &csrf, EMAIL, "wrong password!");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(resp.text().unwrap().contains("Wrong email or password"));
    // A forged post without the browser's cookie (cross-site) fails CSRF.
    let mut other = Browser::new();
    let resp = other.sign_in(&s, &id, &csrf, EMAIL, PASSWORD);
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.text().unwrap().contains("CSRF"));
    assert_nothing_issued(&w, "wrong password");
}

// ===========================================================================
// Negative cases at /authorize and /token: nothing issued
// ===========================================================================

#[test]
fn pkce_missing_or_plain_is_refused_at_authorize() {
    let (w, s) = server(&[]);
    let client_id = register(&s, "NoPkce", REDIRECT);
    let mut req = AuthRequest::new(&client_id, "x");
    req.challenge = None;
    req.method = None;
    let resp = Browser::new().get(&req.url(&s));
    assert!(resp.status().is_redirection());
    let q = query(&location(&resp));
    assert_eq!(q["error"], "invalid_request");
    assert!(q["error_description"].contains("PKCE"));

    let (verifier, _) = pkce();
    let mut req = AuthRequest::new(&client_id, &verifier[..43]);
    req.method = Some("plain");
    let resp = Browser::new().get(&req.url(&s));
    let q = query(&location(&resp));
    assert_eq!(q["error"], "invalid_request");
    assert!(q["error_description"].contains("plain"));
    assert_nothing_issued(&w, "PKCE");
}

#[test]
fn unregistered_redirect_uri_is_never_redirected_to() {
    let (w, s) = server(&[]);
    let client_id = register(&s, "Redirects", REDIRECT);
    let (_v, challenge) = pkce();
    for bad in [
        "http://127.0.0.1:45678/elsewhere",
        "https://evil.example/callback",
        "http://localhost:45678/callback",
    ] {
        let mut req = AuthRequest::new(&client_id, &challenge);
        req.redirect_uri = bad.into();
        shown_not_redirected(&req.url(&s), "not registered");
    }
    // A repeated parameter (RFC 6749 §3.1) is refused on the page too.
    let req = AuthRequest::new(&client_id, &challenge);
    let twice = format!(
        "{}&redirect_uri=https%3A%2F%2Fevil.example%2Fcallback",
        req.url(&s)
    );
    shown_not_redirected(&twice, "parameter `redirect_uri` is repeated");
    let page = Browser::new().get(&twice);
    let kind = page.headers()[reqwest::header::CONTENT_TYPE]
        .to_str()
        .unwrap_or_default()
        .to_string();
    assert!(kind.starts_with("text/html"), "{kind}");
    assert_nothing_issued(&w, "redirect_uri");
}

/// An authorization request at `url` that is refused on whale's own page
/// (400, saying `says`), not redirected anywhere.
fn shown_not_redirected(url: &str, says: &str) {
    let resp = Browser::new().get(url);
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{url}");
    assert!(
        location(&resp).is_empty(),
        "{url}: redirected to {}",
        location(&resp)
    );
    let text = resp.text().unwrap();
    assert!(text.contains(says), "{url}: {text}");
}

/// Anyone may register any https redirect URI: an error found before
/// anyone signed in is shown on whale's page, not sent there (RFC 9700
/// §4.11.2, whale as an open redirector). An app on this computer (a
/// loopback redirect) still hears of its mistakes (see the PKCE test).
#[test]
fn errors_before_sign_in_are_not_redirected_to_a_registered_web_site() {
    let (w, s) = server(&[]);
    let phish = "https://evil.example/phish";
    let client_id = register(&s, "Phish", phish);
    let (_v, challenge) = pkce();
    let mut req = AuthRequest::new(&client_id, &challenge);
    req.redirect_uri = phish.into();
    let bad_type = req.url(&s).replace("response_type=code", "response_type=x");
    let no_pkce = req
        .url(&s)
        .replace("code_challenge_method=S256", "code_challenge_method=plain");
    for (url, says) in [(bad_type, "response_type=code"), (no_pkce, "plain")] {
        shown_not_redirected(&url, says);
    }
    // After the person signed in and decided, the answer goes back as usual.
    let back = sign_in_and_decide_at(&s, &req.url(&s), "deny", "evil.example");
    assert!(back.starts_with(phish), "{back}");
    assert_eq!(query(&back)["error"], "access_denied");
    assert_nothing_issued(&w, "open redirect");
}

/// The consent page says where the answer goes, in words, for every kind
/// of redirect URI — a private-use scheme has no host to name.
#[test]
fn the_consent_page_names_a_private_use_redirect() {
    let (_w, s) = server(&[]);
    let app = "com.example.app:/oauth/cb";
    let client_id = register(&s, "Native", app);
    let (_v, challenge) = pkce();
    let mut req = AuthRequest::new(&client_id, &challenge);
    req.redirect_uri = app.into();
    let (_, _, html) = Browser::new().consent(&s, &req.url(&s));
    assert!(
        html.contains("It sends you back to <strong>the app that opens com.example.app: links</strong>"),
        "{html}"
    );
}

#[test]
fn wrong_verifier_and_reused_code_issue_nothing_and_revoke() {
    let (w, s) = server(&[]);
    // Wrong verifier: refused, and the code is burned.
    let mut a = authorize(&s);
    let right = std::mem::replace(&mut a.verifier, pkce().0);
    let (_, body) = expect_error(
        exchange(&s, &a),
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "wrong verifier",
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("code_verifier")
    );
    a.verifier = right;
    let (_, body) = expect_error(
        exchange(&s, &a),
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "burned code",
    );
    // No token came of the first attempt: none is said to be revoked.
    let said = body["error_description"].as_str().unwrap_or_default();
    assert!(
        said.contains("start the authorization again") && !said.contains("revoked"),
        "{body}"
    );
    assert_eq!(count(&w, "oauth_tokens"), 0);

    // A redirect_uri that differs from the authorization request.
    let mut b = authorize(&s);
    b.redirect_uri = "http://127.0.0.1:45679/callback".into();
    expect_error(
        exchange(&s, &b),
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "redirect mismatch",
    );
    assert_eq!(count(&w, "oauth_tokens"), 0);

    // Reuse of a good code: refused, and the first tokens are revoked.
    let c = authorize(&s);
    let t = ok_json(exchange(&s, &c), "first exchange");
    let at = t["access_token"].as_str().unwrap();
    assert_eq!(tools_list_status(&s, at).0, StatusCode::OK);
    let (_, body) = expect_error(
        exchange(&s, &c),
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "reuse",
    );
    assert!(body["error_description"].as_str().unwrap().contains("revoked"));
    assert_eq!(tools_list_status(&s, at).0, StatusCode::UNAUTHORIZED);
    let (status, _) = (
        refresh(&s, &c.client_id, t["refresh_token"].as_str().unwrap()).status(),
        (),
    );
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "the refresh token died with the grant"
    );
}

/// Offboarding: a person removed from a store can no longer grant it, and
/// what they granted agents there ends at once (access and refresh tokens).
#[test]
fn a_removed_user_s_tokens_end_with_their_membership() {
    let (w, s) = server(&[]);
    let (a, t) = tokens(&s);
    let at = t["access_token"].as_str().unwrap();
    let rt = t["refresh_token"].as_str().unwrap();
    assert_eq!(tools_list_status(&s, at).0, StatusCode::OK);

    // Another store's removal, or an unknown person, changes nothing.
    let out = w.run(&["stores", "create", "acme", "--name", "Acme"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let other = w.json(&["--store", "acme", "users", "remove", EMAIL, "--json"]);
    assert_eq!(other["removed"], json!(false), "{other}");
    assert_eq!(other["tokens_revoked"], json!(0), "{other}");
    let out = w.run(&["users", "remove", "nobody@example.com"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(tools_list_status(&s, at).0, StatusCode::OK);

    let out = w.run(&["users", "remove", EMAIL]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("2 tokens they granted agents there were revoked"),
        "{}",
        stdout(&out)
    );
    assert_eq!(tools_list_status(&s, at).0, StatusCode::UNAUTHORIZED);
    expect_error(
        refresh(&s, &a.client_id, rt),
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "refresh after removal",
    );
    let users = w.json(&["users", "list", "--json"]);
    assert_eq!(users["users"][0]["stores"], json!([]), "{users}");
    let again = w.run(&["users", "remove", EMAIL]);
    assert!(stdout(&again).contains("nothing changed"), "{}", stdout(&again));
}

/// Removal also ends what was in flight: a consent page opened before it,
/// and a code issued before it and not yet exchanged.
#[test]
fn a_removed_user_can_finish_no_sign_in_begun_before() {
    let (w, s) = server(&[]);
    // Signed in, consent page open.
    let client_id = register(&s, "Open page", REDIRECT);
    let (_v, challenge) = pkce();
    let mut b = Browser::new();
    let (id, csrf, html) = b.consent(&s, &AuthRequest::new(&client_id, &challenge).url(&s));
    // A code minted, not yet exchanged.
    let a = authorize_as(&s, "Pending code");
    let out = w.run(&["users", "remove", EMAIL]);
    assert!(out.status.success(), "{}", stderr(&out));

    let store = input_value(&html, "store");
    let resp = b.post_form(
        &s.url("/authorize/consent"),
        &[
            ("request_id", &id),
            ("csrf", &csrf),
            ("store", &store),
            ("decision", "approve"),
        ],
    );
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "approval after removal");
    assert!(resp.text().unwrap().contains("not a member of store"));
    expect_error(
        exchange(&s, &a),
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "code minted before removal",
    );
    assert_eq!(count(&w, "oauth_tokens"), 0, "a token was issued");
}

#[test]
fn refresh_rotates_and_reuse_revokes_the_family() {
    let (_w, s) = server(&[]);
    let (a, t1) = tokens(&s);
    let rt1 = t1["refresh_token"].as_str().unwrap();
    let t2 = ok_json(refresh(&s, &a.client_id, rt1), "refresh");
    let rt2 = t2["refresh_token"].as_str().unwrap();
    assert_ne!(rt1, rt2, "rotated");
    let at2 = t2["access_token"].as_str().unwrap();
    assert_eq!(tools_list_status(&s, at2).0, StatusCode::OK);
    // The old refresh token again: refused, and the whole family ends.
    expect_error(
        refresh(&s, &a.client_id, rt1),
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "reuse",
    );
    assert_eq!(tools_list_status(&s, at2).0, StatusCode::UNAUTHORIZED);
    expect_error(
        refresh(&s, &a.client_id, rt2),
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "family",
    );
}

/// RFC 6749 §6: a refresh that asks for less narrows the access token
/// only; the new refresh token keeps the grant's scope.
#[test]
fn a_narrower_refresh_narrows_the_access_token_not_the_grant() {
    let (_w, s) = server(&[]);
    let (a, t1) = tokens(&s);
    let granted = t1["scope"].as_str().unwrap().to_string();
    let narrow = |rt: &str, scope: &str| {
        token(
            &s,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", rt),
                ("client_id", a.client_id.as_str()),
                ("scope", scope),
            ],
        )
    };
    let t2 = ok_json(
        narrow(t1["refresh_token"].as_str().unwrap(), "products:read"),
        "narrowed refresh",
    );
    assert_eq!(t2["scope"], "products:read");
    let mut mcp = Streamable::open(&s, t2["access_token"].as_str().unwrap());
    let names: Vec<Value> = mcp.tools().iter().map(|t| t["name"].clone()).collect();
    assert_eq!(names, vec![json!("products")], "the access token is narrowed");
    // The next refresh may ask for everything granted again.
    let t3 = ok_json(
        narrow(t2["refresh_token"].as_str().unwrap(), &granted),
        "refresh back to the granted scope",
    );
    assert_eq!(t3["scope"], json!(granted));
    let t4 = ok_json(
        refresh(&s, &a.client_id, t3["refresh_token"].as_str().unwrap()),
        "refresh without scope",
    );
    assert_eq!(t4["scope"], json!(granted));
}

/// MCP 2025-11-25 scope challenge: a `tools/call` the token's scopes do
/// not cover is HTTP 403 with `insufficient_scope`, the scopes to ask for
/// (what the token has and what the call needs) and the metadata URL. The
/// denial is audited once; an API key with the same scopes still gets a
/// readable tool result (no one can step a key up).
#[test]
fn a_call_beyond_the_token_s_scope_gets_the_step_up_challenge() {
    let (w, s) = server(&[]);
    let (a, t1) = tokens(&s);
    let narrowed = ok_json(
        token(
            &s,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", t1["refresh_token"].as_str().unwrap()),
                ("client_id", a.client_id.as_str()),
                ("scope", "products:read"),
            ],
        ),
        "narrowed refresh",
    );
    let at = narrowed["access_token"].as_str().unwrap();
    let mut mcp = Streamable::open(&s, at);
    mcp.call_ok("products", json!({"action": "list_products", "limit": 1}));
    let call = rpc(
        7,
        "tools/call",
        json!({"name": "customers", "arguments": {"action": "list_customers"}}),
    );
    let resp = mcp.post_as(at, &call).expect("POST /mcp");
    let (h, _) = expect_error(resp, StatusCode::FORBIDDEN, "insufficient_scope", "step-up");
    let challenge = header_str(&h, "www-authenticate");
    assert!(
        challenge.starts_with("Bearer error=\"insufficient_scope\"")
            && challenge.contains("scope=\"products:read customers:read\"")
            && challenge.contains(&format!(
                "resource_metadata=\"{}\"",
                s.url("/.well-known/oauth-protected-resource/mcp")
            )),
        "{challenge}"
    );
    // (a refused read is audited write-behind: wait for the batch)
    wait_until("the denial's audit row", || {
        w.json(&["executions", "list", "--tool", "customers", "--json"])["total"] == json!(1)
    });
    let denied = w.json(&["executions", "list", "--tool", "customers", "--json"]);
    let rows = denied["executions"].as_array().expect("executions");
    assert_eq!(rows.len(), 1, "{denied}");
    assert_eq!(rows[0]["error_code"], "insufficient_scope", "{denied}");

    // An API key of the same scopes: a tool result saying what is missing.
    let (_, key) = w.create_key_as("reader", "products:read", false, &[]);
    let mut keyed = Streamable::open(&s, &key);
    let result = keyed.call("customers", json!({"action": "list_customers"}));
    assert_eq!(result["isError"], json!(true), "{result}");
    assert!(error_text(&result).contains("customers:read"), "{result}");
}

/// RFC 6749 §5.2, §6: a refused refresh request changes nothing — the
/// refresh token presented still works, and the client's retry is not
/// taken for the reuse of a rotated token (which ends the grant).
#[test]
fn a_refused_refresh_leaves_the_refresh_token_usable() {
    let (_w, s) = server(&[]);
    let (a, t) = tokens(&s);
    let (at, rt) = (
        t["access_token"].as_str().unwrap(),
        t["refresh_token"].as_str().unwrap(),
    );
    let asking = |extra: (&str, &str)| {
        token(
            &s,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", rt),
                ("client_id", a.client_id.as_str()),
                extra,
            ],
        )
    };
    expect_error(
        asking(("scope", "orders")),
        StatusCode::BAD_REQUEST,
        "invalid_scope",
        "a scope wider than the grant",
    );
    expect_error(
        asking(("resource", "https://other.example/mcp")),
        StatusCode::BAD_REQUEST,
        "invalid_target",
        "another resource",
    );
    assert_eq!(tools_list_status(&s, at).0, StatusCode::OK, "the grant lives on");
    let t2 = ok_json(
        refresh(&s, &a.client_id, rt),
        "the same refresh token, asked right",
    );
    assert_eq!(
        tools_list_status(&s, t2["access_token"].as_str().unwrap()).0,
        StatusCode::OK
    );
}

/// RFC 7662 §2.2: a refresh token that was rotated can buy nothing more,
/// so it is not active.
#[test]
fn a_rotated_refresh_token_introspects_as_inactive() {
    let (w, s) = server(&[]);
    let (a, t) = tokens(&s);
    let rt1 = t["refresh_token"].as_str().unwrap();
    let (id, secret) = machine_client_of(&w, "demo", "demo-rs", "platform:read");
    assert_eq!(introspect(&s, &id, &secret, rt1)["active"], json!(true));
    let t2 = ok_json(refresh(&s, &a.client_id, rt1), "refresh");
    assert_eq!(introspect(&s, &id, &secret, rt1), json!({"active": false}));
    let rt2 = t2["refresh_token"].as_str().unwrap();
    assert_eq!(introspect(&s, &id, &secret, rt2)["active"], json!(true));
}

#[test]
fn twenty_parallel_refreshes_at_most_one_succeeds() {
    let (w, s) = server(&[]);
    let (a, t) = tokens(&s);
    let rt = t["refresh_token"].as_str().unwrap().to_string();
    let before = count(&w, "oauth_tokens");
    let barrier = Arc::new(Barrier::new(20));
    let ok = Arc::new(Mutex::new(0));
    let statuses = Arc::new(Mutex::new(Vec::new()));
    std::thread::scope(|scope| {
        for _ in 0..20 {
            let (barrier, ok, statuses, rt, client, s) = (
                barrier.clone(),
                ok.clone(),
                statuses.clone(),
                rt.clone(),
                a.client_id.clone(),
                &s,
            );
            scope.spawn(move || {
                barrier.wait();
                let status = refresh(s, &client, &rt).status();
                if status == StatusCode::OK {
                    *ok.lock().unwrap() += 1;
                }
                statuses.lock().unwrap().push(status);
            });
        }
    });
    let ok = *ok.lock().unwrap();
    assert!(ok <= 1, "{ok} refreshes of one token succeeded");
    assert!(count(&w, "oauth_tokens") <= before + 2, "at most one new pair");
    // Exactly one wins (the rest are refused, not failed), and the reuse
    // ends the whole grant, the winner's new tokens included.
    let statuses = statuses.lock().unwrap().clone();
    assert_eq!(ok, 1, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|st| *st == StatusCode::OK || *st == StatusCode::BAD_REQUEST),
        "{statuses:?}"
    );
    let live: i64 = w
        .sqlite()
        .query_row(
            "SELECT count(*) FROM oauth_tokens WHERE revoked_at IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(live, 0, "the reused grant is revoked");
}

#[test]
fn expired_revoked_and_foreign_audience_tokens_are_refused() {
    let w = Whale::new();
    add_user(&w, EMAIL, PASSWORD, "demo");
    let s = w.serve_http(&["--access-token-ttl", "1s"]);
    let (a, t) = tokens(&s);
    let at = t["access_token"].as_str().unwrap();
    // A second server on the same database is another resource: the token
    // was issued for the first one's audience.
    let other = w.serve_http(&[]);
    let (status, body) = tools_list_status(&other, at);
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body.contains("another resource"), "{body}");

    std::thread::sleep(Duration::from_millis(1300));
    let (status, body) = tools_list_status(&s, at);
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("expired"), "{body}");

    // Refresh brings a working token; revoking it (RFC 7009) ends it.
    let t2 = ok_json(
        refresh(&s, &a.client_id, t["refresh_token"].as_str().unwrap()),
        "refresh",
    );
    let at2 = t2["access_token"].as_str().unwrap();
    assert_eq!(tools_list_status(&s, at2).0, StatusCode::OK);
    let resp = http()
        .post(s.url("/revoke"))
        .form(&[("token", at2), ("client_id", a.client_id.as_str())])
        .send()
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let (status, body) = tools_list_status(&s, at2);
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("revoked"), "{body}");
}

/// Token lifetimes have a ceiling (a day, a year): past it the command line
/// is refused, not a token endpoint that overflows computing the expiry.
#[test]
fn token_lifetimes_are_bounded() {
    let w = Whale::new();
    for (flag, value) in [
        ("--access-token-ttl", "2d"),
        ("--refresh-token-ttl", "366d"),
        ("--access-token-ttl", "9999999w"),
        ("--refresh-token-ttl", "9999999w"),
    ] {
        let out = w.run(&["mcp", "--transport", "sse", "--port", "0", flag, value]);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains(flag) && err.contains("longer than the maximum"),
            "{flag} {value}: {err}"
        );
    }
    // The longest allowed work.
    add_user(&w, EMAIL, PASSWORD, "demo");
    let s = w.serve_http(&["--access-token-ttl", "1d", "--refresh-token-ttl", "365d"]);
    let (a, t) = tokens(&s);
    assert_eq!(t["expires_in"], json!(86_400));
    ok_json(
        refresh(&s, &a.client_id, t["refresh_token"].as_str().unwrap()),
        "refresh",
    );
}

#[test]
fn resource_for_another_server_is_refused_at_authorize() {
    let (w, s) = server(&[]);
    let client_id = register(&s, "Aud", REDIRECT);
    let (_v, challenge) = pkce();
    let mut req = AuthRequest::new(&client_id, &challenge);
    req.resource = Some("https://other.example/mcp".into());
    let q = query(&location(&Browser::new().get(&req.url(&s))));
    assert_eq!(q["error"], "invalid_target");
    assert_nothing_issued(&w, "resource");
}

#[test]
fn client_credentials_for_machine_clients_only() {
    let (w, s) = server(&[]);
    let created = w.json(&[
        "clients",
        "create",
        "nightly-sync",
        "--scopes",
        "products:read",
        "--json",
    ]);
    let id = created["client_id"].as_str().unwrap();
    let secret = created["client_secret"].as_str().unwrap();
    let resp = http()
        .post(s.url("/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .unwrap();
    let t = ok_json(resp, "client_credentials");
    assert!(t.get("refresh_token").is_none());
    // A missing grant_type is a missing parameter; an unknown one is not
    // supported (RFC 6749 §5.2).
    for (form, error) in [
        (vec![("scope", "products:read")], "invalid_request"),
        (vec![("grant_type", "password")], "unsupported_grant_type"),
    ] {
        let resp = http()
            .post(s.url("/token"))
            .basic_auth(id, Some(secret))
            .form(&form)
            .send()
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{form:?}");
        let v: Value = resp.json().unwrap();
        assert_eq!(v["error"], json!(error), "{form:?}: {v}");
    }
    let at = t["access_token"].as_str().unwrap();
    let mut mcp = Streamable::open(&s, at);
    let names: Vec<Value> = mcp.tools().iter().map(|t| t["name"].clone()).collect();
    assert_eq!(names, vec![json!("products")]);

    // More than the client may have.
    let resp = http()
        .post(s.url("/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials"), ("scope", "orders")])
        .send()
        .unwrap();
    expect_error(
        resp,
        StatusCode::BAD_REQUEST,
        "invalid_scope",
        "scope above the client's",
    );
    // A wrong secret.
    let resp = http()
        .post(s.url("/token"))
        .basic_auth(id, Some("wo_cs_wrong"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .unwrap();
    expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_client", "wrong secret");
    // Two authentication methods in one request (RFC 6749 §2.3), even
    // both right: refused, and nothing issued.
    let before = count(&w, "oauth_tokens");
    let resp = http()
        .post(s.url("/token"))
        .basic_auth(id, Some(secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
        ])
        .send()
        .unwrap();
    expect_error(resp, StatusCode::BAD_REQUEST, "invalid_request", "two methods");
    assert_eq!(count(&w, "oauth_tokens"), before, "a token was issued");
    // A public client may not.
    let public = register(&s, "Public", REDIRECT);
    let before = count(&w, "oauth_tokens");
    let resp = token(
        &s,
        &[("grant_type", "client_credentials"), ("client_id", &public)],
    );
    expect_error(
        resp,
        StatusCode::BAD_REQUEST,
        "unauthorized_client",
        "public client",
    );
    assert_eq!(count(&w, "oauth_tokens"), before);
}

/// A machine client (`whale clients create`) of demo: its id and secret.
fn machine_client(w: &Whale, name: &str) -> (String, String) {
    machine_client_of(w, "demo", name, "products:read")
}

/// A machine client of `store` with `scopes`: its id and secret.
fn machine_client_of(w: &Whale, store: &str, name: &str, scopes: &str) -> (String, String) {
    let c = w.json(&[
        "--store", store, "clients", "create", name, "--scopes", scopes, "--json",
    ]);
    (
        c["client_id"].as_str().unwrap().to_string(),
        c["client_secret"].as_str().unwrap().to_string(),
    )
}

fn client_credentials_token(s: &HttpServer, id: &str, secret: &str) -> String {
    let resp = http()
        .post(s.url("/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .unwrap();
    ok_json(resp, "client_credentials")["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A machine client's tokens are one caller: its MCP session outlives the
/// token that opened it.
#[test]
fn a_machine_clients_session_outlives_its_token() {
    let (w, s) = server(&[]);
    let (id, secret) = machine_client(&w, "nightly-sync");
    let first = client_credentials_token(&s, &id, &secret);
    let mut mcp = Streamable::open(&s, &first);
    mcp.call_ok("products", json!({"action": "list_products", "limit": 1}));
    let second = client_credentials_token(&s, &id, &secret);
    assert_ne!(first, second);
    mcp.key = second;
    mcp.call_ok("products", json!({"action": "list_products", "limit": 1}));
    // Another machine client may not join that session.
    let (other, other_secret) = machine_client(&w, "other-sync");
    let foreign = client_credentials_token(&s, &other, &other_secret);
    let resp = mcp
        .post_as(
            &foreign,
            &json!({"jsonrpc": "2.0", "id": 9, "method": "tools/list"}),
        )
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN, "another client's session");
}

/// A machine client's tokens are one caller: a fresh token (`/token` is not
/// rate limited) does not reset its rate limit.
#[test]
fn a_fresh_token_does_not_reset_a_machine_clients_rate_limit() {
    let (w, s) = server(&["--rate-limit", "3"]);
    let (id, secret) = machine_client(&w, "nightly-sync");
    let first = client_credentials_token(&s, &id, &secret);
    let mut limited = false;
    for _ in 0..10 {
        if tools_list_status(&s, &first).0 == StatusCode::TOO_MANY_REQUESTS {
            limited = true;
            break;
        }
    }
    assert!(limited, "3 a minute: the first token is limited");
    let fresh = client_credentials_token(&s, &id, &secret);
    let (status, body) = tools_list_status(&s, &fresh);
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "a fresh token: {body}");
}

#[test]
fn introspection_needs_a_confidential_client_and_reports_the_store() {
    let (w, s) = server(&[]);
    let (a, t) = tokens(&s);
    let at = t["access_token"].as_str().unwrap();
    // A public client cannot introspect.
    let resp = http()
        .post(s.url("/introspect"))
        .form(&[("token", at), ("client_id", a.client_id.as_str())])
        .send()
        .unwrap();
    expect_error(
        resp,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        "public introspection",
    );
    let rs = w.json(&[
        "clients",
        "create",
        "resource-server",
        "--scopes",
        "platform:read",
        "--json",
    ]);
    let (id, secret) = (
        rs["client_id"].as_str().unwrap(),
        rs["client_secret"].as_str().unwrap(),
    );
    let v = ok_json(
        http()
            .post(s.url("/introspect"))
            .basic_auth(id, Some(secret))
            .form(&[("token", at)])
            .send()
            .unwrap(),
        "introspect",
    );
    assert_eq!(v["active"], json!(true));
    assert_eq!(v["store_id"], "demo");
    assert_eq!(v["client_id"], json!(a.client_id));
    assert_eq!(v["aud"], json!(s.url("/mcp")));
    for k in ["scope", "sub", "exp"] {
        assert!(!v[k].is_null(), "{k}: {v}");
    }
    let v = ok_json(
        http()
            .post(s.url("/introspect"))
            .basic_auth(id, Some(secret))
            .form(&[("token", "wo_at_unknown")])
            .send()
            .unwrap(),
        "introspect unknown",
    );
    assert_eq!(v, json!({"active": false}));
}

/// Only failed client authentication counts against an address at the
/// token and introspection endpoints: a resource server introspecting
/// every request and a client refreshing are not throttled by address.
#[test]
fn authenticated_clients_are_not_throttled_by_address_failed_ones_are() {
    let (w, s) = server(&["--rate-limit", "3"]);
    let (a, t) = tokens(&s);
    let (id, secret) = machine_client(&w, "resource-server");
    let at = t["access_token"].as_str().unwrap();
    for i in 0..8 {
        let v = introspect(&s, &id, &secret, at);
        assert_eq!(v["active"], json!(true), "introspection {i}");
    }
    let mut rt = t["refresh_token"].as_str().unwrap().to_string();
    for i in 0..8 {
        let t = ok_json(refresh(&s, &a.client_id, &rt), &format!("refresh {i}"));
        rt = t["refresh_token"].as_str().unwrap().to_string();
    }
    for path in ["/introspect", "/token"] {
        let statuses: Vec<_> = (0..5)
            .map(|_| {
                http()
                    .post(s.url(path))
                    .basic_auth(&id, Some("wrong secret"))
                    .form(&[("grant_type", "client_credentials"), ("token", at)])
                    .send()
                    .unwrap()
                    .status()
            })
            .collect();
        assert_eq!(
            statuses,
            [
                StatusCode::UNAUTHORIZED,
                StatusCode::UNAUTHORIZED,
                StatusCode::UNAUTHORIZED,
                StatusCode::TOO_MANY_REQUESTS,
                StatusCode::TOO_MANY_REQUESTS
            ],
            "{path}: 3 failed authentications a minute"
        );
    }
}

fn introspect(s: &HttpServer, id: &str, secret: &str, token: &str) -> Value {
    ok_json(
        http()
            .post(s.url("/introspect"))
            .basic_auth(id, Some(secret))
            .form(&[("token", token)])
            .send()
            .unwrap(),
        "introspect",
    )
}

#[test]
fn introspection_shows_a_client_its_own_tokens_and_an_admin_its_stores() {
    let (w, s) = server(&[]);
    let (_a, t) = tokens(&s);
    let (at, rt) = (
        t["access_token"].as_str().unwrap(),
        t["refresh_token"].as_str().unwrap(),
    );
    // Anyone may register a confidential client: it learns nothing about
    // other clients' tokens, which look like unknown ones.
    let resp = http()
        .post(s.url("/register"))
        .json(&json!({"client_name": "prober", "redirect_uris": [REDIRECT],
                      "token_endpoint_auth_method": "client_secret_basic"}))
        .send()
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let reg: Value = resp.json().unwrap();
    let (pid, psecret) = (
        reg["client_id"].as_str().unwrap(),
        reg["client_secret"].as_str().unwrap(),
    );
    for tok in [at, rt] {
        assert_eq!(introspect(&s, pid, psecret, tok), json!({"active": false}));
    }
    // Its own token it may see.
    let (verifier, challenge) = pkce();
    let req = AuthRequest::new(pid, &challenge);
    let back = sign_in_and_decide(&s, &req.url(&s), EMAIL, PASSWORD, "approve");
    let own = ok_json(
        http()
            .post(s.url("/token"))
            .basic_auth(pid, Some(psecret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", query(&back)["code"].as_str()),
                ("redirect_uri", req.redirect_uri.as_str()),
                ("code_verifier", verifier.as_str()),
            ])
            .send()
            .unwrap(),
        "confidential code exchange",
    );
    let own_at = own["access_token"].as_str().unwrap();
    let v = introspect(&s, pid, psecret, own_at);
    assert_eq!(
        (&v["active"], &v["client_id"]),
        (&json!(true), &json!(pid)),
        "{v}"
    );
    // An admin client of another store sees none of demo's tokens.
    let out = w.run(&["stores", "create", "other", "--name", "Other"]);
    assert!(out.status.success(), "stores create: {}", stderr(&out));
    let (oid, osecret) = machine_client_of(&w, "other", "other-rs", "platform:read");
    for tok in [at, own_at] {
        assert_eq!(introspect(&s, &oid, &osecret, tok), json!({"active": false}));
    }
    // demo's admin client sees every token of demo.
    let (did, dsecret) = machine_client_of(&w, "demo", "demo-rs", "platform:read");
    for tok in [at, rt, own_at] {
        let v = introspect(&s, &did, &dsecret, tok);
        assert_eq!(
            (&v["active"], &v["store_id"]),
            (&json!(true), &json!("demo")),
            "{v}"
        );
    }
}

#[test]
fn token_in_a_query_string_is_refused() {
    let (_w, s) = server(&[]);
    let (_a, t) = tokens(&s);
    let at = t["access_token"].as_str().unwrap();
    let resp = http()
        .post(format!("{}?access_token={at}", s.url("/mcp")))
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}

#[test]
fn registration_rejects_unsafe_metadata() {
    let (w, s) = server(&[]);
    for (body, what) in [
        (
            json!({"redirect_uris": ["http://evil.example/cb"]}),
            "plain http off loopback",
        ),
        (json!({"redirect_uris": []}), "no redirect"),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "grant_types": ["client_credentials"]}),
            "cc via DCR",
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "private_key_jwt"}),
            "auth method",
        ),
        // A name reaches admins' terminals (`whale clients list`, the
        // audit trail): no escape sequences or forged rows, and not the
        // name of the local owner.
        (
            json!({"redirect_uris": ["https://a.example/cb"], "client_name": "App\u{1b}[2J\u{1b}[31mFAKE"}),
            "escape in client_name",
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "client_name": "App\nwc_forged  dynamic"}),
            "newline in client_name",
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "client_name": "local-owner"}),
            "the owner's name",
        ),
    ] {
        let resp = http().post(s.url("/register")).json(&body).send().unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{what}");
        let err: Value = resp.json().unwrap();
        let expected = if body.get("client_name").is_some() {
            "invalid_client_metadata"
        } else {
            err["error"].as_str().unwrap_or_default()
        };
        assert_eq!(err["error"], expected, "{what}: {err}");
        assert!(
            err["error"].as_str().is_some_and(|e| e.starts_with("invalid_")),
            "{what}: {err}"
        );
    }
    assert_eq!(count(&w, "oauth_clients"), 0);
    // Registration creates rows without a credential: bounded per address.
    let mut limited = None;
    for i in 0..70 {
        let resp = http()
            .post(s.url("/register"))
            .json(&json!({"client_name": format!("c{i}"), "redirect_uris": [REDIRECT]}))
            .send()
            .unwrap();
        if resp.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(!header_str(resp.headers(), "retry-after").is_empty());
            limited = Some(i);
            break;
        }
        assert_eq!(resp.status(), StatusCode::CREATED);
    }
    let limited = limited.expect("70 registrations in a row were all accepted");
    assert!(limited <= 60, "limited only after {limited}");
    assert_eq!(count(&w, "oauth_clients"), limited as i64);
}

/// Registration is open to anyone, so what it keeps is bounded: the
/// request's size, its redirect URIs (number and length), and only the
/// members whale understands are stored.
#[test]
fn registration_stores_only_what_it_understands_within_limits() {
    let (w, s) = server(&[]);
    let reg = |body: &Value| http().post(s.url("/register")).json(body).send().unwrap();
    let (_, e) = expect_error(
        reg(&json!({"redirect_uris": [REDIRECT], "pad": "A".repeat(20_000)})),
        StatusCode::PAYLOAD_TOO_LARGE,
        "invalid_client_metadata",
        "a 20 kB registration",
    );
    assert_description_mentions(&e, "16384", "size");
    let many: Vec<String> = (0..11).map(|i| format!("https://x.example/cb{i}")).collect();
    let (_, e) = expect_error(
        reg(&json!({"redirect_uris": many})),
        StatusCode::BAD_REQUEST,
        "invalid_redirect_uri",
        "11 redirect URIs",
    );
    assert_description_mentions(&e, "at most 10", "count");
    let long = format!("https://x.example/{}", "a".repeat(1100));
    let (_, e) = expect_error(
        reg(&json!({"redirect_uris": [long]})),
        StatusCode::BAD_REQUEST,
        "invalid_redirect_uri",
        "a 1 kB redirect URI",
    );
    assert_description_mentions(&e, "at most 1024", "length");
    assert_eq!(count(&w, "oauth_clients"), 0);
    // Members it does not know are answered for nowhere and kept nowhere.
    let resp = reg(&json!({"client_name": "Padded", "redirect_uris": [REDIRECT],
                           "pad": "A".repeat(10_000), "logo_uri": "https://x.example/logo.png"}));
    assert_eq!(resp.status(), StatusCode::CREATED);
    let id = resp.json::<Value>().unwrap()["client_id"]
        .as_str()
        .unwrap()
        .to_string();
    let stored: String = w
        .sqlite()
        .query_row("SELECT metadata FROM oauth_clients WHERE id = ?1", [&id], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(stored.contains("Padded"), "{stored}");
    assert!(
        !stored.contains("AAAA") && !stored.contains("logo_uri"),
        "{stored}"
    );
}

#[test]
fn client_id_metadata_documents_are_fetched_and_ssrf_guarded() {
    // Without the development flag a loopback document is refused.
    let (_w, s) = server(&[]);
    let doc_server = DocServer::start();
    let client_id = doc_server.url();
    let (_v, challenge) = pkce();
    let mut req = AuthRequest::new(&client_id, &challenge);
    req.redirect_uri = "http://127.0.0.1:45678/callback".into();
    let resp = Browser::new().get(&req.url(&s));
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let text = resp.text().unwrap();
    assert!(text.contains("https"), "{text}");
    assert_eq!(doc_server.hits(), 0, "the guard fetched nothing");

    // With it (local development), the document is fetched once and cached.
    let (w2, s2) = server(&["--insecure-client-metadata"]);
    let back = sign_in_and_decide(&s2, &req.url(&s2), EMAIL, PASSWORD, "approve");
    assert!(query(&back).contains_key("code"), "{back}");
    let again = Browser::new().get(&req.url(&s2));
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(doc_server.hits(), 1, "cached");
    let kind: String = w2
        .sqlite()
        .query_row(
            "SELECT kind FROM oauth_clients WHERE id = ?1",
            [&client_id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(kind, "metadata");
}

/// A one-document HTTP server on loopback serving a client metadata
/// document whose client_id is its own URL.
struct DocServer {
    port: u16,
    hits: Arc<Mutex<usize>>,
}

impl DocServer {
    fn start() -> DocServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(Mutex::new(0));
        let h = hits.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut stream = stream;
                stream.set_read_timeout(Some(TIMEOUT)).ok();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                *h.lock().unwrap() += 1;
                let body = json!({
                    "client_id": format!("http://127.0.0.1:{port}/client.json"),
                    "client_name": "Doc Client",
                    "redirect_uris": ["http://127.0.0.1/callback"],
                })
                .to_string();
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        DocServer { port, hits }
    }
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/client.json", self.port)
    }
    fn hits(&self) -> usize {
        *self.hits.lock().unwrap()
    }
}

/// The token, revocation and introspection endpoints take anyone's
/// `client_id`: they fetch no metadata document for it (a request costs
/// the caller nothing and the server a fetch), and they are bounded per
/// address. A metadata-document client fetched at `/authorize` is known.
#[test]
fn token_revoke_and_introspect_never_fetch_metadata_documents() {
    let (_w, s) = server(&["--insecure-client-metadata", "--rate-limit", "20"]);
    let doc = DocServer::start();
    let client_id = doc.url();
    for path in ["/token", "/revoke", "/introspect"] {
        let resp = http()
            .post(s.url(path))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id.as_str()),
                ("token", "wo_at_unknown"),
            ])
            .send()
            .unwrap();
        expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_client", path);
    }
    assert_eq!(doc.hits(), 0, "an endpoint without a person fetched a document");
    // Seen at /authorize, the client exchanges its code like any public one.
    let (verifier, challenge) = pkce();
    let req = AuthRequest::new(&client_id, &challenge);
    let back = sign_in_and_decide(&s, &req.url(&s), EMAIL, PASSWORD, "approve");
    ok_json(
        token(
            &s,
            &[
                ("grant_type", "authorization_code"),
                ("code", query(&back)["code"].as_str()),
                ("redirect_uri", req.redirect_uri.as_str()),
                ("client_id", client_id.as_str()),
                ("code_verifier", verifier.as_str()),
            ],
        ),
        "the metadata-document client's code exchange",
    );
    assert_eq!(doc.hits(), 1);
    // Bounded per address (here by --rate-limit 20).
    let limited = (0..25).any(|_| {
        token(
            &s,
            &[("grant_type", "client_credentials"), ("client_id", "nobody")],
        )
        .status()
            == StatusCode::TOO_MANY_REQUESTS
    });
    assert!(
        limited,
        "25 token requests in a row from one address were all answered"
    );
}

/// Whoever picks a metadata-document URL learns that it could not be
/// fetched, not what the server's resolver or network said about it (a
/// map of internal names); the log has the reason.
#[test]
fn a_metadata_document_that_cannot_be_fetched_reveals_nothing_of_the_network() {
    let (_w, s) = server(&[]);
    let (_v, challenge) = pkce();
    let req = AuthRequest::new("https://localhost/x.json", &challenge);
    let resp = Browser::new().get(&req.url(&s));
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let text = resp.text().unwrap();
    assert!(text.contains("could not be fetched"), "{text}");
    for leak in ["127.0.0.1", "::1", "non-public", "resolve", "DNS"] {
        assert!(!text.contains(leak), "`{leak}` shown: {text}");
    }
    wait_until("the reason in the server's log", || {
        s.stderr().contains("non-public")
    });
}

// ===========================================================================
// External authorization server mode
// ===========================================================================

/// A fake RFC 7662 endpoint: tokens it knows are active until revoked;
/// `down` makes it answer 503.
struct FakeIntrospection {
    port: u16,
    active: Arc<Mutex<HashMap<String, Value>>>,
    down: Arc<Mutex<bool>>,
    calls: Arc<Mutex<usize>>,
}

impl FakeIntrospection {
    fn start() -> FakeIntrospection {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let active: Arc<Mutex<HashMap<String, Value>>> = Arc::default();
        let down = Arc::new(Mutex::new(false));
        let calls = Arc::new(Mutex::new(0));
        let (a, d, c) = (active.clone(), down.clone(), calls.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (a, d, c) = (a.clone(), d.clone(), c.clone());
                std::thread::spawn(move || serve_introspection(stream, &a, &d, &c));
            }
        });
        FakeIntrospection {
            port,
            active,
            down,
            calls,
        }
    }
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

fn serve_introspection(
    mut stream: std::net::TcpStream,
    active: &Mutex<HashMap<String, Value>>,
    down: &Mutex<bool>,
    calls: &Mutex<usize>,
) {
    stream.set_read_timeout(Some(TIMEOUT)).ok();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut len = 0usize;
    let mut auth = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let l = line.trim_end().to_ascii_lowercase();
        if l.is_empty() {
            break;
        }
        if let Some(v) = l.strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
        if l.starts_with("authorization:") {
            auth = line.trim_end().to_string();
        }
    }
    let mut body = vec![0u8; len];
    let _ = reader.read_exact(&mut body);
    *calls.lock().unwrap() += 1;
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("whale-rs:rs-secret")
    );
    let (status, out) = if *down.lock().unwrap() {
        (
            "503 Service Unavailable",
            json!({"error": "temporarily_unavailable"}),
        )
    } else if !auth.ends_with(&expected) {
        ("401 Unauthorized", json!({"error": "invalid_client"}))
    } else {
        let token = form_urlencoded::parse(&body)
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        let v = active
            .lock()
            .unwrap()
            .get(&token)
            .cloned()
            .unwrap_or(json!({"active": false}));
        ("200 OK", v)
    };
    let out = out.to_string();
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{out}",
        out.len()
    );
}

#[test]
fn external_authorization_server_by_introspection() {
    let fake = FakeIntrospection::start();
    let w = Whale::new();
    let mut cmd_env = vec![("WHALE_INTROSPECTION_CLIENT_SECRET", "rs-secret")];
    cmd_env.push(("WHALE_INTROSPECTION_CLIENT_ID", "whale-rs"));
    let s = serve_with_env(
        &w,
        &[
            "--auth-server",
            &fake.url(),
            "--introspection-endpoint",
            &format!("{}/introspect", fake.url()),
            "--introspection-cache-ttl",
            "1s",
        ],
        &cmd_env,
    );
    // RFC 9728 names the external server; the embedded one is off.
    let prm = ok_json(
        http()
            .get(s.url("/.well-known/oauth-protected-resource"))
            .send()
            .unwrap(),
        "PRM",
    );
    assert_eq!(prm["authorization_servers"], json!([fake.url()]));
    let resp = http()
        .get(s.url("/.well-known/oauth-authorization-server"))
        .send()
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    fake.active.lock().unwrap().insert(
        "ext-token-1".into(),
        json!({"active": true, "scope": "products:read", "client_id": "corp-agent", "sub": "u1",
               "exp": exp, "aud": s.url("/mcp"), "store_id": "demo"}),
    );
    let mut mcp = Streamable::open(&s, "ext-token-1");
    let names: Vec<Value> = mcp.tools().iter().map(|t| t["name"].clone()).collect();
    assert_eq!(names, vec![json!("products")]);
    mcp.call_ok("products", json!({"action": "list_products", "limit": 2}));
    wait_until("the audit row of the external client", || {
        w.executions(&["--agent", "corp-agent"])["total"]
            .as_i64()
            .unwrap()
            >= 1
    });
    // A name from the other server that would pass for the local owner (or
    // carry an escape sequence) is not taken: the client id names the agent.
    for (token, username) in [
        ("ext-token-owner", "local-owner"),
        ("ext-token-esc", "x\u{1b}[2Jy"),
    ] {
        fake.active.lock().unwrap().insert(
            token.into(),
            json!({"active": true, "scope": "products:read", "client_id": "corp-agent", "sub": "u2",
                   "username": username, "exp": exp, "aud": s.url("/mcp"), "store_id": "demo"}),
        );
        Streamable::open(&s, token).call_ok("products", json!({"action": "list_products", "limit": 1}));
    }
    wait_until("the audit rows of the renamed calls", || {
        w.executions(&["--agent", "corp-agent"])["total"]
            .as_i64()
            .unwrap()
            >= 3
    });
    assert_eq!(w.executions(&["--agent", "local-owner"])["total"], json!(0));

    // Revoked at the authorization server: refused once the cache (1 s here,
    // never more than 60 s) runs out.
    fake.active.lock().unwrap().remove("ext-token-1");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, _) = tools_list_status(&s, "ext-token-1");
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(Instant::now() < deadline, "a revoked token still works");
        std::thread::sleep(Duration::from_millis(200));
    }

    // Introspection down: denied, not waved through.
    fake.active.lock().unwrap().insert(
        "ext-token-2".into(),
        json!({"active": true, "scope": "products", "client_id": "c", "exp": exp, "store_id": "demo"}),
    );
    *fake.down.lock().unwrap() = true;
    let (status, body) = tools_list_status(&s, "ext-token-2");
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let health = http().get(s.url("/health")).send().unwrap();
    assert_eq!(
        health.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "health while introspection fails"
    );
    let health: Value = health.json().unwrap();
    assert_eq!(health["oauth"]["introspection"], "failing", "{health}");
    // A token for another audience.
    *fake.down.lock().unwrap() = false;
    fake.active.lock().unwrap().insert(
        "ext-token-3".into(),
        json!({"active": true, "scope": "products", "client_id": "c", "exp": exp,
               "aud": "https://other.example/mcp", "store_id": "demo"}),
    );
    assert_eq!(tools_list_status(&s, "ext-token-3").0, StatusCode::UNAUTHORIZED);
    // No store in the answer: refused.
    fake.active.lock().unwrap().insert(
        "ext-token-4".into(),
        json!({"active": true, "scope": "products", "client_id": "c", "exp": exp}),
    );
    assert_eq!(tools_list_status(&s, "ext-token-4").0, StatusCode::UNAUTHORIZED);
    assert!(*fake.calls.lock().unwrap() >= 4);
    let health = ok_json(
        http().get(s.url("/health")).send().unwrap(),
        "health once it answers",
    );
    assert_eq!(health["oauth"]["mode"], "external");
    // API keys keep working beside it.
    let (_id, key) = w.create_key("products:read", false);
    assert_eq!(tools_list_status(&s, &key).0, StatusCode::OK);

    // Unknown tokens in a loop: each costs one introspection call only until
    // the address has spent its allowance; then they are refused unchecked
    // (429), while the API key is still served.
    let mut refused = 0;
    let mut limited = 0;
    for i in 0..40 {
        let before = *fake.calls.lock().unwrap();
        match tools_list_status(&s, &format!("junk-{i}")).0 {
            StatusCode::UNAUTHORIZED => refused += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                limited += 1;
                assert_eq!(
                    *fake.calls.lock().unwrap(),
                    before,
                    "a refused-unchecked token was introspected"
                );
            }
            other => panic!("junk token: {other}"),
        }
    }
    assert!(limited >= 5, "{refused} refused, {limited} limited");
    assert!(refused <= 30, "{refused} refused, {limited} limited");
    assert_eq!(
        tools_list_status(&s, &key).0,
        StatusCode::OK,
        "a valid key from the same address"
    );
}

/// An introspection answer without `aud` may be for any resource its
/// server protects: refused. And a cached answer is for the resource it
/// was checked against, not for any Host the request names.
#[test]
fn external_answers_must_name_this_server_even_from_the_cache() {
    let fake = FakeIntrospection::start();
    let w = Whale::new();
    let s = serve_with_env(
        &w,
        &[
            "--auth-server",
            &fake.url(),
            "--introspection-endpoint",
            &format!("{}/introspect", fake.url()),
            "--allowed-host",
            "whale.test",
        ],
        &[
            ("WHALE_INTROSPECTION_CLIENT_SECRET", "rs-secret"),
            ("WHALE_INTROSPECTION_CLIENT_ID", "whale-rs"),
        ],
    );
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    fake.active.lock().unwrap().insert(
        "no-aud".into(),
        json!({"active": true, "scope": "products:read platform:read", "store_id": "demo",
               "client_id": "someapp", "exp": exp}),
    );
    let (status, body) = tools_list_status(&s, "no-aud");
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body.contains("`aud`"), "{body}");
    let resp = http()
        .get(s.url("/v1/stores/demo/tool-executions"))
        .header("authorization", "Bearer no-aud")
        .send()
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "REST");

    fake.active.lock().unwrap().insert(
        "ours".into(),
        json!({"active": true, "scope": "products:read", "store_id": "demo", "client_id": "c",
               "exp": exp, "aud": s.url("/mcp")}),
    );
    assert_eq!(tools_list_status(&s, "ours").0, StatusCode::OK);
    // Cached now; reached under another name, this is another resource.
    let resp = initialize_post(&http(), s.url("/mcp"))
        .header("host", format!("whale.test:{}", s.port))
        .header("authorization", "Bearer ours")
        .send()
        .unwrap();
    let status = resp.status();
    let body = resp.text().unwrap_or_default();
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body.contains("another resource"), "{body}");
}

fn serve_with_env(w: &Whale, extra: &[&str], env: &[(&str, &str)]) -> HttpServer {
    w.serve_http_env(extra, env)
}

// ===========================================================================
// A real browser
// ===========================================================================

/// A loopback redirect target: answers every request with a small page and
/// hands the request's path and query to the test.
fn redirect_target() -> (u16, std::sync::mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            stream.set_read_timeout(Some(TIMEOUT)).ok();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut first = String::new();
            let _ = reader.read_line(&mut first);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let body = "<!doctype html><title>done</title>signed in";
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let target = first.split(' ').nth(1).unwrap_or("").to_string();
            if tx.send(target).is_err() {
                return;
            }
        }
    });
    (port, rx)
}

#[test]
fn login_and_consent_pages_in_headless_chromium() {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/browser_login.mjs");
    assert!(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/clients/node_modules/playwright-core")
            .exists(),
        "playwright-core is missing: run `npm ci --prefix tests/clients` (.ci/run does)"
    );
    assert!(
        std::path::Path::new("/usr/bin/chromium").exists(),
        "Chromium is missing: `apt-get install chromium` (.ci/run does)"
    );
    let (w, s) = server(&[]);
    let (port, hits) = redirect_target();
    let client_id = register(&s, "Browser Agent", REDIRECT);
    let (verifier, challenge) = pkce();
    let mut req = AuthRequest::new(&client_id, &challenge);
    req.redirect_uri = format!("http://127.0.0.1:{port}/callback");
    let profile = std::env::temp_dir().join(format!("whale-chromium-{}-{}", std::process::id(), nanos()));
    let mut cmd = std::process::Command::new("node");
    cmd.arg(&script)
        .arg(req.url(&s))
        .arg(EMAIL)
        .arg(PASSWORD)
        .arg("approve")
        .arg(&profile)
        .env_remove("DBUS_SESSION_BUS_ADDRESS");
    let out = common::run_bounded(cmd, "node browser_login.mjs");
    let _ = std::fs::remove_dir_all(&profile);
    assert!(
        out.status.success(),
        "the browser run failed:\n{}\n{}",
        common::stdout(&out),
        stderr(&out)
    );
    let report: Value = common::parse_json(&out.stdout, "browser report");
    assert_eq!(report["title"], "Sign in to whale");
    let scopes: Vec<String> = serde_json::from_value(report["scopes"].clone()).unwrap();
    assert!(
        scopes.iter().any(|s| s.starts_with("See and change products")),
        "{scopes:?}"
    );
    let target = hits
        .recv_timeout(TIMEOUT)
        .expect("the browser reached the redirect URI");
    let q = query(&format!("http://127.0.0.1{target}"));
    assert_eq!(q["state"], "st-123");
    let t = ok_json(
        exchange(
            &s,
            &Authorized {
                client_id: client_id.clone(),
                verifier: verifier.clone(),
                redirect_uri: req.redirect_uri.clone(),
                code: q["code"].clone(),
            },
        ),
        "exchange the browser's code",
    );
    assert_eq!(t["store_id"], "demo");
    assert_eq!(count(&w, "oauth_codes"), 1);
}

#[test]
fn a_member_of_several_stores_chooses_one_and_only_theirs() {
    let (w, s) = server(&[]);
    let out = w.run(&["stores", "create", "shop2", "--name", "Second Shop"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = w.run(&["stores", "create", "shop3", "--name", "Not Theirs"]);
    assert!(out.status.success(), "{}", stderr(&out));
    add_user(&w, EMAIL, PASSWORD, "shop2");
    let client_id = register(&s, "Chooser", REDIRECT);
    let (verifier, challenge) = pkce();
    let req = AuthRequest::new(&client_id, &challenge);
    let url = format!("{}&store=shop2", req.url(&s));

    let login = |b: &mut Browser| b.consent(&s, &url);
    // A store the user does not belong to is refused.
    let mut b = Browser::new();
    let (id, csrf, html) = login(&mut b);
    assert!(html.contains("<option value=\"shop2\" selected>"), "{html}");
    assert!(html.contains("<option value=\"demo\">"), "{html}");
    assert!(!html.contains("shop3"), "{html}");
    let resp = b.post_form(
        &s.url("/authorize/consent"),
        &[
            ("request_id", &id),
            ("csrf", &csrf),
            ("store", "shop3"),
            ("decision", "approve"),
        ],
    );
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_nothing_issued(&w, "foreign store");

    let mut b = Browser::new();
    let (id, csrf, _) = login(&mut b);
    let resp = b.post_form(
        &s.url("/authorize/consent"),
        &[
            ("request_id", &id),
            ("csrf", &csrf),
            ("store", "shop2"),
            ("decision", "approve"),
        ],
    );
    let q = query(&location(&resp));
    let t = ok_json(
        exchange(
            &s,
            &Authorized {
                client_id: client_id.clone(),
                verifier: verifier.clone(),
                redirect_uri: req.redirect_uri.clone(),
                code: q["code"].clone(),
            },
        ),
        "exchange",
    );
    assert_eq!(t["store_id"], "shop2");
    let mut mcp = Streamable::open(&s, t["access_token"].as_str().unwrap());
    let settings = mcp.call_ok("store", json!({"action": "get_settings"}));
    assert_eq!(settings["name"], "Second Shop", "{settings}");
}

#[test]
fn users_and_clients_from_the_shell() {
    let w = Whale::new();
    // Too short a password changes nothing (exit 2).
    let out = w.run_input(&["users", "add", "a@example.com", "--password-stdin"], "short\n");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("at least 10"));
    let out = w.run_input(
        &["users", "add", "not-an-email", "--password-stdin"],
        "long enough pw\n",
    );
    assert_eq!(out.status.code(), Some(2));
    // No terminal and no --password-stdin: a clear usage error.
    let out = w.run(&["users", "add", "a@example.com"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--password-stdin"), "{}", stderr(&out));
    assert_eq!(w.json(&["users", "list", "--json"])["users"], json!([]));

    add_user(&w, "a@example.com", "long enough pw", "demo");
    let users = w.json(&["users", "list", "--json"]);
    assert_eq!(users["users"][0]["email"], "a@example.com");
    assert_eq!(users["users"][0]["stores"], json!(["demo"]));
    let hash_before: String = w
        .sqlite()
        .query_row("SELECT password_hash FROM users", [], |r| r.get(0))
        .unwrap();
    assert!(hash_before.starts_with("$argon2id$"));
    assert!(!hash_before.contains("long enough pw"));
    let out = w.run_input(
        &["users", "passwd", "A@EXAMPLE.COM", "--password-stdin"],
        "another long pw\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let hash_after: String = w
        .sqlite()
        .query_row("SELECT password_hash FROM users", [], |r| r.get(0))
        .unwrap();
    assert_ne!(hash_before, hash_after);

    // Machine clients: the secret is shown once and stored as a hash.
    let c = w.json(&["clients", "create", "bot", "--scopes", "products:read", "--json"]);
    let secret = c["client_secret"].as_str().unwrap();
    assert!(secret.starts_with("wo_cs_"));
    let listed = w.json(&["clients", "list", "--json"]);
    assert!(!listed.to_string().contains(secret));
    assert_eq!(listed["clients"][0]["kind"], "admin");
    let text = w.run(&["clients", "list"]);
    assert!(
        stdout(&text).lines().next().is_some_and(|h| h.contains("MODE")),
        "{}",
        stdout(&text)
    );
    assert!(stdout(&text).contains(" live "), "{}", stdout(&text));
    let out = w.run(&["clients", "revoke", c["client_id"].as_str().unwrap()]);
    assert!(out.status.success());
    assert_eq!(
        w.json(&["clients", "list", "--json"])["clients"][0]["revoked"],
        json!(true)
    );
    // Revoking twice is not an error (like `whale keys revoke`); an id that
    // is not there is a runtime error.
    let again = w.run(&["clients", "revoke", c["client_id"].as_str().unwrap()]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert!(stdout(&again).contains("already revoked"), "{}", stdout(&again));
    let out = w.run(&["clients", "revoke", "wc_nope"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("wc_nope"), "{}", stderr(&out));
    // Clients belong to their store: another store neither lists nor
    // revokes them, and a store that does not exist is refused.
    let live = w.json(&["clients", "create", "keeper", "--scopes", "orders:read", "--json"]);
    let keeper = live["client_id"].as_str().unwrap();
    let out = w.run(&["stores", "create", "acme", "--name", "Acme"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let acme = w.json(&["--store", "acme", "clients", "list", "--json"]);
    assert_eq!(acme["clients"], json!([]), "{acme}");
    for store in ["acme", "nosuch"] {
        let out = w.run(&["--store", store, "clients", "revoke", keeper]);
        assert_eq!(out.status.code(), Some(1), "{store}: {}", stderr(&out));
        assert!(stderr(&out).contains(store), "{store}: {}", stderr(&out));
    }
    let out = w.run(&["--store", "nosuch", "clients", "list"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let demo = w.json(&["clients", "list", "--json"]);
    let kept = demo["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["client_id"] == json!(keeper));
    assert_eq!(kept.map(|c| &c["revoked"]), Some(&json!(false)), "{demo}");
    for name in ["bad\u{1b}[2Jname", "local-owner"] {
        let out = w.run(&["clients", "create", name, "--scopes", "products:read"]);
        assert_eq!(out.status.code(), Some(2), "{name:?}: {}", stderr(&out));
    }
    let out = w.run(&["clients", "create", "bad", "--scopes", "nonsense"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn both_transports_accept_tokens_and_keep_sessions_across_a_refresh() {
    let (_w, s) = server(&[]);
    let (a, t) = tokens(&s);
    let at = t["access_token"].as_str().unwrap();
    let mut legacy = Legacy::open(&s, at);
    let mut streamable = Streamable::open(&s, at);
    legacy.call_ok("products", json!({"action": "list_products", "limit": 1}));
    streamable.call_ok("products", json!({"action": "list_products", "limit": 1}));
    // The client refreshes mid-session: same grant, so the sessions stay
    // its own, and the new token is what each request is checked against.
    let t2 = ok_json(
        refresh(&s, &a.client_id, t["refresh_token"].as_str().unwrap()),
        "refresh",
    );
    let at2 = t2["access_token"].as_str().unwrap().to_string();
    let revoke = http()
        .post(s.url("/revoke"))
        .form(&[("token", at), ("client_id", a.client_id.as_str())])
        .send()
        .unwrap();
    assert_eq!(revoke.status(), StatusCode::OK);
    legacy.key = at2.clone();
    streamable.key = at2;
    legacy.call_ok("products", json!({"action": "list_products", "limit": 1}));
    streamable.call_ok("products", json!({"action": "list_products", "limit": 1}));
    // The revoked first token no longer gets in.
    let resp = legacy
        .post_as(at, &json!({"jsonrpc": "2.0", "id": 99, "method": "tools/list"}))
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

// ===========================================================================
// `whale login` against the real server, then the stdio bridge
// ===========================================================================

/// Runs `whale login --no-browser --insecure-storage --server BASE EXTRA…`
/// and plays the browser: the printed URL, the login and consent forms,
/// then the redirect to whale's loopback listener. Returns whale's output.
fn whale_login(w: &Whale, s: &HttpServer, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["login", "--no-browser", "--insecure-storage", "--server", &s.base];
    args.extend_from_slice(extra);
    let (out, page) = w.login_with_browser(&args, &[], |url| {
        let back = sign_in_and_decide(s, url, EMAIL, PASSWORD, "approve");
        assert!(back.starts_with("http://127.0.0.1:"), "{back}");
        http()
            .get(&back)
            .send()
            .and_then(|r| r.text())
            .unwrap_or_default()
    });
    if let Some(page) = page {
        assert!(page.contains("close this tab"), "{page}");
    }
    out
}

#[test]
fn whale_login_then_bridge_with_an_independent_client_refresh_and_logout() {
    let w = Whale::new();
    add_user(&w, EMAIL, PASSWORD, "demo");
    let s = w.serve_http(&["--access-token-ttl", "2s"]);
    let out = whale_login(
        &w,
        &s,
        &["--scopes", "products orders customers inventory platform"],
    );
    assert!(out.status.success(), "whale login: {}", stderr(&out));
    let said = format!("{}{}", common::stdout(&out), stderr(&out));
    for prefix in ["wo_at_", "wo_rt_", "wo_ac_"] {
        assert!(!said.contains(prefix), "whale login printed a secret: {said}");
    }

    let status = w.json(&["auth", "status", "--json"]);
    let login = &status["logins"][0];
    assert_eq!(login["store_id"], "demo", "{status}");
    assert_eq!(login["issuer"], json!(s.base));
    assert_eq!(login["storage"], "file");

    // The official Python MCP SDK through `whale mcp --server`, on the
    // stored login (no key anywhere).
    let run_client = || {
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/stdio_client.py");
        let mut cmd = std::process::Command::new(python());
        cmd.arg(&script)
            .arg(common::bin())
            .arg(&w.db)
            .args(["--bridge", &s.base])
            .env_remove("WHALE_TEST_KEY")
            .env_remove("WHALETOOLS_API_KEY")
            .env_remove("WHALE_STORE")
            .env_remove("PYTHONPATH")
            .env("XDG_CONFIG_HOME", w.dir.join("xdg-config"))
            .env("HOME", &w.dir)
            .current_dir(&w.dir);
        let out = common::run_bounded(cmd, "stdio_client.py --bridge (stored login)");
        assert!(
            out.status.success(),
            "client through the bridge:\n{}\n{}\nserver:\n{}",
            common::stdout(&out),
            stderr(&out),
            s.stderr()
        );
        common::parse_json(common::stdout(&out).trim().as_bytes(), "client summary")
    };
    let first = run_client();
    assert_eq!(first["store_id"], "demo");
    let exec = first["execution_id"].as_str().unwrap();
    let shown = w.json(&["executions", "show", exec, "--json"]);
    assert!(
        shown["agent_name"].as_str().unwrap().starts_with("whale CLI"),
        "{shown}"
    );

    // The access token expires (2 s here); the bridge refreshes it by itself.
    let before = count(&w, "oauth_tokens");
    std::thread::sleep(Duration::from_millis(2500));
    let second = run_client();
    assert_eq!(second["store_id"], "demo");
    assert!(count(&w, "oauth_tokens") > before, "a refresh issued new tokens");

    // Logout revokes at the server and forgets the login.
    let out = w.run(&["logout", "--server", &s.base]);
    assert!(out.status.success(), "logout: {}", stderr(&out));
    let live: i64 = w
        .sqlite()
        .query_row(
            "SELECT count(*) FROM oauth_tokens WHERE revoked_at IS NULL AND used_at IS NULL AND expires_at > ?1",
            [std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis() as i64],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(live, 0, "tokens still live after logout");
    let out = w.run(&["auth", "status", "--json"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn sign_in_form_posts_from_the_servers_own_origin_and_guessing_is_limited() {
    let (_w, s) = server(&["--allowed-host", "whale.test"]);
    let client_id = register(&s, "Origin", REDIRECT);
    let (_v, challenge) = pkce();
    let url = AuthRequest::new(&client_id, &challenge).url(&s);
    let mut b = Browser::new();
    let (id, csrf) = b.sign_in_form(&url);
    let post = |origin: &str, host: &str, password: &str| {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("request_id", id.as_str()),
                ("csrf", &csrf),
                ("email", EMAIL),
                ("password", password),
            ])
            .finish();
        http()
            .post(s.url("/authorize/login"))
            .header("host", host)
            .header("origin", origin)
            .header("cookie", b.cookies.join("; "))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .unwrap()
    };
    // A deployment's own origin (https behind a proxy, or http) is the
    // form's own page: accepted without --allowed-origin. (Without
    // --public-url the Host names this server's port, as the audience of
    // its tokens comes from it.)
    let host = format!("whale.test:{}", s.port);
    assert_eq!(
        post(&format!("https://{host}"), &host, "wrong password 1").status(),
        StatusCode::UNAUTHORIZED,
        "reached the password check"
    );
    // Another site is refused before anything else.
    assert_eq!(
        post("https://evil.example", &host, PASSWORD).status(),
        StatusCode::FORBIDDEN
    );
    // Password guessing on one account is bounded (10 a minute), across
    // authorization requests.
    let mut limited = false;
    for i in 0..12 {
        let mut b2 = Browser::new();
        let (id2, csrf2) = b2.sign_in_form(&url);
        let resp = b2.sign_in(&s, &id2, &csrf2, EMAIL, &format!("guess number {i}"));
        if resp.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = true;
            break;
        }
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    }
    assert!(limited, "12 wrong passwords in a row were all checked");
}

/// Wrong passwords posted at once, `per_request` on each of `requests`
/// sign-in requests, from one address: the statuses, and how many were
/// checked (answered "Wrong email or password").
fn concurrent_guesses(
    s: &HttpServer,
    email: &str,
    requests: usize,
    per_request: usize,
) -> (Vec<StatusCode>, usize) {
    let client_id = register(s, "Concurrent", REDIRECT);
    let (_v, challenge) = pkce();
    let url = AuthRequest::new(&client_id, &challenge).url(s);
    let forms: Vec<_> = (0..requests)
        .map(|_| {
            let mut b = Browser::new();
            let (id, csrf) = b.sign_in_form(&url);
            (b.cookies, id, csrf)
        })
        .collect();
    let barrier = Barrier::new(requests * per_request);
    let answers = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for (i, (cookies, id, csrf)) in forms.iter().cycle().take(requests * per_request).enumerate() {
            let (barrier, answers) = (&barrier, &answers);
            scope.spawn(move || {
                let mut b = Browser {
                    http: http(),
                    cookies: cookies.clone(),
                };
                barrier.wait();
                let resp = b.sign_in(s, id, csrf, email, &format!("guess {i}"));
                let status = resp.status();
                let checked = resp
                    .text()
                    .unwrap_or_default()
                    .contains("Wrong email or password");
                answers.lock().unwrap().push((status, checked));
            });
        }
    });
    let answers = answers.into_inner().unwrap();
    let checked = answers.iter().filter(|(_, c)| *c).count();
    (answers.into_iter().map(|(st, _)| st).collect(), checked)
}

/// Concurrent guesses cannot outrun the sign-in throttles: an attempt is
/// taken before the password is checked, on the authorization request
/// (5) and on the account at this address (10 a minute).
#[test]
fn concurrent_wrong_passwords_are_bounded_like_sequential_ones() {
    let (_w, s) = server(&[]);
    // One request: at most 5 checked (the 5th ends it, 4 answer 401).
    let (statuses, checked) = concurrent_guesses(&s, "one@example.com", 1, 40);
    assert!(
        checked <= 4,
        "{checked} wrong passwords checked on one request: {statuses:?}"
    );
    assert!(
        statuses.iter().all(|st| [
            StatusCode::UNAUTHORIZED,
            StatusCode::BAD_REQUEST,
            StatusCode::TOO_MANY_REQUESTS
        ]
        .contains(st)),
        "{statuses:?}"
    );
    // Many requests, one account and address: at most 10 checked, the rest
    // refused with 429.
    let (statuses, checked) = concurrent_guesses(&s, "many@example.com", 20, 2);
    assert!(
        checked <= 10,
        "{checked} wrong passwords checked in a minute: {statuses:?}"
    );
    let limited = statuses
        .iter()
        .filter(|st| **st == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(checked + limited, 40, "{statuses:?}");
}

/// A sign-in post without its authorization request and CSRF token is
/// nobody's attempt, and a guesser's failures at one address do not keep
/// the account's owner out at another; successful sign-ins cost nothing.
#[test]
fn failed_sign_ins_without_a_request_or_from_elsewhere_do_not_lock_the_owner_out() {
    let (_w, s) = server(&[]);
    let client_id = register(&s, "Lockout", REDIRECT);
    let (_v, challenge) = pkce();
    let url = AuthRequest::new(&client_id, &challenge).url(&s);
    for _ in 0..12 {
        let resp = Browser::new().sign_in(&s, "x", "x", &EMAIL.to_uppercase(), "x");
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    }
    let limited = (0..12).any(|i| {
        let mut guesser = Browser::at("127.0.0.2");
        let (id, csrf) = guesser.sign_in_form(&url);
        let status = guesser
            .sign_in(&s, &id, &csrf, EMAIL, &format!("guess {i}"))
            .status();
        assert!(
            status == StatusCode::UNAUTHORIZED || status == StatusCode::TOO_MANY_REQUESTS,
            "{status}"
        );
        status == StatusCode::TOO_MANY_REQUESTS
    });
    assert!(limited, "12 wrong passwords from one address were all checked");
    for _ in 0..11 {
        let mut owner = Browser::new();
        let (id, csrf) = owner.sign_in_form(&url);
        let resp = owner.sign_in(&s, &id, &csrf, EMAIL, PASSWORD);
        assert_eq!(
            resp.status(),
            StatusCode::OK,
            "{}",
            resp.text().unwrap_or_default()
        );
    }
}

/// Pending sign-ins are bounded per address: one address opening more
/// loses its own oldest, and nobody else's request is refused or lost.
#[test]
fn one_address_cannot_fill_the_pending_sign_ins() {
    let (_w, s) = server(&[]);
    let client_id = register(&s, "Filler", REDIRECT);
    let (_v, challenge) = pkce();
    let url = AuthRequest::new(&client_id, &challenge).url(&s);
    let fill = |b: &mut Browser| {
        for _ in 0..30 {
            b.sign_in_form(&url);
        }
    };
    let mut first = Browser::new();
    let (id, csrf) = first.sign_in_form(&url);
    fill(&mut Browser::new());
    let resp = first.sign_in(&s, &id, &csrf, EMAIL, PASSWORD);
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.text().unwrap().contains("expired"));

    let mut other = Browser::at("127.0.0.2");
    let (id, csrf) = other.sign_in_form(&url);
    fill(&mut Browser::at("127.0.0.3"));
    assert_eq!(
        other.sign_in(&s, &id, &csrf, EMAIL, PASSWORD).status(),
        StatusCode::OK,
        "another address's sign-in was lost"
    );
}

/// Replayed codes, reused refresh tokens and throttled sign-ins are logged
/// (client, grant, user, address), with no code, token or password.
#[test]
fn security_events_are_logged_without_secrets() {
    let (w, s) = server(&[]);
    let replayed = authorize(&s);
    let t1 = ok_json(exchange(&s, &replayed), "exchange");
    assert_eq!(exchange(&s, &replayed).status(), StatusCode::BAD_REQUEST);
    let (reused, t2) = tokens(&s);
    let rt = t2["refresh_token"].as_str().unwrap();
    let t3 = ok_json(refresh(&s, &reused.client_id, rt), "refresh");
    assert_eq!(
        refresh(&s, &reused.client_id, rt).status(),
        StatusCode::BAD_REQUEST
    );
    let url = AuthRequest::new(&reused.client_id, &pkce().1).url(&s);
    let throttled = (0..12).any(|i| {
        let mut b = Browser::new();
        let (id, csrf) = b.sign_in_form(&url);
        b.sign_in(&s, &id, &csrf, EMAIL, &format!("guess {i}")).status() == StatusCode::TOO_MANY_REQUESTS
    });
    assert!(throttled);

    let db = w.sqlite();
    let grant = |client: &str| -> String {
        db.query_row(
            "SELECT grant_id FROM oauth_tokens WHERE client_id = ?1 LIMIT 1",
            [client],
            |r| r.get(0),
        )
        .unwrap()
    };
    let user: String = db
        .query_row("SELECT id FROM users WHERE email = ?1", [EMAIL], |r| r.get(0))
        .unwrap();
    let events = [
        ("authorization code replayed", replayed.client_id.clone()),
        ("refresh token reused", reused.client_id.clone()),
        ("sign-in refused", reused.client_id.clone()),
    ];
    wait_until("the three events in the log", || {
        events.iter().all(|(what, _)| s.stderr().contains(what))
    });
    let log = s.stderr();
    for (what, client) in &events {
        let line = log.lines().find(|l| l.contains(what)).unwrap();
        assert!(
            line.contains(client.as_str()) && line.contains("127.0.0.1"),
            "{line}"
        );
        if !what.starts_with("sign-in") {
            assert!(line.contains(&grant(client)) && line.contains(&user), "{line}");
        }
    }
    for secret in [
        replayed.code.as_str(),
        t1["access_token"].as_str().unwrap(),
        t1["refresh_token"].as_str().unwrap(),
        rt,
        t3["refresh_token"].as_str().unwrap(),
        PASSWORD,
        "guess",
    ] {
        assert!(!log.contains(secret), "`{secret}` in the log:\n{log}");
    }
}

#[test]
fn login_registers_again_when_the_server_forgot_the_client() {
    let w = Whale::new();
    add_user(&w, EMAIL, PASSWORD, "demo");
    let s = w.serve_http(&[]);
    let out = whale_login(&w, &s, &[]);
    assert!(out.status.success(), "first login: {}", stderr(&out));
    assert_eq!(count(&w, "oauth_clients"), 1);
    // The server's registrations are wiped (a restored backup, a new database).
    let admin = rusqlite::Connection::open(&w.db).unwrap();
    admin.busy_timeout(TIMEOUT).unwrap();
    admin.execute("DELETE FROM oauth_clients", []).unwrap();
    drop(admin);
    let out = whale_login(&w, &s, &[]);
    assert!(out.status.success(), "second login: {}", stderr(&out));
    assert_eq!(count(&w, "oauth_clients"), 1, "registered again");
    // And a known client is reused, not registered twice.
    let out = whale_login(&w, &s, &[]);
    assert!(out.status.success(), "third login: {}", stderr(&out));
    assert_eq!(count(&w, "oauth_clients"), 1, "reused");
}
