use super::*;
use crate::reply::{Page, Reply};

fn site(extra: &str) -> sso_config::Config {
    let toml = format!(
        "[server]\ntrusted_proxies = [\"10.0.0.0/8\"]\n[sessions]\ncookie_secret = \"0123456789abcdef0123456789abcdef\"\n\
         [[sites]]\nname = \"shop\"\nhosts = [\"shop.example\"]\nupstreams = [\"127.0.0.1:1\"]\n\
         public_url = \"https://shop.example\"\n{extra}"
    );
    sso_config::parse(&toml, &|_| None).unwrap_or_else(|e| panic!("config: {e:?}"))
}

fn pages(extra: &str) -> Pages {
    Pages::for_site(&site(extra).sites[0]).expect("pages")
}

fn header<'a>(reply: &'a Reply, name: &str) -> Option<&'a str> {
    reply.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
}

#[test]
fn a_page_speaks_the_visitors_language_in_the_shops_design() {
    let p = pages(
        "[sites.pages]\nshop_name = \"Acme & Sons\"\nlogo_url = \"https://cdn.example/logo.svg\"\n\
         primary_color = \"#E91E63\"\nsupport_url = \"mailto:help@shop.example\"\n",
    );
    let reply = p.render(
        Reply::error(429, "rate_limited", "Too many.", false),
        Some("de-CH, en;q=0.5"),
        Some("req-1"),
    );
    assert_eq!(header(&reply, "content-language"), Some("de"));
    let body = &reply.body;
    assert!(
        body.starts_with("<!doctype html>") && body.contains("<html lang=\"de\""),
        "{body}"
    );
    assert!(body.contains("Zu viele Versuche aus Ihrem Netzwerk"), "{body}");
    assert!(
        body.contains("Acme &amp; Sons") && body.contains("src=\"https://cdn.example/logo.svg\""),
        "{body}"
    );
    assert!(body.contains("--primary:#e91e63"), "{body}");
    assert!(
        body.contains("Zurück zum Shop") && body.contains("mailto:help@shop.example"),
        "{body}"
    );
    assert!(
        body.contains("Fehlercode: rate_limited") && body.contains("req-1"),
        "{body}"
    );
    assert!(!body.contains("<script"), "{body}");
    let csp = header(&reply, "content-security-policy").expect("csp");
    assert!(
        csp.contains("default-src 'none'") && csp.contains("img-src 'self' https://cdn.example"),
        "{csp}"
    );
    assert!(
        csp.contains("frame-ancestors 'none'") && !csp.contains("script-src"),
        "{csp}"
    );
    assert_eq!(header(&reply, "x-frame-options"), Some("DENY"));
}

#[test]
fn every_language_renders_every_kind_of_page() {
    let p = pages("");
    for lang in sso_config::pages::SHIPPED_LANGUAGES {
        for reply in [
            Reply::error(403, "access_denied", "x", false),
            Reply::error(502, "upstream_unavailable", "x", false),
            Reply::error(421, "unknown_host", "x", false),
            Reply::error(404, "not_found", "x", false),
            Reply::error(403, "step_up_stale", "x", false),
            Reply::error_with_link(400, "token_expired", "x", false, Some(("/_sso/login", "sign_in_again"))),
            crate::auth::chooser::chooser_page("/_sso", &[("acme", "Acme")], "/", false),
        ] {
            let out = p.render(reply, Some(lang), None);
            assert!(out.body.contains(&format!("lang=\"{lang}\"")), "{lang}: {}", out.body);
            assert!(out.body.contains("</html>"), "{lang}");
        }
    }
}

#[test]
fn json_answers_keep_their_code_and_gain_a_translated_message() {
    let p = pages("");
    let denied = crate::features::route_requirements::denied("group", true);
    let out = p.render(denied, Some("fr"), None);
    let v: serde_json::Value = serde_json::from_str(&out.body).expect("json");
    assert_eq!(v["error"], "access_denied");
    assert_eq!(v["reason"], "group");
    assert!(
        v["message"].as_str().is_some_and(|m| m.starts_with("Votre compte")),
        "{v}"
    );
    assert!(header(&out, "content-security-policy").is_none());
    let unknown = p.render(
        Reply::error(400, "no_such_code", "Plain English.", true),
        Some("nl"),
        None,
    );
    let v: serde_json::Value = serde_json::from_str(&unknown.body).expect("json");
    assert_eq!(
        v["message"], "Plain English.",
        "a code without texts keeps its sentence"
    );
}

