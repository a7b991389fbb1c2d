//! The pages the gateway shows shoppers itself (docs/pages.md): sign-in failed, the
//! IdP chooser, 403, 429, 502/503, 421, 404. A [`Reply`] carries what a page says
//! ([`Page`]); [`Pages::render`] turns it into HTML in the site's design and the
//! visitor's language when the reply is written, or into the JSON `message` of an API
//! answer. Templates are `minijinja` with HTML autoescaping, compiled once per site;
//! a site's `[sites.pages] dir` may replace any of them and any text.

pub mod catalogue;
pub mod colors;
pub mod language;

use crate::reply::{Page, Reply};
use catalogue::{Catalogue, Table};
use minijinja::value::Serde;
use minijinja::{context, Environment};
use serde::Serialize;
use sso_config::pages::PagesConfig;
use sso_config::SiteConfig;
use std::path::Path;

/// The shipped templates: (name, source).
const TEMPLATES: [(&str, &str); 3] = [
    ("layout.html", include_str!("templates/layout.html")),
    ("error.html", include_str!("templates/error.html")),
    ("chooser.html", include_str!("templates/chooser.html")),
];

/// Largest template a site may give, in bytes.
const MAX_TEMPLATE: u64 = 256 * 1024;

/// Work one render may do (minijinja instructions): a shipped page takes a few
/// hundred; a template that loops past this fails, and the shipped page is shown.
const RENDER_FUEL: u64 = 100_000;

/// The statuses the gateway answers with a page of its own, each with a code.
const SAMPLE_STATUSES: [(u16, &str); 13] = [
    (400, "state_unknown"),
    (401, "login_required"),
    (403, "access_denied"),
    (404, "not_found"),
    (405, "method_not_allowed"),
    (408, "request_timeout"),
    (413, "payload_too_large"),
    (415, "unsupported_media_type"),
    (421, "unknown_host"),
    (429, "rate_limited"),
    (500, "gateway_error"),
    (502, "idp_error"),
    (503, "idp_unavailable"),
];

/// The design and texts of one site's pages (or of the gateway's, for requests no
/// site answers).
pub struct Pages {
    /// The site's templates over the shipped ones.
    env: Environment<'static>,
    /// The shipped templates alone: what renders when a site's template fails.
    shipped: Environment<'static>,
    catalogue: Catalogue,
    shop: Shop,
    /// `Content-Security-Policy` of every page: no script at all.
    csp: String,
}

/// The shop as the templates see it.
#[derive(Debug, Clone, Serialize)]
struct Shop {
    name: String,
    logo_url: Option<String>,
    primary: String,
    button: String,
    on_button: &'static str,
    link: String,
    support_url: Option<String>,
    /// The way back to the shop (none for a request no site answers).
    home_url: Option<String>,
}

/// Why a site's pages could not be built: reported by `check` with the key.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PagesError(pub String);

impl Pages {
    /// The pages of `site`: its `[sites.pages]` and its `dir`, every template compiled
    /// and rendered once in every language, so `check` refuses one that fails.
    pub fn for_site(site: &SiteConfig) -> Result<Self, PagesError> {
        let config = &site.pages;
        let home = site.public_url.as_str().to_string();
        let catalogue = Catalogue::for_site(config.dir.as_deref(), &config.default_language).map_err(PagesError)?;
        let pages = Pages::build(config, Some(home), catalogue, config.dir.as_deref())?;
        pages.try_every_page()?;
        Ok(pages)
    }

    /// The shipped design, English by default, for replies no site answers (421).
    pub fn shipped() -> Self {
        let config = PagesConfig::shipped("");
        let catalogue = Catalogue::shipped().unwrap_or_else(|e| {
            // The shipped catalogues are checked by the unit tests.
            tracing::error!(error = %e, "shipped page texts do not parse");
            Catalogue::empty()
        });
        Pages::build(&config, None, catalogue, None).unwrap_or_else(|e| {
            tracing::error!(error = %e, "shipped page templates do not compile");
            Pages {
                env: Environment::new(),
                shipped: Environment::new(),
                catalogue: Catalogue::empty(),
                shop: shop(&config, None),
                csp: csp(None),
            }
        })
    }

