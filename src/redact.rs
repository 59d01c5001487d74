//! Making text safe to show, one name per operation. Everything lmi prints
//! or logs that may hold a secret or come from a server passes here:
//!
//! - [`secrets`]: echoed secrets replaced by `[redacted]`, in the four
//!   encodings a server may echo them in;
//! - [`server_text`] and [`excerpt`]: a server's text, secrets scrubbed and
//!   unsafe characters replaced (and cut short, for `excerpt`);
//! - [`unsafe_chars`]: control and format characters replaced, for text
//!   that holds no secret;
//! - [`url()`], [`foreign_url`], [`request_url`]: URLs for logs and errors,
//!   with the query values and userinfo that may carry secrets redacted;
//! - [`config_value`]: a configuration value for `config show` and logs.
//!
//! The endpoint rules (which URLs may receive a secret) stay in `http`.

use ::url::Url;

use crate::secret::{Secret, REDACTED};

/// What a secret key's value looks like in `config show`.
const MASK: &str = "********";

/// Replaces every occurrence of each secret in `text` by `[redacted]`, in
/// the forms a server may echo it back: as is, form-urlencoded,
/// percent-encoded and JSON-escaped (with `/` as `\/` or not, non-ASCII as
/// itself or as `\uXXXX` in either case, RFC 8259 §7).
///
/// A second line of defence for text that comes from outside (a server's
/// error description that echoes what it received, say). Every secret is
/// scrubbed whatever its length: a three-letter password may also blank out
/// ordinary words in the server's text, which is the lesser harm.
pub fn secrets(text: &str, secrets: &[&Secret]) -> String {
    let mut out = text.to_owned();
    for secret in secrets {
        if secret.is_empty() {
            continue;
        }
        let form: String =
            url::form_urlencoded::byte_serialize(secret.expose().as_bytes()).collect();
        let percent = form.replace('+', "%20");
        let mut variants = vec![secret.expose().to_owned(), form, percent];
        variants.extend(json_forms(secret.expose()));
        // Longest first, so a longer encoding is not left half-replaced by
        // a shorter one it contains.
        variants.sort_by_key(|v| std::cmp::Reverse(v.len()));
        variants.dedup();
        for variant in variants {
            if !variant.is_empty() {
                out = out.replace(&variant, REDACTED);
            }
        }
    }
    out
}

/// The ways a JSON encoder may write `value` inside a string literal.
fn json_forms(value: &str) -> Vec<String> {
    let plain = serde_json::to_string(value).unwrap_or_default();
    let plain = plain
        .strip_prefix('"')
        .and_then(|p| p.strip_suffix('"'))
        .unwrap_or_default()
        .to_owned();
    let ascii = |upper: bool| -> String {
        let mut out = String::new();
        for c in plain.chars() {
            if c.is_ascii() {
                out.push(c);
            } else {
                for unit in c.encode_utf16(&mut [0; 2]) {
                    if upper {
                        out.push_str(&format!("\\u{unit:04X}"));
                    } else {
                        out.push_str(&format!("\\u{unit:04x}"));
                    }
                }
            }
        }
        out
    };
    let mut forms = vec![plain.clone(), ascii(false), ascii(true)];
    let slashed: Vec<String> = forms.iter().map(|f| f.replace('/', "\\/")).collect();
    forms.extend(slashed);
    forms
}

/// Text from a server, made safe to show: secrets scrubbed (see [`secrets`])
/// and control and format characters replaced (see [`is_unsafe_char`]), so a
/// hostile answer can neither move the terminal's cursor, forge extra log
/// lines, nor make text read other than it is.
pub fn server_text(text: &str, echoed: &[&Secret]) -> String {
    unsafe_chars(&secrets(text, echoed))
}

/// [`server_text`] with nothing to scrub, cut to `max` characters: what a
/// page or an error quotes of a server's words.
pub fn excerpt(text: &str, max: usize) -> String {
    server_text(text, &[]).chars().take(max).collect()
}

/// Replaces every character [`is_unsafe_char`] flags by U+FFFD, for text
/// from a server or a token that holds no secret (claim names, URLs).
pub fn unsafe_chars(text: &str) -> String {
    text.chars()
        .map(|c| if is_unsafe_char(c) { '\u{fffd}' } else { c })
        .collect()
}

