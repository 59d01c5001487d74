//! What `config set` and `env add` accept and how it is written: a key
//! name, a `KEY=VALUE` argument, a value a dotenv line can hold, and the
//! quoting that makes the line read back as exactly that value.

use super::keys::is_secret_key;
use crate::error::{Error, Result};

/// A key name as lmi writes it: letters, digits and `_`, not starting with
/// a digit (what a shell and every dotenv reader accept), upper-cased.
pub fn check_key(raw: &str) -> Result<String> {
    let key = raw.trim();
    if key.is_empty() {
        return Err(Error::usage("empty configuration key")
            .with_hint("write KEY=VALUE, e.g. OAUTH_CLIENT_ID=my-client"));
    }
    let valid = key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(Error::usage(format!("invalid configuration key {key:?}"))
            .with_hint("a key is letters, digits and '_', not starting with a digit"));
    }
    Ok(key.to_ascii_uppercase())
}

/// `KEY=VALUE` from the command line, checked: a key name, and a value a
/// dotenv line can hold.
pub fn parse_assignment(raw: &str) -> Result<(String, String)> {
    let Some((key, value)) = raw.split_once('=') else {
        let shown = if is_secret_key(raw) || raw.len() > 64 {
            "the argument".to_owned()
        } else {
            format!("{raw:?}")
        };
        return Err(
            Error::usage(format!("expected KEY=VALUE, got {shown} (no '=')"))
                .with_hint("write KEY=VALUE, e.g. OAUTH_CLIENT_ID=my-client"),
        );
    };
    let key = check_key(key)?;
    check_value(&key, value)?;
    Ok((key, value.to_owned()))
}

/// A value with a line break or a NUL cannot be held safely by a dotenv
/// line (other readers of the file would split or cut it).
pub(super) fn check_value(key: &str, value: &str) -> Result<()> {
    if value.contains(['\n', '\r', '\0']) {
        return Err(Error::usage(format!(
            "the value of {key} contains a line break or a NUL character, which a dotenv file cannot hold safely"
        ))
        .with_hint("give the value on one line (for a key or certificate, set the path of a file instead)"));
    }
    Ok(())
}

/// Characters that need no quoting in an unquoted dotenv value.
fn plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_./:@,+%=~?&".contains(c)
}

/// `value` as the right-hand side of a dotenv line that reads back as
/// exactly `value`: bare when it is plain; else single-quoted (nothing is
/// special inside), unless it holds a `'` or a `\\` (dotenvy's line reader
/// treats a backslash as an escape even between single quotes): then
/// double-quoted with `\\`, `"` and `$` escaped.
pub fn quote(value: &str) -> String {
    if !value.is_empty() && value.chars().all(plain) {
        return value.to_owned();
    }
    if !value.contains(['\'', '\\']) {
        return format!("'{value}'");
    }
    let mut out = String::with_capacity(value.len() + 8);
    out.push('"');
    for c in value.chars() {
        if matches!(c, '\\' | '"' | '$') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}
