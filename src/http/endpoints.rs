//! The endpoint rules (SPEC §2: secrets only over `https://`, loopback
//! excepted; endpoints named by an issuer's metadata) and how URLs appear in
//! logs and errors (query values and userinfo that may carry secrets
//! redacted).

use std::net::IpAddr;

use url::Url;

use crate::error::{Error, Result};

/// The URL of a request as logs show it: [`loggable_url`], with the
/// credential the request carries scrubbed too. A server may put the very
/// credential it was sent into a redirect target that becomes this URL.
pub fn shown_url(url: &Url, headers: &[(String, String)]) -> String {
    let sent: Vec<crate::secret::Secret> = headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("authorization"))
        .filter_map(|(_, v)| v.split_once(' ').map(|(_, c)| c.trim().into()))
        .collect();
    crate::secret::scrub(&loggable_url(url), &sent.iter().collect::<Vec<_>>())
}

/// The URL as logs show it: query values that may carry secrets redacted.
pub fn loggable_url(url: &Url) -> String {
    let mut shown = url.clone();
    // `https://user:pass@host` carries a credential in the URL itself.
    if !url.username().is_empty() || url.password().is_some() {
        let _ = shown.set_username("[redacted]");
        let _ = shown.set_password(None);
    }
    if url.query().is_none() {
        return shown.to_string();
    }
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let value = if is_sensitive_parameter(&k) {
                "[redacted]".to_owned()
            } else {
                v.into_owned()
            };
            (k.into_owned(), value)
        })
        .collect();
    shown.query_pairs_mut().clear().extend_pairs(pairs);
    shown.to_string()
}

/// A URL lmi did not choose (a redirect target) as logs and errors show it:
/// userinfo and every query value redacted, the fragment dropped, since any
/// of them may carry what the server was given.
pub fn loggable_foreign_url(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_fragment(None);
    if !url.username().is_empty() || url.password().is_some() {
        let _ = shown.set_username("[redacted]");
        let _ = shown.set_password(None);
    }
    if url.query().is_some() {
        let names: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
        shown
            .query_pairs_mut()
            .clear()
            .extend_pairs(names.iter().map(|k| (k.as_str(), "[redacted]")));
    }
    shown.to_string()
}

/// Query parameters that carry codes, tokens, keys or signatures: OAuth's
/// own, API keys, and pre-signed URLs (AWS `X-Amz-*`, Azure `sig`, GCS
/// `X-Goog-*`).
fn is_sensitive_parameter(name: &str) -> bool {
    const EXACT: &[&str] = &[
        "code",
        "user_code",
        "device_code",
        "state",
        "nonce",
        "code_verifier",
        "assertion",
        "client_assertion",
        "password",
        "passwd",
        "key",
        "sig",
        "signature",
        "auth",
        "credential",
    ];
    const PARTS: &[&str] = &[
        "token",
        "secret",
        "apikey",
        "api_key",
        "signature",
        "credential",
        "security",
    ];
    let lower = name.to_ascii_lowercase();
    EXACT.contains(&lower.as_str()) || PARTS.iter().any(|p| lower.contains(p))
}

/// Whether the URL's host is loopback (`127.0.0.0/8`, `::1`, `localhost`).
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        // Only `localhost` itself (SPEC §2): `*.localhost` may be resolved
        // through DNS to anywhere.
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// Parses a configured endpoint that will receive a secret, token or code:
/// it must be `https://`, or `http://` on a loopback host (SPEC §2).
pub fn secure_endpoint(key: &str, raw: &str) -> Result<Url> {
    let url = Url::parse(raw.trim()).map_err(|e| {
        Error::config(format!("{key} is not a valid URL ({raw:?}: {e})"))
            .with_hint(format!("set {key} to an absolute https:// URL"))
    })?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(Error::config(format!(
            "{key} uses plain http:// on a non-loopback host ({}); lmi sends secrets and tokens only over https",
            url.host_str().unwrap_or_default()
        ))
        .with_hint(format!("change {key} to https://"))),
        other => Err(Error::config(format!("{key} must be an http(s) URL, not {other}://"))),
    }
}

