//! `lmi_testidp`: a local OAuth 2.0 / OpenID Connect identity provider, a
//! small protected API and a foreign "other" origin, all on `127.0.0.1`, for
//! lmi's tests, README demo and benchmarks. TEST TOOLING ONLY: its keys are
//! public and it authenticates nobody for real.
//!
//! Beyond the classic grants the IdP speaks the device authorization grant
//! (RFC 8628, `/device_authorization` and the `/device` page), token exchange
//! (RFC 8693, subject tokens from [`ci_token`] or its own access tokens),
//! `private_key_jwt` client authentication (RFC 7523, keys in
//! `testidp/keys/`), DPoP (RFC 9449, `dpop.rs`: proofs checked at `/token`
//! and at the API, tokens bound), RFC 9207's `iss` on authorization
//! responses and pushed authorization requests (RFC 9126, `par.rs`); the API
//! streams large, broken, truncated or stalled bodies whose bytes
//! [`pattern_bytes`] and [`JsonArrayReader`] reproduce.
//!
//! This file holds the [`TestServer`] handle (start/stop, URLs, runtime
//! behaviour changes, the `/hold` and `/stall` gates) and the crate's
//! re-exports; its counters and recorded requests are in `counters.rs`, and
//! the one bounded wait of lmi's tests is [`wait`].
//!
//! ```no_run
//! let srv = lmi_testidp::TestServer::start_default().unwrap();
//! srv.set(|b| b.token_lifetime = Some(2));
//! println!("{} {}", srv.token_url(), srv.api_url());
//! assert_eq!(srv.token_requests(), 0);
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api;
mod authorize;
mod behaviour;
pub mod browser;
mod client_auth;
mod counters;
mod device;
mod dpop;
mod exchange;
mod expect;
mod graphql;
mod http;
mod idp;
pub mod keys;
mod mint;
mod pages;
mod par;
mod record;
mod relay;
mod state;
mod stream;
pub mod wait;

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;

pub use api::DROP_MISSING_BYTES;
pub use behaviour::{
    AuthorizationIss, Behaviour, Client, DeviceAuthorizationFailure, DeviceDenial, IdTokenFault,
    Options, PollFailure, SsoUser, TokenFailure, User, WellKnown,
};
pub use device::DEVICE_CODE_GRANT;
pub use dpop::{thumbprint as dpop_thumbprint, DpopBehaviour};
pub use exchange::{
    TOKEN_EXCHANGE_GRANT, TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_ID_TOKEN, TOKEN_TYPE_JWT,
};
pub use expect::Hits;
pub use idp::pkce_challenge;
pub use keys::{
    ci_jwk, ci_key_path, ci_token, client_assertion, decoding_key, jwks, key_path,
    CLIENT_ASSERTION_TYPE, KEY_ID,
};
pub use par::{Par, REQUEST_URI_LIFETIME};
pub use record::RecordedRequest;
pub use stream::{
    json_array_item, json_array_item_bytes, json_broken_tail, pattern_byte, pattern_bytes,
    JsonArrayReader, PatternReader,
};
pub use wait::{poll_until, wait_until, TimedOut};

use state::Shared;

/// Fixed ports for [`TestServer::start_on`]; 0 = any free port.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ports {
    pub idp: u16,
    pub api: u16,
    pub other: u16,
}

/// The running IdP, API and other servers. Dropping it stops them.
pub struct TestServer {
    shared: Arc<Shared>,
    stoppers: Vec<http::Stopper>,
    threads: Vec<JoinHandle<()>>,
    /// Checked on drop: see [`TestServer::expect_hits`].
    expected: expect::Expectations,
}

impl TestServer {
    /// Starts the three servers on free loopback ports.
    pub fn start(options: Options) -> io::Result<TestServer> {
        Self::start_on(options, Ports::default())
    }

    /// [`TestServer::start`] with [`Options::default()`].
    pub fn start_default() -> io::Result<TestServer> {
        Self::start(Options::default())
    }

    /// Starts the servers on the given ports (0 = any free port).
    pub fn start_on(options: Options, ports: Ports) -> io::Result<TestServer> {
        let (idp, idp_url) = http::bind(ports.idp)?;
        let (api, api_url) = http::bind(ports.api)?;
        let (other, other_url) = http::bind(ports.other)?;
        let shared = Arc::new(Shared::new(idp_url, api_url, other_url, options));
        let mut srv = TestServer {
            shared: Arc::clone(&shared),
            stoppers: Vec::new(),
            threads: Vec::new(),
            expected: expect::Expectations::default(),
        };
        let servers: [(&str, http::Server, http::Handler); 3] = [
            ("idp", idp, idp::handle),
            ("api", api, api::handle),
            ("other", other, api::handle_other),
        ];
        for (name, server, handler) in servers {
            // On error `srv` is dropped, which stops what already runs.
            let (stopper, threads) = http::serve(name, server, Arc::clone(&shared), handler)?;
            srv.stoppers.push(stopper);
            srv.threads.extend(threads);
        }
        Ok(srv)
    }

