//! The `lmi` binary: parse, run, print `error:`/`hint:`, exit.

use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    // First: a core dump of this process would hold secrets and tokens.
    lmi::disable_core_dumps();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let env = lmi::env::ProcessEnv::from_process();
    lmi::install_interrupt_handler();
    match lmi::run(args, env) {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            if failure.is_silent() {
                return ExitCode::from(failure.exit_code());
            }
            // A stderr that cannot be written (closed, full disk) must not
            // turn the exit code into a panic's: write errors are ignored.
            let mut stderr = std::io::stderr().lock();
            let _ = writeln!(stderr, "error: {}", failure.message());
            if let Some(hint) = failure.hint() {
                let _ = writeln!(stderr, "hint: {hint}");
            }
            if lmi::verbose_errors() {
                for cause in failure.causes() {
                    let _ = writeln!(stderr, "caused by: {cause}");
                }
            }
            ExitCode::from(failure.exit_code())
        }
    }
}
