//! The identity provider on `idp_url`: its routes, the discovery documents,
//! `/token` (its grants and failure modes), `/jwks` and `/revoke`. Client
//! authentication lives in `client_auth.rs`, token minting in `mint.rs`,
//! `/authorize` in `authorize.rs` and the device grant's own endpoints in
//! `device.rs`.

use std::sync::Arc;
use std::thread;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::behaviour::{Behaviour, Client, TokenFailure, WellKnown};
use crate::client_auth::authenticate;
use crate::device::{self, DEVICE_CODE_GRANT};
use crate::exchange::{self, TOKEN_EXCHANGE_GRANT};
use crate::http::Reply;
use crate::keys;
use crate::mint::issue;
use crate::record::RecordedRequest;
use crate::state::{now_ms, Counters, RefreshGrant, Shared};

/// Authorization codes are valid this long.
const CODE_LIFETIME_MS: u128 = 600_000;

pub(crate) fn handle(shared: &Arc<Shared>, req: RecordedRequest) -> Reply {
    match (req.method.as_str(), req.path.as_str()) {
        (_, "/.well-known/oauth-authorization-server") => discovery(shared, true),
        (_, "/.well-known/openid-configuration") => discovery(shared, false),
        ("POST", "/token") => token(shared, req),
        ("GET", "/authorize") => crate::authorize::authorize(shared, req),
        ("GET", "/jwks") => Reply::json(200, &keys::jwks()),
        ("POST", "/revoke") => revoke(shared, req),
        ("POST", "/device_authorization") => device::authorization(shared, req),
        ("GET", "/device") => device::page(&req),
        ("POST", "/device") => device::confirm(shared, &req),
        ("POST", "/par") => crate::par::push(shared, req),
        _ => Reply::json(404, &json!({ "error": "not_found" })),
    }
}

/// BASE64URL(SHA256(verifier)) — the S256 code challenge of RFC 7636.
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The metadata document (RFC 8414 / OpenID Discovery) for this IdP.
pub(crate) fn metadata(shared: &Shared, b: &Behaviour) -> Value {
    let base = &shared.idp_url;
    let mut m = json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "jwks_uri": format!("{base}/jwks"),
        "response_types_supported": ["code"],
        "grant_types_supported": [
            "authorization_code", "client_credentials", "password", "refresh_token",
            DEVICE_CODE_GRANT, TOKEN_EXCHANGE_GRANT
        ],
        "code_challenge_methods_supported": ["S256"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "subject_types_supported": ["public"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic", "client_secret_post", "private_key_jwt", "none"
        ],
        "token_endpoint_auth_signing_alg_values_supported": [
            "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"
        ],
    });
    if let Some(supported) = b.iss_parameter_supported {
        m["authorization_response_iss_parameter_supported"] = json!(supported);
    }
    if b.device_endpoint_in_metadata {
        m["device_authorization_endpoint"] = json!(format!("{base}/device_authorization"));
    }
    crate::par::advertise(&mut m, base, b);
    if b.revocation_endpoint {
        m["revocation_endpoint"] = json!(format!("{base}/revoke"));
        m["revocation_endpoint_auth_methods_supported"] = json!([
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
            "none"
        ]);
    }
    m
}

fn discovery(shared: &Arc<Shared>, oauth: bool) -> Reply {
    Counters::bump(&shared.counters.discovery);
    let b = shared.behaviour();
    let served = match b.well_known {
        WellKnown::Both => true,
        WellKnown::OAuthOnly => oauth,
        WellKnown::OpenIdOnly => !oauth,
        WellKnown::None => false,
    };
    if served {
        Reply::json(200, &metadata(shared, &b))
    } else {
        Reply::json(404, &json!({ "error": "not_found" }))
    }
}

// ---------------------------------------------------------------------------
// /token
// ---------------------------------------------------------------------------

fn invalid_grant(description: &str) -> Reply {
    Reply::oauth_error(400, "invalid_grant", description)
}

