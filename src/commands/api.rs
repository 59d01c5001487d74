//! `lmi api`: authenticated requests to the environment's service (SPEC §4).
//!
//! The work runs in three steps, and only the last one touches the network:
//! 1. `plan`: every input is checked — the target URL and its origin, the
//!    headers, the body — so bad input costs no token and sends nothing.
//! 2. the exchange, by the authenticated client ([`crate::auth::client`]):
//!    the token, origin pinning, same-origin redirects and the 401 retry.
//! 3. `response::print`: the response body streamed to stdout as it
//!    arrives (JSON re-indented, everything else byte for byte), `-i`
//!    adding the status line and headers first.
//!
//! Request bodies are streamed too; see `request_body`. Fields (`-f`/`-F`)
//! are parsed in `fields`, and `lmi api graphql` is built in `graphql`.
//! `--jq` runs a jq program on the body (`jq`), `--paginate` walks the
//! pages (`paginate`, written by `merge`).

mod download;
mod elements;
mod fields;
mod graphql;
mod graphql_pages;
mod jq;
mod merge;
mod paginate;
mod request_body;
mod response;

use ureq::http::{HeaderName, HeaderValue};
use url::Url;

use super::Ctx;
use std::time::Duration;

use crate::auth::client::{Exchange, Request};
use crate::cli::ApiArgs;
use crate::config::ApiConfig;
use crate::error::{Error, Result};
use crate::http::{origin, Payload, StreamingResponse};
use fields::Fields;

pub fn run(ctx: &Ctx, args: &ApiArgs) -> Result<u8> {
    let api = ctx.config()?.api()?;
    let request = plan(api, args)?;
    // Programs compile before anything is sent: a typo costs no request.
    let program = |flag, text: &Option<String>| {
        text.as_deref()
            .map(|t| jq::Program::compile(flag, t))
            .transpose()
    };
    let filter = program("--jq", &args.jq)?;
    let next = program("--next", &args.next)?;
    let graphql = args.path == graphql::PATH;
    check_jq(args)?;
    if args.paginate {
        check_paginate(args, &request, graphql)?;
        let walk = paginate::Walk {
            api,
            out: &ctx.out,
            jq: filter.as_ref(),
            next: next.as_ref(),
            cursor_param: args.cursor_param.as_deref(),
            slurp: args.slurp,
            graphql,
        };
        return ctx
            .with_client(|client| walk.run(client, request))
            .map(|()| 0);
    }
    // Before any token or request: the folder must take the file.
    let download = args
        .output_file
        .as_deref()
        .map(download::Download::prepare)
        .transpose()?;
    let timeout = ctx.transport()?.timeout();
    let mut exchange = ctx.with_client(|client| client.send(request))?;
    let errors = graphql.then(|| {
        let body = std::mem::replace(&mut exchange.response.body, Box::new(std::io::empty()));
        let (watch, found) = graphql::ErrorsWatch::new(body);
        exchange.response.body = Box::new(watch);
        found
    });
    match &filter {
        Some(program) if exchange.status_error().is_none() => {
            filtered(ctx, args, program, &mut exchange)?;
        }
        _ => deliver(ctx, args, &mut exchange, download, timeout)?,
    }
    if let Some(refused) = exchange.refused_redirect {
        return Err(refused);
    }
    if let Some(e) = exchange.status_error() {
        return Err(e);
    }
    if errors.is_some_and(|found| found.load(std::sync::atomic::Ordering::Relaxed)) {
        let what = format!(
            "{} {}",
            exchange.request.method,
            crate::http::loggable_url(&exchange.request.url)
        );
        return Err(graphql::errors_error(&what));
    }
    Ok(0)
}

/// The body through `--jq`, after the `-i` head.
fn filtered(
    ctx: &Ctx,
    args: &ApiArgs,
    program: &jq::Program,
    exchange: &mut Exchange,
) -> Result<()> {
    let what = format!(
        "{} {}",
        exchange.request.method,
        crate::http::loggable_url(&exchange.request.url)
    );
    let mut out = ctx.out.writer();
    if args.include {
        std::io::Write::write_all(&mut out, &response::head(&exchange.response))
            .map_err(Error::stdout_write)?;
    }
    program.filter(
        &mut exchange.response.body,
        &mut out,
        &what,
        &exchange.token,
    )?;
    std::io::Write::flush(&mut out).map_err(Error::stdout_write)
}

/// `--jq` writes to stdout: not with a body going to a file or nowhere.
fn check_jq(args: &ApiArgs) -> Result<()> {
    if args.jq.is_some() && (args.output_file.is_some() || args.silent) {
        return Err(Error::usage(
            "--jq prints its results to stdout; it cannot be combined with --output-file or --silent",
        ));
    }
    Ok(())
}

