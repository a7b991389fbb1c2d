//! Reading the TOML text into the raw mirror ([`crate::raw`]), finding every problem
//! on the way rather than stopping at the first:
//!
//! - the text is parsed with recovery (toml's `DeTable::parse_recoverable`): each
//!   syntax error is reported with its line, its column and the line as written, and
//!   the parser reads on past it;
//! - the document is then deserialized into [`RawConfig`]. Serde stops at the first
//!   value that does not fit (an unknown key, a wrong type), so that key is reported
//!   with its path (`serde_path_to_error`) and line, taken out of the document, and
//!   the rest read again, until it fits ([`crate::read_problems`] words each
//!   problem);
//! - what could not be read (the keys taken out, the keys on a line with a syntax
//!   error) is remembered: [`Reading::covers`] tells validation which of its errors
//!   only repeat that (a key taken out looks missing).
//!
//! Work is bounded: at most [`MAX_PROBLEMS`] problems are reported, each read of the
//! rest is linear in the text.

use crate::raw::RawConfig;
use crate::read_problems::{self, ProblemKind, ReadProblem, ValueKind};
use serde::Deserialize;
use serde_path_to_error::Segment;
use std::collections::HashSet;
use toml::de::{DeTable, DeValue};
use toml::{Spanned, Table, Value};

/// Most problems reported from one text; past them the reading stops.
pub const MAX_PROBLEMS: usize = 100;

/// What reading a text found.
#[derive(Debug)]
pub struct Reading {
    /// The raw configuration without the keys that did not fit; `None` when the
    /// reading had to stop (too many problems, a problem nothing could be taken out for).
    pub raw: Option<RawConfig>,
    /// Syntax errors first, then the keys that did not fit, each group in text order.
    pub problems: Vec<ReadProblem>,
    /// Key paths that were not read (taken out, or on a line with a syntax error).
    unread: Vec<String>,
}

impl Reading {
    /// True when `path` (`sites[0].hosts`) is a key that was not read or lies below one.
    pub fn covers(&self, path: &str) -> bool {
        self.unread.iter().any(|u| below(path, u))
    }
}

/// True when `path` is `key` or a key inside it.
fn below(path: &str, key: &str) -> bool {
    path.strip_prefix(key)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.') || rest.starts_with('['))
}

/// Reads `text` as far as it can be read.
pub fn read(text: &str) -> Reading {
    let lines = Lines::of(text);
    let (document, syntax_errors) = DeTable::parse_recoverable(text);
    let mut keys = Vec::new();
    key_lines(&lines, document.get_ref(), "", &mut keys);
    let mut problems: Vec<ReadProblem> = syntax_errors
        .iter()
        .take(MAX_PROBLEMS)
        .map(|e| syntax_problem(text, &lines, e))
        .collect();
    let broken = broken_lines(text, &lines, &problems);
    let mut unread: Vec<String> = keys
        .iter()
        .filter(|(_, line)| broken.contains(line))
        .map(|(path, _)| path.clone())
        .collect();
    let raw = match Table::deserialize(toml::de::Deserializer::from(document)) {
        Ok(table) if syntax_errors.len() <= MAX_PROBLEMS => fit(table, &keys, &mut problems, &mut unread),
        Ok(_) => None,
        Err(e) => {
            problems.push(read_problems::other("config", None, e.message()));
            None
        }
    };
    Reading { raw, problems, unread }
}

/// The lines whose keys may not be read as written: each line with a syntax error,
/// and after a broken table header (`[sites`) every line up to the next header (the
/// parser puts their keys in some other table).
fn broken_lines(text: &str, lines: &Lines, problems: &[ReadProblem]) -> HashSet<usize> {
    let is_header = |line: usize| lines.text(text, line).trim_start().starts_with('[');
    let mut broken = HashSet::new();
    for line in problems.iter().filter_map(|p| p.line) {
        broken.insert(line);
        if is_header(line) {
            let next = (line + 1..=lines.starts.len()).take_while(|&l| !is_header(l));
            broken.extend(next);
        }
    }
    broken
}

/// Deserializes the document into the raw mirror, taking out each key that does not
/// fit after reporting it (unless a syntax error already covers it).
fn fit(
    mut table: Table,
    keys: &[(String, usize)],
    problems: &mut Vec<ReadProblem>,
    unread: &mut Vec<String>,
) -> Option<RawConfig> {
    let syntax_unread = unread.clone();
    let first_fit = problems.len();
    while problems.len() < MAX_PROBLEMS {
        let error = match serde_path_to_error::deserialize::<_, RawConfig>(Value::Table(table.clone())) {
            Ok(raw) => {
                problems[first_fit..].sort_by_key(|p| p.line);
                return Some(raw);
            }
            Err(e) => e,
        };
        let segments: Vec<Segment> = error.path().iter().cloned().collect();
        let path = render(&segments);
        let line = keys.iter().find(|(p, _)| *p == path).map(|(_, l)| *l);
        let value = value_at(&table, &segments).map(kind_of);
        let problem = read_problems::describe(&path, line, value, error.inner().message());
        // The key to take out: a wrong item of a list takes its list along (taking out
        // one item would renumber the others' paths).
        let cut = segments.iter().rposition(|s| matches!(s, Segment::Map { .. }));
        let Some(taken) = cut.filter(|c| take_out(&mut table, &segments[..=*c])) else {
            problems.push(problem);
            return None;
        };
        let taken = render(&segments[..=taken]);
        if !syntax_unread.iter().any(|u| below(&path, u)) {
            problems.push(problem);
        }
        unread.push(taken);
    }
    problems.push(read_problems::other(
        "config",
        None,
        &format!("more than {MAX_PROBLEMS} problems; fix these first"),
    ));
    None
}

/// `sites[0].oidc.issuer`, the form validation writes key paths in.
fn render(segments: &[Segment]) -> String {
    let mut path = String::new();
    for segment in segments {
        match segment {
            Segment::Map { key } => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
            }
            Segment::Seq { index } => path.push_str(&format!("[{index}]")),
            Segment::Enum { variant } => path.push_str(&format!("::{variant}")),
            Segment::Unknown => path.push('?'),
        }
    }
    if path.is_empty() {
        "config".into()
    } else {
        path
    }
}

