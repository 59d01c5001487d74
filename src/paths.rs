//! Where lmi keeps its files (SPEC §1), computed once from the environment.
//!
//! Folders lmi writes are created with mode 0700; see [`ensure_private_dir`].
//! Folders and files lmi reads tokens, metadata or sessions from must be
//! trusted, as ssh requires of `~/.ssh`; see [`check_trusted`].

use std::io;
use std::path::{Path, PathBuf};

use crate::env::Env;
use crate::error::{Error, Result};

/// The folders lmi reads and writes.
#[derive(Debug, Clone)]
pub struct Paths {
    /// Holds `.env` and `env/<name>.env`.
    pub config_dir: PathBuf,
    /// Holds `tokens/`.
    pub cache_dir: PathBuf,
    /// Holds `lmi.log`, `plugins/` and the opt-in SSO token file.
    pub data_dir: PathBuf,
}

impl Paths {
    pub fn from_env(env: &Env) -> Paths {
        let home = env
            .get("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/"));
        let xdg = |var: &str, fallback: &str| -> PathBuf {
            match env.get(var) {
                // XDG says relative values are invalid and must be ignored.
                Some(v) if Path::new(v).is_absolute() => PathBuf::from(v),
                _ => home.join(fallback),
            }
        };
        let config_dir = match env.get("LMI_CONFIG_DIR") {
            Some(dir) if !dir.is_empty() => PathBuf::from(dir),
            _ => xdg("XDG_CONFIG_HOME", ".config").join("lmi"),
        };
        let cache_dir = match env.get("LMI_CACHE_DIR") {
            Some(dir) if !dir.is_empty() => PathBuf::from(dir),
            _ if cfg!(target_os = "macos") => home.join("Library/Caches/lmi"),
            _ => xdg("XDG_CACHE_HOME", ".cache").join("lmi"),
        };
        let data_dir = xdg("XDG_DATA_HOME", ".local/share").join("lmi");
        Paths {
            config_dir,
            cache_dir,
            data_dir,
        }
    }

    pub fn main_config(&self) -> PathBuf {
        self.config_dir.join(".env")
    }
    pub fn env_dir(&self) -> PathBuf {
        self.config_dir.join("env")
    }
    pub fn env_file(&self, name: &str) -> PathBuf {
        self.env_dir().join(format!("{name}.env"))
    }
    pub fn tokens_dir(&self) -> PathBuf {
        self.cache_dir.join("tokens")
    }
    pub fn default_log_file(&self) -> PathBuf {
        self.data_dir.join("lmi.log")
    }
    pub fn plugins_bin(&self) -> PathBuf {
        self.data_dir.join("plugins").join("bin")
    }
}

/// Checks every level from `root` (lmi's cache or data folder) down to
/// `path`, as ssh checks `~/.ssh`: each that exists must be owned by the
/// effective user (or root, which could do anything anyway) and not
/// writable by group or others; below `root`, none may be a symbolic link.
/// Anyone who can write such a folder could plant a token, metadata that
/// names another token endpoint, or a lock symlink. The error (exit 3)
/// names the path and the `chmod`/`chown` that fixes it. Device files (a
/// log sent to `/dev/…`) are exempt from the mode rule.
pub fn check_trusted(root: &Path, path: &Path) -> Result<()> {
    check_all_trusted(root, &[path])
}

/// [`check_trusted`] for several paths below one `root`: the levels they
/// share (the root, `tokens/`) are checked once.
pub fn check_all_trusted(root: &Path, paths: &[&Path]) -> Result<()> {
    #[cfg(unix)]
    {
        let mut checked: Vec<PathBuf> = Vec::new();
        for path in paths {
            let mut levels = vec![(root.to_path_buf(), true)];
            if let Ok(rest) = path.strip_prefix(root) {
                let mut level = root.to_path_buf();
                for part in rest.components() {
                    level.push(part);
                    levels.push((level.clone(), false));
                }
            }
            levels.retain(|(level, _)| !checked.contains(level));
            check_levels(root, &levels)?;
            checked.extend(levels.into_iter().map(|(level, _)| level));
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        let _ = (root, paths);
        Ok(())
    }
}

/// Checks `levels` (paths from the root down, the flag marking the root)
/// until one does not exist.
#[cfg(unix)]
fn check_levels(root: &Path, levels: &[(PathBuf, bool)]) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let euid = rustix::process::geteuid().as_raw();
    for (level, is_root) in levels {
        let is_root = *is_root;
        // lmi's root itself may be a symbolic link (LMI_CACHE_DIR to
        // another disk); what it points to is what gets checked.
        let meta = if is_root {
            std::fs::metadata(level)
        } else {
            std::fs::symlink_metadata(level)
        };
        let meta = match meta {
            Ok(meta) => meta,
            // Nothing there (or a file where a folder should be, which
            // the write reports): nothing to trust yet.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                return Ok(())
            }
            Err(e) => return Err(Error::io("cannot check", level, e)),
        };
        let shown = level.display();
        if meta.file_type().is_symlink() {
            return Err(Error::config(format!(
                "refusing to use {shown}: it is a symbolic link inside lmi's folder {}",
                root.display()
            ))
            .with_hint(format!("remove it: rm {shown}")));
        }
        if meta.uid() != euid && meta.uid() != 0 {
            return Err(Error::config(format!(
                "refusing to use {shown}: it is owned by uid {}, not by you (uid {euid})",
                meta.uid()
            ))
            .with_hint(format!(
                "if you trust its content, run: chown {euid} {shown}; otherwise remove it"
            )));
        }
        let checked = meta.is_dir() || meta.is_file();
        if checked && meta.mode() & 0o022 != 0 {
            return Err(Error::config(format!(
                "refusing to use {shown}: it is writable by group or others (mode {:04o})",
                meta.mode() & 0o7777
            ))
            .with_hint(format!(
                "check that nothing in it was planted, then run: chmod go-w {shown}"
            )));
        }
    }
    Ok(())
}

