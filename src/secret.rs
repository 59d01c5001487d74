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
/// percent-encoded and JSON-escaped.
///
/// A second line of defence for text that comes from outside (a server's
/// error description that echoes what it received, say).
pub fn scrub(text: &str, secrets: &[&Secret]) -> String {
    let mut out = text.to_owned();
    for secret in secrets {
        // Very short values would redact ordinary words; real secrets are long.
        if secret.0.len() < 4 {
            continue;
        }
        let form: String = url::form_urlencoded::byte_serialize(secret.0.as_bytes()).collect();
        let percent = form.replace('+', "%20");
        let json = serde_json::to_string(&secret.0).unwrap_or_default();
        let json = json.trim_matches('"').to_owned();
        for variant in [secret.0.clone(), form, percent, json] {
            if !variant.is_empty() {
                out = out.replace(&variant, REDACTED);
            }
        }
    }
    out
}

/// Text from a server, made safe to show: secrets scrubbed (see [`scrub`])
/// and control characters replaced, so a hostile answer can neither move the
/// terminal's cursor nor forge extra log lines.
pub fn clean_external(text: &str, secrets: &[&Secret]) -> String {
    scrub(text, secrets)
        .chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect()
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
    fn scrub_removes_known_secrets() {
        let s = Secret::new("abcdef123");
        assert_eq!(
            scrub("got abcdef123 twice abcdef123", &[&s]),
            "got [redacted] twice [redacted]"
        );
    }
}
