//! Where `whale login` keeps what it obtained.
//!
//! Two places, one index:
//! - the secrets (access and refresh token plus everything needed to refresh
//!   and revoke them) live in the OS keychain — service `whale`, account
//!   `{issuer}|{store_id}` — or, only when the user asked for it, in
//!   `credentials.json` (mode 0600, re-checked on every read);
//! - `logins.json` is a non-secret index of every login (server, issuer,
//!   store, scopes, expiry, where its secret lives, client id) plus the client
//!   ids registered per issuer, so `auth status` never has to open the
//!   keychain and a later login reuses its registration.
//!
//! Every read-modify-write of a file here happens under an exclusive lock on
//! `<config>/lock`, so concurrent whale processes never lose each other's
//! updates. All functions block (file locks, keychain calls): async callers
//! run them in `spawn_blocking`.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use keyring_core::{CredentialStore, Entry};
use serde::{Deserialize, Serialize};

use crate::auth::Secret;
use crate::error::CliError;

/// Keychain service name.
pub const SERVICE: &str = "whale";
const PROBE_ACCOUNT: &str = "whale availability probe";

/// Where a login's secret lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageKind {
    Keychain,
    File,
}

impl StorageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StorageKind::Keychain => "keychain",
            StorageKind::File => "file",
        }
    }
}

/// The secret blob of one login: enough to use, refresh and revoke it.
#[derive(Clone, Serialize, Deserialize)]
pub struct StoredCredential {
    #[serde(with = "secret_serde")]
    pub access_token: Secret,
    #[serde(with = "secret_opt_serde", default)]
    pub refresh_token: Option<Secret>,
    /// Unix seconds; `None` when the server gave no `expires_in`.
    pub expires_at: Option<i64>,
    pub client_id: String,
    pub token_endpoint: String,
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
    /// The protected resource (`{server}/mcp`), sent as RFC 8707 `resource`.
    pub resource: String,
    /// Granted scopes, space-separated.
    pub scopes: String,
    pub store_id: String,
    pub mode: String,
    pub issuer: String,
    pub server: String,
}

