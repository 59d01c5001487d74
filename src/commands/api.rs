//! `lmi api`: authenticated requests to the environment's service (SPEC §4).
//!
//! The work runs in three steps, and only the last one touches the network:
//! 1. `plan` (its own module): every input is checked — the target URL and
//!    its origin, the headers, the body, `--paginate`'s preconditions — so
//!    bad input costs no token and sends nothing.
//! 2. the exchange, by the authenticated client ([`crate::auth::client`]):
//!    the token, origin pinning, same-origin redirects and the 401 retry.
//! 3. `response::print`: the response body streamed to stdout as it
//!    arrives (JSON re-indented, everything else byte for byte), `-i`
//!    adding the status line and headers first.
//!
//! Request bodies are streamed too; see `request_body`. Fields (`-f`/`-F`)
//! are parsed in `fields`, and `lmi api graphql` is built in `graphql`.
//! `--jq` runs a jq program on the body (`jq`, its array elements split
//! on a reading thread by `elements`), `--paginate` walks the
//! pages (`paginate`, written by `merge`).

mod download;
mod elements;
mod fields;
mod graphql;
mod graphql_pages;
mod jq;
mod jq_path;
mod merge;
mod paginate;
mod plan;
mod request_body;
mod response;

use super::Ctx;
use std::time::Duration;

use crate::auth::client::RoundTrip;
use crate::cli::ApiArgs;
use crate::error::{Error, Result};
use crate::http::StreamingResponse;
use plan::{check_paginate, plan};

/// The method and URL `lmi api -X METHOD PATH` would use, by the same
/// rules (the origin rule included), for `lmi auth proof`.
pub(crate) fn method_and_url(
    api: &crate::config::ApiConfig,
    method: &str,
    path: &str,
) -> Result<(String, url::Url)> {
    let method = plan::method(Some(method), false, false)?;
    let missing_base = || match api.require_base() {
        Err(e) => e,
        Ok(_) => Error::internal("API_BASE_URL is set but was not parsed"),
    };
    let url = plan::target(path, api.base.as_ref(), &api.allowed, missing_base)?;
    Ok((method, url))
}

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
            crate::redact::url(&exchange.request.url)
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
    exchange: &mut RoundTrip,
) -> Result<()> {
    let what = format!(
        "{} {}",
        exchange.request.method,
        crate::redact::url(&exchange.request.url)
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
    exchange: &mut RoundTrip,
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

#[cfg(test)]
#[path = "api_tests.rs"]
mod seam_tests;
