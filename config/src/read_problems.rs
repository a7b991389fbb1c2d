//! The words of a reading problem ([`crate::reading`]): serde's "invalid type:
//! integer `30`, expected a string" becomes `expected a duration string such as
//! "30m", found the number 30 (line 9)`, and "unknown field `idle_timout`, expected
//! one of …" becomes `unknown key, did you mean `idle_timeout`?`. No message quotes a
//! string value from the file: it may be a secret, and a refused reload logs it.

use crate::errors::ConfigError;

/// One problem found while reading the text into the raw mirror.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadProblem {
    /// The key path (`sessions.idle_timeout`), or `line 3, column 7` for a syntax error.
    pub path: String,
    /// The line it is on, when known.
    pub line: Option<usize>,
    /// What is wrong, in an operator's words.
    pub message: String,
    /// The line as written with a caret (syntax errors, unless it may hold a secret).
    pub excerpt: Option<String>,
    pub kind: ProblemKind,
}

/// What kind of problem, for tools that read the configuration model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProblemKind {
    /// Not TOML.
    Syntax,
    /// A key the table does not have; `valid` are the keys it has (`None`: serde
    /// named none).
    UnknownKey { valid: Option<Vec<String>> },
    /// A value of another TOML type than the key takes.
    WrongType { found: ValueKind },
    /// Anything else serde refused.
    Other,
}

/// The TOML type of a value as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    String,
    Integer(i64),
    Float,
    Boolean(bool),
    Date,
    List,
    Table,
}

impl ReadProblem {
    /// As a configuration error: the line goes into the message, which stays one line.
    pub fn to_error(&self) -> ConfigError {
        let message = match (&self.kind, self.line) {
            (ProblemKind::Syntax, _) | (_, None) => self.message.clone(),
            (_, Some(line)) => format!("{} (line {line})", self.message),
        };
        ConfigError {
            path: self.path.clone(),
            message,
            excerpt: self.excerpt.clone(),
        }
    }
}

pub(crate) fn other(path: &str, line: Option<usize>, message: &str) -> ReadProblem {
    ReadProblem {
        path: path.to_string(),
        line,
        message: message.trim().replace('\n', "; "),
        excerpt: None,
        kind: ProblemKind::Other,
    }
}

/// Words serde's `message` about the key at `path` (holding `found`, when known).
pub(crate) fn describe(path: &str, line: Option<usize>, found: Option<ValueKind>, message: &str) -> ReadProblem {
    let key = last_key(path);
    let (message, kind) = if let Some(rest) = message.strip_prefix("unknown field `") {
        let valid = valid_keys(rest);
        let advice = match valid.as_deref().map(|v| (closest(key, v), v)) {
            Some((Some(near), _)) => format!("unknown key, did you mean `{near}`?"),
            Some((None, [])) => "unknown key: this table takes no keys".to_string(),
            Some((None, valid)) => format!("unknown key; the keys here are {}", quoted(valid)),
            None => "unknown key".to_string(),
        };
        (advice, ProblemKind::UnknownKey { valid })
    } else if let (Some(expected), Some(found)) = (invalid_type(message), found) {
        let expected = expected_form(expected, key, path, found);
        let message = format!("expected {expected}, found {}", found_words(found, key));
        (message, ProblemKind::WrongType { found })
    } else {
        return other(path, line, message);
    };
    ReadProblem {
        path: path.to_string(),
        line,
        message,
        excerpt: None,
        kind,
    }
}

/// The last key of a path (`idle_timeout` of `sessions.idle_timeout`, `hosts` of
/// `sites[0].hosts[1]`).
fn last_key(path: &str) -> &str {
    let key = path.rsplit('.').next().unwrap_or(path);
    key.split('[').next().unwrap_or(key)
}

/// The keys named by serde's "`x`, expected one of `a`, `b`" (after "unknown field `").
fn valid_keys(rest: &str) -> Option<Vec<String>> {
    let (_, expected) = rest.split_once("`, ")?;
    if expected.starts_with("there are no fields") {
        return Some(Vec::new());
    }
    let names: Vec<String> = expected.split('`').skip(1).step_by(2).map(str::to_string).collect();
    (!names.is_empty()).then_some(names)
}

/// The closest valid key by edit distance, when close enough to be a typo (a third of
/// its length, case and `-` for `_` ignored).
fn closest<'v>(key: &str, valid: &'v [String]) -> Option<&'v str> {
    let written = key.to_ascii_lowercase().replace('-', "_");
    valid
        .iter()
        .map(|v| (strsim::damerau_levenshtein(&written, v), v))
        .min_by_key(|(distance, _)| *distance)
        .filter(|(distance, v)| *distance <= (v.len().max(written.len()) / 3).max(1))
        .map(|(_, v)| v.as_str())
}

fn quoted(keys: &[String]) -> String {
    keys.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
}

/// What serde expected in "invalid type: X, expected Y".
fn invalid_type(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("invalid type: ")?;
    rest.split_once(", expected ").map(|(_, expected)| expected)
}

