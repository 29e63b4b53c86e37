//! Layering and docs checks (ARCHITECTURE R4, R9). Reads the source tree and
//! `protocol-notes/`; runs neither binary.
//!
//! Forbidden module edges, found by scanning every `src/**/*.rs` for paths
//! that start with `crate::` (in `use` items and in expressions, including
//! `use crate::{a, b::c}` groups) or climb out of the file with `super::`:
//! - `wire` may use only `crate::error`, `crate::wire` and
//!   `crate::flist::entry`. The exception is deliberate: `FileEntry` is a
//!   plain data type (no I/O, no options) that the file-list codec
//!   (`wire/flist.rs`) encodes and decodes. Nothing else in `flist` is allowed.
//! - Only `src/main.rs` and `src/cli/` may use `crate::cli`. There are no
//!   exceptions.
//! - `roles` must not use `crate::cli` (already covered by the rule above,
//!   kept separate so the failure names the rule).
//! - `delta` and `checksum` must not use `crate::session` or `crate::roles`.
//!
//! Docs: every `src/...` path written in `protocol-notes/*.md` must exist, and
//! so must every `compat/captures/<dir>` named there.

use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read_dir {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Module path of a file under `src/`: `src/wire/int.rs` -> ["wire", "int"],
/// `src/wire/mod.rs` -> ["wire"], `src/lib.rs` / `src/main.rs` -> [].
fn module_path(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .skip(1) // "src"
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap_or_default();
    let stem = last.trim_end_matches(".rs");
    if !matches!(stem, "mod" | "lib" | "main") {
        parts.push(stem.to_string());
    }
    parts
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Replace comments, string literals and char literals by spaces, keeping
/// line structure, so that neither doc text nor strings (nor braces inside
/// them) are mistaken for code.
fn strip_non_code(src: &str) -> String {
    let s: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let blank = |out: &mut String, c: char| out.push(if c == '\n' { '\n' } else { ' ' });
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        let next = s.get(i + 1).copied();
        let prev_ident = i > 0 && is_ident(s[i - 1]);
        if c == '/' && next == Some('/') {
            while i < s.len() && s[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < s.len() {
                if s[i] == '/' && s.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if s[i] == '*' && s.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, s[i]);
                    i += 1;
                }
            }
        } else if (c == 'r' || (c == 'b' && next == Some('r'))) && !prev_ident && {
            let mut j = i + if c == 'b' { 2 } else { 1 };
            while s.get(j) == Some(&'#') {
                j += 1;
            }
            s.get(j) == Some(&'"')
        } {
            // Raw string: r"..", r#".."#, br#".."#.
            let mut j = i + if c == 'b' { 2 } else { 1 };
            let mut hashes = 0;
            while s[j] == '#' {
                hashes += 1;
                j += 1;
            }
            j += 1; // opening quote
            loop {
                if j >= s.len() {
                    break;
                }
                if s[j] == '"' && (1..=hashes).all(|k| s.get(j + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            for &ch in &s[i..j.min(s.len())] {
                blank(&mut out, ch);
            }
            i = j;
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < s.len() && s[i] != '"' {
                if s[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < s.len() {
                    blank(&mut out, s[i]);
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' {
            // Char literal ('x', '\n', '\u{..}') or a lifetime/label ('a).
            if next == Some('\\') {
                let mut j = i + 2;
                while j < s.len() && s[j] != '\'' {
                    j += 1;
                }
                for _ in i..=j.min(s.len() - 1) {
                    out.push(' ');
                }
                i = j + 1;
            } else if s.get(i + 2) == Some(&'\'') {
                out.push_str("   ");
                i += 3;
            } else {
                out.push(' ');
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Parse a path tree starting at `s[i]` (just after `crate::` or a resolved
/// `super::`), pushing every full path it names onto `out` (each prefixed by
/// `prefix`). Handles `a::b::c`, `a::{b, c::d}`, `a::*` and `a as b`.
fn parse_tree(s: &[char], mut i: usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) -> usize {
    let skip_ws = |i: &mut usize| {
        while *i < s.len() && s[*i].is_whitespace() {
            *i += 1;
        }
    };
    let mut path = prefix;
    loop {
        skip_ws(&mut i);
        if i < s.len() && s[i] == '{' {
            i += 1;
            loop {
                skip_ws(&mut i);
                if i >= s.len() {
                    return i;
                }
                if s[i] == '}' {
                    return i + 1;
                }
                if s[i] == ',' {
                    i += 1;
                    continue;
                }
                let before = i;
                i = parse_tree(s, i, path.clone(), out);
                if i == before {
                    i += 1; // unexpected token: make progress
                }
            }
        }
        if i < s.len() && s[i] == '*' {
            out.push(path);
            return i + 1;
        }
        let start = i;
        while i < s.len() && is_ident(s[i]) {
            i += 1;
        }
        if i == start {
            out.push(path);
            return i;
        }
        let seg: String = s[start..i].iter().collect();
        if seg == "as" && !path.is_empty() {
            // `x as y`: the path ended before `as`; skip the alias.
            skip_ws(&mut i);
            while i < s.len() && is_ident(s[i]) {
                i += 1;
            }
            out.push(path);
            return i;
        }
        path.push(seg);
        let mut j = i;
        skip_ws(&mut j);
        if s.get(j) == Some(&':') && s.get(j + 1) == Some(&':') {
            i = j + 2;
            continue;
        }
        out.push(path);
        return i;
    }
}

/// Every crate-absolute module path used by one file, with its line number.
fn crate_paths(code: &str, file_mod: &[String]) -> Vec<(usize, Vec<String>)> {
    let s: Vec<char> = code.chars().collect();
    let mut found = Vec::new();
    // Inline `mod name { ... }` blocks change what `super` means.
    let mut inline_mods: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut line = 1usize;
    let mut i = 0;
    let word_at = |i: usize, w: &str| -> bool {
        let w: Vec<char> = w.chars().collect();
        s.get(i..i + w.len()) == Some(&w[..])
            && (i == 0 || !is_ident(s[i - 1]))
            && s.get(i + w.len()).is_none_or(|c| !is_ident(*c))
    };
    while i < s.len() {
        let c = s[i];
        if c == '\n' {
            line += 1;
        } else if c == '{' {
            depth += 1;
        } else if c == '}' {
            depth = depth.saturating_sub(1);
            while inline_mods.last().is_some_and(|(_, d)| *d > depth) {
                inline_mods.pop();
            }
        } else if word_at(i, "mod") {
            let mut j = i + 3;
            while j < s.len() && s[j].is_whitespace() {
                j += 1;
            }
            let start = j;
            while j < s.len() && is_ident(s[j]) {
                j += 1;
            }
            let name: String = s[start..j].iter().collect();
            while j < s.len() && s[j].is_whitespace() {
                j += 1;
            }
            if !name.is_empty() && s.get(j) == Some(&'{') {
                inline_mods.push((name, depth + 1));
            }
        } else if word_at(i, "crate") && !(i >= 2 && s[i - 1] == ':' && s[i - 2] == ':') {
            // Also matches `$crate::` in macros: '$' is not an ident char.
            let k = i + 5;
            if s.get(k) == Some(&':') && s.get(k + 1) == Some(&':') {
                let mut paths = Vec::new();
                parse_tree(&s, k + 2, Vec::new(), &mut paths);
                found.extend(paths.into_iter().map(|p| (line, p)));
            }
        } else if word_at(i, "super") && !(i >= 2 && s[i - 1] == ':' && s[i - 2] == ':') {
            let mut here: Vec<String> = file_mod.to_vec();
            here.extend(inline_mods.iter().map(|(n, _)| n.clone()));
            let mut k = i;
            while word_at(k, "super") && s.get(k + 5) == Some(&':') && s.get(k + 6) == Some(&':') {
                here.pop();
                k += 7;
            }
            if k > i {
                let mut paths = Vec::new();
                parse_tree(&s, k, here, &mut paths);
                found.extend(paths.into_iter().map(|p| (line, p)));
                i = k;
                continue;
            }
        }
        i += 1;
    }
    found
}

/// The rule a use of `target` from module `from` (file `rel`) breaks, if any.
fn violation(rel: &str, from: &[String], target: &[String]) -> Option<&'static str> {
    let src = from.first().map(String::as_str).unwrap_or("");
    let dst = target.first().map(String::as_str).unwrap_or("");
    if src == dst {
        return None;
    }
    if src == "wire" {
        let ok = matches!(dst, "error" | "wire")
            || (dst == "flist" && target.get(1).map(String::as_str) == Some("entry"));
        if !ok {
            return Some("wire may use only crate::error, crate::wire and crate::flist::entry");
        }
    }
    if dst == "cli" {
        if src == "roles" {
            return Some("roles must not use crate::cli");
        }
        if rel != "src/main.rs" && !rel.starts_with("src/cli/") {
            return Some("only src/main.rs and src/cli/ may use crate::cli");
        }
    }
    if matches!(src, "delta" | "checksum") && matches!(dst, "session" | "roles") {
        return Some("delta and checksum must not use crate::session or crate::roles");
    }
    None
}

#[test]
fn no_forbidden_module_edges() {
    let base = root();
    let mut files = Vec::new();
    rust_files(&base.join("src"), &mut files);
    assert!(!files.is_empty(), "no sources found under src/");
    let mut problems = Vec::new();
    for f in &files {
        let rel_path = f.strip_prefix(&base).expect("under the crate root");
        let rel = rel_path.to_string_lossy().replace('\\', "/");
        let from = module_path(rel_path);
        let text = fs::read_to_string(f).unwrap_or_else(|e| panic!("{rel}: {e}"));
        let code = strip_non_code(&text);
        for (line, target) in crate_paths(&code, &from) {
            if let Some(rule) = violation(&rel, &from, &target) {
                problems.push(format!(
                    "{rel}:{line}: crate::{} ({rule})",
                    target.join("::")
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "forbidden module edges:\n  {}",
        problems.join("\n  ")
    );
}

/// Paths in prose: `start` followed by path characters; trailing sentence
/// punctuation is dropped.
fn paths_in(text: &str, start: &str) -> Vec<String> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(pos) = text[from..].find(start) {
        let at = from + pos;
        from = at + start.len();
        if at > 0 {
            let p = b[at - 1];
            if p.is_ascii_alphanumeric() || matches!(p, b'_' | b'/' | b'.' | b'-') {
                continue;
            }
        }
        let mut end = at + start.len();
        while end < b.len()
            && (b[end].is_ascii_alphanumeric()
                || matches!(b[end], b'_' | b'.' | b'/' | b'-' | b'*'))
        {
            end += 1;
        }
        let mut p = &text[at..end];
        while p.ends_with('.') || p.ends_with(',') {
            p = &p[..p.len() - 1];
        }
        out.push(p.to_string());
    }
    out
}

/// Whether a doc path exists; `*` is allowed in the last component.
fn doc_path_exists(base: &Path, p: &str) -> bool {
    let p = p.trim_end_matches('/');
    if !p.contains('*') {
        return base.join(p).exists();
    }
    let (dir, pat) = p.rsplit_once('/').unwrap_or(("", p));
    if dir.contains('*') {
        return false;
    }
    let (pre, post) = pat.split_once('*').unwrap_or((pat, ""));
    fs::read_dir(base.join(dir)).is_ok_and(|rd| {
        rd.filter_map(|e| e.ok()).any(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.len() >= pre.len() + post.len() && n.starts_with(pre) && n.ends_with(post)
        })
    })
}

#[test]
fn protocol_notes_name_existing_paths() {
    let base = root();
    let notes = base.join("protocol-notes");
    let mut pages: Vec<PathBuf> = fs::read_dir(&notes)
        .unwrap_or_else(|e| panic!("{}: {e}", notes.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    pages.sort();
    assert!(!pages.is_empty(), "protocol-notes/ has no pages");
    let mut missing = Vec::new();
    let mut checked = 0;
    for page in &pages {
        let name = page.file_name().unwrap().to_string_lossy().into_owned();
        let text = fs::read_to_string(page).unwrap_or_else(|e| panic!("{name}: {e}"));
        for p in paths_in(&text, "src/") {
            checked += 1;
            if p == "src/" || !doc_path_exists(&base, &p) {
                missing.push(format!("{name}: {p}"));
            }
        }
        for p in paths_in(&text, "compat/captures/") {
            checked += 1;
            if !doc_path_exists(&base, &p) {
                missing.push(format!("{name}: {p}"));
            }
        }
    }
    assert!(checked > 0, "protocol-notes/ names no src/ paths at all");
    assert!(
        missing.is_empty(),
        "protocol-notes/ names paths that do not exist:\n  {}",
        missing.join("\n  ")
    );
}

#[test]
fn scanner_finds_grouped_and_relative_paths() {
    let code = strip_non_code(
        "use crate::{error::Error, cli::exit_line};\n\
         // use crate::session::X;\n\
         let s = \"crate::roles\";\n\
         fn f() { crate::report::print_local(); }\n\
         use super::super::cli::help;\n\
         mod tests { use super::int; }\n",
    );
    let got: Vec<String> = crate_paths(&code, &["wire".to_string(), "flist".to_string()])
        .into_iter()
        .map(|(l, p)| format!("{l}:{}", p.join("::")))
        .collect();
    assert_eq!(
        got,
        [
            "1:error::Error",
            "1:cli::exit_line",
            "4:report::print_local",
            "5:cli::help",
            "6:wire::flist::int"
        ]
    );
    assert!(violation(
        "src/wire/flist.rs",
        &["wire".into()],
        &["flist".into(), "entry".into()]
    )
    .is_none());
    assert!(violation(
        "src/wire/flist.rs",
        &["wire".into()],
        &["flist".into(), "sort".into()]
    )
    .is_some());
    assert!(violation(
        "src/session/server.rs",
        &["session".into()],
        &["cli".into()]
    )
    .is_some());
    assert!(violation("src/cli/parse.rs", &["cli".into()], &["session".into()]).is_none());
}
