//! The subject of a token exchange (RFC 8693 §2.1, SPEC §4.2): the token in
//! `OAUTH_SUBJECT_TOKEN_FILE`, read afresh for each exchange, or the SSO
//! session's access token, refreshed silently when expired.
//!
//! The cache records who the subject was ([`Subject::identity`]): a SHA-256
//! of the file's token (never the token itself), or the session's issuer
//! and `sub` (never the display name). Another subject is a cache miss. `logout sso` removes the
//! tokens exchanged from the session ([`forget_session_tokens`]).
//!
//! The session's access token is the person's credential: it goes only to
//! the SSO issuer's own token endpoint or to an origin the environment lists
//! in `OAUTH_EXCHANGE_ORIGINS` ([`SessionSubject::check_endpoint`]), so an
//! environment that names some other token endpoint cannot collect it. A
//! subject token file is the environment's own and is not restricted.

use std::time::Duration;

use sha2::{Digest, Sha256};
use url::Url;

use crate::auth::cache::{Lookup, TokenCache};
use crate::auth::client_auth::read_token_file;
use crate::auth::grants::ACCESS_TOKEN_TYPE;
use crate::auth::sso::binding::recorded_subject;
use crate::auth::sso::{valid_session, Idp, Session, SsoConfig, SsoDeps};
use crate::config::{EnvName, SubjectSource};
use crate::error::{Error, Result};
use crate::http::origin;
use crate::redact;
use crate::secret::Secret;

/// How a session subject starts in the cache, to tell it from a file's hash.
const SESSION_PREFIX: &str = "sso ";

/// The subject of one `auth token`: who it is, and its token when already
/// read (a file's), else fetched when an exchange needs it (the session's).
pub struct Subject {
    pub identity: String,
    token: Option<(Secret, String)>,
}

/// The SSO session as a subject: the session logic, with the seams the
/// caller (who knows the store) provides.
pub struct SessionSubject<'a> {
    pub deps: SsoDeps<'a>,
    pub config: &'a SsoConfig,
    /// The environment, for messages.
    pub environment: &'a str,
}

/// The error when there is no session to exchange.
pub fn no_session(environment: &str, detail: &str) -> Error {
    Error::auth(format!(
        "environment {environment:?} exchanges the SSO session's access token \
         (OAUTH_GRANT_TYPE=token_exchange without OAUTH_SUBJECT_TOKEN_FILE), and {detail}"
    ))
    .with_hint("run: lmi login sso (or set OAUTH_SUBJECT_TOKEN_FILE to exchange another token)")
}

impl SessionSubject<'_> {
    fn why(&self) -> String {
        format!(
            "environment {:?} exchanges the SSO session's access token (OAUTH_GRANT_TYPE=token_exchange)",
            self.environment
        )
    }

    /// Whether the session's access token may be sent to `token_url`: the
    /// SSO issuer's own token endpoint (`OAUTH_SSO_TOKEN_URL` or SSO
    /// discovery), or an origin in `allowed` (`OAUTH_EXCHANGE_ORIGINS`).
    /// Otherwise a configuration error naming the endpoint and the key.
    pub fn check_endpoint(&self, token_url: &Url, allowed: &[String]) -> Result<()> {
        let wanted = origin(token_url);
        if allowed.contains(&wanted) {
            return Ok(());
        }
        let own = Idp::new(self.config, self.deps.transport, self.deps.clock).token_endpoint()?;
        if own == *token_url {
            return Ok(());
        }
        Err(Error::config(format!(
            "environment {:?} would send the SSO session's access token to {}, which is not the SSO issuer's token endpoint ({}) and whose origin is not in OAUTH_EXCHANGE_ORIGINS; nothing was sent",
            self.environment,
            redact::url(token_url),
            redact::url(&own)
        ))
        .with_hint(format!(
            "if {wanted} may receive your SSO access token, add it to OAUTH_EXCHANGE_ORIGINS (space-separated origins)"
        )))
    }

    /// Who the session is, read from the store without network.
    fn identity(&self) -> Result<String> {
        match self.deps.store.load()? {
            Some(session) => Ok(session_identity(&session)),
            None => Err(no_session(self.environment, "you are not logged in")),
        }
    }
}

/// `sso <issuer> <sub>`: the session's identity in the cache. The `sub`
/// (recorded, or from the stored ID token) names the account; the display
/// name does not: two accounts may share an email. A session with no known
/// `sub` is named by a hash of its access token, so its exchanged token is
/// never served to another session.
pub fn session_identity(session: &Session) -> String {
    let who = recorded_subject(session)
        .unwrap_or_else(|| format!("#{}", token_identity(&session.access_token)));
    format!("{SESSION_PREFIX}{} {who}", session.issuer)
}

