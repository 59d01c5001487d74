//! The scripting flags of `lmi api` (SPEC §4.4) in `--help`, in shell
//! completion and in the man page.

use crate::support::Sandbox;

#[test]
fn api_scripting_flags_are_documented_and_complete() {
    let sb = Sandbox::new();
    let out = sb.run(&["api", "--help"]);
    out.assert_ok();
    for needle in [
        "-f, --raw-field <KEY=VALUE>",
        "-F, --field <KEY=VALUE>",
        "--output-file <FILE>",
        "--silent",
        "`graphql`",
        "API_GRAPHQL_URL",
        "lmi api graphql -F query=@q.graphql",
    ] {
        assert!(out.stdout.contains(needle), "{needle}: {}", out.stdout);
    }

    let complete = |word: &str| {
        let out = sb
            .cmd(&["--", "lmi", "api", word])
            .env("LMI_COMPLETE", "fish")
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    let long = complete("--");
    for flag in ["--raw-field", "--field", "--output-file", "--silent"] {
        assert!(
            long.lines().any(|l| l.split('\t').next() == Some(flag)),
            "{flag}: {long}"
        );
    }
    assert!(complete("--out").contains("--output-file"));

    let dir = sb.home().join("man1");
    sb.run(&["man", "--dir", dir.to_str().unwrap()]).assert_ok();
    let page = std::fs::read_to_string(dir.join("lmi-api.1")).unwrap();
    for needle in ["raw\\-field", "output\\-file", "silent", "graphql"] {
        assert!(page.contains(needle), "{needle}: {page}");
    }
}
