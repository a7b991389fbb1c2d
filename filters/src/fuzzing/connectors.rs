//! Fuzzing entry points of the storefront connectors: customer-login JWTs,
//! provisioning hook answers, the Ecwid profile script and the several-IdPs inputs.
//! See [`super`] for how they are run.

use crate::return_to::safe_return_to;

/// The several-IdPs inputs: `<sso_prefix>/login` query strings
/// ([`LoginQuery::parse`](crate::auth::chooser::LoginQuery::parse)) rendered into the
/// chooser page, and the callback's `iss` parameter
/// ([`check_response_issuer`](crate::oidc::response_issuer::check_response_issuer)).
/// The first byte picks the mode:
/// - `q`: the rest is `query\ndisplay name`. `org` comes back trimmed, non-empty and
///   bounded; the page built from the query's `return_to` (when [`safe_return_to`]
///   accepts it) and that display name has exactly the markup (`<`, `>`, `"`, `'`) of
///   the same page built from plain placeholders: nothing the visitor or the
///   configuration wrote becomes markup.
/// - `i`: the rest is `iss\nexpected`; it is accepted only when equal.
pub fn idp_choice(data: &[u8]) {
    use crate::auth::chooser::{chooser_page, LoginQuery};
    use crate::oidc::response_issuer::check_response_issuer;
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let (first, second) = text.split_once('\n').unwrap_or((text, ""));
    match mode {
        b'q' => {
            let q = LoginQuery::parse(first);
            if let Some(org) = &q.org {
                assert!(!org.is_empty() && org.trim() == org, "{org:?}");
                assert!(org.chars().count() <= 256, "org not bounded");
            }
            let return_to = q.return_to.as_deref().and_then(safe_return_to).unwrap_or("/");
            let placeholder = if return_to == "/" { "/" } else { "/x" };
            let markup = |body: &str| body.matches(['<', '>', '"', '\'']).count();
            for unknown in [false, true] {
                let page = chooser_page("/_sso", &[("acme", second)], return_to, unknown);
                let plain = chooser_page("/_sso", &[("acme", "x")], placeholder, unknown);
                assert_eq!(
                    markup(&page.body),
                    markup(&plain.body),
                    "{return_to:?} / {second:?} changed the markup:\n{}",
                    page.body
                );
                assert!(page.headers.contains(&("cache-control", "no-store".to_string())));
            }
        }
        b'i' => {
            let accepted = check_response_issuer(Some(first), second, true).is_ok();
            assert_eq!(accepted, first == second, "{first:?} vs {second:?}");
            assert!(check_response_issuer(None, second, true).is_err());
        }
        _ => {}
    }
}

/// A customer (id, email, name: the input split at the first two `0xff` bytes, each
/// read as lossy UTF-8) through the Ecwid profile script
/// ([`crate::connectors::ecwid`]). The script's first line is exactly
/// `var ecwid_sso_profile = '…';` with nothing inside the quotes that could end the
/// string or the `<script>` element (no quote, backslash other than `\u`, `<`, `>`,
/// line terminator), and the escapes read back as the profile, whose signature
/// verifies and whose message names the customer.
pub fn ecwid_profile(data: &[u8]) {
    use crate::connectors::ecwid::{script, sso_profile};
    use base64::Engine;
    use hmac::Mac;
    let mut parts = data
        .splitn(3, |b| *b == 0xff)
        .map(|p| String::from_utf8_lossy(p).into_owned());
    let customer = crate::identity::Customer {
        id: parts.next().unwrap_or_default(),
        email: parts.next(),
        name: parts.next(),
        groups: Vec::new(),
    };
    let config = sso_config::ecwid::EcwidConfig {
        store_id: 1,
        client_id: "fuzz-app".into(),
        client_secret: sso_config::Secret::new("fuzz-secret-0123456789abcdef0123"),
        signature: sso_config::ecwid::EcwidSignature::Sha256,
    };
    // The uniqueness bits from the input too, so every whitespace pattern is reached.
    let mut unique = [0u8; 16];
    for (slot, byte) in unique.iter_mut().zip(data.iter().rev()) {
        *slot = *byte;
    }
    let value = sso_profile(&config, &customer, 1_700_000_000, &unique);
    let body = script(&value, &customer.id, "/_sso/logout");
    let first = body.lines().next().unwrap_or_default();
    let inner = first
        .strip_prefix("var ecwid_sso_profile = '")
        .and_then(|r| r.strip_suffix("';"))
        .unwrap_or_else(|| panic!("not a single declaration: {first:?}"));
    assert!(!inner.contains(['\'', '"', '<', '>', '\n', '\r', '\u{2028}', '\u{2029}']));
    assert!(!inner.replace("\\u", "").contains('\\'));
    let back: String = serde_json::from_str(&format!("\"{inner}\"")).unwrap_or_else(|e| panic!("{e}: {inner}"));
    assert_eq!(back, value);
    for line in body.lines().filter(|l| l.contains("var login = ")) {
        assert!(!line.trim_end_matches("';").contains(['<', '\n']), "{line:?}");
    }
    let mut fields = value.split(' ');
    let (Some(message), Some(signature), Some("1700000000"), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        panic!("not message, signature, timestamp: {value:?}")
    };
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"fuzz-secret-0123456789abcdef0123")
        .unwrap_or_else(|e| panic!("{e}"));
    mac.update(format!("{message} 1700000000").as_bytes());
    assert_eq!(signature, hex::encode(mac.finalize().into_bytes()));
    let json = base64::engine::general_purpose::STANDARD
        .decode(message)
        .unwrap_or_else(|e| panic!("{e}"));
    let json: serde_json::Value = serde_json::from_slice(&json).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(json["userId"].as_str(), Some(customer.id.as_str()));
    assert_eq!(
        json["profile"]["email"].as_str(),
        Some(customer.email.as_deref().unwrap_or(""))
    );
    assert_eq!(
        json["profile"]["billingPerson"]["name"].as_str(),
        customer.name.as_deref()
    );
}

