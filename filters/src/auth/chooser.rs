//! The IdP chooser of a site with several IdPs: `<sso_prefix>/login` without `org`.
//!
//! A small page that works without JavaScript (no script at all, and a CSP that says
//! so, see [`crate::pages`]): an organisation-name field — a `GET` form to `<sso_prefix>/login` with `org`,
//! as on commercetools' SSO login page — and a link per IdP. `return_to` (already
//! checked to be a same-site path) is carried in the form and in every link. Display
//! names come from the configuration and are HTML-escaped all the same. Never cached:
//! it is served to anonymous visitors at a URL that also signs them in.

use crate::reply::{ChooserPage, Page, Reply};

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
/// (404, the name is not repeated back). Rendered with the site's pages when written;
/// the form and every link carry `return_to` unless it is `/`.
pub fn chooser_page(sso_prefix: &str, choices: &[(&str, &str)], return_to: &str, unknown_org: bool) -> Reply {
    let carried = (return_to != "/").then(|| return_to.to_string());
    let choices = choices
        .iter()
        .map(|(name, display_name)| {
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            query.append_pair("org", name);
            if let Some(r) = &carried {
                query.append_pair("return_to", r);
            }
            (
                format!("{sso_prefix}/login?{}", query.finish()),
                display_name.to_string(),
            )
        })
        .collect();
    let page = ChooserPage {
        action: format!("{sso_prefix}/login"),
        return_to: carried,
        choices,
        unknown_org,
    };
    Reply::page(if unknown_org { 404 } else { 200 }, Page::Chooser(page)).header("cache-control", "no-store")
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
    fn the_page_carries_return_to_in_every_link() {
        let page = chooser_page("/_sso", &[("acme", "<b>Acme</b>")], "/a?b=1&c=\"><script>", false);
        assert_eq!(page.status, 200);
        assert!(page.headers.contains(&("cache-control", "no-store".to_string())));
        let Some(Page::Chooser(c)) = page.page.as_deref() else {
            panic!("a chooser page")
        };
        assert_eq!(c.return_to.as_deref(), Some("/a?b=1&c=\"><script>"));
        assert_eq!(
            c.choices[0].0,
            "/_sso/login?org=acme&return_to=%2Fa%3Fb%3D1%26c%3D%22%3E%3Cscript%3E"
        );
        let unknown = chooser_page("/_sso", &[], "/", true);
        assert_eq!(unknown.status, 404);
        assert!(matches!(unknown.page.as_deref(), Some(Page::Chooser(c)) if c.unknown_org && c.return_to.is_none()));
    }
}
