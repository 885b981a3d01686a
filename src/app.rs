//! `App`: the database, the registry, the audit writer and the pipeline,
//! built once per process and shared by every door.

use std::path::Path;
use std::sync::Arc;

use crate::audit::AuditWriter;
use crate::auth::{AuthError, Credential, Principal};
use crate::error::CliError;
use crate::pipeline::Pipeline;
use crate::store::{Db, stores};
use crate::tools::Registry;

pub struct App {
    pub db: Arc<Db>,
    pub pipeline: Arc<Pipeline>,
    /// The store commands act on (flag, env, `stores use`, else `demo`).
    pub store_id: String,
    /// Whether `--store`/`WHALE_STORE` named the store.
    store_explicit: bool,
}

impl App {
    pub fn open(db_path: &Path, store_flag: Option<&str>) -> Result<App, CliError> {
        // Settings first: a bad one changes nothing, not even a new database.
        let timeout = crate::settings::tool_timeout()?;
        let db = Arc::new(Db::open(db_path)?);
        if db.created() {
            // A mistyped --db is a new, empty-looking database: say so.
            crate::printer::err(&format!(
                "Created a new database at {} (with the demo store).",
                db_path.display()
            ));
        }
        let store_id = match store_flag {
            Some(s) => s.to_string(),
            None => {
                let conn = db.conn()?;
                stores::preference(&conn, "default_store")?.unwrap_or_else(|| "demo".into())
            }
        };
        let audit = AuditWriter::start(db.clone());
        let pipeline = Arc::new(Pipeline::new(
            db.clone(),
            Arc::new(Registry::builtin()),
            audit,
            timeout,
        ));
        Ok(App {
            db,
            pipeline,
            store_id,
            store_explicit: store_flag.is_some(),
        })
    }

    /// Whether the store was named (`--store`, `WHALE_STORE`) rather than
    /// taken from `stores use` or the default.
    pub fn store_named(&self) -> bool {
        self.store_explicit
    }

    /// Fails naming the stores when the chosen one does not exist (a
    /// runtime error, exit 1, like any id that is not there).
    pub fn require_store(&self) -> Result<(), CliError> {
        let conn = self.db.conn()?;
        if stores::exists(&conn, &self.store_id)? {
            return Ok(());
        }
        let known: Vec<String> = stores::list(&conn)?.into_iter().map(|s| s.id).collect();
        Err(CliError::Runtime(format!(
            "store `{}` does not exist; known stores: {}",
            self.store_id,
            known.join(", ")
        )))
    }

    /// The credential tool-running commands act with: `WHALETOOLS_API_KEY`
    /// (whose own store and mode decide), else the local owner of the chosen
    /// store. Refused at once when it does not resolve, or when the key
    /// belongs to another store than an explicit `--store`.
    pub fn credential(&self) -> Result<(Credential, Principal), CliError> {
        let cred = crate::settings::credential(&self.store_id)?;
        let principal = self.pipeline.resolve_local(&cred).map_err(|e| match e {
            AuthError::NoStore(_) => CliError::Runtime(e.to_string()),
            AuthError::Db(e) => CliError::Runtime(e.to_string()),
            e => CliError::Auth(format!("{e} (from {})", crate::settings::WHALETOOLS_API_KEY)),
        })?;
        if matches!(cred, Credential::ApiKey(_))
            && self.store_explicit
            && principal.scope.store_id != self.store_id
        {
            return Err(CliError::Auth(format!(
                "the API key in {} belongs to store `{}`, not `{}`",
                crate::settings::WHALETOOLS_API_KEY,
                principal.scope.store_id,
                self.store_id
            )));
        }
        Ok((cred, principal))
    }

    /// Writes every queued audit row before the process exits, and
    /// checkpoints the WAL. Once: a second call does nothing.
    pub fn shutdown(&self) {
        self.pipeline.audit().stop();
        self.db.checkpoint();
    }
}
