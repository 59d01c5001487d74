//! The interactive SSO session (SPEC §5).
//!
//! - [`SsoConfig`], the SSO settings validated, comes from `config::sso`
//!   (re-exported here).
//! - `deps`: the clock, transport, browser and store the rest works with.
//! - `idp`: the IdP's endpoints, discovery, ID token checks, token requests.
//! - `session`: refresh, `auth status`, the `REQUIRE_SSO` gate.
//! - `binding`: the settings and user a stored session is bound to.
//! - `flow`: `login sso` and `logout sso`.
//! - `choice`: which login flow (`OAUTH_SSO_FLOW`, `--device`, `auto`).
//! - `device`: the device authorization grant (RFC 8628); `device_checks`:
//!   what its response may ask lmi to show.
//! - `waiting`: the updating line while lmi waits for a person.
//! - `store`: where the session lives (keychain, opt-in file, memory) and
//!   the lock files.
//! - `pkce`: PKCE verifier/challenge, `state`, `nonce`.
//! - `loopback`: the `127.0.0.1` redirect listener (RFC 8252 §7.3).
//! - `browser`: `$BROWSER` or the platform opener.
//! - `id_token`: ID token validation against the issuer's JWKS.
//!
//! Nothing here knows the commands: they build an [`SsoDeps`] and call in.

pub mod binding;
pub mod browser;
pub mod choice;
pub mod deps;
pub mod device;
pub mod device_checks;
pub mod flow;
pub mod id_token;
pub mod idp;
pub mod loopback;
pub mod pkce;
pub mod session;
pub mod store;
pub mod waiting;

#[cfg(test)]
mod testing;

pub use crate::config::{SsoConfig, StoreKind};
pub use browser::{Browser, SystemBrowser};
pub use deps::SsoDeps;
pub use idp::Idp;
pub use session::{
    current_session, refresh, require_session, status, valid_session, Need, RefreshFailure,
    SsoStatus,
};
pub use store::{MemoryStore, Session, SessionStore, Store};
