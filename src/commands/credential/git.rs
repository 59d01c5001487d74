//! `lmi credential git get|store|erase`: a git credential helper
//! (git-credential(1), "CUSTOM HELPERS").
//!
//! git writes `key=value` lines on stdin, ending with a blank line or EOF;
//! lines lmi does not know are ignored, as the protocol asks. `get` answers
//! `username=`, `password=` (the token) and `password_expiry_utc=` (Unix
//! seconds, git 2.41+), but only for `protocol://host[:port]` that is the
//! origin of `API_BASE_URL` or of `API_ALLOWED_ORIGINS`, over https or on a
//! loopback host. For any other origin it prints nothing and asks for no
//! token, so git goes on to its next helper and the token never leaves for
//! a host it was not meant for. `erase` (git's "that credential was
//! rejected") discards the cached token only if it is the one git names,
//! as after a 401. `store` has nothing to do: lmi keeps its own cache.

use std::io::BufRead;

use url::Url;

use super::Ctx;
use crate::cli::GitAction;
use crate::error::{Error, Result};
use crate::http::{is_loopback, origin};
use crate::secret::Secret;

/// The fields of git's request that lmi reads.
#[derive(Debug, Default, PartialEq)]
struct Request {
    protocol: Option<String>,
    host: Option<String>,
    password: Option<Secret>,
}

/// Reads git's request: `key=value` lines up to a blank line or EOF. A line
/// without `=` is ignored like an unknown key.
fn read_request(input: &mut dyn BufRead) -> Result<Request> {
    let mut request = Request::default();
    let mut line = String::new();
    loop {
        line.clear();
        let read = input
            .read_line(&mut line)
            .map_err(|e| Error::usage(format!("cannot read git's request on stdin: {e}")))?;
        let text = line.strip_suffix('\n').unwrap_or(&line);
        if read == 0 || text.is_empty() {
            return Ok(request);
        }
        let Some((key, value)) = text.split_once('=') else {
            continue;
        };
        match key {
            "protocol" => request.protocol = Some(value.to_owned()),
            "host" => request.host = Some(value.to_owned()),
            "password" => request.password = Some(Secret::new(value)),
            _ => {}
        }
    }
}

/// The origin git asks about, or why lmi does not answer for it.
fn requested_origin(request: &Request) -> std::result::Result<Url, String> {
    let protocol = request
        .protocol
        .as_deref()
        .ok_or("git's request has no protocol")?;
    let host = request.host.as_deref().ok_or("git's request has no host")?;
    // `host` is `host[:port]`: anything else (user info, a path) could make
    // the URL below name another origin than git connects to.
    let plain = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-:[]_".contains(c));
    if !plain {
        return Err(format!("host {host:?} is not a plain host[:port]"));
    }
    let url = Url::parse(&format!("{protocol}://{host}/"))
        .map_err(|e| format!("{protocol}://{host} is not a URL ({e})"))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(format!(
            "{} is plain http on a non-loopback host; lmi sends tokens only over https",
            origin(&url)
        )),
        other => Err(format!("protocol {other:?} is not https")),
    }
}

pub fn run(ctx: &Ctx, action: GitAction, input: &mut dyn BufRead) -> Result<u8> {
    let request = read_request(input)?;
    if action == GitAction::Store {
        tracing::debug!(target: "auth", "git credential store: nothing to do (lmi keeps its own cache)");
        return Ok(0);
    }
    let api = ctx.config()?.api()?;
    let url = match requested_origin(&request) {
        Ok(url) if api.allows(&url) => url,
        Ok(url) => {
            tracing::debug!(target: "auth", "git credential: {} is neither API_BASE_URL's origin nor in API_ALLOWED_ORIGINS; no answer", origin(&url));
            return Ok(0);
        }
        Err(why) => {
            tracing::debug!(target: "auth", "git credential: {why}; no answer");
            return Ok(0);
        }
    };
    match action {
        GitAction::Get => get(ctx, &url),
        GitAction::Erase => erase(ctx, request.password.as_ref()),
        GitAction::Store => Ok(0),
    }
}

fn get(ctx: &Ctx, url: &Url) -> Result<u8> {
    super::refuse_dpop(ctx, "git")?;
    let username = ctx.config()?.credential_username()?;
    let (token, source) = ctx.with_service(|auth| auth.token())?;
    tracing::debug!(target: "auth", "git credential: token for {} ({source:?})", origin(url));
    let mut answer = format!(
        "username={username}\npassword={}\n",
        // The one place this command prints a token: it is the answer.
        token.access_token.expose()
    );
    if let Some(expires_at) = token.expires_at {
        answer.push_str(&format!("password_expiry_utc={expires_at}\n"));
    }
    ctx.out.raw(answer.as_bytes())?;
    Ok(0)
}

fn erase(ctx: &Ctx, password: Option<&Secret>) -> Result<u8> {
    let Some(password) = password else {
        tracing::debug!(target: "auth", "git credential erase without a password; nothing to discard");
        return Ok(0);
    };
    ctx.with_service(|auth| auth.discard(password))?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Request {
        read_request(&mut text.as_bytes()).unwrap()
    }

    #[test]
    fn reads_up_to_a_blank_line_and_ignores_what_it_does_not_know() {
        let request = parse(
            "capability[]=authtype\nprotocol=https\nhost=git.example.com:8443\nwwwauth[]=Basic realm=\"x\"\nnonsense\npath=a/b\npassword=p=q\n\nhost=after.blank\n",
        );
        assert_eq!(
            request,
            Request {
                protocol: Some("https".into()),
                host: Some("git.example.com:8443".into()),
                password: Some(Secret::new("p=q")),
            }
        );
        // EOF without a blank line ends the request too.
        assert_eq!(parse("protocol=http").protocol.as_deref(), Some("http"));
        assert_eq!(parse(""), Request::default());
    }

    fn origin_of(
        protocol: Option<&str>,
        host: Option<&str>,
    ) -> std::result::Result<String, String> {
        requested_origin(&Request {
            protocol: protocol.map(Into::into),
            host: host.map(Into::into),
            password: None,
        })
        .map(|u| origin(&u))
    }

    #[test]
    fn only_https_or_loopback_origins_are_answered() {
        assert_eq!(
            origin_of(Some("https"), Some("Git.Example.com:443")).unwrap(),
            "https://git.example.com"
        );
        assert_eq!(
            origin_of(Some("http"), Some("127.0.0.1:8080")).unwrap(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            origin_of(Some("http"), Some("[::1]:81")).unwrap(),
            "http://[::1]:81"
        );
        let why = origin_of(Some("http"), Some("git.example.com")).unwrap_err();
        assert!(why.contains("plain http"), "{why}");
        assert!(origin_of(Some("ssh"), Some("git.example.com"))
            .unwrap_err()
            .contains("not https"));
        assert!(origin_of(None, Some("git.example.com"))
            .unwrap_err()
            .contains("no protocol"));
        assert!(origin_of(Some("https"), None)
            .unwrap_err()
            .contains("no host"));
        for tricky in [
            "evil.example@git.example.com",
            "git.example.com/x",
            "",
            "a b",
        ] {
            assert!(origin_of(Some("https"), Some(tricky)).is_err(), "{tricky}");
        }
    }
}

#[cfg(test)]
#[path = "git_tests.rs"]
mod seam_tests;
