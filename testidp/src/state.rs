//! State shared by the three servers and the [`crate::TestServer`] handle:
//! the current behaviour, issued tokens/codes, counters, request logs and the
//! gates that hold `/hold` and `/stall` requests until the test releases them.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::behaviour::Behaviour;
use crate::keys::Keys;
use crate::record::RecordedRequest;

/// An access token the API accepts.
#[derive(Debug, Clone)]
pub(crate) struct AccessToken {
    pub sub: String,
    pub client_id: String,
    pub scope: Option<String>,
    /// Unix milliseconds; `None` = never expires.
    pub expires_at_ms: Option<u128>,
    /// The actor of a token exchange with an `actor_token` (RFC 8693 §4.1).
    pub act: Option<serde_json::Value>,
    /// The thumbprint of the DPoP key the token is bound to (RFC 9449).
    pub jkt: Option<String>,
}

/// What a refresh token stands for.
#[derive(Debug, Clone)]
pub(crate) struct RefreshGrant {
    pub client_id: String,
    pub sub: String,
    pub scope: Option<String>,
    pub audience: Option<String>,
    /// Issued by the authorization_code grant: refreshes also get an ID token.
    pub sso: bool,
    /// The actor of a token exchange (RFC 8693 §4.1), carried into the
    /// access token.
    pub act: Option<serde_json::Value>,
}

/// An authorization code waiting to be exchanged.
#[derive(Debug, Clone)]
pub(crate) struct AuthCode {
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub nonce: Option<String>,
    pub scope: Option<String>,
    pub issued_ms: u128,
}

/// A device authorization (RFC 8628) waiting for its user and its polls.
#[derive(Debug, Clone)]
pub(crate) struct DeviceGrant {
    pub user_code: String,
    pub client_id: String,
    pub scope: Option<String>,
    pub expires_ms: u128,
    /// Polls so far (the current one included while it is answered).
    pub polls: usize,
    /// `authorization_pending` answers so far.
    pub pending_answered: usize,
    /// Confirmed by a user agent at `/device`.
    pub approved: bool,
    /// Refused by a user agent at `/device`.
    pub denied: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Store {
    pub access: HashMap<String, AccessToken>,
    pub refresh: HashMap<String, RefreshGrant>,
    pub codes: HashMap<String, AuthCode>,
    /// By device code.
    pub devices: HashMap<String, DeviceGrant>,
    /// User codes in the order they were issued.
    pub user_codes: Vec<String>,
    /// `jti`s of the client assertions seen (replay defence).
    pub assertion_jtis: HashSet<String>,
    /// Pushed authorization requests (RFC 9126), by `request_uri`.
    pub pushed: HashMap<String, crate::par::Pushed>,
}

impl Store {
    /// The device code behind a user code (compared without case or dashes).
    pub(crate) fn device_by_user_code(&mut self, user_code: &str) -> Option<&mut DeviceGrant> {
        let wanted = normalize_user_code(user_code);
        self.devices
            .values_mut()
            .find(|d| normalize_user_code(&d.user_code) == wanted)
    }
}

fn normalize_user_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

#[derive(Debug, Default)]
pub(crate) struct Log {
    pub token_by_grant: HashMap<String, usize>,
    pub last_token: Option<RecordedRequest>,
    pub last_api: Option<RecordedRequest>,
    pub last_authorize: Option<RecordedRequest>,
    pub other_authorization: Vec<Option<String>>,
    pub revocations: Vec<String>,
    pub device_authorizations: usize,
    pub last_device_authorization: Option<RecordedRequest>,
    /// When each device-code poll arrived.
    pub device_polls: Vec<Instant>,
    /// `(endpoint, method)` of every client authentication attempt, e.g.
    /// `("token", "private_key_jwt")`.
    pub auth_methods: Vec<(String, String)>,
    /// Claims of the most recent client assertion (verified or not).
    pub last_assertion_claims: Option<serde_json::Value>,
    pub token_exchanges: usize,
    /// Authorization codes issued by `/authorize`, in order.
    pub issued_codes: Vec<String>,
    /// How many `authorization_code` token requests presented each code.
    pub code_redemptions: HashMap<String, usize>,
    /// Where `/authorize` last redirected to.
    pub last_authorization_response: Option<String>,
    /// `POST /par` requests, and the latest one.
    pub par_requests: usize,
    pub last_par: Option<RecordedRequest>,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub token: AtomicUsize,
    pub discovery: AtomicUsize,
    pub api: AtomicUsize,
    pub other: AtomicUsize,
    pub authorize: AtomicUsize,
}

impl Counters {
    pub(crate) fn bump(c: &AtomicUsize) {
        c.fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn get(c: &AtomicUsize) -> usize {
        c.load(Ordering::SeqCst)
    }

    fn reset(&self) {
        for c in [
            &self.token,
            &self.discovery,
            &self.api,
            &self.other,
            &self.authorize,
        ] {
            c.store(0, Ordering::SeqCst);
        }
    }
}

/// A latch that holds request threads until the test releases them (the
/// `/hold` and `/stall` endpoints each have one). Each [`Gate::release`]
/// opens a new generation: the requests waiting in the previous one go on,
/// later ones wait again.
#[derive(Debug, Default)]
pub(crate) struct Gate {
    state: Mutex<GateState>,
    moved: Condvar,
}

#[derive(Debug, Default)]
struct GateState {
    /// Requests waiting in the current generation.
    waiting: usize,
    generation: u64,
    /// The server is stopping: nothing waits any more.
    closed: bool,
}

/// How a held request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Held {
    /// [`Gate::release`] (or the server stopping) let it go.
    Released,
    /// Nobody released it within the limit.
    Expired,
}

impl Gate {
    /// Blocks the calling request thread until [`Gate::release`] or `limit`
    /// has passed, whichever comes first.
    pub(crate) fn hold(&self, limit: Duration) -> Held {
        let deadline = Instant::now() + limit;
        let mut state = lock(&self.state);
        if state.closed {
            return Held::Released;
        }
        let generation = state.generation;
        state.waiting += 1;
        // A new generation (or closing) is the only release signal; spurious
        // wake-ups just loop.
        while state.generation == generation {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                state.waiting -= 1;
                return Held::Expired;
            }
            state = self
                .moved
                .wait_timeout(state, left)
                .map(|(guard, _)| guard)
                .unwrap_or_else(|e| e.into_inner().0);
        }
        Held::Released
    }

