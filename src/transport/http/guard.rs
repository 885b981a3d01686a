//! The checks every MCP and REST request passes before it reaches a door,
//! in this order: Host and Origin (DNS-rebinding and cross-site defence),
//! body size, no credentials in the query string, the Bearer credential
//! (resolved through the pipeline's stage 1), the client's rate limit. The
//! resolved `Credential` and `Principal` ride on in the request extensions.
//!
//! Scopes are not checked here: that is the pipeline's job.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::HttpState;
use super::error::HttpError;
use crate::auth::{AuthError, Credential, Principal};

/// Query parameters that would carry a credential in a URL.
const TOKEN_PARAMS: &[&str] = &[
    "access_token",
    "token",
    "api_key",
    "apikey",
    "key",
    "authorization",
];

pub async fn guard(State(s): State<Arc<HttpState>>, mut req: Request, next: Next) -> Response {
    if let Err(e) = check(&s, &mut req).await {
        return e.into_response();
    }
    // A body without Content-Length (chunked) is bounded here too, so every
    // oversized request gets the same JSON 413.
    let (parts, body) = req.into_parts();
    match super::body_in_time(body, s.max_body, s.body_timeout).await {
        Ok(bytes) => next.run(Request::from_parts(parts, Body::from(bytes))).await,
        Err(refused) => refused,
    }
}

/// Routes that need no credential still answer only allowed Hosts.
pub async fn host_only(State(s): State<Arc<HttpState>>, req: Request, next: Next) -> Response {
    match check_host_and_origin(&s, req.headers()) {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

pub(super) fn too_large(max: usize) -> HttpError {
    HttpError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "invalid_request",
        format!("the request body is larger than the limit of {max} bytes"),
    )
}

async fn check(s: &HttpState, req: &mut Request) -> Result<(), HttpError> {
    check_host_and_origin(s, req.headers())?;
    if let Some(len) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        && len > s.max_body
    {
        return Err(too_large(s.max_body));
    }
    if let Some(q) = req.uri().query()
        && form_urlencoded::parse(q.as_bytes())
            .any(|(k, _)| TOKEN_PARAMS.contains(&k.to_ascii_lowercase().as_str()))
    {
        return Err(HttpError::bad_request(
            "credentials in the query string are refused; send `Authorization: Bearer <token>`",
        ));
    }
    let (cred, principal) = authenticate(s, req.headers(), client_key(req, &s.policy)).await?;
    let client = fingerprint(&principal);
    if let Err(wait) = s.limiter.check(&client, principal.rate_limit_per_min) {
        return Err(HttpError::rate_limited(
            wait,
            "too many requests for this credential",
        ));
    }
    req.extensions_mut().insert(cred);
    req.extensions_mut().insert(principal);
    Ok(())
}

/// Refused credentials an address may present per minute (a burst of as
/// many, refilling evenly) before further refusals become 429s.
pub const FAILED_AUTH_PER_MIN: i64 = 30;

/// A client address as a limiter key: IPv4 as it is, IPv6 cut to its /64
/// (one subscriber's network: whoever has one address has them all, and
/// would otherwise get a fresh allowance from each).
fn addr_key(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V6(v6) => ipnet::Ipv6Net::new(v6, 64)
            .map(|n| n.trunc().to_string())
            .unwrap_or_else(|_| v6.to_string()),
        v4 => v4.to_string(),
    }
}

/// The client, for the per-address limits: its address as the listener saw
/// it, unless that is a `--trusted-proxy`, whose `X-Forwarded-For` then
/// names it — the rightmost entry there that is not itself a trusted proxy
/// (what lies left of it was written by the client and proves nothing). An
/// entry may carry a port or brackets (`[2001:db8::1]:443`); one that is no
/// address at all (`unknown`) is still that client's own key, never the
/// proxy's, so no client can choose to be counted as the proxy.
pub fn client_key(req: &Request, policy: &Policy) -> String {
    let Some(peer) = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_canonical())
    else {
        return String::new();
    };
    if !policy.trusts(peer) {
        return addr_key(peer);
    }
    let values: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    for entry in values.iter().rev().flat_map(|v| v.rsplit(',')) {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        match forwarded_ip(entry) {
            Some(ip) if policy.trusts(ip) => continue,
            Some(ip) => return addr_key(ip),
            None => return format!("xff:{}", crate::audit::shorten(entry, 64)),
        }
    }
    peer.to_string()
}

