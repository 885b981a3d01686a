//! `whale login`, `whale logout` and `whale auth status`: signing in to a
//! remote whale server as a native OAuth app (RFC 8252) and managing the
//! stored logins. No token is ever printed.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::auth::Secret;
use crate::cli::{LoginArgs, LogoutArgs};
use crate::client::oauth::{self, AuthorizeRequest, TokenError};
use crate::client::store::{self, LoginEntry, Paths, StorageKind, StoredCredential, Vault};
use crate::client::{STORE_LIMIT, blocking};
use crate::error::CliError;
use crate::printer;
use crate::settings::{self, CredentialStoreChoice};

fn vault() -> Result<Arc<Vault>, CliError> {
    Ok(Arc::new(Vault::new(Paths::resolve()?)))
}

fn storage_label(vault: &Vault, kind: StorageKind) -> String {
    match kind {
        StorageKind::Keychain => "the OS keychain".into(),
        StorageKind::File => format!("{} (readable only by you)", vault.paths.credentials().display()),
    }
}

/// What is wrong with the credential file, checked as a session reading it
/// would check it; None when it can be used.
async fn file_problem(vault: &Vault) -> Option<String> {
    let path = vault.paths.credentials();
    let shown = path.display().to_string();
    match blocking(STORE_LIMIT, "checking the credential file", move || {
        store::check_private(&path)
    })
    .await
    {
        Ok(true) => None,
        Ok(false) => Some(format!("{shown} is missing: log in again with `whale login`")),
        Err(e) => Some(e.to_string()),
    }
}

