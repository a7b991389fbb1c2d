//! Small readings of a request the gateway answers itself: one query parameter, the
//! media type of its body.

/// The first value of parameter `name` in a query string (form-decoded).
pub fn query_param(query: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// True when the body is declared as `media_type` (`Content-Type`, parameters such
/// as `charset` ignored, case-insensitive).
pub fn has_media_type(headers: &http::HeaderMap, media_type: &str) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case(media_type))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_and_media_types_read_as_sent() {
        assert_eq!(query_param("a=1&b=x%20y&b=2", "b").as_deref(), Some("x y"));
        assert_eq!(query_param("a=1", "b"), None);
        let mut h = http::HeaderMap::new();
        assert!(!has_media_type(&h, "application/json"));
        h.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("Application/JSON; charset=utf-8"),
        );
        assert!(has_media_type(&h, "application/json"));
        assert!(!has_media_type(&h, "application/x-www-form-urlencoded"));
    }
}
