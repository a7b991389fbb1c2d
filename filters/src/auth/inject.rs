//! The identity for the origin: header values and the gateway-signed token.
//! The gateway strips incoming identity headers first, then sets these.

use super::{Identity, SiteAuth};
use crate::sessions::now_secs;
use crate::tokens::TokenSigner;
use std::sync::Arc;

impl SiteAuth {
    /// `(header name, value)` pairs to set on the upstream request. Values with bytes
    /// a header cannot carry (control characters) are left out.
    pub fn identity_headers(&self, identity: &Identity) -> Vec<(&str, String)> {
        let names = &self.site.identity_headers;
        let c = identity.customer();
        let mut out = Vec::with_capacity(5);
        out.push((names.id.as_str(), c.id.clone()));
        if let Some(email) = &c.email {
            out.push((names.email.as_str(), email.clone()));
        }
        if let Some(name) = &c.name {
            out.push((names.name.as_str(), name.clone()));
        }
        if !c.groups.is_empty() {
            out.push((names.groups.as_str(), c.groups.join(",")));
        }
        if let Some(token) = self.token_for(identity) {
            out.push((names.token.as_str(), token.to_string()));
        }
        out.retain(|(_, v)| !v.chars().any(char::is_control));
        out
    }

    /// A gateway token for this identity: the bearer token it came with, or one cached
    /// on the session and re-minted when less than half its lifetime is left.
    pub fn token_for(&self, identity: &Identity) -> Option<Arc<str>> {
        if let Some(bearer) = &identity.bearer {
            return Some(bearer.clone());
        }
        let now = now_secs();
        let session = &identity.session;
        if let Ok(cache) = session.token_cache.lock() {
            if let Some((token, exp)) = cache.as_ref() {
                if *exp > now + self.token_ttl / 2 {
                    return Some(token.clone());
                }
            }
        }
        let ttl = self.token_ttl.min(session.expires_at.saturating_sub(now)).max(1);
        let claims = TokenSigner::claims_for(&session.customer, &self.issuer, &self.site.name, now, ttl);
        match self.signer.sign(&claims) {
            Ok(token) => {
                let token: Arc<str> = token.into();
                if let Ok(mut cache) = session.token_cache.lock() {
                    *cache = Some((token.clone(), claims.exp));
                }
                Some(token)
            }
            Err(e) => {
                tracing::error!(site = %self.site.name, error = %e, "cannot sign the customer token");
                None
            }
        }
    }
}
