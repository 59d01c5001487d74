//! Where lmi keeps its files (SPEC §1), computed once from the environment.
//!
//! Folders lmi writes are created with mode 0700; see [`ensure_private_dir`].
//! Folders and files lmi reads tokens, metadata or sessions from must be
//! trusted, as ssh requires of `~/.ssh`; see [`check_trusted`].

use std::io;
use std::path::{Path, PathBuf};

use crate::env::ProcessEnv;
use crate::error::{Error, Result};

/// The platforms whose folders differ (SPEC §1, §10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// Linux and other Unix systems: the XDG base directories under `HOME`.
    Linux,
    /// macOS: as Linux, but the cache in `~/Library/Caches`.
    MacOs,
    /// Windows: `%APPDATA%` and `%LOCALAPPDATA%`; `HOME` is not consulted,
    /// as Windows does not set it.
    Windows,
}

impl Platform {
    /// The platform lmi was built for.
    pub const CURRENT: Platform = if cfg!(windows) {
        Platform::Windows
    } else if cfg!(target_os = "macos") {
        Platform::MacOs
    } else {
        Platform::Linux
    };
}

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
    /// The folders of the platform lmi runs on.
    pub fn from_env(env: &ProcessEnv) -> Paths {
        Paths::for_platform(env, Platform::CURRENT)
    }

    /// The folders `platform` would use in `env`: a pure function, so the
    /// rules of every platform are tested on any. `LMI_CONFIG_DIR` and
    /// `LMI_CACHE_DIR` win everywhere (the `LOG_FILE` key is configuration,
    /// applied later).
    pub fn for_platform(env: &ProcessEnv, platform: Platform) -> Paths {
        let (config_default, cache_default, data_dir) = match platform {
            Platform::Windows => windows_dirs(env),
            Platform::Linux | Platform::MacOs => {
                let home = env
                    .get("HOME")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from("/"));
                let xdg = |var: &str, fallback: &str| -> PathBuf {
                    match env.get(var) {
                        // XDG says relative values are invalid and must be
                        // ignored.
                        Some(v) if Path::new(v).is_absolute() => PathBuf::from(v),
                        _ => home.join(fallback),
                    }
                };
                let cache = match platform {
                    Platform::MacOs => home.join("Library/Caches/lmi"),
                    _ => xdg("XDG_CACHE_HOME", ".cache").join("lmi"),
                };
                (
                    xdg("XDG_CONFIG_HOME", ".config").join("lmi"),
                    cache,
                    xdg("XDG_DATA_HOME", ".local/share").join("lmi"),
                )
            }
        };
        let config_dir = match env.non_empty("LMI_CONFIG_DIR") {
            Some(dir) => PathBuf::from(dir),
            None => config_default,
        };
        let cache_dir = match env.non_empty("LMI_CACHE_DIR") {
            Some(dir) => PathBuf::from(dir),
            None => cache_default,
        };
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

/// Windows' folders (config, cache, data), as gh and az keep theirs:
/// settings roam with the profile (`%APPDATA%\lmi`); tokens and the log stay
/// on the machine (`%LOCALAPPDATA%\lmi`). Where a variable is missing or not
/// absolute, the folder it names by default under `%USERPROFILE%` is used;
/// without that either, the root of the current drive.
fn windows_dirs(env: &ProcessEnv) -> (PathBuf, PathBuf, PathBuf) {
    let absolute = |var: &str| {
        env.non_empty(var)
            .filter(|v| is_windows_absolute(v))
            .map(PathBuf::from)
    };
    let profile = absolute("USERPROFILE").unwrap_or_else(|| PathBuf::from("\\"));
    let roaming = absolute("APPDATA").unwrap_or_else(|| profile.join("AppData").join("Roaming"));
    let local = absolute("LOCALAPPDATA").unwrap_or_else(|| profile.join("AppData").join("Local"));
    let data = local.join("lmi");
    (roaming.join("lmi"), data.join("cache"), data)
}

