//! `whale stores`: list, create, use.

use serde_json::json;

use crate::app::App;
use crate::cli::StoresCmd;
use crate::error::CliError;
use crate::printer;
use crate::store::{Mode, now_ms, seed, stores};

pub fn run(app: &App, cmd: StoresCmd) -> Result<(), CliError> {
    match cmd {
        StoresCmd::List { json } => {
            let conn = app.db.conn()?;
            let rows = stores::list(&conn)?;
            if json {
                printer::json(&json!({"stores": rows, "current": app.store_id}));
                return Ok(());
            }
            let table: Vec<Vec<String>> = rows
                .iter()
                .map(|s| {
                    vec![
                        if s.id == app.store_id {
                            "*".into()
                        } else {
                            String::new()
                        },
                        s.id.clone(),
                        s.name.clone(),
                        s.currency.clone(),
                        s.timezone.clone(),
                        s.created_at.clone(),
                    ]
                })
                .collect();
            printer::table(&["", "ID", "NAME", "CURRENCY", "TIMEZONE", "CREATED"], &table);
            Ok(())
        }
        StoresCmd::Create {
            id,
            name,
            currency,
            timezone,
            seed: with_data,
        } => {
            let valid_id = (2..=40).contains(&id.len())
                && id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
                && id.starts_with(|c: char| c.is_ascii_lowercase());
            if !valid_id {
                return Err(CliError::Usage(format!(
                    "store id `{id}`: use 2–40 lowercase letters, digits, - or _, starting with a letter"
                )));
            }
            let currency = crate::store::currency_code(&currency)
                .map_err(|e| CliError::Usage(format!("--currency {e}")))?;
            if name.trim().is_empty() {
                return Err(CliError::Usage("--name must not be empty".into()));
            }
            // The same rule as the store tool's update_settings.
            let timezone = crate::store::canonical_time_zone(timezone.trim())
                .map_err(|e| CliError::Usage(format!("--timezone {e}")))?;
            app.db.write(|tx| -> Result<(), CliError> {
                if stores::exists(tx, &id)? {
                    return Err(CliError::Runtime(format!("store `{id}` already exists")));
                }
                let now = now_ms();
                seed::create_store_rows(tx, &id, name.trim(), &currency, &timezone, now)?;
                if with_data {
                    seed::seed_mode(tx, &id, Mode::Live, now)?;
                    seed::seed_mode(tx, &id, Mode::Test, now)?;
                }
                Ok(())
            })?;
            printer::out(&format!(
                "Created store `{id}`. Make it the default with `whale stores use {id}`."
            ));
            Ok(())
        }
        StoresCmd::Use { id } => {
            let conn = app.db.conn()?;
            if !stores::exists(&conn, &id)? {
                return Err(CliError::Runtime(format!(
                    "store `{id}` does not exist; `whale stores list` shows the stores"
                )));
            }
            stores::set_preference(&conn, "default_store", &id)?;
            printer::out(&format!("Commands now act on store `{id}`."));
            if let Some(env) = crate::settings::store_env().filter(|s| *s != id) {
                printer::err(&format!(
                    "note: {} is set to `{env}` in this environment, and it wins over `stores use`; \
                     unset it to act on `{id}`.",
                    crate::settings::WHALE_STORE
                ));
            }
            Ok(())
        }
    }
}
