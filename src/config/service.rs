//! The typed settings of the environment's service client (SPEC §4): the
//! grant, the client and how it authenticates, the token endpoint, and the
//! timing rules. Built once from [`Settings`]; no network.

use std::time::Duration;

use url::Url;

use super::client_auth::{self, AssertionSource, SubjectSource};
use super::environments::EnvName;
use super::settings::Settings;
use crate::error::{Error, Result};
use crate::http::secure_endpoint;
use crate::paths::Paths;
use crate::secret::Secret;

/// The grant the environment's token comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantKind {
    ClientCredentials,
    Password,
    /// RFC 8693 token exchange (SPEC §4.2).
    TokenExchange,
}

impl GrantKind {
    /// The name used in `OAUTH_GRANT_TYPE`, the cache and `auth status`.
    pub fn name(self) -> &'static str {
        match self {
            GrantKind::ClientCredentials => "client_credentials",
            GrantKind::Password => "password",
            GrantKind::TokenExchange => "token_exchange",
        }
    }

    fn parse(raw: &str) -> Result<GrantKind> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "client_credentials" => Ok(GrantKind::ClientCredentials),
            "password" => Ok(GrantKind::Password),
            "token_exchange" => Ok(GrantKind::TokenExchange),
            other => Err(
                Error::config(format!("OAUTH_GRANT_TYPE {other:?} is not supported"))
                    .with_hint("valid values: client_credentials, password, token_exchange"),
            ),
        }
    }
}

/// How the client authenticates at the token endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// HTTP Basic with the form-urlencoded id and secret.
    Basic,
    /// `client_id` and `client_secret` in the body.
    Post,
    /// A signed JWT instead of a secret (RFC 7523 §2.2, SPEC §4.1).
    PrivateKeyJwt,
}

impl AuthMethod {
    pub fn parse(raw: &str) -> Option<AuthMethod> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "client_secret_basic" => Some(AuthMethod::Basic),
            "client_secret_post" => Some(AuthMethod::Post),
            "private_key_jwt" => Some(AuthMethod::PrivateKeyJwt),
            _ => None,
        }
    }

    /// The name used in `OAUTH_CLIENT_AUTH_METHOD`.
    pub fn name(self) -> &'static str {
        match self {
            AuthMethod::Basic => "client_secret_basic",
            AuthMethod::Post => "client_secret_post",
            AuthMethod::PrivateKeyJwt => "private_key_jwt",
        }
    }
}

/// Where the token endpoint comes from.
#[derive(Debug, Clone)]
pub enum Endpoint {
    Explicit(Url),
    Discover(Url),
}

/// Validated service-auth settings for one environment.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub environment: EnvName,
    pub grant: GrantKind,
    pub client_id: String,
    pub client_secret: Option<Secret>,
    pub auth_method: AuthMethod,
    /// For [`AuthMethod::PrivateKeyJwt`]: the key or the assertion file.
    pub assertion: Option<AssertionSource>,
    /// For [`GrantKind::TokenExchange`]: where the subject token comes from.
    pub subject: Option<SubjectSource>,
    pub endpoint: Endpoint,
    pub scopes: Option<String>,
    pub audience: Option<String>,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// `TOKEN_EXPIRY_SKEW` in seconds.
    pub skew: i64,
    pub timeout: Duration,
    /// `REQUIRE_SSO`: tokens only during a valid SSO session.
    pub require_sso: bool,
    /// `OAUTH_EXCHANGE_ORIGINS`: origins besides the SSO issuer's own token
    /// endpoint that may receive the SSO session's access token (SPEC §4.2).
    pub exchange_origins: Vec<String>,
    /// `OAUTH_DPOP`: tokens bound to the environment's key (SPEC §4.3).
    pub dpop: bool,
}

/// The grant named by the settings (default `client_credentials`), without
/// checking anything else: `auth status` shows it even when other keys are
/// missing.
pub fn grant_name(settings: &Settings) -> String {
    settings
        .get("OAUTH_GRANT_TYPE")
        .unwrap_or(GrantKind::ClientCredentials.name())
        .to_owned()
}

