//! A scripted stand-in for a web browser (the `testidp browser` command):
//! GETs an authorization URL and follows redirects to the app's loopback
//! callback; optionally first replays the callback with a forged `state`.

use std::time::Duration;

/// Per-request time limit.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_REDIRECTS: usize = 10;

/// What the browser should do besides following the URL.
#[derive(Debug, Clone, Default)]
pub struct BrowserOptions {
    /// Before the real callback, send one with a wrong `state` and require
    /// HTTP 400 for it.
    pub forge_state: bool,
    /// Wait this long before the first request.
    pub delay: Option<Duration>,
}

/// Exit codes of [`run`].
pub mod exit {
    /// The final response was 2xx.
    pub const OK: i32 = 0;
    /// The final response was not 2xx, or a request failed.
    pub const FAILED: i32 = 1;
    /// `--forge-state`: the forged callback did not get HTTP 400.
    pub const FORGED_STATE_ACCEPTED: i32 = 3;
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .proxy(None)
        .timeout_global(Some(REQUEST_TIMEOUT))
        .build()
        .into()
}

/// One GET without following redirects: status and resolved `Location`.
fn get(agent: &ureq::Agent, url: &url::Url) -> Result<(u16, Option<url::Url>), String> {
    let resp = agent
        .get(url.as_str())
        .call()
        .map_err(|e| format!("GET {url} failed: {e}"))?;
    let status = resp.status().as_u16();
    let location = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .and_then(|l| url.join(l).ok());
    // Drain the body so the connection can be reused; its content is unused.
    let _ = resp.into_body().read_to_vec();
    Ok((status, location))
}

/// GET `start`, following redirects; the final status.
fn follow(agent: &ureq::Agent, start: url::Url) -> Result<u16, String> {
    let mut url = start;
    for _ in 0..=MAX_REDIRECTS {
        let (status, location) = get(agent, &url)?;
        match location {
            Some(next) if (300..400).contains(&status) => url = next,
            _ => return Ok(status),
        }
    }
    Err(format!("more than {MAX_REDIRECTS} redirects"))
}

/// `target` with its `state` query parameter replaced by a forged value.
fn forge(target: &url::Url) -> url::Url {
    let pairs: Vec<(String, String)> = target
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "state" {
                "forged-state-0000".to_string()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    let mut forged = target.clone();
    forged.query_pairs_mut().clear().extend_pairs(pairs);
    if !target.query_pairs().any(|(k, _)| k == "state") {
        forged
            .query_pairs_mut()
            .append_pair("state", "forged-state-0000");
    }
    forged
}

/// Runs the browser; returns the process exit code (see [`exit`]). Progress
/// and the final status go to stderr.
pub fn run(url: &str, opts: &BrowserOptions) -> i32 {
    if let Some(d) = opts.delay {
        std::thread::sleep(d);
    }
    let start = match url::Url::parse(url) {
        Ok(u) => u,
        Err(e) => {
            eprintln!("testidp browser: invalid URL {url:?}: {e}");
            return exit::FAILED;
        }
    };
    let agent = agent();
    let result = if opts.forge_state {
        forge_then_follow(&agent, start)
    } else {
        follow(&agent, start).map_err(|e| (exit::FAILED, e))
    };
    match result {
        Ok(status) => {
            eprintln!("testidp browser: final status {status}");
            if (200..300).contains(&status) {
                exit::OK
            } else {
                exit::FAILED
            }
        }
        Err((code, msg)) => {
            eprintln!("testidp browser: {msg}");
            code
        }
    }
}

fn forge_then_follow(agent: &ureq::Agent, start: url::Url) -> Result<u16, (i32, String)> {
    let (status, location) = get(agent, &start).map_err(|e| (exit::FAILED, e))?;
    let Some(callback) = location.filter(|_| (300..400).contains(&status)) else {
        return Ok(status);
    };
    let forged = forge(&callback);
    let (forged_status, _) = get(agent, &forged).map_err(|e| (exit::FAILED, e))?;
    if forged_status != 400 {
        return Err((
            exit::FORGED_STATE_ACCEPTED,
            format!("forged state got HTTP {forged_status}, expected 400"),
        ));
    }
    eprintln!("testidp browser: forged state rejected with HTTP 400");
    follow(agent, callback).map_err(|e| (exit::FAILED, e))
}
