//! Where lmi keeps its files (SPEC §1), computed once from the environment.
//!
//! Folders lmi writes are created with mode 0700; see [`ensure_private_dir`].

use std::io;
use std::path::{Path, PathBuf};

use crate::env::Env;

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