/// Whether `c` must not reach a terminal or the log as is: a control
/// character (Cc), a Unicode format character (Cf: bidi overrides and
/// isolates, zero-width characters, the BOM, tag characters), which would
/// make `\u{202e}moc.elpmaxe@ecila` read as `alice@example.com`, or a line
/// or paragraph separator (Zl, Zp), which some terminals and viewers break
/// lines at.
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') || is_format_char(c)
}

/// General category Cf, from the Unicode Character Database
/// (DerivedGeneralCategory.txt, Unicode 16.0). The standard library has no
/// category lookup and the table is short and stable: new Cf characters are
/// rare (the last ones came in Unicode 14 and 15).
fn is_format_char(c: char) -> bool {
    const CF: &[(u32, u32)] = &[
        (0x00AD, 0x00AD),
        (0x0600, 0x0605),
        (0x061C, 0x061C),
        (0x06DD, 0x06DD),
        (0x070F, 0x070F),
        (0x0890, 0x0891),
        (0x08E2, 0x08E2),
        (0x180E, 0x180E),
        (0x200B, 0x200F),
        (0x202A, 0x202E),
        (0x2060, 0x2064),
        (0x2066, 0x206F),
        (0xFEFF, 0xFEFF),
        (0xFFF9, 0xFFFB),
        (0x110BD, 0x110BD),
        (0x110CD, 0x110CD),
        (0x13430, 0x1343F),
        (0x1BCA0, 0x1BCA3),
        (0x1D173, 0x1D17A),
        (0xE0001, 0xE0001),
        (0xE0020, 0xE007F),
    ];
    let c = u32::from(c);
    CF.iter().any(|&(low, high)| (low..=high).contains(&c))
}

/// The URL of a request as logs show it: [`url()`], with the
/// credential the request carries scrubbed too. A server may put the very
/// credential it was sent into a redirect target that becomes this URL.
pub fn request_url(url: &Url, headers: &[(String, String)]) -> String {
    let sent: Vec<Secret> = headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("authorization"))
        .filter_map(|(_, v)| v.split_once(' ').map(|(_, c)| c.trim().into()))
        // A DPoP proof (RFC 9449) is a signed credential too.
        .chain(
            headers
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case("dpop"))
                .map(|(_, v)| v.trim().into()),
        )
        .collect();
    secrets(&self::url(url), &sent.iter().collect::<Vec<_>>())
}

