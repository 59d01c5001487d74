//! What each request gets (SPEC §9): the agent's own SSO session,
//! refreshed under the session lock and written back to its keychain;
//! tokens of the environments whose own file says `AGENT_SHARE=true`,
//! through the normal cache and its lock; compare-and-discard; the status.
//!
//! The configuration is read again for every request, so a changed file
//! (a newly shared environment, another SSO setting) applies without a
//! restart. The stored session is kept in memory and read from the
//! keychain again only when the SSO folder's generation stamp changed (a
//! login, refresh or logout by any lmi process on this machine, the
//! agent's own refreshes included): a small file read per request instead
//! of a keychain round trip. Answers carry access tokens, ID tokens, expiry, user and
//! issuer, and the environment's API settings; the answer types have no
//! room for anything else.

use std::sync::{Arc, Mutex};

use crate::auth::cache::TokenCache;
use crate::auth::service::{ServiceAuth, TokenSource};
use crate::auth::sso::store::SessionMemory;
use crate::auth::sso::{current_session, Need, SsoDeps, Store, SystemBrowser};
use crate::auth::token_exchange::SessionSubject;
use crate::clock::{Clock, Sleeper};
use crate::config::{Config, EnvName, Inputs, SsoConfig, SubjectSource};
use crate::env::ProcessEnv;
use crate::error::{Error, Kind, Result};
use crate::http::{Http, Transport};
use crate::paths::Paths;
use crate::secret::Secret;
use crate::terminal::NullTerminal;

use super::protocol::{
    answer_line, DiscardAnswer, EnvironmentsAnswer, ErrorCode, Request, SessionInfo,
    SharedEnvironment, Source, SsoAnswer, SsoSession, StatusAnswer, StopAnswer, TokenAnswer,
    WireError,
};

#[path = "serve_errors.rs"]
mod errors;
#[path = "serve_proof.rs"]
mod proof;
use errors::{keychain, same_issuer, wire, KEYCHAIN_PREFIX};
use proof::ProofAsk;

/// The agent's view of its machine: where its configuration comes from and
/// the seams it works through.
pub struct Serve {
    env: ProcessEnv,
    paths: Paths,
    /// `-e` given to the agent: the environment its SSO settings come from.
    environment: Option<String>,
    command_line: Vec<(String, String)>,
    clock: Arc<dyn Clock>,
    sleeper: Arc<dyn Sleeper>,
    /// One SSO request at a time inside the agent: N clients, one keychain
    /// read and at most one refresh (the session lock orders the agent
    /// with other lmi processes on the machine).
    sso: Mutex<()>,
    /// The stored session as last read, trusted while the SSO folder's
    /// stamp is unchanged: no keychain round trip per request.
    sessions: Arc<SessionMemory>,
}

impl Serve {
    pub fn new(
        env: ProcessEnv,
        paths: Paths,
        environment: Option<String>,
        command_line: Vec<(String, String)>,
        clock: Arc<dyn Clock>,
        sleeper: Arc<dyn Sleeper>,
    ) -> Serve {
        Serve {
            env,
            paths,
            environment,
            command_line,
            clock,
            sleeper,
            sso: Mutex::new(()),
            sessions: Arc::default(),
        }
    }

    /// The answer line to `request`.
    pub fn answer(&self, request: &Request) -> String {
        let answered = match request {
            Request::Status => Ok(answer_line(&self.status())),
            Request::Sso { issuer, client_id } => self
                .sso(issuer.as_deref(), client_id.as_deref())
                .map(|a| answer_line(&a)),
            Request::Token { environment } => self.token(environment).map(|a| answer_line(&a)),
            Request::Discard {
                environment,
                access_token,
            } => self
                .discard(environment, access_token)
                .map(|a| answer_line(&a)),
            Request::Proof {
                environment,
                htm,
                htu,
                access_token,
                nonce,
            } => self
                .proof(&ProofAsk {
                    environment,
                    htm,
                    htu,
                    access_token,
                    nonce: nonce.as_deref(),
                })
                .map(|a| answer_line(&a)),
            Request::Environments => Ok(answer_line(&EnvironmentsAnswer {
                environments: self.shared_environments(),
            })),
            Request::Stop => Ok(answer_line(&StopAnswer {})),
        };
        answered.unwrap_or_else(|e| {
            tracing::info!(target: "agent", "answered {}: {} ({})", request.op(), e.code.as_str(), e.message);
            e.to_line()
        })
    }

