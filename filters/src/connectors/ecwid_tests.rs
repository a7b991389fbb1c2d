use super::*;
use base64::Engine;
use sso_config::Secret;

fn config(signature: EcwidSignature) -> EcwidConfig {
    EcwidConfig {
        store_id: 1003,
        client_id: "my-cool-app".into(),
        client_secret: Secret::new("A1Lu7ANIhKD6A1Lu7ANIhKD6ADsaSdsa"),
        signature,
    }
}

fn customer(name: &str) -> Customer {
    Customer {
        id: "234".into(),
        email: Some("test@example.com".into()),
        name: Some(name.into()),
        groups: vec![],
    }
}

const UNIQUE: Uniqueness = [0x1b; 16];

/// The message's JSON text and the hex HMAC of `"{message} {timestamp}"`.
fn decoded(value: &str) -> (String, String) {
    let parts: Vec<&str> = value.split(' ').collect();
    assert_eq!(parts.len(), 3, "{value}");
    let json = base64::engine::general_purpose::STANDARD
        .decode(parts[0])
        .expect("base64");
    (String::from_utf8(json).expect("utf-8"), parts[1].to_string())
}

#[test]
fn the_profile_is_message_signature_timestamp_as_ecwid_documents() {
    let value = sso_profile(
        &config(EcwidSignature::Sha256),
        &customer("Tester"),
        1_421_317_550,
        &UNIQUE,
    );
    let parts: Vec<&str> = value.split(' ').collect();
    assert_eq!(parts.len(), 3);
    assert_eq!(parts[2], "1421317550");
    let (json, signature) = decoded(&value);
    let json: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(
        json,
        serde_json::json!({"appClientId": "my-cool-app", "userId": "234",
            "profile": {"email": "test@example.com", "billingPerson": {"name": "Tester"}}})
    );
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"A1Lu7ANIhKD6A1Lu7ANIhKD6ADsaSdsa").expect("key");
    mac.update(format!("{} 1421317550", parts[0]).as_bytes());
    assert_eq!(signature, hex::encode(mac.finalize().into_bytes()));
    assert_eq!(signature.len(), 64, "hex SHA-256 (the default)");

    let sha1 = sso_profile(
        &config(EcwidSignature::Sha1),
        &customer("Tester"),
        1_421_317_550,
        &UNIQUE,
    );
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(b"A1Lu7ANIhKD6A1Lu7ANIhKD6ADsaSdsa").expect("key");
    mac.update(format!("{} 1421317550", parts[0]).as_bytes());
    assert_eq!(
        decoded(&sha1).1,
        hex::encode(mac.finalize().into_bytes()),
        "same message, SHA-1"
    );
    let sha512 = sso_profile(
        &config(EcwidSignature::Sha512),
        &customer("Tester"),
        1_421_317_550,
        &UNIQUE,
    );
    assert_eq!(decoded(&sha512).1.len(), 128, "hex SHA-512");
    assert_eq!(EcwidSignature::default(), EcwidSignature::Sha256);
}

#[test]
fn values_of_one_customer_in_one_second_differ_in_their_whitespace_only() {
    let c = customer("Tester");
    let cfg = config(EcwidSignature::Sha256);
    let mut other = UNIQUE;
    other[15] ^= 0x80;
    let (a, b) = (
        sso_profile(&cfg, &c, 1_421_317_550, &UNIQUE),
        sso_profile(&cfg, &c, 1_421_317_550, &other),
    );
    assert_ne!(a, b, "one bit of uniqueness changes the value");
    let ((json_a, sig_a), (json_b, sig_b)) = (decoded(&a), decoded(&b));
    assert_ne!(sig_a, sig_b, "and so the signature Ecwid remembers");
    let parse = |t: &str| serde_json::from_str::<serde_json::Value>(t).expect("json");
    assert_eq!(parse(&json_a), parse(&json_b), "the same profile to any JSON reader");
    assert!(json_a.starts_with('{') && json_a.ends_with('}'));
    let spaces: String = json_a[1..].chars().take_while(|c| " \t\n\r".contains(*c)).collect();
    assert_eq!(spaces.chars().count(), 64, "128 bits, two a character");
    assert_eq!(json_a.chars().filter(|c| c.is_whitespace()).count(), 64, "nowhere else");
    // Every byte value is written, and differently.
    let written: std::collections::HashSet<String> = (0..=255u8).map(|b| uniqueness_whitespace(&[b; 16])).collect();
    assert_eq!(written.len(), 256);
    // What the gateway draws differs each time.
    assert_ne!(fresh_uniqueness(), fresh_uniqueness());
}

