//! Writing configuration (SPEC §2.1): the one code path that edits a dotenv
//! file, for `config set`, `config unset` and `env add`.
//!
//! An edit keeps every other line, comment and blank line as it was, in its
//! order; it replaces the line of a key (matched case-insensitively) and
//! appends a new key. Values are quoted so that `dotenv::parse`,
//! the reader lmi itself uses, gives back exactly the value written; the
//! edited text is read back before it is written, and an edit that would
//! not read back as intended is refused rather than written. The write is
//! atomic (a temporary file in the same folder, then a rename), under a lock
//! file beside the config file so that two concurrent edits both land.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::assignment::check_value;
pub use super::assignment::{check_key, parse_assignment, quote};
use super::dotenv;
use super::keys::{is_secret_key, key_def, misspelt_key};
use crate::error::{Error, Result};

/// How long an edit waits for another lmi editing the same file.
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// What to do to a file.
#[derive(Debug, Clone, Copy)]
pub enum Change<'a> {
    /// Set these keys (upper-case, checked by [`parse_assignment`]).
    Set(&'a [(String, String)]),
    /// Remove every line of these keys (upper-case).
    Unset(&'a [String]),
}

/// Which file is edited, for the rules that depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileRole {
    /// The main `.env`: no secrets.
    Main,
    /// An environment's file.
    Environment,
}

/// What an edit did.
#[derive(Debug)]
pub struct Edited {
    pub path: PathBuf,
    /// The keys set, or the keys actually removed.
    pub keys: Vec<String>,
    /// Things to tell the user on stderr (unknown keys, a mode tightened).
    pub warnings: Vec<String>,
}

/// The key of a `KEY=value` line (upper-cased) and whether it has the
/// `export ` prefix; `None` for comments, blanks and anything else.
fn line_key(line: &str) -> Option<(String, bool)> {
    let trimmed = line.trim_start();
    if trimmed.starts_with('#') {
        return None;
    }
    let (left, _) = trimmed.split_once('=')?;
    let (key, export) = match left.trim().strip_prefix("export ") {
        Some(rest) => (rest.trim(), true),
        None => (left.trim(), false),
    };
    (!key.is_empty() && !key.contains(char::is_whitespace))
        .then(|| (key.to_ascii_uppercase(), export))
}

/// The edited text of a file (`None` for a file that does not exist yet),
/// and the keys the change touched.
fn apply(original: Option<&str>, change: Change<'_>) -> (String, Vec<String>) {
    let text = original.unwrap_or("");
    let mut out = String::with_capacity(text.len() + 64);
    let mut touched = Vec::new();
    let mut written: Vec<&str> = Vec::new();
    for line in text.split_inclusive('\n') {
        let Some((key, export)) = line_key(line) else {
            out.push_str(line);
            continue;
        };
        match change {
            Change::Set(pairs) => match pairs.iter().rev().find(|(k, _)| *k == key) {
                // The first line of the key takes the new value; later
                // lines of the same key would override it, so they go.
                Some((k, v)) if !written.contains(&k.as_str()) => {
                    written.push(k);
                    let prefix = if export { "export " } else { "" };
                    out.push_str(&format!("{prefix}{k}={}\n", quote(v)));
                }
                Some(_) => {}
                None => out.push_str(line),
            },
            Change::Unset(keys) => {
                if keys.contains(&key) {
                    if !touched.contains(&key) {
                        touched.push(key);
                    }
                } else {
                    out.push_str(line);
                }
            }
        }
    }
    if let Change::Set(pairs) = change {
        let mut appended = false;
        for (i, (k, v)) in pairs.iter().enumerate() {
            // A key given twice: the last value wins, as with --set.
            if written.contains(&k.as_str()) || pairs[i + 1..].iter().any(|(later, _)| later == k) {
                continue;
            }
            if !appended && !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
            appended = true;
            written.push(k);
            out.push_str(&format!("{k}={}\n", quote(v)));
        }
        for (k, _) in pairs {
            if !touched.contains(k) {
                touched.push(k.clone());
            }
        }
    }
    (out, touched)
}

/// The values a file gives, the last line of a key winning (as lmi reads).
fn effective(values: &[(String, String)]) -> HashMap<&str, &str> {
    values
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// Reads a config file for editing: `None` when it does not exist; a
/// folder, or anything unreadable, is a configuration error naming it.
fn read_existing(path: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(
            Error::config(format!("cannot read config file {}: {e}", path.display()))
                .with_hint("fix or remove that path; lmi does not rewrite a file it cannot read"),
        ),
    }
}

