//! The IdP chooser of a site with several IdPs: `<sso_prefix>/login` without `org`.
//!
//! A small page that works without JavaScript (no script at all, and a CSP that says
//! so): an organisation-name field — a `GET` form to `<sso_prefix>/login` with `org`,
//! as on commercetools' SSO login page — and a link per IdP. `return_to` (already
//! checked to be a same-site path) is carried in the form and in every link. Display
//! names come from the configuration and are HTML-escaped all the same. Never cached:
//! it is served to anonymous visitors at a URL that also signs them in.

use crate::reply::{html_escape, Reply};

/// Longest `org` value looked at; longer ones cannot be a configured name.
const MAX_ORG: usize = 256;

/// What `<sso_prefix>/login` was asked: where to land and which organisation.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct LoginQuery {
    /// `return_to` as sent (first one), not yet checked.
    pub return_to: Option<String>,
    /// `org` as typed (first one), trimmed; `None` when absent or blank.
    pub org: Option<String>,
}

impl LoginQuery {
    /// Reads the query string of a login request. Never fails: a missing or blank
    /// value is `None`, a repeated key keeps its first value (like `return_to` did
    /// before), an over-long `org` is kept short (it matches nothing anyway).
    pub fn parse(query: &str) -> LoginQuery {
        let mut q = LoginQuery::default();
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            match k.as_ref() {
                "return_to" if q.return_to.is_none() => q.return_to = Some(v.into_owned()),
                "org" if q.org.is_none() => {
                    // Cut, then trimmed again: the cut may end on a space.
                    let org: String = v.trim().chars().take(MAX_ORG).collect();
                    let org = org.trim_end();
                    if !org.is_empty() {
                        q.org = Some(org.to_string());
                    }
                }
                _ => {}
            }
        }
        q
    }
}

/// The chooser page (200) listing `choices` (name, display name), or with
/// `unknown_org` the same page saying that no organisation of that name signs in here
/// (404, the name is not repeated back).
pub fn chooser_page(sso_prefix: &str, choices: &[(&str, &str)], return_to: &str, unknown_org: bool) -> Reply {
    let action = html_escape(&format!("{sso_prefix}/login"));
    let carry = if return_to == "/" {
        String::new()
    } else {
        format!(
            "<input type=\"hidden\" name=\"return_to\" value=\"{}\">",
            html_escape(return_to)
        )
    };
    let notice = if unknown_org {
        "<p role=\"alert\" class=\"notice\">No organisation with this name signs in here. \
         Check the name, or choose your organisation below.</p>"
    } else {
        ""
    };
    let links: String = choices
        .iter()
        .map(|(name, display_name)| {
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            query.append_pair("org", name);
            if return_to != "/" {
                query.append_pair("return_to", return_to);
            }
            let href = format!("{sso_prefix}/login?{}", query.finish());
            format!(
                "<li><a href=\"{}\">{}</a></li>",
                html_escape(&href),
                html_escape(display_name)
            )
        })
        .collect();
    let body = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>Sign in</title>\
         <style>body{{font-family:sans-serif;max-width:30em;margin:4em auto;padding:0 1em}}\
         label,input,button{{display:block;font-size:1em;margin:.4em 0}}input{{padding:.4em;width:100%}}\
         .notice{{border-left:4px solid #b00;padding-left:.6em}}</style></head>\
         <body><main><h1>Sign in</h1>{notice}\
         <form method=\"get\" action=\"{action}\">\
         <label for=\"org\">Organisation name</label>\
         <input id=\"org\" name=\"org\" type=\"text\" required autocomplete=\"organization\" \
         autocapitalize=\"none\" spellcheck=\"false\" maxlength=\"64\">{carry}\
         <button type=\"submit\">Continue</button></form>\
         <nav aria-labelledby=\"idps\"><h2 id=\"idps\">Or choose your organisation</h2><ul>{links}</ul></nav>\
         </main></body></html>\n"
    );
    Reply::with_body(if unknown_org { 404 } else { 200 }, "text/html; charset=utf-8", body)
        .header("cache-control", "no-store")
        .header(
            "content-security-policy",
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        )
        .header("x-frame-options", "DENY")
        .header("referrer-policy", "no-referrer")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_keeps_first_values_and_drops_blank_ones() {
        assert_eq!(LoginQuery::parse(""), LoginQuery::default());
        let q = LoginQuery::parse("org=%20Acme%20&return_to=%2Fa&org=globex&return_to=/b");
        assert_eq!(q.org.as_deref(), Some("Acme"));
        assert_eq!(q.return_to.as_deref(), Some("/a"));
        assert_eq!(LoginQuery::parse("org=+++").org, None);
        assert_eq!(LoginQuery::parse("org=").org, None);
        let long = LoginQuery::parse(&format!("org={}", "a".repeat(10_000)));
        assert_eq!(long.org.map(|o| o.len()), Some(MAX_ORG));
        let cut_on_space = LoginQuery::parse(&format!("org={}+b", "a".repeat(MAX_ORG - 1)));
        assert_eq!(cut_on_space.org.map(|o| o.len()), Some(MAX_ORG - 1), "found by fuzzing");
        assert_eq!(LoginQuery::parse("org=%FF%FE").org.as_deref(), Some("\u{FFFD}\u{FFFD}"));
    }

    #[test]
    fn the_page_escapes_what_it_carries() {
        let page = chooser_page("/_sso", &[("acme", "<b>Acme</b>")], "/a?b=1&c=\"><script>", false);
        assert_eq!(page.status, 200);
        assert!(!page.body.contains("<script"), "{}", page.body);
        assert!(
            page.body.contains("value=\"/a?b=1&amp;c=&quot;&gt;&lt;script&gt;\""),
            "{}",
            page.body
        );
        assert!(page.body.contains(">&lt;b&gt;Acme&lt;/b&gt;</a>"), "{}", page.body);
        assert!(page.headers.contains(&("cache-control", "no-store".to_string())));
        let unknown = chooser_page("/_sso", &[], "/", true);
        assert_eq!(unknown.status, 404);
        assert!(unknown.body.contains("role=\"alert\"") && !unknown.body.contains("name=\"return_to\""));
    }
}
