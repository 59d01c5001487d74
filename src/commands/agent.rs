//! `lmi agent start|run|stop|status` (SPEC §9, shapes in §3).
//!
//! `start` runs `lmi agent run` in the background (its own process group,
//! stdio to null, its log to the file log) and waits, within a deadline,
//! until a `status` request answers; with a live agent on the socket it
//! reports that one (`already_running`). `run` serves in the foreground
//! and is exit 3 when an agent already answers on the socket. `stop` and
//! `status` report "none" with exit 0 when nobody answers. On platforms
//! without Unix sockets every subcommand is exit 3.

use crate::cli::AgentCommand;
use crate::error::Result;

use super::Ctx;

/// Runs an `agent` subcommand.
pub fn run(ctx: &Ctx, cmd: AgentCommand) -> Result<u8> {
    #[cfg(unix)]
    {
        unix::run(ctx, cmd)
    }
    #[cfg(not(unix))]
    {
        let _ = (ctx, cmd);
        Err(crate::error::Error::config(
            "lmi agent is not supported on this platform (it needs Unix sockets)",
        )
        .with_hint("run the agent on Linux or macOS and reach it over SSH"))
    }
}

#[cfg(unix)]
mod unix {
    use std::path::Path;
    use std::process::{Command, Stdio};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use serde_json::json;

    use crate::agent::protocol::{Request, StatusAnswer, StopAnswer};
    use crate::agent::serve::Serve;
    use crate::agent::server::{self, Options};
    use crate::agent::socket::{self, Bound, Probe, SOCKET_VAR};
    use crate::agent::wire::{self, CallError};
    use crate::cli::{AgentCommand, AgentRunArgs};
    use crate::error::{Error, Result};

    use super::Ctx;

    /// How long `start` waits for the new agent to answer.
    const START_DEADLINE: Duration = Duration::from_secs(10);
    /// How long `stop` waits for the socket to go quiet.
    const STOP_DEADLINE: Duration = Duration::from_secs(5);
    /// Between two looks at the socket while waiting.
    const POLL: Duration = Duration::from_millis(20);
    /// How long these commands wait for an answer: longer than a client's
    /// 3 s, since `status` reads the agent's keychain (itself bounded).
    const ASK_TIMEOUT: Duration = Duration::from_secs(10);

    pub(super) fn run(ctx: &Ctx, cmd: AgentCommand) -> Result<u8> {
        let socket = socket::socket_path(&ctx.env, &ctx.paths);
        match cmd {
            AgentCommand::Start(args) => start(ctx, &socket, &args),
            AgentCommand::Run(args) => foreground(ctx, &socket, &args),
            AgentCommand::Stop => stop(ctx, &socket),
            AgentCommand::Status => status(ctx, &socket),
        }
    }

    /// The running agent's status, or `None` when nobody answers.
    fn ask_status(socket: &Path) -> Result<Option<StatusAnswer>> {
        let Probe::Live(stream) = socket::probe(socket)? else {
            return Ok(None);
        };
        match wire::call_on(stream, &Request::Status, ASK_TIMEOUT) {
            Ok(status) => Ok(Some(status)),
            Err(CallError::NotRunning(_)) => Ok(None),
            Err(CallError::Agent(e)) => Err(e.into_error()),
            Err(e) => Err(Error::auth(e.describe(socket))
                .with_hint(format!("end it (lmi agent stop) or unset {SOCKET_VAR}"))),
        }
    }

    fn status(ctx: &Ctx, socket: &Path) -> Result<u8> {
        let shown = socket.display().to_string();
        let value = match ask_status(socket)? {
            Some(s) => json!({
                "running": true, "socket": shown, "pid": s.pid,
                "sessions": s.sessions, "shared_environments": s.shared_environments,
            }),
            None => json!({
                "running": false, "socket": shown, "pid": null,
                "sessions": [], "shared_environments": [],
            }),
        };
        ctx.out.result(&value, || match value["pid"].as_u64() {
            Some(pid) => {
                let mut text = format!("lmi agent (pid {pid}) on {shown}");
                for s in value["sessions"].as_array().into_iter().flatten() {
                    text.push_str(&format!(
                        "\nsession: {} at {}",
                        s["user"].as_str().unwrap_or("unknown user"),
                        s["issuer"].as_str().unwrap_or_default()
                    ));
                }
                for e in value["shared_environments"]
                    .as_array()
                    .into_iter()
                    .flatten()
                {
                    text.push_str(&format!("\nshared: {}", e.as_str().unwrap_or_default()));
                }
                text
            }
            None => format!("no lmi agent answers on {shown}"),
        })?;
        Ok(0)
    }

    fn stop(ctx: &Ctx, socket: &Path) -> Result<u8> {
        let stopped = match socket::probe(socket)? {
            Probe::Live(stream) => {
                match wire::call_on::<StopAnswer>(stream, &Request::Stop, ASK_TIMEOUT) {
                    Ok(_) => true,
                    Err(CallError::NotRunning(_)) => false,
                    Err(CallError::Agent(e)) => return Err(e.into_error()),
                    Err(e) => return Err(Error::auth(e.describe(socket))),
                }
            }
            Probe::Stale | Probe::Absent => false,
        };
        if stopped {
            // Done when the socket no longer answers, so a `start` or
            // `status` right after sees no agent.
            let deadline = Instant::now() + STOP_DEADLINE;
            while matches!(socket::probe(socket), Ok(Probe::Live(_))) && Instant::now() < deadline {
                std::thread::sleep(POLL);
            }
        }
        ctx.out.result(&json!({ "stopped": stopped }), || {
            if stopped {
                format!("stopped the lmi agent on {}", socket.display())
            } else {
                format!("no lmi agent answers on {}", socket.display())
            }
        })?;
        Ok(0)
    }

