//! Plugins: executables named `lmi-<name>` (SPEC §6) — finding them, asking
//! them to describe themselves, and running them.
//!
//! What belongs here, one concern per file: `discover` finds plugins (lmi's
//! `plugins/bin/` first, then each `PATH` folder, as a shell would look);
//! `describe` is the `--lmi-describe` protocol used by `--help`, `--version`
//! and `plugin list`; `run` is `lmi <name> ARGS...` with the context a plugin
//! gets in its environment; `forward` passes SIGTERM, SIGHUP and SIGQUIT
//! on to the running child. Installing and removing plugins is
//! `commands::plugin`.
//!
//! This layer sits below `commands`: it takes plain data (paths, the
//! environment snapshot, an [`Invocation`]) and never a command's context.
//!
//! The model is git's and cargo's external subcommands (and gh's extensions):
//! the plugin inherits stdin, stdout and stderr, its exit code becomes lmi's,
//! and it calls `$LMI_BIN api …` for authenticated work, so no plugin ever
//! implements authentication itself.

mod describe;
mod discover;
mod forward;
mod run;

pub use describe::{
    describe_all, help_section, version_lines, Description, DESCRIBE_FLAG, DESCRIBE_TIMEOUT,
};
pub use discover::{discover, find, valid_name, Found, Origin, PREFIX};
pub use run::{
    command_line_exports, reserved_variable, run_child, run_external, Child, Invocation,
};
