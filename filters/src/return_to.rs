//! `return_to` and post-logout targets: only same-site relative paths survive.
//!
//! Rejected (the caller falls back to `/`): anything not starting with a single `/`;
//! `//host` and `/\host` (browsers read both as another host); schemes; control
//! characters and whitespace; backslashes; `.` and `..` path segments (a parser that
//! resolves them turns `/a/..//evil.example` into `//evil.example`); and the same
//! tricks hidden behind percent
//! encoding (`/%2f%2fhost`, `/%09/host`, `/%5chost`), checked after repeated decoding
//! of the whole target. Decoded, a query may hold spaces (`?q=red%20shoes`) but no
//! control characters.

/// Longest accepted target.
const MAX_LEN: usize = 2048;

/// The target if it is a safe same-site path, else `None`.
pub fn safe_return_to(raw: &str) -> Option<&str> {
    if raw.len() > MAX_LEN || !is_safe_path(raw) {
        return None;
    }
    let mut current = raw.to_string();
    for _ in 0..3 {
        let decoded = percent_decode(&current);
        if decoded == current {
            break;
        }
        if !is_safe_decoded(&decoded) {
            return None;
        }
        current = decoded;
    }
    Some(raw)
}

/// The safe target or `/`.
pub fn return_to_or_root(raw: Option<&str>) -> String {
    raw.and_then(safe_return_to).unwrap_or("/").to_string()
}

/// A decoded form: the path part as strict as the raw target, the query free of
/// control characters.
fn is_safe_decoded(p: &str) -> bool {
    let (path, query) = p.split_once(['?', '#']).unwrap_or((p, ""));
    is_safe_path(path) && !query.chars().any(char::is_control)
}

fn is_safe_path(p: &str) -> bool {
    let bytes = p.as_bytes();
    let path = p.split(['?', '#']).next().unwrap_or("");
    bytes.first() == Some(&b'/')
        && !matches!(bytes.get(1), Some(b'/') | Some(b'\\'))
        && !p.chars().any(|c| c.is_control() || c.is_whitespace() || c == '\\')
        && !path.split('/').any(|segment| segment == "." || segment == "..")
}

/// One round of `%XX` decoding over the whole target (a `&` or `+` is just a byte
/// here: a form decoder would stop at `&` and leave the rest unchecked).
fn percent_decode(s: &str) -> String {
    crate::request_path::percent_decode_lossy(s).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_same_site_paths() {
        for ok in [
            "/",
            "/account/orders?page=2",
            "/a/b#frag",
            "/search?q=a+b&x=%20",
            "/caf%C3%A9",
        ] {
            assert_eq!(safe_return_to(ok), Some(ok), "{ok}");
        }
    }

    #[test]
    fn rejects_other_sites_and_tricks() {
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "https://evil.example",
            "javascript:alert(1)",
            "evil.example",
            "",
            "/%09/evil.example",
            "/%2f%2fevil.example",
            "/%2F%2Fevil.example",
            "/%252f%252fevil.example",
            "/%5cevil.example",
            "/\t/evil.example",
            "/\r\nSet-Cookie:x=1",
            "/%0d%0aSet-Cookie:x=1",
            " /x",
            "/a/..//evil.example",
            "/.//evil.example",
            "/%2e%2e//evil.example",
            "/a/%2E%2E/%2F/evil.example",
            "/..",
            "/a/.",
        ] {
            assert_eq!(safe_return_to(bad), None, "{bad:?} accepted");
        }
        assert_eq!(return_to_or_root(Some("//evil.example")), "/");
        assert_eq!(return_to_or_root(None), "/");
        assert_eq!(safe_return_to(&format!("/{}", "a".repeat(3000))), None);
        // Everything is decoded, also what follows a `&`.
        assert_eq!(safe_return_to("/a?b=1&c=%0d%0aSet-Cookie:x"), None);
        assert_eq!(safe_return_to("/a?b=1&c=2+3"), Some("/a?b=1&c=2+3"));
        // Dots inside a segment or in the query are just characters.
        assert_eq!(safe_return_to("/a..b/c.d?x=..&y=."), Some("/a..b/c.d?x=..&y=."));
    }
}
