//! The code flow: start a login (PKCE S256, `state`, `nonce`, per-flow browser
//! binding), finish it at the callback (single-use state, code exchange, ID-token
//! validation per OIDC Core 3.1.3.7), and build the logout redirect.

use super::claims::{self, stated as stated_value, verified_email, ExtraClaims};
use super::id_token_policy::{check_authorized_party, harden_verifier, idp_answered, token_response_error};
use super::pending::{bounded_return_to, hash_binding, PendingLogin, PendingLogins};
use super::provider::{error_chain, OidcProvider, ProviderState, ALLOWED_ALGS};
use super::response_issuer::check_response_issuer;
use super::revocation::RevocationReport;
use super::step_up::StepUpAsk;
use crate::identity::Customer;
use crate::secret::random_token;
use crate::sessions::cookie::{find_cookie, flow_value, CookieCodec};
use crate::sessions::now_secs;
use openidconnect::core::CoreErrorResponseType;
use openidconnect::core::{
    CoreAuthPrompt, CoreAuthenticationFlow, CoreGenderClaim, CoreIdToken, CoreIdTokenClaims, CoreIdTokenVerifier,
};
use openidconnect::{
    AccessTokenHash, AuthenticationContextClass, AuthorizationCode, ClaimsVerificationError, CsrfToken, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, Scope, SignatureVerificationError, TokenResponse, UserInfoClaims,
};
use openidconnect::{RefreshToken, RequestTokenError};
use sso_config::Secret;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use super::outcomes::{CallbackError, LoginDone, LoginStart, RefreshError, Refreshed};

