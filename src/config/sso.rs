//! The SSO settings (SPEC §5), validated once into an [`SsoConfig`], and the
//! two questions `auth status` and `logout sso` ask before there is one: is
//! SSO configured at all, and which store holds the session.
//!
//! Everything here reads [`Settings`] and nothing else: no network, no
//! keychain.

use std::time::Duration;

use url::Url;

use super::settings::Settings;
use crate::error::{Error, Result};
use crate::http::secure_endpoint;
use crate::paths::Paths;

/// Validated SSO settings; building them needs no network.
#[derive(Debug, Clone)]
pub struct SsoConfig {
    pub client_id: String,
    /// `OAUTH_SSO_ISSUER`, when set.
    pub issuer: Option<Url>,
    /// The issuer as configured (without a trailing `/`), or the token URL
    /// when no issuer is set: names the session and the keychain account.
    pub issuer_id: String,
    pub authorization_url: Option<Url>,
    pub token_url: Option<Url>,
    /// `OAUTH_SSO_DEVICE_AUTHORIZATION_URL`, when set (RFC 8628 §3.1).
    pub device_authorization_url: Option<Url>,
    /// `OAUTH_SSO_FLOW` (SPEC §5.1).
    pub flow: FlowSetting,
    /// `OAUTH_SSO_PAR` (SPEC §5.2).
    pub par: ParSetting,
    /// `OAUTH_SSO_DPOP`: the session's tokens are bound to a key kept with
    /// the session (SPEC §4.3).
    pub dpop: bool,
    pub scopes: String,
    pub redirect_port: u16,
    pub login_timeout: u64,
    pub store: StoreKind,
    pub skew: i64,
    pub http_timeout: Duration,
}

const DEFAULT_SCOPES: &str = "openid profile email offline_access";

/// Whether SSO is configured: `OAUTH_SSO_CLIENT_ID` is set.
pub(super) fn is_configured(settings: &Settings) -> bool {
    settings.get("OAUTH_SSO_CLIENT_ID").is_some()
}

/// The store `OAUTH_SSO_TOKEN_STORE` names (the keychain when unset).
pub(super) fn store_kind(settings: &Settings) -> Result<StoreKind> {
    StoreKind::parse(settings.get("OAUTH_SSO_TOKEN_STORE"))
}

impl SsoConfig {
    pub fn from_settings(settings: &Settings, paths: &Paths) -> Result<SsoConfig> {
        // The SSO session is one per IdP and client, shared by every
        // environment: its keys belong in the main file.
        let main = paths.main_config();
        let where_to_set = |key: &str| {
            format!(
                "set {key} in {} (the SSO session is shared by all environments) or as an environment variable",
                main.display()
            )
        };
        let client_id = settings
            .get("OAUTH_SSO_CLIENT_ID")
            .ok_or_else(|| {
                Error::config("OAUTH_SSO_CLIENT_ID is not set: SSO is not configured")
                    .with_hint(where_to_set("OAUTH_SSO_CLIENT_ID (and OAUTH_SSO_ISSUER)"))
            })?
            .trim()
            .to_owned();
        let issuer = settings
            .get("OAUTH_SSO_ISSUER")
            .map(|raw| secure_endpoint("OAUTH_SSO_ISSUER", raw))
            .transpose()?;
        let authorization_url = settings
            .get("OAUTH_SSO_AUTHORIZATION_URL")
            .map(|raw| secure_endpoint("OAUTH_SSO_AUTHORIZATION_URL", raw))
            .transpose()?;
        let token_url = settings
            .get("OAUTH_SSO_TOKEN_URL")
            .map(|raw| secure_endpoint("OAUTH_SSO_TOKEN_URL", raw))
            .transpose()?;
        let device_authorization_url = settings
            .get("OAUTH_SSO_DEVICE_AUTHORIZATION_URL")
            .map(|raw| secure_endpoint("OAUTH_SSO_DEVICE_AUTHORIZATION_URL", raw))
            .transpose()?;
        let flow = FlowSetting::parse(settings.get("OAUTH_SSO_FLOW"))?;
        let par = ParSetting::parse(settings.get("OAUTH_SSO_PAR"))?;
        let scopes = settings
            .get("OAUTH_SSO_SCOPES")
            .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| DEFAULT_SCOPES.to_owned());
        let issuer_id = match (&issuer, &token_url, &authorization_url) {
            (Some(_), _, _) => settings
                .get("OAUTH_SSO_ISSUER")
                .unwrap_or_default()
                .trim()
                .trim_end_matches('/')
                .to_owned(),
            (None, Some(token), Some(_)) => token.to_string(),
            _ => return Err(Error::config("OAUTH_SSO_ISSUER is not set")
                .with_hint(where_to_set(
                "OAUTH_SSO_ISSUER (or both OAUTH_SSO_AUTHORIZATION_URL and OAUTH_SSO_TOKEN_URL)",
            ))),
        };
        if issuer.is_none() && wants_openid(&scopes) {
            // The ID token is checked against the issuer and its JWKS.
            return Err(Error::config(
                "OAUTH_SSO_ISSUER is not set, and lmi needs it to validate the ID token that the openid scope asks for",
            )
            .with_hint(where_to_set("OAUTH_SSO_ISSUER")));
        }
        let port = settings.u64("OAUTH_SSO_REDIRECT_PORT")?;
        let redirect_port = u16::try_from(port).map_err(|_| {
            Error::config(format!("OAUTH_SSO_REDIRECT_PORT {port} is not a TCP port"))
                .with_hint("use 0 (any free port) or a port between 1024 and 65535")
        })?;
        Ok(SsoConfig {
            client_id,
            issuer,
            issuer_id,
            authorization_url,
            token_url,
            device_authorization_url,
            flow,
            par,
            dpop: settings.bool("OAUTH_SSO_DPOP")?,
            scopes,
            redirect_port,
            login_timeout: settings.u64("OAUTH_SSO_LOGIN_TIMEOUT")?.max(1),
            store: store_kind(settings)?,
            skew: settings.u64("TOKEN_EXPIRY_SKEW")? as i64,
            http_timeout: super::service::http_timeout(settings)?,
        })
    }

    pub fn wants_openid(&self) -> bool {
        wants_openid(&self.scopes)
    }

    /// How long a refresh may hold the session lock, with room to spare.
    pub(crate) fn refresh_wait(&self) -> Duration {
        self.http_timeout * 4 + Duration::from_secs(10)
    }
}

