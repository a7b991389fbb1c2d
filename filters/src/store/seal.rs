//! Records at rest: every value the gateway keeps in a store it shares (sessions,
//! pending logins, cross-site sign-on records, SSO data, the provisioning cache) is
//! encrypted and authenticated with XChaCha20-Poly1305 under a key derived from the
//! cookie key ring (`sessions.cookie_secret`, then `sessions.previous_cookie_secrets`).
//!
//! Layout: `[FORMAT][key id: 4][nonce: 24][ciphertext + tag: 16]`. The nonce is random
//! per write (24 bytes: no counter to keep between replicas). The key id is a
//! fingerprint of the key (HKDF of the secret, not the key itself), so opening picks
//! the key without trying every one. The associated data is the layout's header, the
//! record's kind and its handle (what it is stored under): a record copied under
//! another handle, or read as another kind, does not open.
//!
//! Whoever reads Redis, a backup or a snapshot sees no token, e-mail or customer id;
//! whoever can write Redis but holds no secret of the ring can make nothing open.
//!
//! Records written before encryption (the "v3 layout": body then an HMAC-SHA256 tag
//! over the handle and body, keyed from the cookie secret) are still read, under
//! every secret of the ring, and are written back encrypted on their next write.

use super::StoreError;
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{AeadCore, KeyInit, XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use sso_config::{Secret, SessionsConfig};
use std::sync::Arc;

/// First byte of an encrypted record. No earlier layout starts with it (their
/// bodies start with a version byte below 16, or `{`); a record that starts with it
/// but does not open is still tried as the earlier layout.
pub const FORMAT: u8 = 0xE4;
/// Bytes of a key id.
pub const KEY_ID_LEN: usize = 4;
const NONCE_LEN: usize = 24;
const AEAD_TAG_LEN: usize = 16;
const HEADER_LEN: usize = 1 + KEY_ID_LEN;
/// Bytes an encrypted record adds to its body.
pub const OVERHEAD: usize = HEADER_LEN + NONCE_LEN + AEAD_TAG_LEN;
/// Longest body sealed or opened (a session is a few hundred bytes).
pub const MAX_BODY: usize = 16 * 1024;
/// Length of the tag of the earlier (HMAC) layout.
const LEGACY_TAG_LEN: usize = 32;

/// What a stored value is, bound into its associated data with its handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind<'a> {
    /// A session record, under its public handle ([`crate::secret::Sid`]).
    Session,
    /// A pending login, under the hash of its `state`.
    PendingLogin,
    /// A cached provisioning hook answer, under its cache key.
    Provisioning,
    /// A cross-site sign-on record of this kind (`sso`, `sso-ott`, `sso-data`, ...).
    CrossSite(&'a str),
}

impl RecordKind<'_> {
    fn name(&self) -> &str {
        match self {
            RecordKind::Session => "session",
            RecordKind::PendingLogin => "pending",
            RecordKind::Provisioning => "provisioning",
            RecordKind::CrossSite(kind) => kind,
        }
    }

    /// What the earlier layout's HMAC covered besides the body: the handle, prefixed
    /// with `<kind>:` for cross-site records.
    fn legacy_context(&self, handle: &[u8]) -> Vec<u8> {
        match self {
            RecordKind::CrossSite(kind) => [kind.as_bytes(), b":", handle].concat(),
            _ => handle.to_vec(),
        }
    }
}

/// A record opened: its body, and whether it was made with a previous secret or in
/// the earlier layout (the next write makes it again with the current key).
#[derive(Debug)]
pub struct Opened {
    pub body: Vec<u8>,
    pub stale: bool,
}

struct RecordKey {
    id: [u8; KEY_ID_LEN],
    aead: XChaCha20Poly1305,
    /// The earlier layout's HMAC key from the same secret.
    legacy: [u8; 32],
}

/// Seals and opens stored records with the keys of the cookie key ring; the first
/// (the current secret's) seals, every one opens.
#[derive(Clone)]
pub struct Seal {
    keys: Arc<[RecordKey]>,
}

impl std::fmt::Debug for Seal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Seal([redacted])")
    }
}

fn hmac(key: &[u8]) -> Hmac<Sha256> {
    match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts any key length"),
    }
}

impl RecordKey {
    fn from_secret(secret: &Secret) -> Self {
        let hk = hkdf::Hkdf::<Sha256>::new(Some(&b"sso-gateway records"[..]), secret.expose().as_bytes());
        let mut key = [0u8; 32];
        let mut id = [0u8; KEY_ID_LEN];
        // Both lengths are far below HKDF-SHA256's limit (255 * 32 bytes).
        let (Ok(()), Ok(())) = (
            hk.expand(b"sso-gateway record key v4", &mut key),
            hk.expand(b"sso-gateway record key id v4", &mut id),
        ) else {
            unreachable!("HKDF-SHA256 gives up to 8160 bytes")
        };
        let mut mac = hmac(secret.expose().as_bytes());
        mac.update(b"sso-gateway store record key v1");
        RecordKey {
            id,
            aead: XChaCha20Poly1305::new(&key.into()),
            legacy: mac.finalize().into_bytes().into(),
        }
    }

    fn legacy_tag(&self, context: &[u8], body: &[u8]) -> Hmac<Sha256> {
        let mut mac = hmac(&self.legacy);
        mac.update(&(context.len() as u64).to_be_bytes());
        mac.update(context);
        mac.update(body);
        mac
    }
}

