//! `lmi api --paginate` (SPEC §4.4): page after page through the
//! authenticated client, so every rule of §4 holds for each page (origin
//! pinning, same-origin redirects, the single 401 discard-and-retry).
//!
//! The next page is the `Link: <URL>; rel="next"` of the response (RFC
//! 8288), or with `--next EXPR` what a jq expression finds in the page's
//! body: a URL, or a cursor set as the query parameter `--cursor-param`
//! of the first URL. `lmi api graphql` POSTs again with the query's
//! `$endCursor` from `pageInfo` (`graphql_pages`). A next URL outside the allowed origins ends the walk
//! (exit 5) before anything is sent there; one already fetched is a loop
//! (exit 5). Pages are written as they come, so what was printed stays
//! printed when a later page fails.
//!
//! Memory: a page is streamed (read whole only with `--next`, which needs
//! its body); what is kept across pages is a 64-bit hash per URL fetched.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::io::{self, BufRead, BufReader, Read, Write};

use jaq_json::Val;
use url::Url;

use super::graphql_pages;
use super::jq::Program;
use super::merge::{Pages, Sink};
use crate::auth::client::{Client, Request};
use crate::config::ApiConfig;
use crate::error::{Error, Result};
use crate::http::Payload;
use crate::output::Output;
use crate::redact;
use crate::secret::Secret;

/// What to do with the pages.
pub struct Walk<'a> {
    pub api: &'a ApiConfig,
    pub out: &'a Output,
    pub jq: Option<&'a Program>,
    pub next: Option<&'a Program>,
    pub cursor_param: Option<&'a str>,
    pub slurp: bool,
    /// `lmi api graphql`: the next page is the same POST with `$endCursor`.
    pub graphql: bool,
}

/// What comes after a page.
enum Next {
    Url(Url),
    /// GraphQL: the cursor (for the loop check) and the body that asks for
    /// the page after it.
    Body(String, Payload),
}

