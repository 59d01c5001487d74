//! The endpoint rules (SPEC §2: secrets only over `https://`, loopback
//! excepted; endpoints named by an issuer's metadata). How URLs appear in
//! logs and errors is [`crate::redact`]'s.

use std::net::IpAddr;

use url::Url;

use crate::error::{Error, Result};

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
            crate::redact::url(&url)
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
}
