//! The house rules of `docs/ARCHITECTURE.md`, checked against the code:
//! every `crate::` path points down the layer list written there, the files
//! of one module never import each other in a circle, no function runs
//! past ~60 lines without a comment at its top saying why, and only `http`
//! speaks axum.
//!
//! The source is read as text: comments, strings and character literals are
//! blanked first, so a path or a brace inside them counts for nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Longest function accepted without a written reason.
const MAX_FN_LINES: usize = 60;
/// What a long function's comment must contain to say why it is long.
const LONG_FN_MARK: &str = "Long:";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The layers, bottom first, from the fenced list in docs/ARCHITECTURE.md.
fn layers() -> Vec<String> {
    let doc = fs::read_to_string(root().join("docs/ARCHITECTURE.md")).expect("docs/ARCHITECTURE.md");
    let start = doc.find("<!-- layers: begin -->").expect("layers: begin marker");
    let end = doc.find("<!-- layers: end -->").expect("layers: end marker");
    doc[start..end]
        .lines()
        .filter(|l| !l.starts_with("```") && !l.starts_with("<!--"))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("read_dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The source with comments, strings and char literals replaced by spaces
/// (newlines kept, so line numbers stay true).
fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                out.push(blank(chars[i]));
                i += 1;
            }
            out.push_str("  ");
            i += 2;
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && !prev_is_ident(&chars, i) {
            // A raw string: r"..." or r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= chars.len() {
                    break;
                }
                if chars[j] == '"' && (0..hashes).all(|k| chars.get(j + 1 + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            for &ch in &chars[i..j.min(chars.len())] {
                out.push(blank(ch));
            }
            i = j;
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < chars.len() {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{..}'), not a lifetime ('a).
            let close = if next == Some('\\') {
                (i + 2..chars.len().min(i + 12)).find(|&k| chars[k] == '\'')
            } else if chars.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match close {
                Some(k) => {
                    for _ in i..=k {
                        out.push(' ');
                    }
                    i = k + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn prev_is_ident(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

/// The module of `src/` a file belongs to: `src/http/api.rs` → `http`,
/// `src/clock.rs` → `clock`; `None` for the crate root files.
fn top_module(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?.to_string();
    let name = first.strip_suffix(".rs").unwrap_or(&first).to_string();
    (!matches!(name.as_str(), "lib" | "main")).then_some(name)
}

/// Every `crate::name` in the code (the `name` right after `crate::`),
/// with its line number.
fn crate_paths(code: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (n, line) in code.lines().enumerate() {
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            let before = rest[..at].chars().last();
            let after = &rest[at + "crate::".len()..];
            let name: String = after.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !before.is_some_and(|c| c.is_alphanumeric() || c == '_') && !name.is_empty() {
                found.push((n + 1, name.clone()));
            }
            // Grouped imports: `use crate::{a, b::c}` name each.
            if after.starts_with('{') {
                let group = &after[1..after.find('}').unwrap_or(after.len())];
                for item in group.split(',') {
                    let name: String =
                        item.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                    if !name.is_empty() {
                        found.push((n + 1, name));
                    }
                }
            }
            rest = after;
        }
    }
    found
}

fn is_test_code(file: &Path, code: &str) -> bool {
    file.file_name().is_some_and(|n| n == "tests.rs") || code.trim_start().starts_with("#[cfg(test)]")
}

/// The code before a file's `#[cfg(test)]` module: tests may reach anywhere.
fn without_tests(code: &str) -> &str {
    match code.find("#[cfg(test)]\nmod tests") {
        Some(at) => &code[..at],
        None => code,
    }
}

#[test]
fn every_crate_path_points_down_the_layers() {
    let layers = layers();
    let rank: BTreeMap<&str, usize> = layers.iter().enumerate().map(|(i, l)| (l.as_str(), i)).collect();
    let src = root().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut modules_seen = BTreeSet::new();
    let mut wrong = Vec::new();
    for file in &files {
        let Some(module) = top_module(&src, file) else { continue };
        modules_seen.insert(module.clone());
        let Some(&own) = rank.get(module.as_str()) else {
            wrong.push(format!("{}: module `{module}` is not in the layer list", file.display()));
            continue;
        };
        let code = code_only(&fs::read_to_string(file).expect("read"));
        if is_test_code(file, &code) {
            continue;
        }
        for (line, name) in crate_paths(without_tests(&code)) {
            if name == module {
                continue;
            }
            match rank.get(name.as_str()) {
                Some(&theirs) if theirs < own => {}
                Some(_) => wrong.push(format!(
                    "{}:{line}: `{module}` uses `crate::{name}`, which is not below it",
                    file.strip_prefix(root()).unwrap_or(file).display()
                )),
                None => wrong.push(format!(
                    "{}:{line}: `crate::{name}` is not in the layer list",
                    file.strip_prefix(root()).unwrap_or(file).display()
                )),
            }
        }
    }
    for layer in &layers {
        if !modules_seen.contains(layer) {
            wrong.push(format!("docs/ARCHITECTURE.md lists `{layer}`, which is no module of src/"));
        }
    }
    assert!(wrong.is_empty(), "imports against the layers of docs/ARCHITECTURE.md:\n{}", wrong.join("\n"));
}

/// Each file of a module directory, and the sibling files it names through
/// `super::x` or `crate::module::x`.
fn sibling_imports(dir: &Path, module: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(dir, &mut files);
    let stem = |p: &Path| p.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
    let siblings: BTreeSet<String> =
        files.iter().filter(|p| p.parent() == Some(dir)).map(|p| stem(p)).filter(|s| s != "mod").collect();
    let mut graph = BTreeMap::new();
    for file in files.iter().filter(|p| p.parent() == Some(dir)) {
        let name = stem(file);
        let code = code_only(&fs::read_to_string(file).expect("read"));
        let code = without_tests(&code);
        let mut uses = BTreeSet::new();
        for prefix in ["super::".to_string(), format!("crate::{module}::")] {
            for (at, _) in code.match_indices(&prefix) {
                let after = &code[at + prefix.len()..];
                let names: Vec<String> = if let Some(group) = after.strip_prefix('{') {
                    group[..group.find('}').unwrap_or(group.len())]
                        .split(',')
                        .map(|s| s.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect())
                        .collect()
                } else {
                    vec![after.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect()]
                };
                uses.extend(names.into_iter().filter(|n| siblings.contains(n) && *n != name));
            }
        }
        graph.insert(name, uses);
    }
    graph
}

fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn the_files_of_a_module_never_import_each_other_in_a_circle() {
    let mut dirs = vec![];
    for entry in fs::read_dir(root().join("src")).expect("src").flatten() {
        if entry.path().is_dir() {
            dirs.push(entry.path());
        }
    }
    dirs.push(root().join("crates/wasim/src"));
    let mut cycles = Vec::new();
    for dir in dirs {
        let module = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        // Inside wasim, files name each other as `crate::file`.
        let module = if module == "src" { String::new() } else { module };
        let graph = if module.is_empty() { wasim_imports(&dir) } else { sibling_imports(&dir, &module) };
        if let Some(cycle) = find_cycle(&graph) {
            cycles.push(format!("{}: {}", dir.display(), cycle.join(" -> ")));
        }
    }
    assert!(cycles.is_empty(), "files importing each other in a circle:\n{}", cycles.join("\n"));
}

/// wasim's files name each other as `crate::file`.
fn wasim_imports(dir: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(dir, &mut files);
    let stem = |p: &Path| p.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
    let names: BTreeSet<String> =
        files.iter().map(|p| stem(p)).filter(|s| s != "lib" && s != "main").collect();
    let mut graph = BTreeMap::new();
    for file in &files {
        let name = stem(file);
        if name == "lib" || name == "main" {
            continue;
        }
        let code = code_only(&fs::read_to_string(file).expect("read"));
        let uses: BTreeSet<String> = crate_paths(without_tests(&code))
            .into_iter()
            .map(|(_, n)| n)
            .filter(|n| names.contains(n) && *n != name)
            .collect();
        graph.insert(name, uses);
    }
    graph
}

/// Functions longer than `MAX_FN_LINES` whose comment does not say why.
fn long_functions(file: &Path) -> Vec<String> {
    let raw = fs::read_to_string(file).expect("read");
    let raw_lines: Vec<&str> = raw.lines().collect();
    let code = code_only(&raw);
    let lines: Vec<&str> = code.lines().collect();
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(name) = fn_name(line) else { continue };
        let (mut depth, mut started, mut end) = (0i32, false, i);
        for (j, l) in lines.iter().enumerate().skip(i) {
            for c in l.chars() {
                match c {
                    '{' => {
                        depth += 1;
                        started = true;
                    }
                    '}' => depth -= 1,
                    _ => {}
                }
            }
            end = j;
            if (started && depth <= 0) || (!started && l.trim_end().ends_with(';')) {
                break;
            }
        }
        let length = end - i + 1;
        if length <= MAX_FN_LINES {
            continue;
        }
        // The comment block and attributes right above the signature.
        let reason = raw_lines[..i]
            .iter()
            .rev()
            .take_while(|l| {
                let t = l.trim_start();
                t.starts_with("//") || t.starts_with("#[")
            })
            .any(|l| l.contains(LONG_FN_MARK));
        if !reason {
            found.push(format!("{}:{}: `{name}` is {length} lines", file.display(), i + 1));
        }
    }
    found
}

fn fn_name(line: &str) -> Option<String> {
    let mut words = line.split_whitespace().peekable();
    while let Some(word) = words.next() {
        match word {
            "pub" | "async" | "const" | "unsafe" | "extern" => continue,
            w if w.starts_with("pub(") => continue,
            "fn" => {
                let name = words.next()?;
                return Some(name.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect());
            }
            _ => return None,
        }
    }
    None
}

#[test]
fn no_function_runs_past_sixty_lines_without_saying_why() {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    rust_files(&root().join("crates/wasim/src"), &mut files);
    let long: Vec<String> = files.iter().flat_map(|f| long_functions(f)).collect();
    assert!(
        long.is_empty(),
        "functions over {MAX_FN_LINES} lines; split them along their steps, or start their \
         comment with `{LONG_FN_MARK} <why>`:\n{}",
        long.join("\n")
    );
}

#[test]
fn the_checker_reads_code_not_comments_or_strings() {
    let code =
        code_only("let a = \"crate::x {\"; // crate::y {\nlet b = '{'; let c: &'static str = r#\"}\"#;\n");
    assert!(!code.contains("crate::"), "{code}");
    assert_eq!(code.matches(['{', '}']).count(), 0, "{code}");
    assert_eq!(code.lines().count(), 2);
    assert_eq!(crate_paths("use crate::{store, http::Caller};\nx = crate::clock::now_ms();").len(), 3);
}

#[test]
fn only_the_http_module_speaks_axum() {
    let src = root().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let outside: Vec<String> = files
        .iter()
        .filter(|f| top_module(&src, f).as_deref() != Some("http"))
        .filter(|f| code_only(&fs::read_to_string(f).expect("read")).contains("axum"))
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        outside.is_empty(),
        "axum outside src/http (handlers are thin and live there):\n{}",
        outside.join("\n")
    );
}
