//! Fuzzing entry points: one `pub fn <target>(data: &[u8])` per parser of untrusted
//! input. The `cargo fuzz` targets in `fuzz/fuzz_targets/` call these, and
//! `filters/tests/fuzz_corpus.rs` replays the committed corpora (`fuzz/corpus/<target>/`)
//! and crash reproducers (`fuzz/regressions/<target>/`) through the very same
//! functions in `cargo test`.
//!
//! Each function drives the real parser and asserts its invariants: a panic here is a
//! bug in the code under test (or in the invariant), never an expected outcome.
//! Inputs the parser could never see (a `&str` parser given bytes that are not UTF-8)
//! are skipped, not reported.

use crate::request_path::{RequestPath, TargetForm};
use crate::return_to::safe_return_to;
use crate::route_access::RouteTable;
use crate::secret::SessionId;
use crate::sessions::cookie::{find_cookie, CookieCodec};
use crate::tokens::{TokenClaims, TokenPurpose, TokenSigner};
use sso_config::{Access, PathPolicy, RouteConfig};
use std::sync::OnceLock;

mod backchannel;
mod connectors;
mod cross_site;
pub use backchannel::logout_token;
pub use connectors::{customer_login, ecwid_profile, hook_answer, idp_choice};
pub use cross_site::one_time_token;

/// Incoming `X-Request-Id` values ([`crate::request_id::RequestId::decide`]). The
/// first byte says whether the peer is trusted (odd: yes); the rest is header values,
/// one per line. Whatever comes in, the id is 1–128 bytes of the plain alphabet; it
/// is the incoming value only from a trusted peer that sent exactly one plain value,
/// else a new 32-hex-digit id.
pub fn request_id(data: &[u8]) {
    use crate::request_id::{RequestId, MAX_LEN, REQUEST_ID_HEADER};
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let trusted = flags % 2 == 1;
    let mut headers = http::HeaderMap::new();
    for line in rest.split(|b| *b == b'\n') {
        if let Ok(value) = http::HeaderValue::from_bytes(line) {
            headers.append(REQUEST_ID_HEADER, value);
        }
    }
    let id = RequestId::decide(&headers, trusted);
    let plain = |b: u8| b.is_ascii_alphanumeric() || b"-_.:/+=@".contains(&b);
    let s = id.as_str();
    assert!(!s.is_empty() && s.len() <= MAX_LEN && s.bytes().all(plain), "{s:?}");
    let values: Vec<&[u8]> = headers
        .get_all(REQUEST_ID_HEADER)
        .iter()
        .map(|v| v.as_bytes())
        .collect();
    let kept = trusted && values.len() == 1 && RequestId::parse(values[0]).is_some();
    if kept {
        assert_eq!(s.as_bytes(), values[0]);
    } else {
        assert!(s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit()), "{s:?}");
    }
}

