//! One site's gateway tokens: minting both purposes for a session, and verifying an
//! API token presented as `Authorization: Bearer`.
//!
//! Verification only proves the token is a live-looking API token of this site; the
//! gateway then looks its `sid` up in the session store, exactly as for a cookie, so
//! a token outlives neither a logout nor a refused refresh.

use super::signer::SignerError;
use super::{TokenClaims, TokenPurpose, TokenSigner};
use crate::secret::Sid;
use crate::sessions::SessionData;
use jsonwebtoken::{Algorithm, Validation};
use std::sync::Arc;
use std::time::Duration;

/// Clock skew allowed on `exp` of a presented API token.
pub const LEEWAY_SECS: u64 = 5;

/// Why a bearer token was refused (all counted as `bad_token`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BearerError {
    /// The JOSE header is unreadable or its `typ` is not `at+jwt` (an
    /// `X-Customer-Token`, an IdP token, anything else).
    #[error("not an API token (typ {0:?})")]
    NotApiToken(Option<String>),
    /// Signature, algorithm, `aud`, `iss`, `exp` or the claims' shape failed.
    #[error("invalid API token: {0}")]
    Invalid(#[from] jsonwebtoken::errors::Error),
    /// The `sid` claim is not a session handle.
    #[error("the API token names no session")]
    BadSid,
    /// The `kid` names no key of this site, current or previous.
    #[error("the API token's key is not this site's")]
    UnknownKey,
}

/// A verified API token: the session it names and the subject it was issued to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub sid: Sid,
    pub sub: String,
}

/// Mints and verifies the gateway tokens of one site.
pub struct SiteTokens {
    pub signer: Arc<TokenSigner>,
    /// `iss`: the site's public URL without trailing slash.
    pub issuer: String,
    site: String,
    ttl_secs: u64,
    api_validation: Validation,
}

impl SiteTokens {
    pub fn new(signer: Arc<TokenSigner>, issuer: &str, site: &str, ttl: Duration) -> Self {
        let mut api_validation = Validation::new(Algorithm::ES256);
        api_validation.set_audience(&[TokenPurpose::Api.audience(site)]);
        api_validation.set_issuer(&[issuer]);
        api_validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
        api_validation.leeway = LEEWAY_SECS;
        SiteTokens {
            signer,
            issuer: issuer.to_string(),
            site: site.to_string(),
            ttl_secs: ttl.as_secs(),
            api_validation,
        }
    }

    /// A `purpose` token for `session` (handle `sid`) and its expiry (Unix seconds):
    /// valid `token.ttl`, never past the session's absolute expiry, at least 1 s.
    pub fn mint(
        &self,
        purpose: TokenPurpose,
        session: &SessionData,
        sid: &Sid,
        now: u64,
    ) -> Result<(String, u64), SignerError> {
        let ttl = self.ttl_secs.min(session.expires_at.saturating_sub(now)).max(1);
        let mut claims = TokenSigner::claims_for(purpose, &session.customer, sid, &self.issuer, &self.site, now, ttl);
        if purpose == TokenPurpose::Customer {
            claims.auth_time = Some(session.signed_in_at());
            claims.acr = session.login.acr.clone();
            claims.amr = session.login.amr.clone();
        }
        Ok((self.signer.sign(purpose, &claims)?, claims.exp))
    }

    /// Lifetime of freshly minted tokens, in seconds (`token.ttl`).
    pub fn ttl_secs(&self) -> u64 {
        self.ttl_secs
    }

