//! docs/configuration.md documents every key of the configuration model.
//!
//! The keys are not listed by hand: the model enumerates itself. Every raw struct is
//! `deny_unknown_fields`, and serde's error for an unknown key names every field the
//! struct expects ("unknown field `__probe`, expected one of `listen`, `admin_listen`,
//! …"), which the reading keeps as the problem's `valid` keys. The walk below writes
//! small TOML documents with a `__probe` key at each level, reads them with
//! [`sso_config::reading::read`] — the first step of [`sso_config::parse`], the entry
//! point `sso-gateway run` and `check` use, so the probe sees exactly what the binary
//! accepts — and reads the answers:
//!
//! - `key = { __probe = 1 }` answering "unknown key" names the fields of a table;
//! - answering "wrong type, found a table" means `key` is not a table: then
//!   `key = [{ __probe = 1 }]` answering "unknown key" names the fields of an array
//!   of tables (`[[sites]]`), and anything else means a leaf (a scalar or a list);
//! - answering with the *value's* type (or accepting it) means a table with free keys,
//!   such as `logout_params`: it is documented as one key, like a leaf. A free-key
//!   table whose values are tables would need its own section naming scheme; the walk
//!   stops with a message rather than guess one.
//!
//! Shapes serde hides from this probe stop the test with a message instead of being
//! skipped: a `#[serde(flatten)]` field makes the unknown-field error name no fields,
//! and an `untagged` enum answers "did not match any variant". Aliases
//! (`#[serde(alias)]`) are listed by serde among the expected fields, so each alias is
//! a key a user may write and must be documented too.
//!
//! The document is then read: each table has a heading holding its TOML header
//! (`### \`[sites.oidc]\``, `### \`[[sites.idps]]\``), and each key a row
//! `| \`key\` | type | default | example | meaning |` in that section, with every
//! cell filled, and each value written in backticks in the example cell is taken by
//! the raw model at that key. Rows for keys the model does not have are reported too.

use sso_config::read_problems::{ProblemKind, ValueKind};
use std::collections::BTreeMap;

const PROBE: &str = "__probe";
/// Deepest table nesting walked (the model nests three deep: `sites.oidc.logout_params`).
const MAX_DEPTH: usize = 6;
/// The columns each key's row fills, in this order.
const COLUMNS: [&str; 5] = ["key", "type", "default", "example", "meaning"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Table,
    ArrayOfTables,
}

#[derive(Clone, Debug)]
struct Segment {
    key: String,
    kind: Kind,
}

/// One table of the model: where it is and the keys in it that are not tables.
#[derive(Debug)]
struct ModelTable {
    path: Vec<Segment>,
    keys: Vec<String>,
}

impl ModelTable {
    /// The TOML header naming this table (`[sites.oidc]`, `[[sites.idps]]`); `None`
    /// for the top level.
    fn header(&self) -> Option<String> {
        let last = self.path.last()?;
        let name: Vec<&str> = self.path.iter().map(|s| s.key.as_str()).collect();
        Some(match last.kind {
            Kind::Table => format!("[{}]", name.join(".")),
            Kind::ArrayOfTables => format!("[[{}]]", name.join(".")),
        })
    }
}

/// What the parser said about a probe document.
#[derive(Debug)]
enum Answer {
    /// The raw model took it (validation may still have complained: not our business).
    Accepted,
    /// An unknown-key error; the table's keys, or `None` when serde named none.
    UnknownField(Option<Vec<String>>),
    /// A value of another type than the key takes (`found`, as written).
    WrongType(ValueKind),
    /// Any other TOML or serde error.
    Refused(String),
}

/// `key = value` nested inside `path`, as one line of inline tables and arrays.
fn probe_document(path: &[Segment], key: &str, value: &str) -> String {
    let mut doc = format!("{key} = {value}");
    for segment in path.iter().rev() {
        doc = match segment.kind {
            Kind::Table => format!("{} = {{ {doc} }}", segment.key),
            Kind::ArrayOfTables => format!("{} = [{{ {doc} }}]", segment.key),
        };
    }
    doc
}

