//! The `lmi` binary: parse, run, print `error:`/`hint:`, exit.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let env = lmi::env::Env::from_process();
    lmi::install_interrupt_handler();
    match lmi::run(args, env) {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            if failure.is_silent() {
                return ExitCode::from(failure.exit_code());
            }
            eprintln!("error: {}", failure.message());
            if let Some(hint) = failure.hint() {
                eprintln!("hint: {hint}");
            }
            if lmi::verbose_errors() {
                for cause in failure.causes() {
                    eprintln!("caused by: {cause}");
                }
            }
            ExitCode::from(failure.exit_code())
        }
    }
}