/// Whether `path` is absolute by Windows' rules (`C:\…`, `C:/…` or
/// `\\server\share…`), whatever platform lmi was built for, so that the
/// rule is tested everywhere.
fn is_windows_absolute(path: &str) -> bool {
    let bytes = path.as_bytes();
    let drive = bytes.len() >= 3
        && bytes[0].is_ascii_alphabetic()
        && bytes[1] == b':'
        && matches!(bytes[2], b'\\' | b'/');
    drive || path.starts_with("\\\\")
}

/// Checks every level from `root` (lmi's cache or data folder) down to
/// `path`, as ssh checks `~/.ssh`: below `root`, none may be a symbolic
/// link; on Unix, each that exists must also be owned by the effective user
/// (or root, which could do anything anyway) and not writable by group or
/// others. Anyone who can write such a folder could plant a token, metadata
/// that names another token endpoint, or a lock symlink. The error (exit 3)
/// names the path and the `rm`/`chmod`/`chown` that fixes it. Device files
/// (a log sent to `/dev/…`) are exempt from the mode rule.
///
/// Windows has no modes: lmi's folders there sit in the user's profile
/// (`%APPDATA%`, `%LOCALAPPDATA%`), whose access list admits only the user,
/// SYSTEM and Administrators, and what lmi creates inherits it. Only the
/// symbolic-link rule applies there.
pub fn check_trusted(root: &Path, path: &Path) -> Result<()> {
    check_all_trusted(root, &[path])
}

/// [`check_trusted`] for several paths below one `root`: the levels they
/// share (the root, `tokens/`) are checked once.
pub fn check_all_trusted(root: &Path, paths: &[&Path]) -> Result<()> {
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

/// Checks `levels` (paths from the root down, the flag marking the root)
/// until one does not exist.
fn check_levels(root: &Path, levels: &[(PathBuf, bool)]) -> Result<()> {
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
        #[cfg(unix)]
        check_owner_and_mode(level, &meta)?;
    }
    Ok(())
}

/// The Unix half of [`check_trusted`] for one level: its owner and mode.
#[cfg(unix)]
fn check_owner_and_mode(level: &Path, meta: &std::fs::Metadata) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let euid = rustix::process::geteuid().as_raw();
    let shown = level.display();
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
mod tests {
    use super::*;

    fn paths(platform: Platform, vars: &[(&str, &str)]) -> Paths {
        Paths::for_platform(&ProcessEnv::from_pairs(vars.iter().copied()), platform)
    }

    const WINDOWS_PROFILE: [(&str, &str); 4] = [
        ("APPDATA", r"C:\Users\ann\AppData\Roaming"),
        ("LOCALAPPDATA", r"C:\Users\ann\AppData\Local"),
        ("USERPROFILE", r"C:\Users\ann"),
        // Set by some shells (Git Bash, MSYS); Windows' folders still win.
        ("HOME", "/home/ann"),
    ];

    #[test]
    fn windows_uses_appdata_and_localappdata_not_home() {
        let mut vars = WINDOWS_PROFILE.to_vec();
        vars.push(("XDG_CONFIG_HOME", "/xdg/config"));
        let p = paths(Platform::Windows, &vars);
        let local = Path::new(r"C:\Users\ann\AppData\Local");
        assert_eq!(
            p.config_dir,
            Path::new(r"C:\Users\ann\AppData\Roaming").join("lmi")
        );
        assert_eq!(p.cache_dir, local.join("lmi").join("cache"));
        assert_eq!(p.data_dir, local.join("lmi"));
        assert_eq!(
            p.tokens_dir(),
            local.join("lmi").join("cache").join("tokens")
        );
        assert_eq!(p.default_log_file(), local.join("lmi").join("lmi.log"));
        for dir in [&p.config_dir, &p.cache_dir, &p.data_dir] {
            let shown = dir.display().to_string();
            assert!(
                !shown.contains("/home/ann") && !shown.contains("xdg"),
                "{shown}"
            );
        }
    }

