//! dotenv files: reading one (lmi's dialect on top of `dotenvy`), with
//! errors that name the file and line but never the line's content.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// One parsed dotenv file: its keys (upper-cased) in file order.
#[derive(Debug, Clone)]
pub struct FileValues {
    pub path: PathBuf,
    pub values: Vec<(String, String)>,
    /// Whether group or others may read the file (secrets there draw a
    /// warning).
    pub readable_by_others: bool,
    /// Why others could change the file (see
    /// [`crate::paths::config_exposure`]): whoever can could point the token
    /// endpoint elsewhere (a warning).
    pub exposure: Option<String>,
}

impl FileValues {
    /// The last value the file gives `key` (upper-case).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn has(&self, key: &str) -> bool {
        self.values.iter().any(|(k, _)| k == key)
    }
}

/// Reads a dotenv file; `Ok(None)` when it does not exist.
pub fn read(path: &Path) -> Result<Option<FileValues>> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Error::config(format!(
                "cannot read config file {}: {e}",
                path.display()
            )))
        }
        Ok(meta) if !meta.is_file() => {
            return Err(Error::config(format!(
                "config file {} is not a regular file",
                path.display()
            ))
            .with_hint("remove it or replace it with a dotenv file of KEY=value lines"))
        }
        Ok(_) => {}
    }
    let text = read_bounded(path)?;
    let mut values = parse(path, &text)?;
    values.readable_by_others = crate::paths::readable_by_others(path);
    values.exposure = crate::paths::config_exposure(path);
    Ok(Some(values))
}

/// Largest config file lmi reads: real ones are a few hundred bytes, and a
/// huge one (a mistaken path, a hostile file) must not stall every command.
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// The file's text, refusing (exit 3) anything over [`MAX_CONFIG_BYTES`].
fn read_bounded(path: &Path) -> Result<String> {
    use std::io::Read;
    let cannot = |e: std::io::Error| {
        Error::config(format!("cannot read config file {}: {e}", path.display()))
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .map_err(cannot)?
        .take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(Error::config(format!(
            "config file {} is larger than 1 MiB; lmi reads no config file that large",
            path.display()
        ))
        .with_hint("is it the right file? a dotenv file of KEY=value lines is a few KB at most"));
    }
    String::from_utf8(bytes)
        .map_err(|e| cannot(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))
}

impl FileValues {
    /// The warning for a config file (or its folder) that others can
    /// change.
    pub fn write_warning(&self) -> Option<String> {
        self.exposure.clone()
    }
}

/// Parses the text of the dotenv file at `path` (named in errors); no I/O.
pub fn parse(path: &Path, text: &str) -> Result<FileValues> {
    let text = quote_unquoted_spaces(text);
    let mut values = Vec::new();
    for item in dotenvy::from_read_iter(text.as_bytes()) {
        let (k, v) = item.map_err(|e| dotenv_error(path, &text, e))?;
        values.push((k.to_ascii_uppercase(), v));
    }
    Ok(FileValues {
        path: path.to_owned(),
        values,
        readable_by_others: false,
        exposure: None,
    })
}

/// Single-quotes unquoted values that contain spaces (`OAUTH_SCOPES=read
/// write`), which python-dotenv (and so lmi's earlier, Python design) reads as
/// one value but dotenvy rejects. Values with quotes, backslashes or `$` are
/// left for dotenvy to judge; a ` #` still starts a comment. Lines map one to
/// one, so error line numbers stay right.
fn quote_unquoted_spaces(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for line in text.split_inclusive('\n') {
        let (body, newline) = match line.strip_suffix('\n') {
            Some(body) => (body, "\n"),
            None => (line, ""),
        };
        out.push_str(&quote_line(body).unwrap_or_else(|| body.to_owned()));
        out.push_str(newline);
    }
    out
}

fn quote_line(line: &str) -> Option<String> {
    let trimmed = line.trim_start();
    if trimmed.starts_with('#') {
        return None;
    }
    let (key_part, value) = trimmed.split_once('=')?;
    let key = key_part
        .trim()
        .strip_prefix("export ")
        .map_or(key_part.trim(), str::trim);
    let key_ok = key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    if !key_ok {
        return None;
    }
    // A ` #` (or tab-#) starts a comment after an unquoted value.
    let value = value.trim();
    let value = match value.find(" #").into_iter().chain(value.find("\t#")).min() {
        Some(i) => value[..i].trim_end(),
        None => value,
    };
    let plain = !value.is_empty()
        && value.contains(char::is_whitespace)
        && !value.contains(['\'', '"', '\\', '$', '`']);
    plain.then(|| format!("{key_part}='{value}'"))
}

fn dotenv_error(path: &Path, text: &str, err: dotenvy::Error) -> Error {
    match err {
        dotenvy::Error::LineParse(fragment, _) => {
            // dotenvy reports the fragment it choked on; find its line.
            let first = fragment
                .lines()
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned();
            let number = Some(text)
                .and_then(|text| {
                    text.lines()
                        .position(|l| {
                            !first.is_empty()
                                && l.contains(&first)
                                && !l.trim_start().starts_with('#')
                        })
                        .map(|i| i + 1)
                })
                .map(|n| format!(" line {n}"))
                .unwrap_or_default();
            // The line may hold a secret: name it by number, not by content.
            Error::config(format!("malformed line in config file {}{number}", path.display())).with_hint(
                "each line must be KEY=value (`export ` and # comments are allowed); quote a value that holds quotes, `\\` or `$` (KEY='a \"b\"')",
            )
        }
        dotenvy::Error::Io(e) => {
            Error::config(format!("cannot read config file {}: {e}", path.display()))
        }
        other => Error::config(format!(
            "cannot read config file {}: {other}",
            path.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unquoted_values_with_spaces() {
        assert_eq!(quote_unquoted_spaces("A=read write\n"), "A='read write'\n");
        assert_eq!(
            quote_unquoted_spaces("export A = x y # note\nB=1"),
            "export A ='x y'\nB=1"
        );
        for kept in [
            "A=\"x y\"\n",
            "A=x\n",
            "# A=x y\n",
            "A=$X y\n",
            "A='x y'\n",
            "not a line\n",
        ] {
            assert_eq!(quote_unquoted_spaces(kept), kept);
        }
    }

    #[test]
    fn parse_is_pure_and_names_the_line() {
        let path = Path::new("/nowhere/dev.env");
        let parsed = parse(path, "# c\nexport a=1\nB='x y'\nA=2\n").unwrap();
        assert_eq!(parsed.get("A"), Some("2"));
        assert_eq!(parsed.get("B"), Some("x y"));
        let err = parse(path, "A=1\nB='open\n").unwrap_err();
        assert!(
            err.message().contains("/nowhere/dev.env line 2"),
            "{}",
            err.message()
        );
    }
}