/// The body to FILE (only a 2xx one: an error page never replaces a
/// download), nowhere (`--silent`), or to stdout.
fn deliver(
    ctx: &Ctx,
    args: &ApiArgs,
    exchange: &mut Exchange,
    download: Option<download::Download>,
    timeout: Duration,
) -> Result<()> {
    let response = &mut exchange.response;
    let success = (200..300).contains(&response.status) && exchange.refused_redirect.is_none();
    let saved = match download {
        Some(target) if success => {
            print_head(ctx, args, response)?;
            target.save(response, download::shows_progress(ctx.global.quiet))?
        }
        _ if args.silent => {
            print_head(ctx, args, response)?;
            download::discard(response)?
        }
        _ => return response::print(&ctx.out, &exchange.request, response, args.include, timeout),
    };
    saved
        .map(drop)
        .map_err(|failure| response::read_failure(&exchange.request, response, failure, timeout))
}

/// The `-i` head alone, when the body goes elsewhere.
fn print_head(ctx: &Ctx, args: &ApiArgs, response: &StreamingResponse) -> Result<()> {
    if args.include {
        let head = response::head(response);
        // An empty body cannot fail to read.
        let _ = ctx.out.stream(&head, &mut std::io::empty(), false)?;
    }
    Ok(())
}

// --- step 1: the plan ---------------------------------------------------------

/// Checks every input and builds the request; no token, no network.
fn plan(api: &ApiConfig, args: &ApiArgs) -> Result<Request> {
    let stdin_taken = args.file.as_deref() == Some("-");
    let fields = Fields::parse(&args.raw_fields, &args.typed_fields, stdin_taken)?;
    let mut headers = parse_headers(&args.headers)?;
    let has = |headers: &[(String, String)], name: &str| {
        headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name))
    };
    let custom_type = has(&headers, "content-type");

    let (method, url, body) = if args.path == graphql::PATH {
        graphql::check_args(args.method.as_deref(), args.file.as_deref())?;
        let (query, variables) = graphql::query_and_variables(fields)?;
        let body = Payload::Bytes(graphql::request_body(&query, &variables));
        ("POST".to_owned(), api.graphql_url()?, Some(body))
    } else {
        // A relative PATH needs the base: the error names the key and where
        // to set it.
        let missing_base = || match api.require_base() {
            Err(e) => e,
            Ok(_) => Error::internal("API_BASE_URL is set but was not parsed"),
        };
        let mut url = target(&args.path, api.base.as_ref(), &api.allowed, missing_base)?;
        let method = method(
            args.method.as_deref(),
            args.file.is_some() || !fields.is_empty(),
            args.file.is_some(),
        )?;
        let body = match args.file.as_deref() {
            Some(source) => Some(request_body::load(source, custom_type)?),
            None => None,
        };
        // Fields go into the query string for GET and HEAD, and beside a
        // --file body; otherwise they are the JSON body.
        let body = if fields.is_empty() {
            body
        } else if body.is_some() || method == "GET" || method == "HEAD" {
            url.query_pairs_mut().extend_pairs(fields.query_pairs());
            body
        } else {
            let object = serde_json::Value::Object(fields.to_object()?);
            Some(Payload::Bytes(object.to_string().into_bytes()))
        };
        (method, url, body)
    };
    if body.is_some() && !custom_type {
        headers.push(("Content-Type".into(), "application/json".into()));
    }
    if !has(&headers, "accept") {
        headers.push(("Accept".into(), "application/json".into()));
    }
    Ok(Request {
        method,
        url,
        headers,
        body,
    })
}

/// `--paginate` walks pages of a `GET`, or of `lmi api graphql` (SPEC
/// §4.4): a body or another method would be sent again for every page.
fn check_paginate(args: &ApiArgs, request: &Request, graphql: bool) -> Result<()> {
    if !graphql && (args.file.is_some() || request.method != "GET") {
        let with_file = if args.file.is_some() {
            " with --file"
        } else {
            ""
        };
        return Err(Error::usage(format!(
            "--paginate follows pages of a GET request or of lmi api graphql, not {}{with_file}",
            request.method
        ))
        .with_hint("leave out -X, --file and body fields (use -X GET to send fields as the query string), or --paginate"));
    }
    let conflict = [
        (args.include, "-i/--include"),
        (args.output_file.is_some(), "--output-file"),
        (args.silent, "--silent"),
    ];
    if let Some((_, flag)) = conflict.iter().find(|(set, _)| *set) {
        return Err(
            Error::usage(format!("--paginate cannot be combined with {flag}"))
                .with_hint(format!("use {flag} on a single page, without --paginate")),
        );
    }
    if graphql {
        if args.next.is_some() {
            return Err(Error::usage(
                "lmi api graphql pages by pageInfo { hasNextPage endCursor }; --next is for REST APIs",
            ));
        }
        graphql_pages::check(request)?;
    }
    Ok(())
}

