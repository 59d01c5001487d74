//! Token minting: opaque or JWT access tokens, refresh tokens, and ID
//! tokens with the faults a test asks for; every token minted is stored so
//! the API and `/token` recognise it.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use crate::behaviour::{Behaviour, IdTokenFault, TokenFailure};
use crate::http::Reply;
use crate::keys::{self, Signer};
use crate::state::{now_ms, now_secs, random_token, AccessToken, RefreshGrant, Shared};

/// `exp` of JWTs when `token_lifetime` is `None`.
const DEFAULT_JWT_LIFETIME: u64 = 3600;

/// Mints an access token (and optionally refresh and ID token) for `grant`.
/// `id_token_nonce`: `None` = no ID token; `Some(nonce)` = include one.
pub(crate) fn issue(
    shared: &Arc<Shared>,
    b: &Behaviour,
    grant: &RefreshGrant,
    with_refresh: bool,
    id_token_nonce: Option<Option<String>>,
) -> Reply {
    let body = mint(shared, b, grant, with_refresh, id_token_nonce);
    Reply::json(200, &Value::Object(body)).no_store()
}

/// The token response body of [`issue`]; the tokens are stored.
pub(crate) fn mint(
    shared: &Arc<Shared>,
    b: &Behaviour,
    grant: &RefreshGrant,
    with_refresh: bool,
    id_token_nonce: Option<Option<String>>,
) -> Map<String, Value> {
    let now = now_secs();
    let issued_ms = now_ms();
    let jkt = crate::dpop::current_binding();
    let access_token = if b.jwt_access_tokens {
        let lifetime = b.token_lifetime.unwrap_or(DEFAULT_JWT_LIFETIME);
        let mut claims = json!({
            "iss": shared.idp_url,
            "sub": grant.sub,
            "aud": grant.audience.clone().unwrap_or_else(|| shared.api_url.clone()),
            "iat": now,
            "exp": now + lifetime,
            "client_id": grant.client_id,
            "jti": random_token(),
        });
        if let Some(scope) = &grant.scope {
            claims["scope"] = json!(scope);
        }
        if let Some(act) = &grant.act {
            claims["act"] = act.clone();
        }
        if let Some(jkt) = &jkt {
            claims["cnf"] = json!({ "jkt": jkt });
        }
        shared.keys.sign(&claims, Signer::Real)
    } else {
        random_token()
    };
    let server_lifetime = match (b.token_lifetime, b.jwt_access_tokens) {
        (Some(l), _) => Some(l),
        (None, true) => Some(DEFAULT_JWT_LIFETIME),
        (None, false) => None,
    };
    let refresh_token = with_refresh.then(random_token);
    {
        let mut store = shared.store();
        store.access.insert(
            access_token.clone(),
            AccessToken {
                sub: grant.sub.clone(),
                client_id: grant.client_id.clone(),
                scope: grant.scope.clone(),
                expires_at_ms: server_lifetime.map(|l| issued_ms + u128::from(l) * 1000),
                act: grant.act.clone(),
                jkt: jkt.clone(),
            },
        );
        if let Some(rt) = &refresh_token {
            store.refresh.insert(rt.clone(), grant.clone());
        }
    }
    let mut body = Map::new();
    body.insert("access_token".into(), json!(access_token));
    let token_type = if jkt.is_some() { "DPoP" } else { "Bearer" };
    body.insert("token_type".into(), json!(token_type));
    match (&b.token_failure, b.token_lifetime) {
        (Some(TokenFailure::ExpiresInString), _) => {
            body.insert("expires_in".into(), json!("3600"));
        }
        (Some(TokenFailure::ExpiresInNegative), _) => {
            body.insert("expires_in".into(), json!(-5));
        }
        (_, Some(l)) => {
            body.insert("expires_in".into(), json!(l));
        }
        (_, None) => {}
    }
    if let Some(rt) = refresh_token {
        body.insert("refresh_token".into(), json!(rt));
    }
    if let Some(scope) = &grant.scope {
        body.insert("scope".into(), json!(scope));
    }
    if let Some(nonce) = id_token_nonce {
        if let Some(id_token) = id_token(shared, b, &grant.client_id, nonce) {
            body.insert("id_token".into(), json!(id_token));
        }
    }
    body
}

/// The ID token for the SSO user, broken as `b.id_token_fault` says.
fn id_token(
    shared: &Shared,
    b: &Behaviour,
    client_id: &str,
    nonce: Option<String>,
) -> Option<String> {
    let fault = b.id_token_fault;
    if fault == Some(IdTokenFault::Missing) {
        return None;
    }
    let now = now_secs();
    let lifetime = b.token_lifetime.unwrap_or(DEFAULT_JWT_LIFETIME);
    let mut claims = json!({
        "iss": shared.idp_url,
        "aud": client_id,
        "sub": b.sso_user.sub,
        "iat": now,
        "exp": now + lifetime,
    });
    if let Some(email) = &b.sso_user.email {
        claims["email"] = json!(email);
    }
    if let Some(name) = &b.sso_user.preferred_username {
        claims["preferred_username"] = json!(name);
    }
    if let Some(nonce) = nonce {
        claims["nonce"] = json!(nonce);
    }
    let mut signer = Signer::Real;
    match fault {
        Some(IdTokenFault::BadSignature) => signer = Signer::Rogue,
        Some(IdTokenFault::WrongAudience) => claims["aud"] = json!("someone-else"),
        Some(IdTokenFault::WrongIssuer) => claims["iss"] = json!("http://evil.example.test"),
        Some(IdTokenFault::Expired) => {
            claims["iat"] = json!(now.saturating_sub(7200));
            claims["exp"] = json!(now.saturating_sub(3600));
        }
        Some(IdTokenFault::WrongNonce) => claims["nonce"] = json!("wrong-nonce"),
        Some(IdTokenFault::AlgNone) => return Some(keys::unsigned(&claims)),
        Some(IdTokenFault::Missing) | None => {}
    }
    Some(shared.keys.sign(&claims, signer))
}
