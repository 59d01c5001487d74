//! `lmi api --jq EXPR` (SPEC §4.4): jq's language through the jaq crates,
//! compiled before any request (a program that does not compile is a usage
//! error), run on the response body. Strings come out raw, every other
//! result as compact JSON, one per line.
//!
//! A program that starts with `.[]` (`.[] | .id`) is run element by element
//! when the body is an array: a reading thread splits the streaming body
//! into elements (`elements.rs`), serde_json parses one element at a time
//! and the rest of the program runs on it, so memory is bounded by the
//! largest element rather than the whole body, and output starts with the
//! first element; when the rest is a path of field names (`.[] | .id`),
//! only the fields on the path are built and jaq runs the rest on them
//! (`jq_path.rs`). Any other program
//! sees the whole body.

use std::fmt::Write as _;
use std::io::{self, BufRead, Read, Write};

use jaq_core::load::{Arena, File, Loader};
use jaq_core::{data, unwrap_valr, Compiler, Ctx, Vars};
use jaq_json::Val;

use super::elements::each_element;
use super::jq_path::FieldPath;
use crate::error::{Error, Result};
use crate::redact;
use crate::secret::Secret;

type Data = data::JustLut<Val>;
type Filter = jaq_core::Filter<Data>;

/// Bytes of a body that is not JSON shown in the error.
const SHOWN_BYTES: usize = 120;

/// A compiled `--jq` (or `--next`) program.
pub struct Program {
    /// What the user wrote, for messages.
    text: String,
    whole: Filter,
    /// The program after a leading `.[] |`, when it has one: run on each
    /// element of an array body.
    per_element: Option<Filter>,
    /// The program after `.[] |` when it is a path of field names: each
    /// element is built with only the fields on it.
    path: Option<FieldPath>,
}

impl Program {
    /// Compiles `text`; `flag` names the option in the error (`--jq`).
    pub fn compile(flag: &str, text: &str) -> Result<Program> {
        let whole = compile(text).map_err(|why| {
            Error::usage(format!("{flag} {text:?} does not compile: {why}"))
                .with_hint("the language is jq's: https://jqlang.org/manual/")
        })?;
        // Only when the whole program compiles is the rest the same program
        // applied to each element (`|` binds loosest, so `.[] | a, b` is
        // `.[] | (a, b)`).
        let rest = element_rest(text);
        let per_element = rest.and_then(|rest| compile(rest).ok());
        let path = per_element.as_ref().and(rest).and_then(FieldPath::parse);
        Ok(Program {
            text: text.to_owned(),
            whole,
            per_element,
            path,
        })
    }

    /// Runs the program on one value, calling `each` for every result.
    pub fn run(&self, input: Val, each: &mut dyn FnMut(&Val) -> Result<()>) -> Result<()> {
        run(&self.whole, &self.text, input, each)
    }

    /// Whether the program starts with `.[] |`.
    pub fn has_element_rest(&self) -> bool {
        self.per_element.is_some()
    }

    /// Runs the program after its leading `.[] |` on the whole body: with
    /// `--slurp`, on each page, as if on each element of the array of
    /// pages.
    pub fn filter_element(
        &self,
        body: impl Read,
        out: &mut dyn Write,
        what: &str,
        token: &Secret,
    ) -> Result<()> {
        let rest = self.per_element.as_ref().unwrap_or(&self.whole);
        let mut body = Recorded::new(io::BufReader::with_capacity(128 * 1024, body));
        let mut de = serde_json::Deserializer::from_reader(&mut body);
        let value = serde::Deserialize::deserialize(&mut de).and_then(|v| de.end().map(|()| v));
        match value {
            Ok(v) => run(rest, &self.text, v, &mut |v: &Val| {
                write_result(out, v).map_err(Error::stdout_write)
            }),
            Err(e) if e.is_io() => Err(read_error(what, io::Error::other(e))),
            Err(e) => Err(not_json(what, &body.shown(), &e, token)),
        }
    }

