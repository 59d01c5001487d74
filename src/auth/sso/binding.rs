//! What a stored session is bound to (SPEC §5): the issuer, client id and
//! token endpoint it was issued by, and the user (`sub`) it is for.
//!
//! The session is the person's credential. An env file, a variable or a
//! `--set` that points `OAUTH_SSO_TOKEN_URL` (or the issuer, or the client)
//! somewhere else must not receive its refresh token at the next refresh,
//! so a session made under other settings is not used: lmi says so, and
//! that `lmi login sso` makes a new one. Sessions stored before lmi recorded
//! the token endpoint are used only where the endpoint comes from the
//! recorded issuer's own discovery, never with an explicit
//! `OAUTH_SSO_TOKEN_URL` (which nothing vouches for).

use url::Url;

use super::store::Session;
use crate::config::SsoConfig;
use crate::error::Error;

/// Why `session` may not be used under `config`, or `None` when it may.
/// `token_endpoint` is today's token endpoint when it is known (explicit,
/// or already discovered); `None` skips that comparison, for callers that
/// send nothing to the IdP and must not discover it just to compare.
pub fn mismatch(
    session: &Session,
    config: &SsoConfig,
    token_endpoint: Option<&Url>,
) -> Option<String> {
    if session.issuer != config.issuer_id {
        return Some(format!(
            "was made by issuer {}, not {} (OAUTH_SSO_ISSUER)",
            session.issuer, config.issuer_id
        ));
    }
    if session.client_id != config.client_id {
        return Some(format!(
            "was made for client {}, not {} (OAUTH_SSO_CLIENT_ID)",
            session.client_id, config.client_id
        ));
    }
    let today = token_endpoint?;
    match session.token_endpoint.as_deref() {
        Some(recorded) if recorded == today.as_str() => None,
        Some(recorded) => Some(format!(
            "was made at token endpoint {}, not {} (OAUTH_SSO_TOKEN_URL or the issuer's metadata)",
            shown(recorded),
            crate::redact::url(today)
        )),
        // Recorded by an older version without the endpoint: only the
        // endpoint of the recorded issuer's own metadata is trusted.
        None if config.token_url.is_some() => Some(format!(
            "does not record its token endpoint, and OAUTH_SSO_TOKEN_URL names {}",
            crate::redact::url(today)
        )),
        None => None,
    }
}

/// The error for a session that [`mismatch`] refuses.
pub fn refused(why: &str) -> Error {
    Error::auth(format!(
        "the stored SSO session {why}; lmi does not use a session under other settings, and its tokens were not sent"
    ))
    .with_hint("run: lmi login sso (it makes a new session for today's settings)")
}

/// The user the session is for: the recorded `sub`, or for a session stored
/// without one (older versions), the `sub` of its stored ID token, which
/// was validated when it was stored.
pub fn recorded_subject(session: &Session) -> Option<String> {
    if let Some(sub) = &session.subject {
        return Some(sub.clone());
    }
    #[derive(serde::Deserialize)]
    struct Sub {
        sub: Option<String>,
    }
    let token = session.id_token.as_ref()?;
    // The signature was checked against the issuer's JWKS when the token
    // was stored (SPEC §5); the store is trusted as the session itself is.
    let mut validation = jsonwebtoken::Validation::default();
    validation.insecure_disable_signature_validation();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<Sub>(
        token.expose(),
        &jsonwebtoken::DecodingKey::from_secret(&[]),
        &validation,
    )
    .ok()
    .and_then(|data| data.claims.sub)
}

/// A recorded URL as messages show it: credentials in it redacted, and
/// nothing but a URL shown.
fn shown(recorded: &str) -> String {
    Url::parse(recorded).map_or_else(
        |_| "(not a URL)".to_owned(),
        |u| crate::redact::foreign_url(&u),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::sso::testing::*;
    use crate::secret::Secret;

    #[test]
    fn a_session_is_used_only_under_the_settings_that_made_it() {
        let config = plain_config();
        let endpoint = Url::parse(TOKEN_URL).unwrap();
        let mut s = session(0, Some("rt"));
        assert_eq!(s.token_endpoint.as_deref(), Some(endpoint.as_str()));
        assert_eq!(mismatch(&s, &config, Some(&endpoint)), None);
        assert_eq!(mismatch(&s, &config, None), None);

        let elsewhere = Url::parse("http://127.0.0.1:9/token").unwrap();
        let why = mismatch(&s, &config, Some(&elsewhere)).unwrap();
        assert!(why.contains("http://127.0.0.1:9/token"), "{why}");

        let other_client = SsoConfig {
            client_id: "someone-else".into(),
            ..plain_config()
        };
        assert!(mismatch(&s, &other_client, None)
            .unwrap()
            .contains("someone-else"));
        let other_issuer = SsoConfig {
            issuer_id: "https://other.example".into(),
            ..plain_config()
        };
        assert!(mismatch(&s, &other_issuer, None)
            .unwrap()
            .contains("https://other.example"));

        // Older sessions: not under an explicit OAUTH_SSO_TOKEN_URL.
        s.token_endpoint = None;
        assert!(mismatch(&s, &config, Some(&endpoint)).is_some());
        let discovered = SsoConfig {
            token_url: None,
            ..plain_config()
        };
        assert_eq!(mismatch(&s, &discovered, Some(&endpoint)), None);
        let e = refused("x");
        assert_eq!(e.exit_code(), 4);
        assert!(e.hint().unwrap().contains("lmi login sso"));
    }

    #[test]
    fn the_subject_of_an_old_session_is_its_id_tokens_sub() {
        let mut s = session(0, None);
        assert_eq!(recorded_subject(&s).as_deref(), Some("alice"));
        s.subject = None;
        assert_eq!(recorded_subject(&s), None);
        s.id_token = Some(Secret::new(id_token("alice-sub", "a@example.test", 0)));
        assert_eq!(recorded_subject(&s).as_deref(), Some("alice-sub"));
    }
}
