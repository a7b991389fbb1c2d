//! `[[sites.idps]]`: several IdPs per site, chosen by organisation name.
//!
//! Each entry is a name, a display name and every `[sites.oidc]` key. A site has one
//! `[sites.oidc]` or a list of `[[sites.idps]]`, never both: which of the two a
//! session's `None` IdP would mean must never be a guess.
//!
//! Each IdP gets its own redirect URI (part of the mix-up defence, RFC 9207 §1): its
//! `callback_path` defaults to `/login/sso/callback/{name}` and must differ from every
//! other IdP's of the site.

use crate::model::IdpConfig;
use crate::oidc;
use crate::raw::RawSite;
use crate::validator::Validator;

/// The base of the per-IdP default callback paths (`{DEFAULT_CALLBACK_BASE}/{name}`).
pub const DEFAULT_CALLBACK_BASE: &str = "/login/sso/callback";
/// Longest IdP name (an organisation name shoppers type).
pub const MAX_NAME_LEN: usize = 64;
/// Longest display name shown on the chooser page.
pub const MAX_DISPLAY_NAME_LEN: usize = 100;

/// Why `name` cannot be an IdP name, if it cannot: 1 to [`MAX_NAME_LEN`] lower-case
/// ASCII letters, digits and `-`, starting with a letter or digit. The name is typed by
/// shoppers, appears in URLs (`?org=`, the default callback path) and in readiness
/// labels, so it stays plain.
pub fn check_name(name: &str) -> Result<(), String> {
    let plain = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if name.is_empty() || name.len() > MAX_NAME_LEN || !plain || name.starts_with('-') {
        return Err(format!(
            "{name:?} must be 1 to {MAX_NAME_LEN} lower-case letters, digits or '-' (not first), e.g. \"acme\""
        ));
    }
    Ok(())
}

/// The site's `[[sites.idps]]`, each validated like `[sites.oidc]` plus its name,
/// display name and distinct callback path.
pub(crate) fn idps(v: &mut Validator<'_>, p: &str, raw: &RawSite) -> Vec<IdpConfig> {
    if raw.idps.is_empty() {
        return Vec::new();
    }
    if raw.oidc.is_some() {
        v.errors.push(
            format!("{p}.idps"),
            "a site has either one [sites.oidc] or a list of [[sites.idps]], not both",
        );
    }
    let mut idps: Vec<IdpConfig> = Vec::new();
    for (i, entry) in raw.idps.iter().enumerate() {
        let ip = format!("{p}.idps[{i}]");
        let name = match entry.name.as_deref() {
            None => {
                v.errors.push(format!("{ip}.name"), "is required (e.g. \"acme\")");
                String::new()
            }
            Some(name) => {
                if let Err(m) = check_name(name) {
                    v.errors.push(format!("{ip}.name"), m);
                } else if let Some(first) = idps.iter().position(|o| o.name == name) {
                    v.errors.push(
                        format!("{ip}.name"),
                        format!("{name:?} is already the name of {p}.idps[{first}]"),
                    );
                }
                name.to_string()
            }
        };
        let display_name = match entry.display_name.as_deref() {
            None => name.clone(),
            Some(d) => {
                let d = d.trim();
                if d.is_empty() || d.chars().count() > MAX_DISPLAY_NAME_LEN || d.chars().any(char::is_control) {
                    v.errors.push(
                        format!("{ip}.display_name"),
                        format!("must be 1 to {MAX_DISPLAY_NAME_LEN} characters without control characters"),
                    );
                }
                d.to_string()
            }
        };
        let mut oidc = oidc::oidc(v, &ip, &entry.oidc());
        if entry.callback_path.is_none() {
            oidc.callback_path = format!("{DEFAULT_CALLBACK_BASE}/{name}");
        }
        let taken = idps
            .iter()
            .position(|o| o.oidc.callback_path.eq_ignore_ascii_case(&oidc.callback_path));
        if let Some(first) = taken {
            v.errors.push(
                format!("{ip}.callback_path"),
                format!(
                    "{:?} is already the callback of {p}.idps[{first}]: each IdP needs its own redirect URI",
                    oidc.callback_path
                ),
            );
        }
        let email_domains = email_domains(v, &ip, entry.email_domains.as_deref());
        idps.push(IdpConfig {
            name,
            display_name,
            oidc,
            email_domains,
        });
    }
    idps
}

