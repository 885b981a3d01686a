//! The store layer: the only code that opens SQLite or writes SQL.
//!
//! `Db` owns a small pool of connections to one database file (WAL, foreign
//! keys, busy timeout, `synchronous=FULL` so a committed write is on disk
//! before we answer). Store data is reached only through [`Scoped`], a
//! connection bound to one `(store, mode)` pair: every query function in the
//! submodules takes a `Scoped` and filters by both columns, so a caller cannot
//! forget the isolation rule — there is no unscoped accessor to forget with.
//!
//! The surface the rest of the program sees is these functions and plain
//! structs, narrow enough for a PostgreSQL implementation to sit beside this
//! one later without touching tools or doors.
#![allow(clippy::disallowed_methods)] // the one place that opens SQLite

pub mod audit;
pub mod customers;
pub mod inventory;
pub mod keys;
pub mod locations;
pub mod oauth;
pub mod orders;
pub mod products;
pub mod seed;
pub mod settings;
pub mod stores;
pub mod users;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior};
use serde::{Deserialize, Serialize};

/// Schema changes, applied in order at start; `PRAGMA user_version` records
/// how many have run.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_init.sql"),
    include_str!("migrations/0002_key_rate_limit.sql"),
    include_str!("migrations/0003_oauth.sql"),
    include_str!("migrations/0004_fulfilled_at.sql"),
    include_str!("migrations/0005_client_agents.sql"),
    include_str!("migrations/0006_sku_nocase.sql"),
];

/// `PRAGMA application_id` of a whale database (ASCII "Whal"): set when a
/// database is created or migrated, so `--db` pointed at another program's
/// SQLite file is refused instead of converted.
const APPLICATION_ID: i32 = 0x5768_616c;

const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
const POOL_MAX_IDLE: usize = 8;

/// live (production) or test (sandbox) data of a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Live,
    Test,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Live => "live",
            Mode::Test => "test",
        }
    }
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "live" => Some(Mode::Live),
            "test" => Some(Mode::Test),
            _ => None,
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The partition a caller may touch: one store, one mode.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scope {
    pub store_id: String,
    pub mode: Mode,
}

/// A connection (or open transaction) bound to one [`Scope`].
pub struct Scoped<'c> {
    conn: &'c Connection,
    scope: &'c Scope,
}

impl<'c> Scoped<'c> {
    pub fn new(conn: &'c Connection, scope: &'c Scope) -> Self {
        Scoped { conn, scope }
    }
    pub fn scope(&self) -> &Scope {
        self.scope
    }
    pub(crate) fn store(&self) -> &str {
        &self.scope.store_id
    }
    pub(crate) fn mode(&self) -> &'static str {
        self.scope.mode.as_str()
    }
    pub(crate) fn conn(&self) -> &Connection {
        self.conn
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot open database {path}: {source}")]
    Open { path: PathBuf, source: rusqlite::Error },
    #[error(
        "`:memory:` names SQLite's in-memory database, which whale cannot use (its connections and processes share \
         one database file); give a file path (./:memory: for a file of that name)"
    )]
    InMemory,
    #[error("cannot create directory {path}: {source}")]
    Dir { path: PathBuf, source: std::io::Error },
    #[error("cannot create database {path}: {source}")]
    Create { path: PathBuf, source: std::io::Error },
    #[error(
        "{path} is not a whale database (it holds another program's data); give --db a new file or a whale database"
    )]
    NotWhale { path: PathBuf },
    #[error(
        "database {path} is read-only to whale (the file's or its directory's permissions, or a read-only file system); \
         whale writes an audit row for every call, so it needs to write the database"
    )]
    ReadOnly { path: PathBuf },
    #[error("database {path} has schema version {found}, newer than this whale ({known}); upgrade whale")]
    TooNew {
        path: PathBuf,
        found: usize,
        known: usize,
    },
    #[error(transparent)]
    Sql(#[from] rusqlite::Error),
}

impl DbError {
    /// Another connection held the lock for the whole busy timeout
    /// (`SQLITE_BUSY`, or `SQLITE_LOCKED` within this process).
    pub fn is_busy(&self) -> bool {
        matches!(
            self,
            DbError::Sql(rusqlite::Error::SqliteFailure(e, _))
                if matches!(e.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        )
    }

    /// A statement stopped by `sqlite3_interrupt` or a progress handler
    /// (a call's deadline or its client's cancellation), not a fault.
    pub fn is_interrupt(&self) -> bool {
        matches!(
            self,
            DbError::Sql(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::OperationInterrupted
        )
    }
}

/// A pool of connections to one database file.
pub struct Db {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// The `-shm` file, opened on first use by [`Db::change_stamp`].
    shm: std::sync::OnceLock<Option<std::fs::File>>,
    /// When the `-shm` handle was last found to be the live file (ms).
    shm_checked: std::sync::atomic::AtomicI64,
    /// Whether [`Db::checkpoint`] has run.
    checkpointed: std::sync::atomic::AtomicBool,
    /// Whether this open created the file.
    created: bool,
}

/// What the WAL-index header said at one moment (both copies).
pub type ChangeStamp = [u8; 96];

/// A connection borrowed from the pool; returned when dropped.
pub struct PooledConn<'a> {
    db: &'a Db,
    conn: Option<Connection>,
}

impl std::ops::Deref for PooledConn<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn.as_ref().expect("connection present until drop")
    }
}
impl std::ops::DerefMut for PooledConn<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn.as_mut().expect("connection present until drop")
    }
}
impl Drop for PooledConn<'_> {
    fn drop(&mut self) {
        if let Some(mut conn) = self.conn.take()
            && conn.is_autocommit()
        {
            // A call's interrupt handler must not outlive the call.
            let _ = conn.progress_handler(0, None::<fn() -> bool>);
            let mut idle = self.db.idle.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < POOL_MAX_IDLE {
                idle.push(conn);
            }
        }
    }
}

/// Creates `dir` and its missing parents readable by this user alone (0700
/// on Unix; an existing directory keeps its mode): for databases, their
/// scratch copies and the credential store.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

