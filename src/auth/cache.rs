//! Service token files: `tokens/<env>.json`, their lock and metadata.
//!
//! Files are written atomically (a temporary file in the same folder, then a
//! rename) with mode 0600 in 0700 folders, so a reader never sees half a
//! file. A file that is unreadable or not the expected JSON is a miss that
//! the next write heals. The per-environment lock file `.<env>.lock` (a
//! name no environment can have) serialises check → acquire → write, so N
//! parallel runs on a cold cache make one token request.

use serde::{Deserialize, Serialize};
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::auth::discovery::Metadata;
use crate::config::EnvName;
use crate::error::{Error, Result};
use crate::secret::Secret;

/// What a token file holds (SPEC §4).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CachedToken {
    pub access_token: Secret,
    pub token_type: String,
    /// Unix seconds; `None` when the lifetime is unknown.
    pub expires_at: Option<i64>,
    pub obtained_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// A DPoP token's key: its RFC 7638 thumbprint (SPEC §4.3). Another
    /// key, or none, cannot use the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_jkt: Option<String>,
    #[serde(flatten)]
    pub issued_for: IssuedFor,
}

/// The settings a token was issued for: a token issued for others is a miss.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct IssuedFor {
    pub token_url: String,
    pub client_id: String,
    pub grant_type: String,
    pub username: Option<String>,
    pub scopes: Option<String>,
    pub audience: Option<String>,
    /// For a token exchange: who the subject was (`sha256:` of the subject
    /// token, or `sso <issuer> <user>` for the SSO session). Absent in
    /// files written before token exchange existed, which still parse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

impl CachedToken {
    /// Valid at `now` with `skew` seconds to spare (at most half the
    /// token's lifetime, see [`crate::auth::fresh_capped`]); no expiry
    /// means valid.
    pub fn is_fresh(&self, now: i64, skew: i64) -> bool {
        // An empty access token is one the service rejected (only its
        // refresh token is kept).
        !self.access_token.is_empty()
            && crate::auth::fresh_capped(self.expires_at, Some(self.obtained_at), now, skew)
    }
}

/// The result of reading a token file.
#[derive(Debug)]
pub enum Lookup {
    Missing,
    /// Present but unusable, with the reason (for the warning).
    Corrupt(String),
    Found(Box<CachedToken>),
}

/// The token folder.
#[derive(Debug, Clone)]
pub struct TokenCache {
    dir: PathBuf,
}

impl TokenCache {
    pub fn new(dir: PathBuf) -> TokenCache {
        TokenCache { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Refuses (exit 3) a cache that others could have written: lmi's cache
    /// folder, `tokens/` and the environment's token, metadata and lock
    /// files (see [`crate::paths::check_trusted`]).
    pub fn check_trusted(&self, env: &EnvName) -> Result<()> {
        let root = self.dir.parent().unwrap_or(&self.dir);
        let files = [self.path(env), self.metadata_path(env), self.lock_path(env)];
        let files: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
        crate::paths::check_all_trusted(root, &files)
    }

    /// Removes the temporary files a killed write of `env`'s token or
    /// metadata left behind, never another environment's. Writers hold the
    /// environment's lock, so with the lock every such file is a leftover;
    /// while another run holds it, only stale ones are (see
    /// [`crate::files::STALE_TEMP`]).
    pub fn remove_temps(&self, env: &EnvName) -> usize {
        // Held until the files are gone.
        let lock = self
            .dir
            .is_dir()
            .then(|| crate::files::lock(&self.lock_path(env), Duration::ZERO, || {}).ok())
            .flatten()
            .filter(|lock| lock.file.is_some());
        let min_age = if lock.is_some() {
            Duration::ZERO
        } else {
            crate::files::STALE_TEMP
        };
        let targets = [self.path(env), self.metadata_path(env)];
        let targets: Vec<&Path> = targets.iter().map(PathBuf::as_path).collect();
        let removed = crate::files::remove_temps_for(&self.dir, &targets, min_age);
        drop(lock);
        removed
    }

    /// Removes every stale temporary file, whichever environment it was
    /// for: a write takes milliseconds, so these are from runs that died.
    pub fn remove_stale_temps(&self) -> usize {
        crate::files::remove_temps(&self.dir, crate::files::STALE_TEMP)
    }

    pub fn path(&self, env: &EnvName) -> PathBuf {
        self.dir.join(format!("{env}.json"))
    }

    fn lock_path(&self, env: &EnvName) -> PathBuf {
        self.dir.join(format!(".{env}.lock"))
    }

    fn metadata_path(&self, env: &EnvName) -> PathBuf {
        self.dir.join(format!(".{env}.metadata.json"))
    }

    pub fn read(&self, env: &EnvName) -> Lookup {
        let path = self.path(env);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Lookup::Missing,
            Err(e) => return Lookup::Corrupt(format!("cannot read it: {e}")),
        };
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Lookup::Corrupt("it is empty".into());
        }
        match serde_json::from_slice::<CachedToken>(&bytes) {
            Ok(token) if !token.access_token.is_empty() || token.refresh_token.is_some() => {
                Lookup::Found(Box::new(token))
            }
            Ok(_) => Lookup::Corrupt("its access_token is empty".into()),
            Err(e) => Lookup::Corrupt(format!("it is not a valid token file ({e})")),
        }
    }

