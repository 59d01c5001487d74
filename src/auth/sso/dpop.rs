//! DPoP for the SSO session (SPEC §4.3, `OAUTH_SSO_DPOP=true`): a login
//! makes a new key, which then lives only inside the session's entry (the
//! keychain secret, or the opt-in file) as `dpop_jwk` and goes with `logout
//! sso`; every token request and push of the session carries a proof; the
//! session records its `token_type`, the key's thumbprint `dpop_jkt` and
//! the latest nonce of each origin, for the next run.

use serde::{Deserialize, Serialize};

use crate::auth::dpop::{self, DpopKey, Nonces, Prover};
use crate::config::SsoConfig;
use crate::error::{Error, Result};
use crate::secret::Secret;

use super::store::Session;

/// What a session records about its binding; flattened into the session's
/// JSON, so the fields sit beside the tokens.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct DpopRecord {
    /// `Bearer` or `DPoP`; sessions from older versions have none (Bearer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// The private key, as a JWK: a secret, like the tokens beside it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_jwk: Option<Secret>,
    /// The key's RFC 7638 thumbprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_jkt: Option<String>,
    /// The latest `DPoP-Nonce` of each origin.
    #[serde(default, skip_serializing_if = "Nonces::is_empty")]
    pub dpop_nonces: Nonces,
}

impl DpopRecord {
    /// What a token response from a request proven by `prover` (or by no
    /// key) leaves in the session.
    pub fn of(token_type: &str, prover: Option<&Prover>) -> DpopRecord {
        DpopRecord {
            token_type: Some(token_type.to_owned()),
            dpop_jwk: prover.map(|p| p.key().to_jwk()),
            dpop_jkt: prover.map(Prover::jkt),
            dpop_nonces: prover.map(Prover::nonces).unwrap_or_default(),
        }
    }

    /// Whether the session's tokens are DPoP-bound.
    pub fn is_dpop(&self) -> bool {
        self.token_type.as_deref().is_some_and(dpop::is_dpop)
    }
}

/// Why `session` does not fit `OAUTH_SSO_DPOP` today, or `None`: a bound
/// session is not refreshed without its proofs, and a bearer session does
/// not stand in for a bound one.
pub fn mismatch(session: &Session, config: &SsoConfig) -> Option<&'static str> {
    match (config.dpop, session.dpop.is_dpop()) {
        (true, false) => Some("is not bound to a DPoP key, and OAUTH_SSO_DPOP=true"),
        (false, true) => Some("is bound to a DPoP key, and OAUTH_SSO_DPOP is not true"),
        _ => None,
    }
}

/// The prover of a stored DPoP session (its own key and nonces); `None`
/// for a bearer session. A key that cannot be read is an error naming the
/// store's entry, never a new key: the tokens are bound to the old one.
pub fn stored_prover(session: &Session) -> Result<Option<Prover>> {
    if !session.dpop.is_dpop() {
        return Ok(None);
    }
    let key = session
        .dpop
        .dpop_jwk
        .as_ref()
        .ok_or_else(|| "no dpop_jwk".to_owned())
        .and_then(|jwk| DpopKey::from_jwk(jwk.expose()).map_err(|p| p.to_string()))
        .map_err(|why| {
            Error::auth(format!(
                "the SSO session is DPoP-bound, but its key cannot be used ({why})"
            ))
            .with_hint("run: lmi login sso --force")
        })?;
    Ok(Some(Prover::new(
        key,
        session.dpop.dpop_nonces.clone(),
        None,
    )))
}

/// The prover of a new login with `OAUTH_SSO_DPOP=true`: a new key, with
/// the nonces the previous session learned (they belong to the server, not
/// the key). `None` when the setting is off.
pub fn login_prover(config: &SsoConfig, previous: Option<&Session>) -> Result<Option<Prover>> {
    if !config.dpop {
        return Ok(None);
    }
    let nonces = previous
        .filter(|p| p.issuer == config.issuer_id)
        .map(|p| p.dpop.dpop_nonces.clone())
        .unwrap_or_default();
    let key = DpopKey::generate()?;
    tracing::debug!(target: "sso", "made a DPoP key for the new session");
    Ok(Some(Prover::new(key, nonces, None)))
}

