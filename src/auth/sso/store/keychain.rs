//! The session in the OS keychain (Secret Service, macOS Keychain, Windows
//! Credential Manager) through the `keyring` crate: service `lmi`, account
//! `sso:<client_id>@<issuer>`, the session as JSON.
//!
//! Every keychain call runs on a helper thread with a time limit
//! ([`KEYCHAIN_TIMEOUT`]): a stalled D-Bus or a keychain prompt nobody
//! answers must not hang lmi (gh bounds its keyring calls the same way).
//! Windows limits the size of one secret, so there a long session is split
//! over several entries.

use std::sync::mpsc;
use std::time::Duration;

use crate::error::{Error, Result};

use super::{decode, encode, Session, SessionStore};

/// The keychain's service name (SPEC §1).
pub const SERVICE: &str = "lmi";
/// Time limit of one keychain call.
pub const KEYCHAIN_TIMEOUT: Duration = Duration::from_secs(3);

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

fn entry(account: &str) -> keyring::Result<keyring::Entry> {
    keyring::Entry::new(SERVICE, account)
}

/// The session in one keychain entry (or, on Windows, several).
#[derive(Debug, Clone)]
pub struct KeychainStore {
    account: String,
}

impl KeychainStore {
    pub fn new(account: String) -> KeychainStore {
        KeychainStore { account }
    }

    /// Reads the parts of a session split over several entries; `None` when
    /// one is missing (a half-written session is no session).
    fn read_chunks(&self, parts: usize) -> Result<Option<String>> {
        let mut joined = String::new();
        for i in 1..=parts {
            let account = chunk_account(&self.account, i);
            match keychain("reading the SSO session", move || {
                entry(&account)?.get_password()
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
            entry(&account)?.get_password()
        })? {
            Ok(text) => text,
            Err(keyring::Error::NoEntry | keyring::Error::BadEncoding(_)) => return Ok(()),
            Err(e) => return Err(keychain_error(e)),
        };
        for i in 1..=chunk_count(&head).unwrap_or(0) {
            let account = chunk_account(&self.account, i);
            match keychain("removing the SSO session", move || {
                entry(&account)?.delete_credential()
            })? {
                Ok(()) | Err(keyring::Error::NoEntry) => {}
                Err(e) => return Err(keychain_error(e)),
            }
        }
        Ok(())
    }
}

impl SessionStore for KeychainStore {
    fn load(&self) -> Result<Option<Session>> {
        let account = self.account.clone();
        let text = match keychain("reading the SSO session", move || {
            entry(&account)?.get_password()
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
        };
        Ok(decode(&text, &self.describe()))
    }

    fn save(&self, session: &Session) -> Result<()> {
        let text = encode(session)?;
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
                    entry(&account)?.set_password(&part)
                })?
                .map_err(keychain_error)?;
            }
            serde_json::json!({ CHUNKS_FIELD: parts.len() }).to_string()
        };
        let account = self.account.clone();
        keychain("saving the SSO session", move || {
            entry(&account)?.set_password(&head)
        })?
        .map_err(keychain_error)?;
        Ok(())
    }

    fn remove(&self) -> Result<bool> {
        self.remove_chunks()?;
        let account = self.account.clone();
        match keychain("removing the SSO session", move || {
            entry(&account)?.delete_credential()
        })? {
            Ok(()) => Ok(true),
            Err(keyring::Error::NoEntry) => Ok(false),
            Err(e) => Err(keychain_error(e)),
        }
    }

    fn describe(&self) -> String {
        format!("keychain entry {SERVICE}/{}", self.account)
    }
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
}
