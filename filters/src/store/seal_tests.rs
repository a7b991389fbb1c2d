use super::*;

const A: &str = "0123456789abcdef0123456789abcdef";
const B: &str = "another-secret-0123456789abcdef!!";
const C: &str = "a-third-secret-0123456789abcdef!!";

fn ring(current: &str, previous: &[&str]) -> Seal {
    let previous: Vec<Secret> = previous.iter().map(|s| Secret::new(*s)).collect();
    Seal::from_ring(&Secret::new(current), &previous)
}

const BODY: &[u8] = b"refresh-token-rt-1 a@example.com customer-42";

#[test]
fn a_record_opens_for_its_kind_and_handle_only() {
    let seal = ring(A, &[]);
    let sealed = seal.seal(RecordKind::Session, b"h1", BODY).expect("seals");
    assert_eq!(sealed[0], FORMAT);
    assert_eq!(sealed[1..1 + KEY_ID_LEN], seal.key_id());
    assert_eq!(sealed.len(), BODY.len() + OVERHEAD);
    let opened = seal.open(RecordKind::Session, b"h1", &sealed).expect("opens");
    assert_eq!((opened.body.as_slice(), opened.stale), (BODY, false));
    assert!(
        seal.open(RecordKind::Session, b"h2", &sealed).is_err(),
        "moved to another handle"
    );
    assert!(
        seal.open(RecordKind::PendingLogin, b"h1", &sealed).is_err(),
        "read as another kind"
    );
    assert!(
        seal.open(RecordKind::CrossSite("sso"), b"h1", &sealed).is_err(),
        "read as a cross-site record"
    );
    let sso = seal.seal(RecordKind::CrossSite("sso"), b"h1", BODY).expect("seals");
    assert!(seal.open(RecordKind::CrossSite("sso-ott"), b"h1", &sso).is_err());
}

#[test]
fn the_body_is_not_in_clear_and_each_write_has_its_own_nonce() {
    let seal = ring(A, &[]);
    let one = seal.seal(RecordKind::Session, b"h", BODY).expect("seals");
    let two = seal.seal(RecordKind::Session, b"h", BODY).expect("seals");
    assert_ne!(one, two, "a random nonce per write");
    for needle in [&b"rt-1"[..], b"a@example.com", b"customer-42"] {
        assert!(!one.windows(needle.len()).any(|w| w == needle), "{needle:?} in clear");
    }
}

#[test]
fn any_changed_byte_is_refused() {
    let seal = ring(A, &[]);
    let sealed = seal.seal(RecordKind::Session, b"h", BODY).expect("seals");
    for i in 0..sealed.len() {
        let mut changed = sealed.clone();
        changed[i] ^= 0x01;
        assert!(
            seal.open(RecordKind::Session, b"h", &changed).is_err(),
            "byte {i} changed"
        );
    }
    for cut in 0..sealed.len() {
        assert!(
            seal.open(RecordKind::Session, b"h", &sealed[..cut]).is_err(),
            "cut at {cut}"
        );
    }
    assert!(seal
        .open(RecordKind::Session, b"h", &vec![FORMAT; MAX_BODY + 512])
        .is_err());
}

#[test]
fn a_record_of_a_key_not_in_the_ring_is_refused_and_says_so() {
    let old = ring(B, &[]);
    let sealed = old.seal(RecordKind::Session, b"h", BODY).expect("seals");
    match ring(A, &[]).open(RecordKind::Session, b"h", &sealed) {
        Err(StoreError::Corrupt(why)) => assert!(why.contains("not in the cookie key ring"), "{why}"),
        other => panic!("opened with an unknown key id: {other:?}"),
    }
    // A key id that names a key of the ring, on a record that key did not make.
    let mut relabelled = sealed.clone();
    relabelled[1..1 + KEY_ID_LEN].copy_from_slice(&ring(A, &[]).key_id());
    assert!(ring(A, &[]).open(RecordKind::Session, b"h", &relabelled).is_err());
}

#[test]
fn a_previous_secret_opens_and_says_the_record_is_stale() {
    let before = ring(B, &[]);
    let sealed = before.seal(RecordKind::Provisioning, b"k", BODY).expect("seals");
    let rotated = ring(A, &[C, B]);
    let opened = rotated.open(RecordKind::Provisioning, b"k", &sealed).expect("opens");
    assert_eq!((opened.body.as_slice(), opened.stale), (BODY, true));
    let again = rotated
        .seal(RecordKind::Provisioning, b"k", &opened.body)
        .expect("seals");
    assert_eq!(
        again[1..1 + KEY_ID_LEN],
        rotated.key_id(),
        "written again with the current key"
    );
    assert!(before.open(RecordKind::Provisioning, b"k", &again).is_err());
    // Announced first (the new secret in the previous list), it already opens what a
    // replica that made it current writes.
    let announced = ring(B, &[A]);
    assert!(announced.open(RecordKind::Provisioning, b"k", &again).is_ok());
}

#[test]
fn an_old_hmac_sealed_record_reads_and_is_written_back_encrypted() {
    let old = ring(B, &[]);
    for kind in [
        RecordKind::Session,
        RecordKind::PendingLogin,
        RecordKind::Provisioning,
        RecordKind::CrossSite("sso-ott"),
    ] {
        let legacy = old.seal_legacy(kind, b"h", BODY);
        assert_eq!(legacy.len(), BODY.len() + LEGACY_TAG_LEN);
        let opened = old.open(kind, b"h", &legacy).expect("the earlier layout reads");
        assert_eq!((opened.body.as_slice(), opened.stale), (BODY, true));
        assert!(
            ring(A, &[B]).open(kind, b"h", &legacy).is_ok(),
            "under a previous secret too"
        );
        assert!(
            ring(A, &[]).open(kind, b"h", &legacy).is_err(),
            "not under a stranger's"
        );
        assert!(old.open(kind, b"other", &legacy).is_err(), "moved");
        let mut flipped = legacy.clone();
        flipped[0] ^= 1;
        assert!(old.open(kind, b"h", &flipped).is_err(), "changed");
        let rewritten = old.seal(kind, b"h", &opened.body).expect("seals");
        assert_eq!(rewritten[0], FORMAT);
        assert_eq!(old.open(kind, b"h", &rewritten).expect("opens").body, BODY);
    }
}

#[test]
fn the_earlier_layout_kept_its_contexts() {
    // A cross-site record was sealed for "<kind>:<key>", the others for their key: the
    // same tag as before this module existed.
    let old = ring(B, &[]);
    let cross = old.seal_legacy(RecordKind::CrossSite("sso"), b"k", BODY);
    let plain = old.seal_legacy(RecordKind::Provisioning, b"sso:k", BODY);
    assert_eq!(cross, plain);
}

#[test]
fn keys_differ_per_secret_and_are_stable() {
    assert_eq!(ring(A, &[]).key_id(), ring(A, &[B]).key_id());
    assert_ne!(ring(A, &[]).key_id(), ring(B, &[]).key_id());
    assert_eq!(format!("{:?}", ring(A, &[])), "Seal([redacted])");
}