    /// Lets every request waiting in [`Gate::hold`] go on; returns how many
    /// there were. Requests arriving later wait for the next release.
    pub(crate) fn release(&self) -> usize {
        let mut state = lock(&self.state);
        let released = state.waiting;
        // Zeroed here rather than by the woken threads, so that `waiting()`
        // is exact as soon as this returns.
        state.waiting = 0;
        state.generation += 1;
        self.moved.notify_all();
        released
    }

    /// Requests waiting in [`Gate::hold`] right now.
    pub(crate) fn waiting(&self) -> usize {
        lock(&self.state).waiting
    }

    /// Releases everything held and stops holding (the server is stopping).
    pub(crate) fn close(&self) {
        lock(&self.state).closed = true;
        self.release();
    }
}

pub(crate) struct Shared {
    pub idp_url: String,
    pub api_url: String,
    pub other_url: String,
    pub keys: Keys,
    pub counters: Counters,
    behaviour: Mutex<Behaviour>,
    store: Mutex<Store>,
    log: Mutex<Log>,
    /// Holds `/hold` requests.
    pub hold_gate: Gate,
    /// Holds `/stall/<N>` responses mid-body.
    pub stall_gate: Gate,
    /// Proofs seen, nonces and counts (RFC 9449).
    pub dpop: crate::dpop::DpopState,
}

/// Locks, ignoring poisoning (a panicking handler thread must not wedge the
/// whole test server).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub(crate) fn new(
        idp_url: String,
        api_url: String,
        other_url: String,
        behaviour: Behaviour,
    ) -> Self {
        Shared {
            idp_url,
            api_url,
            other_url,
            keys: Keys::load(),
            counters: Counters::default(),
            behaviour: Mutex::new(behaviour),
            store: Mutex::new(Store::default()),
            log: Mutex::new(Log::default()),
            hold_gate: Gate::default(),
            stall_gate: Gate::default(),
            dpop: crate::dpop::DpopState::default(),
        }
    }

    /// A snapshot of the current behaviour.
    pub(crate) fn behaviour(&self) -> Behaviour {
        lock(&self.behaviour).clone()
    }

    pub(crate) fn set_behaviour(&self, f: impl FnOnce(&mut Behaviour)) {
        f(&mut lock(&self.behaviour));
    }

    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }

    pub(crate) fn log(&self) -> MutexGuard<'_, Log> {
        lock(&self.log)
    }

    pub(crate) fn reset_counts(&self) {
        self.counters.reset();
        *self.log() = Log::default();
    }

    /// Releases everything held and stops holding (the server is stopping).
    pub(crate) fn close_gates(&self) {
        self.hold_gate.close();
        self.stall_gate.close();
    }
}

pub(crate) fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

pub(crate) fn now_secs() -> u64 {
    (now_ms() / 1000) as u64
}

/// 32 random bytes, base64url without padding.
pub(crate) fn random_token() -> String {
    use base64::Engine as _;
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