    fn build(
        config: &PagesConfig,
        home: Option<String>,
        catalogue: Catalogue,
        dir: Option<&Path>,
    ) -> Result<Self, PagesError> {
        let shipped = environment(&[]).map_err(PagesError)?;
        let overrides = match dir {
            Some(dir) => site_templates(&dir.join("templates")).map_err(PagesError)?,
            None => Vec::new(),
        };
        let env = environment(&overrides).map_err(PagesError)?;
        Ok(Pages {
            env,
            shipped,
            catalogue,
            shop: shop(config, home),
            csp: csp(config.logo_url.as_deref()),
        })
    }

    /// Renders every kind of page (each status, with and without a link, the chooser
    /// with and without its notice) in every language once: `check`, start-up, reload.
    fn try_every_page(&self) -> Result<(), PagesError> {
        let mut samples: Vec<Reply> = SAMPLE_STATUSES
            .iter()
            .flat_map(|&(status, code)| {
                [
                    Reply::error(status, code, "sample", false),
                    Reply::error_with_link(status, code, "sample", false, Some(("/_sso/login", "sign_in_again"))),
                ]
            })
            .collect();
        for unknown_org in [false, true] {
            samples.push(crate::auth::chooser::chooser_page(
                "/_sso",
                &[("acme", "Acme")],
                "/a",
                unknown_org,
            ));
        }
        for lang in self.catalogue.spoken() {
            for sample in &samples {
                let Some(page) = sample.page.as_deref() else { continue };
                self.html(&self.env, page, sample.status, lang, Some("sample"))
                    .map_err(|e| PagesError(format!("templates ({lang}, {}): {e:#}", sample.status)))?;
            }
        }
        Ok(())
    }

    /// `reply` as written: its page rendered for a visitor whose `Accept-Language` is
    /// `accept_language`, with the security headers of a page; any other reply as it is.
    pub fn render(&self, mut reply: Reply, accept_language: Option<&str>, request_id: Option<&str>) -> Reply {
        let Some(page) = reply.page.take() else { return reply };
        let lang = language::negotiate(accept_language.unwrap_or(""), self.catalogue.spoken())
            .unwrap_or_else(|| self.catalogue.default_language())
            .to_string();
        if let Page::Json(facts) = &*page {
            let mut body =
                serde_json::json!({ "error": facts.code, "message": self.message(&lang, &facts.code, &facts.message) });
            for (k, v) in &facts.json_fields {
                body[*k] = serde_json::Value::String(v.clone());
            }
            reply.body = body.to_string();
            return reply.set_header("content-language", lang);
        }
        reply.body = match self.html(&self.env, &page, reply.status, &lang, request_id) {
            Ok(html) => html,
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "a site's page template failed; the shipped one is shown");
                self.html(&self.shipped, &page, reply.status, &lang, request_id)
                    .unwrap_or_else(|_| format!("{} {}\n", reply.status, code_of(&page)))
            }
        };
        reply
            .set_header("content-language", lang)
            .set_header("content-security-policy", self.csp.clone())
            .set_header("x-frame-options", "DENY")
            .set_header("referrer-policy", "no-referrer")
    }

    /// The sentence for `code` in `lang`, else the one the reply was made with.
    fn message<'a>(&'a self, lang: &str, code: &str, fallback: &'a str) -> &'a str {
        self.catalogue.text(lang, Table::Messages, code).unwrap_or_else(|| {
            tracing::debug!(code, "no page text for this code: its English sentence is shown");
            fallback
        })
    }

    /// Where *Back to the shop* goes: `back` (a same-site path) on the site's
    /// address, else the site's home (none for a request no site answers).
    fn back_url(&self, back: Option<&str>) -> Option<String> {
        let home = self.shop.home_url.as_deref();
        match (back, home) {
            (Some(path), Some(home)) => url::Url::parse(home)
                .and_then(|h| h.join(path))
                .map(String::from)
                .ok()
                .or_else(|| Some(home.to_string())),
            (Some(path), None) => Some(path.to_string()),
            (None, home) => home.map(str::to_string),
        }
    }

    fn html(
        &self,
        env: &Environment<'static>,
        page: &Page,
        status: u16,
        lang: &str,
        request_id: Option<&str>,
    ) -> Result<String, minijinja::Error> {
        let mut ui = self.catalogue.ui(lang);
        let alt = ui.get("logo_alt").map(|a| a.replace("{shop}", &self.shop.name));
        let ui_alt = alt.unwrap_or_default();
        ui.insert("logo_alt", ui_alt.as_str());
        let dir = if ["ar", "he", "fa", "ur"].contains(&lang.split('-').next().unwrap_or(lang)) {
            "rtl"
        } else {
            "ltr"
        };
        let base = context! { lang, dir, t => Serde(&ui), shop => Serde(&self.shop), request_id };
        match page {
            Page::Error(facts) | Page::Json(facts) => {
                let status_key = status.to_string();
                let title = self
                    .catalogue
                    .text(lang, Table::Titles, &status_key)
                    .or_else(|| self.catalogue.text(lang, Table::Titles, "default"))
                    .unwrap_or("Error");
                let link = facts.link.as_ref().map(|l| {
                    context! { href => l.href.as_str(), label => self.catalogue.text(lang, Table::Ui, l.label).unwrap_or(l.label) }
                });
                let message = self.message(lang, &facts.code, &facts.message);
                let back_url = self.back_url(facts.back.as_deref());
                env.get_template("error.html")?
                    .render(context! { status, title, message, code => facts.code.as_str(), link, back_url, ..base })
            }
            Page::Chooser(c) => {
                let choices: Vec<_> = c
                    .choices
                    .iter()
                    .map(|(href, name)| context! { href => href.as_str(), name => name.as_str() })
                    .collect();
                env.get_template("chooser.html")?.render(context! {
                    action => c.action.as_str(),
                    return_to => c.return_to.as_deref(),
                    choices,
                    unknown_org => c.unknown_org,
                    ..base
                })
            }
        }
    }
}

