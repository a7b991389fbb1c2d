//! The language of a page: the first of the visitor's `Accept-Language` ranges
//! (RFC 9110 §12.5.4, by descending `q`) that the site speaks, by RFC 4647 lookup
//! (`de-AT` finds `de`; `pt-BR` finds `pt-br`, then `pt`); `q=0` refuses a language.
//!
//! Hand-written rather than `fluent-langneg`: that crate ignores `q`, so
//! `fr;q=0, de` would pick French. The header is untrusted: only its first
//! [`MAX_HEADER`] bytes and [`MAX_RANGES`] ranges are read, and nothing here fails.

/// Bytes of `Accept-Language` looked at.
pub const MAX_HEADER: usize = 512;
/// Ranges of `Accept-Language` looked at.
pub const MAX_RANGES: usize = 16;

/// The language of `spoken` (lower-case tags) to answer a visitor whose
/// `Accept-Language` is `header`, or `None` when no range asks for one of them (the
/// site's default language then).
pub fn negotiate<'a>(header: &str, spoken: &'a [String]) -> Option<&'a str> {
    for range in ranges(header) {
        let mut tag = range.as_str();
        loop {
            if let Some(found) = spoken.iter().find(|s| s.as_str() == tag) {
                return Some(found.as_str());
            }
            match tag.rfind('-') {
                Some(cut) => tag = &tag[..cut],
                None => break,
            }
        }
    }
    None
}

/// The language ranges of `header`, by descending preference (equal `q` keep their
/// order), lower-cased, without `*` and without those with `q=0`.
pub fn ranges(header: &str) -> Vec<String> {
    let header = match header.char_indices().nth(MAX_HEADER) {
        Some((cut, _)) => &header[..cut],
        None => header,
    };
    let mut ranges: Vec<(u16, String)> = header
        .split(',')
        .take(MAX_RANGES)
        .filter_map(|item| {
            let mut parts = item.split(';');
            let tag = parts.next()?.trim().to_ascii_lowercase();
            if tag.is_empty()
                || tag == "*"
                || tag.len() > 35
                || !tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            {
                return None;
            }
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q=").or_else(|| p.trim().strip_prefix("Q=")))
                .map_or(Some(1000), quality)?;
            (q > 0).then_some((q, tag))
        })
        .collect();
    ranges.sort_by_key(|r| std::cmp::Reverse(r.0));
    ranges.into_iter().map(|(_, tag)| tag).collect()
}

/// A `qvalue` in thousandths (`0.8` is 800); `None` when it is not one (the range
/// is then ignored, as a malformed range should be).
fn quality(text: &str) -> Option<u16> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = format!("{fraction:0<3}").parse::<u16>().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spoken() -> Vec<String> {
        ["en", "de", "fr", "es", "nl", "pt-br"].map(String::from).to_vec()
    }

    #[test]
    fn the_most_wanted_spoken_language_wins() {
        let s = spoken();
        assert_eq!(negotiate("de-AT,de;q=0.9,en;q=0.8", &s), Some("de"));
        assert_eq!(
            negotiate("fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5", &s),
            Some("fr")
        );
        assert_eq!(negotiate("en;q=0.5, nl", &s), Some("nl"), "by q, not by order");
        assert_eq!(negotiate("fr;q=0, de", &s), Some("de"), "q=0 refuses");
        assert_eq!(negotiate("pt-BR", &s), Some("pt-br"));
        assert_eq!(negotiate("ja, zh-CN;q=0.9", &s), None);
        assert_eq!(negotiate("*", &s), None);
        assert_eq!(negotiate("", &s), None);
    }

    #[test]
    fn hostile_headers_are_read_only_so_far() {
        let s = spoken();
        for header in [
            "de;q=abc",
            "de;q=1.5",
            "de;q=-1",
            ";;;,,,",
            "\u{0}de",
            "d\u{e9}",
            "de;q=0.0001",
            "de;q=",
            "<script>",
        ] {
            assert_ne!(negotiate(header, &s), Some("de"), "{header:?}");
        }
        let long = format!("{}de", "xx,".repeat(10_000));
        assert_eq!(negotiate(&long, &s), None, "past the first ranges");
        assert_eq!(ranges(&"ä".repeat(10_000)).len(), 0);
        assert_eq!(quality("0.8"), Some(800));
        assert_eq!(quality("1.000"), Some(1000));
        assert_eq!(quality("0"), Some(0));
    }
}
