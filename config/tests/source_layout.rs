//! House rules for the layout of `config/src` (issue 19, section 6), read from the
//! source itself:
//!
//! - the files import each other without cycles (the module graph is a DAG);
//! - the model layer (`errors`, `env`, `values`, `raw`, `model`, `validator`) imports
//!   nothing but itself: the sections' checks build on it, never the other way round;
//! - no production file is over [`MAX_LINES`] lines (`*_tests.rs` and `tests.rs` may).
//!
//! A file depends on another when it names it (`use crate::x`, `crate::x::y`,
//! `super::x`, or a bare `x::` in `lib.rs`; `crate::Name` that is no module goes
//! through the root, `lib`), and when it calls a method another file adds to a type
//! defined elsewhere: `impl Validator<'_> { fn oidc }` in `oidc.rs` makes every
//! `.oidc(` an edge to `oidc.rs`. Such calls need no `use`, so counting imports alone
//! would miss them. Comments, string and char literals and `#[cfg(test)]` items are
//! left out first.

use std::collections::{BTreeMap, BTreeSet};

/// Longest production source file, in lines.
const MAX_LINES: usize = 500;
/// The model layer: what the sections' checks build on.
const MODEL_LAYER: [&str; 6] = ["errors", "env", "values", "raw", "model", "validator"];

/// `from → to → why` (the first reason seen).
type Graph = BTreeMap<String, BTreeMap<String, String>>;

fn is_test_file(name: &str) -> bool {
    name == "tests.rs" || name.ends_with("_tests.rs")
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Every production file of `src/` (the crate is flat): `(module, text)`, `lib` for
/// the root.
fn production_files() -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap_or_else(|e| panic!("{}: {e}", dir.display())).path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let (Some(module), false) = (name.strip_suffix(".rs"), is_test_file(&name)) {
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            out.push((module.to_string(), text));
        }
    }
    out.sort();
    out
}

