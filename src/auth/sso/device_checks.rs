//! What a device authorization response may ask lmi to show (SPEC §5.1):
//! the verification URIs are pages a person opens, so only `https` (or
//! `http` on a loopback host) and at most [`MAX_URI_CHARS`] characters; the
//! user code is typed by a person, so at most [`MAX_USER_CODE_CHARS`]
//! printable characters. A response that breaks this is refused before
//! anything is shown or polled: a `javascript:` or `file:` "page", or a
//! megabyte of code, is never put in front of the person.

use url::Url;

use crate::http::is_loopback;
use crate::redact::is_unsafe_char;

use super::device::DeviceAuthorization;

/// The longest verification URI lmi shows.
pub const MAX_URI_CHARS: usize = 2048;
/// The longest user code lmi shows.
pub const MAX_USER_CODE_CHARS: usize = 64;

/// Every way `auth` breaks the rules, each naming its field; empty when it
/// is fine. The values themselves are never quoted: they are the hostile
/// part.
pub fn problems(auth: &DeviceAuthorization) -> Vec<String> {
    let mut problems = Vec::new();
    let uris = [
        ("verification_uri", Some(&auth.verification_uri)),
        (
            "verification_uri_complete",
            auth.verification_uri_complete.as_ref(),
        ),
    ];
    for (name, uri) in uris {
        if let Some(problem) = uri.and_then(|u| uri_problem(u)) {
            problems.push(format!("{name} {problem}"));
        }
    }
    let code = auth.user_code.expose();
    if code.chars().count() > MAX_USER_CODE_CHARS {
        problems.push(format!(
            "user_code is longer than {MAX_USER_CODE_CHARS} characters"
        ));
    } else if code
        .chars()
        .any(|c| is_unsafe_char(c) || c.is_whitespace() && c != ' ')
    {
        problems.push("user_code has characters that cannot be printed".to_owned());
    }
    problems
}

fn uri_problem(uri: &str) -> Option<String> {
    if uri.chars().count() > MAX_URI_CHARS {
        return Some(format!("is longer than {MAX_URI_CHARS} characters"));
    }
    let openable = Url::parse(uri)
        .is_ok_and(|u| u.scheme() == "https" || (u.scheme() == "http" && is_loopback(&u)));
    (!openable).then(|| "is not an https:// address (or http:// on a loopback host)".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn auth(uri: &str, complete: Option<&str>, code: &str) -> DeviceAuthorization {
        DeviceAuthorization {
            device_code: Secret::new("dc"),
            user_code: Secret::new(code),
            verification_uri: uri.to_owned(),
            verification_uri_complete: complete.map(str::to_owned),
            expires_in: None,
            interval: None,
        }
    }

    #[test]
    fn usable_responses_pass() {
        for (uri, complete) in [
            (
                "https://idp.example/device",
                Some("https://idp.example/device?c=AB"),
            ),
            ("http://127.0.0.1:8080/device", None),
            ("http://[::1]/device", Some("http://localhost/d")),
        ] {
            assert!(
                problems(&auth(uri, complete, "ABCD-EFGH")).is_empty(),
                "{uri}"
            );
        }
        let longest = "x".repeat(MAX_URI_CHARS - "https://e/".len());
        let code = "A".repeat(MAX_USER_CODE_CHARS);
        assert!(problems(&auth(&format!("https://e/{longest}"), None, &code)).is_empty());
    }

    #[test]
    fn unusable_uris_and_codes_name_their_field() {
        for bad in [
            "javascript:alert(1)",
            "data:text/html,x",
            "file:///etc/passwd",
            "http://idp.example/device",
            "not a url",
        ] {
            let p = problems(&auth(bad, None, "ABCD"));
            assert!(
                p.len() == 1 && p[0].starts_with("verification_uri "),
                "{p:?}"
            );
            let p = problems(&auth("https://e/", Some(bad), "ABCD"));
            assert!(
                p.len() == 1 && p[0].starts_with("verification_uri_complete "),
                "{p:?}"
            );
        }
        let long = format!("https://e/{}", "x".repeat(MAX_URI_CHARS));
        assert!(problems(&auth(&long, None, "A"))[0].contains("longer than 2048"));
        for code in [
            "A".repeat(65),
            "AB\nCD".into(),
            "AB\u{202e}CD".into(),
            "\u{1b}[2J".into(),
        ] {
            let p = problems(&auth("https://e/", None, &code));
            assert!(p.len() == 1 && p[0].starts_with("user_code "), "{p:?}");
        }
    }
}
