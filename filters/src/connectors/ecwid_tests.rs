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

#[test]
fn the_profile_is_message_signature_timestamp_as_ecwid_documents() {
    let value = sso_profile(&config(EcwidSignature::Sha1), &customer("Tester"), 1_421_317_550);
    let parts: Vec<&str> = value.split(' ').collect();
    assert_eq!(parts.len(), 3);
    assert_eq!(parts[2], "1421317550");
    let json = base64::engine::general_purpose::STANDARD
        .decode(parts[0])
        .expect("base64");
    let json: serde_json::Value = serde_json::from_slice(&json).expect("json");
    assert_eq!(
        json,
        serde_json::json!({"appClientId": "my-cool-app", "userId": "234",
            "profile": {"email": "test@example.com", "billingPerson": {"name": "Tester"}}})
    );
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(b"A1Lu7ANIhKD6A1Lu7ANIhKD6ADsaSdsa").expect("key");
    mac.update(format!("{} 1421317550", parts[0]).as_bytes());
    assert_eq!(parts[1], hex::encode(mac.finalize().into_bytes()));
    assert_eq!(parts[1].len(), 40, "hex SHA-1");

    let sha512 = sso_profile(&config(EcwidSignature::Sha512), &customer("Tester"), 1_421_317_550);
    assert_eq!(sha512.split(' ').nth(1).map(str::len), Some(128), "hex SHA-512");
}

#[test]
fn a_customer_without_name_or_email_still_gets_a_profile() {
    let bare = Customer {
        id: "x".into(),
        ..Customer::default()
    };
    let value = sso_profile(&config(EcwidSignature::Sha1), &bare, 5);
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
