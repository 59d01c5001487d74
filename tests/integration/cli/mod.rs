//! The command line itself (SPEC §3): usage errors, `--help`,
//! `--version` and the man page, shell completion, a closed stdout, and the
//! process against a hostile host (a stderr that cannot be written, core
//! dumps).

mod completion;
mod help;
mod hostile_process;
mod usage;
