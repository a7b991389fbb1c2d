//! What the gateway reads of an IdP's claims beyond openidconnect's types
//! ([`crate::oidc::claims`]): the ID token's payload, userinfo's extra claims merged
//! in, and the values route policies keep.

use crate::oidc::claims;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// Input: an ID token payload and a userinfo body (JSON, or anything), split at the
/// first `\n`. Whatever they hold: nothing panics; every kept value is 1–256 bytes
/// without control characters, at most 32 per claim, none twice; only the wanted
/// claims are kept; and `groups` read after the merge holds every group the ID token
/// alone gave (userinfo adds, never removes).
pub fn idp_claims(data: &[u8]) {
    let (id_token, userinfo) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let jwt = format!("h.{}.s", URL_SAFE_NO_PAD.encode(id_token));
    let mut stated = claims::payload(&jwt);
    let before = claims::values(stated.get("groups"));
    if let Ok(serde_json::Value::Object(info)) = serde_json::from_slice::<serde_json::Value>(userinfo) {
        claims::merge(&mut stated, info);
    }
    let after = claims::values(stated.get("groups"));
    let full = after.len() == 32;
    assert!(
        full || before.iter().all(|g| after.contains(g)),
        "userinfo took {before:?} away: {after:?}"
    );
    let wanted = ["groups".to_string(), "department".to_string()];
    for (name, values) in claims::kept(&stated, &wanted) {
        assert!(wanted.contains(&name));
        assert!(!values.is_empty() && values.len() <= 32);
        for (i, v) in values.iter().enumerate() {
            assert!(
                !v.is_empty() && v.len() <= 256 && !v.chars().any(char::is_control),
                "{v:?}"
            );
            assert!(!values[..i].contains(v), "{v:?} twice");
        }
    }
}
