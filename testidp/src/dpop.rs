//! DPoP (RFC 9449) at the IdP's token endpoint and at the API, as a strict
//! server checks it: the proof's signature by its embedded `jwk`, `typ`,
//! `htm`, `htu`, `iat` within a window, a `jti` never seen before, `ath`
//! (API), the key's thumbprint against the token's `cnf.jkt` (API), and the
//! server's own nonce on demand (`use_dpop_nonce` with a `DPoP-Nonce`
//! header). A DPoP-bound token sent as `Bearer` is refused.
//!
//! [`DpopBehaviour`] (in [`crate::Behaviour::dpop`]) turns it on per client;
//! the counters are [`crate::TestServer`] methods below.

use std::cell::RefCell;
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::behaviour::{Behaviour, Client};
use crate::http::Reply;
use crate::record::RecordedRequest;
use crate::state::{now_secs, random_token, AccessToken, Shared};
use crate::TestServer;

/// How the servers treat DPoP. Default: no client needs it (a proof that
/// comes anyway is still checked and binds the token).
#[derive(Debug, Clone)]
pub struct DpopBehaviour {
    /// Clients whose token requests must carry a proof.
    pub clients: Vec<String>,
    /// The token endpoint wants its current nonce in every proof.
    pub token_nonce: bool,
    /// The token endpoint answers `use_dpop_nonce` with a new nonce every
    /// time (a broken server: no proof ever has the right one).
    pub token_nonce_always: bool,
    /// The API wants its current nonce in every proof.
    pub api_nonce: bool,
    /// The token endpoint ignores the proof and answers a Bearer token.
    pub answer_bearer: bool,
    /// How far a proof's `iat` may be from now, in seconds. Default 60.
    pub iat_window: u64,
}

impl Default for DpopBehaviour {
    fn default() -> Self {
        DpopBehaviour {
            clients: Vec::new(),
            token_nonce: false,
            token_nonce_always: false,
            api_nonce: false,
            answer_bearer: false,
            iat_window: 60,
        }
    }
}

impl DpopBehaviour {
    /// DPoP required for `client`.
    pub fn for_client(client: &str) -> Self {
        DpopBehaviour {
            clients: vec![client.to_string()],
            ..DpopBehaviour::default()
        }
    }
}

/// What the servers remember about proofs.
#[derive(Debug, Default)]
pub(crate) struct DpopState {
    jtis: Mutex<HashSet<String>>,
    token_nonce: Mutex<Option<String>>,
    api_nonce: Mutex<Option<String>>,
    token_proofs: AtomicUsize,
    api_proofs: AtomicUsize,
    token_challenges: AtomicUsize,
    api_challenges: AtomicUsize,
    bearer_refusals: AtomicUsize,
    rejections: Mutex<Vec<String>>,
    proofs_seen: Mutex<Vec<String>>,
}

