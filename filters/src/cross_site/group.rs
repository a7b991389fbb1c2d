//! The SSO sessions of a group of shops in the shared store: create, read, link a
//! site's session, end everything linked, small shared data, and the single-use
//! grants (one-time tokens, adopt tokens, pending adoptions).

use super::records::{self, AdoptGrant, OttGrant, SsoSession};
use super::tokens::{OneTimeToken, SsoSessionId};
use crate::secret::Sid;
use crate::sessions::now_secs;
use crate::store::seal::Seal;
use crate::store::{StoreError, Stores};
use sso_config::sso::{SiteSsoConfig, SsoConfig};
use sso_config::Config;
use std::collections::HashMap;
use std::time::Duration;
use url::Url;

const SESSION: &str = "sso-session";
const LINKS: &str = "sso-links";
const DATA: &str = "sso-data";
const OTT: &str = "sso-ott";
const ADOPT: &str = "sso-adopt";
const PENDING: &str = "sso-pending";
/// The one outstanding one-time token of an (SSO session, site): the key of its grant.
const OTT_CURRENT: &str = "sso-ott-current";
/// Where an SSO session's sign-in came from ([`records::SsoSource`]).
pub(super) const SOURCE: &str = "sso-source";
/// The link member kind that chains another SSO session (`"=sso <handle>"`): site
/// names are letters, digits, `-` and `_`, so it never reads as a site.
const CHAINED: &str = "=sso";

/// Most local sessions one SSO session links (a shopper's browsers × sites). Past it
/// a site's sign-on is refused (the shopper signs in there as usual); nothing that
/// is linked is ever dropped, so a global logout always finds every session.
pub const MAX_LINKS: usize = 256;
/// Longest SSO data document, in bytes.
pub const MAX_DATA: usize = 4096;
/// How long a session just signed in waits for its browser to come back from the
/// auth host's binding round.
pub const PENDING_TTL: Duration = Duration::from_secs(600);

/// A site of the group, as the auth host sees it.
#[derive(Debug, Clone)]
pub struct LinkedSite {
    pub public_url: Url,
    pub sso_prefix: String,
    pub sso: SiteSsoConfig,
    /// The namespace its provisioning hook maps IdP sign-ins into, if it has one.
    pub hook: Option<String>,
    /// The namespace of its customer-login JWTs' ids, if it takes them.
    pub customer_login: Option<String>,
    /// `(issuer, client_id)` of each of its IdPs.
    pub idp_clients: Vec<(String, String)>,
}

impl LinkedSite {
    /// An absolute URL on the site for `path_and_query` (which starts with `/`).
    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{}", self.public_url.as_str().trim_end_matches('/'), path_and_query)
    }
}

/// The group: `[sso]`, its linked sites, and the stores.
pub struct SsoGroup {
    pub config: SsoConfig,
    pub sites: HashMap<String, LinkedSite>,
    /// Every customer namespace the linked sites' own sign-ins yield.
    pub namespaces: Vec<String>,
    pub(super) stores: Stores,
    pub(super) seal: Seal,
}

/// Why a one-time token was not honoured (a metric label each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OttError {
    /// Not a token, never minted, already redeemed, or expired.
    #[error("unknown, used or expired one-time token")]
    Unknown,
    /// Minted for another site of the group.
    #[error("one-time token of another site")]
    OtherSite,
    /// The SSO session's customer id means another customer on this site (another
    /// customer namespace, see `sso_config::namespaces`).
    #[error("the SSO session's customer id is of another customer namespace")]
    OtherNamespace,
    /// This browser did not start the link round the token answers.
    #[error("one-time token for another browser (state mismatch)")]
    OtherBrowser,
    /// The SSO session it links to has ended.
    #[error("the SSO session has ended")]
    SessionEnded,
}

impl OttError {
    pub fn code(self) -> &'static str {
        match self {
            OttError::Unknown => "ott_unknown",
            OttError::OtherSite => "ott_other_site",
            OttError::OtherNamespace => "ott_other_namespace",
            OttError::OtherBrowser => "ott_state_mismatch",
            OttError::SessionEnded => "sso_session_ended",
        }
    }
}

