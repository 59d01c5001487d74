//! The latest `DPoP-Nonce` of each origin (RFC 9449 §8, §9), kept for the
//! next run: a service environment's in `tokens/.<env>.dpop-nonces.json`
//! (0600, written atomically), the SSO session's with the session.
//!
//! A nonce is not a secret (servers send it in the clear to anyone who
//! asks), but it is only ever sent back to the origin that gave it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use url::Url;

use crate::config::EnvName;

/// A nonce longer than this is not kept: RFC 9449 §8.1 allows only
/// `NQCHAR`s, and no server needs kilobytes.
const MAX_NONCE: usize = 1024;

/// The latest nonce per origin (`scheme://host:port`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Nonces(BTreeMap<String, String>);

impl Nonces {
    /// The nonce `url`'s origin gave last.
    pub fn get(&self, url: &Url) -> Option<&str> {
        self.0.get(&origin(url)).map(String::as_str)
    }

    /// Records a nonce from `url`'s origin; `true` when it changed. A value
    /// that is not a valid nonce (RFC 9449 §8.1: `%x21 / %x23-5B / %x5D-7E`)
    /// is ignored.
    pub fn set(&mut self, url: &Url, nonce: &str) -> bool {
        let valid = !nonce.is_empty()
            && nonce.len() <= MAX_NONCE
            && nonce
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b));
        if !valid {
            tracing::debug!(target: "auth", "ignoring a DPoP-Nonce that is not a valid nonce");
            return false;
        }
        let origin = origin(url);
        if self.0.get(&origin).map(String::as_str) == Some(nonce) {
            return false;
        }
        self.0.insert(origin, nonce.to_owned());
        true
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// A service environment's nonce file.
#[derive(Debug, Clone)]
pub struct NonceFile {
    dir: PathBuf,
    path: PathBuf,
}

impl NonceFile {
    pub fn new(tokens_dir: &Path, env: &EnvName) -> NonceFile {
        NonceFile {
            dir: tokens_dir.to_path_buf(),
            path: path(tokens_dir, env),
        }
    }

    /// The stored nonces; none when the file is missing or unreadable (a
    /// stale nonce only costs one challenge).
    pub fn load(&self) -> Nonces {
        std::fs::read(&self.path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    /// Writes them atomically (0600); a failure is logged, not fatal.
    pub fn save(&self, nonces: &Nonces) {
        let bytes = serde_json::to_vec(nonces).unwrap_or_default();
        if let Err(e) = crate::files::write_atomic(&self.dir, &self.path, &bytes) {
            tracing::warn!(target: "auth", "cannot write {}: {e}", self.path.display());
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The nonce file of `env` in the token folder.
pub fn path(tokens_dir: &Path, env: &EnvName) -> PathBuf {
    tokens_dir.join(format!(".{env}.dpop-nonces.json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_kept_per_origin() {
        let mut nonces = Nonces::default();
        let a = Url::parse("https://as.example.com/token").unwrap();
        let a2 = Url::parse("https://as.example.com:443/other?x=1").unwrap();
        let b = Url::parse("https://api.example.com/v1").unwrap();
        assert!(nonces.set(&a, "n-1"));
        assert!(!nonces.set(&a2, "n-1"), "same origin, same nonce");
        assert_eq!(nonces.get(&a2), Some("n-1"));
        assert_eq!(nonces.get(&b), None);
        assert!(nonces.set(&b, "n-2"));
        assert!(!nonces.set(&b, "bad nonce with spaces"));
        assert!(!nonces.set(&b, "quote\"d"));
        assert_eq!(nonces.get(&b), Some("n-2"));
    }

    #[test]
    fn the_file_round_trips() {
        let home = tempfile::tempdir().unwrap();
        let tokens = home.path().join("tokens");
        let file = NonceFile::new(&tokens, &EnvName::checked("prod").unwrap());
        assert!(file.load().is_empty());
        let mut nonces = Nonces::default();
        nonces.set(&Url::parse("https://as.example.com/").unwrap(), "abc");
        file.save(&nonces);
        assert_eq!(file.load(), nonces);
        assert!(file.path().ends_with(".prod.dpop-nonces.json"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(file.path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
