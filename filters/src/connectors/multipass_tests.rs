use super::*;
use aes::cipher::BlockDecryptMut;
use std::time::{Duration, UNIX_EPOCH};

const SECRET: &str = "kat-multipass-secret-0123456789abcdef";
const IV: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

/// A known answer made by another implementation (Node's `crypto`, following
/// Shopify's documentation: SHA-256 of the secret split 16/16, AES-128-CBC, HMAC-SHA256
/// over IV ‖ ciphertext, URL-safe base64 with padding) for this JSON, secret and IV.
const JSON: &str = r#"{"email":"nic@example.com","created_at":"2013-04-11T19:16:23Z","identifier":"nic12","return_to":"https://shop.example/account"}"#;
const KNOWN_TOKEN: &str = "AAECAwQFBgcICQoLDA0OD12k_zpAf4Jph1xJ-jIJcsPyXeZX10XYMbhoDZTpHYQPKQOZ2iubmGw4g6W2EX4ktERjlPELM-7dR5t1TrY8mgYniOpT59VHnGAEndvt1PKSFHgQTefdtmSayKzNmfxxQSZR0V__TlyPN3rbsgKLI3q6DLxrv1BLO8Uu0wDr6BEghPcE7_K_8xCpi5NUVtUxYKYG7Lsm1qU-DFIlcVZHM5I=";

fn customer() -> Customer {
    Customer {
        id: "nic12".into(),
        email: Some("nic@example.com".into()),
        name: Some("Nic Potts".into()),
        groups: vec!["canadian".into(), "premium".into()],
    }
}

#[test]
fn a_token_is_iv_ciphertext_signature_as_shopify_documents() {
    let minted = token(SECRET, JSON.as_bytes(), &IV).expect("minted");
    assert_eq!(minted, KNOWN_TOKEN, "the same bytes as an independent implementation");
    assert!(minted.ends_with('='), "padded, as Ruby's urlsafe_encode64");
    assert!(!minted.contains(['+', '/']), "URL-safe alphabet");

    // Taken apart by hand: IV, ciphertext (whole blocks), HMAC-SHA256 under the
    // last 16 bytes of SHA-256(secret) over IV ‖ ciphertext.
    let raw = base64::engine::general_purpose::URL_SAFE
        .decode(&minted)
        .expect("base64");
    let (signed, signature) = raw.split_at(raw.len() - 32);
    assert_eq!(&signed[..16], &IV);
    assert_eq!((signed.len() - 16) % 16, 0);
    let keys = Sha256::digest(SECRET.as_bytes());
    let mut mac = Hmac::<Sha256>::new_from_slice(&keys[16..]).expect("key");
    mac.update(signed);
    mac.verify_slice(signature).expect("the signature checks");
    let plain = cbc::Decryptor::<aes::Aes128>::new_from_slices(&keys[..16], &signed[..16])
        .expect("key")
        .decrypt_padded_vec_mut::<Pkcs7>(&signed[16..])
        .expect("padding");
    assert_eq!(plain, JSON.as_bytes());

    // A fresh IV: another token for the same data.
    let other = token(SECRET, JSON.as_bytes(), &fresh_iv()).expect("minted");
    assert_ne!(other, minted);
}

#[test]
fn the_customer_data_carries_shopify_fields() {
    let at = UNIX_EPOCH + Duration::from_secs(1_365_707_783);
    let c = customer();
    let data = CustomerData::new(
        &c,
        "nic@example.com",
        "https://shop.example",
        "/account?tab=orders",
        Some("::ffff:203.0.113.9".parse().expect("ip")),
        at,
    );
    let json = serde_json::to_value(&data).expect("json");
    assert_eq!(
        json,
        serde_json::json!({
            "email": "nic@example.com",
            "created_at": "2013-04-11T19:16:23Z",
            "identifier": "nic12",
            "first_name": "Nic",
            "last_name": "Potts",
            "tag_string": "canadian, premium",
            "return_to": "https://shop.example/account?tab=orders",
            "remote_ip": "203.0.113.9",
        })
    );
    // Unknown parts are left out: no name, no groups (an empty tag_string would
    // erase the customer's tags at Shopify), no address.
    let bare = Customer {
        id: "7".into(),
        ..Customer::default()
    };
    let json = serde_json::to_value(CustomerData::new(
        &bare,
        "a@b.example",
        "https://s.example",
        "/",
        None,
        at,
    ))
    .expect("json");
    let keys: Vec<&str> = json.as_object().expect("object").keys().map(String::as_str).collect();
    assert_eq!(keys, ["created_at", "email", "identifier", "return_to"]);
}

#[test]
fn names_split_at_the_first_space() {
    assert_eq!(split_name("Nic Potts"), (Some("Nic"), Some("Potts")));
    assert_eq!(
        split_name("  Ludwig van Beethoven "),
        (Some("Ludwig"), Some("van Beethoven"))
    );
    assert_eq!(split_name("Cher"), (Some("Cher"), None));
    assert_eq!(split_name("   "), (None, None));
}

#[test]
fn the_sign_in_url_is_the_stores_multipass_path() {
    let c = customer();
    let data = CustomerData::new(&c, "nic@example.com", "https://shop.example", "/", None, UNIX_EPOCH);
    let url = sign_in_url("https://shop.example", SECRET, &data, &IV).expect("url");
    let token = url
        .strip_prefix("https://shop.example/account/login/multipass/")
        .expect("the store's path");
    assert!(token.starts_with("AAECAwQFBgcICQoLDA0OD"), "the IV first: {token}");
}

#[test]
fn remote_ip_is_sent_for_ipv4_only() {
    let c = Customer {
        id: "7".into(),
        ..Customer::default()
    };
    let with = |ip: &str| {
        let client = ip.parse().ok();
        CustomerData::new(&c, "a@example.com", "https://shop.example", "/", client, UNIX_EPOCH).remote_ip
    };
    assert_eq!(with("203.0.113.9").as_deref(), Some("203.0.113.9"));
    assert_eq!(
        with("::ffff:203.0.113.9").as_deref(),
        Some("203.0.113.9"),
        "IPv4-mapped"
    );
    assert_eq!(with("2001:db8::7"), None, "Shopify refuses an IPv6 remote_ip");
    let data = CustomerData::new(&c, "a@example.com", "https://shop.example", "/", None, UNIX_EPOCH);
    let json = serde_json::to_value(data.without_identifier()).expect("json");
    assert!(
        json.get("identifier").is_none() && json.get("remote_ip").is_none(),
        "{json}"
    );
}