impl SsoGroup {
    /// The group of `config`, when it has `[sso]`.
    pub fn from_config(config: &Config, stores: &Stores) -> Option<Self> {
        let sso = config.sso.clone()?;
        let sites = config
            .sites
            .iter()
            .filter(|s| s.sso.linked())
            .map(|s| {
                let site = LinkedSite {
                    public_url: s.public_url.clone(),
                    sso_prefix: s.sso_prefix.clone(),
                    sso: s.sso,
                    hook: s.hook_namespace(),
                    customer_login: s
                        .customer_login
                        .as_ref()
                        .map(|c| sso_config::namespaces::customer_login(&c.client_id, &c.store_hash)),
                    idp_clients: s
                        .identity_providers()
                        .iter()
                        .map(|(_, o)| (o.issuer.as_str().to_string(), o.client_id.clone()))
                        .collect(),
                };
                (s.name.clone(), site)
            })
            .collect();
        let mut namespaces: Vec<String> = config
            .sites
            .iter()
            .filter(|s| s.sso.linked())
            .flat_map(|s| s.own_namespaces())
            .collect();
        namespaces.sort();
        namespaces.dedup();
        Some(SsoGroup {
            config: sso,
            sites,
            namespaces,
            stores: stores.clone(),
            seal: Seal::from_config(&config.sessions),
        })
    }

    /// An absolute URL on the auth host.
    pub fn auth_url(&self, path_and_query: &str) -> String {
        format!(
            "{}{}",
            self.config.auth_url.as_str().trim_end_matches('/'),
            path_and_query
        )
    }

    /// Stores `value` sealed as a single-use entry (`kind`, `key`) for `ttl`.
    async fn put_once<T: serde::Serialize>(
        &self,
        kind: &str,
        key: &str,
        value: &T,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let sealed = records::seal(&self.seal, kind, key, value)?;
        self.stores.single_use.put(kind, key, sealed, ttl).await
    }

    /// Takes the single-use entry (`kind`, `key`), atomically: `None` when there is
    /// none, or when it does not open (forged, moved, another version).
    async fn take_once<T: serde::de::DeserializeOwned>(&self, kind: &str, key: &str) -> Result<Option<T>, StoreError> {
        let Some(sealed) = self.stores.single_use.take(kind, key).await? else {
            return Ok(None);
        };
        Ok(records::open(&self.seal, kind, key, &sealed).ok())
    }

    /// A fresh token granting `grant`, single-use, for `ott_ttl`.
    async fn mint<T: serde::Serialize>(&self, kind: &str, grant: &T) -> Result<OneTimeToken, StoreError> {
        let token = OneTimeToken::random();
        self.put_once(kind, &token.key(), grant, self.config.ott_ttl).await?;
        Ok(token)
    }

    /// What `token` grants, taken once; `None` for no token, or one unknown, used or expired.
    async fn take_token<T: serde::de::DeserializeOwned>(
        &self,
        kind: &str,
        token: &str,
    ) -> Result<Option<T>, StoreError> {
        match OneTimeToken::parse(token) {
            Some(token) => self.take_once(kind, &token.key()).await,
            None => Ok(None),
        }
    }

    /// Starts an SSO session; its cookie value (for the auth host) and handle.
    pub async fn create(&self, mut session: SsoSession) -> Result<(SsoSessionId, String), StoreError> {
        let id = SsoSessionId::random();
        let handle = id.key();
        let now = now_secs();
        session.created_at = now;
        session.expires_at = now.saturating_add(self.config.session_ttl.as_secs());
        let sealed = records::seal(&self.seal, SESSION, &handle, &session)?;
        self.stores
            .records
            .put(SESSION, &handle, sealed, self.config.session_ttl)
            .await?;
        Ok((id, handle))
    }

    /// The live SSO session `handle`, if any.
    pub async fn get(&self, handle: &str) -> Result<Option<SsoSession>, StoreError> {
        // An ended session is an empty record for its last second (`Records` has no delete).
        let Some(sealed) = self
            .stores
            .records
            .get(SESSION, handle)
            .await?
            .filter(|v| !v.is_empty())
        else {
            return Ok(None);
        };
        match records::open::<SsoSession>(&self.seal, SESSION, handle, &sealed) {
            Ok(s) if now_secs() < s.expires_at => Ok(Some(s)),
            Ok(_) => Ok(None),
            Err(e) => {
                tracing::warn!(error = %e, "unreadable SSO session record ignored");
                Ok(None)
            }
        }
    }