fn ask(doc: &str) -> Answer {
    // The reading's first problem; validation's errors mean the raw model took the text.
    let reading = sso_config::reading::read(doc);
    let Some(problem) = reading.problems.first() else {
        return Answer::Accepted;
    };
    match &problem.kind {
        ProblemKind::UnknownKey { valid } => Answer::UnknownField(valid.clone()),
        ProblemKind::WrongType { found } => Answer::WrongType(*found),
        _ => Answer::Refused(problem.message.clone()),
    }
}

/// The fields named by an unknown-field answer; stops the test on a hidden shape.
fn named_fields(answer: Answer, doc: &str) -> Option<Vec<String>> {
    match answer {
        Answer::UnknownField(Some(fields)) => Some(fields),
        Answer::UnknownField(None) => panic!(
            "`{doc}`: the unknown-field error names no fields (a #[serde(flatten)]?); \
             the reference test cannot list this table's keys"
        ),
        Answer::Refused(m) if m.contains("untagged") => panic!(
            "`{doc}`: {m}\nan untagged enum hides its fields from the probe; teach config/tests/reference.rs its shapes"
        ),
        _ => None,
    }
}

enum Shape {
    Leaf,
    Table(Vec<String>),
    ArrayOfTables(Vec<String>),
}

fn shape(path: &[Segment], key: &str) -> Shape {
    let as_table = probe_document(path, key, &format!("{{ {PROBE} = 1 }}"));
    let answer = ask(&as_table);
    match answer {
        Answer::WrongType(ValueKind::Table) => {
            let as_array = probe_document(path, key, &format!("[{{ {PROBE} = 1 }}]"));
            match ask(&as_array) {
                Answer::WrongType(_) => Shape::Leaf,
                other => match named_fields(other, &as_array) {
                    Some(fields) => Shape::ArrayOfTables(fields),
                    None => panic!("`{as_array}`: unexpected answer; teach config/tests/reference.rs this shape"),
                },
            }
        }
        // The probe key was taken as a free key and its value checked (or accepted):
        // a table with free keys. Its values must not be tables themselves.
        Answer::Accepted => free_keys(path, key),
        Answer::WrongType(ValueKind::Integer(_)) => free_keys(path, key),
        other => match named_fields(other, &as_table) {
            Some(fields) => Shape::Table(fields),
            None => panic!("`{as_table}`: unexpected answer; teach config/tests/reference.rs this shape"),
        },
    }
}

fn free_keys(path: &[Segment], key: &str) -> Shape {
    let nested = probe_document(path, key, &format!("{{ {PROBE} = {{ {PROBE} = 1 }} }}"));
    if let Answer::UnknownField(_) = ask(&nested) {
        panic!(
            "`{nested}`: `{key}` is a table of tables with free names; decide how docs/configuration.md \
             names its sections and teach config/tests/reference.rs"
        );
    }
    Shape::Leaf
}

fn walk(path: Vec<Segment>, fields: Vec<String>, out: &mut Vec<ModelTable>) {
    assert!(
        path.len() <= MAX_DEPTH,
        "the model nests deeper than {MAX_DEPTH}: {path:?}"
    );
    let at = out.len();
    out.push(ModelTable {
        path: path.clone(),
        keys: Vec::new(),
    });
    for key in fields {
        let (kind, inner) = match shape(&path, &key) {
            Shape::Leaf => {
                out[at].keys.push(key);
                continue;
            }
            Shape::Table(inner) => (Kind::Table, inner),
            Shape::ArrayOfTables(inner) => (Kind::ArrayOfTables, inner),
        };
        let mut deeper = path.clone();
        deeper.push(Segment { key, kind });
        walk(deeper, inner, out);
    }
}

