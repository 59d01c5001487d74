//! `lmi plugin install/list/uninstall`: files and crates (through cargo),
//! and what is refused.

use super::{chmod, describing, path_dir, script};
use crate::support::{mode, Sandbox};

#[test]
fn plugin_install_list_uninstall_roundtrip() {
    let sb = Sandbox::new();
    let src = describing(
        &sb.home().join("build"),
        "tool",
        "0.3.0",
        "A tool",
        "echo \"tool ran with $*\"\n",
    );
    let out = sb.run(&["plugin", "install", src.to_str().unwrap()]);
    out.assert_ok();
    let target = sb.data_dir().join("plugins/bin/lmi-tool");
    let json = out.json();
    assert_eq!(json["installed"][0]["name"], "tool");
    assert_eq!(json["installed"][0]["path"], target.to_str().unwrap());
    assert_eq!(mode(&target), 0o755);
    assert_eq!(mode(&sb.data_dir().join("plugins")), 0o700);
    assert_eq!(mode(&sb.data_dir().join("plugins/bin")), 0o700);
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(sb.data_dir().join("plugins/installed.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["plugins"]["tool"]["from"], src.to_str().unwrap());

    // It runs, from lmi's folder (the source may go away).
    std::fs::remove_file(&src).unwrap();
    let out = sb.run(&["tool", "x"]);
    out.assert_ok();
    assert_eq!(out.stdout, "tool ran with x\n");

    let out = sb.run(&["plugin", "list"]);
    out.assert_ok();
    let list = out.json();
    let entries = list.as_array().unwrap();
    let tool = entries.iter().find(|e| e["name"] == "tool").unwrap();
    assert_eq!(tool["version"], "0.3.0");
    assert_eq!(tool["source"], "installed");
    assert_eq!(tool["path"], target.to_str().unwrap());
    let text = sb.run(&["plugin", "list", "-o", "text"]);
    text.assert_ok();
    assert!(text.stdout.starts_with("NAME"), "{}", text.stdout);
    assert!(
        text.stdout
            .lines()
            .any(|l| l.starts_with("tool ") && l.contains("0.3.0") && l.contains("installed")),
        "{}",
        text.stdout
    );

    // Installing again replaces it.
    let v2 = describing(
        &sb.home().join("build"),
        "tool",
        "0.4.0",
        "A tool",
        "echo v2\n",
    );
    sb.run(&["plugin", "install", v2.to_str().unwrap()])
        .assert_ok();
    assert_eq!(sb.run(&["tool"]).stdout, "v2\n");

    let out = sb.run(&["plugin", "uninstall", "tool"]);
    out.assert_ok();
    assert_eq!(out.json()["uninstalled"], "tool");
    assert!(!target.exists());
    assert_eq!(sb.run(&["plugin", "list"]).json(), serde_json::json!([]));
    sb.run(&["tool"]).assert_code(2);
    sb.run(&["plugin", "uninstall", "tool"]).assert_code(2);
}

#[test]
fn plugin_install_refuses_builtin_names_bad_names_and_missing_files() {
    let sb = Sandbox::new();
    let build = sb.home().join("build");
    for builtin in ["api", "auth", "help", "plugin"] {
        let path = script(&build, &format!("lmi-{builtin}"), "exit 0\n");
        let out = sb.run(&["plugin", "install", path.to_str().unwrap()]);
        out.assert_code(2).assert_stderr_contains("built-in");
    }
    let dashed = script(&build, "lmi--x", "exit 0\n");
    sb.run(&["plugin", "install", dashed.to_str().unwrap()])
        .assert_code(2)
        .assert_stderr_contains("not a valid plugin name");
    let missing = build.join("lmi-missing");
    sb.run(&["plugin", "install", missing.to_str().unwrap()])
        .assert_code(2)
        .assert_stderr_contains(missing.to_str().unwrap());
    let plain = script(&build, "lmi-plain", "exit 0\n");
    chmod(&plain, 0o644);
    sb.run(&["plugin", "install", plain.to_str().unwrap()])
        .assert_code(2)
        .assert_stderr_contains("not executable");
    sb.run(&["plugin", "install", build.to_str().unwrap()])
        .assert_code(2);
    assert!(!sb.data_dir().join("plugins/bin/lmi-api").exists());
    assert!(!sb.data_dir().join("plugins/installed.json").exists());
}

#[test]
fn plugin_uninstall_of_a_path_plugin_or_an_unknown_one_is_exit_2() {
    let mut sb = Sandbox::new();
    let dir = path_dir(&mut sb, "bin");
    let mine = script(&dir, "lmi-mine", "exit 0\n");
    let out = sb.run(&["plugin", "uninstall", "mine"]);
    out.assert_code(2)
        .assert_stderr_contains(mine.to_str().unwrap())
        .assert_stderr_contains("yours to remove");
    assert!(mine.exists());
    let list = sb.run(&["plugin", "list"]).json();
    assert_eq!(list[0]["source"], "path");
    assert_eq!(list[0]["path"], mine.to_str().unwrap());

    sb.run(&["plugin", "uninstall", "nothing"])
        .assert_code(2)
        .assert_stderr_contains("no plugin named 'nothing'");
    sb.run(&["plugin", "uninstall", "../x"]).assert_code(2);
}

#[test]
fn plugin_install_crate_runs_cargo_install_into_lmis_folder() {
    let mut sb = Sandbox::new();
    let dir = path_dir(&mut sb, "bin");
    let args_file = sb.home().join("cargo-args");
    // A stand-in cargo: records its arguments and "builds" lmi-fromcrate.
    script(
        &dir,
        "cargo",
        &format!(
            r#"printf '%s\n' "$@" > '{}'
while [ $# -gt 0 ]; do [ "$1" = --root ] && root="$2"; shift; done
mkdir -p "$root/bin"
printf '#!/bin/sh\necho from-crate\n' > "$root/bin/lmi-fromcrate"
chmod 755 "$root/bin/lmi-fromcrate"
"#,
            args_file.display()
        ),
    );
    let out = sb.run(&[
        "plugin",
        "install",
        "--crate",
        "lmi-fromcrate",
        "--version",
        "1.2.3",
        "--registry",
        "corp",
    ]);
    out.assert_ok();
    assert_eq!(out.json()["installed"][0]["name"], "fromcrate");
    let args = std::fs::read_to_string(&args_file).unwrap();
    let root = sb.data_dir().join("plugins");
    let expected = format!(
        "install\n--root\n{}\n--force\n--version=1.2.3\n--registry=corp\n--\nlmi-fromcrate\n",
        root.display()
    );
    assert_eq!(args, expected);
    assert_eq!(sb.run(&["fromcrate"]).stdout, "from-crate\n");
    let list = sb.run(&["plugin", "list"]).json();
    let entry = list
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "fromcrate")
        .unwrap();
    assert_eq!(entry["source"], "crate");
    sb.run(&["plugin", "uninstall", "fromcrate"]).assert_ok();
    sb.run(&["fromcrate"]).assert_code(2);

    // cargo failing is a plugin error, with cargo's own messages left on stderr.
    script(
        &dir,
        "cargo",
        "echo 'error: could not find `nope`' >&2\nexit 101\n",
    );
    sb.run(&["plugin", "install", "--crate", "nope"])
        .assert_code(6)
        .assert_stderr_contains("could not find `nope`");
}

#[test]
fn plugin_install_crate_without_cargo_is_exit_6() {
    let mut sb = Sandbox::new();
    let empty = sb.home().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    sb.var("PATH", empty.to_str().unwrap());
    sb.run(&["plugin", "install", "--crate", "lmi-anything"])
        .assert_code(6)
        .assert_stderr_contains("cargo is not installed")
        .assert_stderr_contains("hint:");
}