fn cannot_write(path: &Path, e: &std::io::Error) -> Error {
    Error::config(format!("cannot write config file {}: {e}", path.display())).with_hint(
        "lmi's config folder must be a writable folder (LMI_CONFIG_DIR or ~/.config/lmi)",
    )
}

/// The lock file beside a config file: `env/.dev.env.lock`, `.env.lock`
/// (no environment name starts with a dot, so it is never listed).
pub fn lock_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().trim_start_matches('.').to_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.lock"))
}

/// Applies `change` to the dotenv file at `path` (created, with its folder,
/// when it does not exist; `must_be_new` refuses an existing one).
pub fn edit(path: &Path, role: FileRole, change: Change<'_>, must_be_new: bool) -> Result<Edited> {
    // A config file kept elsewhere and linked in (dotfiles) is edited where
    // it is, so the link stays a link.
    let linked = std::fs::symlink_metadata(path)
        .is_ok_and(|m| m.file_type().is_symlink())
        .then(|| std::fs::canonicalize(path).ok())
        .flatten();
    let shown = path;
    let path = linked.as_deref().unwrap_or(path);
    let mut warnings = check_change(path, role, change)?;
    let dir = private_folder(path)?;
    let _lock = lock_for_edit(path)?;

    // Read under the lock, so a concurrent edit is never lost.
    let original = read_existing(path)?;
    if must_be_new && original.is_some() {
        return Err(Error::usage(format!("{} already exists", path.display()))
            .with_hint("change it with lmi config set, or remove it with lmi env remove"));
    }
    let before = match &original {
        Some(text) => dotenv::parse(path, text)?.values,
        None => Vec::new(),
    };
    let (text, keys) = apply(original.as_deref(), change);
    let unchanged = match &original {
        Some(_) => keys.is_empty(),
        None => matches!(change, Change::Unset(_)),
    };
    if !unchanged {
        let after = read_back(path, &before, change, &text)?;
        let holds_secret = after.iter().any(|(k, v)| is_secret_key(k) && !v.is_empty());
        write_keeping_mode(dir, path, &text, holds_secret, &mut warnings)?;
    }
    Ok(Edited {
        path: shown.to_owned(),
        keys: if original.is_none() && unchanged {
            Vec::new()
        } else {
            keys
        },
        warnings,
    })
}

/// Refuses a value that cannot be written or a secret bound for the main
/// file; the warnings for keys lmi does not know.
fn check_change(path: &Path, role: FileRole, change: Change<'_>) -> Result<Vec<String>> {
    let mut warnings = Vec::new();
    let Change::Set(pairs) = change else {
        return Ok(warnings);
    };
    for (key, value) in pairs {
        check_value(key, value)?;
        if role == FileRole::Main && key_def(key).is_some_and(|d| d.secret) {
            return Err(Error::usage(format!(
                "{key} is a secret and is not written to the main config {}, which every environment shares",
                path.display()
            ))
            .with_hint(format!(
                "set it in the environment's file: lmi -e NAME config set {key}=..."
            )));
        }
        if key_def(key).is_none() {
            warnings.push(match misspelt_key(key) {
                Some(meant) => {
                    format!(
                        "{key} is not a key lmi knows; did you mean {meant}? (written as given)"
                    )
                }
                None => {
                    format!("{key} is not a key lmi knows (written as given, for a plugin to read)")
                }
            });
        }
    }
    Ok(warnings)
}

/// The file's folder, created private when it does not exist.
fn private_folder(path: &Path) -> Result<&Path> {
    let dir = path
        .parent()
        .ok_or_else(|| Error::internal(format!("{} has no folder", path.display())))?;
    if dir.exists() && !dir.is_dir() {
        return Err(Error::config(format!(
            "cannot write config file {}: {} is not a folder",
            path.display(),
            dir.display()
        ))
        .with_hint("move that file away; lmi keeps its configuration in a folder there"));
    }
    crate::paths::ensure_private_dir(dir).map_err(|e| cannot_write(path, &e))?;
    Ok(dir)
}

/// The lock beside `path`, held while the file is read, edited and written.
fn lock_for_edit(path: &Path) -> Result<crate::files::Lock> {
    let lock_path = lock_path(path);
    match crate::files::lock(&lock_path, LOCK_WAIT, || {
        tracing::debug!(target: "config", "waiting for another lmi editing {}", path.display());
    }) {
        Ok(lock) => match lock.problem.as_ref() {
            Some(e) => Err(cannot_write(&lock_path, e)),
            None => Ok(lock),
        },
        Err(crate::files::LockFailed::NotAFile(what)) => {
            Err(crate::files::not_a_lock_file(&lock_path, what))
        }
        Err(crate::files::LockFailed::TimedOut) => Err(Error::config(format!(
            "timed out waiting for another lmi to finish editing {} (lock {})",
            path.display(),
            lock_path.display()
        ))
        .with_hint("try again")),
    }
}

