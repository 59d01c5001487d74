//! A whole invocation in memory, for the commands' unit tests: a temporary
//! HOME with configuration files, a fixed clock, canned HTTP answers, a
//! session store in memory, a recording browser and terminal, and a
//! captured stdout, all
//! handed to [`Ctx`] through [`Deps`]. A test sets up a [`Harness`], runs a
//! handler on [`Harness::ctx`] and reads what it printed and sent.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use url::Url;

use super::{Ctx, Deps};
use crate::agent::client::AgentLink;
use crate::auth::sso::testing::RecordingBrowser;
use crate::auth::sso::{Browser, MemoryStore, Session, Store};
use crate::auth::testing::FakeTransport;
use crate::cli::{GlobalArgs, OutputFlag};
use crate::clock::FixedClock;
use crate::env::ProcessEnv;
use crate::error::{Error, Kind, Result};
use crate::http::{Payload, Response, StreamingResponse, Transport, TransportError};
use crate::output::Captured;
use crate::paths::Paths;
use crate::terminal::{RecordingTerminal, Terminal};

/// The fixed "now" of every harness (2026-11-28T01:57:10Z).
pub const NOW: i64 = 1_796_176_630;

/// The shared fake transport, handed to [`Deps`] while the test keeps it.
struct SharedTransport(Arc<FakeTransport>);

impl Transport for SharedTransport {
    fn timeout(&self) -> Duration {
        self.0.timeout()
    }

    fn send(
        &self,
        method: &str,
        url: &Url,
        headers: &[(String, String)],
        body: Option<Vec<u8>>,
    ) -> std::result::Result<Response, TransportError> {
        self.0.send(method, url, headers, body)
    }

    fn open(
        &self,
        method: &str,
        url: &Url,
        headers: &[(String, String)],
        body: Option<&Payload>,
    ) -> std::result::Result<StreamingResponse, TransportError> {
        self.0.open(method, url, headers, body)
    }
}

/// The shared fake agent.
struct SharedAgent(Arc<dyn AgentLink>);

impl AgentLink for SharedAgent {
    fn socket(&self) -> &std::path::Path {
        self.0.socket()
    }

    fn ask(&self, request: &crate::agent::protocol::Request) -> Result<Vec<u8>> {
        self.0.ask(request)
    }
}

/// The shared recording terminal.
struct SharedTerminal(Arc<RecordingTerminal>);

impl Terminal for SharedTerminal {
    fn notice(&self, text: &str) {
        self.0.notice(text);
    }

    fn interactive(&self) -> bool {
        self.0.interactive()
    }

    fn redraw(&self, line: &str) {
        self.0.redraw(line);
    }

    fn clear_line(&self) {
        self.0.clear_line();
    }
}

/// The shared recording browser; with `approve`, opening an
/// authorization URL also plays the person who logs in: the IdP's redirect
/// to lmi's loopback listener, with a code and the request's `state`.
struct SharedBrowser(Arc<RecordingBrowser>, Option<&'static str>);

impl Browser for SharedBrowser {
    fn open(&self, url: &str) -> bool {
        self.0.open(url);
        match self.1 {
            Some(code) => {
                redirect_back(url, code);
                true
            }
            None => false,
        }
    }

    fn open_configured(&self, url: &str) -> Option<bool> {
        self.0.open_configured(url)
    }
}

/// Sends the authorization response for the request `url` to its
/// `redirect_uri`, from another thread (lmi accepts it after `open`).
fn redirect_back(url: &str, code: &'static str) {
    let url = Url::parse(url).unwrap();
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap()
    };
    let mut back = Url::parse(&param("redirect_uri")).unwrap();
    back.query_pairs_mut()
        .append_pair("code", code)
        .append_pair("state", &param("state"));
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        let address = format!("{}:{}", back.host_str().unwrap(), back.port().unwrap());
        let mut socket = std::net::TcpStream::connect(address).unwrap();
        let target = &back[url::Position::BeforePath..];
        write!(
            socket,
            "GET {target} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            back.authority()
        )
        .unwrap();
        let mut page = String::new();
        let _ = socket.read_to_string(&mut page);
    });
}

/// One invocation's world.
pub struct Harness {
    pub home: tempfile::TempDir,
    pub clock: Arc<FixedClock>,
    pub http: Arc<FakeTransport>,
    pub browser: Arc<RecordingBrowser>,
    /// The code the browser's login comes back with (`None`: the browser
    /// opens nothing).
    pub approve: Option<&'static str>,
    /// What the flows told the person (stderr).
    pub terminal: Arc<RecordingTerminal>,
    pub store: MemoryStore,
    pub stdout: Captured,
    pub global: GlobalArgs,
    /// `--set` values, in order.
    pub set: Vec<(String, String)>,
    /// Process environment variables besides HOME.
    pub vars: Vec<(String, String)>,
    /// An lmi agent that answers (none: no agent).
    pub agent: Option<Arc<dyn AgentLink>>,
}

