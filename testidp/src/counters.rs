//! [`TestServer`]'s counters and recorded requests: what the IdP, the API
//! and the other origin saw, the device grant's codes and polls, and the
//! authorization codes issued and redeemed, for tests to assert.

use std::time::Instant;

use crate::device;
use crate::state::Counters;
use crate::{RecordedRequest, TestServer};

impl TestServer {
    /// Total `POST /token` requests.
    pub fn token_requests(&self) -> usize {
        Counters::get(&self.shared.counters.token)
    }

    /// `POST /token` requests with this `grant_type`.
    pub fn token_requests_by_grant(&self, grant_type: &str) -> usize {
        self.shared
            .log()
            .token_by_grant
            .get(grant_type)
            .copied()
            .unwrap_or(0)
    }

    /// Hits on either well-known document (also those answered 404).
    pub fn discovery_requests(&self) -> usize {
        Counters::get(&self.shared.counters.discovery)
    }

    /// Hits on the API server (all paths).
    pub fn api_requests(&self) -> usize {
        Counters::get(&self.shared.counters.api)
    }

    /// Hits on the other server.
    pub fn other_requests(&self) -> usize {
        Counters::get(&self.shared.counters.other)
    }

    /// Hits on `/authorize` (also rejected ones).
    pub fn authorize_requests(&self) -> usize {
        Counters::get(&self.shared.counters.authorize)
    }

    /// The `Authorization` header of each hit on the other server, in order.
    pub fn other_authorization_headers(&self) -> Vec<Option<String>> {
        self.shared.log().other_authorization.clone()
    }

    /// The most recent `POST /token`.
    pub fn last_token_request(&self) -> Option<RecordedRequest> {
        self.shared.log().last_token.clone()
    }

    /// The most recent request to the API server.
    pub fn last_api_request(&self) -> Option<RecordedRequest> {
        self.shared.log().last_api.clone()
    }

    /// The most recent `GET /authorize` (its query holds state, nonce, ...).
    pub fn last_authorize_request(&self) -> Option<RecordedRequest> {
        self.shared.log().last_authorize.clone()
    }

    /// `POST /device_authorization` requests (also refused ones).
    pub fn device_authorization_requests(&self) -> usize {
        self.shared.log().device_authorizations
    }

    /// The most recent `POST /device_authorization`.
    pub fn last_device_authorization_request(&self) -> Option<RecordedRequest> {
        self.shared.log().last_device_authorization.clone()
    }

    /// Device-code polls of the token endpoint (all device codes, also
    /// refused or failed ones).
    pub fn device_polls(&self) -> usize {
        self.shared.log().device_polls.len()
    }

    /// When each device-code poll arrived, in order: a test checks the
    /// client's pacing (`interval`, `slow_down`) from the gaps.
    pub fn device_poll_times(&self) -> Vec<Instant> {
        self.shared.log().device_polls.clone()
    }

    /// User codes issued by `/device_authorization`, in order.
    pub fn device_user_codes(&self) -> Vec<String> {
        self.shared.store().user_codes.clone()
    }

    /// The most recently issued user code.
    pub fn last_user_code(&self) -> Option<String> {
        self.shared.store().user_codes.last().cloned()
    }

    /// Confirms a user code as the user would at the verification page
    /// (needed when `device_auto_approve` is false); false when the code is
    /// unknown or expired.
    pub fn approve_device(&self, user_code: &str) -> bool {
        device::set_decision(&self.shared, user_code, true)
    }

    /// Refuses a user code: the next poll gets `access_denied`.
    pub fn deny_device(&self, user_code: &str) -> bool {
        device::set_decision(&self.shared, user_code, false)
    }

    /// Authorization codes `/authorize` issued, in order.
    pub fn issued_codes(&self) -> Vec<String> {
        self.shared.log().issued_codes.clone()
    }

    /// How many `authorization_code` token requests presented `code` (also
    /// refused ones): 0 means the client never tried to redeem it.
    pub fn code_redemptions(&self, code: &str) -> usize {
        self.shared
            .log()
            .code_redemptions
            .get(code)
            .copied()
            .unwrap_or(0)
    }

    /// Issued authorization codes that no token request ever presented.
    pub fn unredeemed_codes(&self) -> Vec<String> {
        let log = self.shared.log();
        log.issued_codes
            .iter()
            .filter(|c| !log.code_redemptions.contains_key(*c))
            .cloned()
            .collect()
    }

    /// The URL `/authorize` last redirected to (the authorization response,
    /// with `code` or `error`, `state` and `iss`).
    pub fn last_authorization_response(&self) -> Option<String> {
        self.shared.log().last_authorization_response.clone()
    }

    /// Token-exchange requests (RFC 8693) that reached the grant (the client
    /// authenticated), also refused ones.
    pub fn token_exchanges(&self) -> usize {
        self.shared.log().token_exchanges
    }

    /// The client authentication method of the most recent `/token` request:
    /// `client_secret_basic`, `client_secret_post`, `private_key_jwt` or
    /// `none` (recorded also when the authentication failed).
    pub fn last_token_request_auth_method(&self) -> Option<String> {
        self.shared
            .log()
            .auth_methods
            .iter()
            .rev()
            .find(|(endpoint, _)| endpoint == "token")
            .map(|(_, method)| method.clone())
    }

    /// `(endpoint, method)` of every client authentication, in order;
    /// endpoint is `token`, `revoke` or `device_authorization`.
    pub fn client_auth_methods(&self) -> Vec<(String, String)> {
        self.shared.log().auth_methods.clone()
    }

    /// The claims of the most recent `client_assertion` (decoded before any
    /// check, so also of a refused one).
    pub fn last_client_assertion_claims(&self) -> Option<serde_json::Value> {
        self.shared.log().last_assertion_claims.clone()
    }

    /// Tokens revoked through `/revoke`, in order.
    pub fn revocations(&self) -> Vec<String> {
        self.shared.log().revocations.clone()
    }

    /// Zeroes every counter and clears the recorded requests, other-server
    /// headers and revocation log. Issued tokens stay valid.
    pub fn reset_counts(&self) {
        self.shared.reset_counts();
    }
}