/// Serde's expectation in an operator's words, with how to write it.
fn expected_form(expected: &str, key: &str, path: &str, found: ValueKind) -> String {
    // `[sites.routes]` for `sites[0].routes`: how the table is written as a header.
    let header: String = path
        .split('.')
        .map(|part| part.split('[').next().unwrap_or(part))
        .collect::<Vec<_>>()
        .join(".");
    match expected {
        "a string" => "a string in quotes".into(),
        "a sequence" if found == ValueKind::Table => {
            format!("a list (a list of tables is written with a [[{header}]] header per entry)")
        }
        "a sequence" => format!("a list, in brackets even for one value: {key} = [\"…\"]"),
        "a boolean" => "true or false, without quotes".into(),
        "i64" | "u64" | "i32" | "u32" | "u16" | "u8" | "usize" => "a whole number, without quotes".into(),
        "a map" => format!("a table: a [{header}] header, or {key} = {{ … }}"),
        s if s.starts_with("struct ") => format!("a table: a [{header}] header, or {key} = {{ … }}"),
        other => other.to_string(),
    }
}

/// The value as written, without quoting a string (it may be a secret); numbers are
/// shown unless the key holds a secret.
fn found_words(found: ValueKind, key: &str) -> String {
    match found {
        ValueKind::String => "a string".into(),
        ValueKind::Integer(n) if !holds_secret(key) => format!("the number {n}"),
        ValueKind::Integer(_) => "a number".into(),
        ValueKind::Float => "a decimal number".into(),
        ValueKind::Boolean(b) => format!("{b}"),
        ValueKind::Date => "a date".into(),
        ValueKind::List => "a list".into(),
        ValueKind::Table => "a table".into(),
    }
}

/// Keys (or lines) whose value may be a secret, never shown.
fn holds_secret(text: &str) -> bool {
    let text = text.to_ascii_lowercase();
    ["secret", "token", "password"].iter().any(|w| text.contains(w)) || text.contains('@')
}

/// Whether `source` is a line of its own (`key = …`, a `[table]` header, a comment or
/// blank), not the continuation of a value begun above, whose key (and whether it
/// holds a secret) that line does not show.
fn starts_a_statement(source: &str) -> bool {
    let line = source.trim_start();
    let is_key = |text: &str| {
        !text.trim().is_empty()
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '"' | '\'' | ' ' | '\t'))
    };
    if line.is_empty() || line.starts_with('#') {
        return true;
    }
    if let Some(header) = line.strip_prefix('[') {
        let name = header.trim_start_matches('[');
        return name.split(']').next().is_some_and(is_key);
    }
    line.split_once('=').is_some_and(|(key, _)| is_key(key))
}

/// `  12 | the line` and a caret under the column, for a terminal; `None` for a line
/// that may hold a secret (a key with one, or a URL with credentials).
pub(crate) fn excerpt(line: usize, source: &str, before: &str) -> Option<String> {
    if holds_secret(source) || !starts_a_statement(source) {
        return None;
    }
    let shown: String = source
        .chars()
        .map(|c| if c.is_control() && c != '\t' { '?' } else { c })
        .collect();
    let pad: String = before.chars().map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
    let number = line.to_string();
    let gutter = " ".repeat(number.len());
    Some(format!("{number} | {shown}\n{gutter} | {pad}^"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_continuation_line_is_never_shown() {
        assert!(excerpt(3, "listen = [\"a\" \"b\"]", "listen = ").is_some());
        assert!(excerpt(3, "[[sites]", "").is_some());
        for continued in ["  \"Xk9vQ2\"", "Xk9vQ2\"\"\"x", "  Xk9vQ2,", "  [\"a\", \"b\"] x"] {
            assert_eq!(excerpt(3, continued, ""), None, "{continued}");
        }
    }

    #[test]
    fn serde_lists_of_keys_are_read() {
        assert_eq!(
            valid_keys("x`, expected one of `a`, `b`, `c`"),
            Some(vec!["a".into(), "b".into(), "c".into()])
        );
        assert_eq!(
            valid_keys("x`, expected `a` or `b`"),
            Some(vec!["a".into(), "b".into()])
        );
        assert_eq!(valid_keys("x`, there are no fields"), Some(vec![]));
        assert_eq!(valid_keys("x`"), None);
    }

    #[test]
    fn a_typo_is_matched_but_another_word_is_not() {
        let valid: Vec<String> = ["idle_timeout", "absolute_timeout", "store"].map(String::from).into();
        assert_eq!(closest("idle_timout", &valid), Some("idle_timeout"));
        assert_eq!(closest("Idle-Timeout", &valid), Some("idle_timeout"));
        assert_eq!(closest("stor", &valid), Some("store"));
        assert_eq!(closest("idle", &valid), None);
        assert_eq!(closest("colour", &valid), None);
    }

    #[test]
    fn a_line_that_may_hold_a_secret_is_not_shown() {
        assert_eq!(excerpt(3, "a = \"x", "a = "), Some("3 | a = \"x\n  |     ^".into()));
        assert_eq!(excerpt(3, "client_secret = \"abc", ""), None);
        assert_eq!(excerpt(3, "redis_url = \"redis://:pw@h", ""), None);
        assert_eq!(excerpt(3, "\ta = 1\u{1b}", "\t"), Some("3 | \ta = 1?\n  | \t^".into()));
    }
}