/// Space-separated scopes from `--scopes` (spaces or commas).
fn normalize_scopes(s: &str) -> String {
    s.split([' ', ',', '\t'])
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

pub async fn login(args: &LoginArgs, store_id: Option<&str>) -> Result<(), CliError> {
    let server = oauth::normalize_server(&args.server)?;
    let kind = if args.insecure_storage {
        StorageKind::File
    } else {
        match settings::credential_store()? {
            Some(CredentialStoreChoice::File) => StorageKind::File,
            Some(CredentialStoreChoice::Keychain) | None => StorageKind::Keychain,
        }
    };
    let vault = vault()?;
    // Decide where the tokens go before anyone signs in: a keychain that is
    // unreachable fails now, not after the browser round trip.
    {
        let v = vault.clone();
        blocking(STORE_LIMIT, "checking the credential store", move || {
            v.check_writable(kind)
        })
        .await?;
    }

    let http = oauth::http_client()?;
    let found = oauth::discover(&http, &server).await?;
    let meta = &found.metadata;
    let issuer = meta.issuer.trim_end_matches('/').to_string();

    let client_id = match &args.client_id {
        Some(id) => id.clone(),
        None => {
            let (v, i) = (vault.clone(), issuer.clone());
            let known = blocking(STORE_LIMIT, "reading the login index", move || {
                v.client_id_for(&i)
            })
            .await?;
            let known = match known {
                Some(id) if oauth::client_known(&http, &meta.token_endpoint, &id).await => Some(id),
                Some(_) => {
                    tracing::info!("the server no longer knows the remembered client; registering again");
                    None
                }
                None => None,
            };
            match known {
                Some(id) => id,
                None => {
                    let endpoint = meta.registration_endpoint.as_deref().ok_or_else(|| {
                        CliError::Usage(format!(
                            "{issuer} does not offer dynamic client registration; pass --client-id with a client id it issued"
                        ))
                    })?;
                    let id = oauth::register(&http, endpoint).await?;
                    let (v, i, c) = (vault.clone(), issuer.clone(), id.clone());
                    blocking(STORE_LIMIT, "saving the client registration", move || {
                        v.remember_client(&i, &c)
                    })
                    .await?;
                    id
                }
            }
        }
    };

    // The listener exists before the URL that names its port.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|e| {
            CliError::Runtime(format!(
                "cannot listen on 127.0.0.1 for the browser's redirect: {e}"
            ))
        })?;
    let port = listener.local_addr()?.port();
    let redirect_uri = format!("http://127.0.0.1:{port}/callback");
    let pkce = oauth::pkce();
    let state = oauth::random_b64(24);
    let scope = args
        .scopes
        .as_deref()
        .map(normalize_scopes)
        .filter(|s| !s.is_empty());
    let url = oauth::authorize_url(&AuthorizeRequest {
        endpoint: &meta.authorization_endpoint,
        client_id: &client_id,
        redirect_uri: &redirect_uri,
        scope: scope.as_deref(),
        state: &state,
        challenge: &pkce.challenge,
        resource: &found.resource,
        store: store_id,
    })?;

    printer::err(&format!("Open this URL to sign in: {url}"));
    if !args.no_browser
        && settings::has_display()
        && let Err(e) = open::that_detached(&url)
    {
        printer::err(&format!(
            "(could not open a browser: {e}; open the URL above yourself)"
        ));
    }
    let spinner = indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    spinner.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    spinner.set_message("Waiting for you to sign in in the browser… (Ctrl-C to cancel)");
    spinner.enable_steady_tick(Duration::from_millis(120));
    let waited = tokio::time::timeout(
        Duration::from_secs(args.timeout),
        oauth::receive_code(listener, &state),
    )
    .await;
    spinner.finish_and_clear();
    let code = match waited {
        Ok(r) => r?,
        Err(_) => {
            return Err(CliError::Auth(format!(
                "no sign-in arrived within {} s; nothing was stored — run `whale login` again",
                args.timeout
            )));
        }
    };

    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.expose()),
        ("redirect_uri", redirect_uri.as_str()),
        ("client_id", client_id.as_str()),
        ("code_verifier", pkce.verifier.expose()),
        ("resource", found.resource.as_str()),
    ];
    let tr = oauth::token_request(&http, &meta.token_endpoint, &form)
        .await
        .map_err(|e| match e {
            TokenError::OAuth { .. } => CliError::Auth(format!(
                "the authorization server refused the code ({e}); nothing was stored"
            )),
            TokenError::Other(s) => CliError::Runtime(format!("{s}; nothing was stored")),
        })?;
    let now = jiff::Timestamp::now().as_second();
    let cred = StoredCredential {
        access_token: Secret::new(tr.access_token),
        refresh_token: tr.refresh_token.map(Secret::new),
        expires_at: tr.expires_in.map(|s| now + s),
        client_id,
        token_endpoint: meta.token_endpoint.clone(),
        revocation_endpoint: meta.revocation_endpoint.clone(),
        resource: found.resource.clone(),
        scopes: tr.scope.or(scope).unwrap_or_default(),
        store_id: tr
            .store_id
            .or_else(|| store_id.map(str::to_string))
            .unwrap_or_else(|| "unknown".into()),
        mode: tr.mode.unwrap_or_else(|| "unknown".into()),
        issuer,
        server: server.clone(),
    };
    let summary = format!(
        "Logged in to {server} — store {} ({}), scopes: {}; tokens kept in {}.",
        cred.store_id,
        cred.mode,
        if cred.scopes.is_empty() {
            "(server default)"
        } else {
            &cred.scopes
        },
        storage_label(&vault, kind)
    );
    {
        let v = vault.clone();
        blocking(STORE_LIMIT, "storing the login", move || v.save(&cred, kind)).await?;
    }
    printer::err(&summary);
    Ok(())
}

pub async fn logout(args: &LogoutArgs, store_id: Option<&str>) -> Result<(), CliError> {
    let vault = vault()?;
    let v = vault.clone();
    let logins = blocking(STORE_LIMIT, "reading the login index", move || v.list()).await?;
    if logins.is_empty() {
        return Err(CliError::Runtime("not logged in to any whale server".into()));
    }
    let server = args.server.as_deref().map(oauth::normalize_server).transpose()?;
    let targets: Vec<LoginEntry> = if args.all {
        logins
    } else {
        // Logging out of nothing is a plain failure (exit 1), not an auth error.
        let one = store::choose(&logins, server.as_deref(), store_id).map_err(|e| match e {
            CliError::Auth(m) => CliError::Runtime(m),
            other => other,
        })?;
        vec![one]
    };
    let http = oauth::http_client()?;
    let mut failed = None;
    for entry in targets {
        let (v, e) = (vault.clone(), entry.clone());
        let revoked = match blocking(STORE_LIMIT, "reading the stored login", move || v.load(&e)).await {
            Ok(cred) => revoke_all(&http, &cred).await,
            Err(e) => Err(format!(
                "could not read its tokens ({e}), so they were not revoked"
            )),
        };
        if let Err(why) = &revoked {
            printer::err(&format!("warning: {}: {why}", entry.server));
        }
        let (v, e) = (vault.clone(), entry.clone());
        match blocking(STORE_LIMIT, "deleting the stored login", move || v.remove(&e)).await {
            Ok(()) => printer::err(&format!(
                "Logged out of {} (store {}){}.",
                entry.server,
                entry.store_id,
                if revoked.is_ok() { "; tokens revoked" } else { "" }
            )),
            Err(e) => {
                printer::err(&format!("error: {}: {e}", entry.server));
                failed = Some(e);
            }
        }
    }
    match failed {
        Some(_) => Err(CliError::Silent(1)),
        None => Ok(()),
    }
}

