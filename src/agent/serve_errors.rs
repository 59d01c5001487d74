//! How the agent's failures become error answers: a keychain failure told
//! apart from a missing session, and every message cleaned once more.

use crate::agent::protocol::{ErrorCode, WireError};
use crate::config::StoreKind;
use crate::error::{Error, Kind};

/// How a keychain failure's message starts, so the answer can say so.
pub(super) const KEYCHAIN_PREFIX: &str = "the keychain where the agent runs";

/// A store error, marked as the keychain's when the store is the keychain
/// and the error is not about the session itself.
pub(super) fn keychain(e: &Error, store: StoreKind) -> Error {
    if store == StoreKind::Keychain && e.message().contains("keychain") {
        let error = Error::auth(format!("{KEYCHAIN_PREFIX} failed: {}", e.message()));
        return match e.hint() {
            Some(hint) => error.with_hint(hint.to_owned()),
            None => error,
        };
    }
    e.shallow_clone()
}

/// Two issuer URLs name the same issuer (a trailing slash aside).
pub(super) fn same_issuer(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// `e` as an error answer: configuration errors keep their code, anything
/// else that is not a bug gets `code`. Messages are cleaned once more.
pub(super) fn wire(e: &Error, code: ErrorCode) -> WireError {
    let code = match e.kind() {
        Kind::Config => ErrorCode::Config,
        Kind::Internal if code != ErrorCode::Keychain => ErrorCode::Internal,
        _ => code,
    };
    let error = WireError::new(code, crate::redact::server_text(e.message(), &[]));
    match e.hint() {
        Some(hint) => error.with_hint(crate::redact::server_text(hint, &[])),
        None => error,
    }
}