/// The URL as logs show it: query values that may carry secrets redacted.
pub fn url(url: &Url) -> String {
    let mut shown = url.clone();
    // `https://user:pass@host` carries a credential in the URL itself.
    if !url.username().is_empty() || url.password().is_some() {
        let _ = shown.set_username(REDACTED);
        let _ = shown.set_password(None);
    }
    if url.query().is_none() {
        return shown.to_string();
    }
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let value = if is_sensitive_parameter(&k) {
                REDACTED.to_owned()
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
pub fn foreign_url(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_fragment(None);
    if !url.username().is_empty() || url.password().is_some() {
        let _ = shown.set_username(REDACTED);
        let _ = shown.set_password(None);
    }
    if url.query().is_some() {
        let names: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
        shown
            .query_pairs_mut()
            .clear()
            .extend_pairs(names.iter().map(|k| (k.as_str(), REDACTED)));
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
        "request_uri",
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

/// A configuration value as `config show` and `-vv` logs show it: the
/// value of a secret key (`secret`, see `config::is_secret_key`) masked,
/// and credentials inside a URL value (userinfo, `api_key=`, `sig=`,
/// `token=`, …) redacted as logged URLs are.
pub fn config_value(value: &str, secret: bool) -> String {
    if secret {
        return MASK.to_owned();
    }
    match Url::parse(value.trim()) {
        Ok(parsed) if parsed.has_host() => {
            let shown = url(&parsed);
            if shown == parsed.as_str() {
                value.to_owned()
            } else {
                shown
            }
        }
        _ => value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_removes_encoded_forms_and_control_characters() {
        let s = Secret::new("p@ss word/+&x");
        let echoed = "password=p%40ss+word%2F%2B%26x raw=p@ss word/+&x pct=p%40ss%20word%2F%2B%26x";
        let cleaned = server_text(&format!("{echoed}\u{1b}[2J\nforged"), &[&s]);
        assert!(
            !cleaned.contains("p%40ss") && !cleaned.contains("p@ss"),
            "{cleaned}"
        );
        assert!(
            !cleaned.contains('\u{1b}') && !cleaned.contains('\n'),
            "{cleaned}"
        );
    }

    #[test]
    fn secrets_removes_json_escaped_and_short_secrets() {
        let s = Secret::new("säcr/et-Ä😀");
        for echoed in [
            r"s\u00e4cr\/et-\u00c4\ud83d\ude00",
            r"s\u00E4cr/et-\u00C4\uD83D\uDE00",
            "säcr\\/et-Ä😀",
        ] {
            assert_eq!(secrets(&format!("x {echoed} y"), &[&s]), "x [redacted] y");
        }
        let short = Secret::new("/ab");
        assert_eq!(
            secrets(r"pw \/ab and /ab", &[&short]),
            "pw [redacted] and [redacted]"
        );
    }

    #[test]
    fn format_characters_are_cleaned_like_control_characters() {
        let cleaned = server_text("\u{202e}moc.elpmaxe@ecila", &[]);
        assert_eq!(cleaned, "\u{fffd}moc.elpmaxe@ecila");
        for c in [
            '\u{202a}',
            '\u{202e}',
            '\u{2066}',
            '\u{2069}',
            '\u{200b}',
            '\u{200f}',
            '\u{feff}',
            '\u{00ad}',
            '\u{061c}',
            '\u{e0041}',
            '\u{2028}',
            '\u{1b}',
            '\u{85}',
        ] {
            assert!(is_unsafe_char(c), "{:04x}", u32::from(c));
        }
        for c in [
            'a', 'é', '日', '😀', ' ', '\u{2010}', '\u{2070}', '\u{fffd}',
        ] {
            assert!(!is_unsafe_char(c), "{:04x}", u32::from(c));
        }
    }

    #[test]
    fn secrets_removes_known_secrets() {
        let s = Secret::new("abcdef123");
        assert_eq!(
            secrets("got abcdef123 twice abcdef123", &[&s]),
            "got [redacted] twice [redacted]"
        );
    }

    #[test]
    fn logged_urls_hide_codes() {
        let u = Url::parse("http://127.0.0.1:5/callback?code=abc123&state=xyz&x=1").unwrap();
        let shown = url(&u);
        assert!(!shown.contains("abc123") && !shown.contains("xyz"));
        assert!(shown.contains("x=1"));
        let u = Url::parse(
            "https://u:pw@s3.example/o?X-Amz-Signature=abc&X-Amz-Security-Token=t1&page=2",
        )
        .unwrap();
        let shown = url(&u);
        assert!(
            !shown.contains("pw") && !shown.contains("abc") && !shown.contains("t1"),
            "{shown}"
        );
        assert!(shown.contains("page=2"));
        let u = Url::parse("https://u:pw@evil.example/p?q=tok1&x=2#at=tok2").unwrap();
        let shown = foreign_url(&u);
        assert!(
            !shown.contains("tok1") && !shown.contains("tok2") && !shown.contains("pw"),
            "{shown}"
        );
        assert!(shown.contains("evil.example/p?q="), "{shown}");
        let u = Url::parse("https://idp.example/device?user_code=WDJB-MJHT").unwrap();
        assert!(!url(&u).contains("WDJB"));
    }

    #[test]
    fn config_values_hide_secrets_and_url_credentials() {
        assert_eq!(config_value("ghp_x", true), "********");
        for raw in [
            "https://u:pw1@api.example/v1",
            "https://api.example/v1?api_key=pw1",
            "https://blob.example/c?sig=pw1&sv=2",
            "https://api.example/?token=pw1",
        ] {
            let shown = config_value(raw, false);
            assert!(
                !shown.contains("pw1") && shown.contains("example"),
                "{shown}"
            );
        }
        assert_eq!(
            config_value("https://api.example", false),
            "https://api.example"
        );
        assert_eq!(config_value("30", false), "30");
    }

    #[test]
    fn excerpts_are_clean_and_short() {
        assert_eq!(excerpt("a\u{1b}[2Jb", 3), "a\u{fffd}[");
    }
}
