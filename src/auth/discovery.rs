//! Authorization-server metadata: RFC 8414 first, then OpenID Connect
//! Discovery 1.0, for the token, authorization, JWKS, revocation and device
//! authorization endpoints, and whether authorization responses carry `iss`
//! and authorization requests must be pushed (RFC 9126).

use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::{Error, Result};
use crate::http::Transport;

/// The fields lmi uses from a metadata document.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Metadata {
    pub issuer: String,
    #[serde(default)]
    pub token_endpoint: Option<String>,
    #[serde(default)]
    pub authorization_endpoint: Option<String>,
    #[serde(default)]
    pub jwks_uri: Option<String>,
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
    /// RFC 8628 §4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_authorization_endpoint: Option<String>,
    /// RFC 9207 §3: the IdP puts `iss` on every authorization response, so
    /// a response without one is refused.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub authorization_response_iss_parameter_supported: bool,
    /// RFC 9126 §5: where the browser login pushes its request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pushed_authorization_request_endpoint: Option<String>,
    /// RFC 9126 §5: the IdP accepts only pushed authorization requests.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_pushed_authorization_requests: bool,
}

/// The well-known URLs to try for `issuer`, in order (RFC 8414 §3 inserts
/// the suffix before the path; OpenID appends it).
pub fn candidates(issuer: &Url) -> Vec<Url> {
    let path = issuer.path().trim_end_matches('/');
    let mut out = Vec::new();
    let mut rfc8414 = issuer.clone();
    rfc8414.set_path(&format!("/.well-known/oauth-authorization-server{path}"));
    rfc8414.set_query(None);
    out.push(rfc8414);
    let mut oidc = issuer.clone();
    oidc.set_path(&format!("{path}/.well-known/openid-configuration"));
    oidc.set_query(None);
    out.push(oidc);
    out
}

/// Fetches the metadata for `issuer` and checks that it describes that
/// issuer (RFC 8414 §3.3, OpenID Discovery §4.3), or tokens could be mixed
/// up between servers. `expected` is the issuer identifier as configured.
pub fn fetch_issuer(
    http: &dyn Transport,
    key: &str,
    issuer: &Url,
    expected: &str,
) -> Result<Metadata> {
    let meta = fetch(http, key, issuer)?;
    if meta.issuer.trim_end_matches('/') != expected.trim_end_matches('/') {
        return Err(Error::auth(format!(
            "the metadata found at {issuer} names the issuer {:?}, not {key} {:?}",
            meta.issuer,
            expected.trim_end_matches('/')
        ))
        .with_hint(format!(
            "set {key} to the exact issuer identifier of the server"
        )));
    }
    Ok(meta)
}

/// Fetches the metadata for `issuer` (the config key is named in errors).
pub fn fetch(http: &dyn Transport, key: &str, issuer: &Url) -> Result<Metadata> {
    let mut problems = Vec::new();
    for url in candidates(issuer) {
        match http.get_json(&url) {
            Err(e) => {
                return Err(Error::auth(format!(
                    "metadata discovery failed: {}",
                    e.describe(http.timeout())
                ))
                .with_hint(format!("check {key} and your network"))
                .with_cause(e))
            }
            Ok(resp) if resp.status == 200 => {
                match serde_json::from_slice::<Metadata>(&resp.body) {
                    Ok(meta) => {
                        tracing::debug!(target: "auth", "discovered metadata at {url}");
                        return Ok(meta);
                    }
                    Err(e) => {
                        tracing::debug!(target: "auth", "{url} is not a metadata document: {e}");
                        problems.push(format!("{url}: not a metadata document"))
                    }
                }
            }
            Ok(resp) => problems.push(format!("{url}: HTTP {}", resp.status)),
        }
    }
    Err(Error::auth(format!(
        "no OAuth metadata found for {issuer} ({})",
        problems.join("; ")
    ))
    .with_hint(format!(
        "check {key}, or {}",
        match key {
            "OAUTH_SSO_ISSUER" =>
                "set OAUTH_SSO_AUTHORIZATION_URL and OAUTH_SSO_TOKEN_URL explicitly",
            _ => "set OAUTH_TOKEN_URL explicitly",
        }
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_locations() {
        let c = candidates(&Url::parse("https://idp.example/tenant/a").unwrap());
        assert_eq!(
            c[0].as_str(),
            "https://idp.example/.well-known/oauth-authorization-server/tenant/a"
        );
        assert_eq!(
            c[1].as_str(),
            "https://idp.example/tenant/a/.well-known/openid-configuration"
        );
        let c = candidates(&Url::parse("http://127.0.0.1:9/").unwrap());
        assert_eq!(
            c[0].as_str(),
            "http://127.0.0.1:9/.well-known/oauth-authorization-server"
        );
        assert_eq!(
            c[1].as_str(),
            "http://127.0.0.1:9/.well-known/openid-configuration"
        );
    }
}
