//! What one request to the loopback listener means for the login: a pure
//! decision from the request's method and target, this login's `state` and
//! the issuer check, so every rule is unit-tested without sockets.
//!
//! - another path (a browser's `/favicon.ico`) → 404;
//! - `/callback` with a missing or wrong `state` → 400 (RFC 6749 §10.12: a
//!   forged or stale redirect must not be accepted);
//! - `/callback` whose `iss` is another issuer's, or without `iss` when the
//!   IdP's metadata promises one → 400 (RFC 9207 §2.4: the mix-up defence;
//!   such a code is never redeemed);
//! - `/callback` with the right `state` and `error=` → the login ends with
//!   the IdP's `error` and `error_description` (RFC 6749 §4.1.2.1);
//! - otherwise the code, whose page waits for the login's end.

use url::Url;

use crate::error::Error;
use crate::secret::Secret;

use super::idp::IssCheck;
use super::pages::{Reply, SHOWN_CHARS};
use super::pkce::same;
use crate::redact;

/// What to do with one request.
#[derive(Debug)]
pub enum Decision {
    /// Answer with this page and keep waiting; the warning (if any) goes to
    /// the log.
    Ignore {
        reply: Reply,
        warning: Option<String>,
    },
    /// The IdP refused the login: answer with this page, and end the login
    /// with the error.
    Refused { reply: Reply, error: Error },
    /// This login's code; the page is sent once the login has ended.
    Code(Secret),
}

fn ignore(reply: Reply) -> Decision {
    Decision::Ignore {
        reply,
        warning: None,
    }
}

/// The URL a request target stands for, when it is one.
pub fn target_url(target: &str) -> Option<Url> {
    Url::parse(&format!("http://127.0.0.1{target}")).ok()
}

/// Decides what a request (`method`, `target`) means for the login waiting
/// for `state`, with the RFC 9207 check `iss`.
pub fn decide(method: &str, target: &str, state: &str, iss: Option<&IssCheck>) -> Decision {
    let Some(url) = target_url(target) else {
        return ignore(Reply::not_ours());
    };
    if url.path() != "/callback" || !target.starts_with('/') {
        return ignore(Reply::page(
            404,
            "Not Found",
            "Not found",
            "This is lmi's login listener.",
        ));
    }
    if method != "GET" {
        return ignore(Reply::page(
            405,
            "Method Not Allowed",
            "Method not allowed",
            "The login callback is a GET request.",
        ));
    }
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    if !param("state").is_some_and(|s| same(&s, state)) {
        return Decision::Ignore {
            reply: Reply::page(
                400,
                "Bad Request",
                "Invalid login response",
                "This response does not belong to the login lmi is waiting for (state mismatch). lmi keeps waiting; finish the login from the link lmi printed.",
            ),
            warning: Some("ignored a login callback whose state does not match this login (a stale or forged redirect); still waiting".to_owned()),
        };
    }
    // RFC 9207 §2.4: checked before anything else in the response is used,
    // error responses included.
    if let Some(problem) = iss.and_then(|check| iss_problem(check, param("iss").as_deref())) {
        return Decision::Ignore {
            reply: Reply::page(
                400,
                "Bad Request",
                "Invalid login response",
                &format!("This response does not come from the identity provider lmi is waiting for ({problem}). lmi keeps waiting; finish the login from the link lmi printed."),
            ),
            warning: Some(format!(
                "ignored a login callback {problem} (RFC 9207 mix-up defence); still waiting"
            )),
        };
    }
    if let Some(error) = param("error") {
        let description = param("error_description")
            .map(|d| format!(": {}", redact::excerpt(&d, SHOWN_CHARS)))
            .unwrap_or_default();
        let error = redact::excerpt(&error, SHOWN_CHARS);
        let hint = if error == "access_denied" {
            "the login was denied or cancelled at the identity provider; run lmi login sso to try again"
        } else {
            "check OAUTH_SSO_CLIENT_ID and OAUTH_SSO_SCOPES, then run lmi login sso again"
        };
        return Decision::Refused {
            reply: Reply::page(
                200,
                "OK",
                "Login failed",
                &format!("The identity provider answered {error}{description}. You may close this window."),
            ),
            error: Error::auth(format!(
                "the identity provider refused the login: {error}{description}"
            ))
            .with_hint(hint),
        };
    }
    match param("code").filter(|c| !c.is_empty()) {
        Some(code) => Decision::Code(Secret::new(code)),
        None => ignore(Reply::page(
            400,
            "Bad Request",
            "Invalid login response",
            "The response has no authorization code. lmi keeps waiting.",
        )),
    }
}

