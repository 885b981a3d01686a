//! `whale install claude|cursor`: add whale to a desktop host's MCP config.
//!
//! The entry holds no secret: stdio on the local database acts as the local
//! owner, and with `--server URL` the entry runs the stdio bridge, which
//! finds the tokens `whale login` stored. The file is backed up before it changes; running it twice changes
//! nothing the second time. The file keeps its permissions (host configs hold API keys), and a
//! symlinked config is written through the link, which stays a link.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::cli::{Host, InstallArgs};
use crate::error::CliError;
use crate::printer;

fn default_config(host: Host) -> Result<PathBuf, CliError> {
    let base = directories::BaseDirs::new()
        .ok_or_else(|| CliError::Runtime("cannot find a home directory; pass --config".into()))?;
    Ok(match host {
        Host::Cursor => base.home_dir().join(".cursor").join("mcp.json"),
        // Claude Desktop: ~/Library/Application Support/Claude on macOS,
        // %APPDATA%\Claude on Windows, ~/.config/Claude on Linux.
        Host::Claude => base
            .config_dir()
            .join("Claude")
            .join("claude_desktop_config.json"),
    })
}

/// The `mcpServers` entry for this binary: the local database, or the
/// bridge to `server` (with `store` when given).
pub fn entry(db: Option<&Path>, server: Option<&str>, store: Option<&str>) -> Result<Value, CliError> {
    let exe = std::env::current_exe()
        .map_err(|e| CliError::Runtime(format!("cannot locate the whale binary: {e}")))?;
    let mut args = vec![json!("mcp")];
    if let Some(server) = server {
        args.push(json!("--server"));
        args.push(json!(crate::client::oauth::normalize_server(server)?));
        if let Some(store) = store {
            args.push(json!("--store"));
            args.push(json!(store));
        }
    } else {
        if let Some(db) = db {
            let abs = std::path::absolute(db)?;
            args.push(json!("--db"));
            args.push(json!(abs.to_string_lossy()));
        }
        if let Some(store) = store {
            check_local_store(db, store)?;
            args.push(json!("--store"));
            args.push(json!(store));
        }
    }
    Ok(json!({"command": exe.to_string_lossy(), "args": args}))
}

/// Whether an entry runs the bridge to a remote server.
fn is_remote(entry: &Map<String, Value>) -> bool {
    entry
        .get("args")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|x| x == "--server"))
}

/// A local entry for a store that does not exist would fail in the host,
/// where nobody reads the error: refuse it here.
fn check_local_store(db: Option<&Path>, store: &str) -> Result<(), CliError> {
    let path = match db {
        Some(p) => p.to_path_buf(),
        None => crate::settings::default_db_path()?,
    };
    if !crate::store::Db::store_exists_at(&path, store)? {
        return Err(CliError::Runtime(format!(
            "store `{store}` does not exist in {}; `whale stores list` shows the stores",
            path.display()
        )));
    }
    Ok(())
}

