//! The session store's generation stamp, and a memory of the stored session
//! that trusts it.
//!
//! Every save and removal through a [`Store`](super::Store) with a lock
//! folder (a login, a refresh, a logout by any lmi process on this machine)
//! writes a new stamp, `.generation`, beside the lock files. A long-running
//! process (the agent) keeps what it last read from the keychain together
//! with the stamp it saw just before reading, and reads the keychain again
//! only when the stamp differs: one small file read per request instead of
//! a D-Bus round trip, and a logout on this machine is seen at once. The
//! stamp is read before the keychain, and written after it, so a session
//! saved meanwhile always leaves a stamp the memory has not seen.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::error::Result;

use super::{Session, SessionStore};

/// The stamp's file name in the SSO folder.
const STAMP: &str = ".generation";

/// The stamp file of the SSO folder `dir`.
pub fn stamp_path(dir: &Path) -> PathBuf {
    dir.join(STAMP)
}

/// The current stamp; `None` when there is none (yet) or it cannot be read.
pub fn read_stamp(dir: &Path) -> Option<String> {
    std::fs::read_to_string(stamp_path(dir)).ok()
}

/// Writes a stamp no other write has made (this process's id, the time in
/// nanoseconds and a counter). A failure is logged, not an error: the
/// session itself was saved.
pub fn bump(dir: &Path) {
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let stamp = format!(
        "{}-{nanos}-{}",
        std::process::id(),
        COUNT.fetch_add(1, Ordering::Relaxed)
    );
    if let Err(e) = super::ensure_dir(dir)
        .and_then(|()| crate::files::write_atomic(dir, &stamp_path(dir), stamp.as_bytes()))
    {
        tracing::warn!(target: "sso", "cannot write the session stamp in {}: {e}", dir.display());
    }
}

/// What a process remembers of stored sessions: per store, the stamp seen
/// before the last read and what that read gave.
#[derive(Default)]
pub struct SessionMemory {
    seen: Mutex<HashMap<String, (String, Option<Session>)>>,
}

impl SessionMemory {
    fn seen(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, Option<Session>)>> {
        // The map holds whole entries only: usable after a panic.
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A backend that answers `load` from a [`SessionMemory`] while the stamp
/// is unchanged.
pub struct Remembering {
    pub inner: Box<dyn SessionStore>,
    /// Names the session in the memory (its account and kind of store).
    pub key: String,
    /// The SSO folder, where the stamp is.
    pub dir: PathBuf,
    pub memory: Arc<SessionMemory>,
}

impl SessionStore for Remembering {
    fn load(&self) -> Result<Option<Session>> {
        let stamp = match read_stamp(&self.dir) {
            Some(stamp) => stamp,
            // A store nothing has stamped yet (a session saved by an older
            // lmi): stamped now, so the next request can trust it.
            None => {
                bump(&self.dir);
                match read_stamp(&self.dir) {
                    Some(stamp) => stamp,
                    None => return self.inner.load(),
                }
            }
        };
        if let Some((seen, session)) = self.memory.seen().get(&self.key) {
            if *seen == stamp {
                tracing::debug!(target: "sso", "the SSO session is unchanged since it was last read");
                return Ok(session.clone());
            }
        }
        let session = self.inner.load()?;
        self.memory
            .seen()
            .insert(self.key.clone(), (stamp, session.clone()));
        Ok(session)
    }

    fn save(&self, session: &Session) -> Result<()> {
        self.memory.seen().remove(&self.key);
        self.inner.save(session)
    }

    fn remove(&self) -> Result<bool> {
        self.memory.seen().remove(&self.key);
        self.inner.remove()
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn check_writable(&self) -> Result<()> {
        self.inner.check_writable()
    }
}

#[cfg(test)]
mod tests {
    use super::super::{MemoryStore, Store};
    use super::*;
    use crate::secret::Secret;

    fn session_with(access_token: &str) -> Session {
        let mut session = super::super::tests::session();
        session.access_token = Secret::new(access_token);
        session
    }

    #[test]
    fn a_load_is_remembered_until_a_save_or_removal_stamps_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let sso = dir.path().join("sso");
        let backing = MemoryStore::holding(session_with("first"));
        let memory = Arc::new(SessionMemory::default());
        let agent = Store::new(
            Box::new(Remembering {
                inner: Box::new(backing.clone()),
                key: "k".into(),
                dir: sso.clone(),
                memory: memory.clone(),
            }),
            Some(sso.clone()),
        );
        let other = Store::new(Box::new(backing.clone()), Some(sso.clone()));
        assert_eq!(
            agent.load().unwrap().unwrap().access_token.expose(),
            "first"
        );
        // Changed behind the stamp's back: the memory answers.
        backing.save(&session_with("unstamped")).unwrap();
        assert_eq!(
            agent.load().unwrap().unwrap().access_token.expose(),
            "first"
        );
        // Another process's save stamps the folder: read again.
        other.save(&session_with("second")).unwrap();
        assert_eq!(
            agent.load().unwrap().unwrap().access_token.expose(),
            "second"
        );
        // A logout elsewhere: gone at once.
        assert!(other.remove().unwrap());
        assert_eq!(agent.load().unwrap(), None);
        // Its own save is read back.
        agent.save(&session_with("third")).unwrap();
        assert_eq!(
            agent.load().unwrap().unwrap().access_token.expose(),
            "third"
        );
    }
}