/// Revokes the refresh token (which ends the whole grant on most servers)
/// and the access token.
async fn revoke_all(http: &reqwest::Client, cred: &StoredCredential) -> Result<(), String> {
    let Some(endpoint) = &cred.revocation_endpoint else {
        return Err("the server offers no revocation endpoint; the tokens were deleted here but stay valid until they expire".into());
    };
    let mut problems = Vec::new();
    if let Some(rt) = &cred.refresh_token
        && let Err(e) = oauth::revoke(http, endpoint, rt, "refresh_token", &cred.client_id).await
    {
        problems.push(format!("revoking the refresh token failed ({e})"));
    }
    if let Err(e) = oauth::revoke(
        http,
        endpoint,
        &cred.access_token,
        "access_token",
        &cred.client_id,
    )
    .await
    {
        problems.push(format!("revoking the access token failed ({e})"));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{}; the local copy is deleted anyway",
            problems.join("; ")
        ))
    }
}

fn expiry(at: Option<i64>, now: i64) -> (Option<String>, bool, String) {
    let Some(at) = at else {
        return (None, false, "no expiry given".into());
    };
    let Ok(t) = jiff::Timestamp::from_second(at) else {
        // Beyond the calendar a date can be written in: a server's way of
        // saying "never" (or, below it, long expired).
        return if at > now {
            (None, false, "after the year 9999 (never, in effect)".into())
        } else {
            (None, true, "expired; refreshed on next use".into())
        };
    };
    let iso = format!("{t:.0}");
    let left = at - now;
    let human = |s: i64| {
        if s >= 86_400 {
            format!("{} d", s / 86_400)
        } else if s >= 3600 {
            format!("{} h", s / 3600)
        } else if s >= 60 {
            format!("{} min", s / 60)
        } else {
            format!("{s} s")
        }
    };
    let text = if left > 0 {
        format!("{iso} (in {})", human(left))
    } else {
        format!("{iso} (expired {} ago; refreshed on next use)", human(-left))
    };
    (Some(iso), left <= 0, text)
}