/// Reads the edited `text` back with lmi's own reader: it must give the
/// values `before` with exactly this change. The values it gives.
fn read_back(
    path: &Path,
    before: &[(String, String)],
    change: Change<'_>,
    text: &str,
) -> Result<Vec<(String, String)>> {
    let mut expected: HashMap<&str, &str> = effective(before);
    match change {
        Change::Set(pairs) => {
            for (k, v) in pairs {
                expected.insert(k, v);
            }
        }
        Change::Unset(keys) => expected.retain(|k, _| !keys.iter().any(|u| u == k)),
    }
    match dotenv::parse(path, text).ok().map(|f| f.values) {
        Some(after) if effective(&after) == expected => Ok(after),
        _ => Err(Error::config(format!(
            "cannot edit {} safely: a line of it does not read back as written (a value over several lines?)",
            path.display()
        ))
        .with_hint("edit that file by hand, or remove the key's lines and set it again")),
    }
}

/// Writes `text` atomically, keeping the file's mode, except that a file
/// holding a secret loses read access for group and others.
fn write_keeping_mode(
    dir: &Path,
    path: &Path,
    text: &str,
    holds_secret: bool,
    warnings: &mut Vec<String>,
) -> Result<()> {
    let mode = existing_mode(path).map(|mode| {
        if holds_secret && mode & 0o044 != 0 {
            warnings.push(format!(
                "{} holds a secret and was readable by other users; its mode is now 0600",
                path.display()
            ));
            0o600
        } else {
            mode
        }
    });
    let result = match mode {
        Some(mode) => crate::files::copy_atomic(dir, path, &mut text.as_bytes(), mode),
        None => crate::files::write_atomic(dir, path, text.as_bytes()),
    };
    result.map_err(|e| cannot_write(path, &e))
}

