//! Client authentication at the IdP's endpoints (RFC 6749 §2.3.1): HTTP
//! Basic or body parameters, a public client's bare `client_id`, and a
//! signed `client_assertion` (`private_key_jwt`, RFC 7523 §2.2) checked
//! against the client's registered key.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde_json::Value;

use crate::behaviour::{Behaviour, Client};
use crate::http::Reply;
use crate::keys;
use crate::record::RecordedRequest;
use crate::state::{now_secs, Shared};

fn form_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

fn invalid_client() -> Reply {
    Reply::oauth_error(401, "invalid_client", "Client authentication failed")
        .header("WWW-Authenticate", "Basic realm=\"testidp\"")
}

fn invalid_client_because(description: &str) -> Reply {
    Reply::oauth_error(401, "invalid_client", description)
}

/// Authenticates the client by HTTP Basic or body parameters (RFC 6749
/// §2.3.1), or by a signed `client_assertion` (`private_key_jwt`, RFC 7523
/// §2.2); a public client sends only `client_id`. `endpoint` names the
/// endpoint (`token`, `revoke`, `device_authorization`); the method used is
/// recorded whatever the outcome.
pub(crate) fn authenticate(
    shared: &Shared,
    b: &Behaviour,
    req: &RecordedRequest,
    endpoint: &str,
) -> Result<Client, Reply> {
    let basic = req.authorization().and_then(|h| {
        let (scheme, rest) = h.trim().split_once(' ')?;
        scheme.eq_ignore_ascii_case("basic").then(|| rest.trim())
    });
    let assertion =
        req.param("client_assertion").is_some() || req.param("client_assertion_type").is_some();
    let method = if assertion {
        "private_key_jwt"
    } else if basic.is_some() {
        "client_secret_basic"
    } else if req.param("client_secret").is_some() {
        "client_secret_post"
    } else {
        "none"
    };
    shared
        .log()
        .auth_methods
        .push((endpoint.to_string(), method.to_string()));
    if assertion {
        if basic.is_some() || req.param("client_secret").is_some() {
            return Err(invalid_client_because(
                "More than one client authentication method was used",
            ));
        }
        return verify_assertion(shared, b, req, endpoint);
    }
    let (id, secret) = if let Some(encoded) = basic {
        let decoded = STANDARD
            .decode(encoded)
            .ok()
            .and_then(|d| String::from_utf8(d).ok())
            .ok_or_else(invalid_client)?;
        let (id, secret) = decoded.split_once(':').ok_or_else(invalid_client)?;
        let (id, secret) = (form_decode(id), form_decode(secret));
        if req.param("client_id").is_some_and(|body_id| body_id != id) {
            return Err(invalid_client());
        }
        (id, Some(secret))
    } else if let Some(id) = req.param("client_id") {
        (
            id.to_string(),
            req.param("client_secret").map(str::to_string),
        )
    } else {
        return Err(invalid_client());
    };
    let client = b.client(&id).ok_or_else(invalid_client)?;
    if client.key.is_some() {
        return Err(invalid_client_because(
            "This client authenticates with private_key_jwt: send a client_assertion",
        ));
    }
    let ok = match (&client.secret, secret.as_deref()) {
        (Some(expected), Some(given)) => expected == given,
        (None, None) | (None, Some("")) => true,
        _ => false,
    };
    if ok {
        Ok(client.clone())
    } else {
        Err(invalid_client())
    }
}

/// Algorithms accepted for client assertions (asymmetric only).
const ASSERTION_ALGORITHMS: [jsonwebtoken::Algorithm; 8] = {
    use jsonwebtoken::Algorithm::*;
    [RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384]
};

/// Checks a `private_key_jwt` assertion (RFC 7523 §3): type, signature with
/// the client's registered key, `iss` = `sub` = client id, `aud` naming this
/// server, `exp` in the future and at most `client_assertion_max_lifetime`
/// away, and a `jti` never seen before.
fn verify_assertion(
    shared: &Shared,
    b: &Behaviour,
    req: &RecordedRequest,
    endpoint: &str,
) -> Result<Client, Reply> {
    if req.param("client_assertion_type") != Some(keys::CLIENT_ASSERTION_TYPE) {
        return Err(invalid_client_because(&format!(
            "client_assertion_type must be {}",
            keys::CLIENT_ASSERTION_TYPE
        )));
    }
    let Some(assertion) = req.param("client_assertion").map(str::trim) else {
        return Err(invalid_client_because("Missing client_assertion"));
    };
    let header = jsonwebtoken::decode_header(assertion)
        .map_err(|e| invalid_client_because(&format!("client_assertion is not a JWT: {e}")))?;
    // Read the claims unverified first, only to find whose key to use.
    let claims: Value = assertion
        .split('.')
        .nth(1)
        .and_then(|c| URL_SAFE_NO_PAD.decode(c).ok())
        .and_then(|c| serde_json::from_slice(&c).ok())
        .ok_or_else(|| invalid_client_because("client_assertion claims are not JSON"))?;
    shared.log().last_assertion_claims = Some(claims.clone());
    let Some(sub) = claims["sub"].as_str() else {
        return Err(invalid_client_because("client_assertion has no sub"));
    };
    if req.param("client_id").is_some_and(|id| id != sub) {
        return Err(invalid_client_because(
            "client_id differs from the client_assertion's sub",
        ));
    }
    let client = b
        .client(sub)
        .ok_or_else(|| invalid_client_because("Unknown client"))?;
    let Some(key_text) = &client.key else {
        return Err(invalid_client_because(
            "This client has no registered key for private_key_jwt",
        ));
    };
    if !ASSERTION_ALGORITHMS.contains(&header.alg) {
        return Err(invalid_client_because(&format!(
            "client_assertion algorithm {:?} is not accepted",
            header.alg
        )));
    }
    let key = keys::public_key(key_text)
        .ok_or_else(|| invalid_client_because("The client's registered key is unusable"))?;
    let base = &shared.idp_url;
    let audiences = [
        format!("{base}/token"),
        base.clone(),
        format!("{base}/{endpoint}"),
    ];
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.leeway = 0;
    validation.set_audience(&audiences);
    validation.set_issuer(&[client.id.as_str()]);
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    let verified = jsonwebtoken::decode::<Value>(assertion, &key, &validation)
        .map_err(|e| invalid_client_because(&format!("client_assertion rejected: {e}")))?
        .claims;
    let exp = verified["exp"].as_u64().unwrap_or(0);
    if exp > now_secs() + b.client_assertion_max_lifetime {
        return Err(invalid_client_because(&format!(
            "client_assertion expires more than {} s from now",
            b.client_assertion_max_lifetime
        )));
    }
    let Some(jti) = verified["jti"].as_str() else {
        return Err(invalid_client_because("client_assertion has no jti"));
    };
    if !shared.store().assertion_jtis.insert(jti.to_string()) {
        return Err(invalid_client_because(
            "client_assertion jti was already used (replay)",
        ));
    }
    Ok(client.clone())
}