#[test]
fn what_a_page_carries_is_escaped() {
    let p = pages("");
    let chooser = crate::auth::chooser::chooser_page("/_sso", &[("acme", "<b>Acme</b>")], "/a?b=1&c=\"><script>", true);
    let out = p.render(chooser, None, Some("<img>"));
    assert_eq!(out.status, 404);
    assert!(
        !out.body.contains("<script") && !out.body.contains("<b>") && !out.body.contains("<img>"),
        "{}",
        out.body
    );
    assert!(out.body.contains("&lt;b&gt;Acme&lt;/b&gt;"), "{}", out.body);
    assert!(
        out.body.contains("value=\"/a?b=1&amp;c=&quot;&gt;&lt;script&gt;\""),
        "{}",
        out.body
    );
    assert!(out.body.contains("role=\"alert\""), "{}", out.body);
    let error = p.render(
        Reply::error(400, "x\"><script>", "<script>alert(1)</script>", false),
        None,
        None,
    );
    assert!(!error.body.contains("<script"), "{}", error.body);
}

#[test]
fn a_site_overrides_a_template_a_text_and_adds_a_language() {
    let dir = std::env::temp_dir().join(format!("sso-pages-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("templates")).expect("dir");
    std::fs::create_dir_all(dir.join("messages")).expect("dir");
    std::fs::write(
        dir.join("templates/error.html"),
        "{% extends \"layout.html\" %}{% block main %}<h1>{{ title }}</h1><p class=\"own\">{{ message }}</p>{% endblock %}",
    )
    .expect("template");
    std::fs::write(
        dir.join("messages/en.toml"),
        "[messages]\nrate_limited = \"Easy, tiger.\"\n",
    )
    .expect("en");
    std::fs::write(
        dir.join("messages/it.toml"),
        "[titles]\n\"429\" = \"Troppi tentativi\"\n",
    )
    .expect("it");
    let p = pages(&format!("[sites.pages]\ndir = \"{}\"\n", dir.display()));
    let out = p.render(Reply::error(429, "rate_limited", "x", false), Some("en"), None);
    assert!(out.body.contains("<p class=\"own\">Easy, tiger.</p>"), "{}", out.body);
    let it = p.render(Reply::error(429, "rate_limited", "x", false), Some("it-IT"), None);
    assert!(
        it.body.contains("Troppi tentativi") && it.body.contains("lang=\"it\""),
        "{}",
        it.body
    );
    std::fs::write(dir.join("templates/chooser.html"), "{% if %}").expect("broken");
    let broken = Pages::for_site(&site(&format!("[sites.pages]\ndir = \"{}\"\n", dir.display())).sites[0]);
    assert!(broken.is_err_and(|e| e.0.contains("chooser.html")));
    std::fs::write(dir.join("templates/chooser.html"), "{{ 1 | no_such_filter }}").expect("fails to render");
    let fails = Pages::for_site(&site(&format!("[sites.pages]\ndir = \"{}\"\n", dir.display())).sites[0]);
    assert!(
        fails.is_err(),
        "a template that compiles but cannot render is refused too"
    );
    std::fs::write(
        dir.join("templates/chooser.html"),
        "{% if unknown_org %}{% for i in range(100000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}{% endif %}",
    )
    .expect("loops");
    let looping = Pages::for_site(&site(&format!("[sites.pages]\ndir = \"{}\"\n", dir.display())).sites[0]);
    assert!(
        looping.is_err_and(|e| e.0.contains("fuel")),
        "a render is bounded, and check renders every page"
    );
    std::fs::remove_file(dir.join("templates/chooser.html")).expect("rm");
    std::os::unix::fs::symlink("/dev/zero", dir.join("templates/zero.html")).expect("symlink");
    let device = Pages::for_site(&site(&format!("[sites.pages]\ndir = \"{}\"\n", dir.display())).sites[0]);
    assert!(
        device.is_err_and(|e| e.0.contains("not a regular file")),
        "a device is never read"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn replies_without_a_page_pass_as_they_are() {
    let p = Pages::shipped();
    let redirect = Reply::redirect(303, "/x");
    assert_eq!(p.render(redirect.clone(), Some("de"), None), redirect);
    let shipped = p.render(Reply::error(421, "unknown_host", "x", false), Some("es"), None);
    assert!(
        shipped.body.contains("Esta dirección no se sirve aquí"),
        "{}",
        shipped.body
    );
    assert!(
        !shipped.body.contains("Volver a la tienda"),
        "no shop to go back to: {}",
        shipped.body
    );
    assert!(matches!(
        Reply::error(400, "c", "m", false).page.as_deref(),
        Some(Page::Error(_))
    ));
}

/// Every code a page or JSON answer can carry: the typed errors, and each literal
/// code a `Reply::error` of the filters or the gateway names.
fn every_code() -> std::collections::BTreeSet<String> {
    use crate::connectors::customer_login::CustomerLoginError;
    use crate::connectors::provisioning::ProvisionError;
    use crate::cross_site::group::OttError;
    use crate::oidc::outcomes::CallbackError as C;
    use crate::oidc::step_up::StepUpRefusal;
    use crate::request_path::TargetError as T;
    let mut codes: std::collections::BTreeSet<String> = [
        C::IdpUnavailable,
        C::StateMissing,
        C::StateUnknown,
        C::BrowserMismatch,
        C::IdpMismatch,
        C::Cancelled {
            return_to: String::new(),
            step_up: false,
        },
        C::IdpError {
            code: String::new(),
            return_to: String::new(),
        },
        C::TokenExchange(String::new()),
        C::IdTokenInvalid(String::new()),
        C::StepUpRefused(StepUpRefusal::NoAuthTime),
        C::StepUpRefused(StepUpRefusal::Stale),
        C::StepUpRefused(StepUpRefusal::Acr),
        C::StepUpOtherCustomer,
    ]
    .iter()
    .map(|e| e.response().1.to_string())
    .collect();
    codes.extend(CustomerLoginError::ALL.iter().map(|e| e.code().to_string()));
    codes.extend(
        [
            ProvisionError::Unavailable(String::new()),
            ProvisionError::Invalid(String::new()),
        ]
        .iter()
        .map(|e| e.code().to_string()),
    );
    codes.extend(
        [
            OttError::Unknown,
            OttError::OtherSite,
            OttError::OtherNamespace,
            OttError::OtherBrowser,
            OttError::SessionEnded,
        ]
        .iter()
        .map(|e| e.code().to_string()),
    );
    codes.extend(
        [
            T::NotAPath,
            T::AuthorityMismatch,
            T::EncodedSlash,
            T::BadCharacter,
            T::BadEscape,
            T::Fragment,
            T::AmbiguousDotSegment,
        ]
        .iter()
        .map(|e| e.code().to_string()),
    );
    codes.insert(crate::features::multipass::EMAIL_UNVERIFIED.to_string());
    // Codes passed through a variable: the auth host's refusals and the unknown
    // `sso_error` of a customer-login page.
    codes.extend(
        [
            "unknown_site",
            "bad_state",
            "bad_intent",
            "adopt_unknown",
            "login_failed",
        ]
        .map(String::from),
    );
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut stack = vec![root.join("filters/src"), root.join("gateway/src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("source dir").flatten() {
            let path = entry.path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            if path.is_dir() {
                if name != "fuzzing" {
                    stack.push(path);
                }
                continue;
            }
            if !name.ends_with(".rs") || name.ends_with("_tests.rs") || name == "tests.rs" {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("source");
            for (i, _) in text.match_indices("Reply::error") {
                let rest = &text[i..text.len().min(i + 200)];
                let Some(open) = rest.find('(') else { continue };
                let args: Vec<&str> = rest[open + 1..].splitn(3, ',').collect();
                if let Some(code) = args
                    .get(1)
                    .map(|a| a.trim())
                    .and_then(|a| a.strip_prefix('"'))
                    .and_then(|a| a.strip_suffix('"'))
                {
                    codes.insert(code.to_string());
                }
            }
        }
    }
    codes
}

#[test]
fn every_code_a_page_can_show_has_a_text_in_every_language() {
    let catalogue = Catalogue::shipped().expect("catalogue");
    let codes = every_code();
    assert!(
        codes.len() > 50 && codes.contains("unknown_host") && codes.contains("state_unknown"),
        "{codes:?}"
    );
    let missing: Vec<_> = codes
        .iter()
        .filter(|c| !["x", "c", "no_such_code"].contains(&c.as_str()))
        .filter(|c| catalogue.text("en", Table::Messages, c).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "codes without a page text (add them to messages/*.toml): {missing:?}"
    );
}

#[test]
fn every_page_leads_back_to_the_shop_and_shows_its_reference() {
    let p = pages("");
    let plain = p.render(Reply::error(400, "state_unknown", "x", false), None, Some("req-7"));
    let home_link = "href=\"https://shop.example/\">Back to the shop</a>";
    assert!(
        plain.body.contains(home_link) && plain.body.contains("req-7"),
        "{}",
        plain.body
    );
    // A page the visitor was on its way to, when known: on the site's address.
    let back = Reply::error(403, "idp_refused", "x", false).with_back("/shoes?size=9&colour=red");
    let out = p.render(back, None, Some("req-8"));
    assert!(
        out.body
            .contains("href=\"https://shop.example/shoes?size=9&amp;colour=red\">Back to the shop</a>"),
        "{}",
        out.body
    );
    // The chooser too, with its reference.
    let chooser = crate::auth::chooser::chooser_page("/_sso", &[("acme", "Acme")], "/a", false);
    let out = p.render(chooser, None, Some("req-9"));
    assert!(
        out.body.contains(home_link) && out.body.contains("req-9"),
        "{}",
        out.body
    );
    // JSON keeps its members only.
    let json = Reply::error(403, "idp_refused", "x", true).with_back("/shoes");
    assert!(!p.render(json, None, None).body.contains("shoes"));
}