impl ServiceConfig {
    /// Checks every key the grant needs; no network.
    pub fn from_settings(settings: &Settings, paths: &Paths) -> Result<ServiceConfig> {
        let environment = settings.require_environment(paths)?.clone();
        let grant = GrantKind::parse(
            settings
                .get("OAUTH_GRANT_TYPE")
                .unwrap_or(GrantKind::ClientCredentials.name()),
        )?;
        let auth_raw = settings
            .get("OAUTH_CLIENT_AUTH_METHOD")
            .unwrap_or("client_secret_basic");
        let auth_method = AuthMethod::parse(auth_raw).ok_or_else(|| {
            Error::config(format!(
                "OAUTH_CLIENT_AUTH_METHOD {auth_raw:?} is not supported"
            ))
            .with_hint("valid values: client_secret_basic, client_secret_post, private_key_jwt")
        })?;
        let client_id = settings.require("OAUTH_CLIENT_ID", paths)?.to_owned();
        let client_secret = settings.secret("OAUTH_CLIENT_SECRET");
        let assertion = match auth_method {
            AuthMethod::PrivateKeyJwt => Some(client_auth::assertion_source(settings, paths)?),
            AuthMethod::Basic | AuthMethod::Post => None,
        };
        let subject =
            (grant == GrantKind::TokenExchange).then(|| client_auth::subject_source(settings));
        let (username, password) = match grant {
            // A token exchange may come from a public client (SPEC §4.2).
            GrantKind::TokenExchange => (None, None),
            GrantKind::ClientCredentials => {
                if client_secret.is_none() && assertion.is_none() {
                    settings.require("OAUTH_CLIENT_SECRET", paths)?;
                }
                (None, None)
            }
            GrantKind::Password => (
                Some(settings.require("OAUTH_USERNAME", paths)?.to_owned()),
                Some(Secret::new(settings.require("OAUTH_PASSWORD", paths)?)),
            ),
        };
        let endpoint = match (
            settings.get("OAUTH_TOKEN_URL"),
            settings.get("OAUTH_SERVICE_URL"),
        ) {
            (Some(url), _) => Endpoint::Explicit(secure_endpoint("OAUTH_TOKEN_URL", url)?),
            (None, Some(url)) => Endpoint::Discover(secure_endpoint("OAUTH_SERVICE_URL", url)?),
            (None, None) => {
                return Err(Error::config(format!(
                    "neither OAUTH_TOKEN_URL nor OAUTH_SERVICE_URL is set for environment {:?}",
                    environment.as_str()
                ))
                .with_hint(settings.where_to_set("OAUTH_SERVICE_URL (or OAUTH_TOKEN_URL)", paths)))
            }
        };
        let skew = settings.u64("TOKEN_EXPIRY_SKEW")? as i64;
        let timeout = http_timeout(settings)?;
        let require_sso = settings.bool("REQUIRE_SSO")?;
        let exchange_origins = super::api::origins("OAUTH_EXCHANGE_ORIGINS", settings)?;
        let dpop = settings.bool("OAUTH_DPOP")?;
        Ok(ServiceConfig {
            environment,
            grant,
            client_id,
            client_secret,
            auth_method,
            assertion,
            subject,
            endpoint,
            scopes: settings.get("OAUTH_SCOPES").map(str::to_owned),
            audience: settings.get("OAUTH_AUDIENCE").map(str::to_owned),
            username,
            password,
            skew,
            timeout,
            require_sso,
            exchange_origins,
            dpop,
        })
    }
}

/// How the client authenticates, unchecked (for `auth status`).
pub fn client_auth_name(settings: &Settings) -> String {
    client_auth::method_name(settings)
}

/// `HTTP_TIMEOUT` as a duration (0 counts as 1 s).
pub(super) fn http_timeout(settings: &Settings) -> Result<Duration> {
    Ok(Duration::from_secs(settings.u64("HTTP_TIMEOUT")?.max(1)))
}
