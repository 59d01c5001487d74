//! A streaming JSON re-indenter: bytes in, two-space indented JSON out, one
//! chunk at a time, in memory bounded by the nesting depth (one bit a level)
//! and the output of one small piece of input.
//!
//! It keeps what a parse-and-print would lose: member order, duplicate
//! members, and the exact text of numbers (`2.50`, `1.0e10`, 30-digit
//! integers) and strings (escapes as written). A serde transcoder would
//! re-spell numbers, so this is a small validating state machine instead
//! (RFC 8259 grammar). Where the input stops being JSON, [`Reindenter::feed`]
//! says at which byte, so the caller can write the rest as received.

use std::io::{self, Write};

use super::json_grammar::{Num, State};

/// Deeper nesting than this ends the re-indenting (the rest is copied as
/// received, see [`Reindenter::too_deep`]). Indentation turns each input
/// byte into at most `2 * MAX_DEPTH + 2` output bytes, so the limit bounds
/// the output too: a 1 MB body of `[[[[…` 4096 deep would otherwise become
/// gigabytes of spaces. Real documents (GraphQL answers included) stay far
/// below it.
pub const MAX_DEPTH: usize = 64;

/// Input is run in pieces of this size, and each piece's output written
/// before the next, so the output buffer stays below `FEED_PIECE * (2 *
/// MAX_DEPTH + 2)` bytes (about half a MiB) whatever the shape.
const FEED_PIECE: usize = 4096;

/// The output buffer's starting capacity.
const OUT_CHUNK: usize = 64 * 1024;

const SPACES: &[u8; 64] = b"                                                                ";

/// Re-indents one JSON document fed to it in chunks.
#[derive(Debug)]
pub struct Reindenter {
    state: State,
    /// One bit a level: set for an object, clear for an array.
    objects: Vec<u64>,
    depth: usize,
    out: Vec<u8>,
    /// The break was nesting deeper than [`MAX_DEPTH`], not bad JSON.
    too_deep: bool,
}

impl Default for Reindenter {
    fn default() -> Self {
        Self::new()
    }
}

impl Reindenter {
    pub fn new() -> Reindenter {
        Reindenter {
            state: State::Start,
            objects: Vec::new(),
            depth: 0,
            out: Vec::with_capacity(OUT_CHUNK + 1024),
            too_deep: false,
        }
    }

    /// Whether the input broke off because it nests deeper than
    /// [`MAX_DEPTH`] (the JSON may well be valid).
    pub fn too_deep(&self) -> bool {
        self.too_deep
    }

    /// Whether anything but whitespace has been accepted.
    pub fn started(&self) -> bool {
        self.state != State::Start
    }

    /// Re-indents `chunk` into `w`. Returns the index in `chunk` of the
    /// first byte that is not JSON, if any: everything before it has been
    /// written re-indented, and nothing from it on (the caller writes that
    /// as received). After a break, every later chunk breaks at 0.
    pub fn feed(&mut self, chunk: &[u8], w: &mut dyn Write) -> io::Result<Option<usize>> {
        let mut done = 0;
        for piece in chunk.chunks(FEED_PIECE) {
            let broke = self.run(piece);
            w.write_all(&self.out)?;
            self.out.clear();
            if let Some(at) = broke {
                return Ok(Some(done + at));
            }
            done += piece.len();
        }
        Ok(None)
    }

    /// Ends the input: writes what is pending (a final newline after a
    /// complete document) and says whether the document was complete.
    /// Empty or blank input counts as complete (there was nothing to show).
    pub fn finish(&mut self, w: &mut dyn Write) -> io::Result<bool> {
        if let State::Number(n) = self.state {
            if n.complete() && self.depth == 0 {
                self.state = State::Done;
            }
        }
        let complete = match self.state {
            State::Done => {
                self.out.push(b'\n');
                true
            }
            State::Start => true,
            _ => false,
        };
        w.write_all(&self.out)?;
        self.out.clear();
        Ok(complete)
    }

    fn is_object(&self, level: usize) -> bool {
        self.objects
            .get(level / 64)
            .is_some_and(|word| word & (1 << (level % 64)) != 0)
    }