fn token(shared: &Arc<Shared>, req: RecordedRequest) -> Reply {
    let grant = req.param("grant_type").unwrap_or("").to_string();
    Counters::bump(&shared.counters.token);
    {
        let mut log = shared.log();
        *log.token_by_grant.entry(grant.clone()).or_insert(0) += 1;
        log.last_token = Some(req.clone());
        if grant == DEVICE_CODE_GRANT {
            log.device_polls.push(std::time::Instant::now());
        }
        if let Some(code) = req.param("code").filter(|_| grant == "authorization_code") {
            *log.code_redemptions.entry(code.to_string()).or_insert(0) += 1;
        }
    }
    let b = shared.behaviour();
    match &b.token_failure {
        Some(TokenFailure::Slow(d)) => thread::sleep(*d),
        Some(TokenFailure::InvalidClient) => {
            return Reply::oauth_error(401, "invalid_client", "Client authentication failed")
        }
        Some(TokenFailure::InvalidGrant) => {
            return invalid_grant("The provided authorization grant is invalid")
        }
        Some(TokenFailure::ServerError) => {
            return Reply::text(500, "Internal Server Error: the token service fell over\n")
        }
        Some(TokenFailure::NotJson) => return Reply::html(200, "<html>oops</html>"),
        Some(TokenFailure::NoAccessToken) => {
            return Reply::json(200, &json!({ "token_type": "Bearer" })).no_store()
        }
        Some(TokenFailure::ExpiresInString) | Some(TokenFailure::ExpiresInNegative) | None => {}
    }
    let client = match authenticate(shared, &b, &req, "token") {
        Ok(c) => c,
        Err(reply) => return reply,
    };
    // RFC 9449: the proof is checked, and binds what this request mints.
    let _binding = match crate::dpop::token_endpoint(shared, &b, &client, &req) {
        Ok(binding) => binding,
        Err(reply) => return reply,
    };
    let scope = req.param("scope").map(str::to_string);
    let audience = req.param("audience").map(str::to_string);
    match grant.as_str() {
        "client_credentials" => {
            if client.is_public() {
                return Reply::oauth_error(
                    400,
                    "unauthorized_client",
                    "A public client cannot use the client_credentials grant",
                );
            }
            let grant = RefreshGrant {
                client_id: client.id.clone(),
                sub: client.id.clone(),
                scope,
                audience,
                sso: false,
                act: None,
            };
            issue(shared, &b, &grant, b.refresh_for_client_credentials, None)
        }
        "password" => {
            let username = req.param("username").unwrap_or("");
            let password = req.param("password").unwrap_or("");
            match b.user(username) {
                Some(u) if u.password == password => {}
                _ => return invalid_grant("Invalid username or password"),
            }
            let grant = RefreshGrant {
                client_id: client.id.clone(),
                sub: username.to_string(),
                scope,
                audience,
                sso: false,
                act: None,
            };
            issue(shared, &b, &grant, b.issue_refresh_tokens, None)
        }
        "refresh_token" => refresh(shared, &b, &client, &req),
        "authorization_code" => authorization_code(shared, &b, &client, &req),
        DEVICE_CODE_GRANT => device::poll(shared, &b, &client, &req),
        TOKEN_EXCHANGE_GRANT => exchange::exchange(shared, &b, &client, &req),
        "" => Reply::oauth_error(400, "invalid_request", "Missing grant_type"),
        other => Reply::oauth_error(
            400,
            "unsupported_grant_type",
            &format!("Grant type {other} is not supported"),
        ),
    }
}

fn refresh(shared: &Arc<Shared>, b: &Behaviour, client: &Client, req: &RecordedRequest) -> Reply {
    if b.refresh_failure {
        return invalid_grant("The refresh token is invalid or expired");
    }
    let Some(presented) = req.param("refresh_token") else {
        return Reply::oauth_error(400, "invalid_request", "Missing refresh_token");
    };
    let mut grant = {
        let mut store = shared.store();
        match store.refresh.get(presented) {
            Some(g) if g.client_id == client.id => {}
            _ => return invalid_grant("The refresh token is invalid or expired"),
        }
        if b.issue_refresh_tokens {
            // Rotation: the presented token is single-use.
            store.refresh.remove(presented).expect("checked above")
        } else {
            store
                .refresh
                .get(presented)
                .cloned()
                .expect("checked above")
        }
    };
    if let Some(scope) = req.param("scope") {
        grant.scope = Some(scope.to_string());
    }
    let sso = grant.sso.then_some(None);
    issue(shared, b, &grant, b.issue_refresh_tokens, sso)
}

fn authorization_code(
    shared: &Arc<Shared>,
    b: &Behaviour,
    client: &Client,
    req: &RecordedRequest,
) -> Reply {
    let Some(code) = req.param("code") else {
        return Reply::oauth_error(400, "invalid_request", "Missing code");
    };
    // Single use: the code is gone whatever happens next.
    let Some(ac) = shared.store().codes.remove(code) else {
        return invalid_grant("The authorization code is invalid, expired or already used");
    };
    if now_ms().saturating_sub(ac.issued_ms) > CODE_LIFETIME_MS {
        return invalid_grant("The authorization code has expired");
    }
    if ac.client_id != client.id {
        return invalid_grant("The authorization code was issued to another client");
    }
    if req.param("redirect_uri") != Some(ac.redirect_uri.as_str()) {
        return invalid_grant("redirect_uri does not match the authorization request");
    }
    match req.param("code_verifier") {
        Some(v) if pkce_challenge(v) == ac.code_challenge => {}
        Some(_) => return invalid_grant("PKCE verification failed"),
        None => return invalid_grant("Missing code_verifier (PKCE is required)"),
    }
    let grant = RefreshGrant {
        client_id: client.id.clone(),
        sub: b.sso_user.sub.clone(),
        scope: ac.scope,
        audience: None,
        sso: true,
        act: None,
    };
    issue(shared, b, &grant, b.issue_refresh_tokens, Some(ac.nonce))
}

// ---------------------------------------------------------------------------
// /revoke (RFC 7009)
// ---------------------------------------------------------------------------

fn revoke(shared: &Arc<Shared>, req: RecordedRequest) -> Reply {
    let b = shared.behaviour();
    if !b.revocation_endpoint {
        return Reply::json(404, &json!({ "error": "not_found" }));
    }
    if let Err(reply) = authenticate(shared, &b, &req, "revoke") {
        return reply;
    }
    if b.revocation_failure {
        return Reply::text(
            500,
            "Internal Server Error: the revocation service fell over\n",
        );
    }
    let Some(token) = req.param("token") else {
        return Reply::oauth_error(400, "invalid_request", "Missing token");
    };
    {
        let mut store = shared.store();
        store.refresh.remove(token);
        store.access.remove(token);
    }
    shared.log().revocations.push(token.to_string());
    Reply::empty(200)
}
