//! A service environment's DPoP key file, `tokens/.<env>.dpop.jwk` (SPEC
//! §4.3): the private key as a JWK, mode 0600 in a 0700 folder, created on
//! first use and read under the trust rules of SPEC §1. A file that is not
//! a P-256 private JWK, or that others could have written, is a
//! configuration error naming it: it is never replaced, because a replaced
//! key silently orphans every token bound to the old one.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::config::EnvName;
use crate::error::{Error, Result};

use super::DpopKey;

/// Larger than any JWK of a P-256 key; a longer file is not one.
const MAX_KEY_FILE: u64 = 8 * 1024;

/// The key file of `env` in the token folder `tokens_dir`.
pub fn path(tokens_dir: &Path, env: &EnvName) -> PathBuf {
    tokens_dir.join(format!(".{env}.dpop.jwk"))
}

/// The environment's key: read, or made and written when there is none.
pub fn load_or_create(tokens_dir: &Path, env: &EnvName) -> Result<DpopKey> {
    let file = path(tokens_dir, env);
    if let Some(key) = load(tokens_dir, env)? {
        return Ok(key);
    }
    let key = DpopKey::generate()?;
    let mut bytes = key.to_jwk().expose().as_bytes().to_vec();
    bytes.push(b'\n');
    let created = crate::files::create_atomic(tokens_dir, &file, &bytes)
        .map_err(|e| Error::io("cannot write the DPoP key", &file, e))?;
    if created {
        tracing::debug!(target: "auth", "made the DPoP key {} (jkt {})", file.display(), key.thumbprint());
        return Ok(key);
    }
    // Another run made it first: use theirs, so both bind to one key.
    load(tokens_dir, env)?.ok_or_else(|| {
        Error::config(format!(
            "the DPoP key {} vanished while lmi read it",
            file.display()
        ))
    })
}

/// The environment's key, `None` when there is no file yet.
pub fn load(tokens_dir: &Path, env: &EnvName) -> Result<Option<DpopKey>> {
    let file = path(tokens_dir, env);
    let root = tokens_dir.parent().unwrap_or(tokens_dir);
    crate::paths::check_trusted(root, &file)?;
    let meta = match std::fs::symlink_metadata(&file) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("cannot read the DPoP key", &file, e)),
    };
    let shown = file.display();
    if !meta.is_file() {
        return Err(
            Error::config(format!("the DPoP key {shown} is not a regular file"))
                .with_hint(bad_key_hint(&file)),
        );
    }
    let mut text = String::new();
    std::fs::File::open(&file)
        .and_then(|f| f.take(MAX_KEY_FILE + 1).read_to_string(&mut text))
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData => Error::config(format!(
                "the DPoP key {shown} is not a P-256 private JWK (it is not text)"
            ))
            .with_hint(bad_key_hint(&file)),
            _ => Error::io("cannot read the DPoP key", &file, e),
        })?;
    if text.len() as u64 > MAX_KEY_FILE {
        return Err(Error::config(format!(
            "the DPoP key {shown} is not a P-256 private JWK (it is too large)"
        ))
        .with_hint(bad_key_hint(&file)));
    }
    let key = DpopKey::from_jwk(&text).map_err(|problem| {
        Error::config(format!(
            "the DPoP key {shown} is not a P-256 private JWK: it {problem}"
        ))
        .with_hint(bad_key_hint(&file))
    })?;
    Ok(Some(key))
}

fn bad_key_hint(file: &Path) -> String {
    format!(
        "lmi never replaces a key file; if nothing else uses it, remove it \
         (rm {}) and the next token request makes a new key",
        file.display()
    )
}

/// Removes the environment's key file; `Ok(true)` when there was one.
pub fn remove(tokens_dir: &Path, env: &EnvName) -> std::io::Result<bool> {
    crate::files::remove(&path(tokens_dir, env))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> EnvName {
        EnvName::checked("prod").unwrap()
    }

    #[test]
    fn the_key_is_made_once_and_read_back() {
        let home = tempfile::tempdir().unwrap();
        let tokens = home.path().join("tokens");
        assert!(load(&tokens, &env()).unwrap().is_none());
        let made = load_or_create(&tokens, &env()).unwrap();
        let again = load_or_create(&tokens, &env()).unwrap();
        assert_eq!(made.thumbprint(), again.thumbprint());
        let file = path(&tokens, &env());
        assert!(file.ends_with(".prod.dpop.jwk"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&file), 0o600);
            assert_eq!(mode(&tokens), 0o700);
        }
        assert!(remove(&tokens, &env()).unwrap());
        assert!(!file.exists());
        assert!(!remove(&tokens, &env()).unwrap());
    }

    #[test]
    fn a_bad_key_file_is_refused_and_kept() {
        let home = tempfile::tempdir().unwrap();
        let tokens = home.path().join("tokens");
        crate::paths::ensure_private_dir(&tokens).unwrap();
        let file = path(&tokens, &env());
        let rsa = r#"{"kty":"RSA","n":"AQAB","e":"AQAB","d":"AQAB"}"#;
        std::fs::write(&file, rsa).unwrap();
        let err = load_or_create(&tokens, &env()).unwrap_err();
        assert_eq!(err.exit_code(), 3);
        assert!(err.message().contains(&file.display().to_string()));
        assert!(err.message().contains("P-256"), "{}", err.message());
        assert_eq!(std::fs::read_to_string(&file).unwrap(), rsa);
    }

    #[cfg(unix)]
    #[test]
    fn a_key_others_could_write_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let home = tempfile::tempdir().unwrap();
        let tokens = home.path().join("tokens");
        load_or_create(&tokens, &env()).unwrap();
        let file = path(&tokens, &env());
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
        let before = std::fs::read(&file).unwrap();
        let err = load_or_create(&tokens, &env()).unwrap_err();
        assert_eq!(err.exit_code(), 3);
        assert!(
            err.message().contains(".prod.dpop.jwk"),
            "{}",
            err.message()
        );
        assert_eq!(std::fs::read(&file).unwrap(), before);
    }
}