    /// Writes the token atomically with mode 0600.
    pub fn write(&self, env: &EnvName, token: &CachedToken) -> io::Result<()> {
        let bytes = serde_json::to_vec_pretty(token).map_err(io::Error::other)?;
        self.write_atomic(&self.path(env), &bytes)
    }

    fn write_atomic(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        let mut bytes = bytes.to_vec();
        bytes.push(b'\n');
        crate::files::write_atomic(&self.dir, path, &bytes)
    }

    /// Deletes the token file; `Ok(true)` when there was one.
    pub fn remove(&self, env: &EnvName) -> io::Result<bool> {
        let path = self.path(env);
        let result = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        match result {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The environments that have a token file.
    pub fn environments(&self) -> Vec<EnvName> {
        let mut out: Vec<EnvName> = std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let stem = name.strip_suffix(".json")?;
                EnvName::checked(stem)
            })
            .collect();
        out.sort();
        out
    }

    /// The environments with a token file, a DPoP key or DPoP nonces: all
    /// that `auth clear --all` has to remove (a key outlives its token when
    /// the token file was deleted by hand or never written).
    pub fn environments_with_files(&self) -> Vec<EnvName> {
        let mut out = self.environments();
        out.extend(
            std::fs::read_dir(&self.dir)
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|e| {
                    let name = e.file_name().into_string().ok()?;
                    let rest = name.strip_prefix('.')?;
                    let stem = rest
                        .strip_suffix(".dpop.jwk")
                        .or_else(|| rest.strip_suffix(".dpop-nonces.json"))?;
                    EnvName::checked(stem)
                }),
        );
        out.sort();
        out.dedup();
        out
    }

    /// Takes the environment's lock, waiting at most `wait`. When the folder
    /// cannot hold a lock file (not writable), lmi goes on unlocked.
    pub fn lock(&self, env: &EnvName, wait: Duration) -> Result<crate::files::Lock> {
        let path = self.lock_path(env);
        match crate::files::lock(&path, wait, || {
            tracing::debug!(target: "auth", "waiting for another lmi to finish with {}", path.display());
        }) {
            Ok(lock) => {
                if let Some(e) = &lock.problem {
                    tracing::warn!(target: "auth", "cannot lock {}: {e}; going on without the lock", path.display());
                }
                Ok(lock)
            }
            Err(crate::files::LockFailed::NotAFile(what)) => {
                Err(crate::files::not_a_lock_file(&path, what))
            }
            Err(crate::files::LockFailed::TimedOut) => Err(Error::auth(format!(
                "timed out after {} s waiting for the token cache lock {}",
                wait.as_secs(),
                path.display()
            ))
            .with_hint("another lmi process is acquiring a token for this environment; try again")),
        }
    }

    /// Cached metadata for the environment, if it is for `issuer`.
    pub fn read_metadata(&self, env: &EnvName, issuer: &str) -> Option<Metadata> {
        let bytes = std::fs::read(self.metadata_path(env)).ok()?;
        let cached: CachedMetadata = serde_json::from_slice(&bytes).ok()?;
        (cached.service_url == issuer).then_some(cached.metadata)
    }

    pub fn write_metadata(
        &self,
        env: &EnvName,
        issuer: &str,
        metadata: &Metadata,
    ) -> io::Result<()> {
        let cached = CachedMetadata {
            service_url: issuer.to_owned(),
            metadata: metadata.clone(),
        };
        let bytes = serde_json::to_vec_pretty(&cached).map_err(io::Error::other)?;
        self.write_atomic(&self.metadata_path(env), &bytes)
    }

    /// Removes the environment's DPoP key and nonce files (SPEC §4.3);
    /// `Ok(true)` when there was a key.
    pub fn remove_dpop(&self, env: &EnvName) -> io::Result<bool> {
        let _ = crate::files::remove(&crate::auth::dpop::nonces::path(&self.dir, env));
        crate::auth::dpop::key_file::remove(&self.dir, env)
    }

    pub fn remove_metadata(&self, env: &EnvName) {
        let _ = std::fs::remove_file(self.metadata_path(env));
    }
}

