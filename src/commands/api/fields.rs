//! The fields of `lmi api -f KEY=VALUE` and `-F KEY=VALUE` (SPEC §4.4),
//! gh-style.
//!
//! - `-f` adds a string, as written. `-F` adds a typed value: `true`,
//!   `false`, `null` and JSON numbers become those JSON values, `@PATH` is
//!   the file's content as a string and `@-` stdin's; anything else is a
//!   string.
//! - `KEY[sub]=V` nests objects and `KEY[]=V` appends to an array;
//!   `KEY[][sub]=V` fills the array's last object until a key repeats,
//!   then starts a new one (so `-f a[][n]=1 -f a[][n]=2` is two objects).
//! - Fields become either query parameters (kept as written, in order, the
//!   brackets included) or a JSON object; the caller decides which.
//!
//! Everything is read and checked here, before any token or request: a
//! field without `=`, a malformed key, an unreadable `@PATH` are usage
//! errors (exit 2) naming the field or the file.

use std::fs::File;
use std::io::{self, Read};

use serde_json::{Map, Value};

use super::request_body::ONCE_LIMIT;
use crate::error::{Error, Result};

/// One step of a field's key: `name` or `[name]` into an object, `[]` onto
/// an array.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Append,
}

/// A parsed field: the key as written (for the query string), its steps
/// (for the JSON body) and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub key: String,
    steps: Vec<Step>,
    pub value: Value,
}

/// The fields of one command line, in order: `-f` ones, then `-F` ones (as
/// gh does: clap keeps each flag's values apart).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fields(pub Vec<Field>);

impl Fields {
    /// Parses `-f` (`raw`) and `-F` (`typed`) arguments, reading `@PATH`
    /// files and `@-` stdin (at most once). `stdin_taken` says `--file -`
    /// already reads stdin.
    pub fn parse(raw: &[String], typed: &[String], stdin_taken: bool) -> Result<Fields> {
        let mut stdin_used = stdin_taken;
        let mut fields = Vec::with_capacity(raw.len() + typed.len());
        for arg in raw {
            let (key, value) = split("-f", arg)?;
            fields.push(Field {
                key: key.to_owned(),
                steps: steps(arg, key)?,
                value: Value::String(value.to_owned()),
            });
        }
        for arg in typed {
            let (key, value) = split("-F", arg)?;
            let steps = steps(arg, key)?;
            let value = typed_value(key, value, &mut stdin_used)?;
            fields.push(Field {
                key: key.to_owned(),
                steps,
                value,
            });
        }
        Ok(Fields(fields))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Removes the top-level field `name` (GraphQL's `query`) and returns
    /// its value; the last one wins when it is given twice.
    pub fn take(&mut self, name: &str) -> Option<Value> {
        let mut taken = None;
        self.0.retain(|f| {
            if f.steps == [Step::Key(name.to_owned())] {
                taken = Some(f.value.clone());
                false
            } else {
                true
            }
        });
        taken
    }

    /// The query-string pairs, in order: keys as written, values as text
    /// (`null` is empty).
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        self.0
            .iter()
            .map(|f| {
                let text = match &f.value {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => other.to_string(),
                };
                (f.key.clone(), text)
            })
            .collect()
    }

    /// The fields as one JSON object; a key used both as a value and as an
    /// object or array is a usage error.
    pub fn to_object(&self) -> Result<Map<String, Value>> {
        let mut root = Map::new();
        for field in &self.0 {
            insert(&mut root, &field.steps, field.value.clone()).map_err(|what| {
                Error::usage(format!("field {:?} {what}", field.key)).with_hint(
                    "a key holds one value, one object (KEY[sub]=) or one array (KEY[]=)",
                )
            })?;
        }
        Ok(root)
    }
}

/// `KEY=VALUE` split at the first `=`.
fn split<'a>(flag: &str, arg: &'a str) -> Result<(&'a str, &'a str)> {
    match arg.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key, value)),
        Some(_) => Err(Error::usage(format!("field {arg:?} has no key before '='"))
            .with_hint(format!("write fields as {flag} KEY=VALUE"))),
        None => Err(Error::usage(format!("field {arg:?} has no '='"))
            .with_hint(format!("write fields as {flag} KEY=VALUE"))),
    }
}

/// `name`, `name[sub]`, `name[]`, `name[a][][b]`.
fn steps(arg: &str, key: &str) -> Result<Vec<Step>> {
    let bad = |why: &str| {
        Error::usage(format!("field {arg:?}: {why}")).with_hint(
            "keys are NAME, NAME[SUB] (nested object) or NAME[] (array), e.g. -f 'labels[]=bug'",
        )
    };
    let (name, mut rest) = match key.find('[') {
        Some(i) => key.split_at(i),
        None => (key, ""),
    };
    if name.is_empty() {
        return Err(bad("the key has no name before '['"));
    }
    if name.contains(']') {
        return Err(bad("the key has a ']' without '['"));
    }
    let mut steps = vec![Step::Key(name.to_owned())];
    while !rest.is_empty() {
        let Some(inner) = rest.strip_prefix('[') else {
            return Err(bad("text after ']' must be another [...]"));
        };
        let Some(end) = inner.find(']') else {
            return Err(bad("a '[' is not closed"));
        };
        let sub = &inner[..end];
        if sub.contains('[') {
            return Err(bad("brackets cannot nest inside one another"));
        }
        steps.push(if sub.is_empty() {
            Step::Append
        } else {
            Step::Key(sub.to_owned())
        });
        rest = &inner[end + 1..];
    }
    Ok(steps)
}