thread_local! {
    /// The thumbprint the token minted by this request thread binds to.
    static BINDING: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Unbinds when the token request is over.
pub(crate) struct Binding;

impl Drop for Binding {
    fn drop(&mut self) {
        BINDING.with(|b| b.borrow_mut().take());
    }
}

/// The key the token being minted on this thread is bound to, if any.
pub(crate) fn current_binding() -> Option<String> {
    BINDING.with(|b| b.borrow().clone())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The current nonce of one side, made on first use; `rotate` makes a new one.
fn nonce(slot: &Mutex<Option<String>>, rotate: bool) -> String {
    let mut slot = lock(slot);
    if rotate || slot.is_none() {
        *slot = Some(random_token());
    }
    slot.clone().unwrap_or_default()
}

/// RFC 7638 thumbprint of an EC P-256 JWK.
pub fn thumbprint(jwk: &Value) -> Option<String> {
    let (crv, x, y) = (jwk["crv"].as_str()?, jwk["x"].as_str()?, jwk["y"].as_str()?);
    let canonical = format!(r#"{{"crv":"{crv}","kty":"EC","x":"{x}","y":"{y}"}}"#);
    Some(URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes())))
}

/// A verified proof: its key's thumbprint and its claims.
struct Verified {
    jkt: String,
    claims: Value,
}

/// Checks a proof's form, signature, `htm`, `htu`, `iat`, `jti` and, with an
/// access token, `ath`.
fn verify(
    state: &DpopState,
    b: &Behaviour,
    proof: &str,
    htm: &str,
    htu: &str,
    access_token: Option<&str>,
) -> Result<Verified, String> {
    lock(&state.proofs_seen).push(proof.to_string());
    let header_json = proof
        .split('.')
        .next()
        .and_then(|h| URL_SAFE_NO_PAD.decode(h).ok())
        .and_then(|h| serde_json::from_slice::<Value>(&h).ok())
        .ok_or("the proof is not a JWT")?;
    if header_json["typ"] != "dpop+jwt" {
        return Err(format!("typ is {}, not dpop+jwt", header_json["typ"]));
    }
    let jwk_json = &header_json["jwk"];
    if jwk_json.get("d").is_some() {
        return Err("the jwk holds a private key".into());
    }
    let header = jsonwebtoken::decode_header(proof).map_err(|e| format!("header: {e}"))?;
    if header.alg != Algorithm::ES256 {
        return Err(format!("alg {:?} is not ES256", header.alg));
    }
    let jwk = header.jwk.ok_or("no jwk in the header")?;
    let key = DecodingKey::from_jwk(&jwk).map_err(|e| format!("jwk: {e}"))?;
    let mut validation = Validation::new(Algorithm::ES256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    let claims = jsonwebtoken::decode::<Value>(proof, &key, &validation)
        .map_err(|e| format!("signature: {e}"))?
        .claims;
    if claims["htm"] != htm {
        return Err(format!("htm {} is not {htm}", claims["htm"]));
    }
    if claims["htu"] != htu {
        return Err(format!("htu {} is not {htu}", claims["htu"]));
    }
    let iat = claims["iat"].as_u64().ok_or("no iat")?;
    if now_secs().abs_diff(iat) > b.dpop.iat_window {
        return Err(format!("iat {iat} is outside the window"));
    }
    let jti = claims["jti"].as_str().ok_or("no jti")?;
    if !lock(&state.jtis).insert(jti.to_string()) {
        return Err("jti was used before (a replay)".into());
    }
    if let Some(token) = access_token {
        let want = URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()));
        if claims["ath"] != want.as_str() {
            return Err("ath is not the hash of the access token".into());
        }
    }
    let jkt = thumbprint(jwk_json).ok_or("the jwk is not an EC key")?;
    Ok(Verified { jkt, claims })
}

fn reject(state: &DpopState, why: String) {
    lock(&state.rejections).push(why);
}

/// The token endpoint's check, after client authentication: `Ok` with the
/// binding for the token about to be minted, or the error reply.
pub(crate) fn token_endpoint(
    shared: &Shared,
    b: &Behaviour,
    client: &Client,
    req: &RecordedRequest,
) -> Result<Binding, Reply> {
    let state = &shared.dpop;
    let Some(proof) = req.header("dpop") else {
        if b.dpop.clients.contains(&client.id) {
            reject(state, "no proof at the token endpoint".into());
            return Err(Reply::oauth_error(
                400,
                "invalid_dpop_proof",
                "This client must send a DPoP proof",
            ));
        }
        return Ok(Binding);
    };
    let htu = format!("{}/token", shared.idp_url);
    let verified = verify(state, b, proof, "POST", &htu, None).map_err(|why| {
        reject(state, why.clone());
        Reply::oauth_error(400, "invalid_dpop_proof", &why)
    })?;
    if b.dpop.token_nonce || b.dpop.token_nonce_always {
        let current = nonce(&state.token_nonce, b.dpop.token_nonce_always);
        if verified.claims["nonce"] != current.as_str() {
            state.token_challenges.fetch_add(1, Ordering::SeqCst);
            return Err(Reply::oauth_error(
                400,
                "use_dpop_nonce",
                "Authorization server requires nonce in DPoP proof",
            )
            .header("DPoP-Nonce", &current));
        }
    }
    state.token_proofs.fetch_add(1, Ordering::SeqCst);
    if !b.dpop.answer_bearer {
        BINDING.with(|slot| *slot.borrow_mut() = Some(verified.jkt));
    }
    Ok(Binding)
}