/// `sha256:<hex>` of a subject token: identifies it without storing it.
fn token_identity(token: &Secret) -> String {
    let digest = Sha256::digest(token.expose().as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

impl Subject {
    /// The subject now: the file read afresh, or the session's identity.
    pub fn current(
        source: &SubjectSource,
        session: Option<&SessionSubject<'_>>,
    ) -> Result<Subject> {
        match source {
            SubjectSource::File { path, token_type } => {
                let token = read_token_file("OAUTH_SUBJECT_TOKEN_FILE", path)?;
                Ok(Subject {
                    identity: token_identity(&token),
                    token: Some((token, token_type.clone())),
                })
            }
            SubjectSource::SsoSession => {
                let session = session.ok_or_else(|| {
                    Error::auth("token exchange needs the SSO session, which is not configured")
                        .with_hint("configure SSO (OAUTH_SSO_CLIENT_ID, OAUTH_SSO_ISSUER) and run: lmi login sso, or set OAUTH_SUBJECT_TOKEN_FILE")
                })?;
                Ok(Subject {
                    identity: session.identity()?,
                    token: None,
                })
            }
        }
    }

    /// The subject token and its type, for the exchange: the file's, or the
    /// session's access token, refreshed when expired.
    pub fn token(&self, session: Option<&SessionSubject<'_>>) -> Result<(Secret, String)> {
        if let Some(token) = &self.token {
            return Ok(token.clone());
        }
        let Some(subject) = session else {
            return Err(Error::auth("token exchange has no subject token"));
        };
        let fresh = valid_session(&subject.deps, subject.config, &subject.why())?;
        Ok((fresh.access_token, ACCESS_TOKEN_TYPE.to_owned()))
    }
}

/// Deletes the cached tokens exchanged from the SSO session `identity` (or,
/// when it is unknown, from any SSO session); returns their environments.
pub fn forget_session_tokens(
    cache: &TokenCache,
    identity: Option<&str>,
    wait: Duration,
) -> Vec<EnvName> {
    let mut removed = Vec::new();
    for env in cache.environments() {
        let exchanged = |lookup: Lookup| match lookup {
            Lookup::Found(token) => token.issued_for.subject.as_deref().is_some_and(|s| {
                identity.map_or(s.starts_with(SESSION_PREFIX), |identity| s == identity)
            }),
            _ => false,
        };
        if !exchanged(cache.read(&env)) {
            continue;
        }
        // Under the environment's lock, so a token being written is not lost
        // half-way; check again once we hold it.
        let Ok(_lock) = cache.lock(&env, wait) else {
            continue;
        };
        if exchanged(cache.read(&env)) {
            match cache.remove(&env) {
                Ok(_) => removed.push(env),
                Err(e) => {
                    tracing::warn!(target: "auth", "could not delete {}: {e}", cache.path(&env).display())
                }
            }
        }
    }
    if !removed.is_empty() {
        let names: Vec<&str> = removed.iter().map(EnvName::as_str).collect();
        tracing::info!(target: "auth", "deleted the tokens exchanged from the SSO session: {}", names.join(", "));
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_hide_the_token_and_name_the_session() {
        let id = token_identity(&Secret::new("subject-token-value"));
        assert!(id.starts_with("sha256:") && id.len() == 7 + 64, "{id}");
        assert!(!id.contains("subject-token-value"));
        assert_ne!(id, token_identity(&Secret::new("another")));
        let session = Session {
            access_token: Secret::new("a"),
            refresh_token: None,
            id_token: None,
            expires_at: None,
            issuer: "https://idp.example".into(),
            client_id: "lmi".into(),
            user: Some("alice@example.test".into()),
            subject: Some("alice-sub".into()),
            flow: None,
            obtained_at: None,
            token_endpoint: None,
            dpop: Default::default(),
        };
        assert_eq!(
            session_identity(&session),
            "sso https://idp.example alice-sub"
        );
        // Another account with the same email is another subject.
        let other = Session {
            subject: Some("other-sub".into()),
            ..session.clone()
        };
        assert_ne!(session_identity(&other), session_identity(&session));
        // No sub known: the access token's hash, never the name.
        let unknown = Session {
            subject: None,
            ..session
        };
        let id = session_identity(&unknown);
        assert!(id.starts_with("sso https://idp.example #sha256:"), "{id}");
        assert!(
            !id.contains("alice@example.test") && !id.contains(" a "),
            "{id}"
        );
    }
}