impl Db {
    /// Opens (creating when absent) the database, applies pending migrations
    /// and seeds the demo store on first run.
    ///
    /// The database holds customer data, password hashes and audit inputs:
    /// on Unix a directory whale creates for it is 0700 and a new database
    /// file is created 0600 before SQLite opens it (SQLite gives the `-wal`
    /// and `-shm` files the database file's permissions). An existing
    /// directory or database keeps its modes — it may be the user's own.
    pub fn open(path: &Path) -> Result<Db, DbError> {
        if path == Path::new(":memory:") {
            return Err(DbError::InMemory);
        }
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            create_private_dir(dir).map_err(|source| DbError::Dir {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        #[cfg(unix)]
        let created = {
            use std::os::unix::fs::OpenOptionsExt;
            let file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path);
            match file {
                // An empty file is a new database to SQLite.
                Ok(_) => true,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
                Err(source) => {
                    return Err(DbError::Create {
                        path: path.to_path_buf(),
                        source,
                    });
                }
            }
        };
        #[cfg(not(unix))]
        let created = !path.exists();
        let db = Db {
            created,
            path: not_a_uri(path),
            idle: Mutex::new(Vec::new()),
            shm: std::sync::OnceLock::new(),
            shm_checked: std::sync::atomic::AtomicI64::new(0),
            checkpointed: std::sync::atomic::AtomicBool::new(false),
        };
        let prepare = || -> Result<Connection, DbError> {
            let mut conn = db.open_file()?;
            // Known at open, before any statement: SQLite falls back to
            // read-only when the file cannot be opened for writing (its
            // mode, a read-only mount). Served, every audit row would be lost.
            if conn.is_readonly(rusqlite::MAIN_DB)? {
                return Err(DbError::ReadOnly {
                    path: path.to_path_buf(),
                });
            }
            // Whose file this is, asked before anything (the switch to WAL
            // included) changes it.
            let app_id = identify(&conn, path)?;
            configure(&conn)?;
            // The common case — schema current, file stamped, demo seeded —
            // needs no write lock.
            let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            let seeded = current as usize == MIGRATIONS.len()
                && app_id == APPLICATION_ID
                && stores::exists(&conn, "demo")?;
            if !seeded {
                migrate(&mut conn, path)?;
                seed::ensure_demo(&mut conn)?;
            }
            Ok(conn)
        };
        // SQLite reads the file at the first statement, not at open: its
        // complaints ("file is not a database") name the file here.
        let conn = prepare().map_err(|e| match e {
            DbError::Sql(source) => DbError::Open {
                path: path.to_path_buf(),
                source,
            },
            other => other,
        })?;
        db.idle.lock().unwrap_or_else(|p| p.into_inner()).push(conn);
        Ok(db)
    }

    /// Whether [`Db::open`] created the database (there was no file).
    pub fn created(&self) -> bool {
        self.created
    }

    fn connect(&self) -> Result<Connection, DbError> {
        let conn = self.open_file()?;
        configure(&conn)?;
        Ok(conn)
    }

    /// Opens the file, nothing read or written yet. The path is a file
    /// name, never a URI: `--db file:shop.db` is the file of that name
    /// (see [`not_a_uri`]).
    fn open_file(&self) -> Result<Connection, DbError> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| DbError::Open {
            path: self.path.clone(),
            source,
        })?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        Ok(conn)
    }

    /// Borrows a connection from the pool (opening one when none is idle).
    pub fn conn(&self) -> Result<PooledConn<'_>, DbError> {
        let pooled = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match pooled {
            Some(c) => c,
            None => self.connect()?,
        };
        Ok(PooledConn {
            db: self,
            conn: Some(conn),
        })
    }

    /// A stamp that changes whenever any connection of any process commits,
    /// read without a transaction: the WAL-index header at the start of the
    /// `-shm` file (SQLite's documented WAL format: two copies of a 48-byte
    /// header, rewritten on every commit; byte 12 is `isInit`). `None` when
    /// it cannot be read or the two copies differ (a commit in progress) —
    /// callers then go to the database. Lets hot lookups (credentials) be
    /// cached without ever serving a row that changed since.
    pub fn change_stamp(&self) -> Option<ChangeStamp> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::FileExt;
            let shm = self
                .shm
                .get_or_init(|| {
                    let mut p = self.path.clone().into_os_string();
                    p.push("-shm");
                    std::fs::File::open(p).ok()
                })
                .as_ref()?;
            // The handle must still be the file SQLite uses: it is
            // recreated only after every connection of every process has
            // closed, which cannot happen while this process keeps one open
            // — checked again anyway, at most once a second.
            let now = now_ms();
            if now - self.shm_checked.load(std::sync::atomic::Ordering::Relaxed) > 1000 {
                use std::os::unix::fs::MetadataExt;
                let mut p = self.path.clone().into_os_string();
                p.push("-shm");
                if std::fs::metadata(&p).ok()?.ino() != shm.metadata().ok()?.ino() {
                    return None;
                }
                self.shm_checked.store(now, std::sync::atomic::Ordering::Relaxed);
            }
            let mut stamp = [0u8; 96];
            shm.read_exact_at(&mut stamp, 0).ok()?;
            (stamp[..48] == stamp[48..] && stamp[12] == 1).then_some(stamp)
        }
        #[cfg(not(unix))]
        {
            None
        }
    }

    /// Whether the database at `path` has store `id`, read without creating,
    /// migrating or seeding anything. A database that does not exist yet
    /// will have `demo` only (its first open seeds it).
    pub fn store_exists_at(path: &Path, id: &str) -> Result<bool, DbError> {
        if !path.exists() {
            return Ok(id == "demo");
        }
        let conn = Connection::open_with_flags(not_a_uri(path), OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(
            |source| DbError::Open {
                path: path.to_path_buf(),
                source,
            },
        )?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        stores::exists(&conn, id).map_err(|source| DbError::Open {
            path: path.to_path_buf(),
            source,
        })
    }

    /// At process exit: moves the WAL's pages into the database and
    /// truncates it, so the next process does not replay it on open (a
    /// closed-and-deleted WAL would instead cost a file create and delete
    /// per run). Skipped, harmlessly, when another connection is reading or
    /// writing: it does not wait for them (a busy timeout of zero). Runs
    /// once; later calls do nothing.
    pub fn checkpoint(&self) {
        if self.checkpointed.swap(true, std::sync::atomic::Ordering::AcqRel) {
            return;
        }
        if let Ok(conn) = self.conn() {
            let _ = conn.busy_timeout(Duration::ZERO);
            let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
            let _ = conn.busy_timeout(BUSY_TIMEOUT);
        }
    }

    /// A connection of its own (not pooled) whose commits do not wait for
    /// fsync, and which waits at most `busy` for a lock: for the audit
    /// writer, whose rows are written behind anyway and which retries on
    /// its own. In WAL mode a process crash still loses nothing it committed.
    pub fn relaxed_connection(&self, busy: Duration) -> Result<Connection, DbError> {
        let conn = self.connect()?;
        conn.execute_batch("PRAGMA synchronous = NORMAL;")?;
        conn.busy_timeout(busy)?;
        Ok(conn)
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction: the write lock is taken
    /// up front, so concurrent writers (other processes included) queue on the
    /// busy timeout instead of failing on a lock upgrade. Commits when `f`
    /// returns `Ok`, rolls back otherwise.
    pub fn write<T, E>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<DbError>,
    {
        let mut conn = self.conn().map_err(E::from)?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| E::from(DbError::Sql(e)))?;
        let out = f(&tx)?;
        tx.commit().map_err(|e| E::from(DbError::Sql(e)))?;
        Ok(out)
    }

    /// Writes a consistent copy of the whole database to `dest`.
    pub fn snapshot_to(&self, dest: &Path) -> Result<(), DbError> {
        let conn = self.conn()?;
        conn.execute("VACUUM INTO ?1", [not_a_uri(dest).to_string_lossy()])?;
        Ok(())
    }

    /// `PRAGMA integrity_check` — "ok" when the file is sound.
    #[cfg(test)]
    pub fn integrity_check(&self) -> Result<String, DbError> {
        let conn = self.conn()?;
        Ok(conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
    }
}

/// `path` as SQLite must be given it to open that very file. The bundled
/// SQLite reads any name that starts with `file:` as a URI
/// (`SQLITE_USE_URI`, whatever the open flags say): such a relative name
/// is given as `./file:…`. Every other name is already a plain file name.
fn not_a_uri(path: &Path) -> PathBuf {
    if path.as_os_str().as_encoded_bytes().starts_with(b"file:") {
        Path::new(".").join(path)
    } else {
        path.to_path_buf()
    }
}

/// A connection's settings, applied once when it is opened.
fn configure(conn: &Connection) -> Result<(), DbError> {
    // Keep the `-wal` and `-shm` files when the last connection closes
    // (the WAL is checkpointed and truncated instead of deleted): the
    // next process opens them rather than creating, sizing and
    // chowning both again — most of what opening a database costs.
    conn.file_control(Some(rusqlite::MAIN_DB), rusqlite::FileControl::PersistWal(&mut 1))?;
    // Switching a new file to WAL can report SQLITE_BUSY at once, without
    // the busy handler (SQLite's deadlock avoidance), when several
    // processes start on it together: retry within the busy timeout.
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        match conn.execute_batch("PRAGMA journal_mode = WAL;") {
            Err(rusqlite::Error::SqliteFailure(f, _))
                if f.code == rusqlite::ErrorCode::DatabaseBusy && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            other => break other?,
        }
    }
    conn.execute_batch(
        "PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;",
    )?;
    // Keep cached statements' plans across re-binding: without it SQLite
    // re-prepares every statement whose plan depends on a bound value
    // (`LIMIT ?`, `col = ?`) on every run, and the cache saves nothing.
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// The file's `application_id` once it is known to be whale's (or new and
/// empty); [`DbError::NotWhale`] for another program's database, read
/// before anything is written. A database made before whale stamped its
/// files has id 0, whale's tables and a schema version.
fn identify(conn: &Connection, path: &Path) -> Result<i32, DbError> {
    // The common case, a stamped file: the header says so, without the
    // statement below (every process start pays for this).
    let app_id: i32 = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    if app_id == APPLICATION_ID {
        return Ok(app_id);
    }
    // One statement, one snapshot: another process may be creating the
    // schema of a new file meanwhile.
    let (app_id, version, objects, ours): (i32, i64, i64, i64) = conn.query_row(
        "SELECT (SELECT application_id FROM pragma_application_id),
                (SELECT user_version FROM pragma_user_version),
                (SELECT count(*) FROM sqlite_schema),
                (SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('stores', 'executions'))",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?;
    if app_id == APPLICATION_ID {
        return Ok(app_id);
    }
    let new = objects == 0 && version == 0;
    let before_stamps = ours == 2 && version > 0;
    if app_id == 0 && (new || before_stamps) {
        return Ok(app_id);
    }
    Err(DbError::NotWhale {
        path: path.to_path_buf(),
    })
}

/// Applies the pending migrations in one transaction. A migration may
/// rebuild a table (SQLite's way to change a constraint), so foreign keys
/// are off while they run (the pragma is ignored inside a transaction) and
/// checked before the commit.
fn migrate(conn: &mut Connection, path: &Path) -> Result<(), DbError> {
    conn.pragma_update(None, "foreign_keys", false)?;
    let migrated = migrate_unchecked(conn, path);
    conn.pragma_update(None, "foreign_keys", true)?;
    migrated
}

fn migrate_unchecked(conn: &mut Connection, path: &Path) -> Result<(), DbError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let current: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let current = current.max(0) as usize;
    if current > MIGRATIONS.len() {
        return Err(DbError::TooNew {
            path: path.to_path_buf(),
            found: current,
            known: MIGRATIONS.len(),
        });
    }
    if current < MIGRATIONS.len() {
        let dangling = |tx: &Transaction<'_>| -> rusqlite::Result<Option<String>> {
            tx.query_row("PRAGMA foreign_key_check", [], |r| r.get(0))
                .optional()
        };
        // Rows that already point at nothing (an edit made with foreign keys
        // off) are not a migration's doing: said, and not held against it.
        let before = dangling(&tx)?;
        if let Some(table) = &before {
            tracing::warn!(
                "{}: rows of `{table}` point at rows that do not exist (see `PRAGMA foreign_key_check`)",
                path.display()
            );
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        }
        if before.is_none()
            && let Some(table) = dangling(&tx)?
        {
            // Rolled back: the database stays as it was.
            return Err(DbError::Sql(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY),
                Some(format!("a migration left rows of `{table}` pointing at nothing")),
            )));
        }
    }
    tx.pragma_update(None, "application_id", APPLICATION_ID)?;
    tx.commit()?;
    Ok(())
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// RFC 3339 rendering of a millisecond timestamp (UTC, milliseconds shown).
pub fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| format!("{t:.3}"))
        .unwrap_or_default()
}