impl std::fmt::Debug for StoredCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredCredential")
            .field("server", &self.server)
            .field("issuer", &self.issuer)
            .field("store_id", &self.store_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl StoredCredential {
    pub fn key(&self) -> String {
        key(&self.issuer, &self.store_id)
    }

    /// Expired, or expiring within `margin_secs`.
    pub fn expires_within(&self, margin_secs: i64) -> bool {
        self.expires_at
            .is_some_and(|at| at - jiff::Timestamp::now().as_second() <= margin_secs)
    }

    /// The index row describing this credential.
    pub fn entry(&self, storage: StorageKind) -> LoginEntry {
        LoginEntry {
            server: self.server.clone(),
            issuer: self.issuer.clone(),
            store_id: self.store_id.clone(),
            mode: self.mode.clone(),
            scopes: self.scopes.clone(),
            expires_at: self.expires_at,
            storage,
            client_id: self.client_id.clone(),
        }
    }
}

mod secret_serde {
    use crate::auth::Secret;
    pub fn serialize<S: serde::Serializer>(s: &Secret, ser: S) -> Result<S::Ok, S::Error> {
        ser.serialize_str(s.expose())
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Secret, D::Error> {
        <String as serde::Deserialize>::deserialize(de).map(Secret::new)
    }
}

mod secret_opt_serde {
    use crate::auth::Secret;
    pub fn serialize<S: serde::Serializer>(s: &Option<Secret>, ser: S) -> Result<S::Ok, S::Error> {
        match s {
            Some(s) => ser.serialize_some(s.expose()),
            None => ser.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Option<Secret>, D::Error> {
        <Option<String> as serde::Deserialize>::deserialize(de).map(|o| o.map(Secret::new))
    }
}

/// The key of a login in the keychain and in the files.
pub fn key(issuer: &str, store_id: &str) -> String {
    format!("{issuer}|{store_id}")
}

/// One row of `logins.json` (nothing secret).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoginEntry {
    pub server: String,
    pub issuer: String,
    pub store_id: String,
    pub mode: String,
    pub scopes: String,
    pub expires_at: Option<i64>,
    pub storage: StorageKind,
    pub client_id: String,
}

impl LoginEntry {
    pub fn key(&self) -> String {
        key(&self.issuer, &self.store_id)
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Index {
    #[serde(default)]
    logins: Vec<LoginEntry>,
    /// Client ids obtained by dynamic registration, by issuer.
    #[serde(default)]
    clients: BTreeMap<String, String>,
}

/// The config directory and the files in it.
#[derive(Debug, Clone)]
pub struct Paths {
    pub dir: PathBuf,
}

impl Paths {
    pub fn resolve() -> Result<Paths, CliError> {
        Ok(Paths {
            dir: crate::settings::config_dir()?,
        })
    }
    pub fn index(&self) -> PathBuf {
        self.dir.join("logins.json")
    }
    pub fn credentials(&self) -> PathBuf {
        self.dir.join("credentials.json")
    }
    fn global_lock(&self) -> PathBuf {
        self.dir.join("lock")
    }
    /// The lock serializing refreshes of one login across processes.
    pub fn refresh_lock(&self, key: &str) -> PathBuf {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(key.as_bytes());
        let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
        self.dir.join("locks").join(format!("{hex}.lock"))
    }
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> CliError {
    CliError::Runtime(format!("cannot {what} {}: {e}", path.display()))
}

/// Creates `dir` (and parents) with mode 0700 where it does not exist.
fn ensure_dir(dir: &Path) -> Result<(), CliError> {
    crate::store::create_private_dir(dir).map_err(|e| io_err("create", dir, e))
}

/// An exclusive lock on `path` (created 0600), held until the file drops.
pub fn lock_file(path: &Path) -> Result<File, CliError> {
    if let Some(dir) = path.parent() {
        ensure_dir(dir)?;
    }
    let mut o = OpenOptions::new();
    o.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let f = o.open(path).map_err(|e| io_err("open", path, e))?;
    f.lock().map_err(|e| io_err("lock", path, e))?;
    Ok(f)
}

/// Writes `bytes` to `path` atomically: a 0600 temporary file in the same
/// directory, synced, then renamed over the target.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    ensure_dir(dir)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let mut o = OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let result = (|| {
        let mut f = o.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_err("write", path, e));
    }
    Ok(())
}

/// Reads a file that must be private to the user (see [`check_private`]).
/// `Ok(None)` when it does not exist.
pub fn read_private(path: &Path) -> Result<Option<Vec<u8>>, CliError> {
    if !check_private(path)? {
        return Ok(None);
    }
    std::fs::read(path).map(Some).map_err(|e| io_err("read", path, e))
}

/// Whether a file that must be private to the user exists (`Ok(false)`
/// when not), and why it must not be used: a symlink, not a regular file,
/// or (on Unix) readable or writable by group or others.
pub fn check_private(path: &Path) -> Result<bool, CliError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(io_err("inspect", path, e)),
    };
    if meta.file_type().is_symlink() {
        return Err(CliError::Runtime(format!(
            "refusing to read {}: it is a symbolic link; credentials must be a regular file. \
             Remove it (`rm {}`) and run `whale login` again",
            path.display(),
            path.display()
        )));
    }
    if !meta.is_file() {
        return Err(CliError::Runtime(format!(
            "refusing to read {}: not a regular file",
            path.display()
        )));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(CliError::Runtime(format!(
                "refusing to read {}: its permissions ({mode:03o}) let other users read or change it. \
                 Fix with `chmod 600 {}` (and consider `whale logout` and logging in again if others could read it)",
                path.display(),
                path.display()
            )));
        }
    }
    Ok(true)
}

/// The OS keychain (or, in unit tests, any keyring-core store).
#[derive(Clone)]
pub struct Keychain {
    store: Arc<CredentialStore>,
}

