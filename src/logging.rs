//! Logging: stderr by verbosity, and the append-only file log (SPEC §7).
//!
//! Components are tracing targets (`config`, `auth`, `sso`, `http`,
//! `plugin`). Secrets never reach a log because they are [`Secret`] values
//! that print as `[redacted]`; the redaction test covers every verbosity.
//!
//! [`Secret`]: crate::secret::Secret

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tracing::level_filters::LevelFilter;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{Layer, Registry};

/// What the logger needs to know, resolved from flags and configuration.
pub struct LogSetup {
    /// -1 quiet, 0 default, 1 `-v`, 2 `-vv`.
    pub verbosity: i8,
    /// The file log, or `None` when disabled.
    pub file: Option<PathBuf>,
    /// `LOG_LEVEL` for the file.
    pub file_level: LevelFilter,
}

pub fn stderr_level(verbosity: i8) -> LevelFilter {
    match verbosity {
        i8::MIN..=-1 => LevelFilter::ERROR,
        0 => LevelFilter::WARN,
        1 => LevelFilter::INFO,
        _ => LevelFilter::DEBUG,
    }
}

/// Parses `LOG_LEVEL`.
pub fn parse_level(raw: &str) -> Option<LevelFilter> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "error" => Some(LevelFilter::ERROR),
        "warn" | "warning" => Some(LevelFilter::WARN),
        "info" => Some(LevelFilter::INFO),
        "debug" => Some(LevelFilter::DEBUG),
        "trace" => Some(LevelFilter::TRACE),
        "off" => Some(LevelFilter::OFF),
        _ => None,
    }
}

/// Size at which the log moves to `<file>.1` and a new one starts, so the
/// log never grows without bound (one previous file is kept).
pub const LOG_ROTATE_BYTES: u64 = 5 * 1024 * 1024;

fn open_log(path: &Path) -> std::io::Result<std::fs::File> {
    if let Some(parent) = path.parent() {
        crate::paths::ensure_private_dir(parent)?;
        // A folder others can write could hold a planted `lmi.log` link.
        crate::paths::check_trusted(parent, path).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!("{} ({})", e.message(), e.hint().unwrap_or_default()),
            )
        })?;
    }
    if std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() >= LOG_ROTATE_BYTES) {
        let mut old = path.as_os_str().to_owned();
        old.push(".1");
        // Two processes may race here; the loser's rename fails harmlessly.
        let _ = std::fs::rename(path, old);
    }
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// The log file's writer: a line that cannot be written (disk full, file
/// gone) gives one warning on stderr (SPEC §7), and lmi goes on without
/// the lines that follow.
struct LogFile {
    file: std::fs::File,
    path: PathBuf,
    warned: bool,
    quiet: bool,
}

impl std::io::Write for LogFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Err(e) = self.file.write_all(buf) {
            if !self.warned && !self.quiet {
                // Written directly: logging about the log would recurse.
                let _ = writeln!(
                    std::io::stderr(),
                    "warning: cannot write log file {}: {e}; going on without it",
                    self.path.display()
                );
            }
            self.warned = true;
        }
        // Reported as written: a failed log line must not fail the command.
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _ = self.file.flush();
        Ok(())
    }
}

/// `warning: message` on stderr; INFO and DEBUG lines also name their
/// component (`debug[http]: GET … 200 12ms`).
struct StderrFormat;

impl<S, N> FormatEvent<S, N> for StderrFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let meta = event.metadata();
        match *meta.level() {
            Level::ERROR => write!(writer, "error: ")?,
            Level::WARN => write!(writer, "warning: ")?,
            Level::INFO => write!(writer, "info[{}]: ", meta.target())?,
            Level::DEBUG => write!(writer, "debug[{}]: ", meta.target())?,
            Level::TRACE => write!(writer, "trace[{}]: ", meta.target())?,
        }
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// Installs the global subscriber. A log file that cannot be opened gives one
/// warning and lmi goes on without it.
/// Warnings to stderr, no file log: for `lmi --help`, which describes
/// plugins before (and instead of) resolving configuration.
pub fn init_stderr() {
    init(&LogSetup {
        verbosity: 0,
        file: None,
        file_level: LevelFilter::OFF,
    });
}

pub fn init(setup: &LogSetup) {
    let stderr_filter = stderr_level(setup.verbosity);
    let stderr_layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .event_format(StderrFormat)
        .with_filter(stderr_filter);

    let mut file_problem = None;
    let file_layer = setup.file.as_ref().and_then(|path| match open_log(path) {
        Ok(file) => {
            let file = LogFile {
                file,
                path: path.clone(),
                warned: false,
                quiet: setup.verbosity < 0,
            };
            // -v/-vv raise the file level as they raise stderr's.
            let level = setup.file_level.max(match setup.verbosity {
                1 => LevelFilter::INFO,
                v if v >= 2 => LevelFilter::DEBUG,
                _ => LevelFilter::OFF,
            });
            Some(
                tracing_subscriber::fmt::layer()
                    .with_writer(BoxMakeWriter::new(Mutex::new(file)))
                    .with_ansi(false)
                    .with_target(true)
                    .with_filter(level),
            )
        }
        Err(e) => {
            file_problem = Some(format!(
                "cannot write log file {}: {e}; going on without it",
                path.display()
            ));
            None
        }
    });

    let subscriber = Registry::default().with(stderr_layer).with(file_layer);
    // A second init (in tests running several commands in-process) keeps the first.
    let _ = tracing::subscriber::set_global_default(subscriber);
    if let Some(problem) = file_problem {
        tracing::warn!(target: "config", "{problem}");
    }
}
