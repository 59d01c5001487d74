//! The SSO session a command works with ([`Ctx::with_sso`]): the agent's
//! when one answers (SPEC §9), else the one in this machine's store
//! ([`Ctx::with_local_sso`]), with the seams the session logic needs.

use crate::auth::sso::{SsoDeps, Store};
use crate::config::SsoConfig;
use crate::error::Result;

use super::Ctx;

impl Ctx {
    /// Runs `f` with the SSO settings and the seams the session logic
    /// needs; when an agent answers, the session is the agent's.
    pub fn with_sso<T>(&self, f: impl FnOnce(SsoDeps<'_>, &SsoConfig) -> Result<T>) -> Result<T> {
        if let Some(agent) = self.agent()? {
            let (backend, sso) = self.agent_sso(agent)?;
            let store = Store::new(Box::new(backend), None);
            return f(self.sso_deps(&store)?, &sso);
        }
        self.with_local_sso(f)
    }

    /// [`Ctx::with_sso`] with this machine's own session store, whatever
    /// the agent (`login sso --force`).
    pub fn with_local_sso<T>(
        &self,
        f: impl FnOnce(SsoDeps<'_>, &SsoConfig) -> Result<T>,
    ) -> Result<T> {
        let sso = self.config()?.sso()?;
        let configured;
        let store = match &self.deps.store {
            Some(store) => store,
            None => {
                configured = Store::configured(sso, &self.paths);
                &configured
            }
        };
        f(self.sso_deps(store)?, sso)
    }

    fn sso_deps<'a>(&'a self, store: &'a Store) -> Result<SsoDeps<'a>> {
        Ok(SsoDeps {
            clock: self.deps.clock.as_ref(),
            sleeper: self.deps.sleeper.as_ref(),
            transport: self.transport()?,
            browser: self.deps.browser.as_ref(),
            store,
            terminal: self.deps.terminal.as_ref(),
        })
    }
}
