//! The HTML of the authorization pages: sign-in, consent and errors. No
//! script, no external resource; every value is escaped.

use super::Pending;

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;background:#f4f6f8;margin:0;padding:2rem;color:#1b1f24}\
main{max-width:26rem;margin:3rem auto;background:#fff;border-radius:10px;padding:2rem;box-shadow:0 1px 4px #0002}\
h1{font-size:1.3rem;margin-top:0}label{display:block;margin:.8rem 0 .3rem;font-weight:600}\
input,select{width:100%;padding:.55rem;border:1px solid #c5ccd3;border-radius:6px;box-sizing:border-box;font-size:1rem}\
button{margin-top:1.2rem;padding:.6rem 1.2rem;border:0;border-radius:6px;font-size:1rem;cursor:pointer}\
.primary{background:#0b63ce;color:#fff}.secondary{background:#e6e9ed;color:#1b1f24;margin-left:.5rem}\
.error{background:#fdecea;color:#8a1c12;padding:.6rem;border-radius:6px}\
ul{padding-left:1.2rem}li{margin:.3rem 0}.muted{color:#5a6570;font-size:.9rem}";

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>",
        escape(title)
    )
}

fn hidden(p: &Pending) -> String {
    format!(
        "<input type=\"hidden\" name=\"request_id\" value=\"{}\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        escape(&p.id),
        escape(&p.csrf)
    )
}

pub fn login(p: &Pending, error: Option<&str>) -> String {
    let err = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default();
    page(
        "Sign in to whale",
        &format!(
            "<h1>Sign in to whale</h1>\
             <p><strong>{client}</strong> wants to access a store. Sign in to review the request.</p>{err}\
             <form method=\"post\" action=\"/authorize/login\">{hidden}\
             <label for=\"email\">Email</label><input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"username\" required autofocus>\
             <label for=\"password\">Password</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
             <button class=\"primary\" type=\"submit\">Sign in</button></form>",
            client = escape(&p.client_name),
            hidden = hidden(p),
        ),
    )
}

/// A scope in plain words.
pub fn describe_scope(scope: &str) -> String {
    let (resource, access) = scope.split_once(':').unwrap_or((scope, ""));
    let what = match resource {
        "products" => "products, variants and prices",
        "orders" => "orders, refunds and fulfilment",
        "customers" => "customers and their details",
        "inventory" => "stock levels and inventory movements",
        "catalog" => "the catalog",
        "commerce" => "commerce settings",
        "analytics" => "sales analytics",
        "platform" => "store settings, locations and the audit trail",
        "marketing" => "campaigns and coupons",
        other => other,
    };
    match access {
        "read" => format!("See {what}"),
        "write" => format!("Change {what}"),
        _ => format!("See and change {what}"),
    }
}

pub fn consent(p: &Pending) -> String {
    let scopes: String = p
        .scopes
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(|s| {
            format!(
                "<li>{} <span class=\"muted\">({})</span></li>",
                escape(&describe_scope(s)),
                escape(s)
            )
        })
        .collect();
    let store = if p.stores.len() == 1 {
        format!(
            "<p>Store: <strong>{}</strong></p><input type=\"hidden\" name=\"store\" value=\"{}\">",
            escape(&p.stores[0].1),
            escape(&p.stores[0].0)
        )
    } else {
        let options: String = p
            .stores
            .iter()
            .map(|(id, name)| {
                let selected = if p.store_hint.as_deref() == Some(id) {
                    " selected"
                } else {
                    ""
                };
                format!(
                    "<option value=\"{}\"{selected}>{} ({})</option>",
                    escape(id),
                    escape(name),
                    escape(id)
                )
            })
            .collect();
        format!("<label for=\"store\">Store</label><select id=\"store\" name=\"store\">{options}</select>")
    };
    let host = |u: &str| {
        url::Url::parse(u)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_default()
    };
    // The name is the client's own claim: say where it comes from, so an
    // app calling itself after a known agent is not taken for it.
    let origin = match p.client_kind.as_str() {
        "metadata" => format!(
            "An app described by {}; whale has not checked its name.",
            escape(&host(&p.client_id))
        ),
        _ => "A self-registered app; whale has not checked its name.".to_string(),
    };
    page(
        "Allow access?",
        &format!(
            "<h1>Allow the app {client} to use your store?</h1>\
             <p class=\"muted\">{origin} It sends you back to <strong>{redirect}</strong>. Signed in as {user}.</p>\
             <form method=\"post\" action=\"/authorize/consent\">{hidden}{store}\
             <p>It will be able to:</p><ul>{scopes}</ul>\
             <p class=\"muted\">Every call it makes is recorded in the audit trail.</p>\
             <button class=\"primary\" type=\"submit\" name=\"decision\" value=\"approve\">Allow</button>\
             <button class=\"secondary\" type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></form>",
            client = escape(&p.client_name),
            user = escape(p.user_email.as_deref().unwrap_or("")),
            hidden = hidden(p),
            redirect = escape(&destination(&p.redirect_uri)),
        ),
    )
}

/// Where a redirect URI sends the person, in words: an app on this
/// computer (loopback), the app that owns a private-use scheme
/// (`com.example.app:`), or a web site's host.
fn destination(redirect_uri: &str) -> String {
    let Ok(url) = url::Url::parse(redirect_uri) else {
        return redirect_uri.to_string();
    };
    match url.scheme() {
        "http" if super::is_loopback_host(&url) => match url.port() {
            Some(port) => format!("an app on this computer (port {port})"),
            None => "an app on this computer".into(),
        },
        "http" | "https" => url.host_str().unwrap_or(redirect_uri).to_string(),
        scheme => format!("the app that opens {scheme}: links"),
    }
}

pub fn error(message: &str) -> String {
    page(
        "Cannot continue",
        &format!(
            "<h1>This request cannot continue</h1><p class=\"error\">{}</p>\
             <p class=\"muted\">Nothing was shared. Go back to the application and try again.</p>",
            escape(message)
        ),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_markup() {
        assert_eq!(
            super::escape("<a href='x'>&\""),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;"
        );
        assert_eq!(
            super::describe_scope("orders:read"),
            "See orders, refunds and fulfilment"
        );
    }

    #[test]
    fn destinations_in_words() {
        for (uri, words) in [
            ("https://app.example.com/cb", "app.example.com"),
            ("com.example.app:/cb", "the app that opens com.example.app: links"),
            ("com.example.app:cb", "the app that opens com.example.app: links"),
            (
                "http://127.0.0.1:53123/callback",
                "an app on this computer (port 53123)",
            ),
            ("http://[::1]:8/cb", "an app on this computer (port 8)"),
            ("http://localhost/cb", "an app on this computer"),
        ] {
            assert_eq!(super::destination(uri), words, "{uri}");
        }
    }
}
