//! Raw → typed: the entry of validation. Walks every section in order, each checked
//! in its own file (`server.rs`, `sessions.rs`, `site.rs` and the site's sections,
//! `sso.rs`), then the checks across sections (`tls.rs`, `sso.rs`). Collects every
//! error with its key path and never panics.

use crate::errors::ConfigErrors;
use crate::model::{Config, SiteConfig};
use crate::raw::RawConfig;
use crate::{forward_auth, server, sessions, site, site_session, sso, tls};

pub use crate::server::MIN_ADMIN_TOKEN_LEN;
pub use crate::sessions::MIN_COOKIE_SECRET_LEN;
pub use crate::site::MAX_TOKEN_TTL;
pub use crate::validator::Validator;

impl Validator<'_> {
    /// Validates the whole configuration: `Ok` only when no section found an error.
    pub fn config(mut self, raw: RawConfig) -> Result<Config, ConfigErrors> {
        let server = server::server(&mut self, &raw.server);
        let sessions = sessions::sessions(&mut self, &raw.sessions);
        if raw.sites.is_empty() {
            self.errors.push("sites", "at least one [[sites]] entry is required");
        }
        let sites: Vec<SiteConfig> = raw
            .sites
            .iter()
            .enumerate()
            .map(|(i, s)| site::site(&mut self, &format!("sites[{i}]"), s))
            .collect();
        site::cross_site_checks(&mut self, &sites);
        site_session::site_session_checks(&mut self, &sessions, &sites);
        let sso = raw.sso.as_ref().map(|s| sso::sso(&mut self, s));
        sso::sso_checks(&mut self, sso.as_ref(), &sites);
        let config = Config {
            server,
            sessions,
            sites,
            sso,
        };
        tls::tls_cross_checks(&mut self, &config);
        forward_auth::forward_auth_checks(&mut self, &config);
        self.errors.into_result(config)
    }
}
