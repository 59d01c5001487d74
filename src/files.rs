//! Private files: atomic 0600 writes and bounded advisory locks.
//!
//! Token caches and the opt-in SSO file store both need "a reader never sees
//! half a file" and "parallel runs take turns"; this is the one place that
//! does either.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::time::{Duration, Instant};

/// Writes `bytes` to `path` through a temporary file in the same folder
/// (`dir`, created 0700) and a rename, so the replacement is atomic. The file
/// gets mode 0600: tempfile creates it so on Unix.
pub fn write_atomic(dir: &Path, path: &Path, bytes: &[u8]) -> io::Result<()> {
    crate::paths::ensure_private_dir(dir)?;
    let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    if path.is_dir() {
        // Something put a folder where the file belongs: heal it.
        std::fs::remove_dir_all(path)?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
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

/// The lock was still held by someone else after the wait.
#[derive(Debug)]
pub struct LockTimedOut;

/// Takes an exclusive lock on `path` (created 0600), waiting at most `wait`;
/// `on_wait` runs once when the lock is busy.
pub fn lock(path: &Path, wait: Duration, on_wait: impl FnOnce()) -> Result<Lock, LockTimedOut> {
    let opened = path
        .parent()
        .map_or(Ok(()), crate::paths::ensure_private_dir)
        .and_then(|()| {
            let mut options = OpenOptions::new();
            options.create(true).truncate(false).write(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            options.open(path)
        });
    let file = match opened {
        Ok(file) => file,
        Err(e) => {
            return Ok(Lock {
                file: None,
                waited: false,
                problem: Some(e),
            })
        }
    };
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
                    return Err(LockTimedOut);
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
    fn atomic_write_replaces_a_folder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.json");
        std::fs::create_dir_all(path.join("junk")).unwrap();
        write_atomic(dir.path(), &path, b"{}").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"{}");
    }
}