impl Keychain {
    /// The platform's keychain store. Creating it can succeed while the
    /// keychain is still unusable (no unlocked collection): callers decide
    /// availability on the first write ([`Keychain::probe`]).
    pub fn platform() -> Result<Keychain, String> {
        #[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd"))]
        let store: Result<Arc<CredentialStore>, keyring_core::Error> =
            zbus_secret_service_keyring_store::Store::new().map(|s| s as Arc<CredentialStore>);
        #[cfg(target_os = "macos")]
        let store: Result<Arc<CredentialStore>, keyring_core::Error> =
            apple_native_keyring_store::keychain::Store::new().map(|s| s as Arc<CredentialStore>);
        #[cfg(target_os = "windows")]
        let store: Result<Arc<CredentialStore>, keyring_core::Error> =
            windows_native_keyring_store::Store::new().map(|s| s as Arc<CredentialStore>);
        #[cfg(not(any(
            target_os = "linux",
            target_os = "freebsd",
            target_os = "openbsd",
            target_os = "macos",
            target_os = "windows"
        )))]
        let store: Result<Arc<CredentialStore>, keyring_core::Error> = Err(
            keyring_core::Error::NotSupportedByStore("no keychain support on this platform".into()),
        );
        store.map(|store| Keychain { store }).map_err(|e| short(&e))
    }

    #[cfg(test)]
    pub fn with_store(store: Arc<CredentialStore>) -> Keychain {
        Keychain { store }
    }

    fn entry(&self, account: &str) -> Result<Entry, String> {
        self.store.build(SERVICE, account, None).map_err(|e| short(&e))
    }

    /// Writes and deletes a throwaway entry: the keychain is usable.
    pub fn probe(&self) -> Result<(), String> {
        let e = self.entry(PROBE_ACCOUNT)?;
        e.set_password("ok").map_err(|e| short(&e))?;
        let _ = e.delete_credential();
        Ok(())
    }

    pub fn put(&self, account: &str, secret: &str) -> Result<(), String> {
        self.entry(account)?.set_password(secret).map_err(|e| short(&e))
    }

    pub fn get(&self, account: &str) -> Result<Option<String>, String> {
        match self.entry(account)?.get_password() {
            Ok(s) => Ok(Some(s)),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(short(&e)),
        }
    }

    pub fn delete(&self, account: &str) -> Result<(), String> {
        match self.entry(account)?.delete_credential() {
            Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
            Err(e) => Err(short(&e)),
        }
    }
}

/// A one-line reason from a keyring error.
fn short(e: &keyring_core::Error) -> String {
    let s = e.to_string();
    let s = s.lines().next().unwrap_or("").trim().to_string();
    if s.is_empty() { format!("{e:?}") } else { s }
}

/// The logins index, the file store and the keychain, together.
pub struct Vault {
    pub paths: Paths,
    keychain: Mutex<Option<Result<Keychain, String>>>,
}

impl Vault {
    /// A vault on the platform keychain (opened only when first needed).
    pub fn new(paths: Paths) -> Vault {
        Vault {
            paths,
            keychain: Mutex::new(None),
        }
    }

    /// A vault on a given keychain store (tests).
    #[cfg(test)]
    pub fn with_keychain(paths: Paths, kc: Keychain) -> Vault {
        Vault {
            paths,
            keychain: Mutex::new(Some(Ok(kc))),
        }
    }

    fn keychain(&self) -> Result<Keychain, String> {
        let mut slot = self.keychain.lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert_with(Keychain::platform).clone()
    }

    /// The message for an unreachable keychain: why, that nothing was
    /// stored, and the explicit way out.
    pub fn keychain_unavailable(&self, why: &str) -> CliError {
        CliError::Runtime(format!(
            "the OS keychain could not be reached ({why}); nothing was stored.\n\
             To keep the tokens in a file readable only by you ({}, mode 0600), re-run with \
             --insecure-storage or set {}=file.",
            self.paths.credentials().display(),
            crate::settings::WHALE_CREDENTIAL_STORE
        ))
    }

    /// Checks that secrets can be written to `kind` before anything else
    /// happens (a login must not open a browser only to fail at the end).
    pub fn check_writable(&self, kind: StorageKind) -> Result<(), CliError> {
        match kind {
            StorageKind::Keychain => self
                .keychain()
                .and_then(|k| k.probe())
                .map_err(|why| self.keychain_unavailable(&why)),
            StorageKind::File => {
                ensure_dir(&self.paths.dir)?;
                // Surfaces a symlinked or loosely-permitted file now.
                read_private(&self.paths.credentials()).map(|_| ())
            }
        }
    }

