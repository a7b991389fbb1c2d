//! One session lifecycle after sign-in: refresh, revalidation and revocation.
//!
//! What derives from what (docs/security.md, "Revocation"):
//! - an IdP sign-in holds the IdP grant (its refresh token) and, on a linked site,
//!   starts the group's SSO session;
//! - every session a one-time token makes derives from that SSO session;
//! - so when the IdP refuses the grant (`invalid_grant`), the session, the SSO
//!   session it started or fed, and every session derived from it end together, on
//!   every site and replica: every feature hears [`Feature::revoked`](super::Feature::revoked)
//!   ([`SitePipeline::revoked`]); back-channel logout, admin `DELETE /sessions` and a
//!   global logout end the same set through the SSO session's indexes and links.
//! - A session made from a one-time token holds no grant of its own: every
//!   revalidation interval the feature it came from checks it against its source
//!   ([`Feature::revalidate`](super::Feature::revalidate)), so no derived session
//!   outlives its source even when a link was lost.

use super::SitePipeline;
use crate::auth::Identity;
use crate::oidc::LoginFlow;
use crate::secret::random_token;
use crate::sessions::now_secs;
use std::sync::Arc;
use std::time::Duration;

/// How long one replica may hold a session's refresh lock: longer than any IdP call
/// (`oidc.request_timeout`); a holder that died frees it after this.
const REFRESH_LOCK_TTL: Duration = Duration::from_secs(60);
/// The [`crate::store::Records`] kind of refresh locks.
const REFRESH_LOCK: &str = "refresh-lock";
/// How long past its due time a session may go unrevalidated because the store
/// cannot be locked (Redis refusing writes) before it stops counting.
const REFRESH_GRACE: Duration = Duration::from_secs(300);

impl SitePipeline {
    /// Refreshes the IdP tokens of a session when they are due. Exactly one request
    /// on one replica does it: a local flag first, then a short lock in the shared
    /// store; the others go on with the session as it is. The lock holder re-reads
    /// the session from the store (another replica may have rotated the refresh token
    /// meanwhile) and writes the rotated token back before it lets go of the lock.
    ///
    /// A refresh the IdP refuses (`invalid_grant`: the account was revoked or the IdP
    /// session ended) ends the session, and the request goes on anonymous; an IdP that
    /// cannot be reached keeps the session and is tried again in 30 s. The same for a
    /// cookie and an API token: both name the one session.
    pub async fn refresh_if_due(&self, identity: Identity) -> Option<Identity> {
        // Only the IdP that signed the session in is asked: its refresh token means
        // nothing to another one.
        if !identity.session.refresh.is_due(now_secs()) {
            return Some(identity);
        }
        // A session derived from another source is checked by the feature it came from.
        if let Some(feature) = self.features.iter().find(|f| f.revalidate_due(&identity.session)) {
            return feature.revalidate(self, identity).await;
        }
        let Some(flow) = self.core.idps.of_session(&identity.session).map(|i| &i.flow) else {
            return Some(identity);
        };
        let refresh = &identity.session.refresh;
        if !refresh.is_due(now_secs()) || !refresh.claim() {
            return Some(identity);
        }
        let lock_key = identity.sid.encode();
        let holder = random_token().into_bytes();
        let locked = self
            .core
            .stores
            .records
            .put_new(REFRESH_LOCK, &lock_key, holder.clone(), REFRESH_LOCK_TTL)
            .await;
        match locked {
            Ok(true) => {}
            Ok(false) => {
                // Another replica is refreshing: look again in a moment.
                refresh.retry_in(2);
                return Some(identity);
            }
            Err(e) => {
                let overdue = now_secs().saturating_sub(refresh.due_at());
                refresh.retry_in(5);
                if overdue > REFRESH_GRACE.as_secs() {
                    // The IdP cannot be asked whether this account is still good: after
                    // a grace period, the session no longer counts.
                    tracing::warn!(site = %self.core.site.name, error = %e, overdue, "session not revalidated in time (store unavailable); refused");
                    return None;
                }
                tracing::warn!(site = %self.core.site.name, error = %e, "cannot take the refresh lock; keeping the session for now");
                return Some(identity);
            }
        }
        let (result, release) = self.refresh_locked(flow, identity).await;
        if release {
            if let Err(e) = self
                .core
                .stores
                .records
                .delete_if(REFRESH_LOCK, &lock_key, &holder)
                .await
            {
                tracing::warn!(site = %self.core.site.name, error = %e, "refresh lock not released; it expires by itself");
            }
        }
        result
    }

    /// The refresh itself, under the session's lock; and whether to release the lock
    /// (not when a rotated token could not be stored: another replica must not take
    /// the lock and spend the old token before the lock expires).
    async fn refresh_locked(&self, flow: &LoginFlow, identity: Identity) -> (Option<Identity>, bool) {
        let session = match self.core.stores.sessions.fresh(&identity.sid).await {
            Ok(Some(fresh)) => fresh,
            Ok(None) => {
                identity.session.refresh.retry_in(0);
                return (None, true);
            }
            Err(e) => {
                identity.session.refresh.retry_in(5);
                tracing::warn!(site = %self.core.site.name, error = %e, "cannot re-read the session to refresh it");
                return (Some(identity), true);
            }
        };
        if !Arc::ptr_eq(&session, &identity.session) {
            // The copy this request read is done with; the fresh one is refreshed.
            identity.session.refresh.release();
            if !session.refresh.claim() {
                return (Some(Identity { session, ..identity }), true);
            }
        }
        let identity = Identity { session, ..identity };
        let refresh = &identity.session.refresh;
        let token = match refresh.token() {
            Some(token) if refresh.is_due(now_secs()) => token,
            // Refreshed meanwhile by another replica (or nothing to refresh with).
            _ => {
                refresh.release();
                return (Some(identity), true);
            }
        };
        match flow.refresh(&token).await {
            Ok(r) => {
                refresh.set_access(
                    self.core
                        .kept_access_token(r.access_token, r.lifetime, refresh.revalidate_secs()),
                );
                refresh.finish(r.refresh_token, r.lifetime);
                let saved = self.core.stores.sessions.save(&identity.sid, &identity.session).await;
                if let Err(e) = &saved {
                    tracing::error!(site = %self.core.site.name, error = %e, "refreshed tokens could not be stored; the refresh lock is kept until it expires");
                }
                self.core.events.login(&self.core.site.name, "oidc", "refreshed");
                (Some(identity), saved.is_ok())
            }
            Err(crate::oidc::flow::RefreshError::Refused(reason)) => {
                refresh.release();
                if let Err(e) = self.core.stores.sessions.remove(&identity.sid).await {
                    tracing::warn!(site = %self.core.site.name, error = %e, "refused session not removed from the store");
                }
                // Everything this sign-in fed ends with it: the SSO session and the
                // sessions other sites made from it.
                let derived = match self.revoked(&identity.session).await {
                    Ok(ended) => ended,
                    Err(e) => {
                        tracing::warn!(site = %self.core.site.name, error = %e, "what a revoked sign-in fed could not be ended");
                        0
                    }
                };
                self.core.events.login(&self.core.site.name, "oidc", "refresh_refused");
                tracing::info!(site = %self.core.site.name, subject = %identity.customer().id, %reason, derived, "refresh refused by the IdP; session ended");
                (None, true)
            }
            Err(crate::oidc::flow::RefreshError::Unavailable(e)) => {
                refresh.retry_in(30);
                tracing::warn!(site = %self.core.site.name, error = %e, "token refresh failed; keeping the session, retrying in 30 s");
                (Some(identity), true)
            }
        }
    }
}