/// The value at `segments` in the document.
fn value_at<'t>(table: &'t Table, segments: &[Segment]) -> Option<&'t Value> {
    let (first, rest) = segments.split_first()?;
    let Segment::Map { key } = first else { return None };
    let mut value = table.get(key)?;
    for segment in rest {
        value = match (segment, value) {
            (Segment::Map { key }, Value::Table(t)) => t.get(key)?,
            (Segment::Seq { index }, Value::Array(a)) => a.get(*index)?,
            _ => return None,
        };
    }
    Some(value)
}

/// Removes the key at `segments` (ending in a key, not an index); false when absent.
fn take_out(table: &mut Table, segments: &[Segment]) -> bool {
    match segments {
        [Segment::Map { key }] => table.remove(key).is_some(),
        [Segment::Map { key }, rest @ ..] => table.get_mut(key).is_some_and(|v| take_out_in(v, rest)),
        _ => false,
    }
}

fn take_out_in(value: &mut Value, segments: &[Segment]) -> bool {
    match (value, segments) {
        (Value::Table(table), _) => take_out(table, segments),
        (Value::Array(items), [Segment::Seq { index }, rest @ ..]) => {
            items.get_mut(*index).is_some_and(|item| take_out_in(item, rest))
        }
        _ => false,
    }
}

fn kind_of(value: &Value) -> ValueKind {
    match value {
        Value::String(_) => ValueKind::String,
        Value::Integer(n) => ValueKind::Integer(*n),
        Value::Float(_) => ValueKind::Float,
        Value::Boolean(b) => ValueKind::Boolean(*b),
        Value::Datetime(_) => ValueKind::Date,
        Value::Array(_) => ValueKind::List,
        Value::Table(_) => ValueKind::Table,
    }
}

/// Where each line starts, to turn byte offsets into line numbers.
struct Lines {
    starts: Vec<usize>,
}

impl Lines {
    fn of(text: &str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Lines { starts }
    }

    /// The 1-based line holding byte `offset`.
    fn line(&self, offset: usize) -> usize {
        self.starts.partition_point(|&start| start <= offset).max(1)
    }

    /// The text of 1-based `line`, without its line break.
    fn text<'t>(&self, text: &'t str, line: usize) -> &'t str {
        let start = self.starts.get(line - 1).copied().unwrap_or(text.len());
        let end = self.starts.get(line).map_or(text.len(), |next| next - 1);
        text.get(start..end.max(start)).unwrap_or("").trim_end_matches('\r')
    }
}

/// Every key path of the parsed document with the line its key is written on.
fn key_lines(lines: &Lines, table: &DeTable<'_>, prefix: &str, out: &mut Vec<(String, usize)>) {
    for (key, value) in table.iter() {
        let path = if prefix.is_empty() {
            key.get_ref().to_string()
        } else {
            format!("{prefix}.{}", key.get_ref())
        };
        out.push((path.clone(), lines.line(key.span().start)));
        value_lines(lines, value, &path, out);
    }
}

fn value_lines(lines: &Lines, value: &Spanned<DeValue<'_>>, path: &str, out: &mut Vec<(String, usize)>) {
    match value.get_ref() {
        DeValue::Table(table) => key_lines(lines, table, path, out),
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let path = format!("{path}[{i}]");
                out.push((path.clone(), lines.line(item.span().start)));
                value_lines(lines, item, &path, out);
            }
        }
        _ => {}
    }
}

/// A syntax error located by line and column (in characters), with the line shown.
fn syntax_problem(text: &str, lines: &Lines, e: &toml::de::Error) -> ReadProblem {
    let message = e.message().trim().replace('\n', "; ");
    let Some(span) = e.span() else {
        return read_problems::other("config", None, &message);
    };
    let line = lines.line(span.start);
    let source = lines.text(text, line);
    let line_start = lines.starts.get(line - 1).copied().unwrap_or(0);
    let before = text.get(line_start..span.start.max(line_start)).unwrap_or(source);
    let column = before.chars().count() + 1;
    ReadProblem {
        path: format!("line {line}, column {column}"),
        line: Some(line),
        message,
        excerpt: read_problems::excerpt(line, source, before),
        kind: ProblemKind::Syntax,
    }
}

#[cfg(test)]
#[path = "reading_tests.rs"]
mod tests;
