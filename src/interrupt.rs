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