/// An address of an `X-Forwarded-For` entry: `203.0.113.7`, `2001:db8::1`,
/// with a port (`203.0.113.7:5555`, `[2001:db8::1]:443`) or in brackets.
fn forwarded_ip(entry: &str) -> Option<std::net::IpAddr> {
    entry
        .parse::<std::net::IpAddr>()
        .ok()
        .or_else(|| entry.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| entry.trim_start_matches('[').trim_end_matches(']').parse().ok())
        .map(|ip: std::net::IpAddr| ip.to_canonical())
}

/// Who a session belongs to: the key (never the raw token).
pub fn fingerprint(p: &Principal) -> String {
    p.key_id
        .clone()
        .unwrap_or_else(|| format!("owner:{}", p.scope.store_id))
}

/// Resolves the Bearer credential. A credential presented and not
/// recognised (malformed, unknown, for another resource) counts against the
/// client's address; past [`FAILED_AUTH_PER_MIN`] further ones are answered
/// 429 with Retry-After, and tokens that would cost a call to an external
/// authorization server are not even sent there. Never counted or refused
/// here: a valid credential (many clients may share one proxy's address),
/// a request with no credential (the probe with which an OAuth client finds
/// where to sign in), and a token this server knows to be expired or
/// revoked (its client must get the 401 that makes it refresh).
async fn authenticate(
    s: &HttpState,
    headers: &HeaderMap,
    // The client as a limiter key (`client_key`: a few bytes, per request).
    peer: String,
) -> Result<(Credential, Principal), HttpError> {
    // RFC 6750 §3: `scope` names what to ask for (MCP 2025-11-25 has
    // servers send it; a client then requests just that).
    let challenge = |error: Option<&str>| {
        let mut v = format!(
            "Bearer resource_metadata=\"{}\", scope=\"{}\"",
            s.resource_metadata_url(headers),
            s.challenge_scope
        );
        if let Some(e) = error {
            v.push_str(&format!(", error=\"{e}\""));
        }
        v
    };
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        let mut e = HttpError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_request",
            "this endpoint needs `Authorization: Bearer <token>` (an API key or an OAuth access token)",
        );
        e.www_authenticate = Some(challenge(None));
        return Err(e);
    };
    let token = value
        .to_str()
        .ok()
        // The scheme is case-insensitive (RFC 9110 §11.1).
        .and_then(|v| v.trim_start().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|t| !t.is_empty());
    let invalid = |description: String| {
        let mut e = HttpError::new(StatusCode::UNAUTHORIZED, "invalid_token", description);
        e.www_authenticate = Some(challenge(Some("invalid_token")));
        e
    };
    let Some(token) = token else {
        return Err(invalid(
            "the Authorization header must be `Bearer <token>`".into(),
        ));
    };
    let cred = Credential::bearer(token, s.resource_url(headers));
    // (The address is looked at first: hashing the token to ask the cache
    // is only worth it for an address past its allowance.)
    if let (Credential::Token { token, .. }, Some(ext)) = (&cred, s.pipeline.external())
        && let Some(wait) = s.auth_failures.exhausted(&peer, Some(FAILED_AUTH_PER_MIN))
        && !ext.knows(token)
    {
        return Err(HttpError::rate_limited(
            wait,
            "too many unrecognised credentials from this address; new tokens are not checked",
        ));
    }
    let refused = |e: AuthError| {
        let recognised = matches!(
            e,
            AuthError::Expired(_) | AuthError::Revoked(_) | AuthError::TokenExpired | AuthError::TokenRevoked
        );
        if !recognised && let Err(wait) = s.auth_failures.check(&peer, Some(FAILED_AUTH_PER_MIN)) {
            return HttpError::rate_limited(wait, "too many unrecognised credentials from this address");
        }
        invalid(e.to_string())
    };
    match s.pipeline.resolve(&cred).await {
        Ok(p) => Ok((cred, p)),
        Err(AuthError::Db(e)) => {
            tracing::error!(error = %e, "credential lookup failed");
            Err(HttpError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "credentials cannot be checked right now",
            ))
        }
        Err(AuthError::IntrospectionFailed) => {
            let mut e = HttpError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the token could not be checked with the authorization server; access is denied until it can",
            );
            e.retry_after = Some(5);
            Err(e)
        }
        Err(e) => Err(refused(e)),
    }
}

