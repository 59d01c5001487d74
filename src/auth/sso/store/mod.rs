//! Where the SSO session lives, behind one [`SessionStore`] trait:
//!
//! - `keychain`: one OS keychain entry (service `lmi`, account
//!   `sso:<client_id>@<issuer>`), the default;
//! - `file`: a 0600 file in lmi's data folder, only when the user opts in
//!   with `OAUTH_SSO_TOKEN_STORE=file`;
//! - `memory`: a session held in the process, for tests.
//!
//! Without a keychain the error says so and names the file opt-in; tokens
//! never silently fall back to a plaintext file.
//!
//! Also here: [`Session`] itself and [`Store`], the handle the rest of `sso`
//! uses, which adds the lock files that serialise logins and refreshes.

pub mod file;
pub mod generation;
pub mod keychain;
pub mod memory;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::files::{Lock, LockFailed};
use crate::paths::{ensure_private_dir, Paths};
use crate::secret::Secret;

pub use crate::config::StoreKind;
pub use file::FileStore;
pub use generation::SessionMemory;
pub use keychain::{KeychainStore, KEYCHAIN_TIMEOUT, SERVICE};
pub use memory::MemoryStore;

use crate::config::SsoConfig;

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
    /// The token endpoint that issued the session: its refresh token goes
    /// nowhere else (SPEC §5); `None` in sessions from older versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint: Option<String>,
    /// Unix seconds when the access token was obtained, to cap the skew
    /// for short-lived tokens; `None` in sessions from older versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub obtained_at: Option<i64>,
    /// The login flow that made the session (`browser` or `device`);
    /// sessions stored before lmi recorded it came from the browser.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow: Option<String>,
    /// `token_type`, and for a DPoP-bound session its key (`dpop_jwk`),
    /// thumbprint and nonces (SPEC §4.3), beside the fields above.
    #[serde(flatten)]
    pub dpop: super::dpop::DpopRecord,
}

impl Session {
    /// The access token is usable at `now` with `skew` seconds to spare.
    pub fn is_fresh(&self, now: i64, skew: i64) -> bool {
        crate::auth::fresh_capped(self.expires_at, self.obtained_at, now, skew)
    }

    /// A session exists while its access token is valid or it can be
    /// refreshed (SPEC §5).
    pub fn exists(&self, now: i64, skew: i64) -> bool {
        self.is_fresh(now, skew) || self.refresh_token.is_some()
    }
}

/// A place that holds at most one session.
pub trait SessionStore {
    /// The stored session; `None` when there is none (or it is unreadable,
    /// with a warning: the next login replaces it).
    fn load(&self) -> Result<Option<Session>>;
    /// Stores `session`, replacing any previous one.
    fn save(&self, session: &Session) -> Result<()>;
    /// Removes the session; `Ok(true)` when there was one.
    fn remove(&self) -> Result<bool>;
    /// Where the session lives, for messages.
    fn describe(&self) -> String;
    /// Whether a session can be saved now, asked before a browser login so
    /// that a locked keychain fails before the user logs in, not after.
    fn check_writable(&self) -> Result<()> {
        Ok(())
    }
}

/// The keychain account (and file name stem) of one (client id, issuer) pair.
pub fn account(client_id: &str, issuer_id: &str) -> String {
    format!("sso:{client_id}@{issuer_id}")
}

/// A stored session's text as a session; `None`, with a warning, when it is
/// not one.
fn decode(text: &str, place: &str) -> Option<Session> {
    match serde_json::from_str::<Session>(text) {
        Ok(mut session) if !session.access_token.is_empty() => {
            // Stored by an older version: the name may still be raw.
            session.user = session.user.map(|u| crate::redact::server_text(&u, &[]));
            Some(session)
        }
        _ => {
            tracing::warn!(target: "sso", "ignoring the stored SSO session ({place}): it is not a valid session; log in again");
            None
        }
    }
}

fn encode(session: &Session) -> Result<String> {
    serde_json::to_string(session)
        .map_err(|e| Error::internal(format!("cannot encode the SSO session: {e}")))
}

