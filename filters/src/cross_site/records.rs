//! What cross-site sign-on keeps in the shared store, as encrypted `postcard` records
//! ([`Seal`]; version byte first; a record of another version or that does not open
//! is absent):
//!
//! - the **SSO session** (`sso-session:<handle>`): who signed in, how, and where;
//! - a **one-time token grant** (`sso-ott:<hash>`, single use): for which site,
//!   which SSO session, and the state the site's browser holds;
//! - an **adopt grant** (`sso-adopt:<hash>`, single use): the SSO cookie the auth
//!   host sets after a sign-in on a site, for the browser holding one binding;
//! - a **pending adoption** (`sso-pending:<handle>`, single use): the SSO cookie of an
//!   SSO session a sign-in just started, until the browser comes back from the binding round.

use crate::identity::Customer;
use crate::sessions::{LoginMethod, LoginSource};
use crate::store::seal::{RecordKind, Seal};
use crate::store::StoreError;
use serde::{de::DeserializeOwned, Deserialize, Serialize};

const VERSION: u8 = 1;

/// The browser's SSO session, kept by the auth host's store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoSession {
    pub customer_id: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub groups: Vec<String>,
    /// How the shopper signed in ([`LoginMethod`] as stored).
    pub method: u8,
    /// The IdP's issuer, for an IdP sign-in.
    pub issuer: Option<String>,
    /// The IdP subject, or the customer id a customer-login JWT named.
    pub subject: String,
    /// The IdP's session (`sid`), for back-channel logout.
    pub idp_session: Option<String>,
    /// The site the shopper signed in on.
    pub origin_site: String,
    pub created_at: u64,
    pub expires_at: u64,
}

impl SsoSession {
    pub fn customer(&self) -> Customer {
        Customer {
            id: self.customer_id.clone(),
            email: self.email.clone(),
            name: self.name.clone(),
            groups: self.groups.clone(),
        }
        .sanitized()
    }

    /// The login source of a session another site creates from this SSO session.
    pub fn login_source(&self) -> LoginSource {
        LoginSource {
            method: LoginMethod::Ott,
            idp: None,
            subject: self.subject.clone(),
            issuer: self.issuer.clone(),
            idp_session: self.idp_session.clone(),
            namespace: String::new(),
            // The shopper authenticated when the SSO session started.
            auth_time: self.created_at,
            acr: None,
            amr: Vec::new(),
            email_verified: false,
            claims: Vec::new(),
        }
    }

    /// True when both came from the same shopper's sign-in: the same IdP and subject
    /// (or, for a customer-login JWT, the same site and customer id).
    pub fn same_shopper(&self, other: &SsoSession) -> bool {
        self.issuer == other.issuer
            && self.subject == other.subject
            && (self.issuer.is_some() || self.origin_site == other.origin_site)
    }

    /// The method the shopper first signed in with.
    pub fn first_method(&self) -> &'static str {
        LoginMethod::from_u8(self.method).map_or("unknown", LoginMethod::as_str)
    }
}

/// Where an SSO session's sign-in came from, kept beside its record
/// (`sso-source:<handle>`): the customer namespace of its id as it was at the sign-in
/// (a reload or another replica's configuration cannot change what the id means),
/// and the site session that holds the IdP grant (refresh token) it follows, if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoSource {
    pub namespace: String,
    /// The site and the handle (`Sid`, encoded) of the session holding the grant.
    pub holder: Option<(String, String)>,
    /// The `acr` and `amr` the IdP stated at the sign-in.
    pub acr: Option<String>,
    pub amr: Vec<String>,
    /// When the shopper authenticated at that sign-in (Unix seconds; 0: unknown, the
    /// SSO session's start stands in), whether its email was verified, and the claims
    /// it kept for route policies: a session made from a one-time token has them too.
    pub auth_time: u64,
    pub email_verified: bool,
    pub claims: Vec<(String, Vec<String>)>,
}

/// [`SsoSource`] as written before the sign-in's time, verified email and claims
/// were kept (read back during an upgrade).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoSourceV1 {
    pub namespace: String,
    pub holder: Option<(String, String)>,
    pub acr: Option<String>,
    pub amr: Vec<String>,
}

impl From<SsoSourceV1> for SsoSource {
    fn from(v1: SsoSourceV1) -> Self {
        SsoSource {
            namespace: v1.namespace,
            holder: v1.holder,
            acr: v1.acr,
            amr: v1.amr,
            auth_time: 0,
            email_verified: false,
            claims: Vec::new(),
        }
    }
}