    fn read_index(&self) -> Result<Index, CliError> {
        let path = self.paths.index();
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(CliError::Runtime(format!(
                    "refusing to read {}: it is a symbolic link; remove it",
                    path.display()
                )));
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Index::default()),
            Err(e) => return Err(io_err("inspect", &path, e)),
        }
        let text = std::fs::read(&path).map_err(|e| io_err("read", &path, e))?;
        serde_json::from_slice(&text).map_err(|e| {
            CliError::Runtime(format!(
                "{} is not valid ({e}); remove it and log in again",
                path.display()
            ))
        })
    }

    fn write_index(&self, index: &Index) -> Result<(), CliError> {
        let text = serde_json::to_vec_pretty(index)?;
        write_private(&self.paths.index(), &text)
    }

    fn read_file_store(&self) -> Result<BTreeMap<String, StoredCredential>, CliError> {
        let path = self.paths.credentials();
        match read_private(&path)? {
            None => Ok(BTreeMap::new()),
            Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                CliError::Runtime(format!(
                    "{} is not valid ({e}); remove it and log in again",
                    path.display()
                ))
            }),
        }
    }

    fn write_file_store(&self, creds: &BTreeMap<String, StoredCredential>) -> Result<(), CliError> {
        let text = serde_json::to_vec_pretty(creds)?;
        write_private(&self.paths.credentials(), &text)
    }

    fn global_lock(&self) -> Result<File, CliError> {
        lock_file(&self.paths.global_lock())
    }

    /// Every stored login, in the order they were first made.
    pub fn list(&self) -> Result<Vec<LoginEntry>, CliError> {
        Ok(self.read_index()?.logins)
    }

    /// The client id registered earlier with `issuer`, if any.
    pub fn client_id_for(&self, issuer: &str) -> Result<Option<String>, CliError> {
        Ok(self.read_index()?.clients.get(issuer).cloned())
    }

    /// Remembers a dynamically registered client id for `issuer`.
    pub fn remember_client(&self, issuer: &str, client_id: &str) -> Result<(), CliError> {
        let _g = self.global_lock()?;
        let mut index = self.read_index()?;
        index.clients.insert(issuer.to_string(), client_id.to_string());
        self.write_index(&index)
    }

    /// Stores (or replaces) a login's secret in `kind` and its index row.
    /// A secret the same login kept in the other place is deleted.
    pub fn save(&self, cred: &StoredCredential, kind: StorageKind) -> Result<(), CliError> {
        let key = cred.key();
        let blob = serde_json::to_string(cred)?;
        let _g = self.global_lock()?;
        match kind {
            StorageKind::Keychain => self
                .keychain()
                .and_then(|k| k.put(&key, &blob))
                .map_err(|why| self.keychain_unavailable(&why))?,
            StorageKind::File => {
                let mut all = self.read_file_store()?;
                all.insert(key.clone(), cred.clone());
                self.write_file_store(&all)?;
            }
        }
        let mut index = self.read_index()?;
        let previous = index.logins.iter().position(|e| e.key() == key);
        let entry = cred.entry(kind);
        match previous {
            Some(i) => {
                let old = std::mem::replace(&mut index.logins[i], entry);
                if old.storage != kind {
                    self.delete_secret(&old)?;
                }
            }
            None => index.logins.push(entry),
        }
        index.clients.insert(cred.issuer.clone(), cred.client_id.clone());
        self.write_index(&index)
    }

    /// The secret of a login.
    pub fn load(&self, entry: &LoginEntry) -> Result<StoredCredential, CliError> {
        let key = entry.key();
        let missing = || {
            CliError::Auth(format!(
                "the login for {} (store {}) is listed but its tokens are missing from the {}; run {}",
                entry.server,
                entry.store_id,
                entry.storage.as_str(),
                login_command(&entry.server, Some(&entry.store_id))
            ))
        };
        match entry.storage {
            StorageKind::Keychain => {
                let text = self
                    .keychain()
                    .and_then(|k| k.get(&key))
                    .map_err(|why| {
                        CliError::Runtime(format!(
                            "the OS keychain could not be reached ({why}) to read the login for {}",
                            entry.server
                        ))
                    })?
                    .ok_or_else(missing)?;
                serde_json::from_str(&text).map_err(|e| {
                    CliError::Runtime(format!(
                        "the keychain entry for {} is not valid ({e}); run {} again",
                        entry.server,
                        login_command(&entry.server, Some(&entry.store_id))
                    ))
                })
            }
            StorageKind::File => self.read_file_store()?.remove(&key).ok_or_else(missing),
        }
    }

    fn delete_secret(&self, entry: &LoginEntry) -> Result<(), CliError> {
        let key = entry.key();
        match entry.storage {
            StorageKind::Keychain => self.keychain().and_then(|k| k.delete(&key)).map_err(|why| {
                CliError::Runtime(format!(
                    "cannot delete the login for {} from the OS keychain ({why})",
                    entry.server
                ))
            }),
            StorageKind::File => {
                let mut all = self.read_file_store()?;
                if all.remove(&key).is_some() {
                    self.write_file_store(&all)?;
                }
                Ok(())
            }
        }
    }

    /// Deletes a login's secret and its index row.
    pub fn remove(&self, entry: &LoginEntry) -> Result<(), CliError> {
        let _g = self.global_lock()?;
        let secret = self.delete_secret(entry);
        let mut index = self.read_index()?;
        index.logins.retain(|e| e.key() != entry.key());
        self.write_index(&index)?;
        secret
    }
}