    #[test]
    fn windows_overrides_still_win() {
        let mut vars = WINDOWS_PROFILE.to_vec();
        vars.push(("LMI_CONFIG_DIR", r"D:\lmi\config"));
        vars.push(("LMI_CACHE_DIR", r"D:\lmi\cache"));
        let p = paths(Platform::Windows, &vars);
        assert_eq!(p.config_dir, Path::new(r"D:\lmi\config"));
        assert_eq!(p.cache_dir, Path::new(r"D:\lmi\cache"));
        assert_eq!(
            p.data_dir,
            Path::new(r"C:\Users\ann\AppData\Local").join("lmi")
        );
        // Empty overrides count as unset, as on Linux.
        let mut vars = WINDOWS_PROFILE.to_vec();
        vars.push(("LMI_CONFIG_DIR", ""));
        let p = paths(Platform::Windows, &vars);
        assert_eq!(
            p.config_dir,
            Path::new(r"C:\Users\ann\AppData\Roaming").join("lmi")
        );
    }

    #[test]
    fn windows_without_appdata_falls_back_to_the_profile_never_home() {
        let p = paths(
            Platform::Windows,
            &[
                ("USERPROFILE", r"C:\Users\bo"),
                // Relative: ignored, like a relative XDG value.
                ("APPDATA", r"AppData\Roaming"),
                ("HOME", "/home/bo"),
            ],
        );
        let profile = Path::new(r"C:\Users\bo");
        assert_eq!(
            p.config_dir,
            profile.join("AppData").join("Roaming").join("lmi")
        );
        assert_eq!(
            p.cache_dir,
            profile
                .join("AppData")
                .join("Local")
                .join("lmi")
                .join("cache")
        );

        let p = paths(Platform::Windows, &[("HOME", "/home/bo")]);
        assert!(p.config_dir.starts_with("\\"), "{}", p.config_dir.display());
        assert!(p.data_dir.starts_with("\\"), "{}", p.data_dir.display());
    }

    #[test]
    fn windows_absolute_paths() {
        for yes in [r"C:\Users", "c:/Users", r"\\server\share\x"] {
            assert!(is_windows_absolute(yes), "{yes}");
        }
        for no in ["Users", r"C:Users", "C:", r"\Users", "/home/x", ""] {
            assert!(!is_windows_absolute(no), "{no}");
        }
    }

    #[test]
    fn linux_follows_xdg_under_home() {
        let p = paths(
            Platform::Linux,
            &[
                ("HOME", "/home/ann"),
                ("XDG_CONFIG_HOME", "/xdg/config"),
                // Relative: ignored.
                ("XDG_CACHE_HOME", "cache"),
                ("APPDATA", r"C:\Users\ann\AppData\Roaming"),
            ],
        );
        assert_eq!(p.config_dir, Path::new("/xdg/config/lmi"));
        assert_eq!(p.cache_dir, Path::new("/home/ann/.cache/lmi"));
        assert_eq!(p.data_dir, Path::new("/home/ann/.local/share/lmi"));

        let p = paths(Platform::Linux, &[]);
        assert_eq!(p.config_dir, Path::new("/.config/lmi"));
    }

    #[test]
    fn macos_keeps_the_cache_in_library_caches() {
        let p = paths(
            Platform::MacOs,
            &[("HOME", "/Users/ann"), ("XDG_CACHE_HOME", "/xdg/cache")],
        );
        assert_eq!(p.config_dir, Path::new("/Users/ann/.config/lmi"));
        assert_eq!(p.cache_dir, Path::new("/Users/ann/Library/Caches/lmi"));
        let p = paths(
            Platform::MacOs,
            &[("HOME", "/Users/ann"), ("LMI_CACHE_DIR", "/tmp/c")],
        );
        assert_eq!(p.cache_dir, Path::new("/tmp/c"));
    }
}

#[cfg(test)]
#[cfg(unix)]
mod trust_tests {
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