/// The time zone an IANA name (`America/New_York`, `UTC`; any case) stands
/// for, from the system's time zone database (`/usr/share/zoneinfo`) or, where
/// there is none, the copy built into whale.
pub fn time_zone(name: &str) -> Result<jiff::tz::TimeZone, String> {
    let hint = "use an IANA time zone name such as \"America/New_York\", \"Europe/Berlin\" or \"UTC\"";
    if name.is_empty() {
        return Err(format!("is empty; {hint}"));
    }
    if name.len() > 64 {
        return Err(format!("is longer than 64 characters; {hint}"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '-' | '/')))
    {
        return Err(format!("`{name}` contains `{c}`; {hint}"));
    }
    // Files of the zoneinfo directory that are not places: the machine's own
    // zone, a template, and `Factory` ("local time unknown").
    let not_a_zone = ["localtime", "posixrules", "Factory"];
    match jiff::tz::TimeZone::get(name) {
        Ok(tz) if !not_a_zone.iter().any(|n| n.eq_ignore_ascii_case(name)) => Ok(tz),
        _ => Err(format!(
            "`{name}` is not a time zone in the time zone database; {hint}"
        )),
    }
}

/// The currencies a store can price in: the ISO 4217 codes of money in
/// circulation (as of 2026, with the codes replaced since 2023 still taken
/// for stores that used them), without precious metals, funds units and the
/// testing codes. Amounts are integers in the currency's minor unit.
const CURRENCIES: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN", "BHD",
    "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF", "CLP", "CNY",
    "COP", "CRC", "CUC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD",
    "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HRK", "HTG", "HUF", "IDR",
    "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD",
    "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP",
    "MRU", "MUR", "MVR", "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB",
    "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG",
    "SEK", "SGD", "SHP", "SLE", "SLL", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT",
    "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS", "VED", "VES", "VND", "VUV",
    "WST", "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG", "ZWL",
];

