//! What else ends when a session ends from outside the browser.

use super::SiteAuth;
use crate::sessions::SessionData;
use crate::store::StoreError;

impl SiteAuth {
    /// Runs after a back-channel logout removed `session` from the store (on every
    /// replica). On a linked site, the session's SSO session ends with every session
    /// linked to it, on every site, whatever `logout_scope` (which is about a
    /// shopper's click on one shop): the IdP said the sign-in they all came from is
    /// over. `Err` when the store failed: the caller answers 503 and the IdP sends the
    /// token again.
    pub(crate) async fn ended_by_backchannel(&self, session: &SessionData) -> Result<(), StoreError> {
        let (Some(group), Some(handle)) = (&self.cross_site, session.sso.as_deref()) else {
            return Ok(());
        };
        let ended = group.end(handle).await?;
        tracing::info!(site = %self.site.name, ended, "back-channel logout: the SSO session and its linked sessions ended");
        Ok(())
    }
}
