//! Where an SSO session's sign-in came from, and where it is found: the source
//! record beside it (the customer namespace of its id as it was at the sign-in, and
//! the session holding the IdP grant it follows), and the indexes that find it when a
//! sign-in must end from outside the browser: by the IdP session and subject it came
//! from (back-channel logout) and by a site and the customer id a session there has
//! (the admin API).

use super::group::{OttError, SsoGroup, SOURCE};
use super::records::{self, SsoSession, SsoSource};
use crate::store::StoreError;

/// SSO sessions by the IdP session (`sid`) and by the IdP subject they came from.
const BY_IDP_SID: &str = "sso-by-idp-sid";
const BY_IDP_SUB: &str = "sso-by-idp-sub";
/// SSO sessions by a site and the customer id a session there has.
const BY_CUSTOMER: &str = "sso-by-customer";
/// Most SSO sessions one index line holds (a customer's browsers).
const MAX_INDEXED: usize = 64;

impl SsoGroup {
    /// Records where SSO session `handle`'s sign-in came from.
    pub async fn set_source(&self, handle: &str, source: &SsoSource) -> Result<(), StoreError> {
        let sealed = records::seal(&self.seal, SOURCE, handle, source)?;
        self.stores
            .records
            .put(SOURCE, handle, sealed, self.config.session_ttl)
            .await
    }

    /// Where SSO session `handle`'s sign-in came from; `None` for one started before
    /// it was kept (or whose record could not be written).
    pub async fn source(&self, handle: &str) -> Result<Option<SsoSource>, StoreError> {
        let Some(sealed) = self.stores.records.get(SOURCE, handle).await? else {
            return Ok(None);
        };
        let source = records::open::<SsoSource>(&self.seal, SOURCE, handle, &sealed).or_else(|_| {
            records::open::<records::SsoSourceV1>(&self.seal, SOURCE, handle, &sealed).map(SsoSource::from)
        });
        Ok(source.ok())
    }

    /// The namespace of an SSO session's customer id, as recorded at its sign-in; for
    /// one started before that was recorded, as its origin site's configuration says
    /// (`None` when the origin site is no longer linked).
    pub fn namespace_of(&self, source: Option<&SsoSource>, sso: &SsoSession) -> Option<String> {
        match source {
            Some(source) if !source.namespace.is_empty() => Some(source.namespace.clone()),
            _ => self.id_namespace(sso),
        }
    }

    /// The namespace of an SSO session's customer id by its origin site's current
    /// configuration. `None` when the origin site is no longer linked.
    pub fn id_namespace(&self, sso: &SsoSession) -> Option<String> {
        let origin = self.sites.get(&sso.origin_site)?;
        match crate::sessions::LoginMethod::from_u8(sso.method)? {
            crate::sessions::LoginMethod::CustomerLogin => origin.customer_login.clone(),
            crate::sessions::LoginMethod::Oidc => match &origin.hook {
                Some(hook) => Some(hook.clone()),
                None => sso.issuer.as_deref().map(sso_config::namespaces::oidc),
            },
            crate::sessions::LoginMethod::Ott => None,
        }
    }

    /// The namespace under which `site`, which has no provisioning hook, may take an
    /// SSO session's customer id of `namespace` ([`Self::namespace_of`]) as its own; [`OttError::OtherNamespace`] when the
    /// id would mean another customer there (or its namespace is not known).
    pub fn namespace_for(&self, site: &sso_config::SiteConfig, namespace: Option<String>) -> Result<String, OttError> {
        match namespace {
            Some(namespace) if site.accepts(&namespace, &self.namespaces) => Ok(namespace),
            _ => Err(OttError::OtherNamespace),
        }
    }

