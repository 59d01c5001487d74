//! The deterministic bodies of the API's streaming endpoints (`/bytes/<N>`,
//! `/json-array/<N>`, `/json-broken/<N>`, `/drop/<N>`, `/stall/<N>`), as
//! readers that produce them piece by piece. The same functions are public so
//! that a test can check a client's output byte for byte without the server
//! (or the test) ever holding the whole body.

use std::io::{self, Read};

use serde_json::{json, Value};

/// SplitMix64: a cheap, well-mixed function of the block index.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The byte at `offset` of every pattern body (`/bytes`, `/drop`, `/stall`).
/// Each aligned 8-byte block is a hash of its index, so a dropped, repeated or
/// reordered piece of a long body shows up at once; all 256 values occur.
pub fn pattern_byte(offset: u64) -> u8 {
    mix(offset / 8).to_le_bytes()[(offset % 8) as usize]
}

/// `len` pattern bytes starting at `offset` (see [`pattern_byte`]).
pub fn pattern_bytes(offset: u64, len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    fill_pattern(offset, &mut out);
    out
}

fn fill_pattern(offset: u64, buf: &mut [u8]) {
    // A partial first block, then whole 8-byte blocks (fast even unoptimised,
    // as tests build this crate).
    let skip = (offset % 8) as usize;
    let head = (8 - skip).min(buf.len()) % 8;
    let (first, rest) = buf.split_at_mut(if skip == 0 { 0 } else { head });
    if !first.is_empty() {
        first.copy_from_slice(&mix(offset / 8).to_le_bytes()[skip..skip + first.len()]);
    }
    for (block, chunk) in (offset.div_ceil(8)..).zip(rest.chunks_mut(8)) {
        chunk.copy_from_slice(&mix(block).to_le_bytes()[..chunk.len()]);
    }
}

/// A [`Read`] over `len` pattern bytes from `offset`: the body of
/// `/bytes/<len>` is `PatternReader::new(0, len)`.
#[derive(Debug, Clone)]
pub struct PatternReader {
    offset: u64,
    end: u64,
}

impl PatternReader {
    pub fn new(offset: u64, len: u64) -> Self {
        PatternReader {
            offset,
            end: offset.saturating_add(len),
        }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> u64 {
        self.end - self.offset
    }
}

impl Read for PatternReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = usize::try_from(self.remaining())
            .unwrap_or(usize::MAX)
            .min(buf.len());
        fill_pattern(self.offset, &mut buf[..n]);
        self.offset += n as u64;
        Ok(n)
    }
}

/// Element `i` of the `/json-array` and `/json-broken` bodies. Strings carry
/// escapes and non-ASCII text so that a re-indenting client is exercised.
pub fn json_array_item(i: u64) -> Value {
    json!({
        "index": i,
        "id": format!("item-{i}"),
        "even": i.is_multiple_of(2),
        "ratio": (i % 1000) as f64 / 8.0,
        "text": format!("line \"{i}\"\t\u{e9}\u{2603}\n\\end"),
        "tags": ["a", i % 7, null],
        "nested": { "square": i.wrapping_mul(i), "empty": {}, "none": [] },
    })
}

/// The bytes of element `i` exactly as the server sends them (compact).
pub fn json_array_item_bytes(i: u64) -> Vec<u8> {
    json_array_item(i).to_string().into_bytes()
}

/// What `/json-broken/<N>` sends after its N elements (and the comma after
/// the last one): text that stops being JSON at its first byte, then more
/// lines of garbage (about 20 KiB in all, more than one read buffer).
pub fn json_broken_tail() -> Vec<u8> {
    let mut tail = b"}}}not json at all {\"x\": [1, 2\n".to_vec();
    for line in 0..500 {
        tail.extend_from_slice(format!("garbage line {line:05} ~~~~~~~~~~~~~~~~~~\n").as_bytes());
    }
    tail
}

/// A [`Read`] over a JSON array of generated elements: the body of
/// `/json-array/<N>` ([`JsonArrayReader::array`]) or `/json-broken/<N>`
/// ([`JsonArrayReader::broken`]). Produced one element at a time.
#[derive(Debug, Clone)]
pub struct JsonArrayReader {
    next: u64,
    count: u64,
    broken: bool,
    started: bool,
    finished: bool,
    buf: Vec<u8>,
    pos: usize,
}

impl JsonArrayReader {
    /// `[e0,e1,...,e(n-1)]` (compact, no newline), elements from
    /// [`json_array_item`].
    pub fn array(n: u64) -> Self {
        Self::new(n, false)
    }

    /// `[e0,e1,...,e(n-1),` followed by [`json_broken_tail`]: valid JSON up
    /// to and including the comma after the last element, garbage from the
    /// tail's first byte on.
    pub fn broken(n: u64) -> Self {
        Self::new(n, true)
    }

    fn new(count: u64, broken: bool) -> Self {
        JsonArrayReader {
            next: 0,
            count,
            broken,
            started: false,
            finished: false,
            buf: Vec::new(),
            pos: 0,
        }
    }

    /// Fills `buf` with the next piece; false at the end.
    fn refill(&mut self) -> bool {
        self.buf.clear();
        self.pos = 0;
        if !self.started {
            self.started = true;
            self.buf.push(b'[');
        }
        if self.next < self.count {
            if self.next > 0 && !self.broken {
                self.buf.push(b',');
            }
            self.buf
                .extend_from_slice(&json_array_item_bytes(self.next));
            if self.broken {
                self.buf.push(b',');
            }
            self.next += 1;
        } else if !self.finished {
            self.finished = true;
            if self.broken {
                self.buf.extend_from_slice(&json_broken_tail());
            } else {
                self.buf.push(b']');
            }
        }
        !self.buf.is_empty()
    }
}

impl Read for JsonArrayReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.buf.len() && !self.refill() {
            return Ok(0);
        }
        let n = (self.buf.len() - self.pos).min(out.len());
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn pattern_is_offset_consistent() {
        let whole = pattern_bytes(0, 1000);
        assert_eq!(pattern_bytes(13, 100), whole[13..113].to_vec());
        assert_eq!(pattern_byte(999), whole[999]);
        let mut read = Vec::new();
        PatternReader::new(5, 990).read_to_end(&mut read).unwrap();
        assert_eq!(read, whole[5..995].to_vec());
        assert_ne!(whole[0..8], whole[8..16]);
        for start in 0..20u64 {
            for len in 0..20usize {
                let expected: Vec<u8> = (start..start + len as u64).map(pattern_byte).collect();
                assert_eq!(pattern_bytes(start, len), expected, "{start}+{len}");
            }
        }
    }

    #[test]
    fn arrays_parse_and_break() {
        for n in [0, 1, 3] {
            let mut body = Vec::new();
            JsonArrayReader::array(n).read_to_end(&mut body).unwrap();
            let v: Value = serde_json::from_slice(&body).unwrap();
            let want: Vec<Value> = (0..n).map(json_array_item).collect();
            assert_eq!(v, Value::Array(want));

            let mut broken = Vec::new();
            JsonArrayReader::broken(n).read_to_end(&mut broken).unwrap();
            let tail = json_broken_tail();
            assert!(broken.ends_with(&tail));
            assert!(serde_json::from_slice::<Value>(&broken).is_err());
            let valid = &broken[..broken.len() - tail.len()];
            if n > 0 {
                // Closing the array where the garbage starts makes it valid.
                let mut closed = valid[..valid.len() - 1].to_vec();
                closed.push(b']');
                assert_eq!(serde_json::from_slice::<Value>(&closed).unwrap(), v);
            } else {
                assert_eq!(valid, b"[");
            }
        }
    }
}
