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
    /// What the gateway's own page or JSON error says, rendered in the visitor's
    /// language when the reply is written (`None`: the body is final).
    pub page: Option<Box<Page>>,
}

/// A page of the gateway's own, as facts the site's templates render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Page {
    /// An error page (HTML).
    Error(ErrorPage),
    /// A JSON error answer: its `message` is translated.
    Json(ErrorPage),
    /// The IdP chooser of a site with several IdPs.
    Chooser(ChooserPage),
}

/// What went wrong: the stable code, the English sentence, a way on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorPage {
    pub code: String,
    /// Shown when the site's pages have no message for `code`.
    pub message: String,
    pub link: Option<PageLink>,
    /// Where *Back to the shop* goes, when not the site's home: a same-site path the
    /// visitor was on its way to ([`Reply::with_back`]).
    pub back: Option<String>,
    /// More members of a JSON answer (`reason`).
    pub json_fields: Vec<(&'static str, String)>,
}

/// A link of a page: its target and the key of its label among the `ui` texts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageLink {
    pub href: String,
    pub label: &'static str,
}

/// The IdP chooser: where its form goes, the `return_to` it carries (none for `/`),
/// the IdPs as (link, display name), and whether the named organisation was unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChooserPage {
    pub action: String,
    pub return_to: Option<String>,
    pub choices: Vec<(String, String)>,
    pub unknown_org: bool,
}

impl Reply {
    /// An error page (HTML or JSON, depending on what the client accepts).
    /// `code` is a stable machine word (`unknown_host`), `message` is for people: the
    /// English text used when the site's pages have no message for `code`
    /// (docs/pages.md). The page itself is rendered when the reply is written, in the
    /// visitor's language and the site's design ([`crate::pages::Pages::render`]).
    pub fn error(status: u16, code: &str, message: &str, json: bool) -> Reply {
        Reply::error_with_link(status, code, message, json, None)
    }

    /// [`Reply::error`] whose HTML page also offers a way on: `link` is (target, the
    /// key of its label among the pages' `ui` texts, e.g. `sign_in_again`).
    pub fn error_with_link(
        status: u16,
        code: &str,
        message: &str,
        json: bool,
        link: Option<(&str, &'static str)>,
    ) -> Reply {
        let facts = ErrorPage {
            code: code.to_string(),
            message: message.to_string(),
            link: link.map(|(href, label)| PageLink {
                href: href.to_string(),
                label,
            }),
            back: None,
            json_fields: Vec::new(),
        };
        if json {
            let body = serde_json::json!({ "error": code, "message": message }).to_string();
            let mut reply = Reply::with_body(status, "application/json", body);
            reply.page = Some(Box::new(Page::Json(facts)));
            return reply;
        }
        Reply::page(status, Page::Error(facts))
    }

    /// An HTML page of the gateway's own, rendered when it is written.
    pub fn page(status: u16, page: Page) -> Reply {
        let mut reply = Reply::with_body(status, "text/html; charset=utf-8", String::new());
        reply.page = Some(Box::new(page));
        reply
    }

    /// A JSON error answer with one more member than `error` and `message` (the
    /// `reason` of a 403), kept when the message is translated.
    pub fn with_json_field(mut self, name: &'static str, value: &str) -> Reply {
        if let Some(Page::Json(facts)) = self.page.as_deref_mut() {
            facts.json_fields.push((name, value.to_string()));
            let mut body = serde_json::json!({ "error": facts.code, "message": facts.message });
            for (k, v) in &facts.json_fields {
                body[*k] = serde_json::Value::String(v.clone());
            }
            self.body = body.to_string();
        }
        self
    }

    /// The page's *Back to the shop* goes to `path` (a same-site path already checked
    /// to be a page the visitor may open), not the site's home. JSON is unchanged.
    pub fn with_back(mut self, path: impl Into<String>) -> Reply {
        if let Some(Page::Error(facts)) = self.page.as_deref_mut() {
            facts.back = Some(path.into());
        }
        self
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
            page: None,
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
            page: None,
        }
    }

    /// Adds a header (e.g. `set-cookie`, `www-authenticate`).
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }

    /// Sets a header, replacing any of that name the reply already has (a security
    /// header two steps both add is written once).
    pub fn set_header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
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
    // A name made once: a `&str` name is parsed again on every lookup.
    static X_REQUESTED_WITH: http::HeaderName = http::HeaderName::from_static("x-requested-with");
    let accept = headers
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let xhr = headers
        .get(&X_REQUESTED_WITH)
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
        assert!(matches!(page.page.as_deref(), Some(Page::Error(e)) if e.message == "<script>"));
        assert!(page.body.is_empty(), "rendered when written");
        let json = Reply::error(502, "upstream_unavailable", "down", true);
        let v: serde_json::Value = serde_json::from_str(&json.body).expect("json");
        assert_eq!(v["error"], "upstream_unavailable");
    }
}
