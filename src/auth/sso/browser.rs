//! Opening the login URL in the user's browser.
//!
//! `$BROWSER` is read as xdg-open reads it: a colon-separated list of
//! commands, tried in order; `%s` in a command is replaced by the URL,
//! otherwise the URL is appended as the last argument. Without `$BROWSER`
//! (or when none of its commands starts) the platform opener is used. The
//! browser is started detached: lmi never waits for it, and it never writes
//! to lmi's stdout (the result stream) or holds lmi's stderr open.
//!
//! The flow sees only the [`Browser`] trait, so tests can record the URL
//! instead of starting a program.

use std::process::{Command, Stdio};

/// One command line of `$BROWSER` for `url`: the program and its arguments.
pub fn command_line(spec: &str, url: &str) -> Option<(String, Vec<String>)> {
    let mut words = spec.split_whitespace().map(str::to_owned);
    let program = words.next()?;
    let mut args: Vec<String> = words.collect();
    if args.iter().any(|a| a.contains("%s")) {
        for arg in &mut args {
            *arg = arg.replace("%s", url);
        }
    } else {
        args.push(url.to_owned());
    }
    Some((program, args))
}

/// The platform's URL opener, when `$BROWSER` gives nothing that starts.
fn platform_openers(url: &str) -> Vec<(String, Vec<String>)> {
    if cfg!(target_os = "macos") {
        vec![("open".into(), vec![url.into()])]
    } else if cfg!(windows) {
        vec![(
            "rundll32".into(),
            vec!["url.dll,FileProtocolHandler".into(), url.into()],
        )]
    } else {
        vec![("xdg-open".into(), vec![url.into()])]
    }
}

/// Something that shows the user a URL.
pub trait Browser {
    /// Starts a browser on `url`; `false` when none could be started.
    fn open(&self, url: &str) -> bool;

    /// Starts only the user's own `$BROWSER` on `url`, never the platform
    /// opener (the device flow, where the platform may have no desktop):
    /// `None` when `$BROWSER` is unset, else whether one of its commands
    /// started.
    fn open_configured(&self, url: &str) -> Option<bool>;
}

/// `$BROWSER`, then the platform opener.
#[derive(Debug, Clone, Default)]
pub struct SystemBrowser {
    /// The value of `BROWSER` (from the caller's environment snapshot).
    browser_var: Option<String>,
}

impl SystemBrowser {
    pub fn new(browser_var: Option<&str>) -> SystemBrowser {
        SystemBrowser {
            browser_var: browser_var.map(str::to_owned),
        }
    }
}

impl SystemBrowser {
    /// The command lines `$BROWSER` gives for `url`.
    fn commands_for(&self, url: &str) -> Vec<(String, Vec<String>)> {
        self.browser_var
            .as_deref()
            .into_iter()
            .flat_map(|v| v.split(':'))
            .filter_map(|spec| command_line(spec, url))
            .collect()
    }
}

impl Browser for SystemBrowser {
    fn open(&self, url: &str) -> bool {
        self.commands_for(url)
            .into_iter()
            .chain(platform_openers(url))
            .any(|(program, args)| spawn_detached(&program, &args))
    }

    fn open_configured(&self, url: &str) -> Option<bool> {
        let commands = self.commands_for(url);
        if commands.is_empty() {
            return None;
        }
        Some(
            commands
                .into_iter()
                .any(|(program, args)| spawn_detached(&program, &args)),
        )
    }
}

fn spawn_detached(program: &str, args: &[String]) -> bool {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    #[cfg(unix)]
    {
        // Its own process group: a Ctrl-C meant for lmi does not reach it.
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    match cmd.spawn() {
        Ok(mut child) => {
            tracing::debug!(target: "sso", "started browser {program}");
            // Reap it when it exits so it does not linger as a zombie; lmi
            // never waits for it otherwise.
            let name = program.to_owned();
            std::thread::spawn(move || {
                if let Ok(status) = child.wait() {
                    tracing::debug!(target: "sso", "browser {name} exited: {status}");
                }
            });
            true
        }
        Err(e) => {
            tracing::debug!(target: "sso", "cannot start browser {program}: {e}");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_is_last_argument_or_replaces_percent_s() {
        let url = "http://idp/authorize?a=1";
        assert_eq!(
            command_line("firefox", url),
            Some(("firefox".into(), vec![url.into()]))
        );
        assert_eq!(
            command_line("  testidp  browser --forge-state ", url),
            Some((
                "testidp".into(),
                vec!["browser".into(), "--forge-state".into(), url.into()]
            ))
        );
        assert_eq!(
            command_line("w3m -o x=%s --new", url),
            Some((
                "w3m".into(),
                vec!["-o".into(), format!("x={url}"), "--new".into()]
            ))
        );
        assert_eq!(command_line("   ", url), None);
    }
}
