//! The identity for the origin: header values and the gateway-signed token.
//! The gateway strips incoming identity headers first, then sets these. Customer
//! fields were cleaned of control characters when the session was created.

use super::{Identity, SiteAuth};
use crate::sessions::now_secs;
use crate::tokens::TokenSigner;
use http::{HeaderName, HeaderValue};

impl SiteAuth {
    /// `(header name, value)` pairs to set on the upstream request.
    pub fn identity_headers(&self, identity: &Identity) -> Vec<(HeaderName, HeaderValue)> {
        let [id, email, name, groups, token] = &self.header_names;
        let c = identity.customer();
        let value = |s: &str| HeaderValue::from_bytes(s.as_bytes()).ok();
        let mut out = Vec::with_capacity(5);
        out.extend(value(&c.id).map(|v| (id.clone(), v)));
        out.extend(c.email.as_deref().and_then(value).map(|v| (email.clone(), v)));
        out.extend(c.name.as_deref().and_then(value).map(|v| (name.clone(), v)));
        if !c.groups.is_empty() {
            out.extend(value(&c.groups.join(",")).map(|v| (groups.clone(), v)));
        }
        out.extend(self.token_for(identity).map(|(v, _)| (token.clone(), v)));
        out
    }

    /// A gateway token for this identity and its expiry (Unix seconds): the bearer
    /// token it came with, or one cached on the session and re-minted when less than
    /// half its lifetime is left.
    pub fn token_for(&self, identity: &Identity) -> Option<(HeaderValue, u64)> {
        if let Some(bearer) = &identity.bearer {
            return HeaderValue::from_str(bearer)
                .ok()
                .map(|v| (v, identity.session.expires_at));
        }
        let now = now_secs();
        let session = &identity.session;
        if let Ok(cache) = session.token_cache.lock() {
            if let Some((token, exp)) = cache.as_ref() {
                if *exp > now + self.token_ttl / 2 {
                    return Some((token.clone(), *exp));
                }
            }
        }
        let ttl = self.token_ttl.min(session.expires_at.saturating_sub(now)).max(1);
        let claims = TokenSigner::claims_for(&session.customer, &self.issuer, &self.site.name, now, ttl);
        match self.signer.sign(&claims).map(|t| HeaderValue::from_str(&t)) {
            Ok(Ok(token)) => {
                if let Ok(mut cache) = session.token_cache.lock() {
                    *cache = Some((token.clone(), claims.exp));
                }
                Some((token, claims.exp))
            }
            Ok(Err(e)) => {
                tracing::error!(site = %self.site.name, error = %e, "the signed token is not a header value");
                None
            }
            Err(e) => {
                tracing::error!(site = %self.site.name, error = %e, "cannot sign the customer token");
                None
            }
        }
    }
}
