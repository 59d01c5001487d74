//! The IdP as lmi talks to it: its endpoints (explicit settings first, the
//! rest discovered once, with the issuer check of RFC 8414 §3.3), ID token
//! validation against its JWKS, token requests as a public client, and the
//! [`Session`] a token response describes.

use std::cell::OnceCell;

use url::Url;

use crate::auth::discovery::{self, Metadata};
use crate::auth::dpop::Prover;
use crate::auth::grants::{
    request_token, AuthMethod, Grant, GrantError, GrantFailure, TokenRequest, TokenResponse,
};
use crate::auth::oauth::dpop::DpopStep;
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::http::{discovered_endpoint, secure_endpoint, Transport};
use crate::secret::Secret;

use super::dpop::DpopRecord;
use super::id_token;
use super::store::Session;
use crate::config::SsoConfig;

/// The RFC 9207 check of an authorization response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssCheck {
    /// The issuer identifier `iss` must equal (simple string comparison,
    /// RFC 9207 §2.4).
    pub issuer: String,
    /// The metadata says `authorization_response_iss_parameter_supported`:
    /// a response without `iss` is refused.
    pub required: bool,
}

/// The IdP's endpoints: explicit settings first, the rest discovered once
/// (RFC 8414, then OpenID Discovery) when first needed.
pub struct Idp<'a> {
    config: &'a SsoConfig,
    pub transport: &'a dyn Transport,
    clock: &'a dyn Clock,
    metadata: OnceCell<Option<Metadata>>,
    /// The key that proves this session's token requests (`OAUTH_SSO_DPOP`).
    dpop: Option<&'a Prover>,
}

