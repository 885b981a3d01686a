//! The OAuth 2.1 protocol steps of a native-app client (RFC 8252): discovery
//! (RFC 9728 protected-resource metadata, then RFC 8414 authorization-server
//! metadata), dynamic client registration (RFC 7591), PKCE S256, the
//! one-shot loopback listener that receives the code, and the token,
//! refresh and revocation (RFC 7009) requests. Nothing here stores anything
//! or prints a token.

use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::auth::Secret;
use crate::error::CliError;

/// The redirect URI we register: loopback, no port (RFC 8252 §7.3: the
/// server accepts any port on it at authorization time).
pub const REGISTERED_REDIRECT: &str = "http://127.0.0.1/callback";

/// An HTTP client for the OAuth requests (bounded; no proxies' surprises
/// beyond reqwest's defaults).
pub fn http_client() -> Result<reqwest::Client, CliError> {
    crate::outbound::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| CliError::Runtime(format!("cannot build the HTTP client: {e}")))
}

/// The server as whale names it everywhere (stored logins, `whale mcp
/// --server`, `whale install --server`): its origin, `https://h`. Accepts
/// `https://h/` and the MCP endpoint the server prints at start,
/// `https://h/mcp` (or `/mcp/`); refuses any other path, a query or a
/// fragment, and schemes other than http(s). Warns (once per process) when a
/// non-loopback server is reached over plain HTTP.
pub fn normalize_server(url: &str) -> Result<String, CliError> {
    let trimmed = url.trim().trim_end_matches('/');
    let parsed = reqwest::Url::parse(trimmed).map_err(|e| {
        CliError::Usage(format!(
            "--server `{url}` is not a URL ({e}); e.g. https://whale.example.com"
        ))
    })?;
    let plain_remote = match parsed.scheme() {
        "https" => false,
        "http" => !is_loopback(&parsed),
        other => {
            return Err(CliError::Usage(format!(
                "--server `{url}`: scheme `{other}` is not supported; use https:// (or http:// for a local server)"
            )));
        }
    };
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(CliError::Usage(format!(
            "--server `{url}` must not have a query or fragment"
        )));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        // It would be kept in the host's config and printed in messages.
        // (The URL is not repeated: it holds the password.)
        return Err(CliError::Usage(format!(
            "--server: leave the user name and password out of the URL ({}://{}): `whale login` signs in",
            parsed.scheme(),
            parsed.host_str().unwrap_or_default()
        )));
    }
    // The origin as the URL parser spells it (lower-case scheme and host,
    // no default port), so the same server is always the same string.
    let server = match parsed.path() {
        "/" | "" | "/mcp" => parsed.origin().ascii_serialization(),
        _ => {
            return Err(CliError::Usage(format!(
                "--server `{url}`: give the server's URL without a path, an origin like https://whale.example.com \
                 (or its MCP endpoint, https://whale.example.com/mcp)"
            )));
        }
    };
    if plain_remote {
        static WARNED: std::sync::Once = std::sync::Once::new();
        WARNED.call_once(|| {
            tracing::warn!("{server} uses plain HTTP: tokens will cross the network unencrypted");
        });
    }
    Ok(server)
}

fn is_loopback(u: &reqwest::Url) -> bool {
    let host = u.host_str().unwrap_or("");
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// RFC 8414 authorization-server metadata (the fields we use).
#[derive(Debug, Clone, Deserialize)]
pub struct AsMetadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    #[serde(default)]
    pub registration_endpoint: Option<String>,
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
    #[serde(default)]
    pub code_challenge_methods_supported: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct ProtectedResource {
    #[serde(default)]
    resource: Option<String>,
    #[serde(default)]
    authorization_servers: Vec<String>,
}

/// What discovery found for a server.
#[derive(Debug, Clone)]
pub struct Discovered {
    /// The protected resource: `{server}/mcp`.
    pub resource: String,
    pub metadata: AsMetadata,
}

async fn get_json(
    http: &reqwest::Client,
    url: &str,
) -> Result<(reqwest::StatusCode, serde_json::Value), String> {
    let resp = http
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| describe(&e))?;
    let status = resp.status();
    let body = resp.bytes().await.map_err(|e| describe(&e))?;
    let value = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    Ok((status, value))
}

