//! A session as stored in a shared store: a versioned, compact binary record
//! (`postcard`), one version byte first. A record of another version, or one that does
//! not decode, is [`StoreError::Corrupt`]: the shopper is anonymous, nobody gets it.
//!
//! In a shared store the record is encrypted ([`Seal`], XChaCha20-Poly1305 under a
//! key from the cookie key ring, the session's handle as associated data). Whoever
//! reads Redis learns no token, e-mail or customer id; whoever can write to it but
//! holds no secret of the ring cannot mint a session, change one's customer, or move
//! one record under another handle.
//!
//! Kept: site, customer, the ID token when logout needs it, the refresh token and when
//! it is due, created and expiry times. Not kept (per process only): the minted
//! `X-Customer-Token`, the refresh in-flight flag, the last-seen second.

use super::seal::RecordKind;
pub use super::seal::Seal;
use super::StoreError;
use crate::identity::Customer;
use crate::secret::Sid;
use crate::sessions::{now_secs, LoginMethod, LoginSource, RefreshState, SessionData};
use serde::{Deserialize, Serialize};
use sso_config::Secret;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// Version of the record layout; bump it when the layout changes. Versions 1 (before
/// the login source and access token were kept), 2 (before the IdP session and the
/// cross-site link), 3 (before the customer namespace) and 4 (before the verified
/// email flag and the required claims) are still read.
const VERSION: u8 = 5;
/// Longest record accepted back (a session is a few hundred bytes).
pub const MAX_RECORD: usize = 16 * 1024;

/// A session record encrypted for its handle ([`Seal`]).
pub fn seal(seal: &Seal, sid: &Sid, data: &SessionData) -> Result<Vec<u8>, StoreError> {
    seal.seal(RecordKind::Session, sid.encode().as_bytes(), &encode(data)?)
}

/// The session stored for `sid`, and whether it is to be written again with the
/// current key (a previous secret's, or the earlier HMAC layout); or `Corrupt`
/// (forged, moved, damaged, or made with a secret no longer in the key ring).
pub fn open(seal: &Seal, sid: &Sid, sealed: &[u8]) -> Result<(SessionData, bool), StoreError> {
    let opened = seal.open(RecordKind::Session, sid.encode().as_bytes(), sealed)?;
    Ok((decode(&opened.body, None)?, opened.stale))
}

#[derive(Serialize, Deserialize)]
struct SessionRecord {
    site: String,
    id: String,
    email: Option<String>,
    name: Option<String>,
    groups: Vec<String>,
    id_token: Option<String>,
    refresh_token: Option<String>,
    refresh_due: u64,
    revalidate_secs: u64,
    created_at: u64,
    expires_at: u64,
}

/// Version 2: version 1 and how the shopper signed in, and the IdP access token when
/// the site forwards it.
#[derive(Serialize, Deserialize)]
struct SessionRecordV2 {
    v1: SessionRecord,
    method: u8,
    idp: Option<String>,
    subject: String,
    issuer: Option<String>,
    access_token: Option<String>,
    access_expires: u64,
}

/// Version 3: version 2, the IdP's session id (`sid`) and the cross-site SSO session
/// the session is linked to.
#[derive(Serialize, Deserialize)]
struct SessionRecordV3 {
    v2: SessionRecordV2,
    idp_session: Option<String>,
    sso: Option<String>,
}

/// Version 4: version 3 and the customer namespace of the customer id.
#[derive(Serialize, Deserialize)]
struct SessionRecordV4 {
    v3: SessionRecordV3,
    namespace: String,
    auth_time: u64,
    acr: Option<String>,
    amr: Vec<String>,
}

/// Version 5: version 4 and whether the email was verified, and the claims kept for
/// route policies.
#[derive(Serialize, Deserialize)]
struct SessionRecordV5 {
    v4: SessionRecordV4,
    email_verified: bool,
    claims: Vec<(String, Vec<String>)>,
}