    // --- URLs -------------------------------------------------------------

    /// The issuer, `http://127.0.0.1:P1` (no trailing slash).
    pub fn idp_url(&self) -> &str {
        &self.shared.idp_url
    }

    /// The protected API, `http://127.0.0.1:P2` (another origin).
    pub fn api_url(&self) -> &str {
        &self.shared.api_url
    }

    /// The foreign origin that records what it receives, `http://127.0.0.1:P3`.
    pub fn other_url(&self) -> &str {
        &self.shared.other_url
    }

    /// `idp_url() + "/token"`.
    pub fn token_url(&self) -> String {
        format!("{}/token", self.shared.idp_url)
    }

    /// `idp_url() + "/authorize"`.
    pub fn authorize_url(&self) -> String {
        format!("{}/authorize", self.shared.idp_url)
    }

    /// `idp_url() + "/revoke"`.
    pub fn revoke_url(&self) -> String {
        format!("{}/revoke", self.shared.idp_url)
    }

    /// `idp_url() + "/jwks"`.
    pub fn jwks_url(&self) -> String {
        format!("{}/jwks", self.shared.idp_url)
    }

    /// `idp_url() + "/device_authorization"` (RFC 8628 §3.1).
    pub fn device_authorization_url(&self) -> String {
        format!("{}/device_authorization", self.shared.idp_url)
    }

    /// `idp_url() + "/device"`: the `verification_uri` page where a user
    /// agent confirms a user code (`POST` with `user_code`).
    pub fn device_verification_url(&self) -> String {
        format!("{}/device", self.shared.idp_url)
    }

    /// The metadata document as currently served (regardless of `well_known`).
    pub fn metadata(&self) -> serde_json::Value {
        idp::metadata(&self.shared, &self.shared.behaviour())
    }

    // --- behaviour ------------------------------------------------------------

    /// Changes the behaviour; later requests see the change.
    pub fn set(&self, f: impl FnOnce(&mut Behaviour)) {
        self.shared.set_behaviour(f);
    }

    /// A copy of the current behaviour.
    pub fn behaviour(&self) -> Behaviour {
        self.shared.behaviour()
    }

    /// Every access token issued so far stops being accepted by the API
    /// (refresh tokens keep working).
    pub fn invalidate_all_tokens(&self) {
        self.shared.store().access.clear();
    }

    /// Every refresh token issued so far stops working.
    pub fn invalidate_refresh_tokens(&self) {
        self.shared.store().refresh.clear();
    }

    /// Number of access tokens the API currently knows (expired included).
    pub fn issued_access_tokens(&self) -> usize {
        self.shared.store().access.len()
    }

    // --- the /hold latch ----------------------------------------------------

    /// `GET /hold` requests that arrived with a valid token and are waiting
    /// for [`TestServer::release_held`]. Poll it (with a deadline) to know
    /// that a client's request is in flight.
    pub fn held_requests(&self) -> usize {
        self.shared.hold_gate.waiting()
    }

    /// Lets the waiting `/hold` requests go on and returns how many there
    /// were. Each is then authorized again (a token revoked meanwhile gets
    /// the 401) and answered like `/whoami`. Requests arriving later wait for
    /// the next release; unreleased ones answer 503 after two minutes.
    pub fn release_held(&self) -> usize {
        self.shared.hold_gate.release()
    }

    // --- the /stall gate ----------------------------------------------------

    /// `/stall/<N>` responses that sent their N bytes and now wait, silent,
    /// for [`TestServer::release_stalled`] (or two minutes). Poll it (with a
    /// deadline) to know that a client is waiting on a stalled body.
    pub fn stalled_requests(&self) -> usize {
        self.shared.stall_gate.waiting()
    }

    /// Lets the stalled `/stall` responses end (their chunked body is then
    /// complete and the connection closes); returns how many there were.
    pub fn release_stalled(&self) -> usize {
        self.shared.stall_gate.release()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // Held request threads are not joined; let them answer and end.
        self.shared.close_gates();
        for s in &self.stoppers {
            s.stop();
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        // The counts are final now; a failing test already reports its own
        // failure, and a second panic would abort the process.
        let unmet = self.unmet_expectations();
        if !unmet.is_empty() && !std::thread::panicking() {
            panic!("testidp: {}", unmet.join("; "));
        }
    }
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("idp_url", &self.idp_url())
            .field("api_url", &self.api_url())
            .field("other_url", &self.other_url())
            .finish()
    }
}

