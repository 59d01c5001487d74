//! Hit counts a test expects, checked when the [`TestServer`] is dropped, as
//! xh's test server does: a test states up front how often lmi must call a
//! server, and the check cannot be forgotten at the end.

use std::sync::{Mutex, MutexGuard};

use crate::TestServer;

/// A counter of [`TestServer`] that an expectation is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hits {
    /// [`TestServer::token_requests`].
    Token,
    /// [`TestServer::discovery_requests`].
    Discovery,
    /// [`TestServer::api_requests`].
    Api,
    /// [`TestServer::other_requests`].
    Other,
    /// [`TestServer::authorize_requests`].
    Authorize,
}

/// The expectations of one server, in the order they were stated.
#[derive(Debug, Default)]
pub(crate) struct Expectations(Mutex<Vec<(Hits, usize)>>);

impl Expectations {
    fn lock(&self) -> MutexGuard<'_, Vec<(Hits, usize)>> {
        // A test that panicked while holding it has failed already.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl TestServer {
    /// Expects exactly `n` hits of `which` by the time the server is
    /// dropped; dropping it fails the test otherwise (unless the test is
    /// failing already). A later expectation for the same counter replaces
    /// an earlier one.
    pub fn expect_hits(&self, which: Hits, n: usize) {
        let mut expected = self.expected.lock();
        expected.retain(|(w, _)| *w != which);
        expected.push((which, n));
    }

    fn hits(&self, which: Hits) -> usize {
        match which {
            Hits::Token => self.token_requests(),
            Hits::Discovery => self.discovery_requests(),
            Hits::Api => self.api_requests(),
            Hits::Other => self.other_requests(),
            Hits::Authorize => self.authorize_requests(),
        }
    }

    /// The expectations not met, one line each.
    pub(crate) fn unmet_expectations(&self) -> Vec<String> {
        let expected = self.expected.lock().clone();
        expected
            .into_iter()
            .filter_map(|(which, n)| {
                let got = self.hits(which);
                (got != n).then(|| format!("expected {n} {which:?} hit(s), got {got}"))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::Hits;
    use crate::TestServer;

    fn token(srv: &TestServer) {
        use base64::Engine as _;
        let basic = base64::engine::general_purpose::STANDARD.encode("lmi-client:lmi-secret");
        let resp = ureq::post(&srv.token_url())
            .header("Authorization", &format!("Basic {basic}"))
            .send_form([("grant_type", "client_credentials")])
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
    }

    #[test]
    fn met_expectations_drop_quietly() {
        let srv = TestServer::start_default().unwrap();
        srv.expect_hits(Hits::Token, 1);
        srv.expect_hits(Hits::Api, 0);
        token(&srv);
        assert_eq!(srv.unmet_expectations(), Vec::<String>::new());
    }

    #[test]
    fn the_last_expectation_for_a_counter_counts() {
        let srv = TestServer::start_default().unwrap();
        srv.expect_hits(Hits::Token, 5);
        srv.expect_hits(Hits::Token, 0);
        assert_eq!(srv.unmet_expectations(), Vec::<String>::new());
    }

    #[test]
    #[should_panic(expected = "expected 2 Token hit(s), got 1")]
    fn an_unmet_expectation_fails_on_drop() {
        let srv = TestServer::start_default().unwrap();
        srv.expect_hits(Hits::Token, 2);
        token(&srv);
    }
}