/// A reqwest error with its source chain (reqwest's own Display is terse).
pub fn describe(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

/// The RFC 8414 well-known URL for an issuer (the path, if any, goes after
/// the well-known segment).
fn as_metadata_url(issuer: &str) -> Result<String, CliError> {
    let u = reqwest::Url::parse(issuer)
        .map_err(|e| CliError::Runtime(format!("authorization server `{issuer}` is not a URL ({e})")))?;
    let path = u.path().trim_end_matches('/');
    let origin = u.origin().ascii_serialization();
    Ok(format!("{origin}/.well-known/oauth-authorization-server{path}"))
}

/// RFC 9728 then RFC 8414: which authorization server protects
/// `{server}/mcp`, and its endpoints. Requires PKCE S256.
pub async fn discover(http: &reqwest::Client, server: &str) -> Result<Discovered, CliError> {
    let resource = format!("{server}/mcp");
    let unreachable = |url: &str, e: String| CliError::Runtime(format!("cannot reach {url}: {e}"));
    let mut prm = None;
    for url in [
        format!("{server}/.well-known/oauth-protected-resource/mcp"),
        format!("{server}/.well-known/oauth-protected-resource"),
    ] {
        let (status, body) = get_json(http, &url).await.map_err(|e| unreachable(&url, e))?;
        if status.is_success() {
            let parsed: ProtectedResource = serde_json::from_value(body)
                .map_err(|e| CliError::Runtime(format!("{url} is not protected-resource metadata ({e})")))?;
            prm = Some(parsed);
            break;
        }
        tracing::debug!(%url, %status, "no protected-resource metadata here");
    }
    let prm = prm.ok_or_else(|| {
        CliError::Runtime(format!(
            "{server} publishes no OAuth protected-resource metadata \
             (/.well-known/oauth-protected-resource); is it a whale server in HTTP mode with OAuth enabled?"
        ))
    })?;
    if let Some(r) = &prm.resource
        && r.trim_end_matches('/') != resource
    {
        return Err(CliError::Runtime(format!(
            "{server} describes itself as resource `{r}`, not `{resource}`; check the --server URL"
        )));
    }
    let issuer = prm
        .authorization_servers
        .first()
        .ok_or_else(|| CliError::Runtime(format!("{server} names no authorization server in its metadata")))?
        .trim_end_matches('/')
        .to_string();
    let url = as_metadata_url(&issuer)?;
    let (status, body) = get_json(http, &url).await.map_err(|e| unreachable(&url, e))?;
    if !status.is_success() {
        return Err(CliError::Runtime(format!(
            "the authorization server's metadata at {url} answered HTTP {status}"
        )));
    }
    let metadata: AsMetadata = serde_json::from_value(body)
        .map_err(|e| CliError::Runtime(format!("{url} is not authorization-server metadata ({e})")))?;
    if metadata.issuer.trim_end_matches('/') != issuer {
        return Err(CliError::Runtime(format!(
            "the authorization server at {issuer} calls itself `{}`; refusing mismatched metadata (RFC 8414 §3.3)",
            metadata.issuer
        )));
    }
    if !metadata
        .code_challenge_methods_supported
        .iter()
        .any(|m| m == "S256")
    {
        return Err(CliError::Runtime(format!(
            "the authorization server {issuer} does not offer PKCE with S256, which whale requires"
        )));
    }
    Ok(Discovered { resource, metadata })
}

/// RFC 7591 dynamic registration of a public native client.
pub async fn register(http: &reqwest::Client, endpoint: &str) -> Result<String, CliError> {
    let body = json!({
        "client_name": format!("whale CLI ({})", crate::settings::hostname()),
        "redirect_uris": [REGISTERED_REDIRECT],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    });
    let resp = http
        .post(endpoint)
        .json(&body)
        .send()
        .await
        .map_err(|e| CliError::Runtime(format!("cannot register at {endpoint}: {}", describe(&e))))?;
    let status = resp.status();
    let value: serde_json::Value = resp.json().await.unwrap_or(serde_json::Value::Null);
    if !status.is_success() {
        return Err(CliError::Runtime(format!(
            "client registration at {endpoint} failed (HTTP {status}){}; pass --client-id if you have one",
            oauth_error_text(&value)
        )));
    }
    value["client_id"]
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .ok_or_else(|| {
            CliError::Runtime(format!(
                "{endpoint} registered the client but returned no client_id"
            ))
        })
}

fn oauth_error_text(v: &serde_json::Value) -> String {
    match (v["error"].as_str(), v["error_description"].as_str()) {
        (Some(e), Some(d)) => format!(": {e}: {d}"),
        (Some(e), None) => format!(": {e}"),
        _ => String::new(),
    }
}

/// `n` random bytes, base64url without padding.
pub fn random_b64(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::fill(&mut bytes[..]);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes)
}