/// Path of the `testidp` binary built next to the running test executable
/// (`target/<profile>/testidp`), if it exists. It is built by
/// `cargo build -p lmi-testidp` or any workspace-wide build/test.
pub fn testidp_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let name = format!("testidp{}", std::env::consts::EXE_SUFFIX);
    exe.ancestors()
        .skip(1)
        .take(3)
        .map(|dir| dir.join(&name))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::TestServer;

    fn agent() -> ureq::Agent {
        ureq::Agent::config_builder()
            .max_redirects(0)
            .http_status_as_error(false)
            .proxy(None)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into()
    }

    /// Status, `Location` header and body of a GET.
    fn get(url: &str, bearer: Option<&str>) -> (u16, Option<String>, String) {
        let mut req = agent().get(url);
        if let Some(t) = bearer {
            req = req.header("Authorization", &format!("Bearer {t}"));
        }
        let resp = req.call().unwrap();
        let location = resp
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string());
        (
            resp.status().as_u16(),
            location,
            resp.into_body().read_to_string().unwrap(),
        )
    }

    fn token(srv: &TestServer) -> String {
        use base64::Engine as _;
        let basic = base64::engine::general_purpose::STANDARD.encode("lmi-client:lmi-secret");
        let resp = agent()
            .post(&srv.token_url())
            .header("Authorization", &format!("Basic {basic}"))
            .send_form([("grant_type", "client_credentials")])
            .unwrap();
        let json: serde_json::Value =
            serde_json::from_str(&resp.into_body().read_to_string().unwrap()).unwrap();
        json["access_token"].as_str().unwrap().to_string()
    }

    /// Waits (bounded) until `n` requests are held.
    fn wait_held(srv: &TestServer, n: usize) {
        crate::wait_until(
            &format!("never {n} held requests"),
            Duration::from_secs(20),
            || srv.held_requests() == n,
        );
    }

    fn spawn_hold(srv: &TestServer, token: &str) -> std::thread::JoinHandle<(u16, String)> {
        let url = format!("{}/hold", srv.api_url());
        let token = token.to_string();
        std::thread::spawn(move || {
            let (status, _, body) = get(&url, Some(&token));
            (status, body)
        })
    }

    #[test]
    fn hold_waits_for_each_release() {
        let srv = TestServer::start_default().unwrap();
        let token = token(&srv);
        assert_eq!(srv.release_held(), 0, "nothing to release yet");

        let first = spawn_hold(&srv, &token);
        wait_held(&srv, 1);
        assert!(!first.is_finished(), "answered before the release");
        assert_eq!(srv.release_held(), 1);
        assert_eq!(srv.held_requests(), 0);
        let (status, body) = first.join().unwrap();
        assert_eq!(status, 200, "{body}");
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["client_id"], "lmi-client");

        // A later request waits for the next release.
        let second = spawn_hold(&srv, &token);
        wait_held(&srv, 1);
        assert!(!second.is_finished());
        assert_eq!(srv.release_held(), 1);
        assert_eq!(second.join().unwrap().0, 200);
        assert_eq!(srv.api_requests(), 2);
    }

    #[test]
    fn hold_authorizes_again_on_release() {
        let srv = TestServer::start_default().unwrap();
        let token = token(&srv);
        let held = spawn_hold(&srv, &token);
        wait_held(&srv, 1);
        srv.invalidate_all_tokens();
        srv.release_held();
        let (status, body) = held.join().unwrap();
        assert_eq!(status, 401, "{body}");
        assert!(body.contains("invalid_token"), "{body}");

        // Refused at once: an invalid token is never held.
        let (status, _, _) = get(&format!("{}/hold", srv.api_url()), Some(&token));
        assert_eq!(status, 401);
        assert_eq!(srv.held_requests(), 0);
    }

    #[test]
    fn dropping_the_server_releases_held_requests() {
        let srv = TestServer::start_default().unwrap();
        let token = token(&srv);
        let held = spawn_hold(&srv, &token);
        wait_held(&srv, 1);
        drop(srv);
        assert_eq!(held.join().unwrap().0, 200);
    }

    #[test]
    fn redirect_loop_points_at_itself() {
        let srv = TestServer::start_default().unwrap();
        let (status, location, _) = get(&format!("{}/redirect-loop", srv.api_url()), None);
        assert_eq!((status, location.as_deref()), (302, Some("/redirect-loop")));
        assert_eq!(srv.api_requests(), 1);
    }
}