/// Request-targets through [`TargetForm::classify`] and [`RequestPath::canonical`],
/// then route matching. The first byte picks the site policy (bit 0: case-insensitive,
/// bit 1: encoded slashes allowed, bit 2: `OPTIONS`); the rest is the raw target.
/// An accepted path is canonical: it starts with `/`, has no empty, `.` or `..`
/// segment (but a trailing `/`), only printable ASCII, no `%2F`/`%5C`/`\` unless
/// allowed, no escape of an unreserved character, upper-case hex; canonicalising it
/// again changes nothing, and its route key — and so its access rule — is the same.
/// The route key never contains `;` or `%`, and is lower-case on case-insensitive
/// sites.
pub fn request_path(data: &[u8]) {
    let Some((&flags, raw)) = data.split_first() else {
        return;
    };
    let policy = PathPolicy {
        case_insensitive: flags & 1 != 0,
        allow_encoded_slashes: flags & 2 != 0,
    };
    let Ok(form) = TargetForm::classify(raw, flags & 4 != 0) else {
        return;
    };
    let Ok(path) = RequestPath::canonical(&form, policy) else {
        return;
    };
    let canonical = path.path.to_string();
    let key = path.route_key().to_string();
    assert!(canonical.starts_with('/'), "{canonical:?} does not start with /");
    assert!(canonical.bytes().all(|b| (0x21..=0x7e).contains(&b)), "{canonical:?}");
    let segments: Vec<&str> = canonical[1..].split('/').collect();
    for (i, s) in segments.iter().enumerate() {
        assert!(*s != "." && *s != "..", "dot-segment left in {canonical:?}");
        assert!(
            !s.is_empty() || i + 1 == segments.len(),
            "empty segment in {canonical:?}"
        );
    }
    let bytes = canonical.as_bytes();
    for (i, _) in canonical.match_indices('%') {
        let escape = &bytes[i + 1..i + 3];
        assert!(
            escape.iter().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(b)),
            "{canonical:?}"
        );
        let value = u8::from_str_radix(std::str::from_utf8(escape).unwrap_or("00"), 16).unwrap_or(0);
        assert!(
            !(value.is_ascii_alphanumeric() || b"-._~".contains(&value)),
            "{canonical:?}"
        );
        if !policy.allow_encoded_slashes {
            assert!(value != b'/' && value != b'\\', "{canonical:?}");
        }
    }
    if !policy.allow_encoded_slashes {
        assert!(!canonical.contains('\\'), "{canonical:?}");
    }
    assert!(!key.contains(';'), "parameters left in the route key {key:?}");
    if policy.case_insensitive {
        assert!(!key.bytes().any(|b| b.is_ascii_uppercase()), "{key:?} not lower-case");
    }
    let again_form = TargetForm::Origin(&canonical);
    let again = RequestPath::canonical(&again_form, policy)
        .unwrap_or_else(|e| panic!("the canonical path {canonical:?} is refused: {e}"));
    assert_eq!(again.path, canonical, "canonicalising is not idempotent");
    assert_eq!(again.route_key(), key, "the route key changed on the canonical path");
    let table = fuzz_routes(policy);
    assert_eq!(table.access(&key), table.access(again.route_key()));
}

/// Routes of the fuzzed site: `/api` api, `/account` login, `/Shop/` public.
fn fuzz_routes(policy: PathPolicy) -> RouteTable {
    let route = |prefix: &str, access| RouteConfig {
        prefix: prefix.into(),
        access,
        forward_idp_access_token: false,
    };
    RouteTable::from_config(
        &[
            route("/api", Access::Api),
            route("/account", Access::Login),
            route("/Shop/", Access::Public),
        ],
        policy,
    )
}

/// The request headers that decide whether a login may start
/// ([`crate::navigation::is_navigation`]): `Accept`, `Sec-Fetch-*`,
/// `X-Requested-With`, prefetch hints. The first byte picks the method (even: `GET`,
/// odd: `HEAD`); the rest is header lines `name: value`. Only a `GET` is ever a
/// navigation, and never one that says it is an XMLHttpRequest or a non-document
/// fetch.
pub fn navigation(data: &[u8]) {
    let Some((&m, rest)) = data.split_first() else { return };
    let method = if m % 2 == 0 {
        http::Method::GET
    } else {
        http::Method::HEAD
    };
    let mut headers = http::HeaderMap::new();
    for line in rest.split(|b| *b == b'\n') {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(&line[..colon]),
            http::HeaderValue::from_bytes(line[colon + 1..].trim_ascii()),
        ) else {
            continue;
        };
        headers.append(name, value);
    }
    let navigation = crate::navigation::is_navigation(&method, &headers);
    if !navigation {
        return;
    }
    assert_eq!(method, http::Method::GET, "{method} counted as a navigation");
    let says = |name: &str, value: &str| {
        headers
            .get_all(name)
            .iter()
            .any(|v| v.to_str().is_ok_and(|v| v.trim().eq_ignore_ascii_case(value)))
    };
    assert!(
        !says("x-requested-with", "XMLHttpRequest"),
        "an XHR started a login: {headers:?}"
    );
    for dest in ["image", "script", "style", "empty", "iframe", "font"] {
        assert!(
            !says("sec-fetch-dest", dest),
            "a {dest} fetch started a login: {headers:?}"
        );
    }
    assert!(
        !says("sec-fetch-mode", "cors") && !says("sec-fetch-mode", "no-cors"),
        "{headers:?}"
    );
}