/// A PKCE pair (RFC 7636, S256).
pub struct Pkce {
    pub verifier: Secret,
    pub challenge: String,
}

pub fn pkce() -> Pkce {
    // 48 random bytes → 64 characters of the unreserved set.
    let verifier = random_b64(48);
    let challenge = crate::auth::pkce_s256(&verifier);
    Pkce {
        verifier: Secret::new(verifier),
        challenge,
    }
}

/// The parameters of the authorization request.
pub struct AuthorizeRequest<'a> {
    pub endpoint: &'a str,
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub scope: Option<&'a str>,
    pub state: &'a str,
    pub challenge: &'a str,
    pub resource: &'a str,
    pub store: Option<&'a str>,
}

/// The authorization URL (it carries no secret: the PKCE challenge and the
/// state only).
pub fn authorize_url(r: &AuthorizeRequest<'_>) -> Result<String, CliError> {
    let mut u = reqwest::Url::parse(r.endpoint).map_err(|e| {
        CliError::Runtime(format!(
            "authorization endpoint `{}` is not a URL ({e})",
            r.endpoint
        ))
    })?;
    {
        let mut q = u.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", r.client_id)
            .append_pair("redirect_uri", r.redirect_uri);
        if let Some(s) = r.scope {
            q.append_pair("scope", s);
        }
        q.append_pair("state", r.state)
            .append_pair("code_challenge", r.challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("resource", r.resource);
        if let Some(s) = r.store {
            q.append_pair("store", s);
        }
    }
    Ok(u.to_string())
}

const PAGE_OK: &str = "<!doctype html><html><head><meta charset=\"utf-8\"><title>whale</title></head>\
<body style=\"font-family:sans-serif;margin:3em\"><h1>Signed in</h1>\
<p>whale received the authorization. You can close this tab and return to the terminal.</p></body></html>";

fn page_error(msg: &str) -> String {
    let escaped = msg
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>whale</title></head>\
<body style=\"font-family:sans-serif;margin:3em\"><h1>Sign-in failed</h1><p>{escaped}</p>\
<p>You can close this tab; the terminal says what to do next.</p></body></html>"
    )
}

async fn respond(stream: &mut tokio::net::TcpStream, status: &str, body: &str) {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// Reads one request head (bounded) and returns its target.
async fn read_target(stream: &mut tokio::net::TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let read = async {
        loop {
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
            if buf.windows(4).any(|w| w == b"\r\n\r\n") || buf.len() > 16 * 1024 {
                break;
            }
        }
        let head = String::from_utf8_lossy(&buf);
        let line = head.lines().next()?;
        let mut parts = line.split_whitespace();
        let method = parts.next()?;
        let target = parts.next()?;
        (method == "GET").then(|| target.to_string())
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .ok()
        .flatten()
}

/// Waits on `listener` for the browser's redirect to `/callback`; other
/// paths get 404. Checks `state`; returns the code.
pub async fn receive_code(listener: TcpListener, state: &str) -> Result<Secret, CliError> {
    loop {
        let (mut stream, _) = listener
            .accept()
            .await
            .map_err(|e| CliError::Runtime(format!("the loopback listener failed: {e}")))?;
        let Some(target) = read_target(&mut stream).await else {
            respond(
                &mut stream,
                "400 Bad Request",
                &page_error("Not a request whale understands."),
            )
            .await;
            continue;
        };
        let (path, query) = target.split_once('?').unwrap_or((target.as_str(), ""));
        if path != "/callback" {
            respond(&mut stream, "404 Not Found", &page_error("Nothing here.")).await;
            continue;
        }
        let params: std::collections::HashMap<String, String> =
            form_urlencoded::parse(query.as_bytes()).into_owned().collect();
        if params.get("state").map(String::as_str) != Some(state) {
            let msg = "the redirect's state does not match the request (a stale tab or a forged redirect); \
                       nothing was stored — run `whale login` again";
            respond(&mut stream, "400 Bad Request", &page_error(msg)).await;
            return Err(CliError::Auth(msg.into()));
        }
        if let Some(err) = params.get("error") {
            let desc = params
                .get("error_description")
                .map(|d| format!(": {d}"))
                .unwrap_or_default();
            let msg = if err == "access_denied" {
                format!("authorization was denied (access_denied{desc}); nothing was stored")
            } else {
                format!("the authorization server returned an error: {err}{desc}; nothing was stored")
            };
            respond(&mut stream, "200 OK", &page_error(&msg)).await;
            return Err(CliError::Auth(msg));
        }
        match params.get("code").filter(|c| !c.is_empty()) {
            Some(code) => {
                respond(&mut stream, "200 OK", PAGE_OK).await;
                return Ok(Secret::new(code.clone()));
            }
            None => {
                let msg = "the redirect carried neither a code nor an error; nothing was stored";
                respond(&mut stream, "400 Bad Request", &page_error(msg)).await;
                return Err(CliError::Auth(msg.into()));
            }
        }
    }
}

/// A successful token response.
#[derive(Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    #[serde(default)]
    pub token_type: Option<String>,
    #[serde(default)]
    pub expires_in: Option<i64>,
    #[serde(default)]
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
    /// whale extensions: the store the token resolves to, and its mode.
    #[serde(default)]
    pub store_id: Option<String>,
    #[serde(default)]
    pub mode: Option<String>,
}

/// Why a token request failed.
#[derive(Debug)]
pub enum TokenError {
    /// The server answered with an OAuth error (`invalid_grant`, …).
    OAuth {
        error: String,
        description: Option<String>,
    },
    /// The request did not get a usable answer.
    Other(String),
}

impl std::fmt::Display for TokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenError::OAuth {
                error,
                description: Some(d),
            } => write!(f, "{error}: {d}"),
            TokenError::OAuth {
                error,
                description: None,
            } => f.write_str(error),
            TokenError::Other(s) => f.write_str(s),
        }
    }
}