    fn print_started(ctx: &Ctx, socket: &Path, pid: u32, already_running: bool) -> Result<u8> {
        let shown = socket.display().to_string();
        let value = json!({ "socket": shown, "pid": pid, "already_running": already_running });
        ctx.out.result(&value, || {
            let quoted = shell_quote(&shown);
            format!("{SOCKET_VAR}={quoted}; export {SOCKET_VAR};\necho Agent pid {pid};")
        })?;
        Ok(0)
    }

    fn start(ctx: &Ctx, socket: &Path, args: &AgentRunArgs) -> Result<u8> {
        if let Some(running) = ask_status(socket)? {
            return print_started(ctx, socket, running.pid, true);
        }
        // Said here, in the foreground: the agent's own errors go to null.
        socket::prepare_dir(socket)?;
        let exe = std::env::current_exe()
            .map_err(|e| Error::internal(format!("cannot find lmi's own executable: {e}")))?;
        let mut command = Command::new(exe);
        command.args(run_args(ctx, args));
        command
            .env(SOCKET_VAR, socket)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        {
            use std::os::unix::process::CommandExt;
            // Out of the shell's process group: its Ctrl-C is not ours.
            command.process_group(0);
        }
        let mut child = command
            .spawn()
            .map_err(|e| Error::internal(format!("cannot start lmi agent run: {e}")))?;
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            if let Ok(Some(running)) = ask_status(socket) {
                // Of two agents started at once, the other may have won.
                return print_started(ctx, socket, running.pid, running.pid != child.id());
            }
            if let Ok(Some(exit)) = child.try_wait() {
                // One last look: it may have lost to an agent that answers.
                if let Ok(Some(running)) = ask_status(socket) {
                    return print_started(ctx, socket, running.pid, true);
                }
                return Err(Error::config(format!(
                    "the lmi agent ended at once ({exit}) without listening on {}",
                    socket.display()
                ))
                .with_hint("run it in the foreground to see why: lmi agent run"));
            }
            if Instant::now() >= deadline {
                return Err(Error::internal(format!(
                    "the lmi agent (pid {}) did not answer on {} within {} s",
                    child.id(),
                    socket.display(),
                    START_DEADLINE.as_secs()
                ))
                .with_hint("see its log, or run it in the foreground: lmi agent run"));
            }
            std::thread::sleep(POLL);
        }
    }

    /// `agent run` and the global flags the agent keeps (verbosity, file
    /// log, environment and `--set` values).
    fn run_args(ctx: &Ctx, args: &AgentRunArgs) -> Vec<String> {
        let g = &ctx.global;
        let mut out = vec!["agent".to_owned(), "run".to_owned()];
        if let Some(lifetime) = args.lifetime {
            out.push(format!("--lifetime={lifetime}"));
        }
        if g.quiet {
            out.push("-q".into());
        }
        for _ in 0..g.verbose.min(2) {
            out.push("-v".into());
        }
        if g.no_file_log {
            out.push("--no-file-log".into());
        }
        if let Some(env) = &g.environment {
            out.push(format!("--environment={env}"));
        }
        for (key, value) in &ctx.command_line {
            out.push(format!("--set={key}={value}"));
        }
        out
    }

    fn foreground(ctx: &Ctx, socket: &Path, args: &AgentRunArgs) -> Result<u8> {
        let listener = match socket::bind(socket)? {
            Bound::Listening(listener) => listener,
            Bound::AlreadyRunning => {
                let pid = ask_status(socket)
                    .ok()
                    .flatten()
                    .map_or_else(|| "unknown".to_owned(), |s| s.pid.to_string());
                return Err(Error::config(format!(
                    "an lmi agent (pid {pid}) already answers on {}",
                    socket.display()
                ))
                .with_hint(format!(
                    "use it, end it first (lmi agent stop), or set {SOCKET_VAR} to another path"
                )));
            }
        };
        let serve = Serve::new(
            ctx.env.clone(),
            ctx.paths.clone(),
            ctx.global.environment.clone(),
            ctx.command_line.clone(),
            Arc::clone(&ctx.deps.clock),
            Arc::clone(&ctx.deps.sleeper),
        );
        server::run(
            listener,
            serve,
            Options {
                socket: socket.to_owned(),
                lifetime: args.lifetime.map(Duration::from_secs),
                read_timeout: Duration::from_secs(5),
                max_connections: 64,
                sleeper: Arc::clone(&ctx.deps.sleeper),
            },
        )?;
        Ok(0)
    }

    /// `text` for a POSIX shell: as it is when plain, else single-quoted.
    fn shell_quote(text: &str) -> String {
        let plain = !text.is_empty()
            && text.chars().all(|c| {
                c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-' | ':' | '+' | ',')
            });
        if plain {
            text.to_owned()
        } else {
            format!("'{}'", text.replace('\'', r"'\''"))
        }
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn socket_paths_are_quoted_for_the_shell_when_needed() {
            assert_eq!(
                super::shell_quote("/run/user/1/lmi/agent.sock"),
                "/run/user/1/lmi/agent.sock"
            );
            assert_eq!(super::shell_quote("/tmp/a b/it's"), r"'/tmp/a b/it'\''s'");
        }
    }
}
