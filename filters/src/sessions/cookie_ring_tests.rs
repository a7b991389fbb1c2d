//! The cookie key ring: previous secrets verify, the current one signs.
use super::*;

const OLD: &str = "old-secret-0123456789abcdef0123456";
const NEW: &str = "new-secret-0123456789abcdef0123456";

fn codec(current: &str, previous: &[&str]) -> CookieCodec {
    let previous = previous
        .iter()
        .map(|p| format!("\"{p}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let cfg = sso_config::parse(
        &format!(
            "[sessions]\ncookie_secret = \"{current}\"\nprevious_cookie_secrets = [{previous}]\n[[sites]]\nname = \"s\"\n\
             hosts = [\"s.localhost\"]\nupstreams = [\"127.0.0.1:1\"]\npublic_url = \"http://s.localhost\"\n"
        ),
        &|_| None,
    )
    .expect("config");
    CookieCodec::from_config(&cfg.sessions, &cfg.sites[0])
}

#[test]
fn a_cookie_of_a_previous_secret_verifies_and_is_stale() {
    let id = SessionId::random();
    let before = codec(OLD, &[]).encode(&id);
    let rotated = codec(NEW, &[OLD]);
    assert_eq!(rotated.decode_cookie(&before), Ok(SessionCookie { id, stale: true }));
    let renewed = rotated.encode(&id);
    assert_ne!(renewed, before, "signed again with the current secret");
    assert_eq!(rotated.decode_cookie(&renewed), Ok(SessionCookie { id, stale: false }));
    // Once the old secret is removed, its cookies are refused.
    assert_eq!(codec(NEW, &[]).decode(&before), Err(CookieError::BadSignature));
    // Announced ahead (in the previous list), a new secret verifies what a replica
    // that already made it current signs.
    assert_eq!(codec(OLD, &[NEW]).decode(&renewed), Ok(id));
}

#[test]
fn the_request_says_which_cookie_is_stale() {
    let id = SessionId::random();
    let rotated = codec(NEW, &[OLD]);
    let mut headers = http::HeaderMap::new();
    let value = format!("{}={}", rotated.session_name, codec(OLD, &[]).encode(&id));
    headers.insert(http::header::COOKIE, value.parse().expect("header"));
    assert_eq!(
        rotated.session_from_headers(&headers),
        Ok(Some(SessionCookie { id, stale: true }))
    );
}
