//! A scripted stand-in for a web browser (the `testidp browser` command):
//! GETs an authorization URL and follows redirects to the app's loopback
//! callback. On request it first probes the callback listener the way a
//! real browser or an attacker would (a `/favicon.ico`, a callback without
//! `state`, one with a forged `state`) and checks the answers, checks the
//! final page's text, waits for a go-ahead file before starting, and writes
//! what it saw to a report file (lmi starts `$BROWSER` detached, so its exit
//! status is otherwise invisible to a test). With [`ExtraOptions`] it can also
//! rewrite, add or remove the `iss` parameter of the authorization response
//! (RFC 9207) before following it, and confirm or refuse a device-flow user
//! code on the IdP's verification page (RFC 8628 §3.3). The HTTP user agent
//! itself (GET, redirects, query editing) is `browser/agent.rs`.

mod agent;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;

use agent::{agent, follow, get, with_param, with_state, Failure, Page};

/// How long `--wait-for-file` waits before giving up.
const WAIT_FOR_FILE_LIMIT: Duration = Duration::from_secs(120);

/// What the browser should do besides following the URL.
#[derive(Debug, Clone, Default)]
pub struct BrowserOptions {
    /// Before the real callback, send one with a wrong `state` and require
    /// HTTP 400 for it.
    pub forge_state: bool,
    /// Before the real callback, send it without its `state` parameter and
    /// require HTTP 400 for it.
    pub omit_state: bool,
    /// Before the real callback, GET `/favicon.ico` on the callback's origin
    /// (as browsers do) and require HTTP 404 for it.
    pub hit_favicon: bool,
    /// Do nothing until this file exists (at most `WAIT_FOR_FILE_LIMIT`):
    /// lets a test decide when the login proceeds, without sleeping.
    pub wait_for_file: Option<PathBuf>,
    /// Texts the final page must contain.
    pub expect_body: Vec<String>,
    /// Write the result as JSON to this file (see [`Report`]).
    pub report: Option<PathBuf>,
}

/// What to do with the `iss` parameter of the authorization response (the
/// first redirect) before following it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum IssEdit {
    /// Follow it as the IdP sent it.
    #[default]
    Keep,
    /// Replace `iss` by this value (or add it when absent).
    Set(String),
    /// Remove `iss`.
    Remove,
}

/// Options beyond [`BrowserOptions`] (kept apart so that code building a
/// `BrowserOptions` field by field keeps compiling).
#[derive(Debug, Clone, Default)]
pub struct ExtraOptions {
    /// Edit `iss` on the authorization response before following it.
    pub iss: IssEdit,
    /// The URL is a device verification page (`verification_uri` or
    /// `verification_uri_complete`): GET it, then post its form to approve
    /// the user code. The reply to that post is the final page.
    pub confirm_device: bool,
    /// Like `confirm_device`, but refuse the code.
    pub deny_device: bool,
    /// The user code to enter; default: the URL's `user_code` parameter.
    pub user_code: Option<String>,
}

/// Exit codes of [`run`].
pub mod exit {
    /// The final response was 2xx and every check passed.
    pub const OK: i32 = 0;
    /// The final response was not 2xx, or a request failed.
    pub const FAILED: i32 = 1;
    /// `--forge-state`: the forged callback did not get HTTP 400.
    pub const FORGED_STATE_ACCEPTED: i32 = 3;
    /// `--omit-state` did not get HTTP 400 or `--hit-favicon` did not get
    /// HTTP 404, or there was no redirect to a callback to probe.
    pub const CALLBACK_CHECK_FAILED: i32 = 4;
    /// The final page lacks an `--expect-body` text.
    pub const BODY_MISMATCH: i32 = 5;
    /// `--wait-for-file`: the file did not appear in time.
    pub const WAIT_TIMED_OUT: i32 = 6;
}

/// What the browser saw; written as JSON with `--report`:
/// `{"exit": 0, "final_status": 200, "probes": {"favicon": 404, ...},
/// "error": null}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// The process exit code (see [`exit`]).
    pub exit: i32,
    /// Status of the last response of the redirect chain, when reached.
    pub final_status: Option<u16>,
    /// `(probe, status)` in the order sent: `favicon`, `omit_state`,
    /// `forge_state`.
    pub probes: Vec<(&'static str, u16)>,
    /// Why the browser failed.
    pub error: Option<String>,
}

