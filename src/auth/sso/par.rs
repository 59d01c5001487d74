//! The URL the browser login opens (SPEC §5.2): the authorization request's
//! parameters in its query, or, when the IdP takes pushed authorization
//! requests (RFC 9126) and `OAUTH_SSO_PAR` allows it, pushed to the PAR
//! endpoint first, so the URL names only `client_id` and the answer's
//! `request_uri`. Whether to push is decided before the listener binds and
//! the browser opens; the push itself is `oauth::par`.

use url::Url;

use crate::auth::oauth::error::GrantFailure;
use crate::auth::oauth::par;
use crate::config::{ParSetting, SsoConfig};
use crate::error::{Error, Result};
use crate::secret::Secret;

use super::idp::Idp;

/// Whether (and where) this login pushes its request.
#[derive(Debug, Clone)]
pub struct Pushing {
    /// The PAR endpoint to push to; `None` sends the request in the URL.
    pub endpoint: Option<Url>,
    /// The metadata requires pushed requests but `OAUTH_SSO_PAR=false`:
    /// the IdP is expected to refuse the login.
    refusal_expected: bool,
}

/// Decides from `OAUTH_SSO_PAR` and the IdP's metadata (RFC 9126 §5).
pub fn plan(idp: &Idp<'_>, config: &SsoConfig) -> Result<Pushing> {
    let (endpoint, required) = idp.pushed_authorization()?;
    let pushing = match (config.par, endpoint) {
        (ParSetting::Never, _) => {
            if required {
                tracing::warn!(target: "sso", "the IdP's metadata requires pushed authorization requests, but OAUTH_SSO_PAR=false: it will likely refuse this login");
            }
            Pushing {
                endpoint: None,
                refusal_expected: required,
            }
        }
        (ParSetting::Always, None) => {
            return Err(Error::config(format!(
                "OAUTH_SSO_PAR=true, but the metadata of {} names no pushed_authorization_request_endpoint",
                config.issuer_id
            ))
            .with_hint(
                "set OAUTH_SSO_PAR=auto (push when the IdP offers it) or false, or check OAUTH_SSO_ISSUER",
            ))
        }
        (_, endpoint) => Pushing {
            endpoint,
            refusal_expected: false,
        },
    };
    if let Some(endpoint) = &pushing.endpoint {
        tracing::debug!(target: "sso", "pushing the authorization request to {endpoint} (RFC 9126)");
    }
    Ok(pushing)
}

impl Pushing {
    /// A failed login's error, with the hint that the IdP wanted a pushed
    /// request when its metadata says so and lmi did not push.
    pub fn explain(&self, error: Error) -> Error {
        if self.refusal_expected {
            error.with_hint("the IdP requires pushed authorization requests (RFC 9126): remove OAUTH_SSO_PAR=false (the default, auto, pushes)")
        } else {
            error
        }
    }

    /// The URL to open: `authorize` with `params` in its query (keeping any
    /// query the endpoint already has), or with `client_id` and the
    /// `request_uri` the PAR endpoint answered for `params`. `echo` is what
    /// the parameters carry that a refusal must not quote back;
    /// `headers` go with the push (a DPoP proof).
    pub fn authorization_url(
        &self,
        idp: &Idp<'_>,
        authorize: &Url,
        params: &[(&str, &str)],
        headers: &[(String, String)],
        echo: &[&Secret],
    ) -> std::result::Result<(Url, Option<par::PushedRequest>), par::PushError> {
        let mut url = authorize.clone();
        let Some(endpoint) = &self.endpoint else {
            url.query_pairs_mut().extend_pairs(params);
            return Ok((url, None));
        };
        let pushed = par::push(idp.transport, endpoint, headers, params, echo)?;
        tracing::info!(
            target: "sso",
            "pushed the authorization request to {}{}",
            crate::redact::url(endpoint),
            pushed
                .expires_in
                .map(|s| format!("; the browser has {s} s to open it"))
                .unwrap_or_default()
        );
        let client_id = params
            .iter()
            .find(|(k, _)| *k == "client_id")
            .map(|(_, v)| *v)
            .unwrap_or_default();
        url.query_pairs_mut()
            .append_pair("client_id", client_id)
            .append_pair("request_uri", pushed.request_uri.expose());
        Ok((url, Some(pushed)))
    }
}

/// The error for a push that failed: exit 4, quoting the server.
pub fn push_failed(error: &par::PushError, timeout: std::time::Duration) -> Error {
    let hint = match error.failure.as_ref() {
        GrantFailure::Unreachable { .. } => {
            "check OAUTH_SSO_ISSUER and your network, then try again"
        }
        GrantFailure::Refused(e) if matches!(e.code.as_str(), "invalid_client" | "unauthorized_client") => {
            "check OAUTH_SSO_CLIENT_ID and the client's settings at the IdP"
        }
        GrantFailure::Refused(_) => {
            "check OAUTH_SSO_SCOPES, OAUTH_SSO_CLIENT_ID and the client's settings at the IdP (OAUTH_SSO_PAR=false sends the request in the URL instead)"
        }
        _ => "the IdP's PAR endpoint is not working; try again, or set OAUTH_SSO_PAR=false",
    };
    Error::auth(format!("{}; nothing was stored", error.message(timeout))).with_hint(hint)
}