/// The upper-case ISO 4217 code of a store currency (`usd` → `USD`), or
/// what is wrong with it.
pub fn currency_code(code: &str) -> Result<String, String> {
    let code = code.trim().to_ascii_uppercase();
    if code.len() != 3 || !code.chars().all(|c| c.is_ascii_uppercase()) {
        return Err(format!("`{code}`: use a 3-letter ISO 4217 code such as USD"));
    }
    if CURRENCIES.binary_search(&code.as_str()).is_err() {
        return Err(format!(
            "`{code}` is not the ISO 4217 code of a currency in circulation (such as USD, EUR, GBP, JPY)"
        ));
    }
    Ok(code)
}

/// The canonical spelling of a time zone name (`america/new_york` →
/// `America/New_York`), as stores keep it; or what is wrong with it. The one
/// check behind `store update_settings` and `whale stores create`.
pub fn canonical_time_zone(name: &str) -> Result<String, String> {
    let zone = time_zone(name)?;
    Ok(zone.iana_name().unwrap_or(name).to_string())
}

/// The store's time zone for a stored name; UTC (and a warning) for a name
/// the database does not know — one saved before names were checked
/// against it, or a system database that lost it.
pub fn store_time_zone(name: &str) -> jiff::tz::TimeZone {
    time_zone(name).unwrap_or_else(|e| {
        tracing::warn!(timezone = %name, "store time zone {e}; using UTC");
        jiff::tz::TimeZone::UTC
    })
}

/// Which end of a time range a bound closes: a plain date stands for the
/// first millisecond of that day as a start and for its last as an end, so
/// `--from 2026-11-20 --to 2026-11-20` is that whole day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    Start,
    End,
}

/// Parses an RFC 3339 time, a plain date (`YYYY-MM-DD`, a day in `tz`, the
/// store's time zone; see [`Bound`]) or a relative age such as `24h`, `7d`,
/// `30m` (that long before now) into milliseconds. Times past the ends of
/// the calendar (`9999-12-31`, often written for "no limit") are clamped to
/// them: no stored row lies beyond.
pub fn parse_time(s: &str, tz: &jiff::tz::TimeZone, bound: Bound) -> Option<i64> {
    use jiff::Timestamp;
    let clamp = |year: i16| if year > 0 { Timestamp::MAX } else { Timestamp::MIN }.as_millisecond();
    let s = s.trim();
    // An RFC 3339 time has a date, `T` (or a space) and an offset; jiff
    // reads it, and the ISO 8601 forms Temporal allows around it.
    if let Ok(t) = s.parse::<Timestamp>() {
        return Some(t.as_millisecond());
    }
    if let Ok(p) = jiff::fmt::temporal::Pieces::parse(s)
        && p.time().is_some()
        && p.offset().is_some()
    {
        // Well formed, but its instant is outside jiff's range.
        return Some(clamp(p.date().year()));
    }
    if s.len() == 10
        && let Ok(d) = jiff::civil::Date::strptime("%Y-%m-%d", s)
    {
        let start = |day: jiff::civil::Date| day.to_zoned(tz.clone()).map(|z| z.timestamp().as_millisecond());
        return Some(match bound {
            Bound::Start => start(d).unwrap_or_else(|_| clamp(d.year())),
            Bound::End => d
                .tomorrow()
                .and_then(start)
                .map(|next| next - 1)
                .unwrap_or_else(|_| clamp(d.year())),
        });
    }
    // A date and time without an offset is a time of the store's calendar,
    // as a plain date is one of its days (an exact instant at either end).
    if s.len() > 10
        && let Ok(local) = s.parse::<jiff::civil::DateTime>()
    {
        return Some(
            local
                .to_zoned(tz.clone())
                .map(|z| z.timestamp().as_millisecond())
                .unwrap_or_else(|_| clamp(local.year())),
        );
    }
    parse_duration_ms(s).map(|d| now_ms() - d)
}

