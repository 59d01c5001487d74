//! The rules behind the architecture checks: reading `src/` into (path,
//! text) pairs, finding the references between top-level modules (comments,
//! strings and trailing test modules blanked out), and turning them into
//! upward references, circles and over-long files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::LAYERS;

/// One file below `src/`: its path relative to `src/` (with `/`) and text.
pub(super) struct Source {
    path: String,
    text: String,
}

pub(super) fn src(path: &str, text: &str) -> Source {
    Source {
        path: path.to_owned(),
        text: text.to_owned(),
    }
}

/// One use of another top-level module: `from` names `to` at `file:line`.
pub(super) struct Reference {
    pub(super) from: String,
    pub(super) to: String,
    file: String,
    line: usize,
    code: String,
}

impl Reference {
    fn at(&self) -> String {
        format!("src/{}:{}: `{}`", self.file, self.line, self.code)
    }
}

/// Every `.rs` file below `root`, sorted by path.
pub(super) fn read_tree(root: &Path) -> Vec<Source> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(root).unwrap().to_string_lossy();
                out.push(src(
                    &rel.replace('\\', "/"),
                    &std::fs::read_to_string(&path).unwrap(),
                ));
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    assert!(
        out.iter().any(|s| s.path == "lib.rs"),
        "no src/lib.rs below {}",
        root.display()
    );
    out
}

/// The number of lines before a trailing `#[cfg(test)]` + `mod tests`
/// (all lines when there is none).
fn non_test_lines(text: &str) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    (0..lines.len())
        .find(|&i| {
            lines[i].trim_end() == "#[cfg(test)]"
                && lines[i + 1..]
                    .iter()
                    .find(|l| !l.trim().is_empty())
                    .is_some_and(|l| l.trim_start().starts_with("mod tests"))
        })
        .unwrap_or(lines.len())
}