/// The associated data: the layout header, then the kind and the handle, each with
/// its length.
fn associated_data(header: &[u8], kind: RecordKind<'_>, handle: &[u8]) -> Vec<u8> {
    let kind = kind.name().as_bytes();
    let mut ad = Vec::with_capacity(header.len() + 16 + kind.len() + handle.len());
    ad.extend_from_slice(header);
    ad.extend_from_slice(&(kind.len() as u64).to_be_bytes());
    ad.extend_from_slice(kind);
    ad.extend_from_slice(&(handle.len() as u64).to_be_bytes());
    ad.extend_from_slice(handle);
    ad
}

impl Seal {
    /// A ring of one secret.
    pub fn from_secret(secret: &Secret) -> Self {
        Self::from_ring(secret, &[])
    }

    /// The ring `current` then `previous` (newest first).
    pub fn from_ring(current: &Secret, previous: &[Secret]) -> Self {
        let keys: Vec<RecordKey> = std::iter::once(current)
            .chain(previous)
            .map(RecordKey::from_secret)
            .collect();
        Seal { keys: keys.into() }
    }

    /// The ring of `[sessions]`.
    pub fn from_config(sessions: &SessionsConfig) -> Self {
        Self::from_ring(&sessions.cookie_secret, &sessions.previous_cookie_secrets)
    }

    /// The current key's id (what new records carry).
    pub fn key_id(&self) -> [u8; KEY_ID_LEN] {
        self.keys.first().map_or([0; KEY_ID_LEN], |k| k.id)
    }

    /// `body` encrypted with the current key for (`kind`, `handle`).
    pub fn seal(&self, kind: RecordKind<'_>, handle: &[u8], body: &[u8]) -> Result<Vec<u8>, StoreError> {
        let Some(key) = self.keys.first() else {
            return Err(StoreError::Corrupt("no record key".into()));
        };
        if body.len() > MAX_BODY {
            return Err(StoreError::Corrupt(format!(
                "record of {} bytes is too long",
                body.len()
            )));
        }
        let nonce = XChaCha20Poly1305::generate_nonce(&mut rand::rngs::OsRng);
        let mut out = Vec::with_capacity(OVERHEAD + body.len());
        out.push(FORMAT);
        out.extend_from_slice(&key.id);
        let aad = associated_data(&out, kind, handle);
        let sealed = key
            .aead
            .encrypt(&nonce, Payload { msg: body, aad: &aad })
            .map_err(|_| StoreError::Corrupt("record does not encrypt".into()))?;
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// The body of a record sealed for (`kind`, `handle`) by a key of the ring, or
    /// `Corrupt`: forged, moved, damaged, or made with a secret no longer in the ring.
    /// The length is checked before any cryptography.
    pub fn open(&self, kind: RecordKind<'_>, handle: &[u8], sealed: &[u8]) -> Result<Opened, StoreError> {
        if sealed.len() > MAX_BODY + OVERHEAD.max(LEGACY_TAG_LEN) {
            return Err(StoreError::Corrupt("record too long".into()));
        }
        let mut unknown_key = false;
        if let (Some(&FORMAT), Some(id), Some(nonce), Some(ciphertext)) = (
            sealed.first(),
            sealed.get(1..HEADER_LEN),
            sealed.get(HEADER_LEN..HEADER_LEN + NONCE_LEN),
            sealed.get(HEADER_LEN + NONCE_LEN..),
        ) {
            let aad = associated_data(&sealed[..HEADER_LEN], kind, handle);
            let nonce = XNonce::from_slice(nonce);
            unknown_key = true;
            for (i, key) in self.keys.iter().enumerate().filter(|(_, k)| k.id[..] == *id) {
                unknown_key = false;
                if let Ok(body) = key.aead.decrypt(
                    nonce,
                    Payload {
                        msg: ciphertext,
                        aad: &aad,
                    },
                ) {
                    return Ok(Opened { body, stale: i > 0 });
                }
            }
        }
        if let Some(body) = self.open_legacy(kind, handle, sealed) {
            return Ok(Opened { body, stale: true });
        }
        Err(StoreError::Corrupt(
            if unknown_key {
                "record made with a key not in the cookie key ring"
            } else {
                "record does not open (forged, moved or damaged)"
            }
            .into(),
        ))
    }

    /// A record of the earlier layout (body, HMAC tag) under any key of the ring.
    fn open_legacy(&self, kind: RecordKind<'_>, handle: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        let split = sealed.len().checked_sub(LEGACY_TAG_LEN)?;
        let (body, tag) = sealed.split_at(split);
        let context = kind.legacy_context(handle);
        self.keys
            .iter()
            .any(|k| k.legacy_tag(&context, body).verify_slice(tag).is_ok())
            .then(|| body.to_vec())
    }

    /// A record in the earlier layout, as the gateway wrote it before encryption: for
    /// the tests of reading old records.
    #[cfg(any(test, feature = "fuzzing", feature = "test-support"))]
    pub fn seal_legacy(&self, kind: RecordKind<'_>, handle: &[u8], body: &[u8]) -> Vec<u8> {
        let Some(key) = self.keys.first() else {
            return Vec::new();
        };
        let tag = key
            .legacy_tag(&kind.legacy_context(handle), body)
            .finalize()
            .into_bytes();
        [body, &tag[..]].concat()
    }
}

#[cfg(test)]
#[path = "seal_tests.rs"]
mod tests;