/// A `from`/`to` bound that does not parse, or a range that ends before it
/// starts: the field and what is wrong with it.
#[derive(Debug)]
pub struct BadTime(pub &'static str, pub String);

/// A listing's `from` and `to`, in milliseconds.
pub type Bounds = (Option<i64>, Option<i64>);

/// The `from`/`to` bounds of a listing in milliseconds, plain dates read in
/// the store's time zone (`tz`, else looked up — only when there is a
/// bound to read).
pub fn parse_bounds(
    s: &Scoped<'_>,
    from: Option<&str>,
    to: Option<&str>,
    tz: Option<&jiff::tz::TimeZone>,
) -> rusqlite::Result<Result<Bounds, BadTime>> {
    if from.is_none() && to.is_none() {
        return Ok(Ok((None, None)));
    }
    let tz = match tz {
        Some(tz) => tz.clone(),
        None => settings::time_zone(s)?,
    };
    let parse = |field: &'static str, v: Option<&str>, bound| {
        v.map(|v| {
            parse_time(v, &tz, bound).ok_or_else(|| {
                BadTime(
                    field,
                    format!("`{v}` is not a time; use RFC 3339, YYYY-MM-DD, YYYY-MM-DDTHH:MM (store time) or an age like 24h/7d"),
                )
            })
        })
        .transpose()
    };
    let bounds = parse("from", from, Bound::Start).and_then(|f| Ok((f, parse("to", to, Bound::End)?)));
    Ok(match bounds {
        Ok((Some(f), Some(t))) if f > t => Err(BadTime(
            "to",
            format!(
                "`{}` is before `from` (`{}`); the range would be empty",
                to.unwrap_or_default(),
                from.unwrap_or_default()
            ),
        )),
        other => other,
    })
}

/// The first millisecond of today in `tz`, and its RFC 3339 rendering with
/// the zone's offset (`2026-11-23T00:00:00-05:00`).
pub fn start_of_today(tz: &jiff::tz::TimeZone) -> (i64, String) {
    let now = jiff::Timestamp::now().to_zoned(tz.clone());
    // Local midnight exists whenever "now" does (jiff's range ends a day
    // inside the calendar's).
    let z = now.start_of_day().unwrap_or(now);
    (
        z.timestamp().as_millisecond(),
        z.timestamp().display_with_offset(z.offset()).to_string(),
    )
}

/// `90s`, `30m`, `12h`, `7d`, `2w` → milliseconds.
pub fn parse_duration_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
    let n: i64 = num.parse().ok()?;
    let per = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => return None,
    };
    n.checked_mul(per)
}

const ID_ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// A LIKE pattern (for `ESCAPE '\'`) matching text that contains `t`
/// literally: its `%`, `_` and `\` match only themselves.
pub fn contains_pattern(t: &str) -> String {
    format!(
        "%{}%",
        t.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
    )
}

/// A new id that sorts by creation time (`exec_` + 9 base-36 digits of the
/// millisecond clock + 8 random): rows keyed by it append to the index
/// instead of landing at random pages — the audit table's inserts.
pub fn new_time_id(prefix: &str) -> String {
    use rand::RngExt;
    let mut rng = rand::rng();
    let mut t = now_ms().max(0) as u64;
    let mut clock = [b'0'; 9];
    for slot in clock.iter_mut().rev() {
        *slot = ID_ALPHABET[(t % 36) as usize];
        t /= 36;
    }
    let mut s = String::with_capacity(prefix.len() + 18);
    s.push_str(prefix);
    s.push('_');
    s.push_str(std::str::from_utf8(&clock).unwrap_or("000000000"));
    for _ in 0..8 {
        s.push(ID_ALPHABET[rng.random_range(0..ID_ALPHABET.len())] as char);
    }
    s
}

/// A new random id such as `ord_8k2m4n6p0q1r`.
pub fn new_id(prefix: &str) -> String {
    use rand::RngExt;
    let mut rng = rand::rng();
    let mut s = String::with_capacity(prefix.len() + 13);
    s.push_str(prefix);
    s.push('_');
    for _ in 0..14 {
        s.push(ID_ALPHABET[rng.random_range(0..ID_ALPHABET.len())] as char);
    }
    s
}

/// The placeholder ids tool examples use; `example_ids` says what each
/// stands for in a given store and mode.
pub const EXAMPLE_PLACEHOLDERS: [&str; 7] = [
    "prod_example",
    "var_example",
    "cus_example",
    "ord_example",
    "loc_example",
    "loc_example2",
    "exec_example",
];

pub fn is_example_placeholder(s: &str) -> bool {
    EXAMPLE_PLACEHOLDERS.contains(&s)
}

/// Whether this store and mode holds any products, customers, locations or
/// orders: a store created without `--seed` holds none until agents add
/// some (and only then may demo data be seeded into it without clashing).
pub fn has_data(s: &Scoped<'_>) -> rusqlite::Result<bool> {
    s.conn().query_row(
        "SELECT EXISTS (SELECT 1 FROM products WHERE store_id = ?1 AND mode = ?2)
             OR EXISTS (SELECT 1 FROM customers WHERE store_id = ?1 AND mode = ?2)
             OR EXISTS (SELECT 1 FROM locations WHERE store_id = ?1 AND mode = ?2)
             OR EXISTS (SELECT 1 FROM orders WHERE store_id = ?1 AND mode = ?2)",
        rusqlite::params![s.store(), s.mode()],
        |r| r.get(0),
    )
}

