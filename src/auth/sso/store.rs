//! Where the SSO session lives: one OS keychain entry (service `lmi`,
//! account `sso:<client_id>@<issuer>`) through the `keyring` crate, or — only
//! when the user opts in with `OAUTH_SSO_TOKEN_STORE=file` — a 0600 file in
//! lmi's data folder, written atomically.
//!
//! Every keychain call runs on a helper thread with a time limit
//! ([`KEYCHAIN_TIMEOUT`]): a stalled D-Bus or a keychain prompt nobody
//! answers must not hang lmi (gh bounds its keyring calls the same way).
//! Without a keychain the error says so and names the file opt-in; tokens
//! never silently fall back to a plaintext file.
//!
//! Also here: the lock files that serialise logins and refreshes.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::paths::ensure_private_dir;
use crate::secret::Secret;

/// The keychain's service name (SPEC §1).
pub const SERVICE: &str = "lmi";
/// Time limit of one keychain call.
pub const KEYCHAIN_TIMEOUT: Duration = Duration::from_secs(3);

/// The stored session (the keychain secret is this object as JSON).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Session {
    pub access_token: Secret,
    #[serde(default)]
    pub refresh_token: Option<Secret>,
    #[serde(default)]
    pub id_token: Option<Secret>,
    /// Unix seconds; `None` when the IdP gave no lifetime.
    pub expires_at: Option<i64>,
    pub issuer: String,
    pub client_id: String,
    pub user: Option<String>,
    /// The ID token's `sub`, to check that a refresh stays the same user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

impl Session {
    /// The access token is usable at `now` with `skew` seconds to spare.
    pub fn is_fresh(&self, now: i64, skew: i64) -> bool {
        self.expires_at.is_none_or(|exp| now + skew < exp)
    }

    /// A session exists while its access token is valid or it can be
    /// refreshed (SPEC §5).
    pub fn exists(&self, now: i64, skew: i64) -> bool {
        self.is_fresh(now, skew) || self.refresh_token.is_some()
    }
}

/// `OAUTH_SSO_TOKEN_STORE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Keychain,
    File,
}

impl StoreKind {
    pub fn parse(raw: Option<&str>) -> Result<StoreKind> {
        match raw.map(|r| r.trim().to_ascii_lowercase()).as_deref() {
            None | Some("keychain") => Ok(StoreKind::Keychain),
            Some("file") => Ok(StoreKind::File),
            Some(other) => Err(Error::config(format!(
                "OAUTH_SSO_TOKEN_STORE {other:?} is not supported"
            ))
            .with_hint("valid values: keychain (the default), file")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            StoreKind::Keychain => "keychain",
            StoreKind::File => "file",
        }
    }
}

/// The largest secret one keychain entry takes, in characters. Windows'
/// Credential Manager stores at most 2560 bytes of UTF-16 (1280 characters);
/// a session with three tokens is longer, so there it is split over
/// `<account>#1..n` entries under a small head entry. Elsewhere a session is
/// one entry, as SPEC §5 describes.
const KEYCHAIN_SECRET_LIMIT: Option<usize> = if cfg!(windows) { Some(1200) } else { None };

/// The head entry's field that says how many parts follow.
const CHUNKS_FIELD: &str = "lmi_chunks";

fn chunk_account(account: &str, index: usize) -> String {
    format!("{account}#{index}")
}

/// The number of parts when `head` is a split session's head entry.
fn chunk_count(head: &str) -> Option<usize> {
    let value: serde_json::Value = serde_json::from_str(head).ok()?;
    let parts = value.get(CHUNKS_FIELD)?.as_u64()?;
    usize::try_from(parts).ok().filter(|n| (1..=64).contains(n))
}

/// `text` in parts of at most `limit` characters (one part without a limit).
fn split_for_keychain(text: &str, limit: Option<usize>) -> Vec<String> {
    match limit {
        Some(limit) if text.chars().count() > limit => {
            let chars: Vec<char> = text.chars().collect();
            chars
                .chunks(limit.max(1))
                .map(|c| c.iter().collect())
                .collect()
        }
        _ => vec![text.to_owned()],
    }
}

/// The session store of one (client id, issuer) pair.
#[derive(Debug, Clone)]
pub struct Store {
    pub kind: StoreKind,
    pub account: String,
    dir: PathBuf,
}

fn no_keychain(detail: &str) -> Error {
    Error::auth(format!(
        "no OS keychain is available to hold the SSO session ({detail})"
    ))
    .with_hint("start a Secret Service (such as gnome-keyring) in your desktop session, or opt in to a private file in lmi's data folder with OAUTH_SSO_TOKEN_STORE=file")
}

/// Runs one keychain call on a helper thread, bounded by [`KEYCHAIN_TIMEOUT`].
fn keychain<T: Send + 'static>(
    what: &'static str,
    call: impl FnOnce() -> keyring::Result<T> + Send + 'static,
) -> Result<keyring::Result<T>> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("keychain".into())
        .spawn(move || {
            let _ = tx.send(call());
        })
        .map_err(|e| Error::internal(format!("cannot start the keychain thread: {e}")))?;
    match rx.recv_timeout(KEYCHAIN_TIMEOUT) {
        Ok(result) => Ok(result),
        // The thread is left behind; it ends with the process.
        Err(_) => Err(Error::auth(format!(
            "the OS keychain did not answer within {} s ({what})",
            KEYCHAIN_TIMEOUT.as_secs()
        ))
        .with_hint("the Secret Service may be stalled or waiting for an unlock prompt; unlock it and retry, or opt in to a private file with OAUTH_SSO_TOKEN_STORE=file")),
    }
}