/// lmi's SSO folder and its parent: created 0700 and kept so.
fn ensure_dir(dir: &Path) -> io::Result<()> {
    if let Some(parent) = dir.parent() {
        ensure_private_dir(parent)?;
    }
    ensure_private_dir(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// The session store of one (client id, issuer) pair, with its lock files.
pub struct Store {
    backend: Box<dyn SessionStore>,
    /// Where the lock files go; `None` for a store no other process can
    /// see, which needs no lock.
    lock_dir: Option<PathBuf>,
}

impl Store {
    /// The store `config` names, in `paths`' data folder.
    pub fn configured(config: &SsoConfig, paths: &Paths) -> Store {
        Store::open(
            config.store,
            &paths.data_dir,
            &config.client_id,
            &config.issuer_id,
        )
    }

    /// The `kind` store of the session of `client_id` at `issuer_id`; its
    /// folder (for the file and the locks) is `data_dir/sso`.
    pub fn open(kind: StoreKind, data_dir: &Path, client_id: &str, issuer_id: &str) -> Store {
        let dir = data_dir.join("sso");
        let account = account(client_id, issuer_id);
        let backend: Box<dyn SessionStore> = match kind {
            StoreKind::Keychain => Box::new(KeychainStore::new(account)),
            StoreKind::File => Box::new(FileStore::new(&dir, &account)),
        };
        Store {
            backend,
            lock_dir: Some(dir),
        }
    }

    /// The store `config` names, answering loads from `memory` while no
    /// lmi process on this machine saved or removed a session (the agent's
    /// store: see [`generation`]).
    pub fn remembered(config: &SsoConfig, paths: &Paths, memory: &Arc<SessionMemory>) -> Store {
        let Store { backend, lock_dir } = Store::configured(config, paths);
        let Some(dir) = lock_dir else {
            return Store::new(backend, None);
        };
        let key = format!(
            "{:?} {}",
            config.store,
            account(&config.client_id, &config.issuer_id)
        );
        let backend = generation::Remembering {
            inner: backend,
            key,
            dir: dir.clone(),
            memory: memory.clone(),
        };
        Store::new(Box::new(backend), Some(dir))
    }

    /// Any backend; with `lock_dir`, logins and refreshes lock files there.
    pub fn new(backend: Box<dyn SessionStore>, lock_dir: Option<PathBuf>) -> Store {
        Store { backend, lock_dir }
    }

    /// A store in memory, without locks (a test's store).
    pub fn memory(memory: MemoryStore) -> Store {
        Store::new(Box::new(memory), None)
    }

    pub fn load(&self) -> Result<Option<Session>> {
        self.backend.load()
    }

    /// Saves `session` and stamps the folder (see [`generation`]).
    pub fn save(&self, session: &Session) -> Result<()> {
        self.backend.save(session)?;
        self.stamp();
        tracing::debug!(target: "sso", "stored the SSO session in {}", self.describe());
        Ok(())
    }

    /// Removes the session and stamps the folder (see [`generation`]).
    pub fn remove(&self) -> Result<bool> {
        let removed = self.backend.remove();
        self.stamp();
        removed
    }

    fn stamp(&self) {
        if let Some(dir) = &self.lock_dir {
            generation::bump(dir);
        }
    }

    /// See [`SessionStore::check_writable`].
    pub fn check_writable(&self) -> Result<()> {
        self.backend.check_writable()
    }

    pub fn describe(&self) -> String {
        self.backend.describe()
    }

    /// Takes the named lock (`login` or `session`), waiting at most `wait`;
    /// `on_wait` runs once if the lock is busy. When no lock file can be
    /// made, lmi goes on without the lock (with a warning).
    pub fn lock(&self, name: &str, wait: Duration, on_wait: impl FnOnce()) -> Result<Lock> {
        let unlocked = |problem| Lock {
            file: None,
            waited: false,
            problem,
        };
        let Some(dir) = &self.lock_dir else {
            return Ok(unlocked(None));
        };
        let path = dir.join(format!(".{name}.lock"));
        if let Err(e) = ensure_dir(dir) {
            tracing::warn!(target: "sso", "cannot create lock file {}: {e}; going on without the lock", path.display());
            return Ok(unlocked(Some(e)));
        }
        match crate::files::lock(&path, wait, on_wait) {
            Ok(lock) => {
                if let Some(e) = &lock.problem {
                    tracing::warn!(target: "sso", "cannot lock {}: {e}; going on without the lock", path.display());
                }
                Ok(lock)
            }
            Err(LockFailed::NotAFile(what)) => Err(crate::files::not_a_lock_file(&path, what)),
            Err(LockFailed::TimedOut) => Err(Error::auth(format!(
                "timed out after {} s waiting for another lmi process to finish with the SSO session (lock {})",
                wait.as_secs(),
                path.display()
            ))
            .with_hint("wait for the other lmi login sso to end, then try again")),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn session() -> Session {
        Session {
            access_token: Secret::new("at"),
            refresh_token: Some(Secret::new("rt")),
            id_token: None,
            expires_at: Some(1000),
            issuer: "https://idp".into(),
            client_id: "c".into(),
            user: Some("u".into()),
            subject: Some("sub-1".into()),
            obtained_at: None,
            token_endpoint: None,
            flow: None,
            dpop: Default::default(),
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
    fn broken_text_is_no_session() {
        assert_eq!(decode("{oops", "x"), None);
        let mut empty = session();
        empty.access_token = Secret::new("");
        assert_eq!(decode(&encode(&empty).unwrap(), "x"), None);
        assert_eq!(decode(&encode(&session()).unwrap(), "x"), Some(session()));
    }

    #[test]
    fn locks_in_the_sso_folder_and_none_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(StoreKind::File, dir.path(), "c", "https://idp/x");
        let held = store.lock("login", Duration::from_secs(1), || {}).unwrap();
        assert!(held.file.is_some() && !held.waited);
        assert!(dir.path().join("sso/.login.lock").exists());
        let mut told = false;
        let err = store
            .lock("login", Duration::from_millis(20), || told = true)
            .unwrap_err();
        assert!(told && err.message().contains("timed out"));
        drop(held);
        let memory = Store::memory(MemoryStore::default());
        let lock = memory.lock("login", Duration::from_secs(1), || {}).unwrap();
        assert!(lock.file.is_none() && lock.problem.is_none());
    }
}