/// POSTs a form to the token endpoint.
pub async fn token_request(
    http: &reqwest::Client,
    endpoint: &str,
    form: &[(&str, &str)],
) -> Result<TokenResponse, TokenError> {
    let resp = http
        .post(endpoint)
        .header(reqwest::header::ACCEPT, "application/json")
        .form(form)
        .send()
        .await
        .map_err(|e| TokenError::Other(format!("cannot reach {endpoint}: {}", describe(&e))))?;
    let status = resp.status();
    let body = resp
        .bytes()
        .await
        .map_err(|e| TokenError::Other(format!("reading the answer of {endpoint}: {}", describe(&e))))?;
    let value: serde_json::Value = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    if !status.is_success() {
        return Err(match value["error"].as_str() {
            Some(e) => TokenError::OAuth {
                error: e.to_string(),
                description: value["error_description"].as_str().map(str::to_string),
            },
            None => TokenError::Other(format!("{endpoint} answered HTTP {status}")),
        });
    }
    let tr: TokenResponse = serde_json::from_value(value)
        .map_err(|e| TokenError::Other(format!("{endpoint} returned an unexpected token response ({e})")))?;
    if let Some(t) = &tr.token_type
        && !t.eq_ignore_ascii_case("bearer")
    {
        return Err(TokenError::Other(format!(
            "{endpoint} issued a `{t}` token; whale only uses Bearer tokens"
        )));
    }
    if tr.access_token.is_empty() {
        return Err(TokenError::Other(format!(
            "{endpoint} returned an empty access token"
        )));
    }
    Ok(tr)
}

/// Whether the authorization server still knows `client_id`: a refresh
/// with a token that cannot exist is answered `invalid_client` (RFC 6749
/// §5.2) when the client is unknown and `invalid_grant` otherwise. Used
/// before reusing a remembered registration (the server's database may
/// have been reset since).
pub async fn client_known(http: &reqwest::Client, token_endpoint: &str, client_id: &str) -> bool {
    let probe = [
        ("grant_type", "refresh_token"),
        ("refresh_token", "whale-client-probe"),
        ("client_id", client_id),
    ];
    !matches!(
        token_request(http, token_endpoint, &probe).await,
        Err(TokenError::OAuth { ref error, .. }) if error == "invalid_client"
    )
}

