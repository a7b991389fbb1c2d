//! Login flows waiting for their callback, keyed by `state`, in the process's
//! [`SingleUse`] store: memory, or Redis so that a login started on one replica can
//! finish on another. Each is taken exactly once (one atomic `take`, whichever replica
//! asks first) and expires after [`PENDING_TTL`].
//!
//! The store never holds the state itself, only SHA-256 of the site and the state: a
//! state cannot be replayed at another site's callback. In memory, the entries of
//! every site share one bound (`sessions.max_pending_logins`; the least recently
//! started go first, the newest is always admitted); in Redis each expires on its own.

use crate::sessions::now_secs;
use crate::store::seal::{RecordKind, Seal};
use crate::store::{SingleUse, StoreError};
use openidconnect::{Nonce, PkceCodeVerifier};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

/// How long a started login may take.
pub const PENDING_TTL: Duration = Duration::from_secs(600);
/// Longest `return_to` kept in a pending login.
pub const MAX_RETURN_TO: usize = 2048;
/// Longest stored pending login accepted back.
const MAX_STORED: usize = 8 * 1024;
/// The [`SingleUse`] kind of pending logins.
const KIND: &str = "login";

/// A started login. Created at `/_sso/login`, consumed at the callback.
#[derive(Debug)]
pub struct PendingLogin {
    pub nonce: Nonce,
    pub pkce_verifier: PkceCodeVerifier,
    pub return_to: String,
    /// SHA-256 of the per-flow cookie value that binds this flow to the browser.
    pub binding_hash: [u8; 32],
    pub created_at: u64,
    /// The `[[sites.idps]]` name the login was started for (`None`: the site's single
    /// `[sites.oidc]`). Only that IdP's callback may finish it (mix-up defence).
    pub idp: Option<String>,
    /// What a step-up login asked the IdP, and whom it must sign in again.
    pub step_up: Option<super::step_up::StepUpAsk>,
}

/// A pending login as stored (version 1, `postcard`).
#[derive(Serialize, Deserialize)]
struct Stored {
    nonce: String,
    verifier: String,
    return_to: String,
    binding_hash: [u8; 32],
    created_at: u64,
}

/// Version 2: version 1 and the IdP name. Written only for a named IdP, so a replica
/// still on version 1 finishes every login of a single-IdP site during an upgrade.
#[derive(Serialize, Deserialize)]
struct StoredV2 {
    v1: Stored,
    idp: String,
}

/// Version 3: a step-up login (written only for one, so a replica on an earlier
/// version finishes every other login during an upgrade).
#[derive(Serialize, Deserialize)]
struct StoredV3 {
    v1: Stored,
    idp: Option<String>,
    step_up: super::step_up::StepUpAsk,
}

impl PendingLogin {
    pub fn binding_matches(&self, cookie_value: &str) -> bool {
        use subtle::ConstantTimeEq;
        let h: [u8; 32] = Sha256::digest(cookie_value.as_bytes()).into();
        h.ct_eq(&self.binding_hash).into()
    }

    pub(crate) fn encode(&self) -> Result<Vec<u8>, StoreError> {
        let stored = Stored {
            nonce: self.nonce.secret().clone(),
            verifier: self.pkce_verifier.secret().clone(),
            return_to: self.return_to.clone(),
            binding_hash: self.binding_hash,
            created_at: self.created_at,
        };
        let encoded = match (&self.idp, &self.step_up) {
            (idp, Some(step_up)) => postcard::to_extend(
                &StoredV3 {
                    v1: stored,
                    idp: idp.clone(),
                    step_up: step_up.clone(),
                },
                vec![3u8],
            ),
            (None, None) => postcard::to_extend(&stored, vec![1u8]),
            (Some(idp), None) => postcard::to_extend(
                &StoredV2 {
                    v1: stored,
                    idp: idp.clone(),
                },
                vec![2u8],
            ),
        };
        encoded.map_err(|e| StoreError::Corrupt(e.to_string()))
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<PendingLogin, StoreError> {
        let corrupt = |e: postcard::Error| StoreError::Corrupt(e.to_string());
        let (s, idp, step_up) = match bytes.split_first() {
            Some((1, body)) if bytes.len() <= MAX_STORED => {
                (postcard::from_bytes::<Stored>(body).map_err(corrupt)?, None, None)
            }
            Some((2, body)) if bytes.len() <= MAX_STORED => {
                let v2: StoredV2 = postcard::from_bytes(body).map_err(corrupt)?;
                (v2.v1, Some(v2.idp), None)
            }
            Some((3, body)) if bytes.len() <= MAX_STORED => {
                let v3: StoredV3 = postcard::from_bytes(body).map_err(corrupt)?;
                (v3.v1, v3.idp, Some(v3.step_up))
            }
            _ => return Err(StoreError::Corrupt("not a pending login".into())),
        };
        Ok(PendingLogin {
            nonce: Nonce::new(s.nonce),
            pkce_verifier: PkceCodeVerifier::new(s.verifier),
            return_to: s.return_to,
            binding_hash: s.binding_hash,
            created_at: s.created_at,
            idp,
            step_up,
        })
    }
}

pub fn hash_binding(binding: &str) -> [u8; 32] {
    Sha256::digest(binding.as_bytes()).into()
}

/// The pending logins of one site. Stored values are sealed ([`Seal`], keyed from
/// the cookie secret, bound to the entry's key): whoever can write to the store cannot
/// plant a login or change where one lands.
pub struct PendingLogins {
    store: Arc<dyn SingleUse>,
    site: String,
    seal: Seal,
}

impl PendingLogins {
    pub fn new(store: Arc<dyn SingleUse>, site: &str, seal: Seal) -> Self {
        PendingLogins {
            store,
            site: site.to_string(),
            seal,
        }
    }