/// `text` with comments and string and char literals replaced by spaces;
/// newlines are kept, so line numbers stay right.
fn blank_comments_and_strings(text: &str) -> String {
    let c: Vec<char> = text.chars().collect();
    let mut out = c.clone();
    let ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    let blank = |out: &mut Vec<char>, from: usize, to: usize| {
        for ch in &mut out[from..to.min(c.len())] {
            if *ch != '\n' {
                *ch = ' ';
            }
        }
    };
    let mut i = 0;
    while i < c.len() {
        let at = |k: usize| c.get(k).copied().unwrap_or('\0');
        let start = i;
        if at(i) == '/' && at(i + 1) == '/' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if at(i) == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < c.len() {
                if at(i) == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if at(i) == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if at(i) == 'r'
            && (i == 0 || !ident(c[i - 1]) || (c[i - 1] == 'b' && (i < 2 || !ident(c[i - 2]))))
            && matches!(at(i + 1), '"' | '#')
        {
            let mut j = i + 1;
            while at(j) == '#' {
                j += 1;
            }
            if at(j) != '"' {
                i += 1;
                continue;
            }
            let hashes = j - i - 1;
            i = j + 1;
            while i < c.len() && !(c[i] == '"' && (1..=hashes).all(|h| at(i + h) == '#')) {
                i += 1;
            }
            i += 1 + hashes;
        } else if at(i) == '"' {
            i += 1;
            while i < c.len() && c[i] != '"' {
                i += if c[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
        } else if at(i) == '\'' && (at(i + 1) == '\\' || at(i + 2) == '\'') {
            i += 2;
            while i < c.len() && c[i] != '\'' {
                i += 1;
            }
            i += 1;
        } else {
            i += 1;
            continue;
        }
        blank(&mut out, start, i);
    }
    out.into_iter().collect()
}

#[derive(PartialEq)]
enum Tok {
    Ident(String),
    PathSep,
    Open,
    Close,
    Comma,
    Other,
}

fn tokens(code: &str) -> Vec<(Tok, usize)> {
    let c: Vec<char> = code.chars().collect();
    let (mut out, mut line, mut i) = (Vec::new(), 1, 0);
    while i < c.len() {
        let ch = c[i];
        if ch.is_alphanumeric() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push((Tok::Ident(c[start..i].iter().collect()), line));
            continue;
        }
        match ch {
            '\n' => line += 1,
            ':' if c.get(i + 1) == Some(&':') => {
                out.push((Tok::PathSep, line));
                i += 1;
            }
            '{' => out.push((Tok::Open, line)),
            '}' => out.push((Tok::Close, line)),
            ',' => out.push((Tok::Comma, line)),
            ch if ch.is_whitespace() => {}
            _ => out.push((Tok::Other, line)),
        }
        i += 1;
    }
    out
}

/// The top-level module of a path below `src/`, and the module path of
/// the file (`auth/sso/flow.rs` → `auth::sso::flow`; `lib.rs` → root).
fn module_of(path: &str) -> (String, Vec<String>) {
    let mut parts: Vec<String> = path
        .trim_end_matches(".rs")
        .split('/')
        .map(str::to_owned)
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    let top = parts[0].clone();
    if parts.len() == 1 && (top == "lib" || top == "main") {
        parts.clear();
    }
    (top, parts)
}

/// The first segments of the path starting at `toks[j]`: one name, or each
/// entry of a `{a::b, c}` group.
fn first_segments(toks: &[(Tok, usize)], j: usize) -> Vec<String> {
    match toks.get(j) {
        Some((Tok::Ident(name), _)) => vec![name.clone()],
        Some((Tok::Open, _)) => {
            let (mut names, mut depth, mut expect) = (Vec::new(), 0, true);
            for (tok, _) in &toks[j..] {
                match tok {
                    Tok::Open => {
                        depth += 1;
                        if depth == 1 {
                            continue;
                        }
                    }
                    Tok::Close if depth == 1 => break,
                    Tok::Close => depth -= 1,
                    Tok::Comma if depth == 1 => {
                        expect = true;
                        continue;
                    }
                    Tok::Ident(name) if depth == 1 && expect => names.push(name.clone()),
                    _ => {}
                }
                expect = false;
            }
            names
        }
        _ => Vec::new(),
    }
}

/// Every reference from one top-level module to another, from `crate::x`,
/// `super::…::x`, bare `x::` paths in `lib.rs`, and `lmi::` in `main.rs`.
/// A crate-root item that is no module (`crate::run`) counts as `lib`.
pub(super) fn references(sources: &[Source]) -> Vec<Reference> {
    let modules: BTreeSet<String> = sources.iter().map(|s| module_of(&s.path).0).collect();
    let resolve = |name: &str| {
        if modules.contains(name) {
            name.to_owned()
        } else {
            "lib".to_owned()
        }
    };
    let mut out = Vec::new();
    for s in sources {
        let (top, path) = module_of(&s.path);
        let raw: Vec<&str> = s.text.lines().collect();
        let code = blank_comments_and_strings(&raw[..non_test_lines(&s.text)].join("\n"));
        let toks = tokens(&code);
        for i in 0..toks.len() {
            let (Tok::Ident(word), line) = &toks[i] else {
                continue;
            };
            let path_start = i == 0 || toks[i - 1].0 != Tok::PathSep;
            if !path_start || toks.get(i + 1).map(|t| &t.0) != Some(&Tok::PathSep) {
                continue;
            }
            let targets: Vec<String> = match word.as_str() {
                "lmi" if top == "main" => vec!["lib".to_owned()],
                "crate" if top != "main" => first_segments(&toks, i + 2)
                    .iter()
                    .filter(|n| *n != "self")
                    .map(|n| resolve(n))
                    .collect(),
                "super" if top != "main" => {
                    let mut j = i;
                    let mut base = path.clone();
                    while toks
                        .get(j)
                        .is_some_and(|t| t.0 == Tok::Ident("super".into()))
                        && toks.get(j + 1).is_some_and(|t| t.0 == Tok::PathSep)
                    {
                        base.pop();
                        j += 2;
                    }
                    match base.first() {
                        Some(m) => vec![m.clone()],
                        None => first_segments(&toks, j)
                            .iter()
                            .filter(|n| *n != "self")
                            .map(|n| resolve(n))
                            .collect(),
                    }
                }
                name if top == "lib" && name != "lib" && modules.contains(name) => {
                    vec![name.to_owned()]
                }
                _ => Vec::new(),
            };
            for to in targets.into_iter().filter(|t| *t != top) {
                out.push(Reference {
                    from: top.clone(),
                    to,
                    file: s.path.clone(),
                    line: *line,
                    code: raw[line - 1].trim().to_owned(),
                });
            }
        }
    }
    out
}

/// A module's layer (0 is the top) and whether `LAYERS` names it.
fn layer(module: &str) -> (usize, bool) {
    match LAYERS.iter().position(|l| l.contains(&module)) {
        Some(n) => (n, true),
        None => (LAYERS.len() - 1, false),
    }
}

/// Every reference to a module of a higher layer, imports of `commands`
/// first; empty when the tree is clean.
pub(super) fn layer_violations(sources: &[Source]) -> Vec<String> {
    let refs = references(sources);
    let mut upward: Vec<&Reference> = refs
        .iter()
        .filter(|r| layer(&r.to).0 < layer(&r.from).0)
        .collect();
    upward.sort_by_key(|r| (r.to != "commands", r.file.clone(), r.line));
    let mut out: Vec<String> = upward
        .iter()
        .map(|r| {
            format!(
                "{} (layer {}) names {} (layer {}) at {}",
                r.from,
                layer(&r.from).0,
                r.to,
                layer(&r.to).0,
                r.at()
            )
        })
        .collect();
    let unknown: BTreeSet<&str> = refs
        .iter()
        .flat_map(|r| [r.from.as_str(), r.to.as_str()])
        .filter(|m| !layer(m).1)
        .collect();
    if !out.is_empty() {
        for m in unknown {
            out.push(format!(
                "{m} is not in LAYERS (tests/integration/architecture/mod.rs) and counts as the \
                 lowest layer: add it to the layer where it belongs"
            ));
        }
    }
    out
}

/// Every simple circle between top-level modules, each as its module path
/// (`a → b → a`) with one reference per step.
pub(super) fn cycles(sources: &[Source]) -> Vec<String> {
    let refs = references(sources);
    let mut edges: BTreeMap<&str, BTreeMap<&str, &Reference>> = BTreeMap::new();
    for r in &refs {
        edges.entry(&r.from).or_default().entry(&r.to).or_insert(r);
    }
    let nodes: Vec<&str> = edges.keys().copied().collect();
    let mut found = Vec::new();
    for &start in &nodes {
        // Each circle once: from its smallest module, through larger ones.
        let mut stack: Vec<(Vec<&str>, Vec<&Reference>)> = vec![(vec![start], Vec::new())];
        while let Some((path, via)) = stack.pop() {
            let last = *path.last().unwrap();
            for (&next, &r) in edges.get(last).into_iter().flatten() {
                let mut via = via.clone();
                via.push(r);
                if next == start {
                    let steps: Vec<String> = via
                        .iter()
                        .map(|r| format!("    {} → {}: {}", r.from, r.to, r.at()))
                        .collect();
                    found.push(format!(
                        "{} → {start}\n{}",
                        path.join(" → "),
                        steps.join("\n")
                    ));
                } else if next > start && !path.contains(&next) {
                    let mut path = path.clone();
                    path.push(next);
                    stack.push((path, via));
                }
            }
        }
    }
    found.sort();
    found
}

/// The source files (not test-only ones) over `limit` lines of non-test
/// code, with their counts.
pub(super) fn long_files(sources: &[Source], limit: usize) -> Vec<String> {
    sources
        .iter()
        .filter(|s| !s.path.ends_with("tests.rs") && !s.path.contains("tests/"))
        .map(|s| (s, non_test_lines(&s.text)))
        .filter(|(_, n)| *n > limit)
        .map(|(s, n)| format!("src/{}: {n} lines of non-test code (limit {limit})", s.path))
        .collect()
}