    fn config(&self, environment: Option<&str>) -> Result<Config> {
        let settings = crate::config::load(&Inputs {
            env: &self.env,
            paths: &self.paths,
            environment_flag: environment,
            command_line: &self.command_line,
        })?;
        Ok(Config::new(settings, self.paths.clone()))
    }

    fn status(&self) -> StatusAnswer {
        let sessions = self.stored_session().into_iter().collect();
        StatusAnswer {
            pid: std::process::id(),
            sessions,
            shared_environments: self.shared_environments(),
        }
    }

    /// The stored session as `status` shows it (no refresh, no network).
    fn stored_session(&self) -> Option<SessionInfo> {
        let config = self.config(self.environment.as_deref()).ok()?;
        if !config.sso_configured() {
            return None;
        }
        // No lock: a status answers while a refresh is under way.
        let store = Store::remembered(config.sso().ok()?, &self.paths, &self.sessions);
        match store.load() {
            Ok(session) => session.map(|s| SessionInfo {
                issuer: s.issuer,
                client_id: s.client_id,
                user: s.user,
                expires_at: s.expires_at,
            }),
            Err(e) => {
                tracing::warn!(target: "agent", "cannot read the SSO session: {}", e.message());
                None
            }
        }
    }

    /// The environments whose own file says `AGENT_SHARE=true`.
    pub fn shared_environments(&self) -> Vec<String> {
        crate::config::list_environments(&self.paths)
            .into_iter()
            .map(|(name, _)| name)
            .filter(|name| self.shared_config(name).is_ok())
            .collect()
    }

    /// The configuration of `name` when it is shared; the same
    /// `not_shared` answer whether it exists or not.
    fn shared_config(&self, name: &str) -> std::result::Result<Config, WireError> {
        let shown = crate::redact::excerpt(name, 64);
        let not_shared = || {
            WireError::new(
                ErrorCode::NotShared,
                format!("the agent shares no environment named {shown:?}"),
            )
            .with_hint("set AGENT_SHARE=true in that environment's file where the agent runs")
        };
        let Some(env) = EnvName::checked(name) else {
            return Err(not_shared());
        };
        if !self.paths.env_file(env.as_str()).is_file() {
            return Err(not_shared());
        }
        let config = match self.config(Some(env.as_str())) {
            Ok(config) => config,
            Err(e) => {
                tracing::warn!(target: "agent", "environment {env}: {}", e.message());
                return Err(not_shared());
            }
        };
        match config.agent_share() {
            Ok(true) => Ok(config),
            Ok(false) => Err(not_shared()),
            Err(e) => {
                tracing::warn!(target: "agent", "environment {env}: {}", e.message());
                Err(not_shared())
            }
        }
    }

