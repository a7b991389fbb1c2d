//! Origin credentials: what of the shopper's credentials the origin gets — not the
//! gateway's own (see `crate::origin_credentials` for the rule). Registered unless
//! the site sets `forward_gateway_credentials = true`. Upstream only.

use super::{Feature, SitePipeline, SiteRequest, UpstreamEdits};
use crate::auth::SiteAuth;
use crate::origin_credentials::{cookies_without, CredentialStrip};
use crate::reply::Reply;
use http::HeaderMap;
use sso_config::SiteConfig;

/// Removes the gateway's cookies and its verified API token from proxied requests.
pub struct OriginCredentials;

impl OriginCredentials {
    pub fn from_config(site: &SiteConfig) -> Option<Self> {
        (!site.forward_gateway_credentials).then_some(OriginCredentials)
    }
}

#[async_trait::async_trait]
impl Feature for OriginCredentials {
    fn name(&self) -> &'static str {
        "origin_credentials"
    }

    fn roles(&self) -> super::Roles {
        super::Roles {
            upstream: true,
            ..super::Roles::default()
        }
    }

    fn upstream(&self, site: &SitePipeline, r: &SiteRequest<'_>, edits: &mut UpstreamEdits) -> Result<(), Reply> {
        let bearer_used = r.identity.is_some_and(|i| i.via.is_bearer());
        let strip = Self::gateway_credentials(&site.core, &r.req.headers, bearer_used);
        if strip.authorization {
            edits.remove.push(http::header::AUTHORIZATION);
        }
        if strip.cookies.is_some() {
            edits.cookies = strip.cookies;
        }
        Ok(())
    }
}

impl OriginCredentials {
    /// What of the gateway's own credentials a request about to be proxied carries:
    /// its cookies, and `Authorization` when the gateway API token in it identified
    /// the request.
    pub fn gateway_credentials(core: &SiteAuth, headers: &HeaderMap, bearer_used: bool) -> CredentialStrip {
        CredentialStrip {
            authorization: bearer_used || Self::carries_gateway_api_token(core, headers),
            cookies: cookies_without(headers, |name| core.cookies.is_gateway_cookie(name)),
        }
    }

    /// True when `Authorization` holds what looks like this site's API token (JOSE
    /// header `typ: at+jwt` naming this site's key), whether or not it was the
    /// credential that identified the request — a single-page app sends the session
    /// cookie and its API token together. No signature check: the header is only
    /// removed, never believed.
    fn carries_gateway_api_token(core: &SiteAuth, headers: &HeaderMap) -> bool {
        let Some(value) = headers.get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
            return false;
        };
        let Some(token) = value
            .get(..7)
            .filter(|s| s.eq_ignore_ascii_case("bearer "))
            .map(|_| value[7..].trim())
        else {
            return false;
        };
        jsonwebtoken::decode_header(token).is_ok_and(|h| {
            crate::tokens::TokenPurpose::Api.is_typ(h.typ.as_deref()) && core.tokens.signer.knows_kid(h.kid.as_deref())
        })
    }
}