/// `email_domains`: lower-case domain names, or `["*"]` for any; none when unset.
fn email_domains(v: &mut Validator<'_>, ip: &str, raw: Option<&[String]>) -> Option<Vec<String>> {
    let Some(raw) = raw else { return Some(Vec::new()) };
    if raw.len() == 1 && raw[0] == "*" {
        return None;
    }
    let mut domains = Vec::new();
    for (i, d) in raw.iter().enumerate() {
        let domain = d.trim().to_ascii_lowercase();
        let plain = !domain.is_empty()
            && domain.contains('.')
            && !domain.starts_with(['.', '-'])
            && !domain.ends_with(['.', '-'])
            && domain
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
        if plain {
            domains.push(domain);
        } else {
            v.errors.push(
                format!("{ip}.email_domains[{i}]"),
                format!("{d:?} is not a domain name like \"acme.example\" (write [\"*\"] alone for any)"),
            );
        }
    }
    Some(domains)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(site_extra: &str) -> Result<crate::Config, crate::ConfigErrors> {
        let text = format!(
            "[sessions]\ncookie_secret = \"0123456789abcdef0123456789abcdef\"\n\
             [[sites]]\nname = \"shop\"\nhosts = [\"shop.localhost\"]\nupstreams = [\"127.0.0.1:3000\"]\n\
             public_url = \"http://shop.localhost:8080\"\n\
             [[sites.routes]]\nprefix = \"/account\"\naccess = \"login\"\n{site_extra}"
        );
        crate::parse(&text, &|_| None)
    }

    fn idp(name: &str, extra: &str) -> String {
        format!(
            "[[sites.idps]]\nname = \"{name}\"\nissuer = \"http://127.0.0.1:9000\"\n\
             client_id = \"c\"\nclient_secret = \"s\"\n{extra}\n"
        )
    }

    fn errors(site_extra: &str) -> String {
        match parse(site_extra) {
            Ok(_) => panic!("accepted:\n{site_extra}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn several_idps_validate_with_their_own_callbacks() {
        let extra = idp("acme", "display_name = \"Acme <Corp>\"")
            + &idp(
                "globex",
                "callback_path = \"/sso/globex/back\"\npost_logout_path = \"/bye\"",
            );
        let cfg = parse(&extra).expect("valid");
        let site = &cfg.sites[0];
        assert!(site.oidc.is_none());
        assert!(site.has_idp());
        assert_eq!(site.idps.len(), 2);
        assert_eq!(site.idps[0].name, "acme");
        assert_eq!(site.idps[0].display_name, "Acme <Corp>");
        assert_eq!(site.idps[0].oidc.callback_path, "/login/sso/callback/acme");
        assert_eq!(site.idps[1].display_name, "globex", "defaults to the name");
        assert_eq!(site.idps[1].oidc.callback_path, "/sso/globex/back");
        assert_eq!(site.idps[1].oidc.post_logout_path, "/bye");
        let names: Vec<_> = site.identity_providers().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, vec![Some("acme"), Some("globex")]);
    }

    #[test]
    fn a_site_has_oidc_or_idps_never_both() {
        let both = idp("acme", "")
            + "[sites.oidc]\nissuer = \"http://127.0.0.1:9000\"\nclient_id = \"c\"\nclient_secret = \"s\"\n";
        let e = errors(&both);
        assert!(
            e.contains("sites[0].idps: a site has either one [sites.oidc] or a list of [[sites.idps]], not both"),
            "{e}"
        );
    }

    #[test]
    fn names_must_be_present_plain_and_distinct() {
        let e = errors(&(idp("acme", "") + &idp("acme", "callback_path = \"/other\"")));
        assert!(
            e.contains("sites[0].idps[1].name: \"acme\" is already the name of sites[0].idps[0]"),
            "{e}"
        );
        let e = errors(&idp("Acme Corp", ""));
        assert!(e.contains("sites[0].idps[0].name: \"Acme Corp\" must be"), "{e}");
        let e =
            errors("[[sites.idps]]\nissuer = \"http://127.0.0.1:9000\"\nclient_id = \"c\"\nclient_secret = \"s\"\n");
        assert!(e.contains("sites[0].idps[0].name: is required"), "{e}");
        let e = errors(&idp("acme", "display_name = \"  \""));
        assert!(e.contains("sites[0].idps[0].display_name: must be"), "{e}");
        let e = errors(&idp("acme", "display_name = \"a\\u0007b\""));
        assert!(e.contains("sites[0].idps[0].display_name"), "{e}");
    }

    #[test]
    fn callbacks_must_differ_and_every_oidc_key_is_checked() {
        let e = errors(&(idp("acme", "callback_path = \"/cb\"") + &idp("globex", "callback_path = \"/CB\"")));
        assert!(
            e.contains("sites[0].idps[1].callback_path: \"/CB\" is already the callback of sites[0].idps[0]"),
            "{e}"
        );
        let e = errors(&(idp("acme", "callback_path = \"/login/sso/callback/globex\"") + &idp("globex", "")));
        assert!(e.contains("sites[0].idps[1].callback_path"), "{e}");
        let e = errors("[[sites.idps]]\nname = \"acme\"\nissuer = \"ftp://x\"\nclient_id = \"c\"\nclient_secret = \"s\"\nscopes = [\"email\"]\n");
        assert!(e.contains("sites[0].idps[0].issuer"), "{e}");
        assert!(e.contains("sites[0].idps[0].scopes"), "{e}");
        let e = errors(&idp("acme", "colour = \"red\""));
        assert!(
            e.contains("sites[0].idps[0].colour: unknown key; the keys here are `name`"),
            "{e}"
        );
    }

    #[test]
    fn names_are_plain() {
        for good in ["acme", "a", "globex-2", "0day"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        let long = "a".repeat(MAX_NAME_LEN + 1);
        for bad in [
            "", "Acme", "-acme", "ac me", "ac/me", "acme\n", "ä", "a.b", "a_b", &long,
        ] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
