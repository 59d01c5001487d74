//! The test API's GraphQL endpoint, `POST /graphql` (behind the same
//! bearer-token check as the rest of the API).
//!
//! It answers `{"data": {"query", "variables"}}`, echoing what it got, so a
//! test sees the request lmi built; a request whose variables hold
//! `"fail": true` gets GraphQL's usual failure instead: HTTP 200 with a
//! non-empty `errors` array.

use serde_json::{json, Value};

use crate::http::Reply;
use crate::record::RecordedRequest;

pub(crate) fn handle(req: &RecordedRequest) -> Reply {
    if req.method != "POST" {
        return Reply::json(405, &json!({ "error": "method_not_allowed" }));
    }
    let Ok(body) = serde_json::from_str::<Value>(&req.body) else {
        return Reply::json(
            400,
            &json!({ "errors": [{ "message": "the body is not JSON" }] }),
        );
    };
    let (Some(query), variables) = (body["query"].as_str(), &body["variables"]) else {
        return Reply::json(400, &json!({ "errors": [{ "message": "no query" }] }));
    };
    if variables["fail"] == json!(true) {
        return Reply::json(
            200,
            &json!({ "data": null, "errors": [{ "message": "Field 'nope' doesn't exist", "path": ["nope"] }] }),
        );
    }
    Reply::json(
        200,
        &json!({ "data": { "query": query, "variables": variables }, "errors": [] }),
    )
}
