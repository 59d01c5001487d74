//! Passing SIGTERM, SIGHUP and SIGQUIT on to a child (SPEC §8): a plugin or
//! `lmi exec`'s command is never left running on its own, holding the token,
//! because someone stopped lmi (a service manager's SIGTERM, a closed
//! terminal's SIGHUP, Ctrl-\).
//!
//! The signals are caught before the child starts, so one that arrives
//! while it starts is passed on rather than ending lmi; a thread passes each
//! one on, and lmi goes on waiting, so the child's exit (or death by the
//! signal) is lmi's result. lmi waits for the child's exit without reaping
//! it first: the process id stays the child's until the thread has stopped,
//! so no signal can reach another process that reuses the number.
//! SIGINT is not here: Ctrl-C reaches the child through the terminal's
//! process group, and lmi only waits (see `crate::interrupt`).

use std::io;
use std::process::{Child, ExitStatus};

#[cfg(unix)]
use signal_hook::iterator::Signals;

/// The signals passed on.
#[cfg(unix)]
const PASSED_ON: [i32; 3] = [
    signal_hook::consts::SIGTERM,
    signal_hook::consts::SIGHUP,
    signal_hook::consts::SIGQUIT,
];

/// The signals, caught from before the child starts until it ends.
pub struct Forwarder {
    #[cfg(unix)]
    signals: Option<Signals>,
}

impl Forwarder {
    /// Starts catching the signals. Where that fails lmi still runs the
    /// child, with the signals' default effect on lmi (the cause is logged).
    pub fn catch() -> Forwarder {
        #[cfg(unix)]
        {
            let signals = Signals::new(PASSED_ON)
                .map_err(|e| tracing::debug!(target: "plugin", "cannot catch SIGTERM, SIGHUP and SIGQUIT to pass them on: {e}"))
                .ok();
            Forwarder { signals }
        }
        #[cfg(not(unix))]
        {
            Forwarder {}
        }
    }

    /// Waits for `child`, passing every caught signal on to it meanwhile.
    pub fn wait(self, child: &mut Child) -> io::Result<ExitStatus> {
        #[cfg(unix)]
        if let Some(mut signals) = self.signals {
            use rustix::process::{kill_process, waitid, Pid, Signal, WaitId, WaitIdOptions};
            let pid = Pid::from_child(child);
            let handle = signals.handle();
            let thread = std::thread::spawn(move || {
                for raw in signals.forever() {
                    if let Some(signal) = Signal::from_named_raw(raw) {
                        tracing::debug!(target: "plugin", "passing signal {raw} on to the child");
                        let _ = kill_process(pid, signal);
                    }
                }
            });
            // Until the child has exited, without reaping it (WNOWAIT).
            // Exited, or waitid cannot tell: `wait` below decides.
            while let Err(rustix::io::Errno::INTR) = waitid(
                WaitId::Pid(pid),
                WaitIdOptions::EXITED | WaitIdOptions::NOWAIT,
            ) {}
            handle.close();
            let _ = thread.join();
        }
        child.wait()
    }
}
