//! The `testidp` command: `serve` runs a [`lmi_testidp::TestServer`] and
//! prints its URLs as one JSON line; `browser` is a scripted web browser for
//! lmi's SSO login. Only argument parsing and process lifetime live here.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::process::ExitCode;

use lmi_testidp::browser::{self, BrowserOptions, ExtraOptions, IssEdit};
use lmi_testidp::{Options, Ports, TestServer};

const USAGE: &str = "\
usage:
  testidp serve [--jwt] [--lifetime SECS] [--port-idp P] [--port-api P] [--port-other P]
                [--exit-on-stdin-eof]
  testidp browser [--hit-favicon] [--omit-state] [--forge-state] [--wait-for-file PATH]
                  [--expect-body TEXT]... [--report PATH] [--set-iss VALUE | --drop-iss]
                  [--confirm-device | --deny-device] [--user-code CODE] URL

serve    starts the test IdP, API and other servers on 127.0.0.1, prints one JSON
         line {\"idp\",\"api\",\"other\",\"token_url\"} and serves until killed (or
         until stdin reaches EOF with --exit-on-stdin-eof).
browser  GETs URL and follows redirects; exit 0 when the final response is 2xx
         and every check passed, 1 otherwise. Before the real callback it can
         GET /favicon.ico on the callback origin (--hit-favicon, expects 404),
         send the callback without state (--omit-state, expects 400; exit 4
         otherwise) and with a forged state (--forge-state, expects 400; exit
         3 otherwise). --wait-for-file starts only once PATH exists (exit 6
         after 120 s); --expect-body requires TEXT, percent-decoded (so it can
         pass through $BROWSER, which splits on spaces), in the final page
         (exit 5); --report writes {\"exit\",\"final_status\",\"probes\",\"error\"}
         as JSON to PATH. --set-iss replaces (or adds) and --drop-iss removes the
         iss parameter of the authorization response before following it.
         --confirm-device / --deny-device treat URL as a device verification
         page: GET it, then post its form approving / refusing the user code
         (the URL's user_code parameter, or --user-code).
TEST TOOLING ONLY: the signing keys are public.";

fn usage_error(msg: &str) -> ExitCode {
    eprintln!("testidp: {msg}\n{USAGE}");
    ExitCode::from(2)
}

fn value<T: std::str::FromStr>(
    args: &mut impl Iterator<Item = String>,
    flag: &str,
) -> Result<T, String> {
    let v = args.next().ok_or(format!("{flag} needs a value"))?;
    v.parse()
        .map_err(|_| format!("invalid value for {flag}: {v:?}"))
}

fn serve(args: Vec<String>) -> Result<ExitCode, String> {
    let mut options = Options::default();
    let mut ports = Ports::default();
    let mut exit_on_eof = false;
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--jwt" => options.jwt_access_tokens = true,
            "--lifetime" => options.token_lifetime = Some(value(&mut it, "--lifetime")?),
            "--port-idp" => ports.idp = value(&mut it, "--port-idp")?,
            "--port-api" => ports.api = value(&mut it, "--port-api")?,
            "--port-other" => ports.other = value(&mut it, "--port-other")?,
            "--exit-on-stdin-eof" => exit_on_eof = true,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let srv = match TestServer::start_on(options, ports) {
        Ok(srv) => srv,
        Err(e) => {
            eprintln!("testidp: cannot start: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let line = serde_json::json!({
        "idp": srv.idp_url(),
        "api": srv.api_url(),
        "other": srv.other_url(),
        "token_url": srv.token_url(),
    });
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(|e| e.to_string())?;
    drop(out);
    if exit_on_eof {
        let mut sink = [0u8; 1024];
        let mut stdin = std::io::stdin().lock();
        while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
        drop(srv);
        return Ok(ExitCode::SUCCESS);
    }
    loop {
        std::thread::park();
    }
}

fn browse(args: Vec<String>) -> Result<ExitCode, String> {
    let mut opts = BrowserOptions::default();
    let mut extra = ExtraOptions::default();
    let mut url = None;
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--forge-state" => opts.forge_state = true,
            "--omit-state" => opts.omit_state = true,
            "--hit-favicon" => opts.hit_favicon = true,
            "--wait-for-file" => opts.wait_for_file = Some(value(&mut it, "--wait-for-file")?),
            "--report" => opts.report = Some(value(&mut it, "--report")?),
            "--set-iss" => extra.iss = IssEdit::Set(value(&mut it, "--set-iss")?),
            "--drop-iss" => extra.iss = IssEdit::Remove,
            "--confirm-device" => extra.confirm_device = true,
            "--deny-device" => extra.deny_device = true,
            "--user-code" => extra.user_code = Some(value(&mut it, "--user-code")?),
            "--expect-body" => {
                let raw: String = value(&mut it, "--expect-body")?;
                let text = percent_encoding::percent_decode_str(&raw)
                    .decode_utf8()
                    .map_err(|_| format!("--expect-body {raw:?} is not UTF-8 once decoded"))?;
                opts.expect_body.push(text.into_owned());
            }
            a if a.starts_with("--") => return Err(format!("unknown argument {a:?}")),
            // The URL is the last argument ($BROWSER convention).
            _ => url = Some(arg),
        }
    }
    let url = url.ok_or("browser needs a URL")?;
    let code = browser::run_with(&url, &opts, &extra);
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let cmd = args.next();
    let rest: Vec<String> = args.collect();
    let result = match cmd.as_deref() {
        Some("serve") => serve(rest),
        Some("browser") => browse(rest),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(other) => Err(format!("unknown command {other:?}")),
        None => Err("missing command".to_string()),
    };
    result.unwrap_or_else(|e| usage_error(&e))
}