/// Real ids from a store to put in place of the placeholders of action
/// examples (`prod_example`, `var_example`, ...), so `whale tools test --all`
/// can run every example against a copy of the store.
pub fn example_ids(s: &Scoped<'_>) -> rusqlite::Result<Vec<(&'static str, String)>> {
    let conn = s.conn();
    let one = |sql: &str| -> rusqlite::Result<Option<String>> {
        conn.query_row(sql, rusqlite::params![s.store(), s.mode()], |r| r.get(0))
            .optional()
    };
    let mut out = Vec::new();
    let mut push = |name: &'static str, v: Option<String>| {
        if let Some(v) = v {
            out.push((name, v));
        }
    };
    // A variant with stock at the default location, of an active product.
    let variant = one(
        "SELECT v.id FROM variants v JOIN products p ON p.id = v.product_id
           JOIN inventory_levels l ON l.variant_id = v.id
           JOIN locations loc ON loc.id = l.location_id AND loc.is_default = 1
          WHERE v.store_id = ?1 AND v.mode = ?2 AND p.status = 'active' AND p.deleted_at IS NULL
            AND l.available >= 5
          ORDER BY v.sku LIMIT 1",
    )?;
    push(
        "prod_example",
        one(
            "SELECT p.id FROM products p WHERE p.store_id = ?1 AND p.mode = ?2 AND p.status = 'active'
               AND p.deleted_at IS NULL ORDER BY p.title LIMIT 1",
        )?,
    );
    push("var_example", variant);
    push(
        "cus_example",
        one("SELECT id FROM customers WHERE store_id = ?1 AND mode = ?2 ORDER BY email LIMIT 1")?,
    );
    push(
        "ord_example",
        one(
            "SELECT id FROM orders WHERE store_id = ?1 AND mode = ?2 AND status = 'paid' ORDER BY number LIMIT 1",
        )?,
    );
    push(
        "loc_example",
        one(
            "SELECT id FROM locations WHERE store_id = ?1 AND mode = ?2 ORDER BY is_default DESC, created_at, id LIMIT 1",
        )?,
    );
    push(
        "loc_example2",
        one(
            "SELECT id FROM locations WHERE store_id = ?1 AND mode = ?2 ORDER BY is_default DESC, created_at, id LIMIT 1 OFFSET 1",
        )?,
    );
    push(
        "exec_example",
        one("SELECT id FROM executions WHERE store_id = ?1 AND mode = ?2 ORDER BY created_at DESC LIMIT 1")?,
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration_ms("90s"), Some(90_000));
        assert_eq!(parse_duration_ms("2h"), Some(7_200_000));
        assert_eq!(parse_duration_ms("7d"), Some(604_800_000));
        assert_eq!(parse_duration_ms("7x"), None);
        assert_eq!(parse_duration_ms("d"), None);
    }

    #[test]
    fn times_parse_with_plain_dates_in_the_store_time_zone() {
        let ny = time_zone("America/New_York").unwrap();
        let utc = jiff::tz::TimeZone::UTC;
        let ms = |s: &str| s.parse::<jiff::Timestamp>().unwrap().as_millisecond();
        // RFC 3339 is absolute whatever the zone.
        for tz in [&ny, &utc] {
            assert_eq!(
                parse_time("2026-11-20T10:00:00Z", tz, Bound::Start),
                Some(ms("2026-11-20T10:00:00Z"))
            );
            assert_eq!(
                parse_time("2026-11-20T10:00:00.250+01:00", tz, Bound::End),
                Some(ms("2026-11-20T09:00:00.250Z"))
            );
        }
        // A date is that day in the zone: from its first to its last millisecond.
        assert_eq!(
            parse_time("2026-11-20", &utc, Bound::Start),
            Some(ms("2026-11-20T00:00:00Z"))
        );
        assert_eq!(
            parse_time("2026-11-20", &ny, Bound::Start),
            Some(ms("2026-11-20T05:00:00Z"))
        );
        assert_eq!(
            parse_time("2026-11-20", &ny, Bound::End),
            Some(ms("2026-11-21T04:59:59.999Z"))
        );
        // The day clocks go forward has 23 hours.
        let (start, end) = (
            parse_time("2026-03-08", &ny, Bound::Start).unwrap(),
            parse_time("2026-03-08", &ny, Bound::End).unwrap(),
        );
        assert_eq!(end + 1 - start, 23 * 3_600_000);
        // A time without an offset is one of the store's clock.
        assert_eq!(
            parse_time("2026-11-20T10:00:00", &ny, Bound::Start),
            Some(ms("2026-11-20T15:00:00Z"))
        );
        assert_eq!(
            parse_time("2026-11-20 10:30", &ny, Bound::End),
            Some(ms("2026-11-20T15:30:00Z"))
        );
        // A loose date is not guessed at.
        for bad in [
            "2026-11-20T25:00",
            "2026-11-20 junk",
            "2026-13-01",
            "20261120",
            "yesterday",
            "",
        ] {
            assert_eq!(parse_time(bad, &ny, Bound::Start), None, "{bad:?}");
        }
        // Past the calendar's end ("no limit"): clamped, not refused.
        let max = jiff::Timestamp::MAX.as_millisecond();
        for (text, bound) in [
            ("9999-12-31", Bound::End),
            ("9999-12-31", Bound::Start),
            ("9999-12-31T23:59:59Z", Bound::End),
        ] {
            assert_eq!(parse_time(text, &utc, bound), Some(max), "{text}");
        }
        assert_eq!(parse_time("9999-12-30", &ny, Bound::End), Some(max));
        assert_eq!(
            parse_time("-009999-01-01T00:00:00Z", &utc, Bound::Start),
            Some(jiff::Timestamp::MIN.as_millisecond())
        );
        let age = parse_time("24h", &ny, Bound::Start).unwrap();
        assert!((now_ms() - 24 * 3_600_000 - age).abs() < 60_000);
    }

    #[test]
    fn today_starts_at_local_midnight() {
        let tokyo = time_zone("Asia/Tokyo").unwrap();
        let (ms, text) = start_of_today(&tokyo);
        assert!(text.ends_with("T00:00:00+09:00"), "{text}");
        assert_eq!(text.parse::<jiff::Timestamp>().unwrap().as_millisecond(), ms);
        assert!(ms <= now_ms() && now_ms() - ms < 86_400_000);
    }

    #[test]
    fn timezones_accepted() {
        for ok in [
            "UTC",
            "America/New_York",
            "America/Argentina/Buenos_Aires",
            "Etc/GMT+5",
            "Europe/Berlin",
        ] {
            assert_eq!(canonical_time_zone(ok).as_deref(), Ok(ok));
        }
        assert_eq!(
            canonical_time_zone("europe/berlin").as_deref(),
            Ok("Europe/Berlin")
        );
    }

    #[test]
    fn timezones_rejected() {
        let long = "A".repeat(65);
        for bad in [
            "",
            "America/New York",
            "America//Chicago",
            "/UTC",
            "UTC/",
            "Europe/Berlin;",
            "+05:00",
            "America/New_Yrok",
            "localtime",
            &long,
        ] {
            assert!(canonical_time_zone(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn time_zones_are_looked_up_in_the_database() {
        for ok in [
            "UTC",
            "utc",
            "America/New_York",
            "america/new_york",
            "Etc/GMT+5",
            "US/Eastern",
        ] {
            assert!(time_zone(ok).is_ok(), "{ok}");
        }
        for bad in [
            "America/New_Yrok",
            "Mars/Olympus_Mons",
            "localtime",
            "posixrules",
            "../zoneinfo/UTC",
            "",
        ] {
            let e = time_zone(bad).unwrap_err();
            assert!(e.contains("IANA"), "{bad:?}: {e}");
        }
        // A name saved before names were checked falls back to UTC.
        assert_eq!(store_time_zone("Mars/Olympus_Mons"), jiff::tz::TimeZone::UTC);
    }

    #[cfg(unix)]
    #[test]
    fn the_change_stamp_moves_with_every_commit_and_only_then() {
        let dir = std::env::temp_dir().join(new_id("whale-test"));
        let db = Db::open(&dir.join("w.db")).unwrap();
        let reads = |db: &Db| {
            db.conn()
                .unwrap()
                .query_row("SELECT count(*) FROM stores", [], |r| r.get::<_, i64>(0))
                .unwrap()
        };
        reads(&db);
        let a = db.change_stamp().expect("a stamp once the WAL index exists");
        reads(&db);
        assert_eq!(db.change_stamp(), Some(a), "reads change nothing");
        // A commit from another connection (another process would do the same).
        let other = Db::open(&dir.join("w.db")).unwrap();
        other
            .conn()
            .unwrap()
            .execute("INSERT INTO preferences (key, value) VALUES ('k', 'v')", [])
            .unwrap();
        let b = db.change_stamp().expect("stamp");
        assert_ne!(a, b, "a commit moves the stamp");
        other
            .conn()
            .unwrap()
            .execute("UPDATE preferences SET value = 'w' WHERE key = 'k'", [])
            .unwrap();
        assert_ne!(db.change_stamp(), Some(b));
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The exit checkpoint does not wait for another connection that holds
    /// the write lock (with the connection's 10 s busy timeout it would),
    /// and runs once per database. The holder lets go when told to, or on
    /// its own after 3 s: a checkpoint that waited for the lock returns
    /// only once the holder has given up on being told.
    #[test]
    fn the_checkpoint_does_not_wait_for_a_lock_holder_and_runs_once() {
        let dir = std::env::temp_dir().join(new_id("whale-test"));
        let path = dir.join("w.db");
        let db = Db::open(&path).unwrap();
        // Something in the WAL to checkpoint.
        db.conn()
            .unwrap()
            .execute("INSERT INTO preferences (key, value) VALUES ('k', 'v')", [])
            .unwrap();
        let (held_tx, held_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let holder = {
            let path = path.clone();
            std::thread::spawn(move || {
                let other = Db::open(&path).unwrap();
                let conn = other.conn().unwrap();
                conn.execute_batch("BEGIN IMMEDIATE").unwrap();
                held_tx.send(()).unwrap();
                let told = release_rx.recv_timeout(Duration::from_secs(3)).is_ok();
                conn.execute_batch("ROLLBACK").unwrap();
                told
            })
        };
        held_rx.recv().unwrap();
        const { assert!(BUSY_TIMEOUT.as_secs() > 3, "the holder gives up first") };
        db.checkpoint();
        let _ = release_tx.send(());
        assert!(
            holder.join().unwrap(),
            "the checkpoint waited for the lock: the holder gave up before it returned"
        );
        let wal = |p: &Path| std::fs::metadata(format!("{}-wal", p.display())).unwrap().len();
        assert!(wal(&path) > 0, "the WAL was kept while another connection wrote");
        db.checkpoint();
        assert!(wal(&path) > 0, "a second checkpoint ran");
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn currency_codes_are_iso_4217() {
        assert!(
            CURRENCIES.windows(2).all(|w| w[0] < w[1]),
            "sorted, no repeats (binary search)"
        );
        assert_eq!(currency_code("usd").as_deref(), Ok("USD"));
        assert_eq!(currency_code(" jpy ").as_deref(), Ok("JPY"));
        for bad in ["ZZZ", "UDS", "XAU", "XXX", "US", "USDD", "U5D", ""] {
            assert!(currency_code(bad).is_err(), "{bad}");
        }
    }

    /// An in-memory database at schema version `n` (the first `n`
    /// migrations applied), foreign keys on as every connection has them.
    fn at_version(n: usize) -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "foreign_keys", true).unwrap();
        for sql in &MIGRATIONS[..n] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", n as i64).unwrap();
        conn
    }

    /// 0004 on a database of version 3: shipped and refunded orders count
    /// as shipped, open ones do not.
    #[test]
    fn fulfilled_at_is_backfilled_from_the_status() {
        let mut conn = at_version(3);
        conn.execute_batch(
            "INSERT INTO stores VALUES ('s', 'S', 'USD', 'UTC', 1);
             INSERT INTO locations (id, store_id, mode, name, created_at) VALUES ('l', 's', 'live', 'L', 1);",
        )
        .unwrap();
        for (n, status) in [
            "pending",
            "paid",
            "fulfilled",
            "cancelled",
            "refunded",
            "partially_refunded",
        ]
        .into_iter()
        .enumerate()
        {
            conn.execute(
                "INSERT INTO orders (id, store_id, mode, number, status, currency, subtotal_cents,
                                     total_cents, paid_cents, refunded_cents, location_id, created_at, updated_at)
                 VALUES (?1, 's', 'live', ?2, ?1, 'USD', 100, 100, 100, 0, 'l', 5, 7)",
                rusqlite::params![status, n as i64],
            )
            .unwrap();
        }
        migrate(&mut conn, Path::new(":memory:")).unwrap();
        let shipped: Vec<String> = conn
            .prepare("SELECT id FROM orders WHERE fulfilled_at = 7 ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(shipped, ["fulfilled", "partially_refunded", "refunded"]);
    }

    /// 0005 on a database of version 4: the agents table is rebuilt under
    /// the keys and tokens that point at it, names stay unique among key
    /// agents only, and foreign keys are enforced again afterwards.
    #[test]
    fn client_agents_migration_keeps_the_agents_of_keys_and_tokens() {
        let mut conn = at_version(4);
        conn.execute_batch(
            "INSERT INTO stores VALUES ('s', 'S', 'USD', 'UTC', 1);
             INSERT INTO agents VALUES ('agt_k', 's', 'support-bot', 1);
             INSERT INTO api_keys (id, store_id, mode, agent_id, hint, key_hash, scopes, created_at)
                  VALUES ('key_1', 's', 'live', 'agt_k', 'h', x'01', 'products', 1);
             INSERT INTO oauth_tokens (id, token_hash, kind, grant_id, client_id, agent_id, store_id, mode,
                                       scopes, audience, created_at, expires_at)
                  VALUES ('tok_1', x'02', 'access', 'grt_1', 'wc_1', 'agt_k', 's', 'live', 'products', 'a', 1, 2);",
        )
        .unwrap();
        migrate(&mut conn, Path::new(":memory:")).unwrap();
        let fk: bool = conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0)).unwrap();
        assert!(fk, "foreign keys are on again");
        let key_agent = keys::ensure_agent(&conn, "s", "support-bot").unwrap();
        assert_eq!(key_agent, "agt_k", "the key's agent is found by name");
        let client = keys::ensure_client_agent(&conn, "s", "wc_2", "support-bot").unwrap();
        assert_ne!(client, key_agent, "a client of the same name has its own agent");
        assert_eq!(
            keys::ensure_client_agent(&conn, "s", "wc_2", "renamed").unwrap(),
            client
        );
        assert!(
            conn.execute(
                "INSERT INTO agents VALUES ('agt_x', 's', 'support-bot', NULL, 1)",
                []
            )
            .is_err(),
            "names stay unique among key agents"
        );
        assert!(
            conn.execute(
                "INSERT INTO api_keys (id, store_id, mode, agent_id, hint, key_hash, scopes, created_at)
                           VALUES ('key_2', 's', 'live', 'agt_none', 'h', x'03', 'products', 1)",
                []
            )
            .is_err(),
            "foreign keys are enforced"
        );
        let dangling: i64 = conn
            .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(dangling, 0);
    }

    /// 0006 on a database of version 5: SKUs become unique whatever their
    /// case; SKUs that already differ only in case are kept apart (the newer
    /// one is renamed), and lookups by SKU ignore case.
    #[test]
    fn sku_migration_makes_skus_unique_whatever_their_case() {
        let mut conn = at_version(5);
        conn.execute_batch(
            "INSERT INTO stores VALUES ('s', 'S', 'USD', 'UTC', 1);
             INSERT INTO products (id, store_id, mode, title, category, status, created_at, updated_at)
                  VALUES ('prod_1', 's', 'live', 'P', 'c', 'active', 1, 1);
             INSERT INTO variants (id, store_id, mode, product_id, sku, title, price_cents)
                  VALUES ('var_a', 's', 'live', 'prod_1', 'ABC-1', 'A', 100),
                         ('var_b', 's', 'live', 'prod_1', 'abc-1', 'B', 100),
                         ('var_t', 's', 'test', 'prod_1', 'abc-1', 'T', 100);",
        )
        .unwrap();
        migrate(&mut conn, Path::new(":memory:")).unwrap();
        let sku = |id: &str| -> String {
            conn.query_row("SELECT sku FROM variants WHERE id = ?1", [id], |r| r.get(0))
                .unwrap()
        };
        assert_eq!(sku("var_a"), "ABC-1", "the older keeps its SKU");
        assert_eq!(sku("var_b"), "abc-1-var_b", "the newer is renamed");
        assert_eq!(sku("var_t"), "abc-1", "test mode is apart");
        let found: String = conn
            .query_row(
                "SELECT id FROM variants WHERE store_id = 's' AND mode = 'live' AND sku = ?1",
                ["aBc-1"],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(found, "var_a", "lookups ignore case");
        assert!(
            conn.execute(
                "INSERT INTO variants (id, store_id, mode, product_id, sku, title, price_cents)
                      VALUES ('var_c', 's', 'live', 'prod_1', 'Abc-1', 'C', 1)",
                []
            )
            .is_err(),
            "SKUs are unique whatever their case"
        );
    }

    #[test]
    fn migrations_apply_once_and_seed_is_idempotent() {
        let dir = std::env::temp_dir().join(new_id("whale-test"));
        let path = dir.join("w.db");
        let db = Db::open(&path).unwrap();
        let count = |db: &Db| -> i64 {
            db.conn()
                .unwrap()
                .query_row("SELECT count(*) FROM products", [], |r| r.get(0))
                .unwrap()
        };
        let first = count(&db);
        drop(db);
        let db = Db::open(&path).unwrap();
        assert_eq!(count(&db), first);
        assert!(first >= 80, "demo store seeds live and test products");
        assert_eq!(db.integrity_check().unwrap(), "ok");
        std::fs::remove_dir_all(dir).ok();
    }
}