/// `whale auth status`. Like `gh auth status`: exit 1 when there is nothing
/// to authenticate with (no stored login and no API key in the environment).
pub async fn status(json_out: bool) -> Result<(), CliError> {
    let vault = vault()?;
    let v = vault.clone();
    let logins = blocking(STORE_LIMIT, "reading the login index", move || v.list()).await?;
    // The key in the environment wins over every login: checked offline
    // (prefix, length, checksum), since a typo fails every command that
    // uses it. Whether the server that issued it still honours it is the
    // server's to say.
    // Set but empty counts as set: the commands that use the key refuse it
    // (`settings::session_api_key`), so this check must not pass it.
    let empty_key = settings::session_api_key().is_err();
    let env_key = settings::api_key();
    let api_key = env_key.is_some() || empty_key;
    let key_mode = env_key
        .as_ref()
        .and_then(|k| crate::auth::keys::parse(k.expose()));
    let key_env = match (&env_key, key_mode) {
        (None, _) if empty_key => {
            json!({"name": settings::WHALETOOLS_API_KEY, "set": true, "well_formed": false, "empty": true})
        }
        (None, _) => json!({"name": settings::WHALETOOLS_API_KEY, "set": false}),
        (Some(k), Some(mode)) => json!({
            "name": settings::WHALETOOLS_API_KEY, "set": true, "well_formed": true,
            "mode": mode, "hint": crate::auth::keys::hint(k),
        }),
        (Some(_), None) => json!({"name": settings::WHALETOOLS_API_KEY, "set": true, "well_formed": false}),
    };
    let now = jiff::Timestamp::now().as_second();
    // A login kept in the file is only as good as the file: say when a
    // session would refuse it, rather than describe it as private.
    let file_problem = match logins.iter().any(|e| e.storage == StorageKind::File) {
        true => file_problem(&vault).await,
        false => None,
    };
    let problem_of = |e: &LoginEntry| match e.storage {
        StorageKind::File => file_problem.as_deref(),
        StorageKind::Keychain => None,
    };
    if json_out {
        let rows: Vec<Value> = logins
            .iter()
            .map(|e| {
                let (iso, expired, _) = expiry(e.expires_at, now);
                json!({
                    "server": e.server,
                    "issuer": e.issuer,
                    "store_id": e.store_id,
                    "mode": e.mode,
                    "scopes": e.scopes.split_whitespace().collect::<Vec<_>>(),
                    "expires_at": iso,
                    "expired": expired,
                    "storage": e.storage.as_str(),
                    "storage_problem": problem_of(e),
                    "client_id": e.client_id,
                })
            })
            .collect();
        printer::json(&json!({
            "api_key_env": key_env,
            "logins": rows,
        }));
    } else {
        for (i, e) in logins.iter().enumerate() {
            if i > 0 {
                printer::out("");
            }
            let (_, _, exp) = expiry(e.expires_at, now);
            printer::out(&e.server);
            printer::out(&format!("  store:    {} ({})", e.store_id, e.mode));
            printer::out(&format!("  issuer:   {}", e.issuer));
            printer::out(&format!(
                "  scopes:   {}",
                if e.scopes.is_empty() {
                    "(none listed)"
                } else {
                    &e.scopes
                }
            ));
            printer::out(&format!("  expires:  {exp}"));
            match problem_of(e) {
                None => printer::out(&format!("  storage:  {}", storage_label(&vault, e.storage))),
                Some(why) => printer::out(&format!("  storage:  unusable: {why}")),
            }
        }
        if api_key {
            if !logins.is_empty() {
                printer::out("");
            }
            match (&env_key, key_mode) {
                (Some(k), Some(mode)) => printer::out(&format!(
                    "{} is set ({mode} key {}): whale uses it instead of any stored login.",
                    settings::WHALETOOLS_API_KEY,
                    crate::auth::keys::hint(k)
                )),
                _ => printer::out(&format!(
                    "{} is set but {}: every command that uses it fails. Set it to a key from \
                     `whale keys create`, or unset it.",
                    settings::WHALETOOLS_API_KEY,
                    if empty_key {
                        "empty"
                    } else {
                        "is not a whale API key (wrong prefix, length or checksum)"
                    }
                )),
            }
        }
    }
    if api_key && key_mode.is_none() {
        return Err(CliError::Silent(1));
    }
    if logins.is_empty() && !api_key {
        if !json_out {
            printer::err(
                "You are not logged in to any whale server. To log in, run: whale login --server URL",
            );
        }
        return Err(CliError::Silent(1));
    }
    if file_problem.is_some() && !api_key {
        // As `gh auth status` does: a login that cannot be used fails it —
        // unless the API key, which wins over every login, is set.
        return Err(CliError::Silent(1));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::expiry;

    #[test]
    fn expiry_renders_times_and_the_ends_of_the_calendar() {
        let now = 1_795_000_000;
        let (iso, expired, text) = expiry(Some(now + 7200), now);
        assert_eq!(iso.as_deref(), Some("2026-11-18T13:06:40Z"));
        assert!(!expired);
        assert!(text.ends_with("(in 2 h)"), "{text}");
        let (iso, expired, text) = expiry(Some(now - 90), now);
        assert!(
            expired && iso.is_some() && text.contains("expired 1 min ago"),
            "{text}"
        );
        // `expires_in` of "forever": no date, not expired.
        let (iso, expired, text) = expiry(Some(253_402_300_799), now);
        assert_eq!((iso, expired), (None, false));
        assert!(text.contains("never"), "{text}");
        assert_eq!(expiry(None, now), (None, false, "no expiry given".into()));
    }
}
