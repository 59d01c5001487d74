//! Private files: atomic writes, removal, and bounded advisory locks.
//!
//! Token caches, the opt-in SSO file store, the plugin manifest and installed
//! plugins all need "a reader never sees half a file", and the caches need
//! "parallel runs take turns"; this is the one place that does either.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

/// Writes `bytes` to `path` through a temporary file in the same folder
/// (`dir`, created 0700) and a rename, so the replacement is atomic. The file
/// gets mode 0600: tempfile creates it so on Unix.
pub fn write_atomic(dir: &Path, path: &Path, bytes: &[u8]) -> io::Result<()> {
    replace_atomic(dir, path, |file| file.write_all(bytes))
}

/// Writes `bytes` to `path` as [`write_atomic`] does, but only when nothing
/// is there yet: `Ok(false)` when another process created `path` first (its
/// file is kept, never replaced). For files made once, like a key.
pub fn create_atomic(dir: &Path, path: &Path, bytes: &[u8]) -> io::Result<bool> {
    crate::paths::ensure_private_dir(dir)?;
    let prefix = temp_prefix(path);
    let mut tmp = tempfile::Builder::new().prefix(&prefix).tempfile_in(dir)?;
    tmp.as_file_mut().write_all(bytes)?;
    tmp.as_file().sync_all()?;
    match tmp.persist_noclobber(path) {
        Ok(_) => Ok(true),
        Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e.error),
    }
}

/// Copies everything `source` reads to `path` the way [`write_atomic`]
/// writes, with the file's mode set to `mode` (Unix) before the rename: for
/// executables, so nobody runs half a binary, and a running copy of the old
/// version keeps its file.
pub fn copy_atomic(dir: &Path, path: &Path, source: &mut impl Read, mode: u32) -> io::Result<()> {
    replace_atomic(dir, path, |file| {
        io::copy(source, file)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        }
        #[cfg(not(unix))]
        let _ = mode;
        Ok(())
    })
}

/// A temporary file in `dir` (created 0700), filled by `fill`, synced, then
/// renamed over `path`.
fn replace_atomic(
    dir: &Path,
    path: &Path,
    fill: impl FnOnce(&mut File) -> io::Result<()>,
) -> io::Result<()> {
    crate::paths::ensure_private_dir(dir)?;
    // A process killed mid-write leaves its temporary file, which may hold
    // a live token: the next write removes it.
    remove_temps(dir, STALE_TEMP);
    // tempfile creates the file with O_EXCL (and mode 0600): a planted file
    // or symbolic link of the same name is never opened.
    let prefix = temp_prefix(path);
    let mut tmp = tempfile::Builder::new().prefix(&prefix).tempfile_in(dir)?;
    fill(tmp.as_file_mut())?;
    tmp.as_file().sync_all()?;
    if path.is_dir() {
        // Something put a folder where the file belongs: heal it.
        std::fs::remove_dir_all(path)?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// How lmi's temporary files are named: `.tmp-`, the name of the file they
/// become, `~` (which no environment name has) and random letters, so that
/// each can be told apart by the file, and so the environment, it is for.
const TEMP_PREFIX: &str = ".tmp-";

fn temp_prefix(target: &Path) -> String {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("{TEMP_PREFIX}{name}~")
}

/// A temporary file this old is left over from a process that died: a
/// write takes milliseconds, and a younger one may belong to a write in
/// progress in another process (another environment's lock).
pub const STALE_TEMP: Duration = Duration::from_secs(60);

/// Removes lmi's temporary files (`.tmp-*`, regular files only) in `dir`
/// that are at least `min_age` old; returns how many went.
pub fn remove_temps(dir: &Path, min_age: Duration) -> usize {
    remove_temps_named(dir, &[TEMP_PREFIX.to_owned()], min_age)
}

/// Removes the temporary files (as [`remove_temps`]) that were to become
/// one of `targets`, and only those: another environment's write in
/// progress is never touched.
pub fn remove_temps_for(dir: &Path, targets: &[&Path], min_age: Duration) -> usize {
    let prefixes: Vec<String> = targets.iter().map(|t| temp_prefix(t)).collect();
    remove_temps_named(dir, &prefixes, min_age)
}

fn remove_temps_named(dir: &Path, prefixes: &[String], min_age: Duration) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !prefixes.iter().any(|p| name.starts_with(p.as_str())) {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        let age = meta
            .modified()
            .ok()
            .and_then(|m| m.elapsed().ok())
            .unwrap_or_default();
        if (meta.is_file() || meta.file_type().is_symlink())
            && age >= min_age
            && std::fs::remove_file(entry.path()).is_ok()
        {
            removed += 1;
        }
    }
    removed
}

/// Removes `path`, a file or a whole folder (a symbolic link itself, never
/// what it points to). `Ok(false)` when there was nothing there.
pub fn remove(path: &Path) -> io::Result<bool> {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(false);
    };
    if meta.is_dir() {
        std::fs::remove_dir_all(path)?;
    } else {
        std::fs::remove_file(path)?;
    }
    Ok(true)
}