    fn newline(&mut self) {
        self.out.push(b'\n');
        let mut left = self.depth * 2;
        while left > 0 {
            let n = left.min(SPACES.len());
            self.out.extend_from_slice(&SPACES[..n]);
            left -= n;
        }
    }

    /// Opens `{` or `[`; false when too deep.
    fn open(&mut self, b: u8) -> bool {
        if self.depth >= MAX_DEPTH {
            self.too_deep = true;
            return false;
        }
        let (word, bit) = (self.depth / 64, self.depth % 64);
        if self.objects.len() <= word {
            self.objects.push(0);
        }
        if b == b'{' {
            self.objects[word] |= 1 << bit;
            self.state = State::ObjectFirst;
        } else {
            self.objects[word] &= !(1 << bit);
            self.state = State::ArrayFirst;
        }
        self.depth += 1;
        self.out.push(b);
        true
    }

    /// Closes the innermost container with `b`; false when `b` does not
    /// match it. `empty` closes it right after it opened (`{}`, `[]`).
    fn close(&mut self, b: u8, empty: bool) -> bool {
        let want = if self.is_object(self.depth - 1) {
            b'}'
        } else {
            b']'
        };
        if b != want {
            return false;
        }
        self.depth -= 1;
        if !empty {
            self.newline();
        }
        self.out.push(b);
        self.after_value();
        true
    }

    fn after_value(&mut self) {
        self.state = if self.depth == 0 {
            State::Done
        } else {
            State::AfterValue
        };
    }

    /// Starts a value at `b`; false when `b` cannot start one.
    fn value(&mut self, b: u8) -> bool {
        match b {
            b'{' | b'[' => return self.open(b),
            b'"' => self.state = State::Str { key: false },
            b'-' => self.state = State::Number(Num::Minus),
            b'0' => self.state = State::Number(Num::Zero),
            b'1'..=b'9' => self.state = State::Number(Num::Int),
            b't' => self.state = State::Literal(b"true", 1),
            b'f' => self.state = State::Literal(b"false", 1),
            b'n' => self.state = State::Literal(b"null", 1),
            _ => return false,
        }
        self.out.push(b);
        true
    }