/// Every table of the model with its keys, learnt by probing.
fn model_tables() -> Vec<ModelTable> {
    let top = format!("{PROBE} = 1");
    let fields = named_fields(ask(&top), &top).unwrap_or_else(|| panic!("`{top}`: the top level names no keys"));
    let mut tables = Vec::new();
    walk(Vec::new(), fields, &mut tables);
    tables
}

/// A key's row in the document: its cells by column name.
type Row = BTreeMap<String, String>;

/// The document's sections named by a TOML header, each with its key rows.
fn document_sections(text: &str) -> BTreeMap<String, BTreeMap<String, Row>> {
    let mut sections: BTreeMap<String, BTreeMap<String, Row>> = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut columns: Vec<String> = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') {
            let title = line.trim_start_matches('#').trim();
            current = title
                .strip_prefix('`')
                .and_then(|t| t.strip_suffix('`'))
                .filter(|t| t.starts_with('['))
                .map(str::to_string);
            if let Some(name) = &current {
                sections.entry(name.clone()).or_default();
            }
            columns.clear();
            continue;
        }
        let (Some(section), Some(row)) = (&current, line.strip_prefix('|')) else {
            continue;
        };
        let cells = table_cells(row);
        match cells.first().map(String::as_str) {
            Some("key") => columns = cells,
            Some(first) if first.starts_with('`') && first.ends_with('`') && first.len() > 2 => {
                let key = first.trim_matches('`').to_string();
                let row = columns.iter().cloned().zip(cells).collect();
                sections.entry(section.clone()).or_default().insert(key, row);
            }
            _ => {}
        }
    }
    sections
}

/// The cells of a Markdown table row (after its leading `|`); `\|` stays inside a cell.
fn table_cells(row: &str) -> Vec<String> {
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut chars = row.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cell.push_str("\\|");
                chars.next();
            }
            '|' => cells.push(std::mem::take(&mut cell).trim().to_string()),
            _ => cell.push(c),
        }
    }
    cells
}

/// Every way `text` fails to document `tables`, one line each.
fn omissions(tables: &[ModelTable], text: &str) -> Vec<String> {
    let mut sections = document_sections(text);
    let mut problems = Vec::new();
    for table in tables {
        let Some(header) = table.header() else {
            // The top level holds only tables (checked here, so a new top-level leaf
            // cannot go unnoticed).
            for key in &table.keys {
                problems.push(format!("top-level key `{key}`: not in a section"));
            }
            continue;
        };
        let Some(rows) = sections.remove(&header) else {
            problems.push(format!("`{header}`: no section (a heading like `### \\`{header}\\``)"));
            for key in &table.keys {
                problems.push(format!("`{header}` `{key}`: no row"));
            }
            continue;
        };
        let mut rows = rows;
        for key in &table.keys {
            let Some(row) = rows.remove(key) else {
                problems.push(format!("`{header}` `{key}`: no row `| \\`{key}\\` |`"));
                continue;
            };
            let empty: Vec<&str> = COLUMNS
                .iter()
                .filter(|c| row.get(**c).is_none_or(String::is_empty))
                .copied()
                .collect();
            if !empty.is_empty() {
                problems.push(format!("`{header}` `{key}`: no {}", empty.join(", ")));
            }
            problems.extend(refused_examples(table, &header, key, row.get("example")));
        }
        for stale in rows.keys() {
            problems.push(format!(
                "`{header}` `{stale}`: documented, but the model has no such key"
            ));
        }
    }
    for (header, _) in sections {
        problems.push(format!("`{header}`: a section for a table the model does not have"));
    }
    problems
}

