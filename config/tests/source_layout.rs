//! House rules for the layout of `config/src` (issue 19, section 6), read from the
//! source itself:
//!
//! - the files import each other without cycles (the module graph is a DAG);
//! - the model layer (`errors`, `env`, `values`, `raw`, `model`, `validator`) imports
//!   nothing but itself: the sections' checks build on it, never the other way round;
//! - no production file is over [`MAX_LINES`] lines (`*_tests.rs` and `tests.rs` may);
//! - no type's own `impl` blocks (`impl X {`, not `impl Trait for X`) are spread over
//!   more than [`MAX_IMPL_FILES`] files, tests included: a type that every section
//!   extends with another block has seams without a contract.
//!
//! A file depends on another when it names it (`use crate::x`, `crate::x::y`,
//! `super::x`, or a bare `x::` in `lib.rs`; `crate::Name` that is no module goes
//! through the root, `lib`), and when it calls a method another file adds to a type
//! defined elsewhere: `impl Validator<'_> { fn oidc }` in `oidc.rs` would make every
//! `.oidc(` an edge to `oidc.rs`. Such calls need no `use`, so counting imports alone
//! would miss them (a free function called as `oidc::oidc(v, …)` is a plain use).
//! Comments, string and char literals and `#[cfg(test)]` items are left out first.

use std::collections::{BTreeMap, BTreeSet};

/// Longest production source file, in lines.
const MAX_LINES: usize = 500;
/// Most files one type's own (inherent) `impl` blocks may be spread over.
const MAX_IMPL_FILES: usize = 2;
/// The model layer: what the sections' checks build on.
const MODEL_LAYER: [&str; 11] = [
    "errors",
    "env",
    "values",
    "raw",
    // How the raw mirror reads durations: part of it.
    "raw_forms",
    "model",
    "validator",
    "identity_header_names",
    "policy",
    "idp_model",
    "pages_model",
];

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
    source_files()
        .into_iter()
        .filter(|(module, _)| !is_test_file(&format!("{module}.rs")))
        .collect()
}

/// Every file of `src/`, tests included: `(module, text)`.
fn source_files() -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap_or_else(|e| panic!("{}: {e}", dir.display())).path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Some(module) = name.strip_suffix(".rs") {
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
    read_code(text, true)
}

/// The code with comments removed and string and char literals emptied; with
/// `drop_tests`, `#[cfg(test)]` items dropped too.
fn read_code(text: &str, drop_tests: bool) -> String {
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
        } else if drop_tests && starts_at(&c, i, "#[cfg(test)]") {
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

/// Every `impl` item of `code`: `(type, trait impl?, index of its `{`)`. The type is
/// the last segment of its path (`SiteConfig` for `impl crate::model::SiteConfig {`,
/// `Secret` for `impl fmt::Debug for Secret {`).
fn impl_blocks(code: &str) -> Vec<(String, bool, usize)> {
    let mut out = Vec::new();
    for at in after_token(code, "impl") {
        // Only an item: `impl` opens its line (`x: impl Fn()` is no block).
        let line = &code[code[..at].rfind('\n').map_or(0, |n| n + 1)..at];
        let Some(open) = code[at..].find('{').map(|o| at + o) else {
            continue;
        };
        if line.trim() != "impl" {
            continue;
        }
        let header = code[at..open].trim_start();
        let header = match header.strip_prefix('<') {
            Some(generics) => &generics[angle_end(generics)..],
            None => header,
        };
        // `impl Trait for Type`: the type follows `for`.
        let words: Vec<&str> = header.split_whitespace().collect();
        let for_at = words.iter().position(|w| *w == "for");
        let is_trait_impl = for_at.is_some();
        let path = for_at
            .map_or(words.first(), |k| words.get(k + 1))
            .copied()
            .unwrap_or("");
        let path = &path[..path.find('<').unwrap_or(path.len())];
        let ty = ident(path.rsplit("::").next().unwrap_or(path)).to_string();
        out.push((ty, is_trait_impl, open));
    }
    out
}

/// The index just after the `>` closing generics that opened just before `s`
/// (`'a, T: Into<String>> X<T>` gives the index of ` X<T>`); `->` is no bracket.
fn angle_end(s: &str) -> usize {
    let mut depth = 1;
    let mut prev = ' ';
    for (i, ch) in s.char_indices() {
        match ch {
            '<' => depth += 1,
            '>' if prev != '-' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        prev = ch;
    }
    s.len()
}

/// For every type, the files holding its own (inherent) `impl` blocks.
fn inherent_impl_files(files: &[(String, String)]) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, code) in files {
        for (ty, is_trait_impl, _) in impl_blocks(code) {
            if !is_trait_impl {
                out.entry(ty).or_default().insert(module.clone());
            }
        }
    }
    out
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
        for (ty, is_trait_impl, open) in impl_blocks(code) {
            if is_trait_impl || home.get(&ty) == Some(module) {
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
fn no_type_has_its_own_impls_in_more_than_two_files() {
    let files: Vec<(String, String)> = source_files()
        .into_iter()
        .map(|(m, text)| (m, read_code(&text, false)))
        .collect();
    let spread: Vec<String> = inherent_impl_files(&files)
        .into_iter()
        .filter(|(_, in_files)| in_files.len() > MAX_IMPL_FILES)
        .map(|(ty, in_files)| {
            let names: Vec<String> = in_files.iter().map(|m| format!("{m}.rs")).collect();
            format!("  {ty}: {}", names.join(", "))
        })
        .collect();
    assert!(
        spread.is_empty(),
        "own impl blocks in more than {MAX_IMPL_FILES} files (turn a section's methods into functions \
         of its module that take the value):\n{}",
        spread.join("\n")
    );
}

#[test]
fn the_reader_finds_inherent_impls_but_not_trait_impls_or_impl_types() {
    let code = "impl<'a> Validator<'a> {\n}\nimpl<T: Into<Vec<u8>>, F: Fn() -> T> Holder<T, F> {}\n\
                impl crate::model::SiteConfig {}\nimpl fmt::Display for Secret {}\n\
                fn f(x: impl Fn()) {}\nimpl<'a> Validator<'a>\nwhere\n    'a: 'static,\n{}\n";
    let found: Vec<(String, bool)> = impl_blocks(code).into_iter().map(|(ty, t, _)| (ty, t)).collect();
    let want = [
        ("Validator", false),
        ("Holder", false),
        ("SiteConfig", false),
        ("Secret", true),
        ("Validator", false),
    ];
    assert_eq!(found, want.map(|(ty, t)| (ty.to_string(), t)));
    let files: Vec<(String, String)> = [
        ("validator", "pub struct Validator<'a> {}\nimpl<'a> Validator<'a> {}"),
        ("validate", "impl Validator<'_> {}\nimpl Default for Secret {}"),
        ("oidc", "impl Validator<'_> {\n    fn oidc(&mut self) {}\n}"),
        ("values", "impl Secret {}\nimpl fmt::Debug for Secret {}"),
    ]
    .map(|(m, c)| (m.to_string(), c.to_string()))
    .into();
    let spread = inherent_impl_files(&files);
    assert_eq!(spread["Validator"].len(), 3, "{spread:?}");
    assert_eq!(
        spread["Secret"].len(),
        1,
        "trait impls are not the type's own: {spread:?}"
    );
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