    pub async fn insert(&self, state: &str, login: PendingLogin) -> Result<(), StoreError> {
        let key = self.key(state);
        let sealed = self
            .seal
            .seal(RecordKind::PendingLogin, key.as_bytes(), &login.encode()?)?;
        self.store.put(KIND, &key, sealed, PENDING_TTL).await
    }

    /// Removes and returns the login for `state` if it exists and has not expired.
    /// An entry that does not decode is spent and unknown.
    pub async fn take(&self, state: &str) -> Result<Option<PendingLogin>, StoreError> {
        let key = self.key(state);
        let Some(bytes) = self.store.take(KIND, &key).await? else {
            return Ok(None);
        };
        let opened = self
            .seal
            .open(RecordKind::PendingLogin, key.as_bytes(), &bytes)
            .and_then(|opened| PendingLogin::decode(&opened.body));
        let login = match opened {
            Ok(login) => login,
            Err(e) => {
                tracing::warn!(site = %self.site, error = %e, "unreadable pending login ignored");
                return Ok(None);
            }
        };
        Ok((now_secs().saturating_sub(login.created_at) < PENDING_TTL.as_secs()).then_some(login))
    }

    fn key(&self, state: &str) -> String {
        let digest = Sha256::new()
            .chain_update((self.site.len() as u64).to_be_bytes())
            .chain_update(self.site.as_bytes())
            .chain_update(state.as_bytes())
            .finalize();
        hex::encode(digest)
    }
}

/// `return_to` as stored: whole when short, else its path alone, else `/`.
pub fn bounded_return_to(mut return_to: String) -> String {
    if return_to.len() <= MAX_RETURN_TO {
        return return_to;
    }
    if let Some(q) = return_to.find('?') {
        return_to.truncate(q);
    }
    if return_to.len() <= MAX_RETURN_TO {
        return_to
    } else {
        "/".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::kv_memory::MemoryKv;

    fn login() -> PendingLogin {
        PendingLogin {
            nonce: Nonce::new_random(),
            pkce_verifier: PkceCodeVerifier::new("v".repeat(43)),
            return_to: "/".into(),
            binding_hash: hash_binding("b"),
            created_at: now_secs(),
            idp: None,
            step_up: None,
        }
    }

    fn seal() -> Seal {
        Seal::from_secret(&sso_config::Secret::new("test-cookie-secret-0123456789abcdef"))
    }

    fn logins(max: usize) -> (Arc<MemoryKv>, PendingLogins) {
        let kv = Arc::new(MemoryKv::new(max));
        (kv.clone(), PendingLogins::new(kv, "shop", seal()))
    }

    #[tokio::test]
    async fn a_pending_login_written_without_the_seal_is_unknown() -> Result<(), StoreError> {
        let (kv, p) = logins(100);
        let planted = login().encode()?;
        SingleUse::put(kv.as_ref(), KIND, &p.key("planted"), planted, PENDING_TTL).await?;
        assert!(p.take("planted").await?.is_none(), "an unsealed entry is no login");
        p.insert("real", login()).await?;
        let moved = SingleUse::take(kv.as_ref(), KIND, &p.key("real"))
            .await?
            .expect("stored");
        SingleUse::put(kv.as_ref(), KIND, &p.key("other"), moved, PENDING_TTL).await?;
        assert!(
            p.take("other").await?.is_none(),
            "a sealed entry moved to another state is no login"
        );
        Ok(())
    }

    #[tokio::test]
    async fn taken_exactly_once() -> Result<(), StoreError> {
        let (_, p) = logins(100);
        p.insert("state-1", login()).await?;
        assert!(p.take("state-2").await?.is_none());
        let l = p.take("state-1").await?.expect("first take");
        assert!(l.binding_matches("b") && !l.binding_matches("c"));
        assert!(p.take("state-1").await?.is_none(), "a state is single-use");
        Ok(())
    }

    #[tokio::test]
    async fn a_state_is_only_good_at_its_own_site() -> Result<(), StoreError> {
        let kv = Arc::new(MemoryKv::new(100));
        let shop = PendingLogins::new(kv.clone(), "shop", seal());
        let outlet = PendingLogins::new(kv, "outlet", seal());
        shop.insert("state", login()).await?;
        assert!(outlet.take("state").await?.is_none());
        assert!(shop.take("state").await?.is_some());
        Ok(())
    }

    #[tokio::test]
    async fn expired_logins_are_refused() -> Result<(), StoreError> {
        let (_, p) = logins(100);
        let old = PendingLogin {
            created_at: now_secs() - PENDING_TTL.as_secs() - 1,
            ..login()
        };
        p.insert("old", old).await?;
        assert!(p.take("old").await?.is_none());
        Ok(())
    }

    #[tokio::test]
    async fn a_flood_evicts_the_oldest_and_the_newest_login_still_works() -> Result<(), StoreError> {
        let (kv, p) = logins(50);
        for i in 0..5_000 {
            p.insert(&format!("flood-{i}"), login()).await?;
        }
        p.insert("shopper", login()).await?;
        assert!(kv.count() <= 50, "bounded");
        assert!(p.take("flood-0").await?.is_none(), "the oldest were evicted");
        assert!(p.take("shopper").await?.is_some(), "LRU always admits the newest");
        Ok(())
    }

    #[test]
    fn stored_logins_read_back_and_junk_does_not() {
        let l = login();
        let back = PendingLogin::decode(&l.encode().expect("encodes")).expect("decodes");
        assert_eq!(back.nonce.secret(), l.nonce.secret());
        assert_eq!(back.pkce_verifier.secret(), l.pkce_verifier.secret());
        assert_eq!(back.binding_hash, l.binding_hash);
        assert_eq!(back.idp, None);
        assert_eq!(l.encode().expect("encodes")[0], 1, "no IdP name: version 1, as before");
        let named = PendingLogin {
            idp: Some("acme".into()),
            ..login()
        };
        let bytes = named.encode().expect("encodes");
        assert_eq!(bytes[0], 2);
        let back = PendingLogin::decode(&bytes).expect("decodes");
        assert_eq!(back.idp.as_deref(), Some("acme"));
        assert_eq!(back.nonce.secret(), named.nonce.secret());
        let ask = crate::oidc::step_up::StepUpAsk {
            max_age: Some(0),
            acr_values: vec!["mfa".into()],
            namespace: "oidc:https://idp.example/".into(),
            customer_id: "c-1".into(),
        };
        let stepping_up = PendingLogin {
            step_up: Some(ask.clone()),
            ..login()
        };
        let bytes = stepping_up.encode().expect("encodes");
        assert_eq!(bytes[0], 3, "a step-up: version 3");
        let back = PendingLogin::decode(&bytes).expect("decodes");
        assert_eq!((back.idp, back.step_up), (None, Some(ask)));
        for junk in [&b""[..], b"\x02", b"\x01\xff", b"\x03", b"\x04"] {
            assert!(PendingLogin::decode(junk).is_err());
        }
    }

    #[test]
    fn long_return_targets_are_cut_to_their_path() {
        assert_eq!(bounded_return_to("/a?b=1".into()), "/a?b=1");
        let long_query = format!("/orders?{}", "x".repeat(MAX_RETURN_TO));
        assert_eq!(bounded_return_to(long_query), "/orders");
        assert_eq!(bounded_return_to(format!("/{}", "p".repeat(MAX_RETURN_TO))), "/");
    }
}
