//! `whale users`: the people who sign in on the OAuth authorization page
//! and grant agents access to the stores they belong to.

use std::io::{BufRead, IsTerminal};

use serde_json::json;

use crate::app::App;
use crate::auth::password;
use crate::cli::UsersCmd;
use crate::error::CliError;
use crate::printer;
use crate::store::users as db;

pub fn run(app: &App, cmd: UsersCmd) -> Result<(), CliError> {
    match cmd {
        UsersCmd::Add {
            email,
            name,
            password_stdin,
            json,
        } => {
            app.require_store()?;
            let email = email.trim().to_string();
            if !valid_email(&email) {
                return Err(CliError::Usage(format!("`{email}` is not an email address")));
            }
            let existing = {
                let conn = app.db.conn()?;
                db::by_email(&conn, &email)?
            };
            let (id, created) = match existing {
                Some(u) => (u.id, false),
                None => {
                    let pass = read_password(password_stdin, true)?;
                    let hash = password::hash(&pass).map_err(CliError::Runtime)?;
                    let name = name
                        .clone()
                        .unwrap_or_else(|| email.split('@').next().unwrap_or(&email).to_string());
                    let conn = app.db.conn()?;
                    (db::insert(&conn, &email, name.trim(), &hash)?, true)
                }
            };
            let added = {
                let conn = app.db.conn()?;
                db::add_member(&conn, &app.store_id, &id)?
            };
            // An existing person keeps their password and name (stdin is not
            // read): when either was given, say so, so a script piping a
            // password does not believe it was set.
            if !created && (password_stdin || name.is_some()) {
                printer::err(&format!(
                    "note: {email} already existed: their password{} {} not changed \
                     (set a new password with `whale users passwd {email}`)",
                    if name.is_some() { " and name" } else { "" },
                    if name.is_some() { "were" } else { "was" },
                ));
            }
            if json {
                printer::json(&json!({
                    "id": id,
                    "email": email,
                    "store": app.store_id,
                    "created": created,
                    "added_to_store": added,
                    "password_set": created,
                }));
            } else if created {
                printer::out(&format!(
                    "Added {email} ({id}) to store `{}`. They can now sign in when an agent asks for access.",
                    app.store_id
                ));
            } else if added {
                printer::out(&format!(
                    "{email} already existed; added to store `{}`.",
                    app.store_id
                ));
            } else {
                printer::out(&format!(
                    "{email} is already a member of store `{}`; nothing changed.",
                    app.store_id
                ));
            }
            Ok(())
        }
        UsersCmd::List { json } => {
            let conn = app.db.conn()?;
            let users = db::list(&conn)?;
            if json {
                printer::json(&json!({"users": users}));
                return Ok(());
            }
            if users.is_empty() {
                printer::out("No users yet. Add one with `whale users add EMAIL`.");
                return Ok(());
            }
            let rows: Vec<Vec<String>> = users
                .iter()
                .map(|u| {
                    vec![
                        u.id.clone(),
                        u.email.clone(),
                        u.name.clone(),
                        u.stores.join(","),
                        u.created_at.clone(),
                    ]
                })
                .collect();
            printer::table(&["ID", "EMAIL", "NAME", "STORES", "CREATED"], &rows);
            Ok(())
        }
        UsersCmd::Remove { email, json } => {
            app.require_store()?;
            let (user, (removed, revoked)) = app.db.write(|tx| -> Result<_, CliError> {
                let user = db::by_email(tx, email.trim())?.ok_or_else(|| {
                    CliError::Runtime(format!("no user `{email}`; `whale users list` shows them"))
                })?;
                let done = db::remove_member(tx, &app.store_id, &user.id)?;
                Ok((user, done))
            })?;
            if json {
                printer::json(&json!({
                    "id": user.id,
                    "email": user.email,
                    "store": app.store_id,
                    "removed": removed,
                    "tokens_revoked": revoked,
                }));
            } else if removed {
                printer::out(&format!(
                    "Removed {} from store `{}`; {revoked} token{} they granted agents there {} revoked.",
                    user.email,
                    app.store_id,
                    if revoked == 1 { "" } else { "s" },
                    if revoked == 1 { "was" } else { "were" },
                ));
            } else {
                // Like revoking twice: nothing to do is not an error.
                printer::out(&format!(
                    "{} is not a member of store `{}`; {}.",
                    user.email,
                    app.store_id,
                    if revoked > 0 {
                        format!(
                            "{revoked} token{} left from an earlier membership {} revoked",
                            if revoked == 1 { "" } else { "s" },
                            if revoked == 1 { "was" } else { "were" },
                        )
                    } else {
                        "nothing changed".to_string()
                    }
                ));
            }
            Ok(())
        }
        UsersCmd::Passwd {
            email,
            password_stdin,
        } => {
            let user = {
                let conn = app.db.conn()?;
                db::by_email(&conn, email.trim())?
            }
            .ok_or_else(|| CliError::Runtime(format!("no user `{email}`; `whale users list` shows them")))?;
            let pass = read_password(password_stdin, true)?;
            let hash = password::hash(&pass).map_err(CliError::Runtime)?;
            let conn = app.db.conn()?;
            db::set_password(&conn, &user.id, &hash)?;
            printer::out(&format!("Password changed for {}.", user.email));
            Ok(())
        }
    }
}

fn valid_email(e: &str) -> bool {
    let Some((local, domain)) = e.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !e.chars().any(|c| c.is_whitespace() || c == '<' || c == '>')
        && e.len() <= 254
}

/// A new password: the first stdin line with `--password-stdin`, else
/// typed twice at a terminal prompt (never echoed, never an argument).
fn read_password(from_stdin: bool, confirm: bool) -> Result<String, CliError> {
    let pass = if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_string()
    } else if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")?;
        if confirm {
            let again = rpassword::prompt_password("Again: ")?;
            if again != first {
                return Err(CliError::Usage("the passwords differ; nothing changed".into()));
            }
        }
        first
    } else {
        return Err(CliError::Usage(
            "no terminal to prompt for the password; pipe it with --password-stdin".into(),
        ));
    };
    password::check_strength(&pass).map_err(CliError::Usage)?;
    Ok(pass)
}
