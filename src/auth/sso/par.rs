//! The URL the browser login opens (SPEC §5.2): the authorization request's
//! parameters in its query, or, when the IdP takes pushed authorization
//! requests (RFC 9126) and `OAUTH_SSO_PAR` allows it, pushed to the PAR
//! endpoint first, so the URL names only `client_id` and the answer's
//! `request_uri`. Whether to push is decided before the listener binds and
//! the browser opens; the push itself is `oauth::par`.

use url::Url;

use crate::auth::dpop::{self, Prover};
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
    /// the parameters carry that a refusal must not quote back.
    pub fn authorization_url(
        &self,
        idp: &Idp<'_>,
        authorize: &Url,
        params: &[(&str, &str)],
        echo: &[&Secret],
    ) -> Result<Url> {
        let mut url = authorize.clone();
        let Some(endpoint) = &self.endpoint else {
            url.query_pairs_mut().extend_pairs(params);
            return Ok(url);
        };
        let pushed = push_proven(idp, endpoint, params, echo)?;
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
        Ok(url)
    }
}

/// Pushes `params`, with a DPoP proof when the session has a key (RFC 9449
/// §5: the PAR endpoint is one of the authorization server's), learning
/// every nonce answered and sending once more when the server asks for one
/// (`use_dpop_nonce`); a second request for a nonce is the error.
fn push_proven(
    idp: &Idp<'_>,
    endpoint: &Url,
    params: &[(&str, &str)],
    echo: &[&Secret],
) -> Result<par::PushedRequest> {
    let timeout = idp.transport.timeout();
    let learn = |prover: &Prover, nonce: &Option<String>| match nonce {
        Some(n) => prover.observe(endpoint, &[(dpop::NONCE_HEADER.to_owned(), n.clone())]),
        None => false,
    };
    let mut retried = false;
    loop {
        let proof = idp
            .dpop()
            .map(|p| p.proof("POST", endpoint, None, idp.now()))
            .transpose()?;
        let headers: Vec<(String, String)> = proof
            .iter()
            .map(|p| (dpop::PROOF_HEADER.to_owned(), p.expose().to_owned()))
            .collect();
        let echo: Vec<&Secret> = echo.iter().copied().chain(proof.iter()).collect();
        match par::push(idp.transport, endpoint, &headers, params, &echo) {
            Ok(pushed) => {
                if let Some(prover) = idp.dpop() {
                    learn(prover, &pushed.dpop_nonce);
                }
                return Ok(pushed);
            }
            Err(e) => {
                let learned = idp.dpop().is_some_and(|p| learn(p, &e.dpop_nonce));
                let asks = e.oauth_code() == Some(dpop::USE_NONCE) && e.dpop_nonce.is_some();
                if idp.dpop().is_some() && asks && !retried {
                    tracing::debug!(target: "sso", "the PAR endpoint asked for a DPoP nonce (new: {learned}); pushing again with it");
                    retried = true;
                    continue;
                }
                return Err(push_failed(&e, timeout));
            }
        }
    }
}

/// The error for a push that failed: exit 4, quoting the server.
fn push_failed(error: &par::PushError, timeout: std::time::Duration) -> Error {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::dpop::{DpopKey, Nonces};
    use crate::auth::sso::testing::*;
    use crate::clock::FixedClock;

    const PAR: &str = "https://idp.test/par";
    const NONCE_ASKED: &str =
        r#"{"error":"use_dpop_nonce","error_description":"nonce is required in the DPoP proof"}"#;

    fn claims(proof: &str) -> serde_json::Value {
        serde_json::Value::Object(crate::auth::inspect::decode(proof).claims.unwrap())
    }

    #[test]
    fn a_push_carries_a_proof_and_is_sent_once_more_for_a_nonce() {
        let config = plain_config();
        let clock = FixedClock::at(1_800_000_000);
        let http = FakeTransport::default();
        http.reply_with(400, &[("DPoP-Nonce", "n-1")], NONCE_ASKED);
        http.reply_with(
            201,
            &[("DPoP-Nonce", "n-2")],
            r#"{"request_uri":"urn:ietf:params:oauth:request_uri:r1","expires_in":60}"#,
        );
        let prover = Prover::new(DpopKey::generate().unwrap(), Nonces::default(), None);
        let idp = Idp::new(&config, &http, &clock);
        let idp = idp.with_dpop(Some(&prover));
        let endpoint = Url::parse(PAR).unwrap();
        let pushed = push_proven(
            &idp,
            &endpoint,
            &[("client_id", CLIENT_ID), ("state", "s")],
            &[],
        )
        .unwrap();
        assert_eq!(
            pushed.request_uri.expose(),
            "urn:ietf:params:oauth:request_uri:r1"
        );
        let sent = http.requests_to(PAR);
        assert_eq!(sent.len(), 2);
        let first = claims(sent[0].header("DPoP").unwrap());
        let second = claims(sent[1].header("DPoP").unwrap());
        assert_eq!(
            (first["htm"].as_str(), first["htu"].as_str()),
            (Some("POST"), Some(PAR))
        );
        assert!(first.get("nonce").is_none());
        assert_eq!(second["nonce"], "n-1");
        assert_ne!(first["jti"], second["jti"]);
        // The latest nonce is kept for the next request to that origin.
        assert_eq!(prover.nonce(&endpoint).as_deref(), Some("n-2"));
    }

    #[test]
    fn a_second_nonce_request_in_a_row_is_the_error() {
        let config = plain_config();
        let clock = FixedClock::at(1_800_000_000);
        let http = FakeTransport::default();
        http.reply_with(400, &[("DPoP-Nonce", "n-1")], NONCE_ASKED);
        http.reply_with(400, &[("DPoP-Nonce", "n-2")], NONCE_ASKED);
        http.reply(201, r#"{"request_uri":"urn:x"}"#);
        let prover = Prover::new(DpopKey::generate().unwrap(), Nonces::default(), None);
        let idp = Idp::new(&config, &http, &clock);
        let idp = idp.with_dpop(Some(&prover));
        let endpoint = Url::parse(PAR).unwrap();
        let error = push_proven(&idp, &endpoint, &[("client_id", CLIENT_ID)], &[]).unwrap_err();
        assert_eq!(error.exit_code(), 4);
        assert!(
            error.message().contains("use_dpop_nonce"),
            "{}",
            error.message()
        );
        assert_eq!(http.requests_to(PAR).len(), 2);

        // Without a key, a push carries no proof and is never sent again.
        let http = FakeTransport::default();
        http.reply_with(400, &[("DPoP-Nonce", "n-1")], NONCE_ASKED);
        let idp = Idp::new(&config, &http, &clock);
        push_proven(&idp, &endpoint, &[("client_id", CLIENT_ID)], &[]).unwrap_err();
        let sent = http.requests_to(PAR);
        assert_eq!(sent.len(), 1);
        assert!(sent[0].header("DPoP").is_none());
    }
}
