//! The HTTP door of the embedded authorization server: thin axum handlers
//! over [`crate::oauth::AuthServer`], which holds every rule.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use base64::Engine;

use super::HttpState;
use super::error::HttpError;
use crate::oauth::{AuthServer, AuthorizeFailure, AuthorizeQuery, LoginOutcome, OAuthError, pages};

const CSRF_COOKIE: &str = "whale_csrf";
/// Wrong passwords per minute on one account from one address, and from
/// all addresses together (each costs an argon2 hash; a burst of as many,
/// refilling evenly).
const LOGIN_FAILURES_PER_MIN: i64 = 10;
const ACCOUNT_LOGIN_FAILURES_PER_MIN: i64 = 30;

/// A posted form's fields.
type Form = HashMap<String, String>;

/// Client id and secret from an HTTP Basic header, when one was sent.
type Basic = Option<(String, String)>;

fn auth(s: &HttpState) -> Result<&Arc<AuthServer>, HttpError> {
    s.auth
        .as_ref()
        .ok_or_else(|| HttpError::not_found("this server has no embedded authorization server"))
}

impl From<OAuthError> for HttpError {
    fn from(e: OAuthError) -> Self {
        let mut h = HttpError::new(e.status, e.error, e.description);
        if e.status == StatusCode::UNAUTHORIZED {
            h.www_authenticate = Some("Basic realm=\"whale\"".into());
        }
        h
    }
}

pub async fn metadata(State(s): State<Arc<HttpState>>, headers: HeaderMap) -> Response {
    match auth(&s) {
        Ok(a) => axum::Json(a.metadata(&s.base_url(&headers))).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Requests per minute one peer address may make to an endpoint that
/// creates state without a credential (`/register`, `/authorize`).
const OPEN_ENDPOINT_PER_MIN: i64 = 60;

/// The client's address as the per-address limits know it
/// ([`super::guard::client_key`]), for the handlers behind
/// [`per_peer_limit`] and [`per_peer_rate_limit`]. The handlers require it:
/// a route added without its limiter fails loudly (500, "missing request
/// extension") instead of counting every client under one empty key.
#[derive(Debug, Clone)]
pub struct Peer(pub String);

/// The caller's address key and its rate-limit bucket at this endpoint.
fn peer_bucket(s: &HttpState, req: &axum::extract::Request) -> (String, String) {
    let peer = super::guard::client_key(req, &s.policy);
    let key = format!("peer:{peer}:{}", req.uri().path());
    (peer, key)
}

/// Bounds the unauthenticated endpoints that create state (client rows,
/// pending sign-ins) per peer address, so one client cannot fill them.
pub async fn per_peer_limit(
    State(s): State<Arc<HttpState>>,
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let (peer, key) = peer_bucket(&s, &req);
    if let Err(wait) = s.open_limiter.check(&key, Some(OPEN_ENDPOINT_PER_MIN)) {
        return HttpError::rate_limited(wait, "too many requests from this address").into_response();
    }
    req.extensions_mut().insert(Peer(peer));
    next.run(req).await
}

/// Bounds failed client authentication at the token, revocation and
/// introspection endpoints per peer address, at the server's
/// `--rate-limit`: anyone may try a client id and secret, and each try
/// costs a lookup and a hash. A request from a client that authenticated
/// costs nothing here: a resource server introspecting every request, or
/// many users' refreshes behind one proxy, are not throttled by address.
pub async fn per_peer_rate_limit(
    State(s): State<Arc<HttpState>>,
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let (peer, key) = peer_bucket(&s, &req);
    if let Some(wait) = s.open_limiter.exhausted(&key, None) {
        return HttpError::rate_limited(wait, "too many failed client authentications from this address")
            .into_response();
    }
    req.extensions_mut().insert(Peer(peer));
    let resp = next.run(req).await;
    // 401 is `invalid_client` and nothing else at these endpoints.
    if resp.status() == StatusCode::UNAUTHORIZED {
        let _ = s.open_limiter.check(&key, None);
    }
    resp
}

/// RFC 7591 dynamic client registration.
pub async fn register(State(s): State<Arc<HttpState>>, body: Bytes) -> Response {
    let result = (|| {
        let a = auth(&s)?;
        if body.len() > crate::oauth::MAX_REGISTRATION_BYTES {
            return Err(HttpError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_client_metadata",
                format!(
                    "the registration request is {} bytes; at most {} are accepted",
                    body.len(),
                    crate::oauth::MAX_REGISTRATION_BYTES
                ),
            ));
        }
        let req: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
            HttpError::new(
                StatusCode::BAD_REQUEST,
                "invalid_client_metadata",
                format!("the body must be a JSON object ({e})"),
            )
        })?;
        Ok::<_, HttpError>(a.register(&req)?)
    })();
    match result {
        Ok(v) => (StatusCode::CREATED, no_store(), axum::Json(v)).into_response(),
        Err(e) => e.into_response(),
    }
}

