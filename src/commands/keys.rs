//! `whale keys`: create (shown once), list, rotate, revoke.

use serde_json::json;

use crate::app::App;
use crate::auth::{ScopeSet, keys};
use crate::cli::KeysCmd;
use crate::error::CliError;
use crate::printer;
use crate::store::{self, Mode, keys as db, now_ms, rfc3339};

pub fn run(app: &App, cmd: KeysCmd) -> Result<(), CliError> {
    app.require_store()?;
    match cmd {
        KeysCmd::Create {
            agent,
            scopes,
            test,
            expires_in,
            rate_limit,
            json,
        } => {
            let agent = crate::auth::agent_name(&agent, "--agent").map_err(CliError::Usage)?;
            let scopes = ScopeSet::parse(&scopes).map_err(CliError::Usage)?;
            let expires_at = expires_in
                .as_deref()
                .map(|d| duration(d, "--expires-in", MAX_DURATION_MS, TOO_LONG_TO_LIVE))
                .transpose()?
                .map(|d| now_ms() + d);
            let mode = if test { Mode::Test } else { Mode::Live };
            if rate_limit == Some(0) {
                return Err(CliError::Usage(
                    "--rate-limit must be at least 1 request per minute".into(),
                ));
            }
            super::note_unused_scopes(app, &scopes);
            let (id, secret) = create(app, agent, mode, &scopes.to_string(), expires_at, rate_limit)?;
            if let Err(e) = report_new(app, &id, &secret, json, "Created", None)? {
                // Nobody has the key: it must not stay usable.
                let undone = app
                    .db
                    .conn()
                    .map_err(CliError::from)
                    .and_then(|conn| Ok(db::revoke(&conn, &id, now_ms(), None).map(|_| ())?));
                return Err(super::unseen(
                    e,
                    &id,
                    undone,
                    "it was revoked; create the key again",
                    "whale keys revoke",
                ));
            }
            Ok(())
        }
        KeysCmd::List { all, json } => {
            let conn = app.db.conn()?;
            let rows = db::list(&conn, &app.store_id, all)?;
            let now = now_ms();
            if json {
                printer::json(&json!({"keys": rows.iter().map(|k| k.to_json(now)).collect::<Vec<_>>()}));
                return Ok(());
            }
            if rows.is_empty() {
                printer::out(&format!(
                    "No API keys for store `{}`. Create one with `whale keys create --agent NAME --scopes \"products:read\"`.",
                    app.store_id
                ));
                return Ok(());
            }
            let table: Vec<Vec<String>> = rows
                .iter()
                .map(|k| {
                    vec![
                        k.id.clone(),
                        k.agent_name.clone(),
                        k.hint.clone(),
                        k.mode.to_string(),
                        k.scopes.clone(),
                        k.status(now).to_string(),
                        k.last_used_at.map(rfc3339).unwrap_or_else(|| "never".into()),
                        k.expires_at.map(rfc3339).unwrap_or_else(|| "-".into()),
                        // Its own limit, else the server's --rate-limit.
                        k.rate_limit_per_min
                            .map_or_else(|| "server's".into(), |n| format!("{n}/min")),
                    ]
                })
                .collect();
            printer::table(
                &[
                    "ID",
                    "AGENT",
                    "KEY",
                    "MODE",
                    "SCOPES",
                    "STATUS",
                    "LAST USED",
                    "EXPIRES",
                    "RATE LIMIT",
                ],
                &table,
            );
            Ok(())
        }
        KeysCmd::Rotate { id, grace, json } => {
            let grace_ms = grace
                .as_deref()
                .map(|g| duration(g, "--grace", MAX_GRACE_MS, TOO_LONG_A_GRACE))
                .transpose()?
                .unwrap_or(0);
            let now = now_ms();
            // Checked and changed in one write transaction: two rotations at
            // once cannot both mint a replacement.
            let (old, new_id, secret, end) = app.db.write(|tx| -> Result<_, CliError> {
                let old = db::get(tx, &app.store_id, &id)?.ok_or_else(|| not_found(app, &id))?;
                if old.status(now) == "revoked" {
                    return Err(CliError::Runtime(format!(
                        "key {id} is already revoked; create a new one instead"
                    )));
                }
                if let (Some(until), Some(by)) = (old.revoked_at, &old.replaced_by) {
                    // Rotating it again would mint a second replacement that
                    // nothing links to, while the first stays active.
                    return Err(CliError::Runtime(format!(
                        "key {id} was already rotated: its replacement is {by}, and it keeps working until {}; \
                         rotate {by} instead, or `whale keys revoke {id}` to end the grace period now",
                        rfc3339(until)
                    )));
                }
                let secret = keys::generate(old.mode);
                let new_id = db::insert(
                    tx,
                    &db::NewKey {
                        store_id: &old.store_id,
                        mode: old.mode,
                        agent_name: &old.agent_name,
                        scopes: &old.scopes,
                        hint: &keys::hint(&secret),
                        hash: &keys::hash(&secret),
                        expires_at: renewed_expiry(&old, now),
                        rate_limit_per_min: old.rate_limit_per_min,
                    },
                )?;
                // The grace period never outlives the key's own expiry.
                let end = old
                    .expires_at
                    .map_or(now + grace_ms, |e| (now + grace_ms).min(e.max(now)));
                db::revoke(tx, &old.id, end, Some(&new_id))?;
                Ok((old, new_id, secret, end))
            })?;
            let still = (end > now).then_some(end);
            if let Err(e) = report_new(
                app,
                &new_id,
                &secret,
                json,
                "Rotated: new key",
                Some((&old.id, still)),
            )? {
                // Nobody has the new key: the rotation is undone, the old
                // key stays as it was.
                let undone = app.db.write(|tx| -> Result<(), CliError> {
                    Ok(db::undo_rotation(tx, &old.id, old.revoked_at, &new_id)?)
                });
                return Err(super::unseen(
                    e,
                    &new_id,
                    undone,
                    &format!(
                        "the rotation was undone: it is revoked, and {} works as before",
                        old.id
                    ),
                    "whale keys revoke",
                ));
            }
            if still.is_some() {
                printer::err(&format!(
                    "The old key {} keeps working until {}{}.",
                    old.id,
                    rfc3339(end),
                    if end < now + grace_ms {
                        " (its expiry, before the end of the grace period)"
                    } else {
                        ""
                    }
                ));
            } else if grace_ms > 0 && old.expires_at.is_some_and(|e| e <= now) {
                printer::err(&format!(
                    "The old key {} had already expired; it stays unusable.",
                    old.id
                ));
            } else {
                printer::err(&format!("The old key {} is revoked.", old.id));
            }
            Ok(())
        }
        KeysCmd::Revoke { id } => {
            let k = find(app, &id)?;
            let conn = app.db.conn()?;
            if db::revoke(&conn, &k.id, now_ms(), None)? == 0 {
                printer::out(&format!("Key {} was already revoked.", k.id));
            } else {
                printer::out(&format!(
                    "Revoked {} ({}, agent {}).",
                    k.id,
                    k.hint,
                    printer::visible(&k.agent_name)
                ));
            }
            Ok(())
        }
    }
}