    /// Records that `sid` on `site` is linked to SSO session `handle`, then checks the
    /// SSO session still exists: a global logout that ran meanwhile either saw this
    /// link or ended the session first, and then the caller must end `sid` (false).
    pub async fn link(&self, handle: &str, site: &str, sid: &Sid) -> Result<bool, StoreError> {
        let member = format!("{site} {}", sid.encode());
        let ttl = self.config.session_ttl;
        if !self.stores.sets.add(LINKS, handle, &member, ttl, MAX_LINKS).await? {
            tracing::warn!(site, "SSO session links are full; this session is not linked");
            return Ok(false);
        }
        Ok(self.get(handle).await?.is_some())
    }

    /// Forgets one site session's link (a site-scoped logout).
    pub async fn unlink(&self, handle: &str, site: &str, sid: &Sid) -> Result<(), StoreError> {
        self.stores
            .sets
            .remove(LINKS, handle, &format!("{site} {}", sid.encode()))
            .await
    }

    /// The sites with a live session linked to `handle`, sorted, each once.
    pub async fn linked_sites(&self, handle: &str) -> Result<Vec<String>, StoreError> {
        let mut sites = Vec::new();
        for member in self.stores.sets.members(LINKS, handle).await? {
            let Some((site, sid)) = member.split_once(' ') else {
                continue;
            };
            let Some(sid) = Sid::parse(sid) else { continue };
            // A look, not a use: listing a site keeps its session no longer.
            if self.stores.sessions.fresh(&sid).await?.is_some() {
                sites.push(site.to_string());
            }
        }
        sites.sort();
        sites.dedup();
        Ok(sites)
    }

    /// Ends SSO session `handle` and every session linked to it, on every replica:
    /// the record first (no new one-time token, no new link after this), then each
    /// linked session, then the links and the data. How many sessions ended.
    ///
    /// SSO sessions chained to it ([`Self::chain`]: the same shopper's earlier SSO
    /// session in the same browser) end with it, and theirs with them.
    pub async fn end(&self, handle: &str) -> Result<usize, StoreError> {
        let mut ended = 0;
        let mut queue = vec![handle.to_string()];
        let mut done = std::collections::HashSet::new();
        while let Some(handle) = queue.pop() {
            if !done.insert(handle.clone()) || done.len() > MAX_LINKS {
                continue;
            }
            self.stores
                .records
                .put(SESSION, &handle, Vec::new(), Duration::from_secs(1))
                .await?;
            for member in self.stores.sets.members(LINKS, &handle).await? {
                match member.split_once(' ') {
                    Some((CHAINED, other)) => queue.push(other.to_string()),
                    Some((_, sid)) => {
                        if let Some(sid) = Sid::parse(sid) {
                            if self.stores.sessions.remove(&sid).await? {
                                ended += 1;
                            }
                        }
                    }
                    None => {}
                }
            }
            self.stores.sets.delete(LINKS, &handle).await?;
            self.stores
                .records
                .put(DATA, &handle, Vec::new(), Duration::from_secs(1))
                .await?;
        }
        Ok(ended)
    }

    /// Chains two SSO sessions of the same shopper in one browser (`current` is the
    /// browser's, `earlier` the one it replaces): ending either ends both, with all
    /// their linked sessions; `current` takes over `earlier`'s data when it has none.
    pub async fn chain(&self, current: &str, earlier: &str) -> Result<bool, StoreError> {
        let ttl = self.config.session_ttl;
        let sets = &self.stores.sets;
        let both = sets
            .add(LINKS, current, &format!("{CHAINED} {earlier}"), ttl, MAX_LINKS)
            .await?
            && sets
                .add(LINKS, earlier, &format!("{CHAINED} {current}"), ttl, MAX_LINKS)
                .await?;
        if both && self.data(current).await?.as_object().is_some_and(|o| o.is_empty()) {
            let earlier_data = self.data(earlier).await?;
            if earlier_data.as_object().is_some_and(|o| !o.is_empty()) {
                if let Some(session) = self.get(current).await? {
                    self.put_data(&session, current, &earlier_data).await?;
                }
            }
        }
        Ok(both)
    }

