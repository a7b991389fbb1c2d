//! The one canonical path of a request.
//!
//! Runs first in `request_filter`, once the site is known, before any decision. The
//! request-target as it came off the wire is classified (origin-form `/…`,
//! absolute-form `http(s)://host/…`, or `*` for `OPTIONS`; anything else is refused)
//! and its path canonicalised:
//! - percent-encoded unreserved characters are decoded (`%61` → `a`, `%2e` → `.`),
//!   other escapes are kept with upper-case hex;
//! - dot-segments are resolved (RFC 3986 §5.2.4) and repeated slashes merged;
//! - encoded `/` and `\`, a raw `\`, encoded NUL and control characters, raw bytes
//!   outside printable ASCII, a fragment, and `.`/`..` segments carrying `;`
//!   parameters are refused, unless (for the slashes only) the site allows them.
//!
//! The canonical path is what the origin receives and what the gateway's own
//! endpoints match. Routes match a stricter reading of it, the [`RequestPath::route_key`]:
//! `;parameters` removed from every segment, every escape decoded, slashes merged and
//! dot-segments resolved again, and lower-cased when the site's paths are
//! case-insensitive — so an origin that strips parameters, decodes `%2F` or folds case
//! can never be reached on a path whose rule is weaker than the one it serves.

use sso_config::PathPolicy;
use std::borrow::Cow;

/// Why a request-target was refused (answered with 400).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TargetError {
    /// Not origin-form, not absolute-form, not `*` with `OPTIONS`.
    #[error("the request-target is not a path")]
    NotAPath,
    /// Absolute-form whose authority is not the `Host` header's, or carries userinfo.
    #[error("the request-target names another host")]
    AuthorityMismatch,
    /// `%2F`, `%5C` or a raw `\` on a site that does not allow them.
    #[error("the path contains an encoded slash or a backslash")]
    EncodedSlash,
    /// A control character, NUL, or a raw byte outside printable ASCII.
    #[error("the path contains a control character or a raw non-ASCII byte")]
    BadCharacter,
    /// A `%` not followed by two hex digits.
    #[error("the path contains a malformed percent-escape")]
    BadEscape,
    /// A fragment (`#`), which is never part of a request-target.
    #[error("the request-target contains a fragment")]
    Fragment,
    /// A `.` or `..` segment with `;` parameters (read as a dot-segment by some origins).
    #[error("the path contains a dot-segment with parameters")]
    AmbiguousDotSegment,
}

impl TargetError {
    /// Stable word for metrics and error pages.
    pub fn code(&self) -> &'static str {
        match self {
            TargetError::NotAPath => "target_not_a_path",
            TargetError::AuthorityMismatch => "target_authority_mismatch",
            TargetError::EncodedSlash => "encoded_slash",
            TargetError::BadCharacter => "bad_character",
            TargetError::BadEscape => "bad_escape",
            TargetError::Fragment => "fragment",
            TargetError::AmbiguousDotSegment => "ambiguous_dot_segment",
        }
    }
}

/// The form of a request-target, before its path is looked at.
#[derive(Debug, PartialEq, Eq)]
pub enum TargetForm<'a> {
    /// `/path?query`.
    Origin(&'a str),
    /// `http(s)://authority/path?query`: the authority and the `/path?query` part.
    Absolute { authority: &'a str, rest: &'a str },
    /// `*` (only with `OPTIONS`).
    Asterisk,
}

impl<'a> TargetForm<'a> {
    /// Classifies the raw request-target; `is_options` allows `*`.
    pub fn classify(raw: &'a [u8], is_options: bool) -> Result<Self, TargetError> {
        let text = std::str::from_utf8(raw).map_err(|_| TargetError::BadCharacter)?;
        if text.starts_with('/') {
            return Ok(TargetForm::Origin(text));
        }
        if text == "*" {
            return if is_options {
                Ok(TargetForm::Asterisk)
            } else {
                Err(TargetError::NotAPath)
            };
        }
        let after_scheme =
            strip_prefix_ignore_case(text, "http://").or_else(|| strip_prefix_ignore_case(text, "https://"));
        let Some(after) = after_scheme else {
            return Err(TargetError::NotAPath);
        };
        let end = after.find(['/', '?', '#']).unwrap_or(after.len());
        let (authority, rest) = after.split_at(end);
        if authority.is_empty() || authority.contains(['@', '\\']) {
            return Err(TargetError::AuthorityMismatch);
        }
        Ok(TargetForm::Absolute { authority, rest })
    }

    /// The `/path?query` part (`/` for `*` and for `http://host`).
    fn path_and_query(&self) -> &'a str {
        match self {
            TargetForm::Origin(p) => p,
            TargetForm::Absolute { rest, .. } if rest.starts_with('/') => rest,
            TargetForm::Absolute { .. } | TargetForm::Asterisk => "/",
        }
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &text[prefix.len()..])
}

/// A request's canonical path and the key its routes match on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestPath<'a> {
    /// The canonical path, sent to the origin.
    pub path: Cow<'a, str>,
    /// The query as received (without `?`), if any.
    pub query: Option<&'a str>,
    /// The route-matching reading of `path`, when it differs from it.
    route_key: Option<String>,
    /// True when the target sent upstream must be rewritten (the canonical path differs
    /// from what was received, or the target was absolute-form or `*`).
    pub rewritten: bool,
}

