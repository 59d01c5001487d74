//! `plugins/installed.json`: the small manifest that remembers where each
//! plugin lmi installed came from (a copied file or a cargo crate).
//!
//! What belongs here: the manifest's format and reading and writing it. It
//! only labels plugins for `plugin list`; it never decides what runs, so a
//! broken one is warned about and read as empty.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::plugins_dir;
use crate::commands::Ctx;
use crate::error::{Error, Result};

/// `plugins/installed.json`: name → where lmi installed it from.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct Manifest {
    #[serde(default)]
    pub(super) plugins: BTreeMap<String, Entry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Entry {
    /// `installed` (copied from a file) or `crate`.
    pub(super) source: String,
    /// The file copied, or `crate NAME [VERSION] [registry R]`.
    pub(super) from: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) installed_at: Option<String>,
}

fn manifest_path(ctx: &Ctx) -> PathBuf {
    plugins_dir(ctx).join("installed.json")
}

/// The manifest; a missing one is empty, a broken one is warned about and
/// read as empty (it only labels plugins, it never decides what runs).
pub(super) fn read_manifest(ctx: &Ctx) -> Manifest {
    let path = manifest_path(ctx);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            tracing::warn!(target: "plugin", "ignoring {}: not a valid plugin manifest ({e})", path.display());
            Manifest::default()
        }),
        Err(_) => Manifest::default(),
    }
}

/// Writes the manifest atomically (temporary file, then rename), mode 0600.
pub(super) fn write_manifest(ctx: &Ctx, manifest: &Manifest) -> Result<()> {
    let path = manifest_path(ctx);
    let dir = plugins_dir(ctx);
    let write = || -> std::io::Result<()> {
        let mut bytes = serde_json::to_vec_pretty(manifest).map_err(std::io::Error::other)?;
        bytes.push(b'\n');
        crate::files::write_atomic(&dir, &path, &bytes)
    };
    write().map_err(|e| Error::io("cannot write plugin manifest", &path, e))
}

/// The install time to record: now, by the invocation's clock.
pub(super) fn now_rfc3339(clock: &dyn crate::clock::Clock) -> Option<String> {
    crate::clock::rfc3339(clock.now())
}