fn no_store() -> [(header::HeaderName, HeaderValue); 2] {
    [
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (header::PRAGMA, HeaderValue::from_static("no-cache")),
    ]
}

/// An HTML page that may not be framed, cached, or leak its URL onward.
/// `form_target` is the origin a form on it may end up at (the client's
/// redirect URI, after consent).
fn html(status: StatusCode, body: String, form_target: Option<&str>, cookie: Option<String>) -> Response {
    let mut resp = (status, Html(body)).into_response();
    let h = resp.headers_mut();
    let form_action = match form_target {
        Some(t) => format!("'self' {t}"),
        None => "'self'".into(),
    };
    let csp = format!(
        "default-src 'none'; style-src 'unsafe-inline'; form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // `same-origin`, not `no-referrer`: with the latter Chromium sends
    // `Origin: null` on the form posts, which the Origin check refuses.
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Some(c) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        h.insert(header::SET_COOKIE, c);
    }
    resp
}

fn error_page(status: StatusCode, message: &str) -> Response {
    html(status, pages::error(message), None, None)
}

/// The origin (or private-use scheme) of a redirect URI, for CSP.
fn csp_source(redirect_uri: &str) -> Option<String> {
    let u = url::Url::parse(redirect_uri).ok()?;
    match u.scheme() {
        "http" | "https" => Some(u.origin().ascii_serialization()),
        s => Some(format!("{s}:")),
    }
}

pub async fn authorize(
    State(s): State<Arc<HttpState>>,
    headers: HeaderMap,
    Extension(Peer(peer)): Extension<Peer>,
    uri: axum::http::Uri,
    q: Result<Query<AuthorizeQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let a = match auth(&s) {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    // A browser shows this: a page, never JSON, and not a redirect (the
    // redirect URI is not yet checked). A repeated parameter is refused
    // (RFC 6749 §3.1) in the words the forms use.
    let q = match q {
        Ok(Query(q)) => q,
        Err(e) => {
            let message = match form(uri.query().unwrap_or_default().as_bytes()) {
                Err(repeated) => repeated.description,
                Ok(_) => e.body_text(),
            };
            return error_page(StatusCode::BAD_REQUEST, &message);
        }
    };
    let issuer = s.base_url(&headers);
    match a.begin(&q, &issuer, &peer).await {
        Ok(p) => {
            let secure = if issuer.starts_with("https://") {
                "; Secure"
            } else {
                ""
            };
            let cookie = format!(
                "{CSRF_COOKIE}={}; Path=/authorize; HttpOnly; SameSite=Strict; Max-Age=600{secure}",
                p.csrf
            );
            html(StatusCode::OK, pages::login(&p, None), None, Some(cookie))
        }
        Err(AuthorizeFailure::Show(m)) => error_page(StatusCode::BAD_REQUEST, &m),
        Err(AuthorizeFailure::Redirect(url)) => Redirect::to(&url).into_response(),
    }
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// A form body, refusing repeated parameters (RFC 6749 §3.1, §3.2).
fn form(body: &[u8]) -> Result<HashMap<String, String>, HttpError> {
    let mut out = HashMap::new();
    for (k, v) in form_urlencoded::parse(body) {
        if out.insert(k.to_string(), v.to_string()).is_some() {
            return Err(HttpError::bad_request(format!("parameter `{k}` is repeated")));
        }
    }
    Ok(out)
}

/// The authorization server and the posted form of a sign-in page, or the
/// response that refuses them.
fn page_form<'s>(s: &'s HttpState, body: &[u8]) -> Result<(&'s Arc<AuthServer>, Form), Box<Response>> {
    let a = auth(s).map_err(|e| Box::new(e.into_response()))?;
    let f = form(body).map_err(|e| Box::new(error_page(StatusCode::BAD_REQUEST, &e.description)))?;
    Ok((a, f))
}

fn field<'a>(f: &'a HashMap<String, String>, k: &str) -> &'a str {
    f.get(k).map(String::as_str).unwrap_or("")
}