/// `-X` uppercased, else GET, or POST when there is a body. Only the methods
/// the HTTP agent can send are accepted, so a typo is a usage error rather
/// than a network one.
fn method(raw: Option<&str>, default_post: bool, has_body: bool) -> Result<String> {
    const KNOWN: &[&str] = &[
        "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE",
    ];
    let method = match raw {
        Some(m) => m.trim().to_ascii_uppercase(),
        None if default_post => "POST".to_owned(),
        None => "GET".to_owned(),
    };
    if !KNOWN.contains(&method.as_str()) {
        return Err(Error::usage(format!("unsupported method {method:?}"))
            .with_hint(format!("use one of: {}", KNOWN.join(", "))));
    }
    if method == "HEAD" && has_body {
        return Err(Error::usage("a HEAD request cannot carry a body (--file)"));
    }
    Ok(method)
}

/// The URL to call: a full `http(s)://` URL on an allowed origin, or PATH
/// joined to the base (its path kept: `https://h/v1` + `/whoami` is
/// `https://h/v1/whoami`). A relative PATH without a base is `missing_base()`.
fn target(
    path: &str,
    base: Option<&Url>,
    allowed: &[String],
    missing_base: impl FnOnce() -> Error,
) -> Result<Url> {
    let lower = path.trim_start().to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        let url = Url::parse(path.trim())
            .map_err(|e| Error::usage(format!("{path:?} is not a valid URL: {e}")))?;
        let wanted = origin(&url);
        let permitted = base.is_some_and(|b| origin(b) == wanted) || allowed.contains(&wanted);
        if !permitted {
            return Err(Error::usage(format!(
                "{} is not the service's origin; lmi sends the token only to API_BASE_URL's origin{}",
                wanted,
                if allowed.is_empty() { String::new() } else { " and API_ALLOWED_ORIGINS".to_owned() }
            ))
            .with_hint(format!(
                "use a path relative to API_BASE_URL, or add {wanted} to API_ALLOWED_ORIGINS if it should receive the token"
            )));
        }
        return Ok(url);
    }
    if let Some((scheme, _)) = path.split_once("://") {
        if !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        {
            return Err(Error::usage(format!(
                "{path:?}: only http:// and https:// URLs are supported"
            )));
        }
    }
    let Some(base) = base else {
        return Err(missing_base());
    };
    // Joined by text, not `Url::join`, which would replace the base's last
    // path segment (RFC 3986 §5.2) and drop a base path such as `/v1`.
    let mut prefix = base.clone();
    prefix.set_query(None);
    prefix.set_fragment(None);
    let prefix = prefix.as_str().trim_end_matches('/');
    let joined = if path.is_empty() {
        base.as_str().to_owned()
    } else if path.starts_with('/') {
        format!("{prefix}{path}")
    } else {
        format!("{prefix}/{path}")
    };
    let mut url = Url::parse(&joined).map_err(|e| {
        Error::usage(format!(
            "{path:?} does not form a valid URL with API_BASE_URL: {e}"
        ))
    })?;
    url.set_fragment(None);
    // The authority ends before PATH starts, so the origin cannot change;
    // checked anyway because the token's destination depends on it.
    if origin(&url) != origin(base) {
        return Err(Error::usage(format!(
            "{path:?} leaves the origin of API_BASE_URL"
        )));
    }
    Ok(url)
}

/// `-H 'Name: value'` values, checked as HTTP field names and values
/// (RFC 9110 §5). `Authorization` is lmi's to set.
/// Headers that choose the authority a shared front end routes to, or the
/// message framing (RFC 9110 §7.2, §7.6.1; RFC 9112 §6): a token sent under
/// another `Host` would reach another origin's backend behind the same
/// ingress, bypassing origin pinning. `:authority`-style pseudo-headers are
/// already refused as invalid names.
const ROUTING_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "upgrade",
    "te",
    "trailer",
    "forwarded",
    "x-forwarded-host",
    "x-original-url",
    "x-rewrite-url",
];

