//! `lmi api graphql --paginate` (SPEC §4.4): the query's `$endCursor`
//! variable set from the page's `pageInfo { hasNextPage endCursor }`, the
//! request POSTed again, until `hasNextPage` is false. The first `pageInfo`
//! in the answer's `data` (depth first, in document order) leads, as with
//! `gh api graphql --paginate`.

use serde_json::Value;

use crate::auth::client::Request;
use crate::error::{Error, Result};
use crate::http::Payload;

/// The request body as JSON, when the query takes `$endCursor`.
pub fn check(request: &Request) -> Result<()> {
    let query = body(request)?
        .get("query")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if !query.contains("$endCursor") {
        return Err(Error::usage(
            "lmi api graphql --paginate needs a query that takes the $endCursor variable",
        )
        .with_hint("declare it, e.g. query($endCursor: String) { items(first: 100, after: $endCursor) { nodes { id } pageInfo { hasNextPage endCursor } } }"));
    }
    Ok(())
}

fn body(request: &Request) -> Result<Value> {
    match &request.body {
        Some(Payload::Bytes(bytes)) => serde_json::from_slice(bytes)
            .map_err(|e| Error::internal(format!("the GraphQL request body is not JSON: {e}"))),
        _ => Err(Error::internal("a GraphQL request without its body")),
    }
}

/// The cursor of the next page and the request body that asks for it, or
/// None on the last page.
pub fn next(request: &Request, page: &Value) -> Result<Option<(String, Payload)>> {
    let Some(info) = page_info(page.get("data").unwrap_or(&Value::Null)) else {
        return Ok(None);
    };
    if info.get("hasNextPage") != Some(&Value::Bool(true)) {
        return Ok(None);
    }
    let cursor = match info.get("endCursor") {
        Some(Value::String(c)) if !c.is_empty() => c.clone(),
        _ => {
            return Err(Error::service(
                "the GraphQL answer says hasNextPage but gives no endCursor",
            ))
        }
    };
    let mut body = body(request)?;
    if !body.get("variables").is_some_and(Value::is_object) {
        body["variables"] = Value::Object(serde_json::Map::new());
    }
    body["variables"]["endCursor"] = Value::String(cursor.clone());
    Ok(Some((
        cursor,
        Payload::Bytes(body.to_string().into_bytes()),
    )))
}

/// Whether the answer carries a non-empty `errors` array.
pub fn has_errors(page: &Value) -> bool {
    page.get("errors")
        .and_then(Value::as_array)
        .is_some_and(|e| !e.is_empty())
}

fn page_info(v: &Value) -> Option<&serde_json::Map<String, Value>> {
    match v {
        Value::Object(map) => {
            if let Some(Value::Object(info)) = map.get("pageInfo") {
                if info.contains_key("hasNextPage") {
                    return Some(info);
                }
            }
            map.values().find_map(page_info)
        }
        Value::Array(items) => items.iter().find_map(page_info),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(body: &Value) -> Request {
        Request {
            method: "POST".into(),
            url: url::Url::parse("https://h/graphql").unwrap(),
            headers: Vec::new(),
            body: Some(Payload::Bytes(body.to_string().into_bytes())),
        }
    }

    #[test]
    fn the_first_page_info_leads() {
        let req =
            request(&json!({"query": "query($endCursor: String) { x }", "variables": {"n": 1}}));
        assert!(check(&req).is_ok());
        let page = json!({"data": {"repo": {"issues": {"nodes": [], "pageInfo": {"hasNextPage": true, "endCursor": "c2"}}}}});
        let (cursor, body) = next(&req, &page).unwrap().unwrap();
        assert_eq!(cursor, "c2");
        let Payload::Bytes(body) = body else { panic!() };
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["variables"], json!({"n": 1, "endCursor": "c2"}));
        let last = json!({"data": {"x": {"pageInfo": {"hasNextPage": false, "endCursor": "c3"}}}});
        assert!(next(&req, &last).unwrap().is_none());
        assert!(next(&req, &json!({"data": null})).unwrap().is_none());
        assert!(has_errors(&json!({"errors": [{"message": "x"}]})));
        assert!(!has_errors(&json!({"errors": []})));
        let no_cursor = request(&json!({"query": "{ x }", "variables": {}}));
        assert_eq!(check(&no_cursor).unwrap_err().exit_code(), 2);
    }
}
