//! The interactive SSO session (SPEC §5).
//!
//! - [`SsoConfig`], the SSO settings validated, comes from `config::sso`
//!   (re-exported here).
//! - `deps`: the clock, sleeper, transport, browser, store and terminal the
//!   rest works with.
//! - `idp`: the IdP's endpoints, discovery, ID token checks, token requests.
//! - `session`: refresh, the session state `auth status` shows (plain
//!   data; the command formats it), the `REQUIRE_SSO` gate.
//! - `binding`: the settings and user a stored session is bound to.
//! - `dpop`: the session's DPoP key, proofs and binding record
//!   (`OAUTH_SSO_DPOP`), over `auth::dpop`.
//! - `flow`: `login sso` and `logout sso`.
//! - `choice`: which login flow (`OAUTH_SSO_FLOW`, `--device`, `auto`).
//! - `par`: the browser login's URL, its request pushed first (RFC 9126,
//!   `OAUTH_SSO_PAR`) over the core's `auth::oauth::par`, or in the query.
//! - `device`: the device login (RFC 8628), over the core's device
//!   authorization request (`auth::oauth::device`); `device_poll`: polling
//!   the token endpoint; `device_prompt`: what the person is shown;
//!   `device_checks`: what the response may ask lmi to show.
//! - `waiting`: the updating line while lmi waits for a person.
//! - `store`: where the session lives (keychain, opt-in file, memory) and
//!   the lock files.
//! - `pkce`: PKCE verifier/challenge, `state`, `nonce`.
//! - `loopback`: the `127.0.0.1` redirect listener (RFC 8252 §7.3), the
//!   small HTTP server; `callback`: what one request to it means (a pure
//!   decision); `pages`: the HTML it answers with.
//! - `browser`: `$BROWSER` or the platform opener.
//! - `id_token`: ID token validation against the issuer's JWKS.
//!
//! Nothing here knows the commands: they build an [`SsoDeps`] and call in.

pub mod binding;
pub mod browser;
pub mod callback;
pub mod choice;
pub mod deps;
pub mod device;
pub mod device_checks;
pub mod device_poll;
pub mod device_prompt;
pub mod dpop;
pub mod flow;
pub mod id_token;
pub mod idp;
pub mod loopback;
pub mod pages;
pub mod par;
pub mod pkce;
pub mod session;
pub mod store;
pub mod waiting;

#[cfg(test)]
pub(crate) mod testing;

pub use crate::config::{SsoConfig, StoreKind};
pub use browser::{Browser, SystemBrowser};
pub use deps::SsoDeps;
pub use idp::Idp;
pub use session::{
    current_session, refresh, require_session, status, valid_session, Need, RefreshFailure,
    SsoStatus,
};
pub use store::{MemoryStore, Session, SessionStore, Store};
