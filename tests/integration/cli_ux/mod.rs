//! The commands people live in (SPEC §2.1, §3.1): `config set/unset`,
//! `env add/remove`, `doctor`, `auth inspect`, shell completion and the man
//! page.
//!
//! This file holds the helpers these tests share.

mod completion;
mod config_write;
mod doctor;
mod env_files;
mod help;
mod inspect;

use std::path::{Path, PathBuf};

/// Every file below `dir`, recursively, sorted.
fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}