/// The code with comments removed, string and char literals emptied and
/// `#[cfg(test)]` items (an inline test module, a test-only import) dropped.
fn code_of(text: &str) -> String {
    let c: Vec<char> = text.chars().collect();
    let at = |i: usize| c.get(i).copied().unwrap_or('\0');
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < c.len() {
        let raw_string = at(i) == 'r' && !is_ident(at(i.wrapping_sub(1))) && {
            let hashes = c[i + 1..].iter().take_while(|&&h| h == '#').count();
            at(i + 1 + hashes) == '"'
        };
        if at(i) == '/' && at(i + 1) == '/' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if at(i) == '/' && at(i + 1) == '*' {
            let end = text_index(&c, i, "*/");
            i = end + 2;
        } else if raw_string {
            let hashes = c[i + 1..].iter().take_while(|&&h| h == '#').count();
            let close: String = std::iter::once('"').chain(std::iter::repeat_n('#', hashes)).collect();
            i = text_index(&c, i + 2 + hashes, &close) + close.len();
            out.push_str("\"\"");
        } else if at(i) == '"' {
            i += 1;
            while i < c.len() && c[i] != '"' {
                i += if c[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if at(i) == '\'' && (at(i + 1) == '\\' || at(i + 2) == '\'') {
            // A char literal ('x', '\'', '\u{7f}'); a lifetime ('a) has no closing quote.
            i = text_index(&c, if at(i + 1) == '\\' { i + 3 } else { i + 2 }, "'") + 1;
            out.push_str("' '");
        } else if starts_at(&c, i, "#[cfg(test)]") {
            // The item ends at its first `;`, or with the block its first `{` opens.
            let mut j = i;
            while j < c.len() && c[j] != ';' && c[j] != '{' {
                j += 1;
            }
            i = if at(j) == '{' { block_end(&c, j) } else { j + 1 };
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

/// True when `needle` starts at `c[i]`.
fn starts_at(c: &[char], i: usize, needle: &str) -> bool {
    needle.chars().enumerate().all(|(k, ch)| c.get(i + k) == Some(&ch))
}

/// Where `needle` next starts in `c` from `from` (the end when it does not).
fn text_index(c: &[char], from: usize, needle: &str) -> usize {
    (from..c.len()).find(|&i| starts_at(c, i, needle)).unwrap_or(c.len())
}

/// The index just after the `}` matching the `{` at `open`.
fn block_end(c: &[char], open: usize) -> usize {
    let mut depth = 0;
    for (i, ch) in c.iter().enumerate().skip(open) {
        match ch {
            '{' => depth += 1,
            '}' if depth == 1 => return i + 1,
            '}' => depth -= 1,
            _ => {}
        }
    }
    c.len()
}

/// Where `word` starts in `code` as a token of its own, as the index just after it.
fn after_token(code: &str, word: &str) -> Vec<usize> {
    code.match_indices(word)
        .filter(|(i, _)| {
            let before = code[..*i].chars().next_back().unwrap_or(' ');
            let after = code[i + word.len()..].chars().next().unwrap_or(' ');
            !is_ident(before) && before != ':' && !(word.ends_with(is_ident) && is_ident(after))
        })
        .map(|(i, _)| i + word.len())
        .collect()
}

/// The leading identifier of `s`.
fn ident(s: &str) -> &str {
    &s[..s.find(|ch: char| !is_ident(ch)).unwrap_or(s.len())]
}

/// The first names of the path at `rest` (after `crate::`): `x` for `x::y`, and `a`,
/// `b` for `{a::Y, b}`.
fn first_segments(rest: &str) -> Vec<&str> {
    let Some(group) = rest.strip_prefix('{') else {
        return vec![ident(rest)];
    };
    let (mut names, mut depth, mut start) = (Vec::new(), 0, true);
    for (i, ch) in group.char_indices() {
        match ch {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => start = true,
            ch if start && is_ident(ch) => {
                names.push(ident(&group[i..]));
                start = false;
            }
            _ => {}
        }
    }
    names
}

/// `(type, method, file)` for every method a file adds to a type another file
/// defines (trait impls are called through their trait and add none).
fn extension_methods(files: &[(String, String)]) -> Vec<(String, String, String)> {
    let mut home = BTreeMap::new();
    for (module, code) in files {
        for kw in ["struct", "enum", "trait"] {
            for at in after_token(code, kw) {
                home.insert(ident(code[at..].trim_start()).to_string(), module.clone());
            }
        }
    }
    let mut out = Vec::new();
    for (module, code) in files {
        for at in after_token(code, "impl") {
            // Only an item: `impl` opens its line (`x: impl Fn()` is no block).
            let line = &code[code[..at].rfind('\n').map_or(0, |n| n + 1)..at];
            let Some(open) = code[at..].find('{').map(|o| at + o) else {
                continue;
            };
            let header = code[at..open].trim_start();
            let header = match header.strip_prefix('<') {
                Some(generic) => &generic[generic.find('>').map_or(0, |g| g + 1)..],
                None => header,
            };
            let ty = ident(header.trim_start()).to_string();
            let is_trait_impl = header.split_whitespace().any(|w| w == "for");
            if line.trim() != "impl" || is_trait_impl || home.get(&ty) == Some(module) {
                continue;
            }
            let chars: Vec<char> = code[open..].chars().collect();
            let body: String = chars[..block_end(&chars, 0)].iter().collect();
            for f in after_token(&body, "fn") {
                out.push((ty.clone(), ident(body[f..].trim_start()).to_string(), module.clone()));
            }
        }
    }
    out
}

/// The module graph of `files` (`(module, code)`).
fn graph(files: &[(String, String)]) -> Graph {
    let modules: BTreeSet<&str> = files.iter().map(|(m, _)| m.as_str()).collect();
    let extensions = extension_methods(files);
    let mut g = Graph::new();
    for (module, code) in files {
        let mut edge = |to: &str, why: String| {
            if to != module {
                g.entry(module.clone())
                    .or_default()
                    .entry(to.to_string())
                    .or_insert(why);
            }
        };
        for prefix in ["crate::", "super::"] {
            for at in after_token(code, prefix) {
                for name in first_segments(&code[at..]) {
                    edge(
                        if modules.contains(name) { name } else { "lib" },
                        format!("names `{prefix}{name}`"),
                    );
                }
            }
        }
        for m in modules.iter().filter(|_| module == "lib") {
            if !after_token(code, &format!("{m}::")).is_empty() {
                edge(m, format!("names `{m}::`"));
            }
        }
        for (ty, method, file) in &extensions {
            if code.contains(&format!(".{method}(")) {
                edge(file, format!("calls `.{method}(` ({ty}::{method} is defined there)"));
            }
        }
    }
    g
}

/// The groups of files that reach each other (each group is one cycle or more).
fn cycles(g: &Graph) -> BTreeSet<Vec<String>> {
    let reach = |from: &str| {
        let (mut seen, mut todo) = (BTreeSet::new(), vec![from.to_string()]);
        while let Some(v) = todo.pop() {
            for w in g.get(&v).into_iter().flat_map(|e| e.keys()) {
                if seen.insert(w.clone()) {
                    todo.push(w.clone());
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<&String, BTreeSet<String>> = g.keys().map(|v| (v, reach(v))).collect();
    reaches
        .iter()
        .filter(|(v, r)| r.contains(v.as_str()))
        .map(|(v, r)| {
            r.iter()
                .filter(|w| reaches.get(w).is_some_and(|back| back.contains(v.as_str())))
                .cloned()
                .collect()
        })
        .collect()
}

/// The edges of `g` between files of `within`, one a line.
fn describe(g: &Graph, within: impl Fn(&str) -> bool) -> String {
    let mut out = String::new();
    for (from, edges) in g.iter().filter(|(from, _)| within(from)) {
        for (to, why) in edges.iter().filter(|(to, _)| within(to)) {
            out.push_str(&format!("  {from} -> {to}: {why}\n"));
        }
    }
    out
}

fn crate_graph() -> Graph {
    let files: Vec<(String, String)> = production_files()
        .into_iter()
        .map(|(m, text)| (m, code_of(&text)))
        .collect();
    graph(&files)
}

#[test]
fn the_files_import_each_other_without_cycles() {
    let g = crate_graph();
    println!("{}", describe(&g, |_| true));
    let report: Vec<String> = cycles(&g)
        .iter()
        .map(|group| {
            format!(
                "cycle through {}:\n{}",
                group.join(", "),
                describe(&g, |m| group.iter().any(|x| x == m))
            )
        })
        .collect();
    assert!(report.is_empty(), "{}", report.join("\n"));
}

#[test]
fn the_model_layer_imports_only_the_model_layer() {
    let g = crate_graph();
    let wrong: Vec<String> = g
        .iter()
        .filter(|(from, _)| MODEL_LAYER.contains(&from.as_str()))
        .flat_map(|(from, edges)| edges.iter().map(move |(to, why)| (from, to, why)))
        .filter(|(_, to, _)| !MODEL_LAYER.contains(&to.as_str()))
        .map(|(from, to, why)| format!("  {from} -> {to}: {why}"))
        .collect();
    assert!(
        wrong.is_empty(),
        "the model layer reaches a section:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_production_file_is_over_the_line_limit() {
    let long: Vec<String> = production_files()
        .into_iter()
        .map(|(module, text)| (module, text.lines().count()))
        .filter(|(_, lines)| *lines > MAX_LINES)
        .map(|(module, lines)| format!("{module}.rs: {lines} lines"))
        .collect();
    assert!(long.is_empty(), "over {MAX_LINES} lines: {}", long.join(", "));
}

#[test]
fn the_reader_sees_paths_and_methods_but_not_literals_comments_or_tests() {
    let code = code_of(
        "use crate::{a::X, b};\n// crate::c\n/* crate::c */ let s = \"crate::c\"; let r = r#\"crate::c\"#;\n\
         let q = '{'; fn f<'x>() { crate::g::h(); self.oidc(); }\n#[cfg(test)]\nmod tests { use crate::c; }\n",
    );
    assert!(!code.contains("crate::c"), "{code}");
    assert!(code.contains("crate::g::h") && code.contains("fn f<'x>"), "{code}");
    let files: Vec<(String, String)> = [
        ("a", ""),
        ("b", ""),
        ("g", ""),
        ("x", code.as_str()),
        ("oidc", "impl Validator<'_> {\n    pub(crate) fn oidc(&mut self) {}\n}"),
        (
            "validator",
            "pub struct Validator<'a> {}\nimpl Default for Validator<'_> { fn default() {} }",
        ),
    ]
    .map(|(m, c)| (m.to_string(), c.to_string()))
    .into();
    let g = graph(&files);
    assert_eq!(g["x"].keys().collect::<Vec<_>>(), ["a", "b", "g", "oidc"]);
    assert!(!g.contains_key("validator"), "a trait impl adds no edge");
    let mut cyclic = Graph::new();
    for (from, to) in [("a", "b"), ("b", "a"), ("b", "c")] {
        cyclic.entry(from.into()).or_default().insert(to.into(), String::new());
    }
    assert_eq!(
        cycles(&cyclic),
        BTreeSet::from([vec!["a".to_string(), "b".to_string()]])
    );
}
