//! Values as the access line writes them: plain, one line, nothing a terminal or a
//! log viewer would read as a line break or a control sequence.

use std::fmt;

/// A value, or `-` when there is none.
pub struct OrDash<T>(pub Option<T>);

impl<T: fmt::Display> fmt::Display for OrDash<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(v) => v.fmt(f),
            None => f.write_str("-"),
        }
    }
}

/// A request path with every byte outside printable ASCII percent-encoded: a
/// client's path cannot put a line break (`U+0085`, `U+2028`), a direction override
/// or an escape sequence into a text log.
pub struct PrintablePath<'a>(pub &'a str);

impl fmt::Display for PrintablePath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Runs of printable ASCII are written as they are (always valid UTF-8 on
        // their own); every other byte, each byte of a multi-byte character too, as `%XX`.
        for run in self.0.as_bytes().split_inclusive(|b| !b.is_ascii_graphic()) {
            let (plain, odd) = match run.split_last() {
                Some((last, head)) if !last.is_ascii_graphic() => (head, Some(last)),
                _ => (run, None),
            };
            f.write_str(std::str::from_utf8(plain).unwrap_or("-"))?;
            if let Some(b) = odd {
                write!(f, "%{b:02X}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_written_on_one_printable_line() {
        for (path, logged) in [
            ("/account/orders", "/account/orders"),
            ("/x\u{85}FAKE", "/x%C2%85FAKE"),
            ("/a\u{2028}b\u{202e}c", "/a%E2%80%A8b%E2%80%AEc"),
            ("/esc\u{1b}[2J", "/esc%1B[2J"),
            ("/sp ace", "/sp%20ace"),
            ("", ""),
        ] {
            assert_eq!(PrintablePath(path).to_string(), logged, "{path:?}");
        }
        assert_eq!(OrDash(None::<u8>).to_string(), "-");
        assert_eq!(OrDash(Some(7)).to_string(), "7");
    }
}
