//! The house rules of the code base, measured (issue 19, section 6): the import graph
//! between the modules of `filters/src` has no cycle (`config/tests/source_layout.rs`
//! checks the files of `config/src`, method calls included), no production source
//! file is over 500 lines, no function of `gateway/src/proxy.rs` is over 80 lines, and
//! no type's own `impl` blocks are in more than two files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    sso_tests::repo_root()
}

/// Every `.rs` file below `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The code of a file without its comments and without `#[cfg(test)]` modules at
/// its end (tests may reach anywhere).
fn code(text: &str) -> String {
    let cut = text.find("#[cfg(test)]\nmod ").unwrap_or(text.len());
    text[..cut]
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The names that follow `prefix` in `text` (identifiers), e.g. `crate::` → `auth`.
fn names_after(text: &str, prefix: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find(prefix) {
        rest = &rest[i + prefix.len()..];
        let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        if !name.is_empty() {
            found.insert(name);
        }
    }
    // `use crate::{a, b::c}` lists.
    let brace = format!("{prefix}{{");
    let mut rest = text;
    while let Some(i) = rest.find(&brace) {
        rest = &rest[i + brace.len()..];
        let list = &rest[..rest.find('}').unwrap_or(0)];
        for item in list.split(',') {
            let name: String = item
                .trim()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.insert(name);
            }
        }
    }
    found
}

/// A cycle in `graph`, if there is one (as the list of nodes around it).
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(node.to_string(), 1);
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            match state.get(next.as_str()).copied().unwrap_or(0) {
                1 => {
                    let start = path.iter().position(|n| n == next).unwrap_or(0);
                    let mut cycle = path[start..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                0 => {
                    if let Some(c) = visit(next, graph, state, path) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        path.pop();
        state.insert(node.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for node in graph.keys() {
        if state.get(node.as_str()).copied().unwrap_or(0) == 0 {
            if let Some(c) = visit(node, graph, &mut state, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

/// The top-level modules of `filters/src` and which others each imports.
fn filters_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = root().join("filters/src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in rust_files(&src) {
        let rel = file.strip_prefix(&src).unwrap_or(&file);
        let first = rel
            .components()
            .next()
            .map(|c| c.as_os_str().to_string_lossy().to_string());
        let Some(module) = first.map(|m| m.trim_end_matches(".rs").to_string()) else {
            continue;
        };
        if module == "lib" || module.starts_with("fuzzing") || rel.to_string_lossy().ends_with("tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let used = names_after(&code(&text), "crate::");
        let entry = graph.entry(module.clone()).or_default();
        entry.extend(
            used.into_iter()
                .filter(|m| *m != module && (src.join(m).is_dir() || src.join(format!("{m}.rs")).exists())),
        );
        entry.remove(&module);
    }
    graph
}

#[test]
fn the_modules_of_filters_import_each_other_without_a_cycle() {
    let graph = filters_graph();
    assert!(
        graph.contains_key("store") && graph.contains_key("sessions"),
        "{graph:?}"
    );
    if let Some(cycle) = find_cycle(&graph) {
        panic!("filters/src has an import cycle: {}", cycle.join(" → "));
    }
}

#[test]
fn the_cycle_finder_finds_a_cycle() {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    graph.entry("a".into()).or_default().insert("b".into());
    graph.entry("b".into()).or_default().insert("c".into());
    assert!(find_cycle(&graph).is_none());
    graph.entry("c".into()).or_default().insert("a".into());
    assert_eq!(
        find_cycle(&graph),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
}

/// Every source file of the three production crates: its name from the repository
/// root, and its text.
fn production_sources() -> Vec<(String, String)> {
    let mut all = Vec::new();
    for crate_dir in ["config/src", "filters/src", "gateway/src"] {
        let dir = root().join(crate_dir);
        for file in rust_files(&dir) {
            let name = format!(
                "{crate_dir}/{}",
                file.strip_prefix(&dir).unwrap_or(&file).to_string_lossy()
            );
            all.push((name, std::fs::read_to_string(&file).unwrap_or_default()));
        }
    }
    all
}

#[test]
fn no_production_source_file_is_over_500_lines() {
    let mut long = Vec::new();
    for (name, text) in production_sources() {
        if name.ends_with("tests.rs") || name.contains("/tests/") {
            continue;
        }
        let lines = text.lines().count();
        if lines > 500 {
            long.push(format!("{name}: {lines}"));
        }
    }
    assert!(long.is_empty(), "files over 500 lines: {long:?}");
}

#[test]
fn no_function_of_the_proxy_is_over_80_lines() {
    let text = std::fs::read_to_string(root().join("gateway/src/proxy.rs")).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let mut long = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        let is_fn = t.starts_with("fn ")
            || t.starts_with("async fn ")
            || t.starts_with("pub fn ")
            || t.starts_with("pub async fn ")
            || t.starts_with("pub(crate) fn ")
            || t.starts_with("pub(crate) async fn ");
        if !is_fn {
            continue;
        }
        let indent = line.len() - t.len();
        let end = lines[i + 1..]
            .iter()
            .position(|l| l.len() - l.trim_start().len() == indent && l.trim_start().starts_with('}'))
            .map_or(lines.len(), |p| i + 1 + p);
        if end - i + 1 > 80 {
            long.push(format!("line {}: {} ({} lines)", i + 1, t, end - i + 1));
        }
    }
    assert!(
        long.is_empty(),
        "functions over 80 lines in gateway/src/proxy.rs: {long:?}"
    );
}

#[test]
fn no_type_has_its_own_impl_blocks_in_more_than_two_files() {
    let mut files_of: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, text) in production_sources() {
        for line in code(&text).lines() {
            // An inherent impl: `impl Type {` or `impl<'a> Type<'a> {` (no `for`).
            let Some(rest) = line.strip_prefix("impl") else {
                continue;
            };
            if line.contains(" for ") || !line.trim_end().ends_with('{') {
                continue;
            }
            let rest = match rest.strip_prefix('<') {
                Some(generic) => generic.split_once('>').map_or("", |(_, r)| r),
                None => rest,
            };
            let ty: String = rest
                .trim_start()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !ty.is_empty() {
                files_of.entry(ty).or_default().insert(name.clone());
            }
        }
    }
    let spread: Vec<String> = files_of
        .iter()
        .filter(|(_, files)| files.len() > 2)
        .map(|(ty, files)| format!("{ty}: {} files {files:?}", files.len()))
        .collect();
    assert!(
        spread.is_empty(),
        "types whose own impl blocks are in more than two files: {spread:#?}"
    );
}
