//! What the SSO work needs from outside it, in one struct: the clock, the
//! HTTP transport, the browser and the session store ([`SsoDeps`]). Commands
//! build the real ones with [`SystemDeps`]; tests pass a fixed clock, canned
//! HTTP answers, a recording browser and a store in memory.

use crate::auth::clock::{Clock, SystemClock};
use crate::http::{Http, Transport};
use crate::paths::Paths;

use super::browser::{Browser, SystemBrowser};
use super::config::SsoConfig;
use super::store::Store;

/// The seams of the SSO session logic.
#[derive(Clone, Copy)]
pub struct SsoDeps<'a> {
    pub clock: &'a dyn Clock,
    pub transport: &'a dyn Transport,
    pub browser: &'a dyn Browser,
    pub store: &'a Store,
}

/// The real dependencies for one configuration: the system clock, an HTTP
/// agent with `HTTP_TIMEOUT`, the configured store and `$BROWSER`.
pub struct SystemDeps {
    http: Http,
    store: Store,
    browser: SystemBrowser,
}

impl SystemDeps {
    /// `browser_var` is the `BROWSER` value from the caller's environment
    /// snapshot.
    pub fn new(config: &SsoConfig, paths: &Paths, browser_var: Option<&str>) -> SystemDeps {
        SystemDeps {
            http: Http::new(config.http_timeout),
            store: Store::configured(config, paths),
            browser: SystemBrowser::new(browser_var),
        }
    }

    pub fn deps(&self) -> SsoDeps<'_> {
        SsoDeps {
            clock: &SystemClock,
            transport: &self.http,
            browser: &self.browser,
            store: &self.store,
        }
    }
}