/// RFC 7009 revocation of one token (public client: `client_id` in the form).
pub async fn revoke(
    http: &reqwest::Client,
    endpoint: &str,
    token: &Secret,
    hint: &str,
    client_id: &str,
) -> Result<(), String> {
    let resp = http
        .post(endpoint)
        .form(&[
            ("token", token.expose()),
            ("token_type_hint", hint),
            ("client_id", client_id),
        ])
        .send()
        .await
        .map_err(|e| describe(&e))?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let value: serde_json::Value = resp.json().await.unwrap_or(serde_json::Value::Null);
    Err(format!("HTTP {status}{}", oauth_error_text(&value)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_matches_rfc7636_example() {
        // RFC 7636 Appendix B.
        assert_eq!(
            crate::auth::pkce_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let p = pkce();
        let len = p.verifier.expose().len();
        assert!((43..=128).contains(&len), "{len}");
        assert_eq!(p.challenge, crate::auth::pkce_s256(p.verifier.expose()));
    }

    #[test]
    fn metadata_url_inserts_the_well_known_segment() {
        assert_eq!(
            as_metadata_url("https://as.example.com").expect("url"),
            "https://as.example.com/.well-known/oauth-authorization-server"
        );
        assert_eq!(
            as_metadata_url("https://as.example.com/tenant1").expect("url"),
            "https://as.example.com/.well-known/oauth-authorization-server/tenant1"
        );
    }

    #[test]
    fn authorize_url_encodes_every_parameter() {
        let url = authorize_url(&AuthorizeRequest {
            endpoint: "http://127.0.0.1:9/authorize",
            client_id: "c 1",
            redirect_uri: "http://127.0.0.1:5555/callback",
            scope: Some("products:read orders"),
            state: "st",
            challenge: "ch",
            resource: "http://127.0.0.1:9/mcp",
            store: Some("acme"),
        })
        .expect("url");
        assert!(
            url.starts_with("http://127.0.0.1:9/authorize?response_type=code&client_id=c+1&"),
            "{url}"
        );
        assert!(
            url.contains("redirect_uri=http%3A%2F%2F127.0.0.1%3A5555%2Fcallback"),
            "{url}"
        );
        assert!(url.contains("scope=products%3Aread+orders"), "{url}");
        assert!(url.contains("code_challenge_method=S256"), "{url}");
        assert!(url.ends_with("&store=acme"), "{url}");
    }

    #[test]
    fn server_urls_are_normalized() {
        assert_eq!(
            normalize_server("http://127.0.0.1:3100/").expect("ok"),
            "http://127.0.0.1:3100"
        );
        assert_eq!(normalize_server("ftp://x").expect_err("bad").exit_code(), 2);
        assert_eq!(normalize_server("nope").expect_err("bad").exit_code(), 2);
        // The endpoint the server prints at start names the same server.
        for url in [
            "http://127.0.0.1:42479/mcp",
            "http://127.0.0.1:42479/mcp/",
            " http://127.0.0.1:42479 ",
        ] {
            assert_eq!(normalize_server(url).expect(url), "http://127.0.0.1:42479");
        }
        assert_eq!(
            normalize_server("https://whale.example.com/mcp").expect("ok"),
            "https://whale.example.com"
        );
        // Any other path is a usage error that says what to give instead.
        for url in [
            "https://whale.example.com/api",
            "https://whale.example.com/mcp/mcp",
            "https://whale.example.com/x/mcp",
            "https://whale.example.com/sse",
            "https://whale.example.com/mcp?x=1",
        ] {
            let e = normalize_server(url).expect_err(url);
            assert_eq!(e.exit_code(), 2, "{url}");
        }
        // One spelling per server: lower-case scheme and host, no default
        // port, dot segments resolved.
        for url in [
            "HTTPS://Whale.Example.com:443/mcp",
            "https://whale.example.com/./mcp",
            "https://whale.example.com:443",
        ] {
            assert_eq!(
                normalize_server(url).expect(url),
                "https://whale.example.com",
                "{url}"
            );
        }
        // Credentials in the URL would land in the host's config and in
        // messages: refused without repeating them.
        for url in [
            "https://u:s3cret@whale.example.com/mcp",
            "https://u@whale.example.com",
        ] {
            let e = normalize_server(url).expect_err(url);
            assert_eq!(e.exit_code(), 2, "{url}");
            assert!(
                !e.to_string().contains("s3cret") && !e.to_string().contains("u@"),
                "{e}"
            );
        }
        let e = normalize_server("https://whale.example.com/api").expect_err("path");
        assert!(
            e.to_string().contains("an origin like https://whale.example.com"),
            "{e}"
        );
    }
}