/// A keyring error other than "no entry", as an lmi error.
fn keychain_error(e: keyring::Error) -> Error {
    match e {
        keyring::Error::NoStorageAccess(detail) | keyring::Error::PlatformFailure(detail) => {
            no_keychain(&detail.to_string())
        }
        other => Error::auth(format!("the OS keychain failed: {other}"))
            .with_hint("run lmi logout sso to remove the entry, then log in again"),
    }
}

impl Store {
    pub fn new(kind: StoreKind, data_dir: &Path, client_id: &str, issuer: &str) -> Store {
        Store {
            kind,
            account: format!("sso:{client_id}@{issuer}"),
            dir: data_dir.join("sso"),
        }
    }

    /// The session file (used with `OAUTH_SSO_TOKEN_STORE=file`).
    pub fn file_path(&self) -> PathBuf {
        let name: String = self
            .account
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '-') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.dir.join(format!("{name}.json"))
    }

    fn entry(account: &str) -> keyring::Result<keyring::Entry> {
        keyring::Entry::new(SERVICE, account)
    }

    /// The stored session; `None` when there is none (or it is unreadable,
    /// with a warning: the next login replaces it).
    pub fn load(&self) -> Result<Option<Session>> {
        let text = match self.kind {
            StoreKind::Keychain => {
                let account = self.account.clone();
                match keychain("reading the SSO session", move || {
                    Self::entry(&account)?.get_password()
                })? {
                    Ok(text) => match chunk_count(&text) {
                        Some(parts) => match self.read_chunks(parts)? {
                            Some(joined) => joined,
                            None => return Ok(None),
                        },
                        None => text,
                    },
                    Err(keyring::Error::NoEntry) => return Ok(None),
                    Err(keyring::Error::BadEncoding(_)) => {
                        tracing::warn!(target: "sso", "ignoring the keychain entry {}: it is not text", self.account);
                        return Ok(None);
                    }
                    Err(e) => return Err(keychain_error(e)),
                }
            }
            StoreKind::File => match std::fs::read_to_string(self.file_path()) {
                Ok(text) => text,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(e) => {
                    return Err(Error::io(
                        "cannot read the SSO session file",
                        &self.file_path(),
                        e,
                    ))
                }
            },
        };
        match serde_json::from_str::<Session>(&text) {
            Ok(session) if !session.access_token.is_empty() => Ok(Some(session)),
            _ => {
                tracing::warn!(target: "sso", "ignoring the stored SSO session ({}): it is not a valid session; log in again", self.describe());
                Ok(None)
            }
        }
    }

    /// Stores `session`, replacing any previous one.
    pub fn save(&self, session: &Session) -> Result<()> {
        let text = serde_json::to_string(session)
            .map_err(|e| Error::internal(format!("cannot encode the SSO session: {e}")))?;
        match self.kind {
            StoreKind::Keychain => {
                // Entries of a previous, longer session would be left over.
                self.remove_chunks()?;
                let parts = split_for_keychain(&text, KEYCHAIN_SECRET_LIMIT);
                let head = if parts.len() == 1 {
                    text
                } else {
                    for (i, part) in parts.iter().enumerate() {
                        let account = chunk_account(&self.account, i + 1);
                        let part = part.clone();
                        keychain("saving the SSO session", move || {
                            Self::entry(&account)?.set_password(&part)
                        })?
                        .map_err(keychain_error)?;
                    }
                    serde_json::json!({ CHUNKS_FIELD: parts.len() }).to_string()
                };
                let account = self.account.clone();
                keychain("saving the SSO session", move || {
                    Self::entry(&account)?.set_password(&head)
                })?
                .map_err(keychain_error)?;
            }
            StoreKind::File => {
                let path = self.file_path();
                self.write_file(&path, text.as_bytes())
                    .map_err(|e| Error::io("cannot write the SSO session file", &path, e))?;
            }
        }
        tracing::debug!(target: "sso", "stored the SSO session in {}", self.describe());
        Ok(())
    }

    /// Removes the session; `Ok(true)` when there was one.
    pub fn remove(&self) -> Result<bool> {
        match self.kind {
            StoreKind::Keychain => {
                self.remove_chunks()?;
                let account = self.account.clone();
                match keychain("removing the SSO session", move || {
                    Self::entry(&account)?.delete_credential()
                })? {
                    Ok(()) => Ok(true),
                    Err(keyring::Error::NoEntry) => Ok(false),
                    Err(e) => Err(keychain_error(e)),
                }
            }
            StoreKind::File => match std::fs::remove_file(self.file_path()) {
                Ok(()) => Ok(true),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
                Err(e) => Err(Error::io(
                    "cannot delete the SSO session file",
                    &self.file_path(),
                    e,
                )),
            },
        }
    }

    /// Reads the parts of a session split over several entries; `None` when
    /// one is missing (a half-written session is no session).
    fn read_chunks(&self, parts: usize) -> Result<Option<String>> {
        let mut joined = String::new();
        for i in 1..=parts {
            let account = chunk_account(&self.account, i);
            match keychain("reading the SSO session", move || {
                Self::entry(&account)?.get_password()
            })? {
                Ok(part) => joined.push_str(&part),
                Err(keyring::Error::NoEntry) => return Ok(None),
                Err(e) => return Err(keychain_error(e)),
            }
        }
        Ok(Some(joined))
    }

    /// Deletes the extra entries of a split session, if the stored one is.
    fn remove_chunks(&self) -> Result<()> {
        let account = self.account.clone();
        let head = match keychain("reading the SSO session", move || {
            Self::entry(&account)?.get_password()
        })? {
            Ok(text) => text,
            Err(keyring::Error::NoEntry | keyring::Error::BadEncoding(_)) => return Ok(()),
            Err(e) => return Err(keychain_error(e)),
        };
        for i in 1..=chunk_count(&head).unwrap_or(0) {
            let account = chunk_account(&self.account, i);
            match keychain("removing the SSO session", move || {
                Self::entry(&account)?.delete_credential()
            })? {
                Ok(()) | Err(keyring::Error::NoEntry) => {}
                Err(e) => return Err(keychain_error(e)),
            }
        }
        Ok(())
    }

    /// Where the session lives, for messages.
    pub fn describe(&self) -> String {
        match self.kind {
            StoreKind::Keychain => format!("keychain entry {SERVICE}/{}", self.account),
            StoreKind::File => self.file_path().display().to_string(),
        }
    }

    /// Our own folder: created 0700 and kept so.
    fn ensure_dir(&self) -> io::Result<()> {
        if let Some(parent) = self.dir.parent() {
            ensure_private_dir(parent)?;
        }
        ensure_private_dir(&self.dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700))?;
        }
        Ok(())
    }

    /// Atomic 0600 write: a temporary file in the same folder, then rename.
    fn write_file(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        self.ensure_dir()?;
        crate::files::write_atomic(&self.dir, path, bytes)
    }

    /// Takes the named lock (`login` or `session`), waiting at most `wait`;
    /// `on_wait` runs once if the lock is busy.
    pub fn lock(&self, name: &str, wait: Duration, on_wait: impl FnOnce()) -> Result<LockGuard> {
        let path = self.dir.join(format!(".{name}.lock"));
        if let Err(e) = self.ensure_dir() {
            tracing::warn!(target: "sso", "cannot create lock file {}: {e}; going on without the lock", path.display());
            return Ok(LockGuard {
                _file: None,
                waited: false,
            });
        }
        match crate::files::lock(&path, wait, on_wait) {
            Ok(lock) => {
                if let Some(e) = &lock.problem {
                    tracing::warn!(target: "sso", "cannot lock {}: {e}; going on without the lock", path.display());
                }
                Ok(LockGuard { _file: lock.file, waited: lock.waited })
            }
            Err(crate::files::LockTimedOut) => Err(Error::auth(format!(
                "timed out after {} s waiting for another lmi process to finish with the SSO session (lock {})",
                wait.as_secs(),
                path.display()
            ))
            .with_hint("wait for the other lmi login sso to end, then try again")),
        }
    }
}

