//! `--jq '.[] | .a.b'` without building all of each element: when what
//! follows the leading `.[] |` is a path of field names, each element is
//! built as a jaq value with only the fields on that path (a projection,
//! as a query planner pushes one down), and jaq runs the program on it.
//! The rest of the element is parsed (so it is checked exactly as a whole
//! parse checks it) but nothing of it is kept. Building every string,
//! array and object of an element is most of the cost of the per-element
//! walk, and `.[] | .id` is the common case.
//!
//! The program sees the same value at its path as on the whole element, so
//! its answer is the same; an element that is not JSON, or where the path
//! meets something that is neither an object nor null (an error or another
//! result in jq), is left to the whole element, which reports it as
//! before.

use std::fmt;

use jaq_json::{Map, Val};
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

/// Words of jq's grammar, which are not field names after a dot.
const KEYWORDS: &[&str] = &[
    "and", "as", "catch", "def", "elif", "else", "end", "foreach", "if", "import", "include",
    "label", "or", "reduce", "then", "try", "__loc__",
];

/// The field names of a path `.a.b.c`, outermost first.
pub(super) struct FieldPath(Vec<String>);

impl FieldPath {
    /// `.a.b.c` (identifiers only, no spaces inside, no `?`); anything else
    /// is not a path this reads.
    pub(super) fn parse(text: &str) -> Option<FieldPath> {
        let text = text.trim();
        let mut names = Vec::new();
        for name in text.strip_prefix('.')?.split('.') {
            let mut chars = name.chars();
            let head = chars.next()?;
            let word = (head.is_ascii_alphabetic() || head == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !word || KEYWORDS.contains(&name) {
                return None;
            }
            names.push(name.to_owned());
        }
        Some(FieldPath(names))
    }

    /// The JSON `element` with only the fields on the path; None when the
    /// program has to run on the whole element (it is not JSON, or the
    /// path meets a value that is neither an object nor null).
    pub(super) fn project(&self, element: &[u8]) -> Option<Val> {
        let mut de = serde_json::Deserializer::from_slice(element);
        let found = At(&self.0).deserialize(&mut de).ok()?;
        de.end().ok()?;
        found
    }
}

/// The value being parsed with only the fields on the rest of a path:
/// `Some` with it, `None` when only the whole value can say.
struct At<'p>(&'p [String]);

impl<'de> DeserializeSeed<'de> for At<'_> {
    type Value = Option<Val>;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Option<Val>, D::Error> {
        match self.0 {
            [] => Val::deserialize(de).map(Some),
            _ => de.deserialize_any(self),
        }
    }
}

