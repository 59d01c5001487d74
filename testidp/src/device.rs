//! The device authorization grant (RFC 8628) on the IdP:
//! `POST /device_authorization` (§3.1–3.2, with its failure modes), the
//! verification page `GET`/`POST /device` where a user agent confirms or
//! refuses a user code (§3.3), and the token endpoint's
//! `urn:ietf:params:oauth:grant-type:device_code` polls (§3.4–3.5) with
//! pending, `slow_down`, denial, expiry and transport failures as
//! [`crate::Behaviour`] scripts them.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use crate::behaviour::{Behaviour, Client, DeviceAuthorizationFailure, DeviceDenial, PollFailure};
use crate::client_auth::authenticate;
use crate::http::Reply;
use crate::mint::issue;
use crate::record::RecordedRequest;
use crate::state::{now_ms, random_token, DeviceGrant, RefreshGrant, Shared};

/// `grant_type` of a device-code poll.
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Letters of user codes: no vowels (no words) and no look-alikes (RFC 8628
/// §6.1 suggests such a base-20 set).
const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";

/// `WDJB-MJHT`-style user code.
fn user_code() -> String {
    let picks: [u8; 8] = rand::random();
    let letters: String = picks
        .iter()
        .map(|b| USER_CODE_ALPHABET[usize::from(*b) % USER_CODE_ALPHABET.len()] as char)
        .collect();
    format!("{}-{}", &letters[..4], &letters[4..])
}

/// `POST /device_authorization`.
pub(crate) fn authorization(shared: &Arc<Shared>, req: RecordedRequest) -> Reply {
    {
        let mut log = shared.log();
        log.device_authorizations += 1;
        log.last_device_authorization = Some(req.clone());
    }
    let b = shared.behaviour();
    match &b.device_authorization_failure {
        Some(DeviceAuthorizationFailure::InvalidClient) => {
            return Reply::oauth_error(401, "invalid_client", "Client authentication failed")
        }
        Some(DeviceAuthorizationFailure::InvalidScope) => {
            return Reply::oauth_error(
                400,
                "invalid_scope",
                "The requested scope is invalid, unknown, or malformed",
            )
        }
        Some(DeviceAuthorizationFailure::ServerError) => {
            return Reply::text(500, "Internal Server Error: the device service fell over\n")
        }
        Some(DeviceAuthorizationFailure::NotJson) => return Reply::html(200, "<html>oops</html>"),
        _ => {}
    }
    let client = match authenticate(shared, &b, &req, "device_authorization") {
        Ok(c) => c,
        Err(reply) => return reply,
    };
    let device_code = random_token();
    let user_code = user_code();
    {
        let mut store = shared.store();
        store.devices.insert(
            device_code.clone(),
            DeviceGrant {
                user_code: user_code.clone(),
                client_id: client.id.clone(),
                scope: req.param("scope").map(str::to_string),
                expires_ms: now_ms() + u128::from(b.device_expires_in) * 1000,
                polls: 0,
                pending_answered: 0,
                approved: false,
                denied: false,
            },
        );
        store.user_codes.push(user_code.clone());
    }
    let verification_uri = format!("{}/device", shared.idp_url);
    let mut body = Map::new();
    body.insert("device_code".into(), json!(device_code));
    body.insert("user_code".into(), json!(user_code));
    body.insert("verification_uri".into(), json!(verification_uri));
    if b.device_verification_uri_complete {
        let mut complete = url::Url::parse(&verification_uri).expect("the IdP URL parses");
        complete
            .query_pairs_mut()
            .append_pair("user_code", &user_code);
        body.insert("verification_uri_complete".into(), json!(complete.as_str()));
    }
    body.insert("expires_in".into(), json!(b.device_expires_in));
    if let Some(interval) = b.device_interval {
        body.insert("interval".into(), json!(interval));
    }
    match &b.device_authorization_failure {
        Some(DeviceAuthorizationFailure::MissingField(field)) => {
            body.remove(field);
        }
        Some(DeviceAuthorizationFailure::WrongType(field)) => {
            if let Some(v) = body.get_mut(field) {
                *v = match v {
                    Value::Number(n) => json!(n.to_string()),
                    _ => json!(42),
                };
            }
        }
        _ => {}
    }
    Reply::json(200, &Value::Object(body)).no_store()
}

/// The verification page (`GET /device`): a form that posts the user code.
pub(crate) fn page(req: &RecordedRequest) -> Reply {
    let code = req.query_param("user_code").unwrap_or_default();
    // The code is echoed into an attribute: keep only code characters.
    let code: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    Reply::html(
        200,
        &format!(
            "<!doctype html><html><head><title>Device login</title></head><body>\
             <h1>Connect a device</h1><p>Enter the code shown on your device.</p>\
             <form method=\"post\" action=\"/device\">\
             <input name=\"user_code\" value=\"{code}\" autocomplete=\"off\">\
             <button name=\"action\" value=\"approve\">Approve</button>\
             <button name=\"action\" value=\"deny\">Deny</button>\
             </form></body></html>"
        ),
    )
}

/// `POST /device` (`user_code`, `action` = `approve` (default) or `deny`).
pub(crate) fn confirm(shared: &Arc<Shared>, req: &RecordedRequest) -> Reply {
    let code = req.param("user_code").unwrap_or("");
    let deny = req.param("action") == Some("deny");
    if set_decision(shared, code, !deny) {
        let what = if deny { "refused" } else { "approved" };
        Reply::html(
            200,
            &format!(
                "<!doctype html><html><body><p>Device {what}. \
                 You may return to your terminal.</p></body></html>"
            ),
        )
    } else {
        Reply::html(
            400,
            "<!doctype html><html><body><p>Unknown or expired code.</p></body></html>",
        )
    }
}

/// Approves (or refuses) the device authorization behind `user_code`; false
/// when there is none.
pub(crate) fn set_decision(shared: &Shared, user_code: &str, approve: bool) -> bool {
    let mut store = shared.store();
    match store.device_by_user_code(user_code) {
        Some(d) if now_ms() < d.expires_ms => {
            d.approved = approve;
            d.denied = !approve;
            true
        }
        _ => false,
    }
}

/// What one poll gets, decided under the store lock.
enum Answer {
    Fail(PollFailure),
    Error(&'static str, &'static str),
    Issue(DeviceGrant),
}

/// A `grant_type=urn:ietf:params:oauth:grant-type:device_code` poll (the
/// client is already authenticated).
pub(crate) fn poll(
    shared: &Arc<Shared>,
    b: &Behaviour,
    client: &Client,
    req: &RecordedRequest,
) -> Reply {
    let Some(device_code) = req.param("device_code") else {
        return Reply::oauth_error(400, "invalid_request", "Missing device_code");
    };
    match decide(shared, b, device_code, &client.id) {
        Answer::Fail(PollFailure::Status(status)) => Reply::text(
            status,
            &format!("HTTP {status}: the token service is unavailable\n"),
        ),
        Answer::Fail(PollFailure::Close) => Reply::close(),
        Answer::Error(error, description) => Reply::oauth_error(400, error, description),
        Answer::Issue(grant) => {
            let openid = grant
                .scope
                .as_deref()
                .is_some_and(|s| s.split(' ').any(|s| s == "openid"));
            let refresh = RefreshGrant {
                client_id: client.id.clone(),
                sub: b.sso_user.sub.clone(),
                scope: grant.scope,
                audience: None,
                sso: openid,
                act: None,
            };
            // The device flow has no nonce (RFC 8628 has no such parameter).
            issue(
                shared,
                b,
                &refresh,
                b.issue_refresh_tokens,
                openid.then_some(None),
            )
        }
    }
}

fn decide(shared: &Shared, b: &Behaviour, device_code: &str, client_id: &str) -> Answer {
    let mut store = shared.store();
    let Some(d) = store.devices.get_mut(device_code) else {
        return Answer::Error(
            "invalid_grant",
            "The device code is invalid, expired or already used",
        );
    };
    d.polls += 1;
    let k = d.polls;
    if k <= b.device_failing_polls {
        return Answer::Fail(b.device_poll_failure);
    }
    if d.client_id != client_id {
        return Answer::Error(
            "invalid_grant",
            "The device code was issued to another client",
        );
    }
    if now_ms() >= d.expires_ms {
        return Answer::Error("expired_token", "The device code has expired");
    }
    if b.device_slow_down_polls.contains(&k) {
        return Answer::Error(
            "slow_down",
            "Polling too fast: add 5 seconds to the interval",
        );
    }
    if d.denied {
        return Answer::Error("access_denied", "The user refused the request");
    }
    if d.pending_answered < b.device_pending_polls || !(b.device_auto_approve || d.approved) {
        d.pending_answered += 1;
        return Answer::Error(
            "authorization_pending",
            "The user has not yet approved the request",
        );
    }
    match b.device_denial {
        Some(DeviceDenial::AccessDenied) => {
            Answer::Error("access_denied", "The user refused the request")
        }
        Some(DeviceDenial::ExpiredToken) => {
            Answer::Error("expired_token", "The device code has expired")
        }
        None => {
            // Single use: the device code is gone once tokens are issued.
            let grant = store.devices.remove(device_code).expect("looked up above");
            Answer::Issue(grant)
        }
    }
}