/// Each value in backticks in an example cell, written at its key: the raw model must
/// take it (the right TOML type; whether the value is valid is for `check`).
fn refused_examples(table: &ModelTable, header: &str, key: &str, cell: Option<&String>) -> Vec<String> {
    let values = cell.map_or("", String::as_str).split('`').skip(1).step_by(2);
    values
        .filter_map(|value| match ask(&probe_document(&table.path, key, value)) {
            Answer::Accepted => None,
            Answer::UnknownField(_) => Some(format!("`{header}` `{key}`: example {value} has an unknown key")),
            Answer::WrongType(found) => Some(format!("`{header}` `{key}`: example {value} is refused ({found:?})")),
            Answer::Refused(m) => Some(format!("`{header}` `{key}`: example {value} is refused: {m}")),
        })
        .collect()
}

fn reference() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/configuration.md");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn every_key_of_the_model_is_in_the_configuration_reference() {
    let tables = model_tables();
    let problems = omissions(&tables, &reference());
    assert!(
        problems.is_empty(),
        "docs/configuration.md misses {} thing(s) of the configuration model \
         (each key needs a row with {} in its table's section):\n  {}",
        problems.len(),
        COLUMNS.join(", "),
        problems.join("\n  ")
    );
}

#[test]
fn the_probe_sees_the_shapes_of_the_model() {
    let tables = model_tables();
    let find = |header: &str| {
        tables
            .iter()
            .find(|t| t.header().as_deref() == Some(header))
            .unwrap_or_else(|| panic!("{header} not found"))
    };
    let top = tables.iter().find(|t| t.path.is_empty()).expect("top level");
    assert!(top.keys.is_empty(), "the top level holds tables only: {:?}", top.keys);
    assert!(find("[server]").keys.contains(&"trusted_proxies".to_string()));
    assert_eq!(
        find("[server.rate_limits]").keys,
        ["login", "callback", "token", "logout", "link"]
    );
    assert_eq!(find("[[server.tls]]").keys, ["listen", "cert", "key"]);
    assert_eq!(find("[sites.tls]").keys, ["cert", "key"]);
    let oidc = &find("[sites.oidc]").keys;
    assert!(
        oidc.contains(&"logout_params".to_string()),
        "a free-key table is one key"
    );
    let idps = &find("[[sites.idps]]").keys;
    assert!(
        oidc.iter().all(|k| idps.contains(k)),
        "an IdP entry has every [sites.oidc] key"
    );
    assert!(find("[[sites.routes]]").keys.contains(&"access".to_string()));
    assert!(find("[sso]").keys.contains(&"auth_host".to_string()));
    assert!(find("[sites.sso]").keys.contains(&"mode".to_string()));
}

#[test]
fn a_missing_row_or_section_or_cell_is_reported() {
    let tables = model_tables();
    let text = reference();
    let without_row: String = text
        .lines()
        .filter(|l| !l.starts_with("| `fail_closed` |"))
        .map(|l| format!("{l}\n"))
        .collect();
    let problems = omissions(&tables, &without_row);
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("`[sessions]` `fail_closed`: no row")),
        "{problems:?}"
    );
    let without_section = text.replace("### `[sites.ecwid]`", "### Ecwid");
    let problems = omissions(&tables, &without_section);
    assert!(
        problems.iter().any(|p| p.starts_with("`[sites.ecwid]`: no section")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.starts_with("`[sites.ecwid]` `store_id`")),
        "{problems:?}"
    );
    let wrong_type = text.replace(
        "| `fail_closed` | bool | `false` | `true` |",
        "| `fail_closed` | bool | `false` | `\"yes\"` |",
    );
    let problems = omissions(&tables, &wrong_type);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("`fail_closed`: example \"yes\" is refused")),
        "{problems:?}"
    );
    let stale = text.replace("| `fail_closed` |", "| `fail_open` |");
    let problems = omissions(&tables, &stale);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("`fail_open`: documented, but the model")),
        "{problems:?}"
    );
}

#[test]
fn table_cells_keep_escaped_bars() {
    assert_eq!(
        table_cells(" `log_format` | `\"human\"` \\| `\"json\"` | `\"human\"` |"),
        ["`log_format`", "`\"human\"` \\| `\"json\"`", "`\"human\"`"]
    );
}