impl<'de> Visitor<'de> for At<'_> {
    type Value = Option<Val>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    /// `null | .a` is null.
    fn visit_unit<E>(self) -> Result<Option<Val>, E> {
        Ok(Some(Val::Null))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<Val>, A::Error> {
        // Only an empty path has no first name, and it is parsed as a value
        // without this visitor.
        let Some((name, rest)) = self.0.split_first() else {
            return Ok(None);
        };
        // Of repeated fields the last one counts, as it does in the object
        // jaq builds; a missing field stays missing.
        let mut found = Some(None);
        while let Some(is_name) = map.next_key_seed(Named(name))? {
            if is_name {
                found = map.next_value_seed(At(rest))?.map(Some);
            } else {
                map.next_value::<Skip>()?;
            }
        }
        let Some(field) = found else {
            return Ok(None);
        };
        let mut object = Map::default();
        if let Some(value) = field {
            object.insert(Val::from(name.clone()), value);
        }
        Ok(Some(Val::obj(object)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<Val>, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(None)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Option<Val>, E> {
        Ok(None)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Option<Val>, E> {
        Ok(None)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Option<Val>, E> {
        Ok(None)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Option<Val>, E> {
        Ok(None)
    }
    fn visit_str<E>(self, _: &str) -> Result<Option<Val>, E> {
        Ok(None)
    }
}

/// Whether an object key, parsed as a whole parse parses it, is `.0`.
struct Named<'p>(&'p str);

impl<'de> DeserializeSeed<'de> for Named<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<bool, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Named<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E>(self, key: &str) -> Result<bool, E> {
        Ok(key == self.0)
    }
}

/// A value parsed and dropped. It is parsed as [`Val`] parses it (numbers
/// converted, strings decoded and checked), so an element is JSON here
/// exactly when it is JSON to a whole parse; only nothing is built.
struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Skip, D::Error> {
        de.deserialize_any(SkipVisitor)
    }
}

struct SkipVisitor;

impl<'de> Visitor<'de> for SkipVisitor {
    type Value = Skip;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_str<E>(self, _: &str) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Skip, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Skip)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skip, A::Error> {
        while map.next_entry::<Skip, Skip>()?.is_some() {}
        Ok(Skip)
    }
}

#[cfg(test)]
mod tests {
    use super::super::jq::Program;
    use super::*;
    use crate::secret::Secret;

    /// What `program` prints for `body`, or its error's exit code and text.
    fn run(program: &str, body: &[u8]) -> Result<Vec<u8>, (u8, String)> {
        let p = Program::compile("--jq", program).unwrap();
        let mut out = Vec::new();
        match p.filter(body, &mut out, "GET /x", &Secret::new("tok")) {
            Ok(()) => Ok(out),
            Err(e) => Err((e.exit_code(), e.message().replace(program, "PROGRAM"))),
        }
    }

    #[test]
    fn only_paths_of_field_names_are_read_this_way() {
        let names = |t| FieldPath::parse(t).map(|p| p.0);
        assert_eq!(names(" .id"), Some(vec!["id".to_owned()]));
        assert_eq!(
            names(".a.b_2._c "),
            Some(vec!["a".into(), "b_2".into(), "_c".into()])
        );
        for other in [
            ".", ".a[0]", ".a?", ".a | .b", ". a", ".a .b", ".1a", ".if", ".a.", "..", ".\"a\"",
            ".é",
        ] {
            assert!(names(other).is_none(), "{other}");
        }
    }

    #[test]
    fn a_path_reads_what_the_whole_program_reads() {
        let elements: &[&[u8]] = &[
            br#"{"id":"x","n":[1,{"a":"\u00e9\t"}]}"#,
            br#"{"id":1.50}"#,
            br#"{"id":1e2,"a":{"b":-0}}"#,
            br#"{"id":null,"a":null}"#,
            b"{}",
            b"null",
            br#"{"id":[1,{"a":"\u00e9"}],"a":{"b":{"c":[]}}}"#,
            br#"{"i\u0064":"escaped key","a":{"\u0062":"B"}}"#,
            br#"{"id":"first","id":"last"}"#,
            br#"{"a":5,"a":{"b":1}}"#,
            br#"{"id":"t\nu \"q\" \u2603","x":18446744073709551616}"#,
            br#"{"x":[[[{"y":[true,false,null]}]]],"id":{"k":[true,false]}}"#,
            "{\"id\":\"é☃\"}".as_bytes(),
        ];
        let faults: &[&[u8]] = &[
            br#"{"a":{"b":1},"a":5}"#,
            b"5",
            b"[1]",
            br#""s""#,
            br#"{"a":"s"}"#,
            br#"{"x":"\ud800","id":"a"}"#,
            br#"{"x":1e400,"id":"a"}"#,
            br#"{"id":"a",}"#,
            br#"{"id" "a"}"#,
            br#"{"id":1} x"#,
            b"{\"x\":\"\xff\",\"id\":\"a\"}",
            b"{\"\xff\":1,\"id\":\"a\"}",
        ];
        let deep = format!("{{\"x\":{}{},\"id\":1}}", "[".repeat(200), "]".repeat(200));
        let mut cases: Vec<Vec<u8>> = elements.iter().map(|e| e.to_vec()).collect();
        cases.extend(faults.iter().map(|e| e.to_vec()));
        cases.push(deep.into_bytes());
        for path in [".id", ".a.b", ".a", ".a.b.c"] {
            let all: Vec<u8> = [&b"["[..], &elements.join(&b","[..]), b"]"].concat();
            let read = run(&format!(".[] | {path}"), &all);
            assert_eq!(read, run(&format!(".[] | ({path})"), &all), "{path}");
            for element in &cases {
                let body = [&b"[\"before\", "[..], element, b"]"].concat();
                let shown = String::from_utf8_lossy(element);
                let whole = run(&format!(".[] | ({path})"), &body);
                assert_eq!(
                    run(&format!(".[] | {path}"), &body),
                    whole,
                    "{path} {shown}"
                );
                assert_eq!(run(&format!(".[]{path}"), &body), whole, "{path} {shown}");
            }
        }
        // The projection keeps only the path's field of objects, keeps
        // null, and leaves the rest to the whole element.
        let id = FieldPath::parse(".id").unwrap();
        let kept = |element: &[u8]| id.project(element).map(|v| v.to_string());
        assert_eq!(
            kept(br#"{"n":[1],"id":"x","m":{}}"#).as_deref(),
            Some(r#"{"id":"x"}"#)
        );
        assert_eq!(kept(br#"{"n":1}"#).as_deref(), Some("{}"));
        assert_eq!(kept(b"null").as_deref(), Some("null"));
        // (Not the faults of `.a` only.)
        for fault in faults.iter().filter(|f| !f.starts_with(br#"{"a""#)) {
            assert!(
                id.project(fault).is_none(),
                "{}",
                String::from_utf8_lossy(fault)
            );
        }
    }
}
