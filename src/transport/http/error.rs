//! The one HTTP error type: OAuth-style JSON `{error, error_description}`
//! with the right status and headers, never an internal detail.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug)]
pub struct HttpError {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: String,
    pub www_authenticate: Option<String>,
    pub retry_after: Option<u64>,
}

impl HttpError {
    pub fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> HttpError {
        HttpError {
            status,
            error,
            description: description.into(),
            www_authenticate: None,
            retry_after: None,
        }
    }
    pub fn forbidden(description: impl Into<String>) -> HttpError {
        HttpError::new(StatusCode::FORBIDDEN, "forbidden", description)
    }
    pub fn not_found(description: impl Into<String>) -> HttpError {
        HttpError::new(StatusCode::NOT_FOUND, "not_found", description)
    }
    pub fn bad_request(description: impl Into<String>) -> HttpError {
        HttpError::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }
    /// 429 with Retry-After: `what` was refused for `wait` seconds.
    pub fn rate_limited(wait: u64, what: &str) -> HttpError {
        let mut e = HttpError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("{what}; retry in {wait} s"),
        );
        e.retry_after = Some(wait);
        e
    }
    pub fn internal() -> HttpError {
        HttpError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "the server could not complete the request; see its log",
        )
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let mut resp = (
            self.status,
            axum::Json(json!({"error": self.error, "error_description": self.description})),
        )
            .into_response();
        let h = resp.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(v) = self.www_authenticate.and_then(|v| HeaderValue::from_str(&v).ok()) {
            h.insert(header::WWW_AUTHENTICATE, v);
        }
        if let Some(s) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        resp
    }
}

/// The last layer out: an error response with a plain-text (or empty) body
/// — rmcp's transport errors (406, 415, 400, 404, 405), axum's extractor
/// rejections — leaves as `{error, error_description}` JSON like every
/// other error of the server. Headers such as `Allow` are kept; a server
/// error's text is replaced, as it may carry an internal detail.
pub async fn plain_to_json(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) || !is_plain(resp.headers()) {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let text = match axum::body::to_bytes(body, 4096).await {
        Ok(b) => String::from_utf8_lossy(&b).trim().to_owned(),
        Err(_) => String::new(),
    };
    let mut err = if status.is_server_error() {
        tracing::warn!(%status, "server error: {text}");
        HttpError::internal()
    } else {
        let description = if text.is_empty() {
            status
                .canonical_reason()
                .unwrap_or("the request was refused")
                .to_owned()
        } else {
            text.chars().take(300).collect()
        };
        HttpError::new(status, error_code(status), description)
    };
    err.status = status;
    let json = err.into_response();
    parts.headers.remove(header::CONTENT_LENGTH);
    for (k, v) in json.headers() {
        parts.headers.insert(k.clone(), v.clone());
    }
    Response::from_parts(parts, json.into_body())
}

fn is_plain(h: &axum::http::HeaderMap) -> bool {
    match h.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(ct) => ct.starts_with("text/plain"),
    }
}

fn error_code(status: StatusCode) -> &'static str {
    match status {
        StatusCode::UNAUTHORIZED => "invalid_token",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::NOT_ACCEPTABLE => "not_acceptable",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        _ => "invalid_request",
    }
}

/// A JSON-RPC error, with 400, for a body that is not one JSON-RPC message
/// (rmcp answers such a body with 415, as if its media type were wrong);
/// the same answer stdio gives (`channel::unreadable`).
pub fn jsonrpc_body_error(body: &[u8]) -> Response {
    use rmcp::{RoleServer, service::RxJsonRpcMessage};
    jsonrpc_error(
        match serde_json::from_slice::<RxJsonRpcMessage<RoleServer>>(body) {
            Err(e) => crate::transport::channel::unreadable(body, &e),
            // rmcp refused what it parses itself: no detail to add.
            Ok(_) => crate::transport::channel::Unreadable {
                id: None,
                code: -32600,
                message: "invalid request".into(),
            },
        },
    )
}

/// `u` as a 400 whose body is the JSON-RPC error.
pub fn jsonrpc_error(u: crate::transport::channel::Unreadable) -> Response {
    let error = json!({"code": u.code, "message": u.message});
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({"jsonrpc": "2.0", "id": u.id, "error": error})),
    )
        .into_response()
}
