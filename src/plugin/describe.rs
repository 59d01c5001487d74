//! The `--lmi-describe` protocol: each plugin answers with one JSON line
//! about itself, which `lmi --help`, `lmi --version` and `lmi plugin list`
//! show.
//!
//! What belongs here: asking every plugin at once under one time limit
//! (killing the ones that do not answer), reading and cleaning the answer,
//! and the text built from the answers (the "Plugins:" help section and the
//! version lines).

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::discover::{discover, Found, PREFIX};
use crate::env::ProcessEnv;
use crate::paths::Paths;

/// How long `--lmi-describe` may take. All plugins are asked at once, so
/// this bounds the whole of `lmi --help`, not each plugin.
pub const DESCRIBE_TIMEOUT: Duration = Duration::from_secs(1);

/// The flag a plugin answers with one JSON line about itself.
pub const DESCRIBE_FLAG: &str = "--lmi-describe";

/// Set for plugins run with `--lmi-describe`: an lmi started inside one (a
/// plugin that calls `$LMI_BIN --help`) does not describe plugins again, which
/// would recurse.
pub(super) const DESCRIBING_VAR: &str = "LMI_DESCRIBING";

/// The most `--lmi-describe` output read; a plugin that writes more is not
/// answering properly.
const DESCRIBE_MAX_BYTES: u64 = 64 * 1024;

/// What a plugin says about itself with `--lmi-describe`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Description {
    pub version: Option<String>,
    pub description: Option<String>,
}

/// Asks every plugin for `--lmi-describe` at once and waits at most
/// [`DESCRIBE_TIMEOUT`] in all. A plugin that does not finish in time is
/// killed and skipped with a warning; one that answers with anything but a
/// JSON object gets `None` (callers fall back to its file name).
pub fn describe_all(plugins: &[Found], env: &ProcessEnv) -> Vec<Option<Description>> {
    let mut results: Vec<Option<Description>> = vec![None; plugins.len()];
    if env.non_empty(DESCRIBING_VAR).is_some() {
        return results;
    }
    let (tx, rx) = mpsc::channel::<(usize, Vec<u8>)>();
    let mut children: Vec<Option<Child>> = Vec::with_capacity(plugins.len());
    for (i, plugin) in plugins.iter().enumerate() {
        if !plugin.executable {
            children.push(None);
            continue;
        }
        let mut cmd = Command::new(&plugin.path);
        cmd.arg(DESCRIBE_FLAG)
            .env(DESCRIBING_VAR, "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        // Its own process group, so a plugin that hangs in a child process
        // (a shell script running `sleep`) is killed as a whole.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        match cmd.spawn() {
            Ok(mut child) => {
                let stdout = child.stdout.take();
                let tx = tx.clone();
                // Reading happens on a thread so that one silent plugin
                // cannot hold up the others; the thread is never joined (a
                // pipe kept open by an orphan must not hang lmi).
                std::thread::spawn(move || {
                    let mut buf = Vec::new();
                    if let Some(stdout) = stdout {
                        let _ = stdout.take(DESCRIBE_MAX_BYTES).read_to_end(&mut buf);
                    }
                    let _ = tx.send((i, buf));
                });
                children.push(Some(child));
            }
            Err(e) => {
                tracing::debug!(target: "plugin", "cannot run {} {DESCRIBE_FLAG}: {e}", plugin.path.display());
                children.push(None);
            }
        }
    }
    drop(tx);

    let mut outputs: Vec<Option<Vec<u8>>> = vec![None; plugins.len()];
    let mut pending = children.iter().filter(|c| c.is_some()).count();
    let deadline = Instant::now() + DESCRIBE_TIMEOUT;
    while pending > 0 {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((i, buf)) => {
                outputs[i] = Some(buf);
                pending -= 1;
            }
            Err(_) => break,
        }
    }

    for (i, child) in children.iter_mut().enumerate() {
        let Some(child) = child else { continue };
        let plugin = &plugins[i];
        let finished = matches!(child.try_wait(), Ok(Some(_)));
        if !finished {
            if outputs[i].is_none() {
                tracing::warn!(
                    target: "plugin",
                    "plugin {PREFIX}{} ({}) did not answer {DESCRIBE_FLAG} within {} s; skipped its description",
                    plugin.name,
                    plugin.path.display(),
                    DESCRIBE_TIMEOUT.as_secs()
                );
            }
            kill(child);
        }
        let _ = child.wait();
        results[i] = outputs[i].as_deref().and_then(parse_description);
        if outputs[i].is_some() && results[i].is_none() {
            tracing::debug!(target: "plugin", "{} did not answer {DESCRIBE_FLAG} with a JSON object", plugin.path.display());
        }
    }
    results
}

