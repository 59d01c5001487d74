//! Secret values: client secrets, passwords, tokens, codes and verifiers.
//!
//! A [`Secret`] never prints its content: `Debug` and `Display` both show
//! `[redacted]`, so no log line or error message can leak one by accident.
//! Reading the value takes an explicit [`Secret::expose`], which makes every
//! place that handles the raw value easy to find.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// What a secret looks like wherever it is printed.
pub const REDACTED: &str = "[redacted]";

/// A string whose value is never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The raw value. Only pass it to the wire or to storage, never to a log.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

/// Secrets are serialized in full: only token files (0600) and the keychain
/// receive serialized secrets, never logs.
impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}

/// Replaces every occurrence of each secret in `text` by `[redacted]`, in
/// the forms a server may echo it back: as is, form-urlencoded,
/// percent-encoded and JSON-escaped (with `/` as `\/` or not, non-ASCII as
/// itself or as `\uXXXX` in either case, RFC 8259 §7).
///
/// A second line of defence for text that comes from outside (a server's
/// error description that echoes what it received, say). Every secret is
/// scrubbed whatever its length: a three-letter password may also blank out
/// ordinary words in the server's text, which is the lesser harm.
pub fn scrub(text: &str, secrets: &[&Secret]) -> String {
    let mut out = text.to_owned();
    for secret in secrets {
        if secret.0.is_empty() {
            continue;
        }
        let form: String = url::form_urlencoded::byte_serialize(secret.0.as_bytes()).collect();
        let percent = form.replace('+', "%20");
        let mut variants = vec![secret.0.clone(), form, percent];
        variants.extend(json_forms(&secret.0));
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

/// Text from a server, made safe to show: secrets scrubbed (see [`scrub`])
/// and control and format characters replaced (see [`is_unsafe_char`]), so a
/// hostile answer can neither move the terminal's cursor, forge extra log
/// lines, nor make text read other than it is.
pub fn clean_external(text: &str, secrets: &[&Secret]) -> String {
    clean_text(&scrub(text, secrets))
}

/// Replaces every character [`is_unsafe_char`] flags by U+FFFD, for text
/// from a server or a token that holds no secret (claim names, URLs).
pub fn clean_text(text: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let s = Secret::new("hunter2-very-secret");
        assert_eq!(format!("{s:?}"), REDACTED);
        assert_eq!(format!("{s}"), REDACTED);
        assert_eq!(format!("{:?}", Some(&s)), format!("Some({REDACTED})"));
        assert_eq!(s.expose(), "hunter2-very-secret");
    }

    #[test]
    fn scrub_removes_encoded_forms_and_control_characters() {
        let s = Secret::new("p@ss word/+&x");
        let echoed = "password=p%40ss+word%2F%2B%26x raw=p@ss word/+&x pct=p%40ss%20word%2F%2B%26x";
        let cleaned = clean_external(&format!("{echoed}\u{1b}[2J\nforged"), &[&s]);
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
    fn scrub_removes_json_escaped_and_short_secrets() {
        let s = Secret::new("säcr/et-Ä😀");
        for echoed in [
            r"s\u00e4cr\/et-\u00c4\ud83d\ude00",
            r"s\u00E4cr/et-\u00C4\uD83D\uDE00",
            "säcr\\/et-Ä😀",
        ] {
            assert_eq!(scrub(&format!("x {echoed} y"), &[&s]), "x [redacted] y");
        }
        let short = Secret::new("/ab");
        assert_eq!(
            scrub(r"pw \/ab and /ab", &[&short]),
            "pw [redacted] and [redacted]"
        );
    }

    #[test]
    fn format_characters_are_cleaned_like_control_characters() {
        let cleaned = clean_external("\u{202e}moc.elpmaxe@ecila", &[]);
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
    fn scrub_removes_known_secrets() {
        let s = Secret::new("abcdef123");
        assert_eq!(
            scrub("got abcdef123 twice abcdef123", &[&s]),
            "got [redacted] twice [redacted]"
        );
    }
}
