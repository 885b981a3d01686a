//! `whale clients`: OAuth clients of the embedded authorization server —
//! machine agents created here (confidential, bound to a store, for the
//! client_credentials grant), and the apps that registered themselves.

use serde_json::json;

use crate::app::App;
use crate::auth::ScopeSet;
use crate::cli::ClientsCmd;
use crate::error::CliError;
use crate::oauth::AuthServer;
use crate::printer;
use crate::store::{Mode, oauth as db, rfc3339};

pub fn run(app: &App, cmd: ClientsCmd) -> Result<(), CliError> {
    match cmd {
        ClientsCmd::Create {
            name,
            scopes,
            test,
            json,
        } => {
            app.require_store()?;
            let name = crate::auth::agent_name(&name, "the name").map_err(CliError::Usage)?;
            let scopes = ScopeSet::parse(&scopes).map_err(CliError::Usage)?;
            super::note_unused_scopes(app, &scopes);
            let mode = if test { Mode::Test } else { Mode::Live };
            let (id, secret) = AuthServer::create_admin_client(&app.db, name, &app.store_id, mode, &scopes)?;
            let shown = if json {
                printer::try_json(&json!({
                    "client_id": id,
                    "client_secret": secret.expose(),
                    "name": name,
                    "store_id": app.store_id,
                    "mode": mode,
                    "scopes": scopes.to_string(),
                }))
            } else {
                printer::try_out(&format!(
                    "Created client {id} for store `{}` ({mode}), scopes: {scopes}\n\n  client_id:     {id}\n  client_secret: {}\n\n\
                     The secret is shown once. Get tokens with:\n  curl -u '{id}:<secret>' -d grant_type=client_credentials <server>/token",
                    app.store_id,
                    secret.expose()
                ))
            };
            if let Err(e) = shown {
                // Nobody has the secret: the client must not stay usable.
                let undone = app
                    .db
                    .conn()
                    .map_err(CliError::from)
                    .and_then(|conn| Ok(db::revoke_client(&conn, &id).map(|_| ())?));
                return Err(super::unseen(
                    e,
                    &id,
                    undone,
                    "it was revoked; create the client again",
                    "whale clients revoke",
                ));
            }
            Ok(())
        }
        ClientsCmd::List { json } => {
            app.require_store()?;
            let conn = app.db.conn()?;
            // This store's machine clients, and the apps that registered
            // themselves (they belong to no store: people of any store sign
            // in to them).
            let clients: Vec<_> = db::clients(&conn)?
                .into_iter()
                .filter(|c| c.store_id.as_deref().is_none_or(|s| s == app.store_id))
                .collect();
            let view: Vec<serde_json::Value> = clients
                .iter()
                .map(|c| {
                    json!({
                        "client_id": c.id,
                        "kind": c.kind,
                        "name": c.name,
                        "confidential": !c.is_public(),
                        "grant_types": c.grant_types,
                        "redirect_uris": c.redirect_uris,
                        "store_id": c.store_id,
                        "mode": c.mode,
                        "scopes": c.scopes,
                        "created_at": rfc3339(c.created_at),
                        "revoked": c.revoked_at.is_some(),
                    })
                })
                .collect();
            if json {
                printer::json(&json!({"clients": view}));
                return Ok(());
            }
            if clients.is_empty() {
                printer::out(
                    "No OAuth clients yet. Apps register themselves; create a machine client with `whale clients create NAME --scopes ...`.",
                );
                return Ok(());
            }
            let rows: Vec<Vec<String>> = clients
                .iter()
                .map(|c| {
                    vec![
                        c.id.clone(),
                        c.kind.clone(),
                        c.name.clone(),
                        c.store_id.clone().unwrap_or_else(|| "-".into()),
                        c.mode.map_or_else(|| "-".into(), |m| m.to_string()),
                        c.scopes.clone().unwrap_or_else(|| "-".into()),
                        if c.revoked_at.is_some() {
                            "revoked"
                        } else {
                            "active"
                        }
                        .into(),
                    ]
                })
                .collect();
            printer::table(
                &["CLIENT ID", "KIND", "NAME", "STORE", "MODE", "SCOPES", "STATUS"],
                &rows,
            );
            Ok(())
        }
        ClientsCmd::Revoke { id } => {
            app.require_store()?;
            let conn = app.db.conn()?;
            // A machine client is revoked from its own store only, as a key
            // is (`whale keys revoke`): a slip of `--store` changes nothing.
            // A registered app belongs to no store and is revoked from any
            // (with the tokens people of every store granted it).
            if let Some(other) = db::client(&conn, &id)?
                .and_then(|c| c.store_id)
                .filter(|s| *s != app.store_id)
            {
                return Err(CliError::Runtime(format!(
                    "no client `{id}` in store `{}`; it belongs to store `{other}` (pass --store {other})",
                    app.store_id
                )));
            }
            if db::revoke_client(&conn, &id)? {
                printer::out(&format!("Revoked client {id} and every token issued to it."));
                Ok(())
            } else if db::client(&conn, &id)?.is_some() {
                // Like `whale keys revoke`: revoking twice is not an error.
                printer::out(&format!("Client {id} was already revoked."));
                Ok(())
            } else {
                Err(CliError::Runtime(format!(
                    "no client `{id}` in store `{}`; `whale clients list` shows them",
                    app.store_id
                )))
            }
        }
    }
}