/// Records an IdP call: `endpoint`, how long it took, and whether the IdP answered
/// it (`false`: unreachable, timed out, or an answer that is not the protocol's; an
/// OAuth error response such as `invalid_grant` is an answer).
pub type IdpTimer = Arc<dyn Fn(&'static str, Duration, bool) + Send + Sync>;

pub struct LoginFlow {
    pub provider: Arc<OidcProvider>,
    pub pending: Arc<PendingLogins>,
    cookies: CookieCodec,
    pub(crate) timer: IdpTimer,
    /// Counts the revocations logouts make ([`super::revocation`]).
    pub(crate) revocations: RevocationReport,
}

impl LoginFlow {
    /// `pending`: where this site's started logins wait for their callback.
    pub fn new(provider: Arc<OidcProvider>, cookies: CookieCodec, timer: IdpTimer, pending: PendingLogins) -> Self {
        LoginFlow {
            provider,
            pending: Arc::new(pending),
            cookies,
            timer,
            revocations: Arc::new(|_, _| {}),
        }
    }

    /// Where the outcome of each logout's token revocation is reported.
    pub fn with_revocation_report(mut self, report: RevocationReport) -> Self {
        self.revocations = report;
        self
    }

    /// Starts a login that will land on `return_to` (already checked to be same-site;
    /// one longer than [`MAX_RETURN_TO`](super::pending::MAX_RETURN_TO) keeps only
    /// its path, or becomes `/`, so a pending login stays small whatever the URL).
    ///
    /// A step-up login (`step_up`) also asks for `max_age` (and `prompt=login` when
    /// it is 0) and `acr_values`, and its callback checks that the IdP complied.
    pub async fn start(&self, return_to: String, step_up: Option<StepUpAsk>) -> Result<LoginStart, CallbackError> {
        let state = self.provider.current().ok_or(CallbackError::IdpUnavailable)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = state.client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for scope in self.provider.config.scopes.iter().filter(|s| *s != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        if let Some(ask) = &step_up {
            if let Some(max_age) = ask.max_age {
                request = request.set_max_age(Duration::from_secs(max_age));
                if max_age == 0 {
                    request = request.add_prompt(CoreAuthPrompt::Login);
                }
            }
            for acr in &ask.acr_values {
                request = request.add_auth_context_value(AuthenticationContextClass::new(acr.clone()));
            }
        }
        let (mut authorize_url, csrf, nonce) = request.set_pkce_challenge(challenge).url();
        if let Some(par_endpoint) = &state.par_endpoint {
            let started = Instant::now();
            let pushed = super::par::push(
                &state,
                &self.provider.http,
                &self.provider.config.client_id,
                par_endpoint,
                &authorize_url,
            )
            .await;
            (self.timer)("par", started.elapsed(), pushed.is_ok());
            authorize_url = pushed?;
        }
        let created_at = now_secs();
        let binding = flow_value(created_at, &random_token());
        self.pending
            .insert(
                csrf.secret(),
                PendingLogin {
                    nonce,
                    pkce_verifier: verifier,
                    return_to: bounded_return_to(return_to),
                    binding_hash: hash_binding(&binding),
                    created_at,
                    idp: self.provider.idp.clone(),
                    step_up,
                },
            )
            .await?;
        let ttl = super::pending::PENDING_TTL.as_secs() as i64;
        Ok(LoginStart {
            authorize_url,
            flow_cookie: self.cookies.set_flow(csrf.secret(), &binding, ttl),
        })
    }

    /// `Set-Cookie` that removes the flow cookie for this callback's state, if any.
    pub fn clear_flow_cookie(&self, query: &str) -> Option<String> {
        let state = url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "state")?
            .1;
        Some(self.cookies.clear_flow(&state))
    }

    /// Finishes a login from the callback's query string and request headers.
    pub async fn finish(&self, query: &str, headers: &http::HeaderMap) -> Result<LoginDone, CallbackError> {
        let params = CallbackParams::parse(query)?;
        let state_param = params.state.ok_or(CallbackError::StateMissing)?;
        // Taken before anything else: whatever happens next, this state is spent.
        let pending = self
            .pending
            .take(&state_param)
            .await?
            .ok_or(CallbackError::StateUnknown)?;
        let binding = find_cookie(headers, &self.cookies.flow_name(&state_param)).unwrap_or("");
        if !pending.binding_matches(binding) {
            return Err(CallbackError::BrowserMismatch);
        }
        // Mix-up defence: a login finishes only at the callback of the IdP it was
        // started for, and (RFC 9207) only with a response that IdP issued.
        if pending.idp != self.provider.idp {
            return Err(CallbackError::IdpMismatch);
        }
        if let Some(current) = self.provider.current() {
            let expected = current.metadata.issuer().as_str();
            // A wrong `iss` is refused on any response; a missing one only on a
            // response that carries a code (an error response signs nobody in).
            let required = current.iss_parameter_required && params.code.is_some();
            check_response_issuer(params.iss.as_deref(), expected, required)?;
        }
        if let Some(error) = params.error {
            // Anyone can send a callback: only a short run of printable ASCII (the
            // alphabet of RFC 6749 error codes) reaches the log, never a line break.
            let code: String = error.chars().filter(char::is_ascii_graphic).take(64).collect();
            let return_to = pending.return_to;
            if code == "access_denied" {
                let step_up = pending.step_up.is_some();
                return Err(CallbackError::Cancelled { return_to, step_up });
            }
            return Err(CallbackError::IdpError { code, return_to });
        }
        let code = params.code.ok_or(CallbackError::CodeMissing)?;
        let state = self.provider.current().ok_or(CallbackError::IdpUnavailable)?;

        let assertion = state
            .token_assertion(&self.provider.config.client_id)
            .map_err(CallbackError::TokenExchange)?;
        let mut request = state
            .client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| CallbackError::TokenExchange(e.to_string()))?
            .set_pkce_verifier(pending.pkce_verifier);
        for (name, value) in assertion {
            request = request.add_extra_param(name, value);
        }
        let started = Instant::now();
        let exchange = request.request_async(&self.provider.http).await;
        (self.timer)("token", started.elapsed(), idp_answered(&exchange));
        let tokens = exchange.map_err(token_response_error)?;
        let id_token = tokens.id_token().ok_or(CallbackError::NoIdToken)?.clone();

        let (state, claims) = self.verify_id_token(state, &id_token, &pending.nonce).await?;
        check_authorized_party(&claims, &self.provider.config.client_id).map_err(CallbackError::IdTokenInvalid)?;
        if let Some(expected) = claims.access_token_hash() {
            let alg = id_token
                .signing_alg()
                .map_err(|e| CallbackError::IdTokenInvalid(e.to_string()))?;
            let verifier = self.verifier(&state);
            let key = id_token
                .signing_key(&verifier)
                .map_err(|e| CallbackError::IdTokenInvalid(e.to_string()))?;
            let actual = AccessTokenHash::from_token(tokens.access_token(), alg, key)
                .map_err(|e| CallbackError::IdTokenInvalid(e.to_string()))?;
            if actual != *expected {
                return Err(CallbackError::AccessTokenMismatch);
            }
        }
        // A subject the origin could not be given as it is would be merged with
        // another one by cleaning (`a\nb` and `ab`): refused, never rewritten.
        if claims.subject().chars().any(char::is_control) {
            return Err(CallbackError::IdTokenInvalid(
                "the subject contains control characters".into(),
            ));
        }
        // An address the IdP has not verified is not an identity (unless the site
        // says otherwise): anyone could type the shop owner's.
        let require_verified = self.provider.config.require_verified_email;
        let mut stated = claims::payload(&id_token.to_string());
        let mut customer = Customer {
            id: claims.subject().to_string(),
            email: verified_email(claims.email(), claims.email_verified(), require_verified),
            name: claims.name().and_then(|n| n.get(None)).map(|n| n.to_string()),
            groups: Vec::new(),
        };
        let mut email_verified = claims.email_verified();
        if self.provider.config.use_userinfo {
            let said = self
                .merge_userinfo(&state, &tokens, claims.subject().clone(), &mut customer, &mut stated)
                .await?;
            email_verified = said.or(email_verified);
        }
        // Groups from the ID token and from userinfo (many IdPs send them only there).
        customer.groups = claims::values(stated.get("groups"));
        let auth_time = claims.auth_time().map(|t| u64::try_from(t.timestamp()).unwrap_or(0));
        let acr = claims.auth_context_ref().and_then(|a| stated_value(a.as_str()));
        if let Some(ask) = &pending.step_up {
            ask.check(auth_time, acr.as_deref(), now_secs())
                .map_err(CallbackError::StepUpRefused)?;
        }
        Ok(LoginDone {
            customer,
            issuer: self.provider.config.issuer.to_string(),
            email_verified,
            id_token: id_token.to_string(),
            refresh_token: tokens.refresh_token().map(|t| Secret::new(t.secret().clone())),
            access_lifetime: tokens.expires_in().map(|d| d.as_secs()),
            access_token: Secret::new(tokens.access_token().secret().clone()),
            return_to: pending.return_to,
            idp: pending.idp,
            idp_session: stated.get("sid").and_then(super::backchannel::usable_session_id),
            auth_time,
            acr,
            amr: claims
                .auth_method_refs()
                .map(|all| all.iter().filter_map(|m| stated_value(m.as_str())).take(16).collect())
                .unwrap_or_default(),
            step_up: pending.step_up,
            stated,
        })
    }

    fn verifier<'a>(&self, state: &'a ProviderState) -> CoreIdTokenVerifier<'a> {
        let verifier = harden_verifier(state.client.id_token_verifier());
        // A client registered for one ID-token algorithm takes no other.
        match self.provider.config.id_token_signed_response_alg {
            Some(_) => verifier.set_allowed_algs(state.id_token_algs.clone()),
            None => verifier,
        }
    }

    /// The verifier of `id_token`'s claims: when ring has verified its signature with
    /// the IdP's key, openidconnect checks everything but the signature; otherwise
    /// everything ([`super::fast_signature`]).
    fn claims_verifier<'a>(&self, state: &'a ProviderState, id_token: &CoreIdToken) -> CoreIdTokenVerifier<'a> {
        let allowed = match self.provider.config.id_token_signed_response_alg {
            Some(_) => &state.id_token_algs[..],
            None => &ALLOWED_ALGS[..],
        };
        let verifier = self.verifier(state);
        if super::fast_signature::verified(&id_token.to_string(), &state.rsa_keys, allowed) {
            verifier.insecure_disable_signature_check()
        } else {
            verifier
        }
    }

    /// Verifies the ID token; when no published key matches it (a rotated key, or a
    /// forged `kid`), refetches the JWKS (single flight, rate-limited) and tries once more.
    async fn verify_id_token(
        &self,
        state: Arc<ProviderState>,
        id_token: &CoreIdToken,
        nonce: &Nonce,
    ) -> Result<(Arc<ProviderState>, CoreIdTokenClaims), CallbackError> {
        let first = id_token.claims(&self.claims_verifier(&state, id_token), nonce).cloned();
        match first {
            Ok(claims) => Ok((state, claims)),
            Err(ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoMatchingKey)) => {
                let started = Instant::now();
                let refetched = self.provider.refetch_jwks(state.jwks_generation).await;
                (self.timer)("jwks", started.elapsed(), refetched.is_ok());
                match refetched {
                    Ok(true) => {}
                    Ok(false) => return Err(CallbackError::IdTokenInvalid("no key matches the token's kid".into())),
                    Err(e) => return Err(CallbackError::IdTokenInvalid(e.to_string())),
                }
                let state = self.provider.current().ok_or(CallbackError::IdpUnavailable)?;
                let claims = id_token
                    .claims(&self.claims_verifier(&state, id_token), nonce)
                    .cloned()
                    .map_err(|e| CallbackError::IdTokenInvalid(error_chain(&e)))?;
                Ok((state, claims))
            }
            Err(e) => Err(CallbackError::IdTokenInvalid(error_chain(&e))),
        }
    }

    async fn merge_userinfo(
        &self,
        state: &ProviderState,
        tokens: &openidconnect::core::CoreTokenResponse,
        subject: openidconnect::SubjectIdentifier,
        customer: &mut Customer,
        stated: &mut serde_json::Map<String, serde_json::Value>,
    ) -> Result<Option<bool>, CallbackError> {
        let request = state
            .client
            .user_info(tokens.access_token().clone(), Some(subject))
            .map_err(|e| CallbackError::UserInfo(e.to_string()))?;
        let started = Instant::now();
        let info: Result<UserInfoClaims<ExtraClaims, CoreGenderClaim>, _> =
            request.request_async(&self.provider.http).await;
        (self.timer)("userinfo", started.elapsed(), info.is_ok());
        let info = info.map_err(|e| CallbackError::UserInfo(error_chain(&e)))?;
        let require_verified = self.provider.config.require_verified_email;
        let mut said = info.email_verified();
        if let Some(email) = info.email() {
            match verified_email(Some(email), info.email_verified(), require_verified) {
                Some(kept) => {
                    // Another address than the ID token's takes only userinfo's word
                    // on whether it is verified (silence is not a yes).
                    if customer.email.as_deref() != Some(kept.as_str()) {
                        said = Some(said == Some(true));
                    }
                    customer.email = Some(kept);
                }
                // Userinfo is the newer word: an address it calls unverified goes.
                None if info.email_verified() == Some(false) && customer.email.as_deref() == Some(email.as_str()) => {
                    customer.email = None;
                }
                None => {}
            }
        }
        if let Some(name) = info.name().and_then(|n| n.get(None)) {
            customer.name = Some(name.to_string());
        }
        claims::merge(stated, info.additional_claims().all.clone());
        Ok(said)
    }

    /// Uses a refresh token at the token endpoint.
    pub async fn refresh(&self, token: &Secret) -> Result<Refreshed, RefreshError> {
        let state = self
            .provider
            .current()
            .ok_or_else(|| RefreshError::Unavailable("no IdP metadata".into()))?;
        let refresh_token = RefreshToken::new(token.expose().to_string());
        let assertion = state
            .token_assertion(&self.provider.config.client_id)
            .map_err(RefreshError::Unavailable)?;
        let mut request = state
            .client
            .exchange_refresh_token(&refresh_token)
            .map_err(|e| RefreshError::Unavailable(e.to_string()))?;
        for (name, value) in assertion {
            request = request.add_extra_param(name, value);
        }
        let started = Instant::now();
        let result = request.request_async(&self.provider.http).await;
        (self.timer)("refresh", started.elapsed(), idp_answered(&result));
        match result {
            Ok(t) => Ok(Refreshed {
                refresh_token: t.refresh_token().map(|r| Secret::new(r.secret().clone())),
                lifetime: t.expires_in().map(|d| d.as_secs()),
                access_token: Secret::new(t.access_token().secret().clone()),
            }),
            Err(RequestTokenError::ServerResponse(r)) if *r.error() == CoreErrorResponseType::InvalidGrant => {
                Err(RefreshError::Refused(r.to_string()))
            }
            Err(e) => Err(RefreshError::Unavailable(error_chain(&e))),
        }
    }

    /// Where to send the browser after the local session is gone: the configured
    /// `logout_url` with its parameters, else the IdP's `end_session_endpoint`
    /// (RP-initiated logout), else the post-logout page.
    pub fn logout_target(&self, id_token: Option<&str>) -> String {
        let config = &self.provider.config;
        if let Some(url) = &config.logout_url {
            let mut url = url.clone();
            url.query_pairs_mut().extend_pairs(config.logout_params.iter());
            return url.to_string();
        }
        let end_session = self.provider.current().and_then(|s| s.end_session_endpoint.clone());
        match end_session {
            Some(mut url) => {
                {
                    let mut q = url.query_pairs_mut();
                    if let Some(hint) = id_token {
                        q.append_pair("id_token_hint", hint);
                    }
                    q.append_pair("post_logout_redirect_uri", self.provider.post_logout_url.as_str());
                    q.append_pair("client_id", &config.client_id);
                    q.append_pair("state", &random_token());
                    q.extend_pairs(config.logout_params.iter());
                }
                url.to_string()
            }
            None => config.post_logout_path.clone(),
        }
    }
}

