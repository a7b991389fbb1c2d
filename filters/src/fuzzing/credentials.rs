//! Fuzzing entry points for credentials and stored state: the session cookie, the
//! gateway's tokens, the configuration, and stored session records.

use super::sealed::{fuzz_handle, fuzz_ring, sealed_record};
use crate::secret::SessionId;
use crate::sessions::cookie::{find_cookie, CookieCodec};
use crate::store::seal::RecordKind;
use crate::tokens::{TokenClaims, TokenPurpose, TokenSigner};
use std::sync::OnceLock;

/// Session cookies through [`CookieCodec::decode`], [`find_cookie`],
/// [`CookieCodec::session_from_headers`] and [`CookieCodec::evict_old_flows`]. The first byte
/// picks the mode (an uppercase letter picks the https site, whose cookie is
/// `__Host-sso_session`; lowercase the http site, `sso_session`):
/// - `h`/`H`: the rest is `Cookie` header values, one per line;
/// - `v`/`V`: the rest is one cookie value;
/// - anything else: the next 32 bytes are a session id, whose cookie is encoded and
///   then mutated by the remaining bytes (3 per edit, see `mutate`).
///
/// Nothing panics; a value that decodes re-encodes to itself; a mutated cookie never
/// decodes; a session cookie counts only when sent once; only this site's own
/// login-flow cookies are evicted, each once.
pub fn cookie(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let f = fixtures();
    let (codec, other) = if mode & 0x20 == 0 {
        (&f.shop_cookies, &f.plain_cookies)
    } else {
        (&f.plain_cookies, &f.shop_cookies)
    };
    match mode.to_ascii_lowercase() {
        b'h' => cookie_headers(codec, other, rest),
        b'v' => {
            if let Ok(value) = std::str::from_utf8(rest) {
                assert_round_trip(codec, value);
            }
        }
        _ => {
            let mut id = [0u8; 32];
            let (id_bytes, edits) = rest.split_at(rest.len().min(32));
            id[..id_bytes.len()].copy_from_slice(id_bytes);
            let id = SessionId::from_bytes(id);
            let good = codec.encode(&id);
            assert_eq!(codec.decode(&good), Ok(id), "a fresh cookie does not decode");
            let bad = String::from_utf8_lossy(&mutate(good.as_bytes(), edits)).into_owned();
            if bad != good {
                assert!(
                    codec.decode(&bad).is_err(),
                    "tampered cookie {bad:?} (from {good:?}) accepted"
                );
            }
        }
    }
}

fn cookie_headers(codec: &CookieCodec, other: &CookieCodec, lines: &[u8]) {
    let mut headers = http::HeaderMap::new();
    for line in lines.split(|&b| b == b'\n') {
        if let Ok(value) = http::HeaderValue::from_bytes(line) {
            headers.append(http::header::COOKIE, value);
        }
    }
    // Cookies are read on bytes: a pair counts when it is UTF-8, whatever else its
    // line holds (a non-ASCII value of the origin's must not hide the session cookie).
    let present: Vec<&str> = headers
        .get_all(http::header::COOKIE)
        .iter()
        .flat_map(|v| v.as_bytes().split(|b| *b == b';'))
        .filter_map(|pair| std::str::from_utf8(pair).ok())
        .filter_map(|pair| pair.trim().split_once('=').map(|(name, _)| name))
        .collect();
    for name in present
        .iter()
        .copied()
        .chain([codec.session_name.as_str(), other.session_name.as_str()])
    {
        let found = find_cookie(&headers, name);
        if let Some(value) = found {
            assert!(!value.contains(';'), "cookie {name:?} read as {value:?}");
            assert_round_trip(codec, value);
        }
        assert!(
            found.is_some() || !present.contains(&name),
            "cookie {name:?} is there but not found"
        );
    }
    // The session cookie is accepted only when sent once and it verifies.
    let sent = present.iter().filter(|&&n| n == codec.session_name).count();
    match codec.session_from_headers(&headers) {
        Ok(Some(found)) => {
            assert_eq!(sent, 1, "a session cookie sent {sent} times was accepted");
            let value = find_cookie(&headers, &codec.session_name).unwrap_or_default();
            assert_eq!(
                codec.decode_cookie(value),
                Ok(found),
                "session_from_headers disagrees with decode"
            );
        }
        Ok(None) => assert_eq!(sent, 0, "a session cookie sent {sent} times was not seen"),
        Err(_) => assert!(sent > 0, "an error without a session cookie"),
    }
    // Only this codec's own flow cookies are ever deleted, each at most once.
    let evicted = codec.evict_old_flows(&headers);
    assert!(evicted.len() <= present.len(), "more flow cookies evicted than sent");
    let flow_prefix = format!("{}_flow_", codec.session_name);
    let mut names: Vec<&str> = evicted
        .iter()
        .filter_map(|c| c.split_once('='))
        .map(|(n, _)| n)
        .collect();
    assert!(names.iter().all(|n| n.starts_with(&flow_prefix)), "evicted {evicted:?}");
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), evicted.len(), "evicted {evicted:?}");
}

