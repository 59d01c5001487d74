//! The interactive SSO session (SPEC §5).

use serde::Serialize;

use crate::commands::Ctx;
use crate::config::Settings;
use crate::error::{Error, Result};

/// `auth status`'s `sso` object.
#[derive(Debug, Serialize)]
pub struct SsoStatus {
    pub configured: bool,
    pub logged_in: bool,
    pub user: Option<String>,
    pub issuer: Option<String>,
    pub expires_at: Option<String>,
    pub refreshable: bool,
    pub store: String,
}

pub fn status(_ctx: &Ctx, settings: Option<&Settings>) -> Result<SsoStatus> {
    let configured = settings.is_some_and(|s| s.get("OAUTH_SSO_CLIENT_ID").is_some());
    Ok(SsoStatus {
        configured,
        logged_in: false,
        user: None,
        issuer: None,
        expires_at: None,
        refreshable: false,
        store: "keychain".into(),
    })
}

/// The gate for `REQUIRE_SSO=true` environments.
pub fn require_session(_ctx: &Ctx, _settings: &Settings) -> Result<()> {
    Err(Error::auth("this environment requires an SSO session").with_hint("run: lmi login sso"))
}