    /// The SSO data document of `handle` (`{}` when none was stored).
    pub async fn data(&self, handle: &str) -> Result<serde_json::Value, StoreError> {
        let stored = self.stores.records.get(DATA, handle).await?.filter(|v| !v.is_empty());
        let Some(sealed) = stored else {
            return Ok(serde_json::json!({}));
        };
        let text: String = records::open(&self.seal, DATA, handle, &sealed)?;
        serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(e.to_string()))
    }

    /// Replaces the SSO data document of `handle` (already validated), kept as long as
    /// the SSO session.
    pub async fn put_data(
        &self,
        session: &SsoSession,
        handle: &str,
        doc: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let text = doc.to_string();
        let sealed = records::seal(&self.seal, DATA, handle, &text)?;
        let left = session.expires_at.saturating_sub(now_secs()).max(1);
        self.stores
            .records
            .put(DATA, handle, sealed, Duration::from_secs(left))
            .await
    }

    /// A one-time token for `site`, linking to `handle`, for the browser holding `state`.
    /// An (SSO session, site) has at most one outstanding token: minting one spends the
    /// one before it, so however often a signed-in client asks, the store holds one
    /// grant per site of its SSO session. (Two tabs whose rounds overlap exactly: the
    /// first comes back without a token and shows its page anonymous; the cookie the
    /// second sets signs it in on its next load.)
    pub async fn mint_ott(&self, site: &str, handle: &str, state: &str) -> Result<OneTimeToken, StoreError> {
        let grant = OttGrant {
            site: site.to_string(),
            handle: handle.to_string(),
            state: state.to_string(),
        };
        let current = crate::store::hashed_key(&[OTT_CURRENT, handle, site]);
        if let Some(previous) = self.take_once::<String>(OTT_CURRENT, &current).await? {
            self.stores.single_use.take(OTT, &previous).await?;
        }
        let token = self.mint(OTT, &grant).await?;
        self.put_once(OTT_CURRENT, &current, &token.key(), self.config.ott_ttl)
            .await?;
        Ok(token)
    }

    /// Redeems a one-time token at `site` for the browser holding `state`: taken
    /// atomically (exactly one of two racing redemptions gets it, on any replica),
    /// then checked. A token taken and refused is spent all the same.
    pub async fn redeem(
        &self,
        token: &str,
        site: &str,
        state: &str,
    ) -> Result<Result<(OttGrant, SsoSession), OttError>, StoreError> {
        let Some(grant) = self.take_token::<OttGrant>(OTT, token).await? else {
            return Ok(Err(OttError::Unknown));
        };
        if grant.site != site {
            return Ok(Err(OttError::OtherSite));
        }
        if !super::tokens::same(&grant.state, state) {
            return Ok(Err(OttError::OtherBrowser));
        }
        match self.get(&grant.handle).await? {
            Some(session) => Ok(Ok((grant, session))),
            None => Ok(Err(OttError::SessionEnded)),
        }
    }

    /// Spends a one-time token without honouring it (it reached the wrong browser).
    pub async fn spend(&self, token: &str) -> Result<(), StoreError> {
        self.take_token::<OttGrant>(OTT, token).await.map(|_| ())
    }

    /// Keeps the SSO cookie of the SSO session `handle` (a sign-in just started it)
    /// until its browser comes back from the binding round.
    pub async fn stash_pending(&self, handle: &str, id: &SsoSessionId) -> Result<(), StoreError> {
        self.put_once(PENDING, handle, &id.encode(), PENDING_TTL).await
    }

    /// The SSO cookie waiting for the binding round of SSO session `handle`, taken once.
    pub async fn take_pending(&self, handle: &str) -> Result<Option<SsoSessionId>, StoreError> {
        let text: Option<String> = self.take_once(PENDING, handle).await?;
        Ok(text.as_deref().and_then(SsoSessionId::parse))
    }

    /// An adopt token: the auth host will set `id` as its cookie, for the browser
    /// whose binding hashes to `binding`, then send it to `return_to` on `site`.
    pub async fn mint_adopt(
        &self,
        id: &SsoSessionId,
        binding: &str,
        site: &str,
        return_to: &str,
    ) -> Result<OneTimeToken, StoreError> {
        let grant = AdoptGrant {
            secret: id.encode(),
            binding: binding.to_string(),
            site: site.to_string(),
            return_to: return_to.to_string(),
        };
        self.mint(ADOPT, &grant).await
    }

    /// An adopt token taken once; `None` when unknown, used or expired.
    pub async fn take_adopt(&self, token: &str) -> Result<Option<AdoptGrant>, StoreError> {
        self.take_token(ADOPT, token).await
    }
}