/// An endpoint named by an issuer's metadata. Beyond [`secure_endpoint`]'s
/// rule, an `https://` issuer may not send lmi to plain `http://` (loopback
/// or not): a compromised IdP could otherwise aim secrets, in clear, at
/// another local service.
pub fn discovered_endpoint(field: &str, raw: &str, issuer: &Url) -> Result<Url> {
    let key = format!("{field} (from the metadata of {issuer})");
    let url = secure_endpoint(&key, raw)?;
    if url.scheme() == "http" && issuer.scheme() == "https" {
        return Err(Error::auth(format!(
            "the metadata of {issuer} points {field} at plain http:// ({})",
            loggable_url(&url)
        ))
        .with_hint("an https issuer must name https endpoints; check the IdP's configuration"));
    }
    Ok(url)
}

/// The origin of a URL, as `scheme://host:port`.
pub fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        assert!(secure_endpoint("K", "https://idp.example.com/token").is_ok());
        assert!(secure_endpoint("K", "http://127.0.0.1:8080/token").is_ok());
        assert!(secure_endpoint("K", "http://127.1.2.3/token").is_ok());
        assert!(secure_endpoint("K", "http://[::1]:9/token").is_ok());
        assert!(secure_endpoint("K", "http://localhost/token").is_ok());
        let err = secure_endpoint("K", "http://idp.example.com/token").unwrap_err();
        assert_eq!(err.exit_code(), 3);
        assert!(secure_endpoint("K", "ftp://x/").is_err());
        assert!(secure_endpoint("K", "not a url").is_err());
    }

    #[test]
    fn https_issuers_cannot_name_plain_http_endpoints() {
        let https = Url::parse("https://idp.example").unwrap();
        let local = Url::parse("http://127.0.0.1:9").unwrap();
        assert!(discovered_endpoint("token_endpoint", "https://idp.example/token", &https).is_ok());
        assert_eq!(
            discovered_endpoint("token_endpoint", "http://127.0.0.1:5/t", &https)
                .unwrap_err()
                .exit_code(),
            4
        );
        assert!(discovered_endpoint("token_endpoint", "http://127.0.0.1:9/t", &local).is_ok());
        assert_eq!(
            discovered_endpoint("token_endpoint", "http://evil.example/t", &local)
                .unwrap_err()
                .exit_code(),
            3
        );
        assert!(!is_loopback(&Url::parse("http://evil.localhost/").unwrap()));
    }

    #[test]
    fn logged_urls_hide_codes() {
        let u = Url::parse("http://127.0.0.1:5/callback?code=abc123&state=xyz&x=1").unwrap();
        let shown = loggable_url(&u);
        assert!(!shown.contains("abc123") && !shown.contains("xyz"));
        assert!(shown.contains("x=1"));
        let u = Url::parse(
            "https://u:pw@s3.example/o?X-Amz-Signature=abc&X-Amz-Security-Token=t1&page=2",
        )
        .unwrap();
        let shown = loggable_url(&u);
        assert!(
            !shown.contains("pw") && !shown.contains("abc") && !shown.contains("t1"),
            "{shown}"
        );
        assert!(shown.contains("page=2"));
        let u = Url::parse("https://u:pw@evil.example/p?q=tok1&x=2#at=tok2").unwrap();
        let shown = loggable_foreign_url(&u);
        assert!(
            !shown.contains("tok1") && !shown.contains("tok2") && !shown.contains("pw"),
            "{shown}"
        );
        assert!(shown.contains("evil.example/p?q="), "{shown}");
        let u = Url::parse("https://idp.example/device?user_code=WDJB-MJHT").unwrap();
        assert!(!loggable_url(&u).contains("WDJB"));
    }
}