fn parse_headers(raw: &[String]) -> Result<Vec<(String, String)>> {
    raw.iter()
        .map(|h| {
            let Some((name, value)) = h.split_once(':') else {
                return Err(Error::usage(format!("header {h:?} has no ':'"))
                    .with_hint("write headers as -H 'Name: value'"));
            };
            let (name, value) = (name.trim(), value.trim());
            if HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Err(Error::usage(format!(
                    "header {h:?}: {name:?} is not a valid header name"
                )));
            }
            if HeaderValue::from_str(value).is_err() {
                return Err(Error::usage(format!(
                    "header {name}: the value contains characters a header cannot carry"
                )));
            }
            if name.eq_ignore_ascii_case("authorization") {
                return Err(Error::usage(
                    "lmi api sets the Authorization header itself from the environment's token",
                )
                .with_hint("to send other credentials, use curl or another HTTP client"));
            }
            if ROUTING_HEADERS.iter().any(|r| name.eq_ignore_ascii_case(r)) {
                return Err(Error::usage(format!(
                    "lmi api does not send a {name} header: it would change where the request (and its token) goes or how it is framed"
                ))
                .with_hint("put the host in the URL or API_BASE_URL; lmi sets framing headers itself"));
            }
            Ok((name.to_owned(), value.to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn no_base() -> Error {
        Error::config("no base")
    }

    fn joined(path: &str, base: &str) -> String {
        target(path, Some(&url(base)), &[], no_base)
            .unwrap()
            .to_string()
    }

    #[test]
    fn paths_join_the_base_keeping_its_path_and_the_query() {
        assert_eq!(joined("/whoami", "https://h/v1"), "https://h/v1/whoami");
        assert_eq!(joined("whoami", "https://h/v1/"), "https://h/v1/whoami");
        assert_eq!(joined("/whoami", "https://h"), "https://h/whoami");
        assert_eq!(
            joined("/a?b=1&c=2", "https://h/v1?x=y"),
            "https://h/v1/a?b=1&c=2"
        );
        assert_eq!(joined("", "https://h/v1"), "https://h/v1");
        assert_eq!(joined("/a#frag", "https://h"), "https://h/a");
        // Things that look like an authority stay in the path.
        assert_eq!(
            joined("//evil.example/x", "https://h"),
            "https://h//evil.example/x"
        );
        assert_eq!(
            joined("@evil.example", "https://h"),
            "https://h/@evil.example"
        );
        assert_eq!(
            joined("\\\\evil.example", "https://h"),
            "https://h///evil.example"
        );
        assert_eq!(target("/x", None, &[], no_base).unwrap_err().exit_code(), 3);
    }

    #[test]
    fn full_urls_only_on_allowed_origins() {
        let base = url("https://api.example/v1");
        let allowed = vec!["https://other.example".to_owned()];
        let ok = |p: &str| {
            target(p, Some(&base), &allowed, no_base)
                .unwrap()
                .to_string()
        };
        assert_eq!(
            ok("https://api.example/v2/x?q=1"),
            "https://api.example/v2/x?q=1"
        );
        assert_eq!(ok("HTTPS://API.EXAMPLE:443/x"), "https://api.example/x");
        assert_eq!(ok("https://other.example/y"), "https://other.example/y");
        for bad in [
            "https://evil.example/x",
            "http://api.example/x",
            "https://api.example:8443/x",
            "https://api.example.evil.example/",
            "https://other.example@evil.example/",
        ] {
            let err = target(bad, Some(&base), &allowed, no_base).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad}");
        }
        let ftp = target("ftp://api.example/x", Some(&base), &[], no_base);
        assert_eq!(ftp.unwrap_err().exit_code(), 2);
        // Without a base, only the listed origins.
        assert!(target("https://other.example/", None, &allowed, no_base).is_ok());
        let unlisted = target("https://api.example/", None, &allowed, no_base);
        assert_eq!(unlisted.unwrap_err().exit_code(), 2);
    }

    #[test]
    fn headers_are_checked() {
        let h = |v: &[&str]| parse_headers(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(
            h(&["X-A: 1", "Content-Type:text/plain; charset=utf-8"]).unwrap(),
            vec![
                ("X-A".to_owned(), "1".to_owned()),
                (
                    "Content-Type".to_owned(),
                    "text/plain; charset=utf-8".to_owned()
                )
            ]
        );
        assert_eq!(h(&["X-Empty:"]).unwrap()[0].1, "");
        for bad in [
            "NoColon",
            ": v",
            "Bad Name: v",
            "X: a\nb",
            "authorization: Bearer x",
        ] {
            assert_eq!(h(&[bad]).unwrap_err().exit_code(), 2, "{bad}");
        }
    }

    #[test]
    fn methods() {
        assert_eq!(method(None, false, false).unwrap(), "GET");
        assert_eq!(method(None, true, true).unwrap(), "POST");
        assert_eq!(method(None, true, false).unwrap(), "POST");
        assert_eq!(method(Some("put"), true, true).unwrap(), "PUT");
        assert_eq!(method(Some("delete"), false, false).unwrap(), "DELETE");
        assert_eq!(
            method(Some("FROB"), false, false).unwrap_err().exit_code(),
            2
        );
        assert_eq!(method(Some("head"), true, true).unwrap_err().exit_code(), 2);
        assert_eq!(method(Some("head"), true, false).unwrap(), "HEAD");
    }
}
