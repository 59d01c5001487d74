//! Build facts for `lmi --version` (SPEC §10): the commit, its date and the
//! target, as `LMI_BUILD_COMMIT`, `LMI_BUILD_DATE` and `LMI_BUILD_TARGET`.
//!
//! The commit and its date come from `git` when the crate is built from its
//! own repository. A crate built from its package (`cargo install lmi`, the
//! verify step of `cargo package`) has no repository of its own, but Cargo
//! wrote the commit into `.cargo_vcs_info.json`; the date is then unknown.
//! Without either, both are `unknown`: the build never fails for want of git.
//!
//! The commit date (not the build time) keeps builds reproducible.

use std::path::{Path, PathBuf};
use std::process::Command;

const UNKNOWN: &str = "unknown";

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let target = std::env::var("TARGET").unwrap_or_else(|_| UNKNOWN.to_owned());

    let (commit, date) = match from_git(&manifest_dir) {
        Some(facts) => facts,
        None => (
            from_vcs_info(&manifest_dir).unwrap_or_else(|| UNKNOWN.to_owned()),
            UNKNOWN.to_owned(),
        ),
    };

    println!("cargo:rustc-env=LMI_BUILD_COMMIT={commit}");
    println!("cargo:rustc-env=LMI_BUILD_DATE={date}");
    println!("cargo:rustc-env=LMI_BUILD_TARGET={target}");
    println!("cargo:rerun-if-changed=build.rs");
    // A watched path that does not exist would make Cargo run this script
    // on every build.
    if manifest_dir.join(".cargo_vcs_info.json").exists() {
        println!("cargo:rerun-if-changed=.cargo_vcs_info.json");
    }
}

/// Runs `git` in `dir` and returns its trimmed output when it succeeds.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// The short commit and its date, when `dir` is the top of a git work tree.
/// A repository that merely encloses the crate (the unpacked package under
/// `target/package/`, or a home folder kept in git) is not the crate's.
fn from_git(dir: &Path) -> Option<(String, String)> {
    let top = git(dir, &["rev-parse", "--show-toplevel"])?;
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if !same(Path::new(&top), dir) {
        return None;
    }
    let line = git(dir, &["log", "-1", "--format=%h %cs"])?;
    let (commit, date) = line.split_once(' ')?;

    // Build again when HEAD moves: HEAD itself (per work tree), the branch
    // it names, and packed-refs, where that branch may live instead.
    let mut watched = vec!["HEAD".to_owned(), "packed-refs".to_owned()];
    watched.extend(git(dir, &["symbolic-ref", "-q", "HEAD"]));
    for name in watched {
        if let Some(path) = git(dir, &["rev-parse", "--git-path", &name]) {
            let path = dir.join(path);
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
    Some((commit.to_owned(), date.to_owned()))
}

/// The commit Cargo recorded when it packaged the crate.
fn from_vcs_info(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(".cargo_vcs_info.json")).ok()?;
    let info: serde_json::Value = serde_json::from_str(&text).ok()?;
    let sha = info.get("git")?.get("sha1")?.as_str()?;
    let short = sha.get(..7)?;
    short
        .chars()
        .all(|c| c.is_ascii_hexdigit())
        .then(|| short.to_owned())
}
