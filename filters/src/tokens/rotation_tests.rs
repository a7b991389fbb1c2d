//! Signing key rotation: previous keys are published and verify, the current signs.
use super::signer::TokenSigner;
use super::site_tokens::{BearerError, SiteTokens};
use super::TokenPurpose;
use crate::identity::Customer;
use crate::secret::{SessionId, Sid};
use crate::sessions::{now_secs, SessionData};
use p256::pkcs8::{EncodePrivateKey, LineEnding};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

fn key_file(name: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("sso-rotation-{name}-{}.pem", std::process::id()));
    let key = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let pem = key.to_pkcs8_pem(LineEnding::LF).expect("pem");
    std::fs::write(&path, pem.as_bytes()).expect("write");
    path
}

fn tokens(signer: TokenSigner) -> SiteTokens {
    SiteTokens::new(
        Arc::new(signer),
        "https://shop.example",
        "shop",
        Duration::from_secs(300),
    )
}

fn session() -> SessionData {
    let customer = Customer {
        id: "alice".into(),
        ..Customer::default()
    };
    SessionData::new("shop".into(), customer, None, Default::default(), 3600)
}

#[test]
fn a_token_of_a_previous_key_verifies_and_the_jwks_has_both() {
    let (old, new) = (key_file("old"), key_file("new"));
    let before = tokens(TokenSigner::new(Some(&old)).expect("signer"));
    let sid = Sid::of(&SessionId::random());
    let (old_token, _) = before
        .mint(TokenPurpose::Api, &session(), &sid, now_secs())
        .expect("mint");

    let rotated = tokens(TokenSigner::with_previous(Some(&new), std::slice::from_ref(&old)).expect("signer"));
    assert_eq!(rotated.verify_api(&old_token).expect("verifies").sid, sid);
    let (new_token, _) = rotated
        .mint(TokenPurpose::Api, &session(), &sid, now_secs())
        .expect("mint");
    let kid = |t: &str| jsonwebtoken::decode_header(t).expect("header").kid;
    assert_eq!(
        kid(&new_token).as_deref(),
        Some(rotated.signer.kid.as_str()),
        "the current key signs"
    );
    assert_ne!(kid(&new_token), kid(&old_token));
    let published: Vec<&str> = rotated.signer.jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(|k| k["kid"].as_str())
        .collect();
    assert_eq!(published, [rotated.signer.kid.as_str(), before.signer.kid.as_str()]);

    // Once removed, the old key verifies nothing.
    let after = tokens(TokenSigner::new(Some(&new)).expect("signer"));
    assert!(matches!(after.verify_api(&old_token), Err(BearerError::UnknownKey)));
    // Announced ahead, the new key verifies what a replica already signing with it makes.
    let announced = tokens(TokenSigner::with_previous(Some(&old), std::slice::from_ref(&new)).expect("signer"));
    assert!(announced.verify_api(&new_token).is_ok());
    for path in [old, new] {
        let _ = std::fs::remove_file(path);
    }
}

#[test]
fn a_previous_file_repeating_the_current_key_is_published_once() {
    let key = key_file("same");
    let signer = TokenSigner::with_previous(Some(&key), &[key.clone(), key.clone()]).expect("signer");
    assert_eq!(signer.jwks["keys"].as_array().map(Vec::len), Some(1));
    assert!(signer.knows_kid(Some(signer.kid.as_str())));
    assert!(!signer.knows_kid(Some("someone-else")) && !signer.knows_kid(None));
    assert!(TokenSigner::with_previous(Some(&key), &[PathBuf::from("/nonexistent/old.pem")]).is_err());
    let _ = std::fs::remove_file(key);
}
