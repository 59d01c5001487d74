//! `lmi-hello`: the example lmi plugin, and the template for service teams.
//!
//! Copy this crate, rename the binary to `lmi-<your-name>`, and replace the
//! two commands. Everything a plugin needs is shown here (the guide is
//! `docs/plugins.md` in the lmi repository):
//!
//! 1. **Describe yourself**: `--lmi-describe` prints one JSON line with
//!    `name`, `version` and `description`; lmi shows it in `lmi --help`,
//!    `lmi --version` and `lmi plugin list`. Answer fast and touch nothing.
//! 2. **Read the context** lmi puts in the environment: `LMI_BIN` (lmi
//!    itself), `LMI_ENVIRONMENT`, `LMI_OUTPUT` (`json`/`text`),
//!    `LMI_VERBOSITY` (-1…2) and `LMI_CONFIG_DIR`.
//! 3. **Never authenticate yourself**: run `$LMI_BIN api PATH` (or
//!    `$LMI_BIN auth token`); lmi picks the environment, gets and caches the
//!    token, retries a 401 once and reports errors with the right exit code.
//! 4. **Honour the output format**: JSON on stdout by default, text for
//!    people with `LMI_OUTPUT=text` or your own `-o text`.
//! 5. **Exit with lmi's code** when an inner `$LMI_BIN` call fails (lmi has
//!    already printed `error: …` on stderr), so scripts see 3 for
//!    configuration, 4 for authentication, 5 for the service.
//!
//! Standard library and `serde_json` only, on purpose: a plugin needs no
//! HTTP or OAuth crate.

use std::env;
use std::ffi::OsString;
use std::io::{self, Write};
use std::process::{Command, ExitCode, ExitStatus, Stdio};

/// What `lmi --help` shows next to `hello`.
const DESCRIPTION: &str = "Example plugin: who the API says you are, and an echo of what you send";

const USAGE: &str = "\
Usage: lmi hello [-o json|text] COMMAND

Commands:
  whoami              Ask the service who you are (GET /whoami)
  echo [--file PATH]  Send a JSON body (from PATH, or - for stdin, the default)
                      to POST /echo and print what the service received

Options:
  -o, --output FORMAT  json or text (default: lmi's --output, LMI_OUTPUT)
  -h, --help           Show this help
      --lmi-describe   Print this plugin's name, version and description as JSON

The example lmi plugin: see docs/plugins.md in the lmi repository.";

/// The `hint:` line under a usage error, as lmi writes them.
const HINT: &str = "\nhint: run `lmi hello --help` for usage";

/// Why the plugin itself failed, and the exit code that says so: lmi's
/// codes (SPEC §3) are a good scheme for plugins too.
struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    /// Bad arguments: exit 2, as lmi does.
    fn usage(message: impl Into<String>) -> Failure {
        Failure {
            code: 2,
            message: message.into(),
        }
    }
    /// Anything else that went wrong here: exit 1.
    fn other(message: impl Into<String>) -> Failure {
        Failure {
            code: 1,
            message: message.into(),
        }
    }
}

type Result<T> = std::result::Result<T, Failure>;

/// The output format: lmi's `LMI_OUTPUT`, unless `-o` says otherwise.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Text,
}

impl Format {
    fn parse(raw: &str) -> Option<Format> {
        match raw {
            "json" => Some(Format::Json),
            "text" => Some(Format::Text),
            _ => None,
        }
    }
    fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Text => "text",
        }
    }
}

/// The context lmi hands every plugin in its environment.
struct Context {
    /// The lmi that started us: always call this one, not whatever `lmi` is
    /// on PATH, so that the same build, config folder and flags apply.
    lmi: OsString,
    output: Format,
    /// -1 for `-q`, 0, 1 for `-v`, 2 for `-vv`.
    verbosity: i8,
}