fn code_of(page: &Page) -> &str {
    match page {
        Page::Error(f) | Page::Json(f) => &f.code,
        Page::Chooser(_) => "chooser",
    }
}

fn shop(config: &PagesConfig, home: Option<String>) -> Shop {
    let (button, on_button) = colors::button(&config.primary_color);
    Shop {
        name: config.shop_name.clone(),
        logo_url: config.logo_url.clone(),
        primary: config.primary_color.clone(),
        button,
        on_button,
        link: colors::link_on_white(&config.primary_color),
        support_url: config.support_url.clone(),
        home_url: home,
    }
}

/// No script, no frames, no plugins; styles inline; images from the site and the
/// logo's origin.
fn csp(logo_url: Option<&str>) -> String {
    let logo_origin = logo_url
        .and_then(|u| url::Url::parse(u).ok())
        .map(|u| u.origin().ascii_serialization())
        .filter(|o| o != "null");
    let img = match logo_origin {
        Some(origin) => format!("'self' {origin}"),
        None => "'self'".to_string(),
    };
    format!(
        "default-src 'none'; style-src 'unsafe-inline'; img-src {img}; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
}

/// The shipped templates with `overrides` (name, source) over them, compiled.
fn environment(overrides: &[(String, String)]) -> Result<Environment<'static>, String> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
    env.set_fuel(Some(RENDER_FUEL));
    // Text is escaped as the rest of the gateway escapes it (`&<>"'`): minijinja's
    // own escaper also writes `/` as `&#x2f;`, which is as safe and unreadable.
    env.set_formatter(|out, state, value| match value.as_str() {
        Some(text) if !value.is_safe() && matches!(state.auto_escape(), minijinja::AutoEscape::Html) => {
            Ok(out.write_str(&crate::reply::html_escape(text))?)
        }
        _ => minijinja::escape_formatter(out, state, value),
    });
    for (name, source) in TEMPLATES {
        if !overrides.iter().any(|(n, _)| n == name) {
            env.add_template_owned(name.to_string(), source.to_string())
                .map_err(|e| format!("shipped {name}: {e}"))?;
        }
    }
    for (name, source) in overrides {
        env.add_template_owned(name.clone(), source.clone())
            .map_err(|e| format!("templates/{name}: {e:#}"))?;
    }
    Ok(env)
}

/// The `*.html` files of `dir` (absent: none).
fn site_templates(dir: &Path) -> Result<Vec<(String, String)>, String> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut templates = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !name.ends_with(".html") {
            continue;
        }
        let source = catalogue::read_bounded(&path, MAX_TEMPLATE)?;
        templates.push((name.to_string(), source));
    }
    Ok(templates)
}

#[cfg(test)]
#[path = "pages_tests.rs"]
mod tests;
