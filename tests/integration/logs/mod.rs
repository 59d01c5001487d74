//! Logging (SPEC §7): the log file's lines, never a secret, rotation, and
//! a log that cannot be written.

mod file;
