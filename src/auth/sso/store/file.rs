//! The opt-in session file (`OAUTH_SSO_TOKEN_STORE=file`, SPEC §5): one
//! 0600 file per (client id, issuer) in lmi's 0700 `sso` data folder,
//! written atomically so a reader never sees half a session.

use std::io;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

use super::{decode, encode, ensure_dir, Session, SessionStore};

/// The session as a private file.
#[derive(Debug, Clone)]
pub struct FileStore {
    dir: PathBuf,
    path: PathBuf,
}

impl FileStore {
    /// The file of `account` in `dir` (lmi's `sso` data folder).
    pub fn new(dir: &Path, account: &str) -> FileStore {
        let name: String = account
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '-') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        FileStore {
            dir: dir.to_owned(),
            path: dir.join(format!("{name}.json")),
        }
    }

    /// The session file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl SessionStore for FileStore {
    fn load(&self) -> Result<Option<Session>> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("cannot read the SSO session file", &self.path, e)),
        };
        Ok(decode(&text, &self.describe()))
    }

    fn save(&self, session: &Session) -> Result<()> {
        let text = encode(session)?;
        // Atomic 0600 write: a temporary file in the same folder, then rename.
        ensure_dir(&self.dir)
            .and_then(|()| crate::files::write_atomic(&self.dir, &self.path, text.as_bytes()))
            .map_err(|e| Error::io("cannot write the SSO session file", &self.path, e))
    }

    fn remove(&self) -> Result<bool> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Error::io(
                "cannot delete the SSO session file",
                &self.path,
                e,
            )),
        }
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::super::account;
    use super::super::tests::session;
    use super::*;

    #[test]
    fn file_store_round_trip_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(&dir.path().join("sso"), &account("c", "https://idp/x"));
        assert_eq!(
            store.path(),
            dir.path().join("sso/sso_c_https___idp_x.json")
        );
        assert_eq!(store.load().unwrap(), None);
        store.save(&session()).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(store.path()), 0o600);
        assert_eq!(mode(&dir.path().join("sso")), 0o700);
        assert_eq!(store.load().unwrap(), Some(session()));
        std::fs::write(store.path(), "{oops").unwrap();
        assert_eq!(store.load().unwrap(), None);
        assert!(store.remove().unwrap());
        assert!(!store.remove().unwrap());
    }
}