pub fn run(args: &InstallArgs, db: Option<&Path>, store: Option<&str>) -> Result<(), CliError> {
    let name = args.name.trim();
    if name.is_empty() {
        return Err(CliError::Usage(
            "--name must not be empty: it is the entry's key under `mcpServers` (default: whale)".into(),
        ));
    }
    let entry = entry(db, args.server.as_deref(), store)?;
    if let Some(server) = &args.server {
        remind_login(server, store);
    }
    if args.print {
        printer::json(&json!({"mcpServers": {name: entry}}));
        return Ok(());
    }
    let path = match &args.config {
        Some(p) => p.clone(),
        None => default_config(args.host)?,
    };
    let mut doc = match std::fs::read_to_string(&path) {
        Ok(text) if text.trim().is_empty() => Value::Object(Map::new()),
        Ok(text) => serde_json::from_str::<Value>(&text).map_err(|e| {
            CliError::Runtime(format!(
                "{} is not valid JSON ({e}); fix it or pass --print and add the entry by hand",
                path.display()
            ))
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Value::Object(Map::new()),
        Err(e) => return Err(CliError::Runtime(format!("cannot read {}: {e}", path.display()))),
    };
    let root = doc
        .as_object_mut()
        .ok_or_else(|| CliError::Runtime(format!("{} does not hold a JSON object", path.display())))?;
    let servers = root
        .entry("mcpServers")
        .or_insert_with(|| Value::Object(Map::new()));
    let servers = servers
        .as_object_mut()
        .ok_or_else(|| CliError::Runtime(format!("`mcpServers` in {} is not an object", path.display())))?;
    // An entry already there keeps what whale does not write (its `env`,
    // a host's own keys); command and args are replaced. What belongs to
    // another kind of entry goes: a remote entry's `url`/`type`, and an API
    // key meant for the other side of a switch between local and --server.
    let existing = servers.get(name).cloned();
    let entry = match existing.as_ref().and_then(Value::as_object) {
        Some(old) => {
            let mut merged = old.clone();
            merged.remove("url");
            merged.remove("type");
            let was_remote = is_remote(old);
            if let Value::Object(new) = entry {
                merged.extend(new);
            }
            if was_remote != is_remote(&merged)
                && let Some(Value::Object(env)) = merged.get_mut("env")
                && env.remove(crate::settings::WHALETOOLS_API_KEY).is_some()
            {
                printer::err(&format!(
                    "Removed {} from the entry's env: a key of the {} server does not work on the {} one.",
                    crate::settings::WHALETOOLS_API_KEY,
                    if was_remote { "remote" } else { "local" },
                    if was_remote { "local" } else { "remote" },
                ));
            }
            Value::Object(merged)
        }
        None => entry,
    };
    if existing.as_ref() == Some(&entry) {
        printer::out(&format!(
            "{} already has the `{}` entry; nothing changed.",
            path.display(),
            name
        ));
        return Ok(());
    }
    servers.insert(name.to_string(), entry);
    // The file written is the link's target (a config kept in a dotfiles
    // repository stays linked), its backup beside it.
    let target = resolve_links(&path)?;
    let mode = match std::fs::metadata(&target) {
        Ok(meta) => {
            let backup = target.with_extension(format!("json.bak-{}", crate::store::now_ms()));
            // fs::copy copies the permission bits: the backup is as private as the file.
            std::fs::copy(&target, &backup)
                .map_err(|e| CliError::Runtime(format!("cannot back up {}: {e}", target.display())))?;
            printer::err(&format!("Backed up the old config to {}", backup.display()));
            file_mode(&meta)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = target.parent() {
                std::fs::create_dir_all(dir)?;
            }
            NEW_FILE_MODE
        }
        Err(e) => {
            return Err(CliError::Runtime(format!(
                "cannot read {}: {e}",
                target.display()
            )));
        }
    };
    write_replacing(
        &target,
        (serde_json::to_string_pretty(&doc)? + "\n").as_bytes(),
        mode,
    )
    .map_err(|e| CliError::Runtime(format!("cannot write {}: {e}", target.display())))?;
    printer::out(&format!(
        "{} `{}` in {}. Restart {} to load it.",
        if existing.is_some() { "Updated" } else { "Added" },
        name,
        path.display(),
        match args.host {
            Host::Claude => "Claude Desktop",
            Host::Cursor => "Cursor",
        }
    ));
    Ok(())
}

/// The bridge needs a stored login (or an API key in the host's
/// environment): say so when there is none yet.
fn remind_login(server: &str, store: Option<&str>) {
    let Ok(server) = crate::client::oauth::normalize_server(server) else {
        return;
    };
    let logins = crate::client::store::Paths::resolve()
        .map(crate::client::store::Vault::new)
        .and_then(|v| v.list())
        .unwrap_or_default();
    if crate::client::store::choose(&logins, Some(&server), store).is_err() {
        printer::err(&format!(
            "Note: no login for {server} is stored yet; run {} before starting the host.",
            crate::client::store::login_command(&server, store)
        ));
    }
}

/// Permission bits of a config written anew. Host configs hold secrets (API
/// keys in an entry's `env`), so a file whale creates is readable by its
/// owner alone; an existing file keeps the mode it had.
const NEW_FILE_MODE: u32 = 0o600;

#[cfg(unix)]
fn file_mode(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o7777
}

#[cfg(not(unix))]
fn file_mode(_: &std::fs::Metadata) -> u32 {
    NEW_FILE_MODE
}

/// `path` with its symbolic links followed (also to a target that does not
/// exist yet), so that writing replaces the target and leaves the link.
fn resolve_links(path: &Path) -> Result<PathBuf, CliError> {
    let mut path = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = std::fs::read_link(&path).map_err(|e| {
                    CliError::Runtime(format!("cannot read the link {}: {e}", path.display()))
                })?;
                path = match path.parent() {
                    Some(dir) if target.is_relative() => dir.join(target),
                    _ => target,
                };
            }
            _ => return Ok(path),
        }
    }
    Err(CliError::Runtime(format!(
        "{}: too many levels of symbolic links",
        path.display()
    )))
}

/// Replaces `path` atomically: a temporary file beside it with `mode` (set
/// before any byte is written), synced, then renamed over it.
fn write_replacing(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    use std::io::Write;
    // Unique: two installs at once must not write or rename each other's.
    let tmp = path.with_extension(format!("json.tmp-{}", crate::store::new_id("w")));
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(NEW_FILE_MODE);
    }
    let result = (|| {
        let mut f = o.open(&tmp)?;
        // The umask narrowed the mode at creation; set it exactly.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        }
        #[cfg(not(unix))]
        let _ = mode;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
