//! What Ctrl-C does: exit 130 at once (SPEC §3), except while a plugin or a
//! child command runs, which then decides for itself how Ctrl-C ends it.
//!
//! Writes that matter are atomic renames, so ending mid-way leaves the old
//! file or the new one.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

static INTERRUPT_EXITS: OnceLock<Arc<AtomicBool>> = OnceLock::new();

fn flag() -> &'static Arc<AtomicBool> {
    INTERRUPT_EXITS.get_or_init(|| Arc::new(AtomicBool::new(true)))
}

/// Installs the Ctrl-C handler: exit 130 instead of dying by signal.
pub fn install_handler() {
    #[cfg(unix)]
    {
        let flag = Arc::clone(flag());
        if let Err(e) =
            signal_hook::flag::register_conditional_shutdown(signal_hook::consts::SIGINT, 130, flag)
        {
            tracing::debug!("cannot install the Ctrl-C handler: {e}");
        }
    }
}

/// Turns "Ctrl-C exits with 130" on or off.
pub fn set_exits(on: bool) {
    flag().store(on, Ordering::SeqCst);
}

/// While it lives, Ctrl-C first deletes a temporary file, then exits 130:
/// an interrupted download leaves neither a partial file nor its
/// temporary one. Dropping it restores the plain exit.
#[must_use = "the file is removed on Ctrl-C only while the guard lives"]
pub struct RemoveOnInterrupt {
    #[cfg(unix)]
    watcher: Option<(signal_hook::iterator::Handle, std::thread::JoinHandle<()>)>,
    exits_before: bool,
}

impl RemoveOnInterrupt {
    pub fn new(path: std::path::PathBuf) -> RemoveOnInterrupt {
        let exits_before = flag().load(Ordering::SeqCst);
        #[cfg(unix)]
        {
            let watcher = watch_and_remove(path);
            // The handler's immediate exit would beat the watcher to it.
            if watcher.is_some() {
                set_exits(false);
            }
            RemoveOnInterrupt {
                watcher,
                exits_before,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = path;
            RemoveOnInterrupt { exits_before }
        }
    }
}

/// A thread that, on SIGINT, deletes `path` and exits 130; `None` (and a
/// debug line) when the handler cannot be installed.
#[cfg(unix)]
fn watch_and_remove(
    path: std::path::PathBuf,
) -> Option<(signal_hook::iterator::Handle, std::thread::JoinHandle<()>)> {
    let mut signals = match signal_hook::iterator::Signals::new([signal_hook::consts::SIGINT]) {
        Ok(s) => s,
        Err(e) => {
            tracing::debug!("cannot watch for Ctrl-C: {e}");
            return None;
        }
    };
    let handle = signals.handle();
    let thread = std::thread::spawn(move || {
        // The iterator ends when the guard closes the handle.
        if signals.forever().next().is_some() {
            let _ = std::fs::remove_file(&path);
            std::process::exit(130);
        }
    });
    Some((handle, thread))
}

impl Drop for RemoveOnInterrupt {
    fn drop(&mut self) {
        #[cfg(unix)]
        if let Some((handle, thread)) = self.watcher.take() {
            handle.close();
            let _ = thread.join();
        }
        set_exits(self.exits_before);
    }
}
