//! The browser's HTTP user agent: one GET without following redirects,
//! following them up to a limit, and editing a URL's query parameters.

use std::time::Duration;

use super::exit;

/// Per-request time limit.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_REDIRECTS: usize = 10;

/// A failure: the exit code (see [`exit`]) and what went wrong.
pub(super) type Failure = (i32, String);

pub(super) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .proxy(None)
        .timeout_global(Some(REQUEST_TIMEOUT))
        .build()
        .into()
}

/// One response: status, resolved `Location`, body (lossy UTF-8).
pub(super) struct Page {
    pub(super) status: u16,
    pub(super) location: Option<url::Url>,
    pub(super) body: String,
}

impl Page {
    pub(super) fn redirect(&self) -> Option<&url::Url> {
        self.location
            .as_ref()
            .filter(|_| (300..400).contains(&self.status))
    }
}

/// One GET without following redirects.
pub(super) fn get(agent: &ureq::Agent, url: &url::Url) -> Result<Page, Failure> {
    let resp = agent
        .get(url.as_str())
        .call()
        .map_err(|e| (exit::FAILED, format!("GET {url} failed: {e}")))?;
    let status = resp.status().as_u16();
    let location = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .and_then(|l| url.join(l).ok());
    let body = resp.into_body().read_to_vec().map_err(|e| {
        (
            exit::FAILED,
            format!("reading the body of {url} failed: {e}"),
        )
    })?;
    Ok(Page {
        status,
        location,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// GET `start`, following redirects; the final page and its URL.
pub(super) fn follow(agent: &ureq::Agent, start: url::Url) -> Result<(url::Url, Page), Failure> {
    let mut url = start;
    for _ in 0..=MAX_REDIRECTS {
        let page = get(agent, &url)?;
        match page.redirect() {
            Some(next) => url = next.clone(),
            None => return Ok((url, page)),
        }
    }
    Err((exit::FAILED, format!("more than {MAX_REDIRECTS} redirects")))
}

/// `target` with its `state` query parameter replaced by `state` (or
/// removed when `None`); added when it had none.
pub(super) fn with_state(target: &url::Url, state: Option<&str>) -> url::Url {
    with_param(target, "state", state)
}

/// `target` with its `name` query parameter replaced by `value` (or removed
/// when `None`); added when it had none.
pub(super) fn with_param(target: &url::Url, name: &str, value: Option<&str>) -> url::Url {
    let mut pairs: Vec<(String, String)> = target
        .query_pairs()
        .filter(|(k, _)| k != name)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if let Some(value) = value {
        pairs.push((name.to_string(), value.to_string()));
    }
    let mut out = target.clone();
    out.set_query(None);
    if !pairs.is_empty() {
        out.query_pairs_mut().extend_pairs(pairs);
    }
    out
}