    /// Runs `f` with the SSO settings of `config` and the seams the session
    /// logic needs.
    fn with_sso<T>(
        &self,
        config: &Config,
        transport: &dyn Transport,
        f: impl FnOnce(SsoDeps<'_>, &SsoConfig) -> Result<T>,
    ) -> Result<T> {
        let sso = config.sso()?;
        let store = Store::remembered(sso, &self.paths, &self.sessions);
        let browser = SystemBrowser::new(None);
        let deps = SsoDeps {
            clock: self.clock.as_ref(),
            sleeper: self.sleeper.as_ref(),
            transport,
            browser: &browser,
            store: &store,
            terminal: &NullTerminal,
        };
        f(deps, sso)
    }

    fn sso(
        &self,
        issuer: Option<&str>,
        client_id: Option<&str>,
    ) -> std::result::Result<SsoAnswer, WireError> {
        let config = self
            .config(self.environment.as_deref())
            .map_err(|e| wire(&e, ErrorCode::Config))?;
        if !config.sso_configured() {
            return Err(WireError::new(
                ErrorCode::NoSession,
                "SSO is not configured where the agent runs",
            )
            .with_hint("set OAUTH_SSO_CLIENT_ID and the IdP's URLs where the agent runs, and log in there: lmi login sso"));
        }
        let transport = Http::new(
            config
                .http_timeout()
                .map_err(|e| wire(&e, ErrorCode::Config))?,
        );
        let _one = self.sso.lock();
        let session = self
            .with_sso(&config, &transport, |deps, sso| {
                let mismatch = |what: &str, theirs: &str, ours: &str| {
                    Err(Error::new(
                        Kind::Usage,
                        format!("the agent's SSO session is for {what} {ours:?}, not {theirs:?}"),
                    ))
                };
                if let Some(theirs) = client_id.filter(|c| *c != sso.client_id) {
                    return mismatch("client id", theirs, &sso.client_id);
                }
                // A store that cannot be read is the keychain's problem,
                // told apart from a missing or expired session.
                let stored = deps.store.load().map_err(|e| keychain(&e, sso.store))?;
                if let (Some(theirs), Some(stored)) = (issuer, &stored) {
                    if !same_issuer(theirs, &stored.issuer) {
                        return mismatch("issuer", theirs, &stored.issuer);
                    }
                }
                let purpose = format!("the lmi agent (pid {}) serves SSO", std::process::id());
                current_session(&deps, sso, &purpose, Need::AccessToken)
                    .map_err(|e| keychain(&e, sso.store))
            })
            .map_err(|e| match e.kind() {
                Kind::Usage => wire(&e, ErrorCode::SessionMismatch),
                _ if e.message().starts_with(KEYCHAIN_PREFIX) => wire(&e, ErrorCode::Keychain),
                _ => wire(&e, ErrorCode::NoSession)
                    .with_hint("run lmi login sso where the agent runs"),
            })?;
        Ok(SsoAnswer {
            session: SsoSession {
                access_token: session.access_token,
                id_token: session.id_token,
                token_type: session
                    .dpop
                    .token_type
                    .unwrap_or_else(|| "Bearer".to_owned()),
                expires_at: session.expires_at,
                user: session.user,
                issuer: session.issuer,
                client_id: session.client_id,
            },
        })
    }

    fn token(&self, name: &str) -> std::result::Result<TokenAnswer, WireError> {
        let config = self.shared_config(name)?;
        let answer = self
            .with_service(&config, |auth| {
                let (token, source) = auth.token()?;
                let api = config.api()?;
                Ok(SharedEnvironment {
                    name: name.to_owned(),
                    access_token: token.access_token,
                    token_type: token.token_type,
                    expires_at: token.expires_at,
                    source: match source {
                        TokenSource::Cache => Source::Cache,
                        TokenSource::Acquired => Source::Acquired,
                    },
                    api_base_url: api.base.as_ref().map(|u| u.to_string()),
                    api_allowed_origins: api.allowed.clone(),
                    api_graphql_url: api.graphql.as_ref().map(|u| u.to_string()),
                    credential_username: config.credential_username().ok(),
                })
            })
            .map_err(|e| wire(&e, ErrorCode::Auth))?;
        Ok(TokenAnswer {
            environment: answer,
        })
    }

    fn discard(
        &self,
        name: &str,
        access_token: &Secret,
    ) -> std::result::Result<DiscardAnswer, WireError> {
        let config = self.shared_config(name)?;
        let discarded = self
            .with_service(&config, |auth| auth.discard(access_token))
            .map_err(|e| wire(&e, ErrorCode::Auth))?;
        Ok(DiscardAnswer { discarded })
    }

    /// Runs `f` with the environment's service tokens, as a command does
    /// (`Ctx::with_service`): the `REQUIRE_SSO` gate and a token exchange
    /// of the SSO session use the agent's own session.
    fn with_service<T>(
        &self,
        config: &Config,
        f: impl FnOnce(&ServiceAuth<'_>) -> Result<T>,
    ) -> Result<T> {
        let service = config.service()?;
        let transport = Http::new(config.http_timeout()?);
        let cache = TokenCache::new(self.paths.tokens_dir());
        let environment = service.environment.as_str();
        let gate = || {
            let _one = self.sso.lock();
            self.with_sso(config, &transport, |deps, sso| {
                crate::auth::sso::require_session(&deps, sso, Some(environment))
            })
        };
        let mut auth = ServiceAuth::new(service, &cache, &transport, self.clock.as_ref());
        if service.require_sso {
            auth = auth.with_gate(&gate);
        }
        if service.subject == Some(SubjectSource::SsoSession) && config.sso_configured() {
            return self.with_sso(config, &transport, |deps, sso| {
                let session = SessionSubject {
                    deps,
                    config: sso,
                    environment,
                };
                f(&auth.with_session_subject(&session))
            });
        }
        f(&auth)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FixedClock;
    use crate::config::StoreKind;

    fn serve_in(home: &std::path::Path, vars: &[(&str, &str)]) -> Serve {
        let mut pairs = vec![("HOME", home.to_str().unwrap())];
        pairs.extend_from_slice(vars);
        let env = ProcessEnv::from_pairs(pairs);
        let paths = Paths::from_env(&env);
        let clock = Arc::new(FixedClock::at(1_800_000_000));
        Serve::new(env, paths, None, Vec::new(), clock.clone(), clock)
    }

    fn write_env(home: &std::path::Path, name: &str, text: &str) {
        let dir = home.join(".config/lmi/env");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.env")), text).unwrap();
    }

    #[test]
    fn only_environments_whose_file_says_so_are_shared() {
        let home = tempfile::tempdir().unwrap();
        let base = "OAUTH_TOKEN_URL=http://127.0.0.1:9/token\nOAUTH_CLIENT_ID=c\n";
        write_env(home.path(), "yes", &format!("{base}AGENT_SHARE=true\n"));
        write_env(home.path(), "plain", base);
        write_env(home.path(), "off", &format!("{base}AGENT_SHARE=false\n"));
        // The process environment shares nothing.
        let serve = serve_in(home.path(), &[("AGENT_SHARE", "true")]);
        assert_eq!(serve.shared_environments(), vec!["yes".to_owned()]);
        let not_shared = |name: &str| {
            let line = serve.answer(&Request::Token {
                environment: name.into(),
            });
            let err =
                super::super::protocol::parse_answer::<TokenAnswer>(line.as_bytes()).unwrap_err();
            assert_eq!(err.code, ErrorCode::NotShared, "{name}");
            err.message.replace(name, "NAME")
        };
        let messages: Vec<String> = ["plain", "off", "missing", "../yes"]
            .into_iter()
            .map(not_shared)
            .collect();
        assert!(messages.windows(2).all(|w| w[0] == w[1]), "{messages:?}");
    }

    #[test]
    fn sso_without_configuration_is_no_session() {
        let home = tempfile::tempdir().unwrap();
        let serve = serve_in(home.path(), &[]);
        let line = serve.answer(&Request::Sso {
            issuer: None,
            client_id: None,
        });
        let err = super::super::protocol::parse_answer::<SsoAnswer>(line.as_bytes()).unwrap_err();
        assert_eq!(err.code, ErrorCode::NoSession);
        assert!(err.message.contains("not configured"), "{}", err.message);
        assert_eq!(
            serve.status(),
            StatusAnswer {
                pid: std::process::id(),
                sessions: vec![],
                shared_environments: vec![],
            }
        );
    }

    #[test]
    fn errors_keep_their_domain_and_are_cleaned() {
        let e = Error::config("bad \u{1b}[2J key").with_hint("fix it");
        let w = wire(&e, ErrorCode::Auth);
        assert_eq!(w.code, ErrorCode::Config);
        assert!(!w.message.contains('\u{1b}'));
        assert_eq!(w.hint.as_deref(), Some("fix it"));
        assert_eq!(
            wire(&Error::auth("x"), ErrorCode::Auth).code,
            ErrorCode::Auth
        );
        assert_eq!(
            wire(&Error::internal("x"), ErrorCode::Auth).code,
            ErrorCode::Internal
        );
        let k = keychain(
            &Error::auth("the OS keychain failed: locked"),
            StoreKind::Keychain,
        );
        assert!(k.message().starts_with(KEYCHAIN_PREFIX), "{}", k.message());
        let f = keychain(&Error::auth("the OS keychain failed"), StoreKind::File);
        assert!(!f.message().starts_with(KEYCHAIN_PREFIX));
        assert!(same_issuer("https://idp.test/", "https://idp.test"));
        assert!(!same_issuer("https://idp.test/a", "https://idp.test"));
    }
}