/// Creates `dir` and its missing parents with mode 0700 (existing folders are
/// left as they are: they may be shared, like `~/.cache`).
pub fn ensure_private_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Why other users could change the config file at `path`, as the warning
/// to show (SPEC §1); `None` when it is private. Checked: the file and its
/// folder and, when `path` is a symbolic link, the file it reaches and that
/// file's folder (see [`folder_exposure`] for the rule). Whoever can change
/// one could point the token endpoint elsewhere and receive the client
/// secret.
pub fn config_exposure(path: &Path) -> Option<String> {
    let mut levels: Vec<(PathBuf, String)> = std::iter::once(path)
        .chain(path.parent())
        .map(|p| (p.to_owned(), String::new()))
        .collect();
    let linked = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    if let Some(target) = linked.then(|| std::fs::canonicalize(path).ok()).flatten() {
        let through = format!(
            " (which {} links to{})",
            path.display(),
            if target.is_file() { "" } else { " a file in" }
        );
        levels.push((target.clone(), through.clone()));
        levels.extend(target.parent().map(|p| (p.to_owned(), through)));
    }
    levels
        .iter()
        .find_map(|(level, through)| exposure(level, through))
}

/// Why other users could change the config folder `dir` (the warning), or
/// `None`: it must be owned by the effective user (or root, which could do
/// anything anyway) and not writable by group or others.
pub fn folder_exposure(dir: &Path) -> Option<String> {
    exposure(dir, "")
}

fn exposure(level: &Path, through: &str) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let euid = rustix::process::geteuid().as_raw();
        let meta = std::fs::metadata(level).ok()?;
        let shown = level.display();
        if meta.uid() != euid && meta.uid() != 0 {
            return Some(format!(
                "{shown}{through} is owned by uid {}, not by you (uid {euid}): that user could change where lmi sends your credentials; if you trust it, run: chown {euid} {shown}",
                meta.uid()
            ));
        }
        if meta.mode() & 0o022 != 0 {
            return Some(format!(
                "{shown}{through} is writable by other users, who could change where lmi sends your credentials; run: chmod go-w {shown}{}",
                if through.is_empty() {
                    ""
                } else {
                    ", or keep the file in lmi's own config folder"
                }
            ));
        }
        None
    }
    #[cfg(not(unix))]
    {
        let _ = (level, through);
        None
    }
}

/// Whether a file's or folder's mode lets group or others write it.
pub fn writable_by_others(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o022 != 0)
            .unwrap_or(false)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}

/// Whether a file's mode lets group or others read it.
pub fn readable_by_others(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o044 != 0)
            .unwrap_or(false)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn trust_checks_every_level_mode_owner_and_links() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("cache");
        let file = root.join("tokens/dev.json");
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        chmod(&root, 0o700);
        chmod(file.parent().unwrap(), 0o700);
        std::fs::write(&file, b"{}").unwrap();
        chmod(&file, 0o600);
        check_trusted(&root, &file).unwrap();
        // Not vacuous: the modes really are what the checks read.
        assert_eq!(
            std::fs::metadata(&root).unwrap().permissions().mode() & 0o777,
            0o700
        );

        for (level, mode) in [
            (&root, 0o777),
            (&root.join("tokens"), 0o770),
            (&file, 0o622),
        ] {
            chmod(level, mode);
            let e = check_trusted(&root, &file).unwrap_err();
            assert_eq!(e.exit_code(), 3);
            assert!(
                e.message().contains(&level.display().to_string()),
                "{}",
                e.message()
            );
            assert!(e.hint().unwrap().contains("chmod go-w"), "{:?}", e.hint());
            chmod(level, if level == &file { 0o600 } else { 0o700 });
        }
        check_trusted(&root, &file).unwrap();

        // Owned by another user (the tests run as root in CI: chown works).
        if rustix::process::geteuid().is_root() {
            std::os::unix::fs::chown(&file, Some(65534), Some(65534)).unwrap();
            let e = check_trusted(&root, &file).unwrap_err();
            assert!(e.message().contains("uid 65534"), "{}", e.message());
            assert!(e.hint().unwrap().contains("chown 0"), "{:?}", e.hint());
            std::os::unix::fs::chown(&file, Some(0), Some(0)).unwrap();
        }

        std::fs::remove_file(&file).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", &file).unwrap();
        let e = check_trusted(&root, &file).unwrap_err();
        assert!(e.message().contains("symbolic link"), "{}", e.message());
        // Missing levels are fine: nothing there to trust yet.
        check_trusted(&dir.path().join("none"), &dir.path().join("none/x")).unwrap();
    }
}