    /// Runs the program on the JSON body read from `body`, writing the
    /// results to `out`. `token` is scrubbed from what is shown of a body
    /// that is not JSON.
    pub fn filter(
        &self,
        body: impl Read + Send,
        out: &mut dyn Write,
        what: &str,
        token: &Secret,
    ) -> Result<()> {
        let mut body = Recorded::new(io::BufReader::with_capacity(128 * 1024, body));
        let first = loop {
            let buf = body.fill_buf().map_err(|e| read_error(what, e))?;
            match buf.iter().position(|b| !b.is_ascii_whitespace()) {
                Some(i) => break Some(buf[i]),
                None if buf.is_empty() => break None,
                None => {
                    let n = buf.len();
                    body.consume(n);
                }
            }
        };
        let mut each = |v: &Val| write_result(out, v).map_err(Error::stdout_write);
        let parsed = match (first, &self.per_element) {
            // Nothing to filter: no results, as `jq` with empty input.
            (None, _) => return Ok(()),
            (Some(b'['), Some(rest)) => {
                let path = self.path.as_ref();
                return match each_element(&mut body, &mut |element| {
                    let v = match path.and_then(|path| path.project(element)) {
                        Some(projected) => projected,
                        None => serde_json::from_slice::<Val>(element)?,
                    };
                    Ok(run(rest, &self.text, v, &mut each))
                }) {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(e),
                    Err(e) if e.is_io() => Err(read_error(what, io::Error::other(e))),
                    Err(e) => Err(not_json(what, &body.shown(), &e, token)),
                };
            }
            _ => {
                let mut de = serde_json::Deserializer::from_reader(&mut body);
                match serde::Deserialize::deserialize(&mut de).and_then(|v| de.end().map(|()| v)) {
                    Ok(value) => return run(&self.whole, &self.text, value, &mut each),
                    Err(e) => Err(e),
                }
            }
        };
        match parsed {
            Ok(()) => Ok(()),
            Err(e) if e.is_io() => Err(read_error(what, io::Error::other(e))),
            Err(e) => Err(not_json(what, &body.shown(), &e, token)),
        }
    }
}

/// Parses and compiles a jq program; the reasons it does not, as one line.
fn compile(text: &str) -> std::result::Result<Filter, String> {
    let defs = jaq_core::defs()
        .chain(jaq_std::defs())
        .chain(jaq_json::defs());
    let funs = jaq_core::funs::<Data>()
        .chain(jaq_std::funs::<Data>())
        .chain(jaq_json::funs::<Data>());
    let arena = Arena::default();
    let loader = Loader::new(defs);
    let modules = loader
        .load(
            &arena,
            File {
                code: text,
                path: (),
            },
        )
        .map_err(|errs| {
            let mut why = String::new();
            for (_, e) in errs {
                match e {
                    jaq_core::load::Error::Io(v) => {
                        for (path, e) in v {
                            let _ = write!(why, "{path}: {e}; ");
                        }
                    }
                    jaq_core::load::Error::Lex(v) => {
                        for (expect, at) in v {
                            let _ = write!(why, "expected {} at {}; ", expect.as_str(), near(at));
                        }
                    }
                    jaq_core::load::Error::Parse(v) => {
                        for (expect, at) in v {
                            let _ = write!(why, "expected {} at {}; ", expect.as_str(), near(at));
                        }
                    }
                }
            }
            why.trim_end_matches("; ").to_owned()
        })?;
    Compiler::default()
        .with_funs(funs)
        .compile(modules)
        .map_err(|errs| {
            let mut why = String::new();
            for (_, v) in errs {
                for (name, undefined) in v {
                    let _ = write!(why, "undefined {} {name}; ", undefined.as_str());
                }
            }
            why.trim_end_matches("; ").to_owned()
        })
}

/// Where a parse error is: the start of the rest of the program.
fn near(rest: &str) -> String {
    if rest.trim().is_empty() {
        return "the end".to_owned();
    }
    let shown: String = rest.chars().take(20).collect();
    format!("{shown:?}")
}

