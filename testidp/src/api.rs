//! The protected API on `api_url` (bearer-token check against tokens the IdP
//! issued, or a DPoP token with its proof, checked in `dpop.rs`; `/whoami`, `/echo`, `/status/<code>`, `/text`, `/slow`, `/hold`,
//! redirects, and the streaming endpoints `/bytes/<N>`, `/json-array/<N>`,
//! `/json-broken/<N>`, `/drop/<N>`, `/stall/<N>`; `/graphql` in
//! `graphql.rs`, the paginated `/pages/…` in `pages.rs`) and the foreign
//! "other" origin that records what it receives.

use std::io::{self, Write};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use serde_json::json;

use crate::http::Reply;
use crate::record::RecordedRequest;
use crate::state::{now_ms, AccessToken, Counters, Held, Shared};
use crate::stream::{JsonArrayReader, PatternReader};

/// The longest `/slow?ms=` honoured.
const MAX_SLOW_MS: u64 = 60_000;

/// How long `/hold` waits for a release before answering 503, so that a test
/// that fails before releasing cannot leave a client hanging for good.
const MAX_HOLD: Duration = Duration::from_secs(120);

/// How long `/stall/<N>` stays silent when nobody releases it.
const MAX_STALL: Duration = Duration::from_secs(120);

/// `/drop/<N>` announces this many bytes more than it sends.
pub const DROP_MISSING_BYTES: u64 = 1024 * 1024;

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
            if let Err(reply) = authenticate(shared, &req) {
                return reply;
            }
            if shared.hold_gate.hold(MAX_HOLD) == Held::Expired {
                return Reply::json(503, &json!({ "error": "hold_not_released" }));
            }
        }
        _ => {}
    }
    let token = match authenticate(shared, &req) {
        Ok(t) => t,
        Err(reply) => return reply,
    };
    let path = req.path.as_str();
    match path {
        "/whoami" | "/slow" | "/hold" => {
            let mut who =
                json!({ "sub": token.sub, "client_id": token.client_id, "scope": token.scope });
            // Only tokens exchanged with an actor token have `act`.
            if let Some(act) = &token.act {
                who["act"] = act.clone();
            }
            Reply::json(200, &who)
        }
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
        "/graphql" => crate::graphql::handle(&req),
        _ if path.starts_with("/pages/") => crate::pages::handle(shared, &req),
        _ if path.starts_with("/bytes/")
            || path.starts_with("/json-array/")
            || path.starts_with("/json-broken/")
            || path.starts_with("/drop/")
            || path.starts_with("/stall/") =>
        {
            streaming(shared, &req)
        }
        _ => match path.strip_prefix("/status/").map(str::parse::<u16>) {
            Some(Ok(code)) if (200..=599).contains(&code) => {
                Reply::json(code, &json!({ "status": code }))
            }
            Some(_) => Reply::json(400, &json!({ "error": "bad_status" })),
            None => Reply::json(404, &json!({ "error": "not_found" })),
        },
    }
}

/// The streaming endpoints; `path` is `/<kind>/<N>`.
fn streaming(shared: &Arc<Shared>, req: &RecordedRequest) -> Reply {
    let (kind, n) = req.path[1..].split_once('/').unwrap_or(("", ""));
    let Ok(n) = n.parse::<u64>() else {
        return Reply::json(400, &json!({ "error": "bad_length" }));
    };
    const OCTETS: &str = "application/octet-stream";
    match kind {
        "bytes" => {
            let chunked = req.query_param("chunked").is_some();
            let length = (!chunked).then_some(n);
            Reply::stream(200, OCTETS, PatternReader::new(0, n), length)
        }
        "json-array" => Reply::stream(200, "application/json", JsonArrayReader::array(n), None),
        "json-broken" => Reply::stream(200, "application/json", JsonArrayReader::broken(n), None),
        "drop" => Reply::raw(move |w| {
            write!(
                w,
                "HTTP/1.1 200 OK\r\nContent-Type: {OCTETS}\r\nContent-Length: {}\r\n\r\n",
                n + DROP_MISSING_BYTES
            )?;
            io::copy(&mut PatternReader::new(0, n), w)?;
            Ok(())
        }),
        _ => {
            let shared = Arc::clone(shared);
            Reply::raw(move |w| {
                write!(
                    w,
                    "HTTP/1.1 200 OK\r\nContent-Type: {OCTETS}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                )?;
                if n > 0 {
                    write!(w, "{n:x}\r\n")?;
                    io::copy(&mut PatternReader::new(0, n), w)?;
                    w.write_all(b"\r\n")?;
                }
                w.flush()?;
                shared.stall_gate.hold(MAX_STALL);
                w.write_all(b"0\r\n\r\n")
            })
        }
    }
}

/// The token behind a valid `Authorization: Bearer` header, or a `DPoP`
/// one with a valid proof (`dpop.rs`); else the reply that refuses it.
fn authenticate(shared: &Shared, req: &RecordedRequest) -> Result<AccessToken, Reply> {
    if shared.behaviour().api_always_401 {
        return Err(unauthorized());
    }
    let (scheme, token) = req
        .authorization()
        .and_then(|a| a.trim().split_once(' '))
        .ok_or_else(unauthorized)?;
    let token = token.trim();
    let dpop = scheme.eq_ignore_ascii_case("dpop");
    if !dpop && !scheme.eq_ignore_ascii_case("bearer") {
        return Err(unauthorized());
    }
    // The proof (and the API's nonce) first, as a resource server that
    // checks the request before it looks the token up.
    let proof_jkt = if dpop {
        Some(crate::dpop::api_proof(shared, req, token)?)
    } else {
        None
    };
    let info = shared
        .store()
        .access
        .get(token)
        .cloned()
        .ok_or_else(unauthorized)?;
    if matches!(info.expires_at_ms, Some(exp) if now_ms() >= exp) {
        return Err(unauthorized());
    }
    crate::dpop::api_binding(shared, dpop, proof_jkt.as_deref(), &info)?;
    Ok(info)
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