    /// Records where SSO session `handle` can be found when its sign-in must end from
    /// outside the browser: by the IdP session and subject it came from (back-channel
    /// logout) and by `site` and the customer id a session there has (the admin API).
    /// A line that is full or cannot be written is logged: the SSO session then ends
    /// only by a global logout or after `session_ttl`.
    pub async fn index(&self, handle: &str, session: &SsoSession, site: &str, customer_id: &str) {
        let ttl = self.config.session_ttl;
        let mut lines = vec![(BY_CUSTOMER, crate::store::hashed_key(&[site, customer_id]))];
        if let Some(issuer) = session.issuer.as_deref().map(|i| i.trim_end_matches('/')) {
            lines.push((BY_IDP_SUB, crate::store::hashed_key(&[issuer, &session.subject])));
            if let Some(idp_session) = &session.idp_session {
                lines.push((BY_IDP_SID, crate::store::hashed_key(&[issuer, idp_session])));
            }
        }
        for (kind, key) in lines {
            let sets = &self.stores.sets;
            let added = match sets.add(kind, &key, handle, ttl, MAX_INDEXED).await {
                // Full: the SSO sessions that ended since are taken off, then again.
                Ok(false) => match self.prune(kind, &key).await {
                    Ok(()) => sets.add(kind, &key, handle, ttl, MAX_INDEXED).await,
                    Err(e) => Err(e),
                },
                other => other,
            };
            match added {
                Ok(true) => {}
                Ok(false) => tracing::warn!(
                    site,
                    index = kind,
                    "SSO session index full of live SSO sessions; this SSO session is not indexed"
                ),
                Err(e) => tracing::warn!(site, index = kind, error = %e, "SSO session index not written"),
            }
        }
    }

    /// Takes the SSO sessions that have ended (or expired) off one index line.
    async fn prune(&self, kind: &str, key: &str) -> Result<(), StoreError> {
        for handle in self.stores.sets.members(kind, key).await? {
            if self.get(&handle).await?.is_none() {
                self.stores.sets.remove(kind, key, &handle).await?;
            }
        }
        Ok(())
    }

    /// Ends the SSO sessions (and every session linked to them) that an IdP's
    /// back-channel logout names: those of IdP session `idp_session`, and those of
    /// `subject` that recorded no IdP session (or all of the subject's, for a token
    /// without `sid`). How many SSO sessions ended.
    pub async fn end_by_idp(
        &self,
        issuer: &str,
        idp_session: Option<&str>,
        subject: Option<&str>,
    ) -> Result<usize, StoreError> {
        let issuer = issuer.trim_end_matches('/');
        let mut ended = 0;
        if let Some(sid) = idp_session {
            let key = crate::store::hashed_key(&[issuer, sid]);
            ended += self
                .end_indexed(BY_IDP_SID, &key, |s| s.idp_session.as_deref() == Some(sid))
                .await?;
        }
        if let Some(sub) = subject {
            let key = crate::store::hashed_key(&[issuer, sub]);
            ended += self
                .end_indexed(BY_IDP_SUB, &key, |s| {
                    s.subject == sub && (idp_session.is_none() || s.idp_session.is_none())
                })
                .await?;
        }
        Ok(ended)
    }

    /// Ends the SSO sessions of `customer_id` on `site` (the admin API's `DELETE
    /// /sessions`), with every session linked to them. How many SSO sessions ended.
    pub async fn end_by_customer(&self, site: &str, customer_id: &str) -> Result<usize, StoreError> {
        let key = crate::store::hashed_key(&[site, customer_id]);
        self.end_indexed(BY_CUSTOMER, &key, |_| true).await
    }

    /// Ends the live SSO sessions of one index line that `named` accepts; takes the
    /// ended and the gone off the line.
    async fn end_indexed(
        &self,
        kind: &str,
        key: &str,
        named: impl Fn(&SsoSession) -> bool,
    ) -> Result<usize, StoreError> {
        let mut ended = 0;
        for handle in self.stores.sets.members(kind, key).await? {
            match self.get(&handle).await? {
                Some(session) if !named(&session) => continue,
                Some(_) => {
                    self.end(&handle).await?;
                    ended += 1;
                }
                None => {}
            }
            self.stores.sets.remove(kind, key, &handle).await?;
        }
        Ok(ended)
    }
}