/// The value of a `-F` field.
fn typed_value(key: &str, value: &str, stdin_used: &mut bool) -> Result<Value> {
    match value {
        "true" => return Ok(Value::Bool(true)),
        "false" => return Ok(Value::Bool(false)),
        "null" => return Ok(Value::Null),
        _ => {}
    }
    if let Some(path) = value.strip_prefix('@') {
        return read_source(key, path, stdin_used).map(Value::String);
    }
    if looks_numeric(value) {
        if let Ok(Value::Number(n)) = serde_json::from_str::<Value>(value) {
            return Ok(Value::Number(n));
        }
    }
    Ok(Value::String(value.to_owned()))
}

/// JSON number syntax only (no spaces, no `+`, `NaN` or `0x`): serde_json
/// decides the rest (leading zeros, exponents).
fn looks_numeric(value: &str) -> bool {
    let digits = value.strip_prefix('-').unwrap_or(value);
    digits.starts_with(|c: char| c.is_ascii_digit())
        && value
            .chars()
            .all(|c| c.is_ascii_digit() || "-+.eE".contains(c))
}

/// The content of `@PATH` (or `@-`) as a string.
fn read_source(key: &str, path: &str, stdin_used: &mut bool) -> Result<String> {
    let (shown, bytes) = if path == "-" {
        if *stdin_used {
            return Err(Error::usage(format!(
                "field {key}=@-: stdin is already read by another field or --file -"
            ))
            .with_hint("stdin can be read once; put the other values in files"));
        }
        *stdin_used = true;
        (
            "stdin".to_owned(),
            read_limited("stdin", io::stdin().lock())?,
        )
    } else {
        if path.is_empty() {
            return Err(
                Error::usage(format!("field {key}=@ names no file")).with_hint(
                    "write -F KEY=@PATH for a file's content, or -f KEY=@... for the literal text",
                ),
            );
        }
        let file = File::open(path).map_err(|e| {
            Error::usage(format!("field {key}=@{path}: cannot read {path}: {e}"))
                .with_hint("-F KEY=@PATH sends the file's content; use -f for a literal '@'")
        })?;
        (path.to_owned(), read_limited(path, file)?)
    };
    String::from_utf8(bytes).map_err(|_| {
        Error::usage(format!(
            "field {key}=@{path}: {shown} is not UTF-8 text, which a field must be"
        ))
        .with_hint("send binary content as a body with --file and a Content-Type header")
    })
}

/// Reads up to [`ONCE_LIMIT`] bytes: a field is held in memory.
fn read_limited(shown: &str, input: impl Read) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    input
        .take(ONCE_LIMIT + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::usage(format!("cannot read {shown}: {e}")))?;
    if bytes.len() as u64 > ONCE_LIMIT {
        return Err(Error::usage(format!(
            "{shown} is larger than {} MiB, the most a field holds",
            ONCE_LIMIT / (1024 * 1024)
        ))
        .with_hint("send large content as the body with --file PATH, which is streamed"));
    }
    Ok(bytes)
}

/// Puts `value` at `steps` under `object`; the error says what clashed.
fn insert(
    object: &mut Map<String, Value>,
    steps: &[Step],
    value: Value,
) -> std::result::Result<(), &'static str> {
    let Some((Step::Key(name), rest)) = steps.split_first() else {
        return Err("has a key that does not start with a name");
    };
    if rest.is_empty() {
        if object.contains_key(name) && (is_container(&object[name]) || is_container(&value)) {
            return Err("clashes with another field of the same key");
        }
        object.insert(name.clone(), value);
        return Ok(());
    }
    let slot = object.entry(name.clone()).or_insert_with(|| match rest[0] {
        Step::Append => Value::Array(Vec::new()),
        Step::Key(_) => Value::Object(Map::new()),
    });
    insert_into(slot, rest, value)
}

