//! When discovery names another issuer than the configured one. Discovery itself
//! refuses the document (OIDC Discovery §4.3: the issuer must be identical); only
//! then is the advertised issuer read again ([`super::diagnosis`]) and looked at
//! here, to tell two cases of the IdPs shops use apart from an ordinary mismatch.
//!
//! **A trailing slash.** Auth0 (`https://TENANT.auth0.com/`) and Azure AD B2C
//! (`https://TENANT.b2clogin.com/TENANT_ID/v2.0/`) end their issuer with `/`. The
//! configured URL is read without one (a host-only URL cannot say whether it had
//! one), so an advertised issuer that is exactly the configured one plus `/` is the
//! same URL, and that exact string is the issuer ID tokens must carry.
//!
//! **Multi-tenant metadata.** Microsoft Entra ID's `/common/v2.0` and
//! `/organizations/v2.0` discovery documents name an issuer *template*,
//! `"issuer": "https://login.microsoftonline.com/{tenantid}/v2.0"`: one document for
//! every tenant, whose ID tokens each carry their own tenant's issuer. A gateway
//! configured with such an issuer would have to accept sign-ins from any tenant
//! (anyone with a Microsoft work account) or compare against nothing; it does
//! neither. Discovery fails (no login starts, `/readyz` says why) with an error
//! that names `oidc.issuer` and the tenant-specific issuer to use instead.

use super::provider::ProviderError;

/// Whether an advertised issuer is a template (`…/{tenantid}/…`) rather than a URL.
pub fn is_template(advertised: &str) -> bool {
    placeholder(advertised).is_some()
}

/// The byte range of the first `{…}` placeholder in `advertised`.
fn placeholder(advertised: &str) -> Option<std::ops::Range<usize>> {
    let start = advertised.find('{')?;
    let end = start + advertised[start..].find('}')?;
    Some(start..end + 1)
}

/// The issuer an operator should configure: the template with its placeholder
/// written as `TENANT_ID` (for Entra ID `https://login.microsoftonline.com/TENANT_ID/v2.0`).
pub fn tenant_specific(advertised: &str) -> String {
    match placeholder(advertised) {
        Some(range) => format!("{}TENANT_ID{}", &advertised[..range.start], &advertised[range.end..]),
        None => advertised.to_string(),
    }
}

/// Whether `advertised` is `configured` (as discovery was asked, without a trailing
/// slash) with a trailing slash.
pub fn is_configured_with_slash(configured: &str, advertised: &str) -> bool {
    advertised.strip_suffix('/') == Some(configured.trim_end_matches('/')) && !configured.ends_with('/')
}

/// The error for a discovery document whose issuer is the template `advertised`.
pub fn refused(advertised: &str) -> ProviderError {
    ProviderError::IssuerTemplate {
        advertised: advertised.to_string(),
        use_instead: tenant_specific(advertised),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_trailing_slash_makes_the_same_issuer() {
        assert!(is_configured_with_slash(
            "https://shop.eu.auth0.com",
            "https://shop.eu.auth0.com/"
        ));
        assert!(is_configured_with_slash(
            "https://shop.b2clogin.com/tid/v2.0",
            "https://shop.b2clogin.com/tid/v2.0/"
        ));
        assert!(!is_configured_with_slash(
            "https://shop.eu.auth0.com",
            "https://shop.eu.auth0.com//"
        ));
        assert!(!is_configured_with_slash(
            "https://shop.eu.auth0.com",
            "https://evil.auth0.com/"
        ));
        assert!(!is_configured_with_slash("https://a.example", "https://a.example/x/"));
    }

    #[test]
    fn entra_templates_become_the_tenant_specific_issuer() {
        let entra = "https://login.microsoftonline.com/{tenantid}/v2.0";
        assert!(is_template(entra));
        assert_eq!(
            tenant_specific(entra),
            "https://login.microsoftonline.com/TENANT_ID/v2.0"
        );
        assert_eq!(
            tenant_specific("https://login.microsoftonline.com/{tenant}/"),
            "https://login.microsoftonline.com/TENANT_ID/"
        );
        assert!(!is_template(
            "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0"
        ));
        assert!(!is_template("https://idp.example/{unclosed"));
        let text = refused(entra).to_string();
        assert!(text.starts_with("issuer: "), "{text}");
        assert!(text.contains("use the tenant-specific issuer https://login.microsoftonline.com/TENANT_ID/v2.0"));
    }
}