    /// Runs the machine over `chunk`; the index of the breaking byte, if any.
    fn run(&mut self, chunk: &[u8]) -> Option<usize> {
        let mut i = 0;
        while i < chunk.len() {
            let b = chunk[i];
            let ws = matches!(b, b' ' | b'\t' | b'\n' | b'\r');
            let ok = match self.state {
                State::Broken => false,
                State::Str { key } => {
                    // The common case: a run of plain string bytes at once.
                    let run = chunk[i..]
                        .iter()
                        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
                        .unwrap_or(chunk.len() - i);
                    if run > 0 {
                        self.out.extend_from_slice(&chunk[i..i + run]);
                        i += run;
                        continue;
                    }
                    match b {
                        b'"' => {
                            self.out.push(b);
                            if key {
                                self.state = State::Colon;
                            } else {
                                self.after_value();
                            }
                            true
                        }
                        b'\\' => {
                            self.out.push(b);
                            self.state = State::Escape { key };
                            true
                        }
                        _ => false,
                    }
                }
                State::Escape { key } => {
                    self.state = match b {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {
                            State::Str { key }
                        }
                        b'u' => State::Unicode { key, left: 4 },
                        _ => State::Broken,
                    };
                    self.out.push(b);
                    self.state != State::Broken
                }
                State::Unicode { key, left } => {
                    if b.is_ascii_hexdigit() {
                        self.out.push(b);
                        self.state = if left == 1 {
                            State::Str { key }
                        } else {
                            State::Unicode {
                                key,
                                left: left - 1,
                            }
                        };
                        true
                    } else {
                        false
                    }
                }
                State::Number(n) => match n.next(b) {
                    Some(next) => {
                        self.out.push(b);
                        self.state = State::Number(next);
                        true
                    }
                    None if n.complete() => {
                        // The number ended; this byte belongs to what follows.
                        self.after_value();
                        continue;
                    }
                    None => false,
                },
                State::Literal(word, at) => {
                    if word.get(usize::from(at)) == Some(&b) {
                        self.out.push(b);
                        if usize::from(at) + 1 == word.len() {
                            self.after_value();
                        } else {
                            self.state = State::Literal(word, at + 1);
                        }
                        true
                    } else {
                        false
                    }
                }
                _ if ws => true,
                State::Start | State::Value => self.value(b),
                State::ArrayFirst => {
                    if b == b']' {
                        self.close(b, true)
                    } else {
                        self.newline();
                        self.value(b)
                    }
                }
                State::ObjectFirst | State::Key => match b {
                    b'}' if self.state == State::ObjectFirst => self.close(b, true),
                    b'"' => {
                        if self.state == State::ObjectFirst {
                            self.newline();
                        }
                        self.out.push(b);
                        self.state = State::Str { key: true };
                        true
                    }
                    _ => false,
                },
                State::Colon => {
                    if b == b':' {
                        self.out.extend_from_slice(b": ");
                        self.state = State::Value;
                        true
                    } else {
                        false
                    }
                }
                State::AfterValue => match b {
                    b',' => {
                        self.out.push(b);
                        self.newline();
                        self.state = if self.is_object(self.depth - 1) {
                            State::Key
                        } else {
                            State::Value
                        };
                        true
                    }
                    b'}' | b']' => self.close(b, false),
                    _ => false,
                },
                State::Done => false,
            };
            if !ok {
                self.state = State::Broken;
                return Some(i);
            }
            i += 1;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Re-indents `input` fed in pieces of `piece` bytes: the output, and
    /// the absolute offset of the break if any, and whether it was complete.
    fn run(input: &[u8], piece: usize) -> (String, Option<usize>, bool) {
        let mut r = Reindenter::new();
        let mut out = Vec::new();
        let mut at = 0;
        for chunk in input.chunks(piece.max(1)) {
            if let Some(i) = r.feed(chunk, &mut out).unwrap() {
                let broke = at + i;
                out.extend_from_slice(&input[broke..]);
                return (String::from_utf8(out).unwrap(), Some(broke), false);
            }
            at += chunk.len();
        }
        let complete = r.finish(&mut out).unwrap();
        (String::from_utf8(out).unwrap(), None, complete)
    }

    fn pretty(input: &str) -> String {
        let whole = run(input.as_bytes(), usize::MAX);
        // Any split gives the same output.
        for piece in [1, 2, 3, 7] {
            assert_eq!(run(input.as_bytes(), piece), whole, "piece {piece}");
        }
        assert!(whole.1.is_none() && whole.2, "{input:?} is JSON: {whole:?}");
        whole.0
    }

    #[test]
    fn reindents_keeping_order_and_number_text() {
        let text = r#" {"z":1,"a":[1, 2.50,{}],"s":"a,b:{\"c\"]","n":123456789012345678901234567890,"e":[], "x": 1.0e10, "u":"\u00e9\n"} "#;
        let out = pretty(text);
        assert_eq!(
            out,
            "{\n  \"z\": 1,\n  \"a\": [\n    1,\n    2.50,\n    {}\n  ],\n  \"s\": \"a,b:{\\\"c\\\"]\",\n  \"n\": 123456789012345678901234567890,\n  \"e\": [],\n  \"x\": 1.0e10,\n  \"u\": \"\\u00e9\\n\"\n}\n"
        );
        let reparsed: serde_json::Value = serde_json::from_str(&out).unwrap();
        let original: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(reparsed, original);
    }

    #[test]
    fn matches_serde_json_pretty_printing_for_plain_documents() {
        let value = serde_json::json!({
            "a": [1, [2, [3, {}]], {"b": null, "c": true, "d": false}],
            "é": "x\ty", "n": -0.5, "e": {"k": []}
        });
        let compact = serde_json::to_string(&value).unwrap();
        let want = serde_json::to_string_pretty(&value).unwrap() + "\n";
        assert_eq!(pretty(&compact), want);
    }

    #[test]
    fn scalars_and_blank_input() {
        assert_eq!(pretty("\"x\""), "\"x\"\n");
        assert_eq!(pretty(" 42 "), "42\n");
        assert_eq!(pretty("-0"), "-0\n");
        assert_eq!(pretty("null"), "null\n");
        assert_eq!(run(b"", 4), (String::new(), None, true));
        assert_eq!(run(b" \n", 4), (String::new(), None, true));
    }

    #[test]
    fn a_break_keeps_the_prefix_reindented_and_the_rest_as_received() {
        let (out, at, _) = run(b"[1,{\"a\":2},}}} garbage\n", 3);
        assert_eq!(at, Some(11));
        assert_eq!(out, "[\n  1,\n  {\n    \"a\": 2\n  },\n  }}} garbage\n");
        // Breaks at the first byte: everything as received.
        assert_eq!(run(b"<html>", 2).0, "<html>");
        assert_eq!(run(b"  <html>", 100).1, Some(2));
        // Trailing garbage after a complete document.
        assert_eq!(run(b"{} {}", 1), ("{}{}".to_owned(), Some(3), false));
    }

    #[test]
    fn invalid_input_breaks_where_it_stops_being_json() {
        for (text, at) in [
            (&b"[1,]"[..], 3),
            (b"{\"a\" 1}", 5),
            (b"{\"a\":1,}", 7),
            (b"{1:2}", 1),
            (b"[01]", 2),
            (b"[1.]", 3),
            (b"[1e]", 3),
            (b"[-]", 2),
            (b"[tru]", 4),
            (b"[truex]", 5),
            (b"[\"a\\x\"]", 4),
            (b"[\"\\u12g4\"]", 6),
            (b"[\"a\nb\"]", 3),
            (b"[}", 1),
            (b"{]", 1),
            (b"[1 2]", 3),
        ] {
            assert_eq!(
                run(text, 1).1,
                Some(at),
                "{:?}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[test]
    fn truncated_input_is_incomplete() {
        for text in ["[1,2", "{\"a\":", "\"abc", "[1.", "tr"] {
            let (_, at, complete) = run(text.as_bytes(), 2);
            assert_eq!((at, complete), (None, false), "{text}");
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = "[".repeat(MAX_DEPTH + 1);
        let (_, at, _) = run(deep.as_bytes(), 1000);
        assert_eq!(at, Some(MAX_DEPTH));
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        let (_, at, complete) = run(ok.as_bytes(), 1000);
        assert_eq!((at, complete), (None, true));
        // Why it broke is told apart from bad JSON.
        let mut r = Reindenter::new();
        assert_eq!(
            r.feed(deep.as_bytes(), &mut Vec::new()).unwrap(),
            Some(MAX_DEPTH)
        );
        assert!(r.too_deep());
        let mut r = Reindenter::new();
        assert_eq!(r.feed(b"[}", &mut Vec::new()).unwrap(), Some(1));
        assert!(!r.too_deep());
    }

    /// Counts what is written and remembers the largest single write.
    #[derive(Default)]
    struct Meter {
        total: usize,
        largest: usize,
    }

    impl Write for Meter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.total += buf.len();
            self.largest = self.largest.max(buf.len());
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn output_and_buffer_stay_bounded_for_any_shape() {
        // As deep as allowed, then a long run of commas at that depth: the
        // most output a byte can make.
        let mut body = "[".repeat(MAX_DEPTH);
        body.push('0');
        body.push_str(&",0".repeat(200_000));
        body.push_str(&"]".repeat(MAX_DEPTH));
        let mut meter = Meter::default();
        let mut r = Reindenter::new();
        assert_eq!(r.feed(body.as_bytes(), &mut meter).unwrap(), None);
        assert!(r.finish(&mut meter).unwrap());
        let per_byte = 2 * MAX_DEPTH + 2;
        assert!(meter.total <= body.len() * per_byte);
        assert!(
            meter.largest <= FEED_PIECE * per_byte + OUT_CHUNK,
            "{}",
            meter.largest
        );
        // Deeper than allowed breaks off at the limit, whatever follows.
        let hostile = "[".repeat(4096).repeat(64);
        let mut meter = Meter::default();
        let mut r = Reindenter::new();
        assert_eq!(
            r.feed(hostile.as_bytes(), &mut meter).unwrap(),
            Some(MAX_DEPTH)
        );
        assert!(meter.total < MAX_DEPTH * per_byte);
    }

    #[test]
    fn long_strings_pass_through_in_runs() {
        let long = format!("[\"{}\"]", "é".repeat(100_000));
        let out = pretty(&long);
        assert_eq!(out.len(), long.len() + 5);
    }
}