/// A value that decodes is exactly the encoding of what it decodes to.
fn assert_round_trip(codec: &CookieCodec, value: &str) {
    if let Ok(id) = codec.decode(value) {
        assert_eq!(codec.encode(&id), value, "cookie value decodes but is not canonical");
    }
}

/// Applies edits of 3 bytes each, `[kind, position, byte]`: kind % 4 is replace, insert,
/// remove, truncate; the position is scaled to the current length.
fn mutate(original: &[u8], edits: &[u8]) -> Vec<u8> {
    let mut out = original.to_vec();
    for edit in edits.chunks_exact(3) {
        let (kind, pos, byte) = (edit[0], usize::from(edit[1]), edit[2]);
        let at = pos * (out.len() + 1) / 256;
        match kind % 4 {
            0 if at < out.len() => out[at] = byte,
            1 => out.insert(at, byte),
            2 if at < out.len() => {
                out.remove(at);
            }
            3 => out.truncate(at),
            _ => {}
        }
    }
    out
}

/// Gateway bearer (API) tokens through `jsonwebtoken::decode::<TokenClaims>` with the
/// signer's key and an ES256 validation of `aud`, `iss` and `exp`, the checks
/// `SiteTokens::verify_api` makes after the header `typ`.
/// - First byte `m`: the next byte is a length, that many bytes are the subject of a
///   token the signer signs, and the remaining bytes mutate it (3 per edit, see
///   `mutate`): the signed token verifies with its claims intact; a mutated one never
///   verifies.
/// - Anything else is a presented token, which never verifies (no input can carry a
///   signature of this process's freshly generated key).
pub fn token(data: &[u8]) {
    let f = fixtures();
    let verify =
        |token: &str| jsonwebtoken::decode::<TokenClaims>(token, f.tokens.signer.decoding_key(), &f.validation);
    let Some((b'm', rest)) = data.split_first() else {
        let presented = String::from_utf8_lossy(data);
        assert!(
            f.tokens.verify_api(&presented).is_err(),
            "forged token {presented:?} verified"
        );
        assert!(verify(&presented).is_err(), "forged token {presented:?} verified");
        return;
    };
    let (len, rest) = rest
        .split_first()
        .map_or((0, rest), |(&len, rest)| (usize::from(len), rest));
    let (subject, edits) = rest.split_at(len.min(rest.len()));
    let now = crate::sessions::now_secs();
    let claims = TokenClaims {
        iss: TOKEN_ISSUER.into(),
        aud: TokenPurpose::Api.audience(TOKEN_SITE),
        sub: String::from_utf8_lossy(subject).into_owned(),
        sid: "AAAAAAAAAAAAAAAAAAAAAA".into(),
        iat: now,
        exp: now + 300,
        email: None,
        name: None,
        groups: vec![String::from_utf8_lossy(edits).into_owned()],
        auth_time: None,
        acr: None,
        amr: Vec::new(),
    };
    let good = match f.tokens.signer.sign(TokenPurpose::Api, &claims) {
        Ok(token) => token,
        Err(e) => panic!("signing {claims:?} failed: {e}"),
    };
    match verify(&good) {
        Ok(data) => assert_eq!(data.claims, claims, "claims changed through signing"),
        Err(e) => panic!("a freshly signed token does not verify: {e}"),
    }
    match f.tokens.verify_api(&good) {
        Ok(api) => assert_eq!(api.sub, claims.sub, "the verified subject changed"),
        Err(e) => panic!("a freshly signed API token is refused: {e}"),
    }
    // The same claims as an X-Customer-Token are never a bearer.
    if let Ok(customer) = f.tokens.signer.sign(TokenPurpose::Customer, &claims) {
        assert!(
            f.tokens.verify_api(&customer).is_err(),
            "an X-Customer-Token passed as an API token"
        );
    }
    let bad = String::from_utf8_lossy(&mutate(good.as_bytes(), edits)).into_owned();
    if bad != good {
        assert!(verify(&bad).is_err(), "tampered token {bad:?} (from {good:?}) verified");
        assert!(
            f.tokens.verify_api(&bad).is_err(),
            "tampered token {bad:?} passed as an API token"
        );
    }
}

