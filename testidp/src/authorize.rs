//! `/authorize`: auto-approval of a loopback redirect with PKCE and the
//! RFC 9207 `iss` parameter, as the test's behaviour asks.

use std::sync::Arc;

use crate::behaviour::AuthorizationIss;
use crate::http::Reply;
use crate::record::RecordedRequest;
use crate::state::{now_ms, random_token, AuthCode, Counters, Shared};

/// Accepts only `http://127.0.0.1:<port>/callback` (RFC 8252 loopback).
pub(crate) fn valid_redirect_uri(uri: &str) -> bool {
    let Ok(u) = url::Url::parse(uri) else {
        return false;
    };
    u.scheme() == "http"
        && u.host_str() == Some("127.0.0.1")
        && u.port().is_some()
        && u.path() == "/callback"
        && u.query().is_none()
        && u.fragment().is_none()
}

fn bad_authorize(msg: &str) -> Reply {
    Reply::text(400, &format!("Bad authorization request: {msg}\n"))
}

pub(crate) fn authorize(shared: &Arc<Shared>, req: RecordedRequest) -> Reply {
    Counters::bump(&shared.counters.authorize);
    shared.log().last_authorize = Some(req.clone());
    let b = shared.behaviour();
    let req = match crate::par::resolve(shared, &b, req) {
        Ok(req) => req,
        Err(reply) => return reply,
    };
    let q = |name: &str| req.query_param(name);
    if q("response_type").as_deref() != Some("code") {
        return bad_authorize("response_type must be code");
    }
    let Some(client_id) = q("client_id").filter(|id| b.client(id).is_some()) else {
        return bad_authorize("unknown client_id");
    };
    let Some(redirect_uri) = q("redirect_uri").filter(|u| valid_redirect_uri(u)) else {
        return bad_authorize("redirect_uri must be http://127.0.0.1:<port>/callback");
    };
    if q("code_challenge_method").as_deref() != Some("S256") {
        return bad_authorize("code_challenge_method must be S256");
    }
    let Some(code_challenge) = q("code_challenge").filter(|c| !c.is_empty()) else {
        return bad_authorize("code_challenge is required");
    };
    let state = q("state");
    let mut target = url::Url::parse(&redirect_uri).expect("validated above");
    {
        let mut pairs = target.query_pairs_mut();
        if let Some((error, description)) = &b.authorize_error {
            pairs.append_pair("error", error);
            pairs.append_pair("error_description", description);
        } else {
            let code = random_token();
            shared.store().codes.insert(
                code.clone(),
                AuthCode {
                    client_id,
                    redirect_uri: redirect_uri.clone(),
                    code_challenge,
                    nonce: q("nonce"),
                    scope: q("scope"),
                    issued_ms: now_ms(),
                },
            );
            pairs.append_pair("code", &code);
            shared.log().issued_codes.push(code);
        }
        if let Some(state) = &state {
            pairs.append_pair("state", state);
        }
        // RFC 9207 §2: on success and error responses alike.
        match &b.authorization_iss {
            AuthorizationIss::Omit => {}
            AuthorizationIss::Correct => {
                pairs.append_pair("iss", &shared.idp_url);
            }
            AuthorizationIss::Wrong => {
                pairs.append_pair("iss", "https://mix-up.example.test");
            }
            AuthorizationIss::Value(v) => {
                pairs.append_pair("iss", v);
            }
        }
    }
    shared.log().last_authorization_response = Some(target.to_string());
    Reply::redirect(target.as_str())
}
