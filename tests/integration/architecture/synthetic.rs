//! The architecture rules on small made-up trees, so the detection itself
//! is tested: a clean tree passes, and upward references, circles and long
//! files are each found and named.

use std::collections::BTreeSet;

use super::rules::{cycles, layer_violations, long_files, references, src, Source};
use super::MAX_LINES;

/// A clean tree in the intended shape, with every kind of text the checks
/// must not read as a reference.
fn clean_tree() -> Vec<Source> {
    vec![
        src("main.rs", "fn main() { lmi::run(); }\n"),
        src("lib.rs", "pub mod auth;\npub mod commands;\npub mod config;\nuse crate::commands::Ctx;\npub fn run() { commands::go() }\n"),
        src("commands/mod.rs", "use crate::{auth, config::Settings};\nuse super::plugin as _;\n"),
        src("auth/mod.rs", "pub mod sso;\nuse crate::config;\n"),
        src("auth/sso/flow.rs", "use super::super::config::X;\nuse super::store;\n"),
        src("plugin.rs", "use crate::config::Settings;\n"),
        src(
            "config.rs",
            "//! Not `crate::commands`.\n/* crate::auth /* nested */ crate::lib */\n\
             // crate::commands::Ctx\nconst A: &str = \"crate::commands\";\n\
             const B: &str = r#\"crate::\"auth\"#;\nconst C: char = '\"';\nfn f<'a>(x: &'a str) {}\n\
             #[cfg(test)]\nmod tests {\n    use crate::commands::Ctx;\n}\n",
        ),
    ]
}

#[test]
fn clean_tree_passes() {
    let tree = clean_tree();
    assert_eq!(layer_violations(&tree), Vec::<String>::new());
    assert_eq!(cycles(&tree), Vec::<String>::new());
    assert_eq!(long_files(&tree, MAX_LINES), Vec::<String>::new());
    let edges: BTreeSet<(String, String)> = references(&tree)
        .into_iter()
        .map(|r| (r.from, r.to))
        .collect();
    let want = [
        ("main", "lib"),
        ("lib", "commands"),
        ("commands", "auth"),
        ("commands", "config"),
        ("commands", "plugin"),
        ("auth", "config"),
        ("plugin", "config"),
    ];
    let want: BTreeSet<(String, String)> = want
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(edges, want);
}

#[test]
fn upward_references_are_named() {
    let mut tree = clean_tree();
    tree.push(src(
        "auth/service.rs",
        "use std::fmt;\nuse crate::commands::Ctx;\n",
    ));
    tree.push(src("env.rs", ""));
    tree.push(src(
        "plugin/run.rs",
        "use crate::{env::Env, commands::Ctx};\nfn f() { crate::set_exits(false) }\n",
    ));
    tree.push(src(
        "config/x.rs",
        "fn f() { super::super::commands::g() }\n",
    ));
    tree.push(src("newthing.rs", "use crate::auth::Token;\n"));
    let found = layer_violations(&tree);
    assert_eq!(
        found,
        [
            "auth (layer 4) names commands (layer 2) at src/auth/service.rs:2: `use crate::commands::Ctx;`",
            "config (layer 6) names commands (layer 2) at src/config/x.rs:1: `fn f() { super::super::commands::g() }`",
            "plugin (layer 4) names commands (layer 2) at src/plugin/run.rs:1: `use crate::{env::Env, commands::Ctx};`",
            "newthing (layer 9) names auth (layer 4) at src/newthing.rs:1: `use crate::auth::Token;`",
            "plugin (layer 4) names lib (layer 1) at src/plugin/run.rs:2: `fn f() { crate::set_exits(false) }`",
            "newthing is not in LAYERS (tests/integration/architecture/mod.rs) and counts as the lowest \
             layer: add it to the layer where it belongs",
        ]
    );
}

#[test]
fn the_finer_layers_below_commands_are_guarded() {
    let mut tree = clean_tree();
    tree.push(src("output.rs", "use crate::cli::OutputFlag;\n"));
    tree.push(src("cli.rs", "use crate::output::OutputFormat;\n"));
    tree.push(src("http.rs", "use crate::config::Config;\n"));
    tree.push(src("clock.rs", "use crate::paths::Paths;\n"));
    // Downwards, within the bottom layer too: allowed.
    tree.push(src("error.rs", ""));
    tree.push(src("paths.rs", "use crate::{error, clock};\n"));
    let found: BTreeSet<String> = layer_violations(&tree).into_iter().collect();
    let want: BTreeSet<String> = [
        "cli (layer 5) names output (layer 3) at src/cli.rs:1: `use crate::output::OutputFormat;`",
        "http (layer 7) names config (layer 6) at src/http.rs:1: `use crate::config::Config;`",
        "clock (layer 9) names paths (layer 8) at src/clock.rs:1: `use crate::paths::Paths;`",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(found, want);
}

#[test]
fn cycles_are_found_with_their_path() {
    let mut tree = clean_tree();
    tree.push(src("config/load.rs", "fn f() { crate::plugin::g() }\n"));
    let found = cycles(&tree);
    assert_eq!(
        found,
        ["config → plugin → config\n    config → plugin: src/config/load.rs:1: `fn f() { crate::plugin::g() }`\n    \
          plugin → config: src/plugin.rs:1: `use crate::config::Settings;`"]
    );
    tree.push(src("config/more.rs", "use crate::commands::Ctx;\n"));
    let found = cycles(&tree);
    let heads: Vec<&str> = found.iter().map(|c| c.lines().next().unwrap()).collect();
    assert_eq!(
        heads,
        [
            "auth → config → commands → auth",
            "commands → config → commands",
            "commands → plugin → config → commands",
            "config → plugin → config",
        ]
    );
}

#[test]
fn long_files_are_listed() {
    let body = |n: usize| "fn f() {}\n".repeat(n);
    let tree = vec![
        src("big.rs", &body(501)),
        src(
            "fine.rs",
            &format!("{}#[cfg(test)]\nmod tests {{\n{}}}\n", body(500), body(900)),
        ),
        src("sso/tests.rs", &body(900)),
    ];
    assert_eq!(
        long_files(&tree, 500),
        ["src/big.rs: 501 lines of non-test code (limit 500)"]
    );
}