/// A lock that was taken, or could not be used at all.
#[derive(Debug)]
pub struct Lock {
    /// `None` when the lock file could not be created or locked; callers go on
    /// unlocked (with a warning) rather than fail.
    pub file: Option<File>,
    /// Whether another process held the lock when we asked.
    pub waited: bool,
    /// Why the lock could not be used, for the caller's warning.
    pub problem: Option<io::Error>,
}

/// Why a lock could not be taken at all.
#[derive(Debug)]
pub enum LockFailed {
    /// Still held by someone else after the wait.
    TimedOut,
    /// Something other than a regular file is where the lock goes (a FIFO,
    /// a device, a socket, a folder): named, for the error message.
    NotAFile(&'static str),
}

/// The error for [`LockFailed::NotAFile`] (a configuration error, exit 3,
/// as for other files lmi will not trust): what is at `path` and how to
/// clear it.
pub fn not_a_lock_file(path: &Path, what: &str) -> crate::error::Error {
    crate::error::Error::config(format!(
        "{} is {what}, not a regular file: lmi does not use it as a lock",
        path.display()
    ))
    .with_hint(format!(
        "remove it (rm {}); lmi creates its lock files itself",
        path.display()
    ))
}

/// What kind of thing `file_type` is, when it is not a regular file.
fn not_a_file(file_type: std::fs::FileType) -> Option<&'static str> {
    if file_type.is_file() {
        return None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return Some("a FIFO (named pipe)");
        }
        if file_type.is_char_device() || file_type.is_block_device() {
            return Some("a device");
        }
        if file_type.is_socket() {
            return Some("a socket");
        }
    }
    Some(if file_type.is_dir() {
        "a folder"
    } else if file_type.is_symlink() {
        "a symbolic link"
    } else {
        "not a regular file"
    })
}