impl<'a> Idp<'a> {
    pub fn new(
        config: &'a SsoConfig,
        transport: &'a dyn Transport,
        clock: &'a dyn Clock,
    ) -> Idp<'a> {
        Idp {
            config,
            transport,
            clock,
            metadata: OnceCell::new(),
            dpop: None,
        }
    }

    /// The same IdP (its metadata already discovered), with token requests
    /// proven by `prover` (RFC 9449), or by none.
    pub fn with_dpop(&self, prover: Option<&'a Prover>) -> Idp<'a> {
        Idp {
            config: self.config,
            transport: self.transport,
            clock: self.clock,
            metadata: self.metadata.clone(),
            dpop: prover,
        }
    }

    /// The key that proves this IdP's token requests, when there is one.
    pub fn dpop(&self) -> Option<&'a Prover> {
        self.dpop
    }

    /// Now, by the injected clock (for proofs).
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// The settings this IdP was made from.
    pub fn config(&self) -> &SsoConfig {
        self.config
    }

    /// The issuer's metadata; `None` when no issuer is configured.
    fn metadata(&self) -> Result<Option<&Metadata>> {
        if let Some(meta) = self.metadata.get() {
            return Ok(meta.as_ref());
        }
        let fetched = match &self.config.issuer {
            None => None,
            Some(issuer) => Some(discovery::fetch_issuer(
                self.transport,
                "OAUTH_SSO_ISSUER",
                issuer,
                &self.config.issuer_id,
            )?),
        };
        Ok(self.metadata.get_or_init(|| fetched).as_ref())
    }

    fn discovered(
        &self,
        field: &str,
        value: impl Fn(&Metadata) -> Option<&String>,
    ) -> Result<Option<Url>> {
        let issuer = self.config.issuer.as_ref();
        match (self.metadata()?.and_then(&value), issuer) {
            (Some(raw), Some(issuer)) => Ok(Some(discovered_endpoint(field, raw, issuer)?)),
            (Some(raw), None) => Ok(Some(secure_endpoint(
                &format!("{field} (discovered)"),
                raw,
            )?)),
            (None, _) => Ok(None),
        }
    }

    pub fn authorization_endpoint(&self) -> Result<Url> {
        if let Some(url) = &self.config.authorization_url {
            return Ok(url.clone());
        }
        self.discovered("authorization_endpoint", |m| {
            m.authorization_endpoint.as_ref()
        })?
        .ok_or_else(|| {
            Error::auth(format!(
                "the metadata of {} has no authorization_endpoint",
                self.config.issuer_id
            ))
            .with_hint("set OAUTH_SSO_AUTHORIZATION_URL explicitly")
        })
    }

    pub fn token_endpoint(&self) -> Result<Url> {
        if let Some(url) = &self.config.token_url {
            return Ok(url.clone());
        }
        self.discovered("token_endpoint", |m| m.token_endpoint.as_ref())?
            .ok_or_else(|| {
                Error::auth(format!(
                    "the metadata of {} has no token_endpoint",
                    self.config.issuer_id
                ))
                .with_hint("set OAUTH_SSO_TOKEN_URL explicitly")
            })
    }

    pub fn jwks_uri(&self) -> Result<Url> {
        self.discovered("jwks_uri", |m| m.jwks_uri.as_ref())?
            .ok_or_else(|| {
                Error::auth(format!(
                    "the metadata of {} has no jwks_uri, so lmi cannot check the ID token",
                    self.config.issuer_id
                ))
                .with_hint("check OAUTH_SSO_ISSUER")
            })
    }

    pub fn revocation_endpoint(&self) -> Result<Option<Url>> {
        self.discovered("revocation_endpoint", |m| m.revocation_endpoint.as_ref())
    }

    /// The device authorization endpoint (RFC 8628 §3.1): the configured
    /// one, else the metadata's; `None` when the IdP has none.
    pub fn device_authorization_endpoint(&self) -> Result<Option<Url>> {
        if let Some(url) = &self.config.device_authorization_url {
            return Ok(Some(url.clone()));
        }
        if self.config.issuer.is_none() {
            return Ok(None);
        }
        self.discovered("device_authorization_endpoint", |m| {
            m.device_authorization_endpoint.as_ref()
        })
    }

    /// The PAR endpoint the metadata names (RFC 9126 §5), and whether it
    /// says every authorization request must be pushed. Without an issuer
    /// there is no metadata, hence no endpoint. With an explicit
    /// authorization endpoint the metadata may be missing (then there is no
    /// endpoint either), and its PAR endpoint counts only on the same
    /// origin: a request is pushed to the server that will read it.
    pub fn pushed_authorization(&self) -> Result<(Option<Url>, bool)> {
        if self.config.issuer.is_none() {
            return Ok((None, false));
        }
        let explicit = self.config.authorization_url.as_ref();
        let required = match self.metadata() {
            Ok(meta) => meta.is_some_and(|m| m.require_pushed_authorization_requests),
            Err(e) if explicit.is_some() => {
                tracing::debug!(target: "sso", "no metadata, so no PAR endpoint ({})", e.message());
                return Ok((None, false));
            }
            Err(e) => return Err(e),
        };
        let endpoint = self
            .discovered("pushed_authorization_request_endpoint", |m| {
                m.pushed_authorization_request_endpoint.as_ref()
            })?
            .filter(|par| explicit.is_none_or(|a| a.origin() == par.origin()));
        Ok((endpoint, required))
    }

    /// What an authorization response's `iss` must be (RFC 9207 §2.4):
    /// `None` when no issuer is configured (nothing to compare with).
    pub fn authorization_response_iss(&self) -> Result<Option<IssCheck>> {
        if self.config.issuer.is_none() {
            return Ok(None);
        }
        // With explicit endpoints the metadata may be missing: then `iss`
        // is still compared with the configured issuer, just not required.
        let meta = match self.metadata() {
            Ok(meta) => meta,
            Err(e) => {
                tracing::debug!(target: "sso", "no metadata for the RFC 9207 check ({}); comparing iss with OAUTH_SSO_ISSUER", e.message());
                None
            }
        };
        Ok(Some(IssCheck {
            issuer: meta.map_or_else(|| self.config.issuer_id.clone(), |m| m.issuer.clone()),
            required: meta.is_some_and(|m| m.authorization_response_iss_parameter_supported),
        }))
    }

    /// The `iss` an ID token must carry: the metadata's issuer, verbatim.
    fn expected_issuer(&self) -> Result<String> {
        Ok(self
            .metadata()?
            .map(|m| m.issuer.clone())
            .unwrap_or_else(|| self.config.issuer_id.clone()))
    }

    /// Validates an ID token; `nonce` is `None` on refresh.
    pub fn validate_id_token(
        &self,
        token: &Secret,
        nonce: Option<&str>,
    ) -> Result<id_token::Identity> {
        let issuer = self.expected_issuer()?;
        let keys = id_token::fetch_jwks(self.transport, &self.jwks_uri()?)?;
        id_token::verify(
            token,
            &keys,
            &id_token::Expected {
                issuer: &issuer,
                client_id: &self.config.client_id,
                nonce,
                now: self.clock.now(),
            },
        )
    }

    /// What to check when the IdP's token endpoint fails.
    pub fn hint(failure: &GrantFailure) -> Option<String> {
        let hint = match failure {
            GrantFailure::NoEndpoint(_) => return None,
            GrantFailure::Unreachable { .. } => {
                "check OAUTH_SSO_ISSUER (or OAUTH_SSO_TOKEN_URL) and your network, then try again"
            }
            GrantFailure::Refused(e) if e.code == "invalid_grant" => "run: lmi login sso",
            GrantFailure::Refused(_) => {
                "check OAUTH_SSO_CLIENT_ID and the client's settings at the IdP"
            }
            GrantFailure::NotBound { .. } => {
                "the IdP did not bind the token: lmi's SSO client is not set up for DPoP-bound tokens there; ask for that, or set OAUTH_SSO_DPOP=false"
            }
            GrantFailure::Status { .. } | GrantFailure::Malformed(_) => {
                "the IdP's token endpoint is not working; try again, or check OAUTH_SSO_TOKEN_URL"
            }
        };
        Some(hint.to_owned())
    }

    /// A token request at the SSO token endpoint as the public client
    /// (RFC 8252 §8.4: a native app holds no secret).
    pub fn token_request(&self, grant: Grant) -> std::result::Result<TokenResponse, GrantError> {
        let token_url = self.token_endpoint().map_err(|error| GrantError {
            url: String::new(),
            failure: Box::new(GrantFailure::NoEndpoint(error)),
        })?;
        request_token(
            self.transport,
            &TokenRequest {
                token_url: &token_url,
                client_id: &self.config.client_id,
                client_secret: None,
                auth_method: AuthMethod::Post,
                client_assertion: None,
                grant,
                scopes: None,
                audience: None,
                dpop: self.dpop.map(|prover| DpopStep {
                    prover,
                    now: self.clock.now(),
                }),
            },
        )
    }

    /// The session a token response describes. `previous` supplies what a
    /// refresh response may leave out (refresh token, ID token, user).
    pub fn session_from(
        &self,
        response: TokenResponse,
        nonce: Option<&str>,
        previous: Option<&Session>,
    ) -> Result<Session> {
        let obtained_at = self.clock.now();
        let expires_at = response.expires_at(obtained_at);
        let kept = |p: &Session| {
            let subject = super::binding::recorded_subject(p);
            (p.id_token.clone(), p.user.clone(), subject)
        };
        let (id_token, user, subject) = match response.id_token {
            // An ID token nobody asked for, with no issuer to check it
            // against: it cannot be validated, so it is not kept.
            Some(_) if !self.config.wants_openid() && self.config.issuer.is_none() => {
                tracing::debug!(target: "sso", "ignoring an unrequested ID token (no OAUTH_SSO_ISSUER to validate it)");
                previous.map(kept).unwrap_or((None, None, None))
            }
            Some(token) => {
                let identity = self.validate_id_token(&token, nonce)?;
                // OIDC Core §12.2: a refreshed ID token must name the same
                // user as the session's (for a session stored without
                // `subject`, its stored ID token's `sub`).
                if let Some(before) = previous.and_then(super::binding::recorded_subject) {
                    if before != identity.sub {
                        return Err(Error::auth(
                            "the IdP's refreshed ID token is for another user than the session's; nothing was stored",
                        )
                        .with_hint("run: lmi login sso"));
                    }
                }
                let user = identity.user();
                (Some(token), Some(user), Some(identity.sub))
            }
            None => match previous {
                Some(p) => kept(p),
                // OIDC Core §3.1.3.3: a token response to an openid
                // request carries an ID token; without one lmi cannot tell
                // who logged in.
                None if self.config.wants_openid() => {
                    return Err(Error::auth(
                        "the IdP returned no ID token although the openid scope was requested; nothing was stored",
                    )
                    .with_hint("check OAUTH_SSO_SCOPES and the client's settings at the IdP"))
                }
                None => (None, None, None),
            },
        };
        Ok(Session {
            access_token: response.access_token,
            refresh_token: response
                .refresh_token
                .or_else(|| previous.and_then(|p| p.refresh_token.clone())),
            id_token,
            expires_at,
            issuer: self.config.issuer_id.clone(),
            client_id: self.config.client_id.clone(),
            user,
            subject,
            obtained_at: Some(obtained_at),
            flow: previous.and_then(|p| p.flow.clone()),
            // The endpoint this response came from (resolved by the request).
            token_endpoint: Some(self.token_endpoint()?.to_string()),
            dpop: DpopRecord::of(&response.token_type, self.dpop),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::sso::testing::*;
    use crate::clock::FixedClock;

    #[test]
    fn the_par_endpoint_comes_from_the_metadata_of_the_authorizing_server() {
        let with_par = |http: &FakeTransport, par: &str, required: bool| {
            http.answer(
                &format!("{ISSUER}/.well-known/oauth-authorization-server"),
                200,
                serde_json::json!({
                    "issuer": ISSUER,
                    "authorization_endpoint": format!("{ISSUER}/authorize"),
                    "token_endpoint": TOKEN_URL,
                    "pushed_authorization_request_endpoint": par,
                    "require_pushed_authorization_requests": required,
                }),
            );
        };
        let clock = FixedClock::at(0);
        let config = oidc_config();
        let http = FakeTransport::default();
        with_par(&http, "https://idp.test/par", true);
        let (endpoint, required) = Idp::new(&config, &http, &clock)
            .pushed_authorization()
            .unwrap();
        assert_eq!(endpoint.unwrap().as_str(), "https://idp.test/par");
        assert!(required);
        // An explicit authorization endpoint elsewhere: the issuer's PAR
        // endpoint would not be the server that reads the request.
        let elsewhere = SsoConfig {
            authorization_url: Some(Url::parse("https://other.test/authorize").unwrap()),
            ..oidc_config()
        };
        let (endpoint, _) = Idp::new(&elsewhere, &http, &clock)
            .pushed_authorization()
            .unwrap();
        assert_eq!(endpoint, None);
        // Without an issuer there is no metadata, hence nothing to push to.
        let http = FakeTransport::default();
        let (endpoint, required) = Idp::new(&plain_config(), &http, &clock)
            .pushed_authorization()
            .unwrap();
        assert_eq!((endpoint, required), (None, false));
        assert!(http.sent().is_empty());
    }

    #[test]
    fn metadata_must_name_the_configured_issuer() {
        let config = oidc_config();
        let clock = FixedClock::at(0);
        let http = FakeTransport::default();
        http.idp("https://evil.test");
        let err = Idp::new(&config, &http, &clock)
            .token_endpoint()
            .unwrap_err();
        assert!(
            err.message().contains("https://evil.test"),
            "{}",
            err.message()
        );

        let http = FakeTransport::default();
        http.idp(ISSUER);
        let idp = Idp::new(&config, &http, &clock);
        assert_eq!(idp.token_endpoint().unwrap().as_str(), TOKEN_URL);
        assert_eq!(idp.jwks_uri().unwrap().as_str(), "https://idp.test/jwks");
        // Discovered once, at the RFC 8414 location.
        assert_eq!(http.sent().len(), 1);
    }

    #[test]
    fn sessions_expire_by_expires_in_then_by_the_jwt() {
        let config = plain_config();
        let clock = FixedClock::at(5_000);
        let http = FakeTransport::default();
        let idp = Idp::new(&config, &http, &clock);
        let response = |access: &str, expires_in| TokenResponse {
            access_token: Secret::new(access),
            token_type: "Bearer".into(),
            expires_in,
            refresh_token: None,
            scope: None,
            id_token: None,
        };
        let s = idp
            .session_from(response("at", Some(30)), None, None)
            .unwrap();
        assert_eq!(s.expires_at, Some(5_030));
        assert_eq!(s.issuer, TOKEN_URL);
        // {"alg":"HS256"}.{"exp":4242}.sig
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjQyNDJ9.c2ln";
        let s = idp.session_from(response(jwt, None), None, None).unwrap();
        assert_eq!(s.expires_at, Some(4_242));
        assert!(http.sent().is_empty());
    }
}
