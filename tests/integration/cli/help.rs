//! `lmi --help` lists the new commands; `lmi man` gives the man page.

use crate::support::Sandbox;

#[test]
fn help_lists_the_new_commands_with_one_line_each() {
    let sb = Sandbox::new();
    let out = sb.run(&["--help"]);
    out.assert_ok();
    for (command, words) in [
        ("doctor", "Check configuration"),
        ("man", "man page"),
        ("completions", "completion"),
    ] {
        let line = out
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{command} ")))
            .unwrap_or_else(|| panic!("no {command} in:\n{}", out.stdout));
        assert!(line.contains(words), "{line}");
    }
    for (args, words) in [
        (&["config", "--help"][..], ["set", "unset", "show"]),
        (&["env", "--help"][..], ["add", "remove", "list"]),
        (&["auth", "--help"][..], ["inspect", "token", "status"]),
    ] {
        let out = sb.run(args);
        out.assert_ok();
        for word in words {
            assert!(
                out.stdout
                    .lines()
                    .any(|l| l.trim_start().starts_with(&format!("{word} "))),
                "{args:?} lacks {word}:\n{}",
                out.stdout
            );
        }
    }
}

#[test]
fn man_page_prints_and_writes_every_page() {
    let sb = Sandbox::new();
    let out = sb.run(&["man"]);
    out.assert_ok();
    assert!(out.stdout.contains(".TH lmi 1"), "{}", out.stdout);
    assert!(out.stdout.contains("doctor") && out.stdout.contains("Configuration keys"));

    let dir = sb.home().join("man1");
    let out = sb.run(&["man", "--dir", dir.to_str().unwrap()]);
    out.assert_ok();
    let pages = out.json()["pages"].clone();
    for page in [
        "lmi.1",
        "lmi-doctor.1",
        "lmi-config-set.1",
        "lmi-auth-inspect.1",
    ] {
        assert!(dir.join(page).is_file(), "{page}: {pages}");
    }
}
