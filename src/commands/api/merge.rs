//! How `lmi api --paginate` writes its pages without `--jq` (SPEC §4.4):
//! array pages merged into one array, other pages one after another, or
//! with `--slurp` every page as an element of one array. Pages are streamed
//! through the JSON re-indenter as they arrive; only the bytes that open
//! and close each page's array are dropped on the way, so memory does not
//! grow with the number or the size of the pages.

use std::io::{self, BufRead, Write};

use crate::output::json_stream::Reindenter;

/// Where page bytes go: stdout, re-indented in JSON mode.
pub struct Sink<W: Write> {
    out: W,
    reindent: bool,
    json: Option<Reindenter>,
    /// The re-indenter gave up on a document: the rest went out as received.
    pub broken: bool,
}

impl<W: Write> Sink<W> {
    pub fn new(out: W, reindent: bool) -> Self {
        Sink {
            out,
            reindent,
            json: None,
            broken: false,
        }
    }

    /// Starts a new JSON document (a page of its own, or the merged array).
    fn start(&mut self) {
        self.json = self.reindent.then(Reindenter::new);
    }

    fn feed(&mut self, bytes: &[u8]) -> io::Result<()> {
        let raw = match self.json.as_mut() {
            None => bytes,
            Some(r) => match r.feed(bytes, &mut self.out)? {
                None => &[][..],
                Some(at) => {
                    self.broken = true;
                    self.json = None;
                    &bytes[at..]
                }
            },
        };
        self.out.write_all(raw)
    }

    /// Ends the document: its final newline.
    fn end(&mut self) -> io::Result<()> {
        match self.json.take() {
            Some(mut r) => {
                if !r.finish(&mut self.out)? {
                    self.broken = true;
                }
            }
            None => self.out.write_all(b"\n")?,
        }
        Ok(())
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Page after page into one output.
pub struct Pages<W: Write> {
    pub sink: Sink<W>,
    slurp: bool,
    /// Inside the output array (the merged one, or `--slurp`'s).
    open: bool,
    /// An element has been written into it: the next one needs a comma.
    any: bool,
}

impl<W: Write> Pages<W> {
    pub fn new(sink: Sink<W>, slurp: bool) -> Self {
        Pages {
            sink,
            slurp,
            open: false,
            any: false,
        }
    }

    /// Writes one page from `body`. Errors are reading or writing errors.
    pub fn page(&mut self, body: &mut dyn BufRead) -> io::Result<()> {
        let first = first_byte(body)?;
        if self.slurp {
            self.open_array()?;
            if first.is_none() {
                return Ok(());
            }
            if self.any {
                self.sink.feed(b",")?;
            }
            self.any = true;
            return copy(body, &mut |b| self.sink.feed(b));
        }
        if first != Some(b'[') {
            // Not an array: it follows whatever came before as it is.
            self.close_array()?;
            if first.is_none() {
                return Ok(());
            }
            self.sink.start();
            copy(body, &mut |b| self.sink.feed(b))?;
            return self.sink.end();
        }
        self.open_array()?;
        let mut scan = Scan::default();
        let mut rest = Vec::new();
        loop {
            let chunk = body.fill_buf()?;
            if chunk.is_empty() {
                break;
            }
            let n = chunk.len();
            let mut from = 0;
            let mut i = 0;
            while i < n {
                match scan.step(chunk[i]) {
                    Step::Pass => {}
                    Step::Drop => {
                        self.sink.feed(&chunk[from..i])?;
                        from = i + 1;
                    }
                    Step::Element => {
                        self.sink.feed(&chunk[from..i])?;
                        from = i;
                        if self.any {
                            self.sink.feed(b",")?;
                        }
                        self.any = true;
                    }
                    Step::After => {
                        rest.extend_from_slice(&chunk[i..]);
                        i = n;
                        from = n;
                        continue;
                    }
                }
                i += 1;
            }
            if from < n {
                let upto = n;
                // `from..upto` passes through (after the array closed, rest
                // holds it instead).
                if !scan.closed() {
                    self.sink.feed(&chunk[from..upto])?;
                }
            }
            body.consume(n);
        }
        // Anything but whitespace after the page's array is not JSON: it is
        // passed on for the re-indenter to report.
        if !rest.iter().all(u8::is_ascii_whitespace) {
            self.sink.feed(&rest)?;
        }
        Ok(())
    }

    /// Ends the output: closes an open array.
    pub fn finish(&mut self) -> io::Result<()> {
        self.close_array()?;
        self.sink.flush()
    }

    fn open_array(&mut self) -> io::Result<()> {
        if !self.open {
            self.sink.start();
            self.sink.feed(b"[")?;
            self.open = true;
            self.any = false;
        }
        Ok(())
    }

    fn close_array(&mut self) -> io::Result<()> {
        if self.open {
            self.sink.feed(b"]")?;
            self.sink.end()?;
            self.open = false;
        }
        Ok(())
    }
}

/// The first byte that is not whitespace, left unread; None for a blank
/// body.
fn first_byte(body: &mut dyn BufRead) -> io::Result<Option<u8>> {
    loop {
        let buf = body.fill_buf()?;
        if buf.is_empty() {
            return Ok(None);
        }
        match buf.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(i) => {
                let b = buf[i];
                body.consume(i);
                return Ok(Some(b));
            }
            None => {
                let n = buf.len();
                body.consume(n);
            }
        }
    }
}

fn copy(body: &mut dyn BufRead, feed: &mut dyn FnMut(&[u8]) -> io::Result<()>) -> io::Result<()> {
    loop {
        let buf = body.fill_buf()?;
        if buf.is_empty() {
            return Ok(());
        }
        let n = buf.len();
        feed(buf)?;
        body.consume(n);
    }
}

/// Finds, in a page that starts with `[`, that bracket, where each element
/// starts and the bracket that closes it; strings are skipped so brackets
/// inside them do not count.
#[derive(Default)]
pub(super) struct Scan {
    depth: usize,
    string: bool,
    escape: bool,
    /// Inside an element at depth 1 (between its first byte and its comma).
    element: bool,
    done: bool,
}

pub(super) enum Step {
    /// Written as is.
    Pass,
    /// Not written: the page's own `[`, `]` and commas between elements.
    Drop,
    /// The first byte of an element: a comma is written before it when
    /// another element came before.
    Element,
    /// After the page's closing `]`.
    After,
}

impl Scan {
    pub(super) fn closed(&self) -> bool {
        self.done
    }