/// `slot` is the container the next step (`steps[0]`) goes into.
fn insert_into(
    slot: &mut Value,
    steps: &[Step],
    value: Value,
) -> std::result::Result<(), &'static str> {
    match (&steps[0], slot) {
        (Step::Key(_), Value::Object(map)) => insert(map, steps, value),
        (Step::Append, Value::Array(items)) => {
            let rest = &steps[1..];
            match rest.first() {
                None => {
                    items.push(value);
                    Ok(())
                }
                Some(Step::Append) => Err("cannot append to an array inside an array (KEY[][])"),
                Some(Step::Key(next)) => {
                    // Fill the last object until the key repeats.
                    let reuse =
                        matches!(items.last(), Some(Value::Object(m)) if !m.contains_key(next));
                    if !reuse {
                        items.push(Value::Object(Map::new()));
                    }
                    match items.last_mut() {
                        Some(Value::Object(map)) => insert(map, rest, value),
                        _ => Err("clashes with another field of the same key"),
                    }
                }
            }
        }
        _ => Err("clashes with another field of the same key"),
    }
}

fn is_container(v: &Value) -> bool {
    v.is_object() || v.is_array()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    fn object(raw: &[&str], typed: &[&str]) -> Result<Value> {
        Fields::parse(&strings(raw), &strings(typed), false)?
            .to_object()
            .map(Value::Object)
    }

    #[test]
    fn typed_values() {
        let got = object(
            &["s=true", "e="],
            &[
                "t=true",
                "f=false",
                "n=null",
                "i=42",
                "neg=-7",
                "x=1.5e3",
                "big=12345678901234567890",
                "zero=01",
                "word=hello",
                "sp= 1",
                "plus=+1",
                "nan=NaN",
                "eq=a=b",
            ],
        )
        .unwrap();
        assert_eq!(
            got,
            json!({
                "s": "true", "e": "",
                "t": true, "f": false, "n": null, "i": 42, "neg": -7, "x": 1500.0,
                "big": 12345678901234567890u64, "zero": "01", "word": "hello",
                "sp": " 1", "plus": "+1", "nan": "NaN", "eq": "a=b"
            })
        );
    }

    #[test]
    fn nesting_and_arrays() {
        let got = object(
            &[
                "title=x",
                "user[name]=ann",
                "user[address][city]=Oslo",
                "labels[]=bug",
                "labels[]=ui",
                "items[][n]=a",
                "items[][v]=1",
                "items[][n]=b",
            ],
            &["user[age]=30", "labels[]=3"],
        )
        .unwrap();
        assert_eq!(
            got,
            json!({
                "title": "x",
                "user": {"name": "ann", "address": {"city": "Oslo"}, "age": 30},
                "labels": ["bug", "ui", 3],
                "items": [{"n": "a", "v": "1"}, {"n": "b"}],
            })
        );
    }

    #[test]
    fn query_pairs_keep_keys_as_written_in_order() {
        let fields = Fields::parse(
            &strings(&["q=a b", "tag[]=x"]),
            &strings(&["n=null", "p=2", "b=true"]),
            false,
        )
        .unwrap();
        assert_eq!(
            fields.query_pairs(),
            vec![
                ("q".to_owned(), "a b".to_owned()),
                ("tag[]".to_owned(), "x".to_owned()),
                ("n".to_owned(), String::new()),
                ("p".to_owned(), "2".to_owned()),
                ("b".to_owned(), "true".to_owned()),
            ]
        );
    }

    #[test]
    fn bad_fields_are_usage_errors() {
        for bad in [
            "noequals", "=v", "[x]=1", "a[=1", "a]=1", "a[b]c=1", "a[[b]]=1", "a[][]=1",
        ] {
            let err = object(&[bad], &[]).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad}");
            assert!(
                err.message().contains(bad.split('=').next().unwrap()),
                "{bad}: {}",
                err.message()
            );
        }
        for clash in [
            &["a=1", "a[b]=2"][..],
            &["a[b]=1", "a=2"],
            &["a[]=1", "a[b]=2"],
            &["a[b]=1", "a[]=2"],
        ] {
            assert_eq!(object(clash, &[]).unwrap_err().exit_code(), 2, "{clash:?}");
        }
        // The same plain key twice: the last wins, like a form.
        assert_eq!(object(&["a=1", "a=2"], &[]).unwrap(), json!({"a": "2"}));
    }

    #[test]
    fn files_are_read_and_missing_ones_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.graphql");
        std::fs::write(&path, "query { viewer }\n").unwrap();
        let arg = format!("query=@{}", path.display());
        let mut fields = Fields::parse(&[], &[arg], false).unwrap();
        assert_eq!(fields.take("query"), Some(json!("query { viewer }\n")));
        assert!(fields.is_empty());

        let missing = dir.path().join("missing.txt");
        let err = Fields::parse(&[], &[format!("k=@{}", missing.display())], false).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(
            err.message().contains(&missing.display().to_string()),
            "{}",
            err.message()
        );

        // -f keeps a leading '@' as text.
        let raw = Fields::parse(&strings(&["k=@x"]), &[], false).unwrap();
        assert_eq!(raw.to_object().unwrap()["k"], json!("@x"));

        // stdin is read once, and not when --file - reads it.
        let err = Fields::parse(&[], &strings(&["k=@-"]), true).unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }
}