impl Report {
    pub fn to_json(&self) -> serde_json::Value {
        let probes: serde_json::Map<String, serde_json::Value> = self
            .probes
            .iter()
            .map(|(name, status)| ((*name).to_string(), json!(status)))
            .collect();
        json!({
            "exit": self.exit,
            "final_status": self.final_status,
            "probes": probes,
            "error": self.error,
        })
    }
}

/// GETs `url` and requires `expected`; records the status under `name`.
fn probe(
    agent: &ureq::Agent,
    report: &mut Report,
    name: &'static str,
    url: &url::Url,
    expected: u16,
    code: i32,
) -> Result<(), Failure> {
    let status = get(agent, url)?.status;
    report.probes.push((name, status));
    if status != expected {
        return Err((
            code,
            format!("{name}: {url} got HTTP {status}, expected {expected}"),
        ));
    }
    eprintln!("testidp browser: {name}: HTTP {status} as expected");
    Ok(())
}

fn wait_for(path: &Path) -> Result<(), Failure> {
    crate::wait::poll_until(WAIT_FOR_FILE_LIMIT, || path.exists().then_some(())).map_err(|_| {
        (
            exit::WAIT_TIMED_OUT,
            format!(
                "{} did not appear within {} s",
                path.display(),
                WAIT_FOR_FILE_LIMIT.as_secs()
            ),
        )
    })?;
    Ok(())
}