    /// How many of the bytes at the start of `bytes` [`Scan::step`] would
    /// pass without a change of state: the inside of a string up to a
    /// quote or backslash, the inside of an element up to a bracket, brace,
    /// quote (or a comma, at its own level). Lets a caller skip over them
    /// a run at a time rather than a byte at a time.
    pub(super) fn passing(&self, bytes: &[u8]) -> usize {
        // Each case its own loop, for the compiler to inline the test.
        let stop = if self.done || self.escape {
            return 0;
        } else if self.string {
            bytes.iter().position(|&b| b == b'"' || b == b'\\')
        } else if self.depth >= 2 {
            bytes
                .iter()
                .position(|&b| matches!(b, b'"' | b'[' | b']' | b'{' | b'}'))
        } else if self.depth == 1 && self.element {
            bytes
                .iter()
                .position(|&b| matches!(b, b'"' | b'[' | b']' | b'{' | b'}' | b','))
        } else {
            return 0;
        };
        stop.unwrap_or(bytes.len())
    }

    pub(super) fn step(&mut self, b: u8) -> Step {
        if self.done {
            return Step::After;
        }
        if self.string {
            if self.escape {
                self.escape = false;
            } else if b == b'\\' {
                self.escape = true;
            } else if b == b'"' {
                self.string = false;
            }
            return Step::Pass;
        }
        if b.is_ascii_whitespace() {
            return if self.depth <= 1 && !self.element {
                Step::Drop
            } else {
                Step::Pass
            };
        }
        match b {
            b'[' if self.depth == 0 => {
                self.depth = 1;
                return Step::Drop;
            }
            b']' if self.depth == 1 => {
                self.depth = 0;
                self.done = true;
                return Step::Drop;
            }
            b',' if self.depth == 1 => {
                self.element = false;
                return Step::Drop;
            }
            _ => {}
        }
        let starts = self.depth == 1 && !self.element;
        match b {
            b'"' => self.string = true,
            b'[' | b'{' => self.depth += 1,
            b']' | b'}' => self.depth = self.depth.saturating_sub(1),
            _ => {}
        }
        if starts {
            self.element = true;
            Step::Element
        } else {
            Step::Pass
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(pages: &[&str], slurp: bool, reindent: bool) -> String {
        let mut out = Vec::new();
        {
            let mut p = Pages::new(Sink::new(&mut out, reindent), slurp);
            for page in pages {
                // One byte at a time: every boundary a chunk can have.
                let mut body = io::BufReader::with_capacity(1, page.as_bytes());
                p.page(&mut body).unwrap();
            }
            p.finish().unwrap();
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn array_pages_merge_into_one_array() {
        let pages = [r#"[1, {"a": "],["}]"#, " [] ", "[\"x\\\"]\" ,[2,3]]\n"];
        assert_eq!(
            run(&pages, false, false),
            "[1,{\"a\": \"],[\"},\"x\\\"]\" ,[2,3]]\n"
        );
        let pretty = run(&pages, false, true);
        let v: serde_json::Value = serde_json::from_str(&pretty).unwrap();
        assert_eq!(v, serde_json::json!([1, {"a": "],["}, "x\"]", [2, 3]]));
        assert!(pretty.starts_with("[\n  1,\n  {\n"), "{pretty}");
        assert_eq!(run(&["[]", "[]"], false, true), "[]\n");
    }

    /// The steps that are not [`Step::Pass`], with where they are.
    fn steps(body: &[u8], skip: bool) -> Vec<(usize, &'static str)> {
        let mut scan = Scan::default();
        let mut seen = Vec::new();
        let mut i = 0;
        while i < body.len() {
            if skip {
                let n = scan.passing(&body[i..]);
                i += n;
                if i == body.len() {
                    break;
                }
            }
            match scan.step(body[i]) {
                Step::Pass => {}
                Step::Drop => seen.push((i, "drop")),
                Step::Element => seen.push((i, "element")),
                Step::After => seen.push((i, "after")),
            }
            i += 1;
        }
        seen
    }

    #[test]
    fn runs_that_pass_are_skipped_with_the_same_steps() {
        for body in [
            r#"[1, {"a": "],[\"}"}, "x\\", [[2, "\"]"], {}] , tail"#,
            r#" [ true ,null,"é☃ \u0041" ,-1.5e3,{"k":{"l":[]}}]"#,
            "[1}]",
            "[,1]",
            "x[1]",
        ] {
            assert_eq!(
                steps(body.as_bytes(), true),
                steps(body.as_bytes(), false),
                "{body}"
            );
        }
    }

    #[test]
    fn other_pages_follow_one_another() {
        let out = run(&[r#"{"p":1}"#, "[1]", "[2]", r#"{"p":2}"#], false, false);
        assert_eq!(out, "{\"p\":1}\n[1,2]\n{\"p\":2}\n");
    }

    #[test]
    fn slurp_wraps_every_page() {
        let out = run(&["[1]", r#"{"p":2}"#, "[]"], true, true);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v, serde_json::json!([[1], {"p": 2}, []]));
    }
}