#[derive(Serialize, Deserialize)]
struct CachedMetadata {
    service_url: String,
    metadata: Metadata,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::testing::env_name;

    fn token(expires_at: Option<i64>) -> CachedToken {
        CachedToken {
            access_token: Secret::new("tok"),
            token_type: "Bearer".into(),
            expires_at,
            obtained_at: 100,
            refresh_token: None,
            scope: None,
            dpop_jkt: None,
            issued_for: IssuedFor {
                token_url: "http://127.0.0.1/token".into(),
                client_id: "c".into(),
                grant_type: "client_credentials".into(),
                username: None,
                scopes: None,
                audience: None,
                subject: None,
            },
        }
    }

    #[test]
    fn freshness_uses_skew() {
        assert!(token(None).is_fresh(1_000, 60));
        assert!(token(Some(1_100)).is_fresh(1_000, 60));
        assert!(!token(Some(1_060)).is_fresh(1_000, 60));
    }

    #[test]
    fn write_is_private_and_roundtrips() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TokenCache::new(dir.path().join("tokens"));
        cache.write(&env_name("dev"), &token(Some(5))).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(cache.path(&env_name("dev")))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
            let mode = std::fs::metadata(cache.dir()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }
        match cache.read(&env_name("dev")) {
            Lookup::Found(t) => assert_eq!(t.expires_at, Some(5)),
            other => panic!("{other:?}"),
        }
        std::fs::write(cache.path(&env_name("dev")), b"{\"access_").unwrap();
        assert!(matches!(cache.read(&env_name("dev")), Lookup::Corrupt(_)));
        assert_eq!(cache.environments(), vec![env_name("dev")]);
    }

    #[test]
    fn files_without_a_subject_still_parse() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TokenCache::new(dir.path().join("tokens"));
        let mut exchanged = token(Some(5));
        exchanged.issued_for.subject = Some("sha256:ab".into());
        cache.write(&env_name("ex"), &exchanged).unwrap();
        match cache.read(&env_name("ex")) {
            Lookup::Found(t) => assert_eq!(t.issued_for.subject.as_deref(), Some("sha256:ab")),
            other => panic!("{other:?}"),
        }
        // A file from before token exchange: no "subject" at all.
        let old = r#"{"access_token":"tok","token_type":"Bearer","expires_at":5,"obtained_at":1,
            "token_url":"http://127.0.0.1/token","client_id":"c","grant_type":"client_credentials",
            "username":null,"scopes":null,"audience":null}"#;
        crate::files::write_atomic(cache.dir(), &cache.path(&env_name("old")), old.as_bytes())
            .unwrap();
        match cache.read(&env_name("old")) {
            Lookup::Found(t) => {
                assert_eq!(t.issued_for, token(Some(5)).issued_for);
                assert_eq!(t.issued_for.subject, None);
            }
            other => panic!("{other:?}"),
        }
        let written = serde_json::to_string(&token(Some(5))).unwrap();
        assert!(!written.contains("subject"), "{written}");
    }
}