fn check_host_and_origin(s: &HttpState, headers: &HeaderMap) -> Result<(), HttpError> {
    if let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) {
        if !s.policy.host_allowed(host) {
            return Err(HttpError::forbidden(format!(
                "Host `{host}` is not served here; start whale with --allowed-host {}",
                host_name(host)
            )));
        }
        check_port(s, host)?;
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        // A page of this server posting to it (the sign-in form) is
        // same-origin: its authority is the (already checked) Host.
        let same_origin = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .is_some_and(|host| {
                origin
                    .strip_prefix("https://")
                    .or_else(|| origin.strip_prefix("http://"))
                    .is_some_and(|authority| authority.eq_ignore_ascii_case(host))
            });
        if !same_origin && !s.policy.origin_allowed(origin) {
            let web = origin.starts_with("http://") || origin.starts_with("https://");
            return Err(HttpError::forbidden(if web {
                format!("Origin `{origin}` is not allowed; start whale with --allowed-origin {origin}")
            } else {
                // `null` (a sandboxed frame, a file:// page) names no site
                // that could be trusted.
                format!(
                    "Origin `{origin}` is not allowed: only http(s) origins can be; serve the page from one and start whale with --allowed-origin for it"
                )
            }));
        }
    }
    Ok(())
}

/// Without `--public-url`, the Host header names the resource tokens are
/// issued for and accepted at (RFC 8707) and the issuer: it must name the
/// port this server listens on. Host names alone cannot tell servers apart
/// (every loopback port is "localhost"), so a Host naming another port
/// would let a token issued by another server on the same database pass
/// here, and let a client have tokens minted for that server.
fn check_port(s: &HttpState, host: &str) -> Result<(), HttpError> {
    if s.public_url.is_some() {
        return Ok(());
    }
    let ours = s.local.port();
    let named = host_port(host);
    if named == Some(ours) {
        return Ok(());
    }
    let what = match named {
        Some(p) => format!("names port {p}"),
        None => "names no valid port".into(),
    };
    Err(HttpError::new(
        StatusCode::MISDIRECTED_REQUEST,
        "misdirected_request",
        format!(
            "Host `{host}` {what}, but this server listens on port {ours}: send `Host: {}:{ours}`; behind a proxy, start whale with --public-url",
            host_name(host)
        ),
    ))
}

/// The port of a `Host` header: its own, else http's default (80); None
/// for one that is not a port.
fn host_port(authority: &str) -> Option<u16> {
    let port = match authority.strip_prefix('[') {
        Some(rest) => rest.split_once(']')?.1,
        None => authority.find(':').map_or("", |i| &authority[i..]),
    };
    match port.strip_prefix(':') {
        None if port.is_empty() => Some(80),
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p.parse().ok(),
        _ => None,
    }
}

/// The host part of a `Host` header (`[::1]:3100` → `::1`).
pub fn host_name(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    authority.rsplit_once(':').map_or(authority, |(h, p)| {
        if p.chars().all(|c| c.is_ascii_digit()) {
            h
        } else {
            authority
        }
    })
}

/// Which Host and Origin values the server answers.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Host names (ports ignored); empty = any host.
    pub hosts: Vec<String>,
    /// Exact origins (`scheme://host[:port]`) beside the loopback ones.
    pub origins: Vec<String>,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

const LOOPBACK: &[&str] = &["localhost", "127.0.0.1", "::1"];

impl Policy {
    /// Whether `ip` is one of the `--trusted-proxy` addresses or networks.
    pub fn trusts(&self, ip: std::net::IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.trusted_proxies.iter().any(|n| n.contains(&ip))
    }