pub async fn login(
    State(s): State<Arc<HttpState>>,
    headers: HeaderMap,
    Extension(Peer(peer)): Extension<Peer>,
    body: Bytes,
) -> Response {
    let (a, f) = match page_form(&s, &body) {
        Ok(v) => v,
        Err(resp) => return *resp,
    };
    // The authorization request and its CSRF token first: a post without
    // them is nobody's sign-in, and spends no account's allowance.
    let p = match a.pending(
        field(&f, "request_id"),
        field(&f, "csrf"),
        cookie(&headers, CSRF_COOKIE).as_deref(),
    ) {
        Ok(p) => p,
        Err(m) => return error_page(StatusCode::BAD_REQUEST, &m),
    };
    // Wrong passwords per account, from this address and from everywhere.
    // Each attempt takes its token before the password is checked (posts
    // that arrive while others are hashing find them taken; a full limiter
    // refuses), and a successful sign-in gives them back: a guesser
    // elsewhere does not lock the owner out of an account (until the more
    // generous all-address allowance runs out), and signing in does not use
    // it up.
    let email = field(&f, "email").trim().to_ascii_lowercase();
    // No address is longer than 254 characters: a posted megabyte does not
    // become a limiter key kept for minutes.
    let email = crate::audit::shorten(&email, 254);
    // Two namespaces, the address first: no posted email (which may hold a
    // `:`) can name another address's bucket or the account's.
    let (here, anywhere) = (format!("login-at:{peer}:{email}"), format!("login-acct:{email}"));
    let allowances = [
        (here.as_str(), Some(LOGIN_FAILURES_PER_MIN)),
        (anywhere.as_str(), Some(ACCOUNT_LOGIN_FAILURES_PER_MIN)),
    ];
    let account = crate::audit::shorten(&email, 100);
    if let Err(wait) = s.open_limiter.check_all(&allowances) {
        tracing::warn!(
            client = %p.client_id,
            peer = %peer,
            account = ?account,
            "sign-in refused: too many wrong passwords for this account"
        );
        return error_page(
            StatusCode::TOO_MANY_REQUESTS,
            &format!("too many sign-in attempts for this account; try again in {wait} s"),
        );
    }
    let client_id = p.client_id.clone();
    let outcome = a.login(p, field(&f, "email"), field(&f, "password")).await;
    if let Ok(LoginOutcome::Consent(_)) = &outcome {
        s.open_limiter.refund_all(&allowances);
    }
    match outcome {
        Ok(LoginOutcome::Consent(p)) => {
            let target = csp_source(&p.redirect_uri);
            html(StatusCode::OK, pages::consent(&p), target.as_deref(), None)
        }
        Ok(LoginOutcome::Retry(p, message)) => html(
            StatusCode::UNAUTHORIZED,
            pages::login(&p, Some(&message)),
            None,
            None,
        ),
        Ok(LoginOutcome::GiveUp(m)) => {
            tracing::warn!(
                client = %client_id,
                peer = %peer,
                account = ?account,
                "sign-in request ended: too many wrong passwords"
            );
            error_page(StatusCode::BAD_REQUEST, &m)
        }
        Err(m) => error_page(StatusCode::BAD_REQUEST, &m),
    }
}