const TOKEN_ISSUER: &str = "https://shop.localhost";
const TOKEN_SITE: &str = "shop";

/// The sites, codecs and signer every call shares (built once: a signer generates a
/// P-256 key).
struct Fixtures {
    /// `sso_session` on `http://plain.localhost`.
    plain_cookies: CookieCodec,
    /// `__Host-sso_session` on `https://shop.localhost`.
    shop_cookies: CookieCodec,
    /// The site's token minting and `Authorization: Bearer` verification.
    tokens: crate::tokens::SiteTokens,
    validation: jsonwebtoken::Validation,
}

const FIXTURE_CONFIG: &str = r#"
[server]
trusted_proxies = ["10.0.0.0/8"]
[sessions]
cookie_secret = "0123456789abcdef0123456789abcdef"
[[sites]]
name = "plain"
hosts = ["plain.localhost"]
upstreams = ["127.0.0.1:1"]
public_url = "http://plain.localhost"
[[sites]]
name = "shop"
hosts = ["shop.localhost"]
upstreams = ["127.0.0.1:1"]
public_url = "https://shop.localhost"
"#;

fn fixtures() -> &'static Fixtures {
    static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let config = match sso_config::parse(FIXTURE_CONFIG, &|_| None) {
            Ok(config) => config,
            Err(e) => panic!("fuzzing fixture config: {e}"),
        };
        let [plain, shop] = config.sites.as_slice() else {
            panic!("fuzzing fixture config has {} sites, not 2", config.sites.len())
        };
        let signer = match TokenSigner::new(None) {
            Ok(signer) => signer,
            Err(e) => panic!("fuzzing token signer: {e}"),
        };
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
        validation.set_audience(&[TokenPurpose::Api.audience(TOKEN_SITE)]);
        validation.set_issuer(&[TOKEN_ISSUER]);
        validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
        validation.leeway = 5;
        Fixtures {
            plain_cookies: CookieCodec::from_config(&config.sessions, plain),
            shop_cookies: CookieCodec::from_config(&config.sessions, shop),
            tokens: crate::tokens::SiteTokens::new(
                std::sync::Arc::new(signer),
                TOKEN_ISSUER,
                TOKEN_SITE,
                std::time::Duration::from_secs(300),
            ),
            validation,
        }
    })
}

/// Configuration text through `sso_config::parse`, once with no environment and once
/// with every `${NAME}` set (so the example configs validate and deeper checks run).
/// Nothing panics; an accepted config has at least one site; a rejected one says why.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let no_env = |_: &str| None;
    let any_env = |name: &str| Some(format!("fuzz-{name}-0123456789abcdef0123456789abcdef"));
    for env in [&no_env as &dyn Fn(&str) -> Option<String>, &any_env] {
        match sso_config::parse(text, env) {
            Ok(config) => assert!(!config.sites.is_empty(), "a config without sites was accepted"),
            Err(errors) => assert!(
                !errors.0.is_empty() && !errors.to_string().is_empty(),
                "rejected without a reason"
            ),
        }
    }
}

/// Values read back from a shared store (Redis), which the gateway treats as input:
/// the first byte picks the reader — `r`: a session record ([`record::decode`]), `s`:
/// a sealed record ([`crate::store::seal::Seal::open`], a ring of two keys, fixed
/// handle, every kind), `p`: a pending login. Nothing panics; whatever decodes encodes
/// back to something that decodes to the same; whatever opens opens again once sealed
/// anew, and under no other handle or kind.
pub fn stored(data: &[u8]) {
    use crate::oidc::pending::PendingLogin;
    use crate::store::record;
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode {
        b'r' => {
            if let Ok(first) = record::decode(rest, None) {
                let again = record::encode(&first).and_then(|b| record::decode(&b, None));
                let again = match again {
                    Ok(a) => a,
                    Err(e) => panic!("a decoded record does not round-trip: {e}"),
                };
                assert_eq!(again.customer, first.customer);
                assert_eq!(
                    (again.created_at, again.expires_at),
                    (first.created_at, first.expires_at)
                );
                assert_eq!(again.refresh.due_at(), first.refresh.due_at());
            }
        }
        b's' => {
            sealed_record(rest);
        }
        b'p' => {
            if let Ok(login) = PendingLogin::decode(rest) {
                let again = login.encode().and_then(|b| PendingLogin::decode(&b));
                match again {
                    Ok(a) => {
                        assert_eq!(a.nonce.secret(), login.nonce.secret());
                        assert_eq!(a.return_to, login.return_to);
                        assert_eq!(a.binding_hash, login.binding_hash);
                        assert_eq!(a.idp, login.idp);
                    }
                    Err(e) => panic!("a decoded pending login does not round-trip: {e}"),
                }
            }
        }
        _ => {}
    }
}

