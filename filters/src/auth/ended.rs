//! What else ends when a session ends from outside the browser.

use super::SiteAuth;
use crate::sessions::SessionData;
use crate::store::StoreError;
use sso_config::sso::LogoutScope;

impl SiteAuth {
    /// Runs after a back-channel logout removed `session` from the store (on every
    /// replica). On a linked site under `logout_scope = "global"`, the session's SSO
    /// session ends with every session linked to it, on every site: the IdP said the
    /// customer's sign-in is over. Under `site` nothing more ends. `Err` when the
    /// store failed: the caller answers 503 and the IdP sends the token again.
    pub(crate) async fn ended_by_backchannel(&self, session: &SessionData) -> Result<(), StoreError> {
        let (Some(group), Some(handle)) = (&self.cross_site, session.sso.as_deref()) else {
            return Ok(());
        };
        if self.site.sso.logout_scope == LogoutScope::Global {
            let ended = group.end(handle).await?;
            tracing::info!(site = %self.site.name, ended, "back-channel logout: the SSO session and its linked sessions ended");
        }
        Ok(())
    }
}