impl Context {
    fn from_env() -> Result<Context> {
        let lmi = env::var_os("LMI_BIN")
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                Failure::usage("LMI_BIN is not set: run this plugin as `lmi hello`, not directly")
            })?;
        let output = env::var("LMI_OUTPUT")
            .ok()
            .and_then(|v| Format::parse(&v))
            .unwrap_or(Format::Json);
        let verbosity = env::var("LMI_VERBOSITY")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        // LMI_ENVIRONMENT and LMI_CONFIG_DIR need no handling here: the
        // inner lmi reads the same variables, so it uses the same
        // environment and configuration as the `lmi` the user typed. Read
        // them only to show them, or to keep per-environment state.
        Ok(Context {
            lmi,
            output,
            verbosity,
        })
    }

    /// `$LMI_BIN` with the user's verbosity, so `lmi -v hello whoami` shows
    /// the HTTP exchange lmi makes for us.
    fn lmi(&self) -> Command {
        let mut cmd = Command::new(&self.lmi);
        match self.verbosity {
            v if v < 0 => {
                cmd.arg("-q");
            }
            1 => {
                cmd.arg("-v");
            }
            v if v >= 2 => {
                cmd.arg("-vv");
            }
            _ => {}
        }
        cmd
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    match run(&args) {
        Ok(code) => code,
        Err(failure) => {
            // The same shape as lmi's own errors.
            eprintln!("error: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

fn run(args: &[String]) -> Result<ExitCode> {
    // Answer --lmi-describe before anything else: lmi calls it without the
    // usual context, with a one-second limit.
    if args.first().is_some_and(|a| a == "--lmi-describe") {
        let about = serde_json::json!({
            "name": "hello",
            "version": env!("CARGO_PKG_VERSION"),
            "description": DESCRIPTION,
        });
        return print_out(&about.to_string());
    }

    // Everything after `lmi hello` is ours, including `-o`: lmi's global
    // flags go before the plugin name and reach us as LMI_* variables.
    let mut output = None;
    let mut file = None;
    let mut positional = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "-h" | "--help" => {
                return print_out(USAGE);
            }
            "-o" | "--output" => output = Some(value(&mut iter, arg)?),
            "--file" => file = Some(value(&mut iter, arg)?),
            _ if arg.starts_with("--output=") => output = Some(arg["--output=".len()..].to_owned()),
            _ if arg.starts_with("--file=") => file = Some(arg["--file=".len()..].to_owned()),
            _ if arg.starts_with('-') && arg != "-" => {
                return Err(Failure::usage(format!("unknown option {arg}{HINT}")))
            }
            _ => positional.push(arg.as_str()),
        }
    }

    let mut ctx = Context::from_env()?;
    if let Some(raw) = output {
        ctx.output = Format::parse(&raw)
            .ok_or_else(|| Failure::usage(format!("--output must be json or text, not {raw:?}")))?;
    }

    match positional.as_slice() {
        ["whoami"] => whoami(&ctx),
        ["echo"] => echo(&ctx, file.as_deref().unwrap_or("-")),
        [] => Err(Failure::usage(format!("a command is required{HINT}"))),
        [other, ..] => Err(Failure::usage(format!("unknown command '{other}'{HINT}"))),
    }
}

/// The value after an option, or an error naming the option.
fn value<'a>(iter: &mut impl Iterator<Item = &'a String>, option: &str) -> Result<String> {
    iter.next()
        .cloned()
        .ok_or_else(|| Failure::usage(format!("{option} needs a value")))
}

/// Pattern 1, capture and reshape: ask lmi for JSON, parse it, print it our
/// way. Use this when the plugin adds value to what the service returns.
fn whoami(ctx: &Context) -> Result<ExitCode> {
    let result = ctx
        .lmi()
        // Always JSON from the inner call: it is the machine-readable
        // contract; we format for people ourselves.
        .args(["-o", "json", "api", "/whoami"])
        .stdin(Stdio::null())
        // lmi's warnings and errors go straight to the user.
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| Failure::other(format!("cannot run lmi ({:?}): {e}", ctx.lmi)))?;

    if !result.status.success() {
        // lmi has said what went wrong on stderr; an error body from the
        // service (a non-2xx answer) is still worth showing on stdout.
        let _ = io::stdout().write_all(&result.stdout);
        return Ok(exit_code(result.status));
    }
    let me: serde_json::Value = serde_json::from_slice(&result.stdout)
        .map_err(|e| Failure::other(format!("the service's /whoami answer is not JSON: {e}")))?;

    let text = match ctx.output {
        Format::Json => serde_json::to_string_pretty(&me).unwrap_or_else(|_| me.to_string()),
        Format::Text => match me.as_object() {
            // One `field: value` line each, for people.
            Some(fields) => fields
                .iter()
                .map(|(key, value)| match value {
                    serde_json::Value::String(s) => format!("{key}: {s}"),
                    serde_json::Value::Null => format!("{key}: -"),
                    other => format!("{key}: {other}"),
                })
                .collect::<Vec<_>>()
                .join("\n"),
            None => me.to_string(),
        },
    };
    print_out(&text)
}

/// Pattern 2, pass through: hand the work to lmi with our stdin and stdout
/// and let it print. `--file -` makes lmi read the body from stdin — the
/// plugin never reads it itself, so large bodies stream through untouched.
fn echo(ctx: &Context, file: &str) -> Result<ExitCode> {
    let status = ctx
        .lmi()
        .args([
            "-o",
            ctx.output.as_str(),
            "api",
            "-X",
            "POST",
            "/echo",
            "--file",
            file,
        ])
        .status()
        .map_err(|e| Failure::other(format!("cannot run lmi ({:?}): {e}", ctx.lmi)))?;
    Ok(exit_code(status))
}

/// lmi's exit code, so scripts can tell configuration (3), authentication
/// (4) and service (5) failures apart; 1 if lmi died without one.
fn exit_code(status: ExitStatus) -> ExitCode {
    status
        .code()
        .and_then(|c| u8::try_from(c).ok())
        .map(ExitCode::from)
        .unwrap_or(ExitCode::FAILURE)
}

/// Prints to stdout; a closed stdout (`lmi hello whoami | head -c0`) ends
/// quietly, where `println!` would panic.
fn print_out(text: &str) -> Result<ExitCode> {
    let mut out = io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(Failure::other(format!("cannot write to stdout: {e}"))),
    }
}
