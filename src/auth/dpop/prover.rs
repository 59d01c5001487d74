//! [`Prover`]: a key and the nonces it has been given, making the proof for
//! each request and learning every `DPoP-Nonce` an answer carries (RFC 9449
//! §8, §9). The token requests and the authenticated client share one.

use std::path::Path;
use std::sync::Mutex;

use url::Url;

use crate::config::EnvName;
use crate::error::Result;
use crate::secret::Secret;

use super::nonces::NonceFile;
use super::{key_file, DpopKey, Nonces, NONCE_HEADER};

/// A DPoP key in use, with the latest nonce of each origin.
#[derive(Debug)]
pub struct Prover {
    key: DpopKey,
    nonces: Mutex<Nonces>,
    /// Where a changed nonce is written at once (a service environment's
    /// nonce file); `None` when the caller keeps [`Prover::nonces`] itself.
    store: Option<NonceFile>,
}

impl Prover {
    pub fn new(key: DpopKey, nonces: Nonces, store: Option<NonceFile>) -> Prover {
        Prover {
            key,
            nonces: Mutex::new(nonces),
            store,
        }
    }

    /// A service environment's prover: its key file (made on first use)
    /// and its nonce file.
    pub fn for_service(tokens_dir: &Path, env: &EnvName) -> Result<Prover> {
        let key = key_file::load_or_create(tokens_dir, env)?;
        let store = NonceFile::new(tokens_dir, env);
        Ok(Prover::new(key, store.load(), Some(store)))
    }

    pub fn key(&self) -> &DpopKey {
        &self.key
    }

    /// The key's thumbprint (`jkt`).
    pub fn jkt(&self) -> String {
        self.key.thumbprint()
    }

    /// The latest nonce of `url`'s origin.
    pub fn nonce(&self, url: &Url) -> Option<String> {
        self.lock().get(url).map(str::to_owned)
    }

    /// A snapshot of every origin's latest nonce.
    pub fn nonces(&self) -> Nonces {
        self.lock().clone()
    }

    /// A fresh proof for `method url`, with the origin's latest nonce and,
    /// when given, the access token's hash.
    pub fn proof(
        &self,
        method: &str,
        url: &Url,
        access_token: Option<&str>,
        now: i64,
    ) -> Result<Secret> {
        let nonce = self.nonce(url);
        self.key
            .proof(method, url, nonce.as_deref(), access_token, now)
    }

    /// Learns the `DPoP-Nonce` of an answer from `url`, if it has one;
    /// `true` when that is a nonce not seen before. A changed nonce is
    /// written to the store at once.
    pub fn observe(&self, url: &Url, headers: &[(String, String)]) -> bool {
        let Some(nonce) = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(NONCE_HEADER))
            .map(|(_, v)| v.trim())
        else {
            return false;
        };
        let mut nonces = self.lock();
        let changed = nonces.set(url, nonce);
        if changed {
            tracing::debug!(target: "auth", "{} gave a new DPoP nonce", url.origin().ascii_serialization());
            if let Some(store) = &self.store {
                store.save(&nonces);
            }
        }
        changed
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Nonces> {
        // A panic while holding the lock leaves a map of strings, still
        // whole: use it.
        self.nonces.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_from_answers_go_into_the_next_proof_and_the_file() {
        let home = tempfile::tempdir().unwrap();
        let tokens = home.path().join("tokens");
        let env = EnvName::checked("prod").unwrap();
        let prover = Prover::for_service(&tokens, &env).unwrap();
        let url = Url::parse("https://as.example.com/token").unwrap();
        assert_eq!(prover.nonce(&url), None);
        let headers = vec![("dpop-nonce".to_owned(), "n-1".to_owned())];
        assert!(prover.observe(&url, &headers));
        assert!(!prover.observe(&url, &headers));
        assert!(!prover.observe(&url, &[]));
        let proof = prover.proof("POST", &url, None, 7).unwrap();
        let decoded = crate::auth::inspect::decode(proof.expose());
        assert_eq!(decoded.claims.unwrap()["nonce"], "n-1");
        // The next run reads the same key and the nonce.
        let next = Prover::for_service(&tokens, &env).unwrap();
        assert_eq!(next.jkt(), prover.jkt());
        assert_eq!(next.nonce(&url).as_deref(), Some("n-1"));
    }
}