/// Holds a lock until dropped.
#[derive(Debug)]
pub struct LockGuard {
    _file: Option<File>,
    /// Another process held the lock first.
    pub waited: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_sessions_split_and_join() {
        let text = "x".repeat(2500) + "é";
        assert_eq!(split_for_keychain(&text, None), vec![text.clone()]);
        let parts = split_for_keychain(&text, Some(1200));
        assert_eq!(parts.len(), 3);
        assert!(parts.iter().all(|p| p.chars().count() <= 1200));
        assert_eq!(parts.concat(), text);
        assert_eq!(
            chunk_count(&serde_json::json!({ CHUNKS_FIELD: 3 }).to_string()),
            Some(3)
        );
        assert_eq!(chunk_count("{\"access_token\":\"x\"}"), None);
        assert_eq!(chunk_account("sso:a@b", 2), "sso:a@b#2");
    }

    fn session() -> Session {
        Session {
            access_token: Secret::new("at"),
            refresh_token: Some(Secret::new("rt")),
            id_token: None,
            expires_at: Some(1000),
            issuer: "https://idp".into(),
            client_id: "c".into(),
            user: Some("u".into()),
            subject: Some("sub-1".into()),
        }
    }

    #[test]
    fn freshness_and_existence() {
        let mut s = session();
        assert!(s.is_fresh(900, 60));
        assert!(!s.is_fresh(950, 60));
        assert!(s.exists(2000, 60));
        s.refresh_token = None;
        assert!(!s.exists(2000, 60));
        s.expires_at = None;
        assert!(s.exists(2000, 60));
    }

    #[test]
    fn store_kinds() {
        assert_eq!(StoreKind::parse(None).unwrap(), StoreKind::Keychain);
        assert_eq!(StoreKind::parse(Some("File")).unwrap(), StoreKind::File);
        assert_eq!(
            StoreKind::parse(Some("plaintext")).unwrap_err().exit_code(),
            3
        );
    }

    #[cfg(unix)]
    #[test]
    fn file_store_round_trip_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(StoreKind::File, dir.path(), "c", "https://idp/x");
        assert!(store.file_path().starts_with(dir.path().join("sso")));
        assert_eq!(store.load().unwrap(), None);
        store.save(&session()).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&store.file_path()), 0o600);
        assert_eq!(mode(&dir.path().join("sso")), 0o700);
        assert_eq!(store.load().unwrap(), Some(session()));
        std::fs::write(store.file_path(), "{oops").unwrap();
        assert_eq!(store.load().unwrap(), None);
        assert!(store.remove().unwrap());
        assert!(!store.remove().unwrap());
        let guard = store.lock("login", Duration::from_secs(1), || {}).unwrap();
        assert!(!guard.waited);
    }
}
