//! Architecture rules, checked on the sources of `src/` read as text:
//! imports run one way (`main → lib → commands → output → {auth, plugin}
//! → cli → config → {files, http, logging} → paths → the bottom`, see
//! `LAYERS` below), no circle between the crate's top-level modules,
//! and no source file over `MAX_LINES` lines of non-test code.
//!
//! Comments, string literals and a file's trailing `#[cfg(test)] mod tests`
//! are not read. This file holds the layer table and the three checks on
//! the real tree; `rules` reads the sources and finds the breaches;
//! `synthetic` tests those rules on made-up trees.

mod rules;
mod synthetic;

use std::path::Path;

use rules::{cycles, layer_violations, long_files, read_tree, Source};

/// The layers, highest first. A module may name modules of its own layer
/// and of lower ones; a module missing here counts as the lowest layer.
const LAYERS: &[&[&str]] = &[
    &["main"],
    &["lib"],
    &["commands"],
    &["output", "agent"],
    &["auth", "plugin"],
    &["cli"],
    &["config"],
    &["files", "http", "logging"],
    &["paths"],
    &[
        "clock",
        "env",
        "error",
        "interrupt",
        "redact",
        "secret",
        "suggest",
        "terminal",
    ],
];

/// The most lines of non-test code one source file may have.
const MAX_LINES: usize = 400;

fn real_tree() -> Vec<Source> {
    read_tree(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"))
}

#[test]
fn layers_import_downwards() {
    let found = layer_violations(&real_tree());
    assert!(
        found.is_empty(),
        "imports must run main → lib → commands → output → {{auth, plugin}} → cli → config \
         → {{files, http, logging}} → paths → the bottom \
         (LAYERS in tests/integration/architecture/mod.rs); {} reference(s) go upwards:\n{}",
        found.iter().filter(|f| f.contains(" names ")).count(),
        found.join("\n")
    );
}

#[test]
fn no_module_cycles() {
    let found = cycles(&real_tree());
    assert!(
        found.is_empty(),
        "{} circle(s) between top-level modules of src/:\n{}",
        found.len(),
        found.join("\n")
    );
}

#[test]
fn source_files_stay_small() {
    let found = long_files(&real_tree(), MAX_LINES);
    assert!(
        found.is_empty(),
        "{} source file(s) over {MAX_LINES} lines of non-test code; split them by concern:\n{}",
        found.len(),
        found.join("\n")
    );
}