/// The callback's parameters; a repeated `state`, `code`, `error` or `iss` is refused.
struct CallbackParams {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
    iss: Option<String>,
}

impl CallbackParams {
    fn parse(query: &str) -> Result<Self, CallbackError> {
        let mut p = CallbackParams {
            state: None,
            code: None,
            error: None,
            iss: None,
        };
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            let (slot, name) = match k.as_ref() {
                "state" => (&mut p.state, "state"),
                "code" => (&mut p.code, "code"),
                "error" => (&mut p.error, "error"),
                "iss" => (&mut p.iss, "iss"),
                _ => continue,
            };
            if slot.replace(v.into_owned()).is_some() {
                return Err(CallbackError::DuplicateParameter(name));
            }
        }
        if let Some(e) = &mut p.error {
            // Only a short, printable error code is kept (it is shown and logged).
            e.retain(|c| c.is_ascii_alphanumeric() || c == '_');
            e.truncate(64);
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameters_are_refused() {
        assert!(matches!(
            CallbackParams::parse("state=a&state=b&code=c"),
            Err(CallbackError::DuplicateParameter("state"))
        ));
        assert!(matches!(
            CallbackParams::parse("state=a&code=b&code=c"),
            Err(CallbackError::DuplicateParameter("code"))
        ));
        assert!(matches!(
            CallbackParams::parse("state=a&code=b&iss=x&iss=y"),
            Err(CallbackError::DuplicateParameter("iss"))
        ));
        let p = CallbackParams::parse("state=a&code=b&error=access_denied%3Cscript%3E").expect("parses");
        assert_eq!(p.error.as_deref(), Some("access_deniedscript"));
    }
}
