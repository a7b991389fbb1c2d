//! What else ends when a session ends from outside the browser.

use super::SiteAuth;
use crate::sessions::SessionData;

impl SiteAuth {
    /// Runs after a back-channel logout removed `session` from the store (on every
    /// replica). Nothing more happens yet.
    ///
    /// Cross-site sign-on ends the linked sessions here under `logout_scope = "global"`.
    pub(crate) async fn ended_by_backchannel(&self, session: &SessionData) {
        let _ = session;
    }
}