    /// Checks a presented bearer token: header `typ` `at+jwt`, ES256 only, signed by
    /// this site's key, `aud` `<site>:api`, `iss`, `exp` (5 s leeway), a `sub` and a
    /// well-formed `sid`. The `typ` is checked before the signature, so an
    /// `X-Customer-Token` (or any other JWT) is refused without an ECDSA verification.
    pub fn verify_api(&self, token: &str) -> Result<ApiToken, BearerError> {
        let header = jsonwebtoken::decode_header(token)?;
        if !TokenPurpose::Api.is_typ(header.typ.as_deref()) {
            return Err(BearerError::NotApiToken(header.typ));
        }
        // Any key of the ring, by `kid`: a token signed before a rotation still verifies.
        let key = match header.kid.as_deref() {
            None => self.signer.decoding_key(),
            kid => self.signer.decoding_key_for(kid).ok_or(BearerError::UnknownKey)?,
        };
        let data = jsonwebtoken::decode::<TokenClaims>(token, key, &self.api_validation)?;
        let TokenClaims { sid, sub, .. } = data.claims;
        let sid = Sid::parse(&sid).ok_or(BearerError::BadSid)?;
        Ok(ApiToken { sid, sub })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Customer;
    use crate::secret::SessionId;
    use crate::sessions::now_secs;
    use jsonwebtoken::{EncodingKey, Header};

    fn tokens(signer: &Arc<TokenSigner>) -> SiteTokens {
        SiteTokens::new(signer.clone(), "https://shop.example", "shop", Duration::from_secs(300))
    }

    fn session() -> SessionData {
        SessionData::new(
            "shop".into(),
            Customer {
                id: "alice".into(),
                email: Some("alice@example.com".into()),
                ..Customer::default()
            },
            None,
            Default::default(),
            3600,
        )
    }

    #[test]
    fn an_api_token_verifies_and_names_its_session() {
        let signer = Arc::new(TokenSigner::new(None).expect("signer"));
        let t = tokens(&signer);
        let sid = Sid::of(&SessionId::random());
        let now = now_secs();
        let (token, exp) = t.mint(TokenPurpose::Api, &session(), &sid, now).expect("mint");
        assert_eq!(exp, now + 300);
        assert_eq!(
            t.verify_api(&token).expect("verifies"),
            ApiToken {
                sid,
                sub: "alice".into()
            }
        );
    }

    #[test]
    fn a_customer_token_is_never_a_bearer() {
        let signer = Arc::new(TokenSigner::new(None).expect("signer"));
        let t = tokens(&signer);
        let sid = Sid::of(&SessionId::random());
        let (customer_token, _) = t
            .mint(TokenPurpose::Customer, &session(), &sid, now_secs())
            .expect("mint");
        assert!(matches!(
            t.verify_api(&customer_token),
            Err(BearerError::NotApiToken(Some(typ))) if typ == "customer+jwt"
        ));
    }

    /// Tokens signed by the site's own key that differ from a good API token in one
    /// respect each: every one is refused.
    #[test]
    fn api_tokens_of_the_wrong_type_audience_issuer_or_age_are_refused() {
        let signer = Arc::new(TokenSigner::new(None).expect("signer"));
        let t = tokens(&signer);
        let sid = Sid::of(&SessionId::random());
        let now = now_secs();
        let good = TokenSigner::claims_for(
            TokenPurpose::Api,
            &session().customer,
            &sid,
            "https://shop.example",
            "shop",
            now,
            300,
        );
        let api = TokenPurpose::Api;
        let with = |edit: &dyn Fn(&mut TokenClaims)| {
            let mut c = good.clone();
            edit(&mut c);
            c
        };
        // The customer purpose's audience, another site's, or none that is ours.
        for aud in ["shop", "outlet:api", "shop:api ", "shop:API"] {
            let token = signer.sign(api, &with(&|c| c.aud = aud.into())).expect("sign");
            assert!(t.verify_api(&token).is_err(), "aud {aud:?} accepted");
        }
        let cases: [(&str, TokenClaims); 5] = [
            ("issuer", with(&|c| c.iss = "https://shop.example/".into())),
            ("expired", with(&|c| c.exp = now - LEEWAY_SECS - 2)),
            ("sid", with(&|c| c.sid = "not-a-sid".into())),
            ("sid of a session id", with(&|c| c.sid = crate::secret::random_token())),
            ("empty sid", with(&|c| c.sid = String::new())),
        ];
        for (what, claims) in cases {
            let token = signer.sign(api, &claims).expect("sign");
            assert!(t.verify_api(&token).is_err(), "{what}: accepted");
        }
        // Within the leeway, an expired token still counts.
        let token = signer.sign(api, &with(&|c| c.exp = now - 1)).expect("sign");
        assert!(t.verify_api(&token).is_ok());

        // The right claims under another header type (signed by the right key).
        for typ in [Some("JWT"), Some("customer+jwt"), None] {
            let mut header = Header::new(Algorithm::ES256);
            header.typ = typ.map(str::to_string);
            let token = jsonwebtoken::encode(&header, &good, signer.encoding_key()).expect("sign");
            assert!(
                matches!(t.verify_api(&token), Err(BearerError::NotApiToken(_))),
                "typ {typ:?} accepted"
            );
        }
        // The right typ, but HS256 under a key anyone might guess, or `none`.
        let mut hs = Header::new(Algorithm::HS256);
        hs.typ = Some("at+jwt".into());
        let forged = jsonwebtoken::encode(&hs, &good, &EncodingKey::from_secret(b"shop")).expect("hs256");
        assert!(matches!(t.verify_api(&forged), Err(BearerError::Invalid(_))));
        let none = format!(
            "{}.{}.",
            b64(br#"{"alg":"none","typ":"at+jwt"}"#),
            b64(&serde_json::to_vec(&good).expect("json"))
        );
        assert!(t.verify_api(&none).is_err());
        // Another site's key, same claims and typ: its `kid` names no key of this site.
        let other = Arc::new(TokenSigner::new(None).expect("signer"));
        let token = other.sign(api, &good).expect("sign");
        assert!(matches!(t.verify_api(&token), Err(BearerError::UnknownKey)));
        for garbage in ["", "a.b.c", "Bearer x", "..."] {
            assert!(t.verify_api(garbage).is_err(), "{garbage:?}");
        }
    }

    fn b64(bytes: &[u8]) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }
}