/// The stored form of a session.
pub fn encode(data: &SessionData) -> Result<Vec<u8>, StoreError> {
    let c = &data.customer;
    let v1 = SessionRecord {
        site: data.site.to_string(),
        id: c.id.clone(),
        email: c.email.clone(),
        name: c.name.clone(),
        groups: c.groups.clone(),
        id_token: data.id_token.clone(),
        refresh_token: data.refresh.token().map(|t| t.expose().to_string()),
        refresh_due: data.refresh.due_at(),
        revalidate_secs: data.refresh.revalidate_secs(),
        created_at: data.created_at,
        expires_at: data.expires_at,
    };
    let access = data.refresh.access();
    let v2 = SessionRecordV2 {
        v1,
        method: data.login.method.as_u8(),
        idp: data.login.idp.clone(),
        subject: data.login.subject.clone(),
        issuer: data.login.issuer.clone(),
        access_expires: access.as_ref().map_or(0, |a| a.1),
        access_token: access.map(|a| a.0.expose().to_string()),
    };
    let v3 = SessionRecordV3 {
        v2,
        idp_session: data.login.idp_session.clone(),
        sso: data.sso.clone(),
    };
    let record = SessionRecordV5 {
        v4: SessionRecordV4 {
            v3,
            namespace: data.login.namespace.clone(),
            auth_time: data.login.auth_time,
            acr: data.login.acr.clone(),
            amr: data.login.amr.clone(),
        },
        email_verified: data.login.email_verified,
        claims: data.login.claims.clone(),
    };
    postcard::to_extend(&record, vec![VERSION]).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A stored session read back. `site` is the shared name to use when it matches the
/// record's (no copy per session).
pub fn decode(bytes: &[u8], site: Option<&Arc<str>>) -> Result<SessionData, StoreError> {
    let (version, body) = bytes
        .split_first()
        .ok_or_else(|| StoreError::Corrupt("empty record".into()))?;
    if bytes.len() > MAX_RECORD {
        return Err(StoreError::Corrupt("record too long".into()));
    }
    let corrupt = |e: postcard::Error| StoreError::Corrupt(e.to_string());
    let v2 = |r: SessionRecordV2, idp_session: Option<String>, namespace: String| {
        let method =
            LoginMethod::from_u8(r.method).ok_or_else(|| StoreError::Corrupt(format!("login method {}", r.method)))?;
        let login = LoginSource {
            method,
            idp: r.idp,
            subject: r.subject,
            issuer: r.issuer,
            idp_session,
            namespace,
            auth_time: 0,
            acr: None,
            amr: Vec::new(),
            email_verified: false,
            claims: Vec::new(),
        };
        let access = r.access_token.map(|t| (Secret::new(t), r.access_expires));
        Ok::<_, StoreError>((r.v1, login, access))
    };
    let v4 = |r: SessionRecordV4| {
        let (v1, login, access) = v2(r.v3.v2, r.v3.idp_session, r.namespace)?;
        let login = LoginSource {
            auth_time: r.auth_time,
            acr: r.acr,
            amr: r.amr,
            ..login
        };
        Ok::<_, StoreError>((v1, login, access, r.v3.sso))
    };
    let (r, login, access, sso) = match version {
        1 => {
            let r: SessionRecord = postcard::from_bytes(body).map_err(corrupt)?;
            let login = LoginSource::oidc(r.id.clone());
            (r, login, None, None)
        }
        2 => {
            let (r, login, access) = v2(postcard::from_bytes(body).map_err(corrupt)?, None, String::new())?;
            (r, login, access, None)
        }
        3 => {
            let r: SessionRecordV3 = postcard::from_bytes(body).map_err(corrupt)?;
            let (v1, login, access) = v2(r.v2, r.idp_session, String::new())?;
            (v1, login, access, r.sso)
        }
        4 => {
            let r: SessionRecordV4 = postcard::from_bytes(body).map_err(corrupt)?;
            v4(r)?
        }
        5 => {
            let r: SessionRecordV5 = postcard::from_bytes(body).map_err(corrupt)?;
            let (v1, login, access, sso) = v4(r.v4)?;
            let login = LoginSource {
                email_verified: r.email_verified,
                claims: r.claims,
                ..login
            };
            (v1, login, access, sso)
        }
        other => return Err(StoreError::Corrupt(format!("record version {other}"))),
    };
    let refresh = RefreshState::from_stored(r.refresh_token.map(Secret::new), r.refresh_due, r.revalidate_secs);
    refresh.set_access(access);
    let site = match site {
        Some(s) if **s == *r.site => s.clone(),
        _ => r.site.into(),
    };
    Ok(SessionData {
        site,
        // Cleaned again: a record is input like any other.
        customer: Customer {
            id: r.id,
            email: r.email,
            name: r.name,
            groups: r.groups,
        }
        .sanitized(),
        id_token: r.id_token,
        refresh,
        created_at: r.created_at,
        expires_at: r.expires_at,
        last_seen: AtomicU64::new(now_secs()),
        token_cache: arc_swap::ArcSwapOption::empty(),
        login,
        sso,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn session() -> SessionData {
        SessionData::new(
            "shop".into(),
            Customer {
                id: "c-1".into(),
                email: Some("a@example.com".into()),
                name: Some("Ann".into()),
                groups: vec!["vip".into()],
            },
            None,
            RefreshState::new(Some(Secret::new("rt-1")), Some(300), Duration::from_secs(60)),
            3600,
        )
    }

    #[test]
    fn a_record_reads_back_as_it_was_written() {
        let data = session();
        let bytes = encode(&data).expect("encodes");
        assert!(bytes.len() < 128, "compact: {} bytes", bytes.len());
        let site: Arc<str> = "shop".into();
        let back = decode(&bytes, Some(&site)).expect("decodes");
        assert!(Arc::ptr_eq(&back.site, &site), "the site name is shared, not copied");
        assert_eq!(back.customer, data.customer);
        assert_eq!(
            back.refresh.token().map(|t| t.expose().to_string()).as_deref(),
            Some("rt-1")
        );
        assert_eq!(back.refresh.due_at(), data.refresh.due_at());
        assert_eq!((back.created_at, back.expires_at), (data.created_at, data.expires_at));
        assert_eq!(back.login, data.login);
    }

    #[test]
    fn the_login_source_and_access_token_are_kept() {
        let data = session()
            .with_login(LoginSource {
                method: LoginMethod::CustomerLogin,
                idp: Some("acme".into()),
                subject: "sub-9".into(),
                issuer: Some("https://login.acme.example".into()),
                idp_session: Some("idp-sid-1".into()),
                namespace: "oidc:https://login.acme.example".into(),
                auth_time: 1_700_000_000,
                acr: Some("mfa".into()),
                amr: vec!["pwd".into(), "otp".into()],
                email_verified: true,
                claims: vec![("department".into(), vec!["sales".into(), "ops".into()])],
            })
            .linked_to(Some("sso-handle".into()));
        data.refresh.set_access(Some((Secret::new("at-1"), 1234)));
        let back = decode(&encode(&data).expect("encodes"), None).expect("decodes");
        assert_eq!(back.login, data.login);
        assert_eq!(back.sso.as_deref(), Some("sso-handle"));
        let (token, exp) = back.refresh.access().expect("kept");
        assert_eq!((token.expose(), exp), ("at-1", 1234));
    }

    #[test]
    fn a_version_1_record_still_reads() {
        let data = session();
        let v1 = SessionRecord {
            site: "shop".into(),
            id: data.customer.id.clone(),
            email: data.customer.email.clone(),
            name: None,
            groups: vec![],
            id_token: None,
            refresh_token: None,
            refresh_due: 0,
            revalidate_secs: 60,
            created_at: 1,
            expires_at: 2,
        };
        let bytes = postcard::to_extend(&v1, vec![1u8]).expect("encodes");
        let back = decode(&bytes, None).expect("decodes");
        assert_eq!(back.customer.id, "c-1");
        assert_eq!(back.login, LoginSource::oidc("c-1"));
        assert!(back.refresh.access().is_none());
    }

    #[test]
    fn a_version_3_record_still_reads_with_no_namespace() {
        let data = session().with_login(LoginSource::oidc("c-1").in_namespace("oidc:https://idp.example"));
        let mut bytes = encode(&data).expect("encodes");
        // Version 4 adds the namespace (a length byte and the text), then `auth_time`
        // (0), `acr` (None) and `amr` (empty): one byte each.
        let namespace_len = "oidc:https://idp.example".len();
        bytes.truncate(bytes.len() - namespace_len - 1 - 3);
        bytes[0] = 3;
        let back = decode(&bytes, None).expect("decodes");
        assert_eq!(back.login.namespace, "");
        assert_eq!(back.login.subject, "c-1");
    }

    #[test]
    fn a_version_2_record_still_reads() {
        let data = session();
        let mut bytes = encode(&data).expect("encodes");
        // A version 4 record without its namespace (empty: one length byte), its
        // `auth_time`, `acr` and `amr`, and the two optional fields of version 3 is a
        // version 2 body.
        for field in ["amr: empty", "acr: None", "auth_time: 0", "namespace: empty"] {
            assert_eq!(bytes.pop(), Some(0), "{field}");
        }
        assert_eq!(bytes.pop(), Some(0), "sso: None");
        assert_eq!(bytes.pop(), Some(0), "idp_session: None");
        bytes[0] = 2;
        let back = decode(&bytes, None).expect("decodes");
        assert_eq!(back.login, data.login);
        assert!(back.sso.is_none());
    }

    #[test]
    fn a_sealed_session_opens_only_for_its_handle_and_key() {
        let seal = Seal::from_secret(&Secret::new("0123456789abcdef0123456789abcdef"));
        let sid = Sid::of(&crate::secret::SessionId::random());
        let data = session();
        let sealed = super::seal(&seal, &sid, &data).expect("seals");
        let (back, stale) = open(&seal, &sid, &sealed).expect("opens");
        assert_eq!((back.customer, stale), (data.customer.clone(), false));
        let other = Sid::of(&crate::secret::SessionId::random());
        assert!(open(&seal, &other, &sealed).is_err(), "moved under another handle");
        let stranger = Seal::from_secret(&Secret::new("another-secret-0123456789abcdef!!"));
        assert!(open(&stranger, &sid, &sealed).is_err(), "sealed with another key");
        // A session sealed before encryption (the HMAC layout) still opens.
        let legacy = seal.seal_legacy(
            RecordKind::Session,
            sid.encode().as_bytes(),
            &encode(&data).expect("encodes"),
        );
        let (back, stale) = open(&seal, &sid, &legacy).expect("opens");
        assert_eq!(
            (back.customer, stale),
            (data.customer.clone(), true),
            "to be written again"
        );
        assert!(open(&seal, &other, &legacy).is_err());
    }

    #[test]
    fn damaged_or_foreign_records_are_refused() {
        let bytes = encode(&session()).expect("encodes");
        assert!(decode(&[], None).is_err());
        let mut other = bytes.clone();
        other[0] = 6;
        assert!(matches!(decode(&other, None), Err(StoreError::Corrupt(_))));
        for cut in 1..bytes.len() {
            assert!(decode(&bytes[..cut], None).is_err(), "truncated at {cut}");
        }
        assert!(decode(&vec![1u8; MAX_RECORD + 1], None).is_err());
    }
}
