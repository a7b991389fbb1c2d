//! A response decided by a filter, written by the gateway.
//!
//! Filters never touch the socket: they return a [`Reply`] and the gateway writes it.
//! Error replies are a short HTML page for browsers and JSON for API calls.

use http::HeaderMap;

/// A complete response: status, extra headers and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    /// Headers whose names come from the configuration (the identity headers of a
    /// forward-auth answer), with values that may be marked sensitive.
    pub named: Vec<(http::HeaderName, http::HeaderValue)>,
    pub body: String,
}

impl Reply {
    /// An error page (HTML or JSON, depending on what the client accepts).
    /// `code` is a stable machine word (`unknown_host`), `message` is for people.
    pub fn error(status: u16, code: &str, message: &str, json: bool) -> Reply {
        Reply::error_with_link(status, code, message, json, None)
    }

    /// [`Reply::error`] whose HTML page also offers a way on: `link` is (target, text),
    /// both escaped here.
    pub fn error_with_link(status: u16, code: &str, message: &str, json: bool, link: Option<(&str, &str)>) -> Reply {
        if json {
            let body = serde_json::json!({ "error": code, "message": message }).to_string();
            return Reply::with_body(status, "application/json", body);
        }
        let title = http::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Error");
        let link = link.map_or(String::new(), |(href, text)| {
            format!("<p><a href=\"{}\">{}</a></p>", html_escape(href), html_escape(text))
        });
        let body = format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{status} {title}</title>\
             <meta name=\"viewport\" content=\"width=device-width\"></head>\
             <body style=\"font-family:sans-serif;max-width:36em;margin:4em auto\">\
             <h1>{title}</h1><p>{}</p>{link}<p style=\"color:#666\">Error code: {}</p></body></html>\n",
            html_escape(message),
            html_escape(code)
        );
        Reply::with_body(status, "text/html; charset=utf-8", body)
    }

    /// A JSON document.
    pub fn json(status: u16, value: &serde_json::Value) -> Reply {
        Reply::with_body(status, "application/json", value.to_string())
    }

    /// A redirect (`303 See Other` unless told otherwise) with no body.
    pub fn redirect(status: u16, location: impl Into<String>) -> Reply {
        Reply {
            status,
            headers: vec![("location", location.into())],
            named: Vec::new(),
            body: String::new(),
        }
    }

    /// Every body the gateway writes itself says what it is and may not be sniffed
    /// as anything else (`X-Content-Type-Options: nosniff`).
    pub fn with_body(status: u16, content_type: &str, body: String) -> Reply {
        Reply {
            status,
            headers: vec![
                ("content-type", content_type.to_string()),
                ("x-content-type-options", "nosniff".to_string()),
            ],
            named: Vec::new(),
            body,
        }
    }

    /// Adds a header (e.g. `set-cookie`, `www-authenticate`).
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }

    /// Adds a header whose name is not known at compile time.
    pub fn named_header(mut self, name: http::HeaderName, value: http::HeaderValue) -> Reply {
        self.named.push((name, value));
        self
    }
}

/// True when the caller is a script rather than a browser page load: it asks for JSON
/// and not HTML, or says it is an XMLHttpRequest.
pub fn wants_json(headers: &HeaderMap) -> bool {
    let accept = headers
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let xhr = headers
        .get("x-requested-with")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("xmlhttprequest"));
    xhr || (accept.contains("application/json") && !accept.contains("text/html"))
}

/// Escapes text for HTML element content and quoted attribute values (`&`, `<`, `>`,
/// `"`, `'`).
pub fn html_escape(s: &str) -> String {
    html_escape::encode_quoted_attribute(s).into_owned()
}

/// 503 while the session store cannot be reached.
pub fn store_unavailable(json: bool) -> Reply {
    Reply::error(
        503,
        "store_unavailable",
        "Signing in and out is temporarily unavailable. Please try again in a few minutes.",
        json,
    )
    .header("retry-after", "5")
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn json_for_api_calls_html_for_browsers() {
        let mut h = HeaderMap::new();
        assert!(!wants_json(&h));
        h.insert("accept", HeaderValue::from_static("application/json"));
        assert!(wants_json(&h));
        h.insert("accept", HeaderValue::from_static("text/html,application/json;q=0.9"));
        assert!(!wants_json(&h));
        let page = Reply::error(421, "unknown_host", "<script>", false);
        assert!(page.body.contains("&lt;script&gt;") && !page.body.contains("<script>"));
        let json = Reply::error(502, "upstream_unavailable", "down", true);
        let v: serde_json::Value = serde_json::from_str(&json.body).expect("json");
        assert_eq!(v["error"], "upstream_unavailable");
    }
}
