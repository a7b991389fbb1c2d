//! `Cache-Control` for responses to requests that carried an identity: such a page is
//! personal, so shared caches must not keep it. The origin's own `no-store` or
//! `private` is left as it is; otherwise `public` and `s-maxage` are dropped and
//! `private` is added in front of the remaining directives.

use http::HeaderValue;

/// The header to set instead of `existing`, or `None` to leave it alone.
pub fn private_cache_control(existing: Option<&str>) -> Option<HeaderValue> {
    let Some(existing) = existing else {
        return Some(HeaderValue::from_static("private"));
    };
    let directives: Vec<&str> = existing.split(',').map(str::trim).filter(|d| !d.is_empty()).collect();
    let has = |name: &str| directives.iter().any(|d| d.eq_ignore_ascii_case(name));
    if has("no-store") || has("private") {
        return None;
    }
    let kept: Vec<&str> = directives
        .into_iter()
        .filter(|d| {
            let name = d.split('=').next().unwrap_or("").trim();
            !name.eq_ignore_ascii_case("public") && !name.eq_ignore_ascii_case("s-maxage")
        })
        .collect();
    if kept.is_empty() {
        return Some(HeaderValue::from_static("private"));
    }
    HeaderValue::from_str(&format!("private, {}", kept.join(", "))).ok()
}

#[cfg(test)]
mod tests {
    use super::private_cache_control;

    fn text(existing: Option<&str>) -> Option<String> {
        private_cache_control(existing).map(|v| v.to_str().unwrap_or_default().to_string())
    }

    #[test]
    fn identity_responses_become_private() {
        assert_eq!(text(None).as_deref(), Some("private"));
        assert_eq!(
            text(Some("public, max-age=60, s-maxage=600")).as_deref(),
            Some("private, max-age=60")
        );
        assert_eq!(text(Some("public")).as_deref(), Some("private"));
        assert_eq!(text(Some("no-store")), None);
        assert_eq!(text(Some("Private, max-age=5")), None);
    }
}