/// Kills a describe child and, on Unix, its process group.
fn kill(child: &mut Child) {
    #[cfg(unix)]
    {
        // No signal API without `unsafe` in std; kill(1) reaches the group.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", child.id())])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    let _ = child.kill();
}

/// The first non-empty line, as `{"name","version","description"}`.
fn parse_description(out: &[u8]) -> Option<Description> {
    let text = std::str::from_utf8(out).ok()?;
    let line = text.lines().find(|l| !l.trim().is_empty())?;
    let value: serde_json::Value = serde_json::from_str(line.trim()).ok()?;
    let object = value.as_object()?;
    let field = |key: &str| {
        object
            .get(key)
            .and_then(|v| v.as_str())
            .map(one_line)
            .filter(|s| !s.is_empty())
    };
    Some(Description {
        version: field("version"),
        description: field("description"),
    })
}

/// A plugin's text made safe for a terminal line: no control or format
/// characters (escape sequences, bidi overrides), at most 120 characters.
fn one_line(text: &str) -> String {
    let clean: String = text
        .lines()
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|&c| !crate::redact::is_unsafe_char(c))
        .collect();
    let clean = clean.trim();
    if clean.chars().count() > 120 {
        let cut: String = clean.chars().take(117).collect();
        format!("{cut}...")
    } else {
        clean.to_owned()
    }
}

/// Text appended to `lmi --help`: a "Plugins:" list with one-line
/// descriptions; empty when there are none.
pub fn help_section(paths: &Paths, env: &ProcessEnv, builtins: &[String]) -> String {
    let plugins: Vec<Found> = discover(paths, env, builtins)
        .into_iter()
        .filter(|p| p.executable)
        .collect();
    if plugins.is_empty() {
        return String::new();
    }
    let descriptions = describe_all(&plugins, env);
    let width = plugins.iter().map(|p| p.name.len()).max().unwrap_or(0);
    let mut text = String::from("Plugins:\n");
    for (plugin, described) in plugins.iter().zip(descriptions) {
        let about = described
            .and_then(|d| d.description)
            .unwrap_or_else(|| format!("runs {}", plugin.path.display()));
        text.push_str(&format!("  {:width$}  {about}\n", plugin.name));
    }
    text.push_str("\nRun `lmi plugin list` for versions and where each plugin comes from.");
    text
}

/// Lines for `lmi --version`, one per plugin (`lmi-hello 0.1.0`).
pub fn version_lines(paths: &Paths, env: &ProcessEnv, builtins: &[String]) -> Vec<String> {
    let plugins: Vec<Found> = discover(paths, env, builtins)
        .into_iter()
        .filter(|p| p.executable)
        .collect();
    let descriptions = describe_all(&plugins, env);
    plugins
        .iter()
        .zip(descriptions)
        .map(|(plugin, described)| {
            let version = described
                .and_then(|d| d.version)
                .unwrap_or_else(|| "(unknown version)".to_owned());
            format!("{PREFIX}{} {version}", plugin.name)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions() {
        let d = parse_description(b"\n{\"name\":\"x\",\"version\":\"1.2\",\"description\":\"Does \\u001b[31mthings\\nmore\"}\n")
            .unwrap();
        assert_eq!(d.version.as_deref(), Some("1.2"));
        assert_eq!(d.description.as_deref(), Some("Does [31mthings"));
        assert!(parse_description(b"usage: x [options]").is_none());
        assert!(parse_description(b"[1,2]").is_none());
    }
}