/// Why a response's `iss` is refused, or `None` when it is acceptable.
pub fn iss_problem(check: &IssCheck, iss: Option<&str>) -> Option<String> {
    match iss {
        Some(got) if got == check.issuer => None,
        Some(got) => Some(format!(
            "whose iss {:?} is not the issuer {:?}",
            redact::excerpt(got, SHOWN_CHARS),
            check.issuer
        )),
        None if check.required => Some(format!(
            "without iss, although the metadata of {} says it always sends one",
            check.issuer
        )),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATE: &str = "st-1";

    fn check(required: bool) -> IssCheck {
        IssCheck {
            issuer: "https://idp.test".into(),
            required,
        }
    }

    fn ignored(d: &Decision) -> (u16, bool) {
        match d {
            Decision::Ignore { reply, warning } => (reply.status, warning.is_some()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_right_callback_gives_the_code() {
        match decide("GET", "/callback?code=c-1&state=st-1", STATE, None) {
            Decision::Code(code) => assert_eq!(code.expose(), "c-1"),
            other => panic!("{other:?}"),
        }
        let with_iss = "/callback?code=c-1&state=st-1&iss=https%3A%2F%2Fidp.test";
        assert!(matches!(
            decide("GET", with_iss, STATE, Some(&check(true))),
            Decision::Code(_)
        ));
    }

    #[test]
    fn other_paths_methods_and_targets_are_answered_and_ignored() {
        assert_eq!(
            ignored(&decide("GET", "/favicon.ico", STATE, None)),
            (404, false)
        );
        assert_eq!(
            ignored(&decide("POST", "/callback?code=c&state=st-1", STATE, None)),
            (405, false)
        );
        assert_eq!(
            ignored(&decide("GET", "http://evil.test/callback", STATE, None)),
            (404, false)
        );
        assert_eq!(
            ignored(&decide("GET", ":99999/callback", STATE, None)),
            (400, false)
        );
        assert_eq!(
            ignored(&decide("GET", "/callback?state=st-1&code=", STATE, None)),
            (400, false),
            "no code"
        );
    }

    #[test]
    fn a_wrong_or_missing_state_is_warned_about_and_ignored() {
        for target in ["/callback?code=c&state=other", "/callback?code=c"] {
            assert_eq!(
                ignored(&decide("GET", target, STATE, None)),
                (400, true),
                "{target}"
            );
        }
        // Even an error response needs the state.
        assert_eq!(
            ignored(&decide("GET", "/callback?error=access_denied", STATE, None)),
            (400, true)
        );
    }

    #[test]
    fn the_issuer_is_checked_before_the_error_or_the_code() {
        let foreign = "/callback?error=access_denied&state=st-1&iss=https%3A%2F%2Fevil.test";
        assert_eq!(
            ignored(&decide("GET", foreign, STATE, Some(&check(false)))),
            (400, true)
        );
        let missing = "/callback?code=c&state=st-1";
        assert_eq!(
            ignored(&decide("GET", missing, STATE, Some(&check(true)))),
            (400, true)
        );
        assert!(matches!(
            decide("GET", missing, STATE, Some(&check(false))),
            Decision::Code(_)
        ));
        assert_eq!(iss_problem(&check(false), None), None);
        assert!(iss_problem(&check(false), Some("https://idp.test/")).is_some());
        assert_eq!(iss_problem(&check(false), Some("https://idp.test")), None);
    }

    #[test]
    fn an_idp_error_ends_the_login_with_its_cleaned_words() {
        let target =
            "/callback?state=st-1&error=access_denied&error_description=No%20%3Cway%3E%1b%5B2J";
        match decide("GET", target, STATE, None) {
            Decision::Refused { reply, error } => {
                assert_eq!(reply.status, 200);
                assert!(reply.body.contains("No &lt;way&gt;"), "{}", reply.body);
                assert!(error.message().starts_with(
                    "the identity provider refused the login: access_denied: No <way>"
                ));
                assert!(!error.message().contains('\u{1b}'));
                assert!(error.hint().unwrap().contains("denied or cancelled"));
            }
            other => panic!("{other:?}"),
        }
        match decide(
            "GET",
            "/callback?state=st-1&error=invalid_scope",
            STATE,
            None,
        ) {
            Decision::Refused { error, .. } => {
                assert!(error.hint().unwrap().contains("OAUTH_SSO_SCOPES"));
            }
            other => panic!("{other:?}"),
        }
    }
}
