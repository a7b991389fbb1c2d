//! What a login flow yields and why it fails: the start of a login, a finished
//! sign-in, a refresh, and the typed errors each maps to a response and a metric
//! label (`CallbackError::response`).

use crate::identity::Customer;
use sso_config::Secret;
use url::Url;

/// Why a callback was refused. Each variant maps to a status, a page and a metric label.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallbackError {
    /// The IdP's metadata is not loaded (IdP unreachable since start-up).
    #[error("the identity provider is not reachable")]
    IdpUnavailable,
    /// No `state` parameter.
    #[error("the callback has no state")]
    StateMissing,
    /// A parameter appeared more than once (parameter pollution).
    #[error("the callback repeats the {0} parameter")]
    DuplicateParameter(&'static str),
    /// The state is unknown, expired or already used.
    #[error("the sign-in link is unknown, expired or already used")]
    StateUnknown,
    /// The browser finishing the flow is not the one that started it.
    #[error("the sign-in was started in another browser")]
    BrowserMismatch,
    /// The state was started for another of the site's IdPs (a mix-up attempt: a
    /// response of one IdP brought to another's callback).
    #[error("the sign-in was started with another identity provider")]
    IdpMismatch,
    /// The `iss` response parameter (RFC 9207) names another issuer, or is missing
    /// although the IdP says it always sends it.
    #[error("the response names issuer {0:?}, not this identity provider")]
    IssuerMismatch(String),
    /// The shopper cancelled at the IdP: its `error=access_denied` came back with
    /// this flow's valid state (already spent). Not a failure: the shopper goes back
    /// to the shop (`features::way_back`).
    #[error("the shopper cancelled the sign-in at the identity provider")]
    Cancelled {
        /// Where the login was going (same-site, checked again before use).
        return_to: String,
        /// A signed-in shopper's step-up, not a sign-in.
        step_up: bool,
    },
    /// The IdP answered with another `error` parameter (`server_error`,
    /// `login_required`, …) for this flow's valid state.
    #[error("the identity provider refused the sign-in: {code}")]
    IdpError {
        /// The IdP's error code, printable ASCII only.
        code: String,
        /// Where the login was going: the error page's way back.
        return_to: String,
    },
    /// The pushed authorization request (RFC 9126) failed: unreachable, refused, or
    /// an answer without a `request_uri`.
    #[error("the pushed authorization request failed: {0}")]
    PushedAuthorization(String),
    /// No `code` parameter.
    #[error("the callback has no code")]
    CodeMissing,
    /// The code could not be exchanged at the token endpoint.
    #[error("the code exchange failed: {0}")]
    TokenExchange(String),
    /// The token response carried no ID token.
    #[error("the identity provider sent no ID token")]
    NoIdToken,
    /// The ID token failed validation (signature, iss, aud, azp, exp, iat, nonce).
    #[error("the ID token is invalid: {0}")]
    IdTokenInvalid(String),
    /// `at_hash` does not match the access token.
    #[error("the access token does not belong to the ID token")]
    AccessTokenMismatch,
    /// Userinfo failed or named another subject.
    #[error("userinfo failed: {0}")]
    UserInfo(String),
    /// A step-up login's answer did not show the sign-in the route asked for: no or
    /// an old `auth_time`, another `acr`.
    #[error("the identity provider did not sign the customer in again as asked: {}", .0.code())]
    StepUpRefused(super::step_up::StepUpRefusal),
    /// A step-up login signed in another customer than the session's.
    #[error("the step-up signed in another customer")]
    StepUpOtherCustomer,
    /// The session store could not be reached (Redis down).
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
}

