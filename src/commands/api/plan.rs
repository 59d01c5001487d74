//! The first step of `lmi api`: every input checked and the request built
//! ([`plan`]) — the target URL and its origin, the method, the headers and
//! the body — with no token and no network, so bad input costs nothing.

use ureq::http::{HeaderName, HeaderValue};
use url::Url;

use super::fields::Fields;
use super::{graphql, request_body};
use crate::auth::client::Request;
use crate::cli::ApiArgs;
use crate::config::ApiConfig;
use crate::error::{Error, Result};
use crate::http::{origin, Payload};

/// Checks every input and builds the request; no token, no network.
pub(super) fn plan(api: &ApiConfig, args: &ApiArgs) -> Result<Request> {
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

/// `-X` uppercased, else GET, or POST when there is a body. Only the methods
/// the HTTP agent can send are accepted, so a typo is a usage error rather
/// than a network one.
pub(super) fn method(raw: Option<&str>, default_post: bool, has_body: bool) -> Result<String> {
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
pub(super) fn target(
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

pub(super) fn parse_headers(raw: &[String]) -> Result<Vec<(String, String)>> {
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