/// Seeds for [`stored`]: a record, the same record sealed, a pending login.
pub fn stored_seeds() -> Vec<Vec<u8>> {
    use crate::store::record;
    let data = crate::sessions::SessionData::new(
        "shop".into(),
        crate::identity::Customer {
            id: "c-1".into(),
            email: Some("a@example.com".into()),
            name: Some("Ann".into()),
            groups: vec!["vip".into()],
        },
        Some("eyJ.x.y".into()),
        crate::sessions::RefreshState::new(
            Some(sso_config::Secret::new("rt")),
            Some(300),
            std::time::Duration::from_secs(60),
        ),
        3600,
    );
    let mut seeds = Vec::new();
    if let Ok(body) = record::encode(&data) {
        let (current, previous) = fuzz_ring();
        let handle = fuzz_handle();
        seeds.push(
            [
                b"s".as_slice(),
                &current.seal_legacy(RecordKind::Session, handle.as_bytes(), &body),
            ]
            .concat(),
        );
        for seal in [&current, &previous] {
            if let Ok(sealed) = seal.seal(RecordKind::Session, handle.as_bytes(), &body) {
                seeds.push([b"s".as_slice(), &sealed].concat());
            }
        }
        seeds.push([b"r".as_slice(), &body].concat());
    }
    let login = crate::oidc::pending::PendingLogin {
        nonce: openidconnect::Nonce::new("n".into()),
        pkce_verifier: openidconnect::PkceCodeVerifier::new("v".repeat(43)),
        return_to: "/account?x=1".into(),
        binding_hash: [3; 32],
        created_at: 1_700_000_000,
        idp: None,
        step_up: None,
    };
    if let Ok(b) = login.encode() {
        seeds.push([b"p".as_slice(), &b].concat());
    }
    // Version 2: started for one of several IdPs.
    let named = crate::oidc::pending::PendingLogin {
        idp: Some("acme".into()),
        nonce: openidconnect::Nonce::new("n".into()),
        pkce_verifier: openidconnect::PkceCodeVerifier::new("v".repeat(43)),
        ..login
    };
    // Version 3: a step-up login.
    let stepping_up = crate::oidc::pending::PendingLogin {
        step_up: Some(crate::oidc::step_up::StepUpAsk {
            max_age: Some(600),
            acr_values: vec!["mfa".into()],
            namespace: "oidc:https://idp.example/".into(),
            customer_id: "c-1".into(),
        }),
        idp: None,
        nonce: openidconnect::Nonce::new("n".into()),
        pkce_verifier: openidconnect::PkceCodeVerifier::new("v".repeat(43)),
        return_to: "/checkout".into(),
        binding_hash: named.binding_hash,
        created_at: named.created_at,
    };
    if let Ok(b) = stepping_up.encode() {
        seeds.push([b"p".as_slice(), &b].concat());
    }
    if let Ok(b) = named.encode() {
        seeds.push([b"p".as_slice(), &b].concat());
    }
    seeds
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzzing::percent_decode;

    #[test]
    fn the_mutator_edits_as_documented() {
        assert_eq!(mutate(b"abc", &[]), b"abc");
        assert_eq!(mutate(b"abc", &[0, 0, b'x']), b"xbc");
        assert_eq!(mutate(b"abc", &[1, 255, b'x']), b"abcx");
        assert_eq!(mutate(b"abc", &[2, 64, 0]), b"ac");
        assert_eq!(mutate(b"abc", &[3, 0, 0]), b"");
    }

    #[test]
    fn the_reference_decoder_decodes() {
        assert_eq!(percent_decode(b"/%2f%2Fx%zz%4"), b"///x%zz%4");
        assert_eq!(percent_decode(b"%25%32%66"), b"%2f");
    }
}