/// Posts the device verification form of `page` (found at `page_url`).
fn submit_device_form(
    agent: &ureq::Agent,
    page_url: &url::Url,
    page: &Page,
    extra: &ExtraOptions,
) -> Result<Page, Failure> {
    if !(200..300).contains(&page.status) {
        return Err((
            exit::FAILED,
            format!(
                "the verification page {page_url} answered HTTP {}",
                page.status
            ),
        ));
    }
    let code = extra
        .user_code
        .clone()
        .or_else(|| {
            page_url
                .query_pairs()
                .find(|(k, _)| k == "user_code")
                .map(|(_, v)| v.into_owned())
        })
        .ok_or_else(|| {
            (
                exit::FAILED,
                format!("no user code: {page_url} has none and none was given"),
            )
        })?;
    let action = page
        .body
        .split_once("action=\"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map_or("/device", |(action, _)| action);
    let target = page_url
        .join(action)
        .map_err(|e| (exit::FAILED, format!("form action {action:?}: {e}")))?;
    let decision = if extra.deny_device { "deny" } else { "approve" };
    eprintln!("testidp browser: {decision} user code {code} at {target}");
    let resp = agent
        .post(target.as_str())
        .send_form([("user_code", code.as_str()), ("action", decision)])
        .map_err(|e| (exit::FAILED, format!("POST {target} failed: {e}")))?;
    let status = resp.status().as_u16();
    let body = resp.into_body().read_to_vec().map_err(|e| {
        (
            exit::FAILED,
            format!("reading the body of {target} failed: {e}"),
        )
    })?;
    Ok(Page {
        status,
        location: None,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// The authorization response as the browser follows it, `iss` edited.
fn edit_iss(callback: url::Url, iss: &IssEdit) -> url::Url {
    match iss {
        IssEdit::Keep => callback,
        IssEdit::Set(value) => with_param(&callback, "iss", Some(value)),
        IssEdit::Remove => with_param(&callback, "iss", None),
    }
}

fn browse(
    url: &str,
    opts: &BrowserOptions,
    extra: &ExtraOptions,
    report: &mut Report,
) -> Result<(), Failure> {
    if let Some(path) = &opts.wait_for_file {
        wait_for(path)?;
    }
    let start =
        url::Url::parse(url).map_err(|e| (exit::FAILED, format!("invalid URL {url:?}: {e}")))?;
    let agent = agent();
    let probing = opts.forge_state || opts.omit_state || opts.hit_favicon;
    let page = if extra.confirm_device || extra.deny_device {
        let (page_url, page) = follow(&agent, start)?;
        submit_device_form(&agent, &page_url, &page, extra)?
    } else {
        let first = get(&agent, &start)?;
        let callback = first.redirect().cloned().map(|c| edit_iss(c, &extra.iss));
        match callback {
            None if probing => {
                return Err((
                    exit::CALLBACK_CHECK_FAILED,
                    format!(
                        "the authorization URL answered HTTP {} without redirecting to a callback to probe",
                        first.status
                    ),
                ));
            }
            None => first,
            Some(callback) => {
                if opts.hit_favicon {
                    let favicon = callback
                        .join("/favicon.ico")
                        .map_err(|e| (exit::FAILED, format!("favicon URL: {e}")))?;
                    probe(
                        &agent,
                        report,
                        "favicon",
                        &favicon,
                        404,
                        exit::CALLBACK_CHECK_FAILED,
                    )?;
                }
                if opts.omit_state {
                    let stateless = with_state(&callback, None);
                    probe(
                        &agent,
                        report,
                        "omit_state",
                        &stateless,
                        400,
                        exit::CALLBACK_CHECK_FAILED,
                    )?;
                }
                if opts.forge_state {
                    let forged = with_state(&callback, Some("forged-state-0000"));
                    probe(
                        &agent,
                        report,
                        "forge_state",
                        &forged,
                        400,
                        exit::FORGED_STATE_ACCEPTED,
                    )?;
                }
                follow(&agent, callback)?.1
            }
        }
    };
    report.final_status = Some(page.status);
    eprintln!("testidp browser: final status {}", page.status);
    if !(200..300).contains(&page.status) {
        return Err((
            exit::FAILED,
            format!("the final response is HTTP {}", page.status),
        ));
    }
    for text in &opts.expect_body {
        if !page.body.contains(text.as_str()) {
            return Err((
                exit::BODY_MISMATCH,
                format!("the final page lacks {text:?}: {}", page.body),
            ));
        }
    }
    Ok(())
}

/// Writes the report so that a reader never sees half of it.
fn write_report(path: &Path, report: &Report) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, report.to_json().to_string())?;
    std::fs::rename(&tmp, path)
}

/// Runs the browser; returns the process exit code (see [`exit`]). Progress
/// and the final status go to stderr, the [`Report`] to `opts.report`.
pub fn run(url: &str, opts: &BrowserOptions) -> i32 {
    run_with(url, opts, &ExtraOptions::default())
}

/// [`run`] with [`ExtraOptions`] (`iss` editing, device confirmation).
pub fn run_with(url: &str, opts: &BrowserOptions, extra: &ExtraOptions) -> i32 {
    let mut report = Report::default();
    let code = match browse(url, opts, extra, &mut report) {
        Ok(()) => exit::OK,
        Err((code, msg)) => {
            eprintln!("testidp browser: {msg}");
            report.error = Some(msg);
            code
        }
    };
    report.exit = code;
    if let Some(path) = &opts.report {
        if let Err(e) = write_report(path, &report) {
            eprintln!("testidp browser: cannot write {}: {e}", path.display());
            return exit::FAILED;
        }
    }
    code
}

/// Opens a device verification URL (`verification_uri_complete`, or
/// `verification_uri` with `user_code`) like a user would and approves (or,
/// with `approve` false, refuses) the code. Returns the status of the reply
/// to the form post (200 when the IdP knew the code), or why it failed.
pub fn confirm_device(url: &str, user_code: Option<&str>, approve: bool) -> Result<u16, String> {
    let extra = ExtraOptions {
        confirm_device: approve,
        deny_device: !approve,
        user_code: user_code.map(str::to_string),
        ..ExtraOptions::default()
    };
    let start = url::Url::parse(url).map_err(|e| format!("invalid URL {url:?}: {e}"))?;
    let agent = agent();
    let (page_url, page) = follow(&agent, start).map_err(|(_, e)| e)?;
    let reply = submit_device_form(&agent, &page_url, &page, &extra).map_err(|(_, e)| e)?;
    Ok(reply.status)
}