fn wants_openid(scopes: &str) -> bool {
    scopes.split_whitespace().any(|s| s == "openid")
}

/// `OAUTH_SSO_FLOW`: which login flow `login sso` uses (SPEC §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FlowSetting {
    /// The device flow when this machine cannot show a browser and the IdP
    /// has a device authorization endpoint, else the browser flow.
    #[default]
    Auto,
    /// Authorization Code with PKCE through a loopback redirect.
    Browser,
    /// The device authorization grant (RFC 8628).
    Device,
}

impl FlowSetting {
    pub fn parse(raw: Option<&str>) -> Result<FlowSetting> {
        match raw.map(|r| r.trim().to_ascii_lowercase()).as_deref() {
            None | Some("") | Some("auto") => Ok(FlowSetting::Auto),
            Some("browser") => Ok(FlowSetting::Browser),
            Some("device") => Ok(FlowSetting::Device),
            Some(other) => Err(Error::config(format!(
                "OAUTH_SSO_FLOW {other:?} is not a login flow lmi knows"
            ))
            .with_hint("valid values: auto (the default), browser, device")),
        }
    }
}

/// `OAUTH_SSO_PAR`: whether the browser login pushes its authorization
/// request (RFC 9126, SPEC §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ParSetting {
    /// Push when the IdP's metadata names a PAR endpoint.
    #[default]
    Auto,
    /// Always push; an IdP without a PAR endpoint is a configuration error.
    Always,
    /// Never push.
    Never,
}

impl ParSetting {
    pub fn parse(raw: Option<&str>) -> Result<ParSetting> {
        match raw.map(|r| r.trim().to_ascii_lowercase()).as_deref() {
            None | Some("") | Some("auto") => Ok(ParSetting::Auto),
            Some("true") => Ok(ParSetting::Always),
            Some("false") => Ok(ParSetting::Never),
            Some(other) => Err(Error::config(format!(
                "OAUTH_SSO_PAR {other:?} is not auto, true or false"
            ))
            .with_hint(
                "valid values: auto (the default: push when the IdP offers it), true, false",
            )),
        }
    }
}

/// `OAUTH_SSO_TOKEN_STORE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Keychain,
    File,
}

impl StoreKind {
    pub fn parse(raw: Option<&str>) -> Result<StoreKind> {
        match raw.map(|r| r.trim().to_ascii_lowercase()).as_deref() {
            None | Some("keychain") => Ok(StoreKind::Keychain),
            Some("file") => Ok(StoreKind::File),
            Some(other) => Err(Error::config(format!(
                "OAUTH_SSO_TOKEN_STORE {other:?} is not supported"
            ))
            .with_hint("valid values: keychain (the default), file")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            StoreKind::Keychain => "keychain",
            StoreKind::File => "file",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_kinds() {
        assert_eq!(StoreKind::parse(None).unwrap(), StoreKind::Keychain);
        assert_eq!(StoreKind::parse(Some("File")).unwrap(), StoreKind::File);
        assert_eq!(
            StoreKind::parse(Some("plaintext")).unwrap_err().exit_code(),
            3
        );
    }

    #[test]
    fn flow_settings() {
        assert_eq!(FlowSetting::parse(None).unwrap(), FlowSetting::Auto);
        assert_eq!(
            FlowSetting::parse(Some(" Device ")).unwrap(),
            FlowSetting::Device
        );
        assert_eq!(
            FlowSetting::parse(Some("browser")).unwrap(),
            FlowSetting::Browser
        );
        let err = FlowSetting::parse(Some("telepathy")).unwrap_err();
        assert_eq!(err.exit_code(), 3);
        assert!(err.message().contains("OAUTH_SSO_FLOW"));
        assert_eq!(
            err.hint(),
            Some("valid values: auto (the default), browser, device")
        );
    }

    #[test]
    fn par_settings() {
        assert_eq!(ParSetting::parse(None).unwrap(), ParSetting::Auto);
        assert_eq!(
            ParSetting::parse(Some(" TRUE ")).unwrap(),
            ParSetting::Always
        );
        assert_eq!(ParSetting::parse(Some("false")).unwrap(), ParSetting::Never);
        let err = ParSetting::parse(Some("sometimes")).unwrap_err();
        assert_eq!(err.exit_code(), 3);
        assert!(err.message().contains("OAUTH_SSO_PAR"), "{}", err.message());
    }

    #[test]
    fn openid_is_a_whole_scope() {
        assert!(wants_openid("profile openid"));
        assert!(!wants_openid("openidish profile"));
    }
}