/// Where the pages go.
enum Writer<'a, W: Write> {
    /// Merged arrays, pages in turn, or `--slurp`'s array.
    Pages(Pages<W>),
    /// `--jq` on each page.
    Jq(&'a Program, W),
    /// `--slurp --jq` with a program that starts with `.[]`: the rest of
    /// it on each page as it comes.
    JqEachPage(&'a Program, W),
    /// `--slurp --jq` with any other program: it needs every page at once.
    JqAll(&'a Program, W, Vec<Val>),
}

impl Walk<'_> {
    /// Fetches `first` and every page after it.
    pub fn run(&self, client: &Client<'_>, first: Request) -> Result<()> {
        let out = self.out.writer();
        let mut writer = match (self.jq, self.slurp) {
            (None, slurp) => Writer::Pages(Pages::new(Sink::new(out, self.out.is_json()), slurp)),
            (Some(p), false) => Writer::Jq(p, out),
            (Some(p), true) if p.has_element_rest() => Writer::JqEachPage(p, out),
            (Some(p), true) => Writer::JqAll(p, out, Vec::new()),
        };
        let walked = self.walk(client, first, &mut writer);
        // Pages already written stay written, and a merged array is closed
        // so that what was printed is still JSON.
        let finished = match &mut writer {
            Writer::Pages(p) => p.finish().map_err(Error::stdout_write),
            Writer::Jq(_, w) | Writer::JqEachPage(_, w) => w.flush().map_err(Error::stdout_write),
            Writer::JqAll(p, w, pages) if walked.is_ok() => {
                let all = Val::Arr(std::mem::take(pages).into());
                p.run(all, &mut |v| {
                    super::jq::write_result(w, v).map_err(Error::stdout_write)
                })?;
                w.flush().map_err(Error::stdout_write)
            }
            Writer::JqAll(..) => Ok(()),
        };
        if let Writer::Pages(p) = &writer {
            if p.sink.broken {
                tracing::warn!(target: "api", "a page was not complete JSON; written as received from there");
            }
        }
        walked.and(finished)
    }

    fn walk<W: Write>(
        &self,
        client: &Client<'_>,
        first: Request,
        writer: &mut Writer<'_, W>,
    ) -> Result<()> {
        let start = first.url.clone();
        let mut seen = HashSet::new();
        seen.insert(hash(start.as_str()));
        let mut request = first;
        let mut pages = 0usize;
        loop {
            let mut exchange = client.send(request.clone())?;
            if let Some(refused) = exchange.refused_redirect.take() {
                return Err(refused);
            }
            if let Some(e) = exchange.status_error() {
                return Err(e);
            }
            pages += 1;
            let page_url = exchange.request.url.clone();
            let what = format!("GET {} (page {pages})", redact::url(&page_url));
            let link = exchange
                .response
                .headers
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case("link"))
                .find_map(|(_, v)| next_link(v));
            let token = exchange.token.clone();
            let next = if self.next.is_none() && !self.graphql {
                let mut body = BufReader::with_capacity(128 * 1024, &mut exchange.response.body);
                self.write_page(writer, &mut body, &what, &token)?;
                match link {
                    None => None,
                    Some(link) => Some(Next::Url(page_url.join(&link).map_err(|e| {
                        Error::service(format!(
                            "{what}: the Link header's next URL {:?} is not valid: {e}",
                            redact::server_text(
                                &link.chars().take(200).collect::<String>(),
                                &[&token]
                            )
                        ))
                    })?)),
                }
            } else {
                // The next page is in this one's body: read it whole (one
                // page, whatever the number of pages).
                let mut bytes = Vec::new();
                exchange
                    .response
                    .body
                    .read_to_end(&mut bytes)
                    .map_err(|e| Error::service(format!("{what}: reading the body failed: {e}")))?;
                let not_json = |e: serde_json::Error| {
                    let start =
                        String::from_utf8_lossy(&bytes[..bytes.len().min(120)]).into_owned();
                    Error::service(format!(
                        "{what}: the page is not JSON ({e}); it starts with {:?}",
                        redact::server_text(start.trim(), &[&token])
                    ))
                };
                if self.graphql {
                    let value: serde_json::Value =
                        serde_json::from_slice(&bytes).map_err(not_json)?;
                    self.write_page(writer, &mut &bytes[..], &what, &token)?;
                    if graphql_pages::has_errors(&value) {
                        return Err(super::graphql::errors_error(&what));
                    }
                    graphql_pages::next(&request, &value)?.map(|(c, b)| Next::Body(c, b))
                } else {
                    let value = serde_json::from_slice::<Val>(&bytes).map_err(not_json)?;
                    self.write_page(writer, &mut &bytes[..], &what, &token)?;
                    let mut found = None;
                    if let Some(expr) = self.next {
                        expr.run(value, &mut |v| {
                            if found.is_none() {
                                found = Some(v.clone());
                            }
                            Ok(())
                        })?;
                    }
                    self.next_url(found, &start, &page_url, &what, &token)?
                        .map(Next::Url)
                }
            };
            match next {
                None => {
                    tracing::debug!(target: "api", "{pages} page(s), no next page");
                    return Ok(());
                }
                Some(Next::Body(cursor, body)) => {
                    if !seen.insert(hash(&cursor)) {
                        return Err(Error::service(format!(
                            "{what}: the next endCursor was already used; stopping at this pagination loop"
                        )));
                    }
                    request.body = Some(body);
                }
                Some(Next::Url(next)) => {
                    self.check_next(&next, &page_url, &what, &token, &mut seen)?;
                    request.url = next;
                }
            }
        }
    }

    /// The origin rule and the loop check for a next URL.
    fn check_next(
        &self,
        next: &Url,
        page_url: &Url,
        what: &str,
        token: &Secret,
        seen: &mut HashSet<u64>,
    ) -> Result<()> {
        if !self.api.allows(next) {
            return Err(Error::service(format!(
                "{what}: the next page is on {}, not the service's origin; not fetched, so the token stays on {}",
                redact::server_text(&redact::foreign_url(next), &[token]),
                crate::http::origin(page_url)
            ))
            .with_hint("the pages printed so far are complete; lmi sends the token only to API_BASE_URL's origin and API_ALLOWED_ORIGINS"));
        }
        if !seen.insert(hash(next.as_str())) {
            return Err(Error::service(format!(
                "{what}: the next page {} was already fetched; stopping at this pagination loop",
                redact::server_text(&redact::url(next), &[token])
            )));
        }
        Ok(())
    }

    fn write_page<W: Write>(
        &self,
        writer: &mut Writer<'_, W>,
        body: &mut (dyn BufRead + Send),
        what: &str,
        token: &Secret,
    ) -> Result<()> {
        match writer {
            Writer::Pages(p) => p.page(body).map_err(|e| page_error(what, e)),
            Writer::Jq(program, w) => program.filter(body, w, what, token),
            Writer::JqEachPage(program, w) => program.filter_element(body, w, what, token),
            Writer::JqAll(_, _, pages) => {
                let mut de = serde_json::Deserializer::from_reader(body);
                let value: Val = serde::Deserialize::deserialize(&mut de)
                    .and_then(|v| de.end().map(|()| v))
                    .map_err(|e| {
                        Error::service(format!(
                            "{what}: --jq needs a JSON body, but it is not JSON: {e}"
                        ))
                    })?;
                pages.push(value);
                Ok(())
            }
        }
    }

    /// The next URL from what `--next` found: a URL (relative to the page),
    /// a cursor for `--cursor-param`, or nothing (null, false, "").
    fn next_url(
        &self,
        found: Option<Val>,
        start: &Url,
        page: &Url,
        what: &str,
        token: &Secret,
    ) -> Result<Option<Url>> {
        let text = match found {
            None | Some(Val::Null | Val::Bool(false)) => return Ok(None),
            Some(Val::TStr(s) | Val::BStr(s)) => String::from_utf8_lossy(&s).into_owned(),
            Some(Val::Num(n)) => n.to_string(),
            Some(other) => {
                let kind = if matches!(other, Val::Arr(_)) {
                    "an array"
                } else {
                    "an object"
                };
                return Err(Error::service(format!(
                    "{what}: --next yielded {kind}, not a URL or a cursor"
                )));
            }
        };
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        let lower = text.to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") || text.starts_with('/') {
            return page.join(text).map(Some).map_err(|e| {
                Error::service(format!(
                    "{what}: the next URL {:?} is not valid: {e}",
                    redact::server_text(text, &[token])
                ))
            });
        }
        let Some(param) = self.cursor_param else {
            return Err(Error::usage(format!(
                "{what}: --next yielded {:?}, which is not a URL",
                redact::server_text(text, &[token])
            ))
            .with_hint("name the query parameter that takes it with --cursor-param NAME"));
        };
        let mut url = start.clone();
        let kept: Vec<(String, String)> = start
            .query_pairs()
            .filter(|(k, _)| k != param)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.query_pairs_mut()
            .clear()
            .extend_pairs(kept)
            .append_pair(param, text);
        Ok(Some(url))
    }
}