impl CallbackError {
    /// HTTP status, machine code (metric label), and the sentence shown to the shopper.
    pub fn response(&self) -> (u16, &'static str, &'static str) {
        use CallbackError::*;
        match self {
            IdpUnavailable => (
                503,
                "idp_unavailable",
                "Sign-in is temporarily unavailable. Please try again in a few minutes.",
            ),
            StateMissing | DuplicateParameter(_) | CodeMissing => (
                400,
                "bad_callback",
                "This sign-in response is not valid. Please start again.",
            ),
            StateUnknown => (
                400,
                "state_unknown",
                "This sign-in link has expired or was already used. Please start again.",
            ),
            BrowserMismatch => (
                400,
                "browser_mismatch",
                "This sign-in was started in another browser or tab that is gone. Please start again.",
            ),
            IdpMismatch | IssuerMismatch(_) => (
                400,
                "idp_mismatch",
                "This sign-in response does not come from the identity provider it was started with. Please start again.",
            ),
            Cancelled { .. } => (
                403,
                "sign_in_cancelled",
                "You cancelled the sign-in. You are not signed in; you can keep shopping or sign in again.",
            ),
            IdpError { code, .. } if code == "temporarily_unavailable" => (
                503,
                "idp_unavailable",
                "Sign-in is temporarily unavailable. Please try again in a few minutes.",
            ),
            IdpError { code, .. } if code == "server_error" => (
                502,
                "idp_error",
                "The identity provider did not complete the sign-in. Please try again.",
            ),
            IdpError { .. } => (403, "idp_refused", "The identity provider refused the sign-in."),
            TokenExchange(_) | NoIdToken | UserInfo(_) | PushedAuthorization(_) => (
                502,
                "idp_error",
                "The identity provider did not complete the sign-in. Please try again.",
            ),
            IdTokenInvalid(_) | AccessTokenMismatch => (
                502,
                "id_token_invalid",
                "The identity provider's answer could not be verified. Please try again.",
            ),
            StepUpRefused(refusal) => (
                403,
                refusal.code(),
                "The identity provider did not confirm your sign-in as this page needs. Your session is unchanged; please try again.",
            ),
            StepUpOtherCustomer => (
                403,
                "step_up_other_customer",
                "You confirmed your sign-in as another customer. Your session is unchanged; confirm it with the account you are signed in with.",
            ),
            Store(_) => (
                503,
                "store_unavailable",
                "Sign-in is temporarily unavailable. Please try again in a few minutes.",
            ),
        }
    }
}

/// A login that was started: send the browser to `authorize_url` with `flow_cookie` set.
pub struct LoginStart {
    pub authorize_url: Url,
    pub flow_cookie: String,
}

/// A completed login.
#[derive(Debug)]
pub struct LoginDone {
    /// As the IdP said it; `customer.id` is the subject until provisioning maps it.
    pub customer: Customer,
    /// The IdP's issuer, for the provisioning hook.
    pub issuer: String,
    /// The IdP's `email_verified`, when it said.
    pub email_verified: Option<bool>,
    pub id_token: String,
    pub refresh_token: Option<Secret>,
    /// Seconds the IdP's access token is valid (`expires_in`).
    pub access_lifetime: Option<u64>,
    /// The IdP's access token, kept only for routes that forward it.
    pub access_token: Secret,
    pub return_to: String,
    /// The `[[sites.idps]]` name of the IdP that signed the shopper in (`None`: the
    /// site's single `[sites.oidc]`).
    pub idp: Option<String>,
    /// The IdP's session (`sid` of the ID token), when it said: a back-channel logout
    /// token naming it ends the session.
    pub idp_session: Option<String>,
    /// When the shopper authenticated at the IdP (`auth_time`), when it said.
    pub auth_time: Option<u64>,
    /// The authentication context class (`acr`) and methods (`amr`) the IdP stated.
    pub acr: Option<String>,
    pub amr: Vec<String>,
    /// What a step-up login asked (already checked against `auth_time` and `acr`;
    /// the caller checks it is the same customer).
    pub step_up: Option<super::step_up::StepUpAsk>,
    /// Every claim of the ID token, with userinfo's added (route policies keep the
    /// ones they require).
    pub stated: serde_json::Map<String, serde_json::Value>,
}

/// A successful refresh: the rotated refresh token, if the IdP rotates, and the new
/// access token and its lifetime.
pub struct Refreshed {
    pub refresh_token: Option<Secret>,
    pub lifetime: Option<u64>,
    pub access_token: Secret,
}

/// Why a refresh did not happen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RefreshError {
    /// The IdP refused the refresh token (`invalid_grant`): the session must end.
    #[error("refused: {0}")]
    Refused(String),
    /// The IdP could not be asked or answered something else; try again later.
    #[error("{0}")]
    Unavailable(String),
}