/// The permission bits of an existing file (kept by an edit).
fn existing_mode(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path)
            .ok()
            .map(|m| m.permissions().mode() & 0o777)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AWKWARD: &[&str] = &[
        "plain",
        "",
        "two words",
        "  leading and trailing  ",
        "a#b",
        "a #b",
        "#start",
        "it's",
        "'",
        "''",
        "say \"hi\"",
        "\"",
        "both ' and \"",
        "$HOME",
        "${HOME}",
        "a$b$",
        "back\\slash",
        "\\",
        "\\n",
        "ends with \\",
        "tab\there",
        "x=y=z",
        "https://idp.example/realms/a?x=1&y=2",
        "`cmd`",
        "ünïcødé ✓",
        "export X=1",
        " ",
        "=",
        "'$HOME' \"$HOME\" \\$HOME",
    ];

    fn read_back(text: &str) -> Vec<(String, String)> {
        dotenv::parse(Path::new("/t/.env"), text).unwrap().values
    }

    #[test]
    fn awkward_values_round_trip_through_lmis_reader() {
        for value in AWKWARD {
            let line = format!("KEY={}\n", quote(value));
            assert_eq!(
                read_back(&line),
                vec![("KEY".to_owned(), (*value).to_owned())],
                "{line:?}"
            );
            // Also after other lines, and via the editor.
            let (text, _) = apply(
                Some("# c\nA=1\n"),
                Change::Set(&[("KEY".to_owned(), (*value).to_owned())]),
            );
            assert_eq!(read_back(&text)[1], ("KEY".to_owned(), (*value).to_owned()));
        }
    }

    #[test]
    fn plain_values_stay_bare() {
        assert_eq!(quote("https://x.example/a?b=c"), "https://x.example/a?b=c");
        assert_eq!(quote("read write"), "'read write'");
        assert_eq!(quote("it's"), r#""it's""#);
        assert_eq!(quote(r"a\$"), r#""a\\\$""#);
    }

    #[test]
    fn edits_keep_every_other_line() {
        let original = "# top comment\n\nexport oauth_client_id=old # note\nOTHER='x y'\n\n# end\n";
        let pairs = [
            ("OAUTH_CLIENT_ID".to_owned(), "new id".to_owned()),
            ("NEW_KEY".to_owned(), "v".to_owned()),
        ];
        let (text, keys) = apply(Some(original), Change::Set(&pairs));
        assert_eq!(
            text,
            "# top comment\n\nexport OAUTH_CLIENT_ID='new id'\nOTHER='x y'\n\n# end\nNEW_KEY=v\n"
        );
        assert_eq!(keys, ["OAUTH_CLIENT_ID", "NEW_KEY"]);

        let (text, keys) = apply(
            Some("A=1\nB=2\na=3\n# A=4\nC=5"),
            Change::Unset(&["A".to_owned(), "Z".to_owned()]),
        );
        assert_eq!(text, "B=2\n# A=4\nC=5");
        assert_eq!(keys, ["A"]);

        // A file without a final newline gets one before an appended key;
        // a duplicated key keeps one line.
        let (text, _) = apply(
            Some("A=1\nA=2"),
            Change::Set(&[("B".to_owned(), "3".to_owned())]),
        );
        assert_eq!(text, "A=1\nA=2\nB=3\n");
        let (text, _) = apply(
            Some("A=1\nx\nA=2\n"),
            Change::Set(&[("A".to_owned(), "3".to_owned())]),
        );
        assert_eq!(text, "A=3\nx\n");
    }

    #[cfg(unix)]
    #[test]
    fn a_linked_file_is_edited_where_it_points() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("dotfiles/dev.env");
        std::fs::create_dir_all(real.parent().unwrap()).unwrap();
        std::fs::write(&real, "A=1\n").unwrap();
        let link = dir.path().join("cfg/env/dev.env");
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let pairs = [("B".to_owned(), "2".to_owned())];
        let done = edit(&link, FileRole::Environment, Change::Set(&pairs), false).unwrap();
        assert_eq!(done.path, link);
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "A=1\nB=2\n");
    }

    #[test]
    fn assignments_are_checked() {
        assert_eq!(
            parse_assignment("oauth_scopes=a b").unwrap(),
            ("OAUTH_SCOPES".to_owned(), "a b".to_owned())
        );
        assert_eq!(parse_assignment("A=").unwrap().1, "");
        for bad in ["NOEQUALS", "=v", " =v", "1A=v", "A-B=v", "A B=v", "Ä=v"] {
            let err = parse_assignment(bad).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad}");
        }
        for bad in ["A=x\ny", "A=x\0", "A=x\r"] {
            let err = parse_assignment(bad).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad:?}");
            assert!(err.message().contains("A"), "{}", err.message());
        }
        // A secret given without '=' is not echoed.
        let err = parse_assignment("MY_SECRET_TOKEN").unwrap_err();
        assert!(!err.message().contains("MY_SECRET_TOKEN"));
    }

    #[test]
    fn edit_writes_privately_and_refuses_broken_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cfg/env/dev.env");
        let pairs = [("OAUTH_CLIENT_SECRET".to_owned(), "s p'a$ce".to_owned())];
        let done = edit(&path, FileRole::Environment, Change::Set(&pairs), true).unwrap();
        assert_eq!(done.keys, ["OAUTH_CLIENT_SECRET"]);
        assert_eq!(read_back(&std::fs::read_to_string(&path).unwrap()), pairs);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(path.parent().unwrap()), 0o700);
            // A group-readable file that holds a secret becomes 0600.
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let other = [("A".to_owned(), "1".to_owned())];
            let done = edit(&path, FileRole::Environment, Change::Set(&other), false).unwrap();
            assert_eq!(mode(&path), 0o600);
            assert!(done.warnings.iter().any(|w| w.contains("0600")));
            // Without a secret, the mode is kept.
            let plain = dir.path().join("cfg/env/p.env");
            std::fs::write(&plain, "A=1\n").unwrap();
            std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o640)).unwrap();
            edit(&plain, FileRole::Environment, Change::Set(&other), false).unwrap();
            assert_eq!(mode(&plain), 0o640);
        }
        assert_eq!(
            edit(&path, FileRole::Environment, Change::Set(&pairs), true)
                .unwrap_err()
                .exit_code(),
            2
        );
        // Secrets stay out of the main file.
        let main = dir.path().join("cfg/.env");
        let err = edit(&main, FileRole::Main, Change::Set(&pairs), false).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(!main.exists());
        // An unparseable file is not rewritten.
        std::fs::write(&main, "A=1\nB='open\n").unwrap();
        let ok = [("C".to_owned(), "1".to_owned())];
        let err = edit(&main, FileRole::Main, Change::Set(&ok), false).unwrap_err();
        assert_eq!(err.exit_code(), 3);
        assert!(err.message().contains("line 2"), "{}", err.message());
        assert_eq!(std::fs::read_to_string(&main).unwrap(), "A=1\nB='open\n");
    }
}