/// Picks the login for `server` (and `store`, when given or needed).
pub fn choose(
    logins: &[LoginEntry],
    server: Option<&str>,
    store: Option<&str>,
) -> Result<LoginEntry, CliError> {
    let matching: Vec<&LoginEntry> = logins
        .iter()
        .filter(|e| server.is_none_or(|s| same_server(&e.server, s)))
        .filter(|e| store.is_none_or(|s| e.store_id == s))
        .collect();
    match matching.as_slice() {
        [one] => Ok((*one).clone()),
        [] => {
            let target = match (server, store) {
                (Some(s), Some(st)) => format!("{s} (store {st})"),
                (Some(s), None) => s.to_string(),
                (None, Some(st)) => format!("store {st}"),
                (None, None) => "any server".to_string(),
            };
            Err(CliError::Auth(format!(
                "not logged in to {target}; run {}",
                login_command(server.unwrap_or("URL"), store)
            )))
        }
        many => {
            let list: Vec<String> = many
                .iter()
                .map(|e| format!("{} --store {}", e.server, e.store_id))
                .collect();
            Err(CliError::Usage(format!(
                "several logins match; pick one with --server and --store: {}",
                list.join(", ")
            )))
        }
    }
}

/// `http://h:1/` and `http://h:1` name the same server.
pub fn same_server(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// The command that signs in (again) to `server`, for `store` when known,
/// quoted for a message: `` `whale login --server URL --store ID` ``.
pub fn login_command(server: &str, store: Option<&str>) -> String {
    match store {
        Some(st) => format!("`whale login --server {server} --store {st}`"),
        None => format!("`whale login --server {server}`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyring_core::api::CredentialStoreApi;

    fn temp_paths(tag: &str) -> Paths {
        let dir = std::env::temp_dir().join(format!(
            "whale-vault-{tag}-{}-{}",
            std::process::id(),
            jiff::Timestamp::now().as_nanosecond()
        ));
        Paths { dir }
    }

    fn cred(store: &str) -> StoredCredential {
        StoredCredential {
            access_token: Secret::new("at-1"),
            refresh_token: Some(Secret::new("rt-1")),
            expires_at: Some(jiff::Timestamp::now().as_second() + 3600),
            client_id: "client-1".into(),
            token_endpoint: "http://as/token".into(),
            revocation_endpoint: Some("http://as/revoke".into()),
            resource: "http://as/mcp".into(),
            scopes: "products:read".into(),
            store_id: store.into(),
            mode: "live".into(),
            issuer: "http://as".into(),
            server: "http://as".into(),
        }
    }

    fn mock_vault(tag: &str) -> Vault {
        let store = keyring_core::mock::Store::new().expect("mock store");
        Vault::with_keychain(temp_paths(tag), Keychain::with_store(store))
    }

    #[test]
    fn keychain_round_trip_and_index() {
        let v = mock_vault("kc");
        v.check_writable(StorageKind::Keychain)
            .expect("mock keychain is writable");
        v.save(&cred("demo"), StorageKind::Keychain).expect("save");
        let logins = v.list().expect("list");
        assert_eq!(logins.len(), 1);
        assert_eq!(logins[0].storage, StorageKind::Keychain);
        assert_eq!(logins[0].key(), "http://as|demo");
        let back = v.load(&logins[0]).expect("load");
        assert_eq!(back.access_token.expose(), "at-1");
        assert_eq!(back.refresh_token.as_ref().map(Secret::expose), Some("rt-1"));
        // The index holds nothing secret.
        let index = std::fs::read_to_string(v.paths.index()).expect("index");
        assert!(!index.contains("at-1") && !index.contains("rt-1"), "{index}");
        assert!(!v.paths.credentials().exists());
        assert_eq!(
            v.client_id_for("http://as").expect("clients"),
            Some("client-1".into())
        );

        v.remove(&logins[0]).expect("remove");
        assert!(v.list().expect("list").is_empty());
        assert!(
            v.keychain()
                .expect("kc")
                .get("http://as|demo")
                .expect("get")
                .is_none()
        );
        let _ = std::fs::remove_dir_all(&v.paths.dir);
    }

    #[test]
    fn moving_a_login_between_stores_deletes_the_old_secret() {
        let v = mock_vault("move");
        v.save(&cred("demo"), StorageKind::Keychain).expect("save");
        v.save(&cred("demo"), StorageKind::File).expect("save to file");
        assert!(
            v.keychain()
                .expect("kc")
                .get("http://as|demo")
                .expect("get")
                .is_none()
        );
        let logins = v.list().expect("list");
        assert_eq!(logins.len(), 1);
        assert_eq!(logins[0].storage, StorageKind::File);
        assert_eq!(v.load(&logins[0]).expect("load").access_token.expose(), "at-1");
        let _ = std::fs::remove_dir_all(&v.paths.dir);
    }

    #[test]
    fn keychain_write_failure_is_reported_with_the_way_out() {
        let store = keyring_core::mock::Store::new().expect("mock store");
        let v = Vault::with_keychain(temp_paths("fail"), Keychain::with_store(store.clone()));
        // The mock fails the next operation on an entry it was told to.
        let entry = store.build(SERVICE, PROBE_ACCOUNT, None).expect("entry");
        let mock: &keyring_core::mock::Cred = entry.as_any().downcast_ref().expect("a mock credential");
        mock.set_error(keyring_core::Error::NoStorageAccess("locked collection".into()));
        let err = v.check_writable(StorageKind::Keychain).expect_err("must fail");
        let msg = err.to_string();
        assert!(msg.contains("could not be reached"), "{msg}");
        assert!(msg.contains("nothing was stored"), "{msg}");
        assert!(msg.contains("--insecure-storage"), "{msg}");
        assert!(msg.contains("WHALE_CREDENTIAL_STORE=file"), "{msg}");
        assert_eq!(err.exit_code(), 1);
    }

    #[test]
    fn choose_by_server_and_store() {
        let a = cred("a").entry(StorageKind::File);
        let b = cred("b").entry(StorageKind::File);
        let all = vec![a.clone(), b.clone()];
        assert_eq!(choose(&all, Some("http://as/"), Some("b")).expect("b"), b);
        assert_eq!(
            choose(&all, Some("http://as"), None)
                .expect_err("two")
                .exit_code(),
            2
        );
        assert_eq!(
            choose(&all, Some("http://other"), None)
                .expect_err("none")
                .exit_code(),
            3
        );
        assert_eq!(choose(&all[..1], None, None).expect("only one"), a);
    }
}