/// Customer-login JWTs through [`CustomerLoginVerifier::verify`](crate::connectors::customer_login::CustomerLoginVerifier::verify).
/// First byte 0: the rest is the token as it arrives in the path. Any other first
/// byte: the rest is a claims document, signed here with the site's own key (so the
/// claim checks are reached). Accepted means: the customer id is short printable text
/// without surrounding spaces, a landing path is a safe same-site path, an `email` is
/// one printable address, `iat` is within the window; and a token is never accepted
/// under another key.
pub fn customer_login(data: &[u8]) {
    use crate::connectors::customer_login::CustomerLoginVerifier;
    use sso_config::{CustomerLoginConfig, Secret};
    const NOW: u64 = 1_800_000_000;
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let config = CustomerLoginConfig {
        client_id: "merchant".into(),
        client_secret: Secret::new("fuzz-secret-0123456789abcdef0123456"),
        store_hash: "abc123".into(),
        channel_id: (mode & 2 != 0).then_some(1),
        path: "/login/token/".into(),
        max_age: std::time::Duration::from_secs(30),
        default_redirect: "/account".into(),
        logout_redirect: "/login.php?action=logout".into(),
    };
    let token = if mode == 0 {
        match std::str::from_utf8(rest) {
            Ok(t) => t.to_string(),
            Err(_) => return,
        }
    } else {
        let Ok(claims) = serde_json::from_slice::<serde_json::Value>(rest) else {
            return;
        };
        let key = jsonwebtoken::EncodingKey::from_secret(config.client_secret.expose().as_bytes());
        match jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key) {
            Ok(t) => t,
            Err(_) => return,
        }
    };
    let client = Some(std::net::IpAddr::from([192, 0, 2, 7]));
    let verifier = CustomerLoginVerifier::new(&config);
    if let Ok(login) = verifier.verify(&token, NOW, client) {
        let id = &login.customer_id;
        assert!(!id.is_empty() && id.len() <= 256 && id.trim() == id, "{id:?}");
        assert!(!id.chars().any(char::is_control), "{id:?}");
        if let Some(to) = &login.redirect_to {
            assert_eq!(safe_return_to(to), Some(to.as_str()), "unsafe landing {to:?}");
        }
        if let Some(email) = &login.email {
            // An address a header and a Multipass token carry as it is.
            assert!(email.len() <= 254 && email.matches('@').count() == 1, "{email:?}");
            assert!(email.bytes().all(|b| b.is_ascii_graphic()), "{email:?}");
        }
        assert!(
            login.iat <= NOW + 5 && NOW - login.iat.min(NOW) <= 30,
            "iat {}",
            login.iat
        );
        let stranger = CustomerLoginVerifier::new(&CustomerLoginConfig {
            client_secret: Secret::new("another-secret-0123456789abcdef0123"),
            ..config.clone()
        });
        assert!(
            stranger.verify(&token, NOW, client).is_err(),
            "accepted under another key"
        );
    }
}

/// Provisioning hook answers through [`parse_answer`](crate::connectors::provisioning::parse_answer):
/// an accepted answer has a customer id and groups that go into a header as they are
/// (no control characters, no commas in groups, bounded counts and lengths).
pub fn hook_answer(data: &[u8]) {
    use crate::connectors::provisioning::{parse_answer, MAX_GROUPS};
    if let Ok(found) = parse_answer(data) {
        let clean = |s: &str| !s.is_empty() && s.len() <= 256 && !s.chars().any(char::is_control);
        assert!(clean(&found.customer_id), "{:?}", found.customer_id);
        assert!(found.groups.len() <= MAX_GROUPS);
        for g in &found.groups {
            assert!(clean(g) && !g.contains(','), "{g:?}");
        }
    }
}