fn challenge(error: &str, description: &str) -> Reply {
    Reply::json(401, &serde_json::json!({ "error": error })).header(
        "WWW-Authenticate",
        &format!(r#"DPoP algs="ES256", error="{error}", error_description="{description}""#),
    )
}

/// The API's check of a `DPoP` authorization before the token is looked
/// up: the proof, and the API's nonce when it wants one.
pub(crate) fn api_proof(
    shared: &Shared,
    req: &RecordedRequest,
    token: &str,
) -> Result<String, Reply> {
    let state = &shared.dpop;
    let b = shared.behaviour();
    let Some(proof) = req.header("dpop") else {
        reject(state, "a DPoP token without a proof".into());
        return Err(challenge("invalid_dpop_proof", "DPoP proof required"));
    };
    let htu = format!("{}{}", shared.api_url, req.path);
    let verified = verify(state, &b, proof, &req.method, &htu, Some(token)).map_err(|why| {
        reject(state, why);
        challenge("invalid_dpop_proof", "The DPoP proof is invalid")
    })?;
    if b.dpop.api_nonce {
        let current = nonce(&state.api_nonce, false);
        if verified.claims["nonce"] != current.as_str() {
            state.api_challenges.fetch_add(1, Ordering::SeqCst);
            return Err(challenge(
                "use_dpop_nonce",
                "Resource server requires nonce in DPoP proof",
            )
            .header("DPoP-Nonce", &current));
        }
    }
    state.api_proofs.fetch_add(1, Ordering::SeqCst);
    Ok(verified.jkt)
}

/// The binding check once the token is known: a DPoP token only with a
/// proof by its key, and never as `Bearer`.
pub(crate) fn api_binding(
    shared: &Shared,
    scheme_dpop: bool,
    proof_jkt: Option<&str>,
    info: &AccessToken,
) -> Result<(), Reply> {
    let state = &shared.dpop;
    match (&info.jkt, scheme_dpop) {
        (Some(_), false) => {
            state.bearer_refusals.fetch_add(1, Ordering::SeqCst);
            reject(state, "a DPoP-bound token sent as Bearer".into());
            Err(challenge("invalid_token", "This token is DPoP-bound"))
        }
        (Some(jkt), true) if Some(jkt.as_str()) != proof_jkt => {
            reject(state, "the proof's key is not the token's cnf.jkt".into());
            Err(challenge(
                "invalid_dpop_proof",
                "The proof's key is not the token's",
            ))
        }
        (None, true) => {
            reject(state, "a Bearer token sent as DPoP".into());
            Err(challenge("invalid_token", "This token is not DPoP-bound"))
        }
        _ => Ok(()),
    }
}

impl TestServer {
    /// Proofs the token endpoint accepted.
    pub fn dpop_token_proofs(&self) -> usize {
        self.shared.dpop.token_proofs.load(Ordering::SeqCst)
    }

    /// Proofs the API accepted (nonce checks included).
    pub fn dpop_api_proofs(&self) -> usize {
        self.shared.dpop.api_proofs.load(Ordering::SeqCst)
    }

    /// `use_dpop_nonce` answers of the token endpoint.
    pub fn dpop_token_nonce_challenges(&self) -> usize {
        self.shared.dpop.token_challenges.load(Ordering::SeqCst)
    }

    /// `use_dpop_nonce` challenges of the API.
    pub fn dpop_api_nonce_challenges(&self) -> usize {
        self.shared.dpop.api_challenges.load(Ordering::SeqCst)
    }

    /// DPoP-bound tokens the API refused because they came as `Bearer`.
    pub fn dpop_bearer_refusals(&self) -> usize {
        self.shared.dpop.bearer_refusals.load(Ordering::SeqCst)
    }

    /// Why proofs were refused, in order.
    pub fn dpop_rejections(&self) -> Vec<String> {
        lock(&self.shared.dpop.rejections).clone()
    }

    /// Every proof received (token endpoint and API), valid or not.
    pub fn dpop_proofs_seen(&self) -> Vec<String> {
        lock(&self.shared.dpop.proofs_seen).clone()
    }

    /// The token endpoint's current nonce (made now if there is none).
    pub fn dpop_token_nonce(&self) -> String {
        nonce(&self.shared.dpop.token_nonce, false)
    }

    /// The API's current nonce (made now if there is none).
    pub fn dpop_api_nonce(&self) -> String {
        nonce(&self.shared.dpop.api_nonce, false)
    }

    /// The API's next proofs need a new nonce.
    pub fn rotate_dpop_api_nonce(&self) -> String {
        nonce(&self.shared.dpop.api_nonce, true)
    }
}