fn page_error(what: &str, e: io::Error) -> Error {
    // Writing to stdout and reading the body share the io path here; a
    // closed stdout is told apart by its kind.
    if e.kind() == io::ErrorKind::BrokenPipe {
        return Error::stdout_write(e);
    }
    Error::service(format!("{what}: the page broke off: {e}")).with_cause(e)
}

fn hash(key: &str) -> u64 {
    let mut h = DefaultHasher::new();
    key.hash(&mut h);
    h.finish()
}

/// The target of the first `rel="next"` link in a `Link` header value
/// (RFC 8288 §3): `<URL>; rel="next"`, links separated by commas, `rel`
/// a space-separated list, compared case-insensitively.
pub fn next_link(value: &str) -> Option<String> {
    let mut rest = value;
    loop {
        let open = rest.find('<')?;
        let close = open + rest[open..].find('>')?;
        let target = &rest[open + 1..close];
        rest = &rest[close + 1..];
        // The parameters run to the next link, a comma outside quotes.
        let mut end = rest.len();
        let mut quoted = false;
        for (i, c) in rest.char_indices() {
            match c {
                '"' => quoted = !quoted,
                ',' if !quoted => {
                    end = i;
                    break;
                }
                _ => {}
            }
        }
        let params = &rest[..end];
        rest = &rest[end..];
        let is_next = params.split(';').any(|p| {
            let Some((name, value)) = p.split_once('=') else {
                return false;
            };
            name.trim().eq_ignore_ascii_case("rel")
                && value
                    .trim()
                    .trim_matches('"')
                    .split_ascii_whitespace()
                    .any(|r| r.eq_ignore_ascii_case("next"))
        });
        if is_next {
            return Some(target.trim().to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_headers() {
        let v = r#"<https://h/x?page=1>; rel="first", <https://h/x?page=3>; rel="next", <https://h/x?page=9>; rel="last""#;
        assert_eq!(next_link(v).as_deref(), Some("https://h/x?page=3"));
        assert_eq!(
            next_link("</p?a=1,2>; title=\"a, b\"; REL=\"prev Next\"").as_deref(),
            Some("/p?a=1,2")
        );
        assert_eq!(
            next_link("<https://h/x>; rel=next").as_deref(),
            Some("https://h/x")
        );
        assert_eq!(next_link(r#"<https://h/x>; rel="last""#), None);
        assert_eq!(next_link(r#"<https://h/x>; rel="nextish""#), None);
        assert_eq!(next_link(""), None);
        assert_eq!(next_link("<broken"), None);
    }
}
