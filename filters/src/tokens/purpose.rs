//! What a gateway token is for, and how that is written into it.

/// The two kinds of gateway token. Both are ES256 JWTs signed by the site's key,
/// with `iss` = the site's `public_url` and a `sid` claim naming the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    /// `X-Customer-Token`, for the origin: `typ: customer+jwt`, `aud` = the site name.
    /// Never accepted by the gateway as a credential.
    Customer,
    /// The API token from `/_sso/token`, for `Authorization: Bearer` on the gateway:
    /// `typ: at+jwt` (RFC 9068), `aud` = `<site name>:api`.
    Api,
}

impl TokenPurpose {
    /// The JOSE header `typ` of this purpose's tokens.
    pub const fn typ(self) -> &'static str {
        match self {
            TokenPurpose::Customer => "customer+jwt",
            TokenPurpose::Api => "at+jwt",
        }
    }

    /// The `aud` of this purpose's tokens on site `site`.
    pub fn audience(self, site: &str) -> String {
        match self {
            TokenPurpose::Customer => site.to_string(),
            TokenPurpose::Api => format!("{site}:api"),
        }
    }

    /// True when a header `typ` names this purpose: the exact media type, compared
    /// case-insensitively, with or without its `application/` prefix (RFC 7515 §4.1.9).
    pub fn is_typ(self, typ: Option<&str>) -> bool {
        let Some(typ) = typ else { return false };
        let bare = match typ.get(..12) {
            Some(head) if head.eq_ignore_ascii_case("application/") => &typ[12..],
            _ => typ,
        };
        bare.eq_ignore_ascii_case(self.typ())
    }
}

#[cfg(test)]
mod tests {
    use super::TokenPurpose::{Api, Customer};

    #[test]
    fn each_purpose_has_its_own_type_and_audience() {
        assert_eq!(
            (Customer.typ(), Customer.audience("shop")),
            ("customer+jwt", "shop".into())
        );
        assert_eq!((Api.typ(), Api.audience("shop")), ("at+jwt", "shop:api".into()));
        for typ in ["at+jwt", "AT+JWT", "application/at+jwt", "Application/At+Jwt"] {
            assert!(Api.is_typ(Some(typ)), "{typ}");
            assert!(!Customer.is_typ(Some(typ)), "{typ}");
        }
        for typ in [
            "JWT",
            "jwt",
            "customer+jwt",
            "at+jwt ",
            "application/",
            "applicationXat+jwt",
            "x/at+jwt",
            "",
            "é",
        ] {
            assert!(!Api.is_typ(Some(typ)), "{typ:?} accepted as an API token");
        }
        assert!(!Api.is_typ(None), "a token without typ is no API token");
        assert!(Customer.is_typ(Some("customer+JWT")));
    }
}
