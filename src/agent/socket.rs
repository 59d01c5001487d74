//! Where the agent's socket lives (SPEC §9), the trust of its folder, and
//! telling a live agent from a stale socket file.
//!
//! The path is `LMI_AGENT_SOCK`, else `$XDG_RUNTIME_DIR/lmi/agent.sock`,
//! else `agent.sock` in lmi's data folder. The agent makes a missing folder
//! 0700 and refuses one that others can write or another user owns (the
//! trust rules of SPEC §1, exit 3); the socket itself is made 0600. A socket
//! file that nobody answers on (connect refused) is stale and replaced, under
//! a lock beside it, so two agents started at once never both bind.

use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::env::ProcessEnv;
use crate::error::{Error, Result};
use crate::paths::Paths;

/// The variable that names the socket.
pub const SOCKET_VAR: &str = "LMI_AGENT_SOCK";

/// The agent's socket path for this environment and these folders.
pub fn socket_path(env: &ProcessEnv, paths: &Paths) -> PathBuf {
    if let Some(path) = env.non_empty(SOCKET_VAR) {
        return PathBuf::from(path);
    }
    match env.non_empty("XDG_RUNTIME_DIR") {
        // XDG: a relative value is invalid and ignored.
        Some(dir) if Path::new(dir).is_absolute() => Path::new(dir).join("lmi").join("agent.sock"),
        _ => paths.data_dir.join("agent.sock"),
    }
}

/// What is at the socket path.
#[derive(Debug)]
pub enum Probe {
    /// An agent accepted the connection (the stream is that connection).
    Live(UnixStream),
    /// A socket file nobody answers on.
    Stale,
    /// Nothing.
    Absent,
}

/// Looks at `path`: a live agent, a stale socket file, or nothing. Anything
/// there that is not a socket is an error (exit 3): lmi removes only
/// sockets.
pub fn probe(path: &Path) -> Result<Probe> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Probe::Absent),
        Err(e) => return Err(Error::io("cannot check the agent socket", path, e)),
        Ok(meta) if !meta.file_type().is_socket() => {
            return Err(Error::config(format!(
                "the agent socket {} exists and is not a socket",
                path.display()
            ))
            .with_hint(format!(
                "remove it (rm {}) or set {SOCKET_VAR} to another path",
                path.display()
            )))
        }
        Ok(_) => {}
    }
    match UnixStream::connect(path) {
        Ok(stream) => Ok(Probe::Live(stream)),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => Ok(Probe::Stale),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Probe::Absent),
        Err(e) => Err(Error::io("cannot connect to the agent socket", path, e)),
    }
}

/// Makes the socket's folder (0700 when lmi creates it) and checks that
/// only the user can change it: owned by the user (or root) and not
/// writable by group or others, else exit 3 naming it and the fix.
pub fn prepare_dir(socket: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let dir = match socket.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    if !dir.exists() {
        crate::paths::ensure_private_dir(dir)
            .and_then(|()| std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)))
            .map_err(|e| Error::io("cannot create the agent's folder", dir, e))?;
    }
    let meta =
        std::fs::metadata(dir).map_err(|e| Error::io("cannot check the agent's folder", dir, e))?;
    let euid = rustix::process::geteuid().as_raw();
    let shown = dir.display();
    if meta.uid() != euid && meta.uid() != 0 {
        return Err(Error::config(format!(
            "refusing to put the agent socket in {shown}: it is owned by uid {}, not by you (uid {euid})",
            meta.uid()
        ))
        .with_hint(format!(
            "set {SOCKET_VAR} to a path in a folder of your own"
        )));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(Error::config(format!(
            "refusing to put the agent socket in {shown}: it is writable by group or others (mode {:04o}), who could replace the socket",
            meta.mode() & 0o7777
        ))
        .with_hint(format!(
            "run: chmod go-w {shown}, or set {SOCKET_VAR} to a path in a private folder"
        )));
    }
    Ok(())
}

/// What [`bind`] found.
pub enum Bound {
    /// The socket is ours.
    Listening(UnixListener),
    /// Another agent answers there.
    AlreadyRunning,
}