/// Creates a key and returns (id, secret).
pub fn create(
    app: &App,
    agent: &str,
    mode: Mode,
    scopes: &str,
    expires_at: Option<i64>,
    rate_limit_per_min: Option<i64>,
) -> Result<(String, crate::auth::Secret), CliError> {
    let secret = keys::generate(mode);
    let id = app.db.write(|tx| -> Result<_, CliError> {
        Ok(db::insert(
            tx,
            &db::NewKey {
                store_id: &app.store_id,
                mode,
                agent_name: agent,
                scopes,
                hint: &keys::hint(&secret),
                hash: &keys::hash(&secret),
                expires_at,
                rate_limit_per_min,
            },
        )?)
    })?;
    Ok((id, secret))
}

fn find(app: &App, id: &str) -> Result<db::KeyRow, CliError> {
    let conn = app.db.conn()?;
    db::get(&conn, &app.store_id, id)?.ok_or_else(|| not_found(app, id))
}

fn not_found(app: &App, id: &str) -> CliError {
    CliError::Runtime(format!(
        "no key `{id}` in store `{}`; `whale keys list` shows them",
        app.store_id
    ))
}

/// Shows a new key, its secret on stdout: the one time it is shown. The
/// inner error is a secret that could not be written (a full disk, a
/// closed pipe): nobody has it, and the caller takes the key back.
fn report_new(
    app: &App,
    id: &str,
    secret: &crate::auth::Secret,
    json: bool,
    verb: &str,
    // A rotation's old key, and until when it still works (None: no more).
    replaces: Option<(&str, Option<i64>)>,
) -> Result<std::io::Result<()>, CliError> {
    let conn = app.db.conn()?;
    let row =
        db::get(&conn, &app.store_id, id)?.ok_or_else(|| CliError::Runtime("new key vanished".into()))?;
    if json {
        let mut v = row.to_json(now_ms());
        v["key"] = json!(secret.expose());
        if let Some((old, until)) = replaces {
            v["replaces"] = json!({"id": old, "works_until": until.map(rfc3339)});
        }
        return Ok(printer::try_json(&v));
    }
    printer::err(&format!(
        "{verb} {} for agent `{}` ({} mode, scopes: {}). Copy the key now; it is not shown again:",
        row.id,
        printer::visible(&row.agent_name),
        row.mode,
        row.scopes
    ));
    Ok(printer::try_out(secret.expose()))
}

/// A replacement key lives as long as the key it replaces did, counted
/// from now: copying the old absolute expiry would give the replacement of
/// an expiring (or expired) key the same short — or no — life.
fn renewed_expiry(old: &db::KeyRow, now: i64) -> Option<i64> {
    old.expires_at
        .map(|at| now.saturating_add(at.saturating_sub(old.created_at).max(0)))
}

/// The longest `--expires-in`: ten years.
const MAX_DURATION_MS: i64 = 3650 * 86_400_000;
const TOO_LONG_TO_LIVE: &str =
    "a key lives at most ten years (3650d); leave out --expires-in for a key that does not expire";
/// The longest `--grace`: long enough to deploy the new key, short enough
/// that rotating retires the old one.
const MAX_GRACE_MS: i64 = 30 * 86_400_000;
const TOO_LONG_A_GRACE: &str = "a grace period is at most 30 days (30d): long enough to deploy the new key, \
     short enough that rotating retires the old one";

/// A positive duration of at most `max` ms given to `flag`; `why` says
/// what bounds it.
fn duration(s: &str, flag: &str, max: i64, why: &str) -> Result<i64, CliError> {
    let d = store::parse_duration_ms(s).ok_or_else(|| {
        CliError::Usage(format!(
            "{flag}: `{s}` is not a duration; use e.g. 90s, 30m, 12h, 7d, 2w"
        ))
    })?;
    if d <= 0 {
        return Err(CliError::Usage(format!("{flag}: `{s}` must be longer than zero")));
    }
    if d > max {
        return Err(CliError::Usage(format!("{flag}: `{s}` is too long; {why}")));
    }
    Ok(d)
}