/// `return_to` / post-logout targets through [`safe_return_to`]. An accepted target
/// is the input itself, starts with exactly one `/` (not `/\`), has no control
/// characters, whitespace or backslash, and decoding it up to three times never
/// makes it start with `//` or `/\` (even once tabs and newlines, which browsers
/// drop, are removed).
pub fn return_to(data: &[u8]) {
    let Ok(raw) = std::str::from_utf8(data) else { return };
    let Some(target) = safe_return_to(raw) else { return };
    assert_eq!(target, raw, "the accepted target is not the input");
    assert!(target.starts_with('/'), "{raw:?} accepted without a leading /");
    assert!(!starts_like_another_host(target.as_bytes()), "{raw:?} accepted");
    assert!(
        !target.chars().any(|c| c.is_control() || c.is_whitespace() || c == '\\'),
        "{raw:?} accepted with a control character, whitespace or backslash"
    );
    let mut current = target.as_bytes().to_vec();
    for round in 1..=3 {
        current = percent_decode(&current);
        let browser_view: Vec<u8> = current.iter().copied().filter(|b| !b"\t\r\n".contains(b)).collect();
        assert!(
            !starts_like_another_host(&browser_view),
            "{raw:?} accepted, but decodes to {:?} after {round} round(s)",
            String::from_utf8_lossy(&current)
        );
        // No dot-segment a URL parser could resolve into `//host`.
        let text = String::from_utf8_lossy(&current);
        let path = text.split(['?', '#']).next().unwrap_or("");
        assert!(
            !path.split('/').any(|s| s == "." || s == ".."),
            "{raw:?} accepted with a dot-segment after {round} round(s)"
        );
    }
}

/// `//host` or `/\host`: a browser reads both as another site.
fn starts_like_another_host(path: &[u8]) -> bool {
    path.starts_with(b"//") || path.starts_with(b"/\\")
}

/// One round of `%XX` decoding, bytewise and independent of the code under test.
fn percent_decode(s: &[u8]) -> Vec<u8> {
    let hex = |b: Option<&u8>| b.and_then(|b| char::from(*b).to_digit(16));
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        if b == b'%' {
            if let (Some(hi), Some(lo)) = (hex(s.get(i + 1)), hex(s.get(i + 2))) {
                out.extend(u8::try_from(hi * 16 + lo).ok());
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    out
}

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
        Ok(Some(id)) => {
            assert_eq!(sent, 1, "a session cookie sent {sent} times was accepted");
            let value = find_cookie(&headers, &codec.session_name).unwrap_or_default();
            assert_eq!(
                codec.decode(value),
                Ok(id),
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
/// a sealed record ([`record::Seal::open`], fixed key and handle), `p`: a pending
/// login. Nothing panics; whatever decodes encodes back to something that decodes to
/// the same; a seal opens only what sealing the opened body reproduces exactly.
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
            let seal = record::Seal::from_secret(&sso_config::Secret::new("fuzz-cookie-secret-0123456789abcdef"));
            let sid = crate::secret::Sid::of(&SessionId::from_bytes([7; 32]));
            if let Ok(body) = seal.open(&sid, rest) {
                assert_eq!(
                    seal.seal(&sid, body.to_vec()),
                    rest,
                    "a seal opened what it did not make"
                );
            }
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
        let seal = record::Seal::from_secret(&sso_config::Secret::new("fuzz-cookie-secret-0123456789abcdef"));
        let sid = crate::secret::Sid::of(&SessionId::from_bytes([7; 32]));
        seeds.push([b"r".as_slice(), &body].concat());
        seeds.push([b"s".as_slice(), &seal.seal(&sid, body)].concat());
    }
    let login = crate::oidc::pending::PendingLogin {
        nonce: openidconnect::Nonce::new("n".into()),
        pkce_verifier: openidconnect::PkceCodeVerifier::new("v".repeat(43)),
        return_to: "/account?x=1".into(),
        binding_hash: [3; 32],
        created_at: 1_700_000_000,
        idp: None,
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
    if let Ok(b) = named.encode() {
        seeds.push([b"p".as_slice(), &b].concat());
    }
    seeds
}

#[cfg(test)]
mod tests {
    use super::*;

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
