//! A session held in the process: the store unit tests give the session
//! logic instead of a keychain or a file. Clones share one session, so a test
//! keeps a handle and looks at what was saved.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::Result;

use super::{Session, SessionStore};

/// A session store in memory.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    session: Arc<Mutex<Option<Session>>>,
}

impl MemoryStore {
    /// A store already holding `session`.
    pub fn holding(session: Session) -> MemoryStore {
        MemoryStore {
            session: Arc::new(Mutex::new(Some(session))),
        }
    }

    fn slot(&self) -> MutexGuard<'_, Option<Session>> {
        // A panic while holding the lock cannot leave half a session behind:
        // the slot is replaced whole.
        self.session.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl SessionStore for MemoryStore {
    fn load(&self) -> Result<Option<Session>> {
        Ok(self.slot().clone())
    }

    fn save(&self, session: &Session) -> Result<()> {
        *self.slot() = Some(session.clone());
        Ok(())
    }

    fn remove(&self) -> Result<bool> {
        Ok(self.slot().take().is_some())
    }

    fn describe(&self) -> String {
        "memory".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::session;
    use super::*;

    #[test]
    fn clones_share_the_session() {
        let store = MemoryStore::default();
        let seen = store.clone();
        assert_eq!(seen.load().unwrap(), None);
        store.save(&session()).unwrap();
        assert_eq!(seen.load().unwrap(), Some(session()));
        assert!(seen.remove().unwrap());
        assert!(!store.remove().unwrap());
    }
}
