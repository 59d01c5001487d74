//! Paginated endpoints of the test API, for `lmi api --paginate`:
//!
//! - `/pages/array/<N>?page=K&per=M`: page K of N is a JSON array of M items
//!   `{"id": <index over all pages>, "page": K}`, with `Link` rel="first",
//!   "next" (absolute) and "last". `&invalidate=K` makes page K forget every
//!   access token once it has answered, so the next page meets a 401.
//! - `/pages/object/<N>?page=K`: `{"page": K, "items": [...]}` with a
//!   relative `Link` rel="next".
//! - `/pages/cursor/<N>?cursor=cK`: `{"items": [...], "next_cursor": "cK+1"}`
//!   (null on the last page), no Link header.
//! - `/pages/next-url/<N>?page=K`: `{"items": [...], "links": {"next": URL}}`.
//! - `POST /pages/graphql/<N>`: GraphQL, the page chosen by the
//!   `endCursor` variable (`cK`), with `pageInfo { hasNextPage endCursor }`.
//! - `/pages/foreign`: one page whose next link is on the other origin.
//! - `/pages/loop/<N>?page=K`: page N links back to `/pages/loop/<N>`, the
//!   first page.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::http::Reply;
use crate::record::RecordedRequest;
use crate::state::Shared;

/// Items on a page unless `per=` says otherwise.
const PER_PAGE: u64 = 3;

pub(crate) fn handle(shared: &Arc<Shared>, req: &RecordedRequest) -> Reply {
    let rest = req.path.trim_start_matches("/pages/");
    let (kind, n) = rest.split_once('/').unwrap_or((rest, "1"));
    let Ok(pages) = n.parse::<u64>() else {
        return Reply::json(400, &json!({ "error": "bad_page_count" }));
    };
    let number = |name: &str| req.query_param(name).and_then(|v| v.parse::<u64>().ok());
    let per = number("per").unwrap_or(PER_PAGE);
    let page = match kind {
        "cursor" => req
            .query_param("cursor")
            .and_then(|c| c.strip_prefix('c').and_then(|k| k.parse().ok()))
            .unwrap_or(1),
        "graphql" => serde_json::from_str::<Value>(&req.body)
            .ok()
            .and_then(|b| b["variables"]["endCursor"].as_str().map(str::to_owned))
            .and_then(|c| c.strip_prefix('c').and_then(|k| k.parse().ok()))
            .unwrap_or(1),
        _ => number("page").unwrap_or(1),
    };
    if page == 0 || page > pages.max(1) {
        return Reply::json(404, &json!({ "error": "no_such_page" }));
    }
    let items = || -> Value {
        ((page - 1) * per..page * per)
            .map(|id| json!({ "id": id, "page": page }))
            .collect()
    };
    let api = &shared.api_url;
    let last = page == pages;
    match kind {
        "array" => {
            let keep: String = ["per", "invalidate"]
                .iter()
                .filter_map(|k| req.query_param(k).map(|v| format!("&{k}={v}")))
                .collect();
            let at = |k: u64| format!("<{api}/pages/array/{pages}?page={k}{keep}>");
            let mut link = format!("{}; rel=\"first\"", at(1));
            if !last {
                link.push_str(&format!(", {}; rel=\"next\"", at(page + 1)));
            }
            link.push_str(&format!(", {}; rel=\"last\"", at(pages)));
            if number("invalidate") == Some(page) {
                // Answered with the token it came with, which then stops
                // working: the next page gets a 401.
                shared.store().access.clear();
            }
            Reply::json(200, &items()).header("Link", &link)
        }
        "object" => {
            let reply = Reply::json(200, &json!({ "page": page, "items": items() }));
            if last {
                reply
            } else {
                let next = format!("</pages/object/{pages}?page={}>; rel=\"next\"", page + 1);
                reply.header("Link", &next)
            }
        }
        "cursor" => {
            let next = (!last).then(|| format!("c{}", page + 1));
            Reply::json(200, &json!({ "items": items(), "next_cursor": next }))
        }
        "next-url" => {
            let next = (!last).then(|| format!("{api}/pages/next-url/{pages}?page={}", page + 1));
            Reply::json(200, &json!({ "items": items(), "links": { "next": next } }))
        }
        "graphql" => {
            let info = json!({ "hasNextPage": !last, "endCursor": format!("c{}", page + 1) });
            Reply::json(
                200,
                &json!({ "data": { "items": { "nodes": items(), "pageInfo": info } } }),
            )
        }
        "foreign" => {
            let next = format!("<{}/capture?page=2>; rel=\"next\"", shared.other_url);
            Reply::json(200, &items()).header("Link", &next)
        }
        "loop" => {
            // Back to the first page's own URL, as a server that wraps round.
            let link = if last {
                format!("</pages/loop/{pages}>; rel=\"next\"")
            } else {
                format!("</pages/loop/{pages}?page={}>; rel=\"next\"", page + 1)
            };
            Reply::json(200, &items()).header("Link", &link)
        }
        _ => Reply::json(404, &json!({ "error": "not_found" })),
    }
}
