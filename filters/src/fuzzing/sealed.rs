//! The record opener under fuzzing: the `s` mode of [`super::stored`], a ring of two
//! keys, every kind, both layouts.

use crate::secret::SessionId;
use crate::store::seal::{RecordKind, Seal};

/// The ring the `s` mode of [`stored`] opens with (current, previous), and the seal of
/// the previous secret alone (what a replica still on the old secret writes).
pub(super) fn fuzz_ring() -> (Seal, Seal) {
    let current = sso_config::Secret::new("fuzz-cookie-secret-0123456789abcdef");
    let previous = sso_config::Secret::new("fuzz-previous-secret-0123456789abcdef");
    (
        Seal::from_ring(&current, std::slice::from_ref(&previous)),
        Seal::from_secret(&previous),
    )
}

pub(super) fn fuzz_handle() -> String {
    crate::secret::Sid::of(&SessionId::from_bytes([7; 32])).encode()
}

/// The `s` mode of [`stored`]: the record opener, on untrusted bytes. True when the
/// bytes opened as some kind.
pub fn sealed_record(bytes: &[u8]) -> bool {
    let (ring, _) = fuzz_ring();
    let handle = fuzz_handle();
    let kinds = [
        RecordKind::Session,
        RecordKind::PendingLogin,
        RecordKind::Provisioning,
        RecordKind::CrossSite("sso"),
    ];
    let mut any = false;
    for kind in kinds {
        let Ok(opened) = ring.open(kind, handle.as_bytes(), bytes) else {
            continue;
        };
        any = true;
        assert!(
            opened.body.len() <= crate::store::seal::MAX_BODY,
            "an oversized body opened"
        );
        assert!(
            ring.open(kind, b"another handle", bytes).is_err(),
            "opened under another handle"
        );
        for other in kinds.iter().filter(|k| **k != kind) {
            // The earlier layout bound no kind but a cross-site record's prefix.
            if bytes.first() == Some(&crate::store::seal::FORMAT) {
                assert!(
                    ring.open(*other, handle.as_bytes(), bytes).is_err(),
                    "opened as another kind"
                );
            }
        }
        if kind == RecordKind::Session {
            // What opens as a session goes on to the record decoder, as Redis's bytes do.
            let _ = crate::store::record::decode(&opened.body, None);
        }
        let again = match ring.seal(kind, handle.as_bytes(), &opened.body) {
            Ok(again) => again,
            Err(e) => panic!("an opened body does not seal again: {e}"),
        };
        let reopened = ring.open(kind, handle.as_bytes(), &again).map(|o| (o.body, o.stale));
        assert_eq!(
            reopened.ok(),
            Some((opened.body, false)),
            "sealed anew, it opens as current"
        );
    }
    any
}
