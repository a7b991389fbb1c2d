//! Token revocation at logout (RFC 7009).
//!
//! When a shopper signs out, the session's refresh token (else its IdP access token,
//! kept only for `forward_idp_access_token` sites) is revoked at the IdP's
//! `revocation_endpoint`, if discovery lists one, authenticated like a token call.
//!
//! Best effort, and off the shopper's path: the local session is already gone when
//! this starts, so the logout answer never waits for the IdP. The call runs in its
//! own task, bounded by the IdP's `request_timeout` (the HTTP client's timeout); its
//! outcome is counted (`sso_gateway_idp_revocations_total`) and a failure is logged.
//! A spawned task and not a bounded await: an IdP that is slow or down would
//! otherwise add up to `request_timeout` to every logout, and the shopper gains
//! nothing from waiting (a failed revocation cannot be retried by them).
//!
//! Only the shopper's own logout revokes. A back-channel logout comes from the IdP,
//! which ended the grant itself; sessions ended as a group (cross-site global logout,
//! admin `DELETE`) are removed from the store by handle without being read, and their
//! tokens expire at the IdP (see docs/security.md).

use super::provider::{error_chain, ProviderState};
use sso_config::Secret;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What became of a revocation: the metric's `outcome` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevocationOutcome {
    /// The IdP answered 200 (RFC 7009 §2.2: also for a token it did not know).
    Revoked,
    /// The IdP answered with an error status (`invalid_client`, ...).
    Refused,
    /// The IdP could not be reached in time.
    Unreachable,
}

impl RevocationOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            RevocationOutcome::Revoked => "revoked",
            RevocationOutcome::Refused => "refused",
            RevocationOutcome::Unreachable => "unreachable",
        }
    }
}

/// Reports a finished revocation: outcome and how long the call took.
pub type RevocationReport = Arc<dyn Fn(RevocationOutcome, Duration) + Send + Sync>;

/// The token a logout revokes and its `token_type_hint`: the refresh token, else the
/// access token.
pub fn token_to_revoke(refresh: Option<Secret>, access: Option<Secret>) -> Option<(Secret, &'static str)> {
    match (refresh, access) {
        (Some(r), _) => Some((r, "refresh_token")),
        (None, Some(a)) => Some((a, "access_token")),
        (None, None) => None,
    }
}

/// Revokes `token` at the IdP of `state`; `None` when discovery lists no
/// `revocation_endpoint` (nothing is sent, nothing counted).
pub async fn revoke(
    state: &ProviderState,
    http: &openidconnect::reqwest::Client,
    client_id: &str,
    token: &Secret,
    hint: &'static str,
) -> Option<RevocationOutcome> {
    let endpoint = state.revocation_endpoint.as_ref()?;
    let mut form: Vec<(&'static str, String)> =
        vec![("token", token.expose().to_string()), ("token_type_hint", hint.into())];
    let request = match state.client_auth.authenticate(
        http.post(endpoint.clone()),
        &mut form,
        client_id,
        &state.assertion_audience(),
    ) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "token revocation not sent: the client assertion could not be signed");
            return Some(RevocationOutcome::Refused);
        }
    };
    match request.form(&form).send().await {
        Ok(r) if r.status().is_success() => Some(RevocationOutcome::Revoked),
        Ok(r) => {
            tracing::warn!(
                status = r.status().as_u16(),
                "the IdP refused to revoke the session's token"
            );
            Some(RevocationOutcome::Refused)
        }
        Err(e) => {
            tracing::warn!(error = %error_chain(&e), "the IdP could not be reached to revoke the session's token");
            Some(RevocationOutcome::Unreachable)
        }
    }
}

/// Starts [`revoke`] in its own task and reports its outcome; returns at once.
pub fn spawn_revocation(
    state: Arc<ProviderState>,
    http: openidconnect::reqwest::Client,
    client_id: String,
    token: (Secret, &'static str),
    report: RevocationReport,
) {
    if state.revocation_endpoint.is_none() {
        return;
    }
    tokio::spawn(async move {
        let started = Instant::now();
        if let Some(outcome) = revoke(&state, &http, &client_id, &token.0, token.1).await {
            report(outcome, started.elapsed());
        }
    });
}

impl super::LoginFlow {
    /// Revokes the token of `session` (signed in by this flow's IdP) in the background,
    /// when the IdP has a revocation endpoint; returns at once.
    pub fn revoke_at_logout(&self, session: &crate::sessions::SessionData) {
        let Some(state) = self.provider.current() else { return };
        let access = session.refresh.access().map(|(token, _)| token);
        let Some(token) = token_to_revoke(session.refresh.token(), access) else {
            return;
        };
        let (report, timer) = (self.revocations.clone(), self.timer.clone());
        spawn_revocation(
            state,
            self.provider.http.clone(),
            self.provider.config.client_id.clone(),
            token,
            Arc::new(move |outcome, took| {
                timer("revocation", took, outcome != RevocationOutcome::Unreachable);
                report(outcome, took);
            }),
        );
    }
}
