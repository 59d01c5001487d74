//! Environments: which one is selected, listing them, names that are
//! missing or unsafe, and broken configuration reported by `env list` and
//! `auth status`.

use super::configured;
use crate::support::Sandbox;

fn list_tree(root: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let p = entry.path();
            out.push(p.display().to_string());
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn environment_selection_order() {
    let mut sb = configured();
    assert_eq!(sb.run(&["config", "show"]).json()["environment"], "dev");
    sb.var("LMI_ENVIRONMENT", "prod");
    assert_eq!(sb.run(&["config", "show"]).json()["environment"], "prod");
    assert_eq!(
        sb.run(&["config", "show", "-e", "dev"]).json()["environment"],
        "dev"
    );
    // An empty LMI_ENVIRONMENT counts as unset.
    sb.var("LMI_ENVIRONMENT", "");
    assert_eq!(sb.run(&["config", "show"]).json()["environment"], "dev");
}

#[test]
fn no_environment_lists_the_ones_that_exist() {
    let sb = Sandbox::new();
    sb.write_env("alpha", "OAUTH_CLIENT_ID=a\n");
    sb.write_env("beta", "OAUTH_CLIENT_ID=b\n");
    let out = sb.run(&["auth", "token"]);
    out.assert_code(3)
        .assert_stderr_contains("no environment selected");
    out.assert_stderr_contains("alpha, beta");
    assert!(
        out.stderr.lines().any(|l| l.starts_with("hint: ")),
        "{}",
        out.stderr
    );
}

#[test]
fn missing_environment_suggests_the_closest() {
    let sb = configured();
    let out = sb.run(&["-e", "prd", "auth", "token"]);
    out.assert_code(3)
        .assert_stderr_contains("\"prd\" does not exist");
    out.assert_stderr_contains("did you mean prod?");
}

#[test]
fn bad_environment_names_touch_nothing_outside() {
    let sb = configured();
    let long = "a".repeat(65);
    for name in ["../x", "/etc/passwd", "", long.as_str(), ".hidden", "a/b"] {
        let before = list_tree(sb.home());
        let out = sb.run(&["-e", name, "auth", "token"]);
        out.assert_code(3)
            .assert_stderr_contains("invalid environment name");
        // Only the log may have been written.
        let after: Vec<_> = list_tree(sb.home())
            .into_iter()
            .filter(|p| {
                !p.ends_with("lmi.log")
                    && !p.ends_with("share/lmi")
                    && !p.ends_with(".local/share")
                    && !p.ends_with(".local")
            })
            .collect();
        let before: Vec<_> = before
            .into_iter()
            .filter(|p| {
                !p.ends_with("lmi.log")
                    && !p.ends_with("share/lmi")
                    && !p.ends_with(".local/share")
                    && !p.ends_with(".local")
            })
            .collect();
        assert_eq!(before, after, "files changed for {name:?}");
    }
    let mut sb2 = configured();
    sb2.var("LMI_ENVIRONMENT", "../../etc");
    sb2.run(&["auth", "token"]).assert_code(3);
}

#[test]
fn env_list_marks_the_default() {
    let sb = configured();
    let out = sb.run(&["env", "list"]).json();
    let list = out.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["name"], "dev");
    assert_eq!(list[0]["default"], true);
    assert_eq!(list[1]["default"], false);
    assert!(list[1]["path"].as_str().unwrap().ends_with("env/prod.env"));
    let text = sb.run(&["env", "list", "-o", "text"]).stdout;
    assert!(text.contains("* dev") && text.contains("  prod"), "{text}");
}

#[test]
fn status_and_env_list_report_broken_configuration() {
    let sb = configured();
    sb.run(&["auth", "status"]).assert_ok();
    sb.run(&["-e", "stagign", "auth", "status"])
        .assert_code(3)
        .assert_stderr_contains("does not exist");
    sb.run(&["-e", "stagign", "env", "list"])
        .assert_code(3)
        .assert_stderr_contains("available environments: dev, prod");
    sb.write_main("DEFAULT_ENVIRONMENT=dev\ngarbage line\n");
    sb.run(&["auth", "status"])
        .assert_code(3)
        .assert_stderr_contains(".env line 2");
}