    pub fn host_allowed(&self, authority: &str) -> bool {
        let name = host_name(authority).to_ascii_lowercase();
        self.hosts.is_empty() || LOOPBACK.contains(&name.as_str()) || self.hosts.contains(&name)
    }

    pub fn origin_allowed(&self, origin: &str) -> bool {
        let origin = origin.trim_end_matches('/').to_ascii_lowercase();
        if self
            .origins
            .iter()
            .any(|o| o.trim_end_matches('/').eq_ignore_ascii_case(&origin))
        {
            return true;
        }
        // Pages served from this machine (any port) may talk to a local server.
        let Some((scheme, authority)) = origin.split_once("://") else {
            return false;
        };
        matches!(scheme, "http" | "https") && LOOPBACK.contains(&host_name(authority))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `client_key` of a request from `peer`, forwarded as `xff` (if any)
    /// through the trusted proxy 10.0.0.1.
    fn key_of(peer: &str, xff: Option<&str>) -> String {
        let mut req = Request::new(axum::body::Body::empty());
        let addr = std::net::SocketAddr::new(peer.parse().expect("peer"), 443);
        req.extensions_mut().insert(axum::extract::ConnectInfo(addr));
        if let Some(v) = xff {
            req.headers_mut()
                .insert("x-forwarded-for", v.parse().expect("header"));
        }
        let policy = Policy {
            hosts: vec![],
            origins: vec![],
            trusted_proxies: vec!["10.0.0.1/32".parse().expect("net")],
        };
        client_key(&req, &policy)
    }

    #[test]
    fn an_ipv6_client_is_known_by_its_64() {
        assert_eq!(key_of("2001:db8:1:2:3:4:5:6", None), "2001:db8:1:2::/64");
        assert_eq!(key_of("203.0.113.7", None), "203.0.113.7");
        // The same behind the proxy; an entry that is no address is its own key.
        assert_eq!(
            key_of("10.0.0.1", Some("2001:db8:1:2:3:4:5:6")),
            "2001:db8:1:2::/64"
        );
        assert_eq!(key_of("10.0.0.1", Some("unknown")), "xff:unknown");
    }

    #[test]
    fn hosts_and_origins() {
        let p = Policy {
            hosts: vec!["whale.example.com".into()],
            origins: vec!["https://app.example.com".into()],
            trusted_proxies: vec!["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()],
        };
        assert!(p.host_allowed("127.0.0.1:3100"));
        assert!(p.host_allowed("[::1]:3100"));
        assert!(p.host_allowed("whale.example.com"));
        assert!(!p.host_allowed("evil.example:3100"));
        assert!(p.origin_allowed("http://localhost:5173"));
        assert!(p.origin_allowed("https://app.example.com"));
        assert!(!p.origin_allowed("https://evil.example"));
        assert!(!p.origin_allowed("null"));
        let open = Policy {
            hosts: vec![],
            origins: vec![],
            trusted_proxies: vec![],
        };
        assert!(open.host_allowed("anything:1"));
        assert_eq!(host_name("a.b:80"), "a.b");
        assert_eq!(host_port("a.b:3100"), Some(3100));
        assert_eq!(host_port("[::1]:3100"), Some(3100));
        assert_eq!(host_port("a.b"), Some(80));
        assert_eq!(host_port("[::1]"), Some(80));
        for bad in ["a.b:", "a.b:x", "a.b:99999", "::1", "[::1", "a:1:2"] {
            assert_eq!(host_port(bad), None, "{bad}");
        }
        // Trusted proxies: networks, and IPv4 seen as IPv4-mapped IPv6.
        assert!(p.trusts("10.20.30.40".parse().unwrap()));
        assert!(p.trusts("::ffff:10.0.0.1".parse().unwrap()));
        assert!(p.trusts("::1".parse().unwrap()));
        assert!(!p.trusts("11.0.0.1".parse().unwrap()));
        assert!(!open.trusts("10.0.0.1".parse().unwrap()));
    }
}