/// Binds the agent's socket at `path` (0600), replacing a stale socket
/// file; reports a live agent instead. The check and the bind happen under
/// `<path>.lock`, so of two agents started at once one binds and the other
/// sees it.
pub fn bind(path: &Path) -> Result<Bound> {
    prepare_dir(path)?;
    let mut lock_name = path.as_os_str().to_owned();
    lock_name.push(".lock");
    let lock_path = PathBuf::from(lock_name);
    let _lock = crate::files::lock(
        &lock_path,
        Duration::from_secs(10),
        || tracing::debug!(target: "agent", "another agent is starting; waiting for it"),
    )
    .map_err(|e| match e {
        crate::files::LockFailed::NotAFile(what) => crate::files::not_a_lock_file(&lock_path, what),
        crate::files::LockFailed::TimedOut => Error::config(format!(
            "timed out waiting for another agent to start (lock {})",
            lock_path.display()
        )),
    })?;
    match probe(path)? {
        Probe::Live(_) => return Ok(Bound::AlreadyRunning),
        Probe::Stale => {
            tracing::info!(target: "agent", "removing the stale socket {}", path.display());
            std::fs::remove_file(path)
                .map_err(|e| Error::io("cannot remove the stale agent socket", path, e))?;
        }
        Probe::Absent => {}
    }
    let listener = UnixListener::bind(path).map_err(|e| {
        Error::config(format!(
            "cannot listen on the agent socket {}: {e}",
            path.display()
        ))
        .with_hint(format!(
            "set {SOCKET_VAR} to a shorter path in a folder of your own"
        ))
    })?;
    // Peer credentials are the real gate; the mode keeps other users from
    // even connecting where the folder lets them reach the socket.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| Error::io("cannot make the agent socket private", path, e))?;
    Ok(Bound::Listening(listener))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> ProcessEnv {
        ProcessEnv::from_pairs(vars.iter().copied())
    }

    #[test]
    fn the_socket_path_follows_the_variable_then_the_runtime_folder_then_the_data_folder() {
        let home = [("HOME", "/home/a")];
        let paths = |e: &ProcessEnv| Paths::for_platform(e, crate::paths::Platform::Linux);
        let e = env(&[
            ("HOME", "/home/a"),
            ("LMI_AGENT_SOCK", "/tmp/s.sock"),
            ("XDG_RUNTIME_DIR", "/run/user/1"),
        ]);
        assert_eq!(socket_path(&e, &paths(&e)), PathBuf::from("/tmp/s.sock"));
        let e = env(&[("HOME", "/home/a"), ("XDG_RUNTIME_DIR", "/run/user/1")]);
        assert_eq!(
            socket_path(&e, &paths(&e)),
            PathBuf::from("/run/user/1/lmi/agent.sock")
        );
        let e = env(&[("HOME", "/home/a"), ("XDG_RUNTIME_DIR", "relative")]);
        assert_eq!(
            socket_path(&e, &paths(&e)),
            PathBuf::from("/home/a/.local/share/lmi/agent.sock")
        );
        let e = env(&home);
        assert_eq!(
            socket_path(&e, &paths(&e)),
            PathBuf::from("/home/a/.local/share/lmi/agent.sock")
        );
    }

    #[test]
    fn a_stale_socket_is_replaced_and_a_live_one_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run").join("agent.sock");
        let Bound::Listening(first) = bind(&path).unwrap() else {
            panic!("nothing was listening")
        };
        let mode = std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        let mode = std::fs::symlink_metadata(&path)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(matches!(bind(&path).unwrap(), Bound::AlreadyRunning));
        drop(first);
        // The file stays behind a closed listener: stale.
        assert!(matches!(probe(&path).unwrap(), Probe::Stale));
        assert!(matches!(bind(&path).unwrap(), Bound::Listening(_)));
    }

    #[test]
    fn a_folder_others_can_write_or_a_file_that_is_no_socket_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let open = dir.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = bind(&open.join("agent.sock")).err().unwrap();
        assert_eq!(err.exit_code(), 3);
        assert!(
            err.message().contains("writable by group or others"),
            "{}",
            err.message()
        );
        let file = dir.path().join("plain");
        std::fs::write(&file, "x").unwrap();
        let err = probe(&file).unwrap_err();
        assert_eq!(err.exit_code(), 3);
        assert!(
            err.message().contains("is not a socket"),
            "{}",
            err.message()
        );
        assert!(file.exists(), "lmi removes only sockets");
    }
}
