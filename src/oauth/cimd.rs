//! Client ID metadata documents: a client whose `client_id` is an https URL
//! publishes its registration as JSON at that URL. Fetching a URL chosen by
//! a stranger is a server-side request, so the fetch is guarded: https
//! only, every resolved address must be public (no loopback, private,
//! link-local or metadata-service address — checked before connecting, and
//! the connection pinned to the checked addresses), no redirects, a small
//! size limit and a short timeout. Documents are cached for
//! [`CACHE_MS`]. What the network answered (DNS, addresses, connections,
//! status) is logged, never shown: shown, it would map the server's network
//! for whoever picks the URL.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use futures::StreamExt;
use serde_json::Value;

pub const CACHE_MS: i64 = 10 * 60 * 1000;
const MAX_BYTES: usize = 64 * 1024;
const TIMEOUT: Duration = Duration::from_secs(5);

/// A validated client metadata document.
#[derive(Debug, Clone)]
pub struct ClientDoc {
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub raw: String,
}

pub struct Fetcher {
    insecure: bool,
}

/// Why a client metadata document was not accepted.
#[derive(Debug)]
pub enum FetchError {
    /// The URL or the document itself is wrong: said as it is.
    Invalid(String),
    /// The document could not be reached. The detail (which names hosts,
    /// addresses and errors of the server's own network) is for the log;
    /// the person sees only that it could not be fetched.
    Unreachable(String),
}

impl FetchError {
    /// What the person may be told.
    pub fn shown(&self, client_id: &str) -> String {
        match self {
            FetchError::Invalid(m) => m.clone(),
            FetchError::Unreachable(_) => {
                format!("the client metadata document {client_id} could not be fetched")
            }
        }
    }
}

/// Whether a `client_id` names a metadata document (an http(s) URL).
pub fn is_metadata_url(client_id: &str) -> bool {
    client_id.starts_with("https://") || client_id.starts_with("http://")
}

impl Fetcher {
    /// `insecure` admits `http://` and loopback addresses (development and
    /// tests only).
    pub fn new(insecure: bool) -> Fetcher {
        Fetcher { insecure }
    }

    pub async fn fetch(&self, client_id: &str) -> Result<ClientDoc, FetchError> {
        let say = |why: String| format!("client metadata document {client_id}: {why}");
        let invalid = |why: String| FetchError::Invalid(say(why));
        let fail = |why: String| FetchError::Unreachable(say(why));
        let url = url::Url::parse(client_id).map_err(|e| invalid(format!("not a URL ({e})")))?;
        match url.scheme() {
            "https" => {}
            "http" if self.insecure => {}
            _ => return Err(invalid("the client_id must be an https URL".into())),
        }
        if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
            return Err(invalid("the URL must have no fragment and no user info".into()));
        }
        if url.path() == "/" || url.path().is_empty() {
            return Err(invalid("the URL must have a path".into()));
        }
        let host = url
            .host_str()
            .ok_or_else(|| invalid("the URL has no host".into()))?
            .to_string();
        let port = url.port_or_known_default().unwrap_or(443);
        let lookup_host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        let addrs: Vec<SocketAddr> =
            tokio::time::timeout(TIMEOUT, tokio::net::lookup_host((lookup_host.as_str(), port)))
                .await
                .map_err(|_| fail("DNS lookup timed out".into()))?
                .map_err(|e| fail(format!("DNS lookup failed ({e})")))?
                .collect();
        if addrs.is_empty() {
            return Err(fail("the host has no address".into()));
        }
        if !self.insecure
            && let Some(bad) = addrs.iter().find(|a| !is_public(a.ip()))
        {
            return Err(fail(format!(
                "the host resolves to a non-public address ({}); refused",
                bad.ip()
            )));
        }
        let client = crate::outbound::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .resolve_to_addrs(&lookup_host, &addrs)
            .build()
            .map_err(|e| fail(format!("cannot build an HTTP client ({e})")))?;
        let resp = client
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| fail(format!("fetch failed ({})", e.without_url())))?;
        if resp.status() != reqwest::StatusCode::OK {
            return Err(fail(format!("the server answered {}", resp.status())));
        }
        if resp.content_length().is_some_and(|n| n > MAX_BYTES as u64) {
            return Err(invalid(format!("the document is larger than {MAX_BYTES} bytes")));
        }
        let mut body = Vec::new();
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| fail(format!("read failed ({})", e.without_url())))?;
            body.extend_from_slice(&chunk);
            if body.len() > MAX_BYTES {
                return Err(invalid(format!("the document is larger than {MAX_BYTES} bytes")));
            }
        }
        let doc: Value =
            serde_json::from_slice(&body).map_err(|e| invalid(format!("the document is not JSON ({e})")))?;
        validate(client_id, &doc, &body).map_err(invalid)
    }
}