impl<'a> RequestPath<'a> {
    /// Canonicalises the path of a classified target under a site's policy.
    pub fn canonical(form: &TargetForm<'a>, policy: PathPolicy) -> Result<Self, TargetError> {
        let pq = form.path_and_query();
        if pq.contains('#') {
            return Err(TargetError::Fragment);
        }
        let (raw_path, query) = match pq.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (pq, None),
        };
        let path = canonicalise(raw_path, policy.allow_encoded_slashes)?;
        // `OPTIONS *` goes upstream as it came; its rules are those of `/`.
        let rewritten = match form {
            TargetForm::Origin(_) => matches!(path, Cow::Owned(_)),
            TargetForm::Absolute { .. } => true,
            TargetForm::Asterisk => false,
        };
        let route_key = route_key(&path, policy.case_insensitive)?;
        Ok(RequestPath {
            path,
            query,
            route_key,
            rewritten,
        })
    }

    /// The path routes are matched on.
    pub fn route_key(&self) -> &str {
        self.route_key.as_deref().unwrap_or(&self.path)
    }

    /// `path?query`, the origin-form target to send upstream.
    pub fn target(&self) -> String {
        match self.query {
            Some(q) => format!("{}?{q}", self.path),
            None => self.path.to_string(),
        }
    }
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Step one: escapes decoded or normalised, bad bytes refused; then segments.
fn canonicalise(raw: &str, allow_slashes: bool) -> Result<Cow<'_, str>, TargetError> {
    let bytes = raw.as_bytes();
    let mut decoded = String::with_capacity(bytes.len());
    let mut changed = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'%' => {
                let (Some(h), Some(l)) = (
                    bytes.get(i + 1).copied().and_then(hex),
                    bytes.get(i + 2).copied().and_then(hex),
                ) else {
                    return Err(TargetError::BadEscape);
                };
                let value = h * 16 + l;
                if value < 0x20 || value == 0x7f {
                    return Err(TargetError::BadCharacter);
                }
                if (value == b'/' || value == b'\\') && !allow_slashes {
                    return Err(TargetError::EncodedSlash);
                }
                if is_unreserved(value) {
                    decoded.push(value as char);
                    changed = true;
                } else {
                    let upper = [
                        b'%',
                        bytes[i + 1].to_ascii_uppercase(),
                        bytes[i + 2].to_ascii_uppercase(),
                    ];
                    changed |= upper[1] != bytes[i + 1] || upper[2] != bytes[i + 2];
                    decoded.extend(upper.iter().map(|&c| c as char));
                }
                i += 3;
            }
            b'\\' if !allow_slashes => return Err(TargetError::EncodedSlash),
            0x21..=0x7e => {
                decoded.push(b as char);
                i += 1;
            }
            _ => return Err(TargetError::BadCharacter),
        }
    }
    match normalise_segments(&decoded, true)? {
        Some(normal) => Ok(Cow::Owned(normal)),
        None if changed => Ok(Cow::Owned(decoded)),
        None => Ok(Cow::Borrowed(raw)),
    }
}

/// Resolves dot-segments and merges repeated slashes; `None` when `path` is already
/// normal. With `strict`, a dot-segment carrying `;` parameters is refused.
fn normalise_segments(path: &str, strict: bool) -> Result<Option<String>, TargetError> {
    let segments = path.get(1..).unwrap_or("").split('/');
    let mut out: Vec<&str> = Vec::new();
    let mut changed = !path.starts_with('/');
    let mut trailing = false;
    let count = path.get(1..).unwrap_or("").split('/').count();
    for (i, segment) in segments.enumerate() {
        let last = i + 1 == count;
        trailing = false;
        if strict {
            let name = segment.split(';').next().unwrap_or("");
            if segment.contains(';') && (name == "." || name == "..") {
                return Err(TargetError::AmbiguousDotSegment);
            }
        }
        match segment {
            "" => {
                changed |= !last;
                trailing = last;
            }
            "." => {
                changed = true;
                trailing = last;
            }
            ".." => {
                changed = true;
                out.pop();
                trailing = last;
            }
            s => out.push(s),
        }
    }
    if !changed {
        return Ok(None);
    }
    let mut normal = String::with_capacity(path.len());
    for s in &out {
        normal.push('/');
        normal.push_str(s);
    }
    if trailing || out.is_empty() {
        normal.push('/');
    }
    Ok(Some(normal))
}

/// The strictest reading of a canonical path, for route matching; `None` when it is
/// the path itself. Every escape decoded (`\` read as `/`), the path cut at a decoded
/// `?` or `#` (an origin that decodes and re-splits reads the rest as a query), and
/// each segment's `;parameters` dropped. A `.` or `..` segment that appears only in
/// this reading (`/api/..%3B/x`, `/a%2F..%2Fb`) is refused: the origin could resolve
/// it, so no rule can be decided for it.
fn route_key(path: &str, case_insensitive: bool) -> Result<Option<String>, TargetError> {
    let needs_work =
        path.contains([';', '%', '\\']) || (case_insensitive && path.bytes().any(|b| b.is_ascii_uppercase()));
    if !needs_work {
        return Ok(None);
    }
    let decoded = percent_decode_lossy(path).replace('\\', "/");
    let decoded = decoded.split(['?', '#']).next().unwrap_or("");
    let mut key = String::with_capacity(decoded.len());
    for (i, segment) in decoded.split('/').enumerate() {
        if i > 0 {
            key.push('/');
        }
        let name = segment.split(';').next().unwrap_or("");
        if i > 0 && (name == "." || name == "..") {
            return Err(TargetError::AmbiguousDotSegment);
        }
        key.push_str(name);
    }
    if case_insensitive {
        key.make_ascii_lowercase();
    }
    Ok(match normalise_segments(&key, false) {
        Ok(Some(normal)) => Some(normal),
        _ => Some(key),
    })
}

/// Decodes every well-formed `%XX` (others are kept as they are); bytes that are not
/// UTF-8 become U+FFFD.
pub(crate) fn percent_decode_lossy(s: &str) -> Cow<'_, str> {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy()
}

#[cfg(test)]
mod tests;