impl Harness {
    /// An empty HOME, JSON output, nothing configured.
    pub fn new() -> Harness {
        Harness {
            home: tempfile::tempdir().unwrap(),
            clock: Arc::new(FixedClock::at(NOW)),
            http: Arc::new(FakeTransport::default()),
            browser: Arc::new(RecordingBrowser::default()),
            approve: None,
            terminal: Arc::new(RecordingTerminal::default()),
            store: MemoryStore::default(),
            stdout: Captured::default(),
            global: GlobalArgs {
                no_file_log: true,
                ..GlobalArgs::default()
            },
            set: Vec::new(),
            vars: Vec::new(),
            agent: None,
        }
    }

    /// Text output (`-o text`).
    pub fn text(mut self) -> Harness {
        self.global.output = Some(OutputFlag::Text);
        self
    }

    /// `--set KEY=VALUE`.
    pub fn set(mut self, key: &str, value: &str) -> Harness {
        self.set.push((key.to_owned(), value.to_owned()));
        self
    }

    /// A process environment variable.
    pub fn var(mut self, key: &str, value: &str) -> Harness {
        self.vars.push((key.to_owned(), value.to_owned()));
        self
    }

    /// `-e NAME`.
    pub fn environment(mut self, name: &str) -> Harness {
        self.global.environment = Some(name.to_owned());
        self
    }

    /// Writes `env/NAME.env` with `lines` (private, as lmi writes it).
    pub fn env_file(self, name: &str, lines: &[(&str, &str)]) -> Harness {
        let paths = self.paths();
        let file = paths.env_file(name);
        write_private(&file, lines);
        self
    }

    /// A session in the store.
    pub fn session(self, session: Session) -> Harness {
        let store = Store::memory(self.store.clone());
        store.save(&session).unwrap();
        self
    }

    fn env(&self) -> ProcessEnv {
        let mut pairs = vec![("HOME".to_owned(), self.home.path().display().to_string())];
        pairs.extend(self.vars.iter().cloned());
        ProcessEnv::from_pairs(pairs)
    }

    pub fn paths(&self) -> Paths {
        Paths::from_env(&self.env())
    }

    /// The invocation: its [`Deps`] share this harness's fakes.
    pub fn ctx(&self) -> Ctx {
        let mut global = self.global.clone();
        global.set = self.set.clone();
        Ctx::new(global, Vec::new(), self.env(), self.paths(), self.deps())
    }

    /// Seams that share this harness's fakes.
    pub fn deps(&self) -> Deps {
        let deps = Deps::new(
            self.clock.clone(),
            Box::new(SharedTransport(self.http.clone())),
            Box::new(SharedBrowser(self.browser.clone(), self.approve)),
            Box::new(SharedTerminal(self.terminal.clone())),
            self.stdout.sink(),
        )
        .with_store(Store::memory(self.store.clone()));
        match &self.agent {
            Some(agent) => deps.with_agent(Box::new(SharedAgent(agent.clone()))),
            None => deps,
        }
    }

    /// Runs `lmi ARGS...` (after `--no-file-log`) in this harness; `-e`,
    /// `-o` and `--set` of the harness apply unless the arguments give them.
    pub fn run(&self, args: &[&str]) -> Result<u8> {
        let argv = ["lmi", "--no-file-log"].iter().chain(args).map(Into::into);
        let parsed = crate::cli::parse_with(crate::cli::command(), argv)
            .unwrap_or_else(|e| panic!("{args:?}: {e}"));
        let mut global = parsed.global;
        global.environment = global.environment.or(self.global.environment.clone());
        global.output = global.output.or(self.global.output);
        let mut set = self.set.clone();
        set.append(&mut global.set);
        global.set = set;
        let ctx = Ctx::new(
            global,
            parsed.key_flags,
            self.env(),
            self.paths(),
            self.deps(),
        );
        super::dispatch(
            &ctx,
            parsed
                .command
                .unwrap_or_else(|| panic!("no command in {args:?}")),
        )
    }

    /// What the commands printed so far.
    pub fn out(&self) -> String {
        self.stdout.text()
    }

    /// What the commands printed so far, as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.out()).unwrap_or_else(|e| panic!("{e}: {}", self.out()))
    }

    /// The stored session now.
    pub fn stored(&self) -> Option<Session> {
        Store::memory(self.store.clone()).load().unwrap()
    }
}

fn write_private(file: &std::path::Path, lines: &[(&str, &str)]) {
    let dir: PathBuf = file.parent().unwrap().to_owned();
    std::fs::create_dir_all(&dir).unwrap();
    let text: String = lines.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    std::fs::write(file, text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mut d = dir.as_path();
        // The folders lmi made are 0700, its files 0600.
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600)).unwrap();
        while d.starts_with(std::env::temp_dir()) && d != std::env::temp_dir() {
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700)).unwrap();
            d = d.parent().unwrap();
        }
    }
}

/// The exit-code domain of a failed run.
pub fn kind_of(result: Result<u8>) -> Kind {
    match result {
        Ok(code) => panic!("expected a failure, got exit {code}"),
        Err(e) => e.kind(),
    }
}

/// The error of a failed run.
pub fn error_of(result: Result<u8>) -> Error {
    match result {
        Ok(code) => panic!("expected a failure, got exit {code}"),
        Err(e) => e,
    }
}