/// For a DPoP session, whether its access token is bound to the session's
/// key: the token's `cnf.jkt` (RFC 9449 §6.1) when it is a JWT that says,
/// else the thumbprint recorded with it; `None` for a bearer session.
pub fn key_matches(
    session: &Session,
    claims: Option<&serde_json::Map<String, serde_json::Value>>,
) -> Option<bool> {
    if !session.dpop.is_dpop() {
        return None;
    }
    let key = session
        .dpop
        .dpop_jwk
        .as_ref()
        .and_then(|jwk| DpopKey::from_jwk(jwk.expose()).ok())
        .map(|k| k.thumbprint());
    let bound = claims
        .and_then(|c| c.get("cnf"))
        .and_then(|cnf| cnf.get("jkt"))
        .and_then(|v| v.as_str())
        .map(str::to_owned)
        .or_else(|| session.dpop.dpop_jkt.clone());
    Some(key.is_some() && key == bound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::sso::testing::*;

    fn bound_session() -> (Session, Prover) {
        let prover = Prover::new(DpopKey::generate().unwrap(), Nonces::default(), None);
        let session = Session {
            dpop: DpopRecord::of("DPoP", Some(&prover)),
            ..session(1_000, Some("rt"))
        };
        (session, prover)
    }

    #[test]
    fn the_key_lives_in_the_session_entry_beside_the_tokens() {
        let (session, prover) = bound_session();
        let json = serde_json::to_value(&session).unwrap();
        assert_eq!(json["token_type"], "DPoP");
        assert_eq!(json["dpop_jkt"], prover.jkt());
        let jwk: serde_json::Value =
            serde_json::from_str(json["dpop_jwk"].as_str().unwrap()).unwrap();
        assert!(jwk["d"].is_string());
        assert!(json.get("dpop_nonces").is_none(), "no nonce yet: {json}");
        // It reads back, and proves with the same key.
        let back: Session = serde_json::from_value(json).unwrap();
        assert_eq!(back, session);
        let again = stored_prover(&back).unwrap().unwrap();
        assert_eq!(again.jkt(), prover.jkt());
        // Neither Debug nor a bearer session shows a key.
        assert!(!format!("{session:?}").contains(jwk["d"].as_str().unwrap()));
        let bearer = serde_json::to_value(session_of_type("Bearer")).unwrap();
        assert!(bearer.get("dpop_jwk").is_none() && bearer.get("dpop_jkt").is_none());
    }

    fn session_of_type(token_type: &str) -> Session {
        Session {
            dpop: DpopRecord::of(token_type, None),
            ..session(1_000, Some("rt"))
        }
    }

    #[test]
    fn sessions_must_fit_the_setting_and_keep_a_usable_key() {
        let (bound, _) = bound_session();
        let mut config = plain_config();
        assert!(mismatch(&bound, &config).is_some());
        assert!(mismatch(&session_of_type("Bearer"), &config).is_none());
        assert!(
            mismatch(&session(1, None), &config).is_none(),
            "older sessions are Bearer"
        );
        config.dpop = true;
        assert!(mismatch(&bound, &config).is_none());
        assert!(mismatch(&session_of_type("Bearer"), &config).is_some());

        let mut broken = bound.clone();
        broken.dpop.dpop_jwk = Some(Secret::new(r#"{"kty":"RSA"}"#));
        let e = stored_prover(&broken).unwrap_err();
        assert_eq!(e.exit_code(), 4);
        assert!(e.message().contains("P-256"), "{}", e.message());
        broken.dpop.dpop_jwk = None;
        assert!(stored_prover(&broken).is_err());
        assert!(stored_prover(&session_of_type("Bearer")).unwrap().is_none());
    }

    #[test]
    fn the_key_matches_the_tokens_binding() {
        let (session, prover) = bound_session();
        assert_eq!(key_matches(&session, None), Some(true));
        let mut claims = serde_json::Map::new();
        claims.insert("cnf".into(), serde_json::json!({"jkt": "another"}));
        assert_eq!(key_matches(&session, Some(&claims)), Some(false));
        claims.insert("cnf".into(), serde_json::json!({"jkt": prover.jkt()}));
        assert_eq!(key_matches(&session, Some(&claims)), Some(true));
        assert_eq!(key_matches(&session_of_type("Bearer"), None), None);
    }
}