fn validate(client_id: &str, doc: &Value, body: &[u8]) -> Result<ClientDoc, String> {
    if doc.get("client_id").and_then(Value::as_str) != Some(client_id) {
        return Err("its client_id must equal the URL it is served from".into());
    }
    if doc.get("client_secret").is_some() {
        return Err("a metadata document must not carry a client_secret".into());
    }
    match doc.get("token_endpoint_auth_method").and_then(Value::as_str) {
        None | Some("none") => {}
        Some(m) => {
            return Err(format!(
                "token_endpoint_auth_method `{m}` is not supported for metadata documents (use none)"
            ));
        }
    }
    let redirect_uris: Vec<String> = doc
        .get("redirect_uris")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .filter(|v: &Vec<String>| !v.is_empty())
        .ok_or("redirect_uris must be a non-empty array of strings")?;
    super::check_redirect_uris(&redirect_uris)?;
    let grant_types: Vec<String> = match doc.get("grant_types") {
        None => vec!["authorization_code".into(), "refresh_token".into()],
        Some(v) => serde_json::from_value(v.clone()).map_err(|_| "grant_types must be strings")?,
    };
    if let Some(g) = grant_types
        .iter()
        .find(|g| !matches!(g.as_str(), "authorization_code" | "refresh_token"))
    {
        return Err(format!(
            "grant type `{g}` is not available to metadata-document clients"
        ));
    }
    let name =
        crate::auth::client_name(doc.get("client_name").and_then(Value::as_str))?.unwrap_or_else(|| {
            url::Url::parse(client_id)
                .ok()
                .and_then(|u| u.host_str().map(str::to_string))
                .unwrap_or_else(|| client_id.to_string())
        });
    Ok(ClientDoc {
        name,
        redirect_uris,
        grant_types,
        raw: String::from_utf8_lossy(body).into_owned(),
    })
}

/// Whether an address is on the public internet (not loopback, private,
/// link-local, shared, documentation, multicast, reserved — nor an IPv6
/// form of one).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_unspecified()
                || v4.is_multicast()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || (o[0] == 198 && (o[1] & 0xfe) == 18)
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8)
                || (s[0] == 0x64 && s[1] == 0xff9b))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_addresses_are_not_public() {
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert!(!is_public(a.parse().unwrap()), "{a}");
        }
        for a in ["93.184.216.34", "2606:4700::1111"] {
            assert!(is_public(a.parse().unwrap()), "{a}");
        }
    }

    #[tokio::test]
    async fn loopback_and_plain_http_documents_are_refused() {
        let f = Fetcher::new(false);
        // The log learns why; the person is told no more than "not fetched".
        for id in [
            "https://127.0.0.1:9/client.json",
            "https://localhost:9/client.json",
        ] {
            let e = f.fetch(id).await.unwrap_err();
            assert!(
                matches!(&e, FetchError::Unreachable(d) if d.contains("non-public")),
                "{e:?}"
            );
            let shown = e.shown(id);
            assert!(
                shown.ends_with("could not be fetched") && !shown.contains("non-public"),
                "{shown}"
            );
        }
        let e = f.fetch("http://example.com/client.json").await.unwrap_err();
        assert!(
            matches!(&e, FetchError::Invalid(m) if m.contains("https")),
            "{e:?}"
        );
    }

    #[test]
    fn documents_are_validated() {
        let id = "https://app.example.com/client.json";
        let ok = serde_json::json!({"client_id": id, "client_name": "App", "redirect_uris": ["https://app.example.com/cb"]});
        assert_eq!(validate(id, &ok, b"{}").unwrap().name, "App");
        let other = serde_json::json!({"client_id": "https://evil.example/c.json", "redirect_uris": ["https://a.example/cb"]});
        assert!(validate(id, &other, b"{}").is_err());
        let secret = serde_json::json!({"client_id": id, "client_secret": "x", "redirect_uris": ["https://a.example/cb"]});
        assert!(validate(id, &secret, b"{}").is_err());
        let no_uris = serde_json::json!({"client_id": id});
        assert!(validate(id, &no_uris, b"{}").is_err());
    }
}