pub async fn consent(State(s): State<Arc<HttpState>>, headers: HeaderMap, body: Bytes) -> Response {
    let (a, f) = match page_form(&s, &body) {
        Ok(v) => v,
        Err(resp) => return *resp,
    };
    let approve = match field(&f, "decision") {
        "approve" => true,
        "deny" => false,
        _ => return error_page(StatusCode::BAD_REQUEST, "choose Allow or Deny"),
    };
    match a.decide(
        field(&f, "request_id"),
        field(&f, "csrf"),
        cookie(&headers, CSRF_COOKIE).as_deref(),
        f.get("store").map(String::as_str),
        approve,
    ) {
        // 303: the browser follows with a GET.
        Ok(url) => Redirect::to(&url).into_response(),
        Err(m) => error_page(StatusCode::BAD_REQUEST, &m),
    }
}

/// HTTP Basic client credentials (RFC 6749 §2.3.1: both parts form-encoded).
fn basic(headers: &HeaderMap) -> Result<Basic, HttpError> {
    let Some(v) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = || {
        let mut e = HttpError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "the Authorization header must be `Basic base64(client_id:client_secret)`",
        );
        e.www_authenticate = Some("Basic realm=\"whale\"".into());
        e
    };
    let v = v.to_str().map_err(|_| bad())?;
    let Some(b64) = v.strip_prefix("Basic ").or_else(|| v.strip_prefix("basic ")) else {
        return Err(bad());
    };
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|_| bad())?;
    let raw = String::from_utf8(raw).map_err(|_| bad())?;
    let (id, secret) = raw.split_once(':').ok_or_else(bad)?;
    let dec = |s: &str| {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Ok(Some((dec(id), dec(secret))))
}

fn form_and_basic(headers: &HeaderMap, body: &[u8]) -> Result<(HashMap<String, String>, Basic), HttpError> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(HttpError::bad_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    Ok((form(body)?, basic(headers)?))
}

pub async fn token(
    State(s): State<Arc<HttpState>>,
    headers: HeaderMap,
    Extension(Peer(peer)): Extension<Peer>,
    body: Bytes,
) -> Response {
    let result = (|| {
        let a = auth(&s)?;
        let (f, basic) = form_and_basic(&headers, &body)?;
        Ok::<_, HttpError>(a.token(&f, basic, &s.base_url(&headers), &peer)?)
    })();
    match result {
        Ok(v) => (StatusCode::OK, no_store(), axum::Json(v)).into_response(),
        Err(e) => e.into_response(),
    }
}

pub async fn revoke(
    State(s): State<Arc<HttpState>>,
    headers: HeaderMap,
    Extension(Peer(peer)): Extension<Peer>,
    body: Bytes,
) -> Response {
    let result = (|| {
        let a = auth(&s)?;
        let (f, basic) = form_and_basic(&headers, &body)?;
        a.revoke(&f, basic, &peer)?;
        Ok::<_, HttpError>(())
    })();
    match result {
        Ok(()) => (StatusCode::OK, no_store()).into_response(),
        Err(e) => e.into_response(),
    }
}

pub async fn introspect(State(s): State<Arc<HttpState>>, headers: HeaderMap, body: Bytes) -> Response {
    let result = (|| {
        let a = auth(&s)?;
        let (f, basic) = form_and_basic(&headers, &body)?;
        Ok::<_, HttpError>(a.introspect(&f, basic)?)
    })();
    match result {
        Ok(v) => (StatusCode::OK, no_store(), axum::Json(v)).into_response(),
        Err(e) => e.into_response(),
    }
}