/// What a one-time token grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OttGrant {
    /// The one site that may redeem it.
    pub site: String,
    /// The SSO session it links to.
    pub handle: String,
    /// The `state` of the link round: the redeeming browser must hold it in its cookie.
    pub state: String,
}

/// What an adopt token grants: the auth host sets `secret` as its cookie.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdoptGrant {
    /// The SSO cookie value (encoded [`super::tokens::SsoSessionId`]).
    pub secret: String,
    /// Hash of the browser binding the adopting browser must hold.
    pub binding: String,
    /// The site the shopper signed in on, and where on it they go next.
    pub site: String,
    pub return_to: String,
}

/// Encrypts `value` for the store under (`kind`, `key`).
pub fn seal<T: Serialize>(seal: &Seal, kind: &str, key: &str, value: &T) -> Result<Vec<u8>, StoreError> {
    let body = postcard::to_extend(value, vec![VERSION]).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    seal.seal(RecordKind::CrossSite(kind), key.as_bytes(), &body)
}

/// A sealed record read back, or `Corrupt` (forged, moved, damaged, another version,
/// or made with a secret no longer in the key ring).
pub fn open<T: DeserializeOwned>(seal: &Seal, kind: &str, key: &str, sealed: &[u8]) -> Result<T, StoreError> {
    let opened = seal.open(RecordKind::CrossSite(kind), key.as_bytes(), sealed)?;
    match opened.body.split_first() {
        Some((&VERSION, rest)) => postcard::from_bytes(rest).map_err(|e| StoreError::Corrupt(e.to_string())),
        Some((v, _)) => Err(StoreError::Corrupt(format!("record version {v}"))),
        None => Err(StoreError::Corrupt("empty record".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sso_config::Secret;

    #[test]
    fn the_same_shopper_is_the_same_idp_and_subject() {
        let s = |issuer: Option<&str>, subject: &str, site: &str| SsoSession {
            customer_id: subject.into(),
            email: None,
            name: None,
            groups: vec![],
            method: 0,
            issuer: issuer.map(str::to_string),
            subject: subject.into(),
            idp_session: None,
            origin_site: site.into(),
            created_at: 0,
            expires_at: 0,
        };
        let idp = Some("https://idp.example");
        assert!(
            s(idp, "ann", "a").same_shopper(&s(idp, "ann", "b")),
            "one IdP account, any site"
        );
        assert!(!s(idp, "ann", "a").same_shopper(&s(idp, "bob", "a")));
        assert!(!s(idp, "ann", "a").same_shopper(&s(Some("https://other.example"), "ann", "a")));
        assert!(
            s(None, "42", "a").same_shopper(&s(None, "42", "a")),
            "one merchant customer"
        );
        assert!(
            !s(None, "42", "a").same_shopper(&s(None, "42", "b")),
            "another merchant's 42"
        );
        assert!(!s(None, "ann", "a").same_shopper(&s(idp, "ann", "a")));
    }

    #[test]
    fn records_open_only_under_their_own_key_and_seal() {
        let s = Seal::from_secret(&Secret::new("0123456789abcdef0123456789abcdef"));
        let grant = OttGrant {
            site: "shop-b".into(),
            handle: "h".into(),
            state: "x".into(),
        };
        let sealed = seal(&s, "sso-ott", "k1", &grant).expect("seals");
        assert_eq!(open::<OttGrant>(&s, "sso-ott", "k1", &sealed).expect("opens"), grant);
        assert!(open::<OttGrant>(&s, "sso-ott", "k2", &sealed).is_err(), "moved");
        assert!(
            open::<OttGrant>(&s, "sso-adopt", "k1", &sealed).is_err(),
            "another kind"
        );
        let other = Seal::from_secret(&Secret::new("another-secret-0123456789abcdef!!"));
        assert!(open::<OttGrant>(&other, "sso-ott", "k1", &sealed).is_err(), "other key");
        assert!(
            open::<AdoptGrant>(&s, "sso-ott", "k1", &sealed).is_err(),
            "another type"
        );
        let mut flipped = sealed.clone();
        flipped[1] ^= 1;
        assert!(open::<OttGrant>(&s, "sso-ott", "k1", &flipped).is_err());
        assert!(open::<OttGrant>(&s, "sso-ott", "k1", &[]).is_err());
    }
}