/// `.[] | REST` → `REST`; `.[]` alone → `.`; `.[].a.b` (a path of field
/// names and nothing else) → `.a.b`. Anything else (`.[] |= f`,
/// `.[] as $x | f`, `.[]?`, `.[].a, .b`) is run whole.
fn element_rest(text: &str) -> Option<&str> {
    let rest = text.trim_start().strip_prefix(".[]")?;
    if rest.starts_with('.') && FieldPath::parse(rest).is_some() {
        return Some(rest);
    }
    let rest = rest.trim_start();
    if rest.is_empty() {
        return Some(".");
    }
    let after = rest.strip_prefix('|')?;
    (!after.starts_with('=')).then_some(after)
}

fn run(
    filter: &Filter,
    text: &str,
    input: Val,
    each: &mut dyn FnMut(&Val) -> Result<()>,
) -> Result<()> {
    let ctx = Ctx::<Data>::new(&filter.lut, Vars::new([]));
    for result in filter.id.run((ctx, input)).map(unwrap_valr) {
        match result {
            Ok(v) => each(&v)?,
            Err(e) => {
                let shown: String = e.to_string().chars().take(300).collect();
                return Err(Error::service(format!(
                    "--jq {text:?} failed on the response: {}",
                    redact::server_text(&shown, &[])
                )));
            }
        }
    }
    Ok(())
}

/// One result: a string raw, anything else as compact JSON; then a newline.
pub fn write_result(out: &mut dyn Write, v: &Val) -> io::Result<()> {
    match v {
        Val::TStr(s) | Val::BStr(s) => out.write_all(s)?,
        v => jaq_json::write::write(out, &jaq_json::write::Pp::default(), 0, v)?,
    }
    out.write_all(b"\n")
}

/// A reader that keeps the first [`SHOWN_BYTES`] bytes it passed on, to
/// show the start of a body that turns out not to be JSON.
struct Recorded<R> {
    inner: R,
    start: Vec<u8>,
}

impl<R: BufRead> Recorded<R> {
    fn new(inner: R) -> Self {
        Recorded {
            inner,
            start: Vec::with_capacity(SHOWN_BYTES),
        }
    }
}

impl<R: BufRead> Recorded<R> {
    /// The body's first bytes: those read, then those still buffered.
    fn shown(&mut self) -> Vec<u8> {
        let mut start = std::mem::take(&mut self.start);
        if let Ok(buf) = self.inner.fill_buf() {
            let more = buf.len().min(SHOWN_BYTES.saturating_sub(start.len()));
            start.extend_from_slice(&buf[..more]);
        }
        start
    }
}

