//! The protected API on `api_url` (bearer-token check against tokens the IdP
//! issued; `/whoami`, `/echo`, `/status/<code>`, `/text`, `/slow`, `/hold`,
//! redirects) and the foreign "other" origin that records what it receives.

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use serde_json::json;

use crate::http::Reply;
use crate::record::RecordedRequest;
use crate::state::{now_ms, AccessToken, Counters, Held, Shared};

/// The longest `/slow?ms=` honoured.
const MAX_SLOW_MS: u64 = 60_000;

/// How long `/hold` waits for a release before answering 503, so that a test
/// that fails before releasing cannot leave a client hanging for good.
const MAX_HOLD: Duration = Duration::from_secs(120);

pub(crate) fn handle(shared: &Arc<Shared>, req: RecordedRequest) -> Reply {
    Counters::bump(&shared.counters.api);
    shared.log().last_api = Some(req.clone());
    match req.path.as_str() {
        "/redirect-same" => return Reply::redirect("/whoami"),
        "/redirect-loop" => return Reply::redirect("/redirect-loop"),
        "/redirect-other" => return Reply::redirect(&format!("{}/capture", shared.other_url)),
        "/slow" => {
            let ms = req
                .query_param("ms")
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
            thread::sleep(Duration::from_millis(ms.min(MAX_SLOW_MS)));
        }
        "/hold" => {
            // A request that would be refused is refused at once (nothing
            // to wait for); an accepted one waits for the test's release and
            // is then checked again below, like a server that authorizes
            // late: a token revoked while it waited gets the 401.
            if authenticate(shared, &req).is_none() {
                return unauthorized();
            }
            if shared.hold(MAX_HOLD) == Held::Expired {
                return Reply::json(503, &json!({ "error": "hold_not_released" }));
            }
        }
        _ => {}
    }
    let token = match authenticate(shared, &req) {
        Some(t) => t,
        None => return unauthorized(),
    };
    let path = req.path.as_str();
    match path {
        "/whoami" | "/slow" | "/hold" => Reply::json(
            200,
            &json!({ "sub": token.sub, "client_id": token.client_id, "scope": token.scope }),
        ),
        "/echo" => Reply::json(
            200,
            &json!({
                "method": req.method,
                "path": req.path,
                "query": req.query,
                "content_type": req.header("content-type"),
                "body": req.body,
            }),
        ),
        "/text" => Reply::text(200, "hello\n"),
        _ => match path.strip_prefix("/status/").map(str::parse::<u16>) {
            Some(Ok(code)) if (200..=599).contains(&code) => {
                Reply::json(code, &json!({ "status": code }))
            }
            Some(_) => Reply::json(400, &json!({ "error": "bad_status" })),
            None => Reply::json(404, &json!({ "error": "not_found" })),
        },
    }
}

/// The token behind a valid `Authorization: Bearer` header, if any.
fn authenticate(shared: &Shared, req: &RecordedRequest) -> Option<AccessToken> {
    if shared.behaviour().api_always_401 {
        return None;
    }
    let (scheme, token) = req.authorization()?.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let info = shared.store().access.get(token.trim())?.clone();
    match info.expires_at_ms {
        Some(exp) if now_ms() >= exp => None,
        _ => Some(info),
    }
}

fn unauthorized() -> Reply {
    Reply::json(401, &json!({ "error": "invalid_token" })).header(
        "WWW-Authenticate",
        "Bearer error=\"invalid_token\", error_description=\"The access token is invalid or expired\"",
    )
}

/// The foreign origin: 200 `{"captured":true}` to everything, recording the
/// `Authorization` header it got.
pub(crate) fn handle_other(shared: &Arc<Shared>, req: RecordedRequest) -> Reply {
    Counters::bump(&shared.counters.other);
    shared
        .log()
        .other_authorization
        .push(req.authorization().map(str::to_string));
    Reply::json(200, &json!({ "captured": true }))
}