/// Takes an exclusive lock on `path` (created 0600), waiting at most `wait`;
/// `on_wait` runs once when the lock is busy.
///
/// Only a regular file is a lock: the file is opened without blocking and
/// without following a symbolic link, and anything else found there (a
/// FIFO, whose open would wait for a reader forever, or a device) is
/// refused at once.
pub fn lock(path: &Path, wait: Duration, on_wait: impl FnOnce()) -> Result<Lock, LockFailed> {
    if let Some(what) = std::fs::symlink_metadata(path)
        .ok()
        .and_then(|m| not_a_file(m.file_type()))
    {
        return Err(LockFailed::NotAFile(what));
    }
    let opened = path
        .parent()
        .map_or(Ok(()), crate::paths::ensure_private_dir)
        .and_then(|()| {
            let mut options = OpenOptions::new();
            options.create(true).truncate(false).write(true);
            #[cfg(unix)]
            {
                use rustix::fs::OFlags;
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
                // A planted `.<env>.lock` symbolic link must not make lmi
                // create or lock a file wherever it points, and a FIFO
                // swapped in after the check above must not block the open.
                options.custom_flags((OFlags::NOFOLLOW | OFlags::NONBLOCK).bits() as i32);
            }
            options.open(path)
        });
    let file = match opened {
        Ok(file) => file,
        Err(e) => {
            // A FIFO without a reader fails the non-blocking open (ENXIO).
            if let Some(what) = std::fs::symlink_metadata(path)
                .ok()
                .and_then(|m| not_a_file(m.file_type()))
            {
                return Err(LockFailed::NotAFile(what));
            }
            return Ok(Lock {
                file: None,
                waited: false,
                problem: Some(e),
            });
        }
    };
    if let Some(what) = file.metadata().ok().and_then(|m| not_a_file(m.file_type())) {
        return Err(LockFailed::NotAFile(what));
    }
    let deadline = Instant::now() + wait;
    let mut on_wait = Some(on_wait);
    let mut pause = Duration::from_millis(5);
    loop {
        match file.try_lock() {
            Ok(()) => {
                return Ok(Lock {
                    file: Some(file),
                    waited: on_wait.is_none(),
                    problem: None,
                })
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                if let Some(f) = on_wait.take() {
                    f();
                }
                if Instant::now() >= deadline {
                    return Err(LockFailed::TimedOut);
                }
                // Polling with a short backoff: the holder is doing at most
                // one token exchange or one login.
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Ok(Lock {
                    file: None,
                    waited: false,
                    problem: Some(e),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_times_out_while_first_is_held() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/.x.lock");
        let first = lock(&path, Duration::from_millis(10), || {}).unwrap();
        assert!(first.file.is_some() && !first.waited);
        let mut told = false;
        assert!(lock(&path, Duration::from_millis(30), || told = true).is_err());
        assert!(told);
        drop(first);
        assert!(lock(&path, Duration::from_millis(10), || {})
            .unwrap()
            .file
            .is_some());
    }

    #[test]
    fn atomic_copy_sets_the_mode_before_the_rename() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bin/lmi-x");
        copy_atomic(
            &dir.path().join("bin"),
            &path,
            &mut &b"#!/bin/sh\n"[..],
            0o755,
        )
        .unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"#!/bin/sh\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o755);
        }
        copy_atomic(&dir.path().join("bin"), &path, &mut &b"new"[..], 0o700).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
    }

    #[test]
    fn remove_takes_files_and_folders() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"x").unwrap();
        let folder = dir.path().join("d");
        std::fs::create_dir_all(folder.join("inner")).unwrap();
        assert!(remove(&file).unwrap());
        assert!(remove(&folder).unwrap());
        assert!(!file.exists() && !folder.exists());
        assert!(!remove(&file).unwrap());
    }

    #[test]
    fn stale_temporary_files_go_on_the_next_write() {
        let dir = tempfile::tempdir().unwrap();
        let stale = dir.path().join(".tmp-dead01");
        let fresh = dir.path().join(".tmp-live01");
        let other = dir.path().join("keep.json");
        for p in [&stale, &fresh, &other] {
            std::fs::write(p, b"{\"access_token\":\"live\"}").unwrap();
        }
        let old = std::time::SystemTime::now() - Duration::from_secs(3600);
        std::fs::File::options()
            .write(true)
            .open(&stale)
            .unwrap()
            .set_modified(old)
            .unwrap();
        write_atomic(dir.path(), &dir.path().join("t.json"), b"{}").unwrap();
        assert!(!stale.exists(), "a stale temporary file is removed");
        assert!(
            fresh.exists() && other.exists(),
            "a fresh one may be in use"
        );
        assert_eq!(remove_temps(dir.path(), Duration::ZERO), 1);
        assert!(!fresh.exists() && other.exists());
    }

    #[cfg(unix)]
    #[test]
    fn a_lock_symlink_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        let link = dir.path().join(".dev.lock");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let refused = lock(&link, Duration::from_millis(10), || {});
        assert!(matches!(
            refused,
            Err(LockFailed::NotAFile("a symbolic link"))
        ));
        assert!(!target.exists(), "nothing is created where the link points");
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_or_folder_is_refused_as_a_lock_without_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join(".dev.lock");
        // mkfifo(1), as the integration tests make FIFOs: rustix has no
        // mknodat on Apple platforms.
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let started = Instant::now();
        let refused = lock(&fifo, Duration::from_secs(30), || {});
        assert!(matches!(
            refused,
            Err(LockFailed::NotAFile("a FIFO (named pipe)"))
        ));
        assert!(started.elapsed() < Duration::from_secs(5));
        let folder = dir.path().join(".other.lock");
        std::fs::create_dir(&folder).unwrap();
        let refused = lock(&folder, Duration::from_secs(30), || {});
        assert!(matches!(refused, Err(LockFailed::NotAFile("a folder"))));
        let error = not_a_lock_file(&fifo, "a FIFO (named pipe)");
        assert_eq!(error.exit_code(), 3);
    }

    #[test]
    fn atomic_write_replaces_a_folder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.json");
        std::fs::create_dir_all(path.join("junk")).unwrap();
        write_atomic(dir.path(), &path, b"{}").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"{}");
    }
}
