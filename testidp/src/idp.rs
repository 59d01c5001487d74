//! The identity provider on `idp_url`: discovery documents, `/token` (its
//! grants, client authentication, failure modes), `/authorize` (auto-approve
//! with PKCE, RFC 9207 `iss`), `/jwks` and `/revoke`; also token minting (opaque or JWT
//! access tokens, refresh tokens, ID tokens with their faults). The device
//! grant's own endpoints live in `device.rs`.

use std::sync::Arc;
use std::thread;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::behaviour::{
    AuthorizationIss, Behaviour, Client, IdTokenFault, TokenFailure, WellKnown,
};
use crate::device::{self, DEVICE_CODE_GRANT};
use crate::exchange::{self, TOKEN_EXCHANGE_GRANT};
use crate::http::Reply;
use crate::keys::{self, Signer};
use crate::record::RecordedRequest;
use crate::state::{
    now_ms, now_secs, random_token, AccessToken, AuthCode, Counters, RefreshGrant, Shared,
};

/// Authorization codes are valid this long.
const CODE_LIFETIME_MS: u128 = 600_000;
/// `exp` of JWTs when `token_lifetime` is `None`.
const DEFAULT_JWT_LIFETIME: u64 = 3600;

pub(crate) fn handle(shared: &Arc<Shared>, req: RecordedRequest) -> Reply {
    match (req.method.as_str(), req.path.as_str()) {
        (_, "/.well-known/oauth-authorization-server") => discovery(shared, true),
        (_, "/.well-known/openid-configuration") => discovery(shared, false),
        ("POST", "/token") => token(shared, req),
        ("GET", "/authorize") => authorize(shared, req),
        ("GET", "/jwks") => Reply::json(200, &keys::jwks()),
        ("POST", "/revoke") => revoke(shared, req),
        ("POST", "/device_authorization") => device::authorization(shared, req),
        ("GET", "/device") => device::page(&req),
        ("POST", "/device") => device::confirm(shared, &req),
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
// Client authentication (RFC 6749 §2.3.1)
// ---------------------------------------------------------------------------

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
            },
        );
        if let Some(rt) = &refresh_token {
            store.refresh.insert(rt.clone(), grant.clone());
        }
    }
    let mut body = Map::new();
    body.insert("access_token".into(), json!(access_token));
    body.insert("token_type".into(), json!("Bearer"));
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

// ---------------------------------------------------------------------------
// /authorize
// ---------------------------------------------------------------------------

/// Accepts only `http://127.0.0.1:<port>/callback` (RFC 8252 loopback).
fn valid_redirect_uri(uri: &str) -> bool {
    let Ok(u) = url::Url::parse(uri) else {
        return false;
    };
    u.scheme() == "http"
        && u.host_str() == Some("127.0.0.1")
        && u.port().is_some()
        && u.path() == "/callback"
        && u.query().is_none()
        && u.fragment().is_none()
}

fn bad_authorize(msg: &str) -> Reply {
    Reply::text(400, &format!("Bad authorization request: {msg}\n"))
}

fn authorize(shared: &Arc<Shared>, req: RecordedRequest) -> Reply {
    Counters::bump(&shared.counters.authorize);
    shared.log().last_authorize = Some(req.clone());
    let b = shared.behaviour();
    let q = |name: &str| req.query_param(name);
    if q("response_type").as_deref() != Some("code") {
        return bad_authorize("response_type must be code");
    }
    let Some(client_id) = q("client_id").filter(|id| b.client(id).is_some()) else {
        return bad_authorize("unknown client_id");
    };
    let Some(redirect_uri) = q("redirect_uri").filter(|u| valid_redirect_uri(u)) else {
        return bad_authorize("redirect_uri must be http://127.0.0.1:<port>/callback");
    };
    if q("code_challenge_method").as_deref() != Some("S256") {
        return bad_authorize("code_challenge_method must be S256");
    }
    let Some(code_challenge) = q("code_challenge").filter(|c| !c.is_empty()) else {
        return bad_authorize("code_challenge is required");
    };
    let state = q("state");
    let mut target = url::Url::parse(&redirect_uri).expect("validated above");
    {
        let mut pairs = target.query_pairs_mut();
        if let Some((error, description)) = &b.authorize_error {
            pairs.append_pair("error", error);
            pairs.append_pair("error_description", description);
        } else {
            let code = random_token();
            shared.store().codes.insert(
                code.clone(),
                AuthCode {
                    client_id,
                    redirect_uri: redirect_uri.clone(),
                    code_challenge,
                    nonce: q("nonce"),
                    scope: q("scope"),
                    issued_ms: now_ms(),
                },
            );
            pairs.append_pair("code", &code);
            shared.log().issued_codes.push(code);
        }
        if let Some(state) = &state {
            pairs.append_pair("state", state);
        }
        // RFC 9207 §2: on success and error responses alike.
        match &b.authorization_iss {
            AuthorizationIss::Omit => {}
            AuthorizationIss::Correct => {
                pairs.append_pair("iss", &shared.idp_url);
            }
            AuthorizationIss::Wrong => {
                pairs.append_pair("iss", "https://mix-up.example.test");
            }
            AuthorizationIss::Value(v) => {
                pairs.append_pair("iss", v);
            }
        }
    }
    shared.log().last_authorization_response = Some(target.to_string());
    Reply::redirect(target.as_str())
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