#[test]
fn a_customer_without_name_or_email_still_gets_a_profile() {
    let bare = Customer {
        id: "x".into(),
        ..Customer::default()
    };
    let value = sso_profile(&config(EcwidSignature::Sha256), &bare, 5, &UNIQUE);
    let message = value.split(' ').next().expect("message");
    let json = base64::engine::general_purpose::STANDARD
        .decode(message)
        .expect("base64");
    let json: serde_json::Value = serde_json::from_slice(&json).expect("json");
    assert_eq!(json["profile"], serde_json::json!({"email": ""}));
}

#[test]
fn nothing_a_value_holds_can_leave_the_string_or_the_script_element() {
    let hostile = "O'Brien</script><script>alert(1)</script>\\\n\r\u{2028}\u{2029}\"`${x}";
    let escaped = js_string(hostile);
    for bad in ["'", "\"", "<", ">", "\n", "\r", "`", "\u{2028}", "\u{2029}", "$"] {
        assert!(!escaped.contains(bad), "{bad:?} survived in {escaped}");
    }
    assert!(
        !escaped.replace("\\u", "").contains('\\'),
        "only \\u escapes: {escaped}"
    );
    // The escapes decode back to the original (as a JSON string reader would).
    let back: String = serde_json::from_str(&format!("\"{escaped}\"")).expect("valid escapes");
    assert_eq!(back, hostile);
    // Non-BMP characters become surrogate pairs, which JavaScript reads back too.
    let emoji: String = serde_json::from_str(&format!("\"{}\"", js_string("a😀b"))).expect("pairs");
    assert_eq!(emoji, "a😀b");
}

#[test]
fn the_script_declares_the_variable_and_hooks_the_widget() {
    let body = script(
        "abc= 0f 12",
        "http://shop.localhost/_sso/login",
        "http://shop.localhost/_sso/logout",
    );
    assert!(body.starts_with("var ecwid_sso_profile = 'abc= 0f 12';\n"), "{body}");
    assert!(body.contains("Ecwid.OnAPILoaded.add"));
    assert!(body.contains("setSignInUrls"));
    assert!(body.contains("signOutUrl: logout"));
    assert!(body.contains("setSsoProfile('')"));
    assert!(body.contains("var login = 'http://shop.localhost/_sso/login';"));
    let hostile = script("x'; alert(1); //", "http://a/</script>", "http://b/");
    assert!(
        hostile.starts_with("var ecwid_sso_profile = 'x\\u0027\\u003b alert\\u0028"),
        "{hostile}"
    );
    assert!(!hostile.contains("</script>"));
}

#[test]
fn only_same_origin_or_direct_loads_count() {
    let with = |v: &str| {
        let mut h = http::HeaderMap::new();
        h.insert("sec-fetch-site", v.parse().expect("value"));
        h
    };
    assert!(!crate::navigation::from_another_site(&http::HeaderMap::new()));
    assert!(!crate::navigation::from_another_site(&with("same-origin")));
    assert!(!crate::navigation::from_another_site(&with("none")));
    assert!(crate::navigation::from_another_site(&with("cross-site")));
    assert!(crate::navigation::from_another_site(&with("same-site")));
}