impl<R: BufRead> Read for Recorded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = {
            let got = self.fill_buf()?;
            let n = got.len().min(buf.len());
            buf[..n].copy_from_slice(&got[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Recorded<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, n: usize) {
        if self.start.len() < SHOWN_BYTES {
            if let Ok(buf) = self.inner.fill_buf() {
                let take = n.min(buf.len()).min(SHOWN_BYTES - self.start.len());
                self.start.extend_from_slice(&buf[..take]);
            }
        }
        self.inner.consume(n);
    }
}

fn read_error(what: &str, e: io::Error) -> Error {
    Error::service(format!("{what}: reading the body failed: {e}")).with_cause(e)
}

/// The body is not JSON: where, and its first bytes, scrubbed.
fn not_json(what: &str, start: &[u8], e: &serde_json::Error, token: &Secret) -> Error {
    let text = String::from_utf8_lossy(start);
    let shown = redact::server_text(text.trim(), &[token]);
    let at = match e.line() {
        0 => format!(" ({e})"),
        line => format!(" at line {line}, column {}", e.column()),
    };
    Error::service(format!(
        "{what}: --jq needs a JSON body, but it is not JSON{at}; it starts with {shown:?}"
    ))
    .with_hint("leave --jq out to see the body as it is")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(program: &str, body: &str) -> Result<String> {
        let p = Program::compile("--jq", program)?;
        let mut buf = Vec::new();
        p.filter(body.as_bytes(), &mut buf, "GET /x", &Secret::new("tok-xyz"))?;
        Ok(String::from_utf8(buf).unwrap())
    }

    #[test]
    fn strings_raw_the_rest_compact_one_per_line() {
        let body = r#"[{"id":"a","n":1},{"id":"b","n":[1, 2]}]"#;
        assert_eq!(out(".[] | .id", body).unwrap(), "a\nb\n");
        assert_eq!(out(".[].n", body).unwrap(), "1\n[1,2]\n");
        assert_eq!(
            out(".[]", body).unwrap(),
            "{\"id\":\"a\",\"n\":1}\n{\"id\":\"b\",\"n\":[1,2]}\n"
        );
        assert_eq!(out("map(.n) | length", body).unwrap(), "2\n");
        assert_eq!(
            out(".[] | .id, .n", "[{\"id\":\"x\",\"n\":2}]").unwrap(),
            "x\n2\n"
        );
        assert_eq!(out(".a", "{\"a\":\"t\\nu\"}").unwrap(), "t\nu\n");
        assert_eq!(out(".[]", "{\"a\":1,\"b\":2}").unwrap(), "1\n2\n");
        assert_eq!(out(".", "  ").unwrap(), "");
    }

    #[test]
    fn the_element_program_is_split_only_where_it_means_the_same() {
        assert_eq!(element_rest(".[] | .id"), Some(" .id"));
        assert_eq!(element_rest(" .[]"), Some("."));
        assert_eq!(element_rest(".[] |= 1"), None);
        assert_eq!(element_rest(".[] as $x | $x"), None);
        assert_eq!(element_rest(".[]?"), None);
        assert_eq!(element_rest(".a"), None);
        assert_eq!(element_rest(".[].a.b "), Some(".a.b "));
        assert_eq!(element_rest(".[].a, .b"), None);
        assert_eq!(element_rest(".[].a | .b"), None);
        assert_eq!(element_rest(".[].a[0]"), None);
        assert_eq!(out(".[].a, .[].b", r#"[{"a":1,"b":2}]"#).unwrap(), "1\n2\n");
        assert_eq!(out(".[] |= 1", "[5,6]").unwrap(), "[1,1]\n");
    }

    #[test]
    fn a_program_that_does_not_compile_is_a_usage_error() {
        for bad in [".[", "nosuchfunction", ".a |", "$x"] {
            let err = Program::compile("--jq", bad).err().unwrap();
            assert_eq!(err.exit_code(), 2, "{bad}");
            assert!(
                err.message().contains("does not compile"),
                "{}",
                err.message()
            );
        }
    }

    #[test]
    fn a_body_that_is_not_json_shows_its_start_scrubbed() {
        for program in [".[] | tostring", "."] {
            let err = out(program, "[1, oops tok-xyz]").unwrap_err();
            assert_eq!(err.exit_code(), 5);
            assert!(err.message().contains("not JSON"), "{}", err.message());
            assert!(err.message().contains("[1, oops"), "{}", err.message());
            assert!(!err.message().contains("tok-xyz"), "{}", err.message());
        }
        let err = out(".", "<html>tok-xyz</html>").unwrap_err();
        assert!(err.message().contains("<html>"), "{}", err.message());
        assert!(!err.message().contains("tok-xyz"), "{}", err.message());
    }

    #[test]
    fn arrays_that_break_off_or_go_on_are_not_json() {
        for body in [
            "[1, 2", "[1] x", "[1 2]", "[1,,2]", "[1, ]", "[,1]", "[1,\n]",
        ] {
            let err = out(".[]", body).unwrap_err();
            assert_eq!(err.exit_code(), 5, "{body}");
            assert!(
                err.message().contains("not JSON"),
                "{body}: {}",
                err.message()
            );
        }
        assert_eq!(out(".[]", "[ ]").unwrap(), "");
        assert_eq!(
            out(".[]", "[\"a,]\\\"\", [\"[\"] ]\n").unwrap(),
            "a,]\"\n[\"[\"]\n"
        );
    }

    #[test]
    fn a_runtime_error_is_a_service_error() {
        let err = out(".[] | .a", "[1]").unwrap_err();
        assert_eq!(err.exit_code(), 5);
    }
}
