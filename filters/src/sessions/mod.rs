//! Sessions: what a signed-in shopper is ([`SessionData`]) and the cookie that names
//! one ([`cookie`]). The store traits and both stores (memory and Redis, side by
//! side) are in [`crate::store`], which imports this module and never the reverse. The cookie only carries an opaque, signed id; stores
//! key sessions by its public handle ([`crate::secret::Sid`]).

pub mod cookie;

use crate::identity::Customer;
use arc_swap::ArcSwapOption;
use sso_config::Secret;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Unix seconds as an RFC 3339 timestamp (UTC, whole seconds).
pub fn rfc3339(unix: u64) -> String {
    let at = std::time::UNIX_EPOCH.checked_add(Duration::from_secs(unix));
    at.map_or_else(
        || "9999-12-31T23:59:59Z".into(),
        |t| humantime::format_rfc3339_seconds(t).to_string(),
    )
}

/// The IdP refresh token of a session and when to use it. The gateway refreshes once
/// three quarters of the access token's lifetime have passed, or every
/// `oidc.revalidate_interval` when the IdP gave no lifetime; exactly one request does
/// it ([`RefreshState::claim`], then a lock in the shared store), the others go on
/// with the session as it is.
///
/// All arithmetic on IdP-supplied lifetimes saturates: a huge `expires_in` means
/// "not for a long time", never an overflow.
#[derive(Debug, Default)]
pub struct RefreshState {
    token: Mutex<Option<Secret>>,
    /// Unix seconds from which the next request refreshes; 0 = never.
    due_at: AtomicU64,
    in_flight: AtomicBool,
    /// Seconds between refreshes when the access token has no stated lifetime.
    revalidate_secs: u64,
    /// The IdP's access token and its expiry (Unix seconds, 0 = not stated), kept
    /// only for sites that forward it to the origin (`forward_idp_access_token`).
    access: Mutex<Option<(Secret, u64)>>,
}

impl RefreshState {
    /// `lifetime`: seconds the IdP's access token is valid (`expires_in`), if it said;
    /// `revalidate`: how often to refresh when it did not.
    pub fn new(token: Option<Secret>, lifetime: Option<u64>, revalidate: Duration) -> Self {
        let state = RefreshState {
            token: Mutex::new(token),
            revalidate_secs: revalidate.as_secs().max(1),
            ..RefreshState::default()
        };
        state.schedule(now_secs(), lifetime);
        state
    }

    /// No grant to refresh, but a check due every `interval` (a session derived from
    /// an SSO session checks that it is still alive).
    pub fn checking_every(interval: Duration) -> Self {
        let secs = interval.as_secs().max(1);
        RefreshState {
            revalidate_secs: secs,
            due_at: AtomicU64::new(now_secs().saturating_add(secs)),
            ..RefreshState::default()
        }
    }

    /// Refresh state as stored: `token`, the Unix second the next refresh is due (0 =
    /// never) and the revalidation interval in seconds.
    pub fn from_stored(token: Option<Secret>, due_at: u64, revalidate_secs: u64) -> Self {
        RefreshState {
            token: Mutex::new(token),
            due_at: AtomicU64::new(due_at),
            in_flight: AtomicBool::new(false),
            revalidate_secs: revalidate_secs.max(1),
            access: Mutex::new(None),
        }
    }

    /// The IdP access token kept with the session and its expiry (Unix seconds, 0 =
    /// not stated), whatever its age.
    pub fn access(&self) -> Option<(Secret, u64)> {
        self.access.lock().ok().and_then(|a| a.clone())
    }

    /// Keeps (or drops, with `None`) the IdP access token and its expiry.
    pub fn set_access(&self, access: Option<(Secret, u64)>) {
        if let Ok(mut slot) = self.access.lock() {
            *slot = access;
        }
    }

    /// The refresh token, if the IdP gave one.
    pub fn token(&self) -> Option<Secret> {
        self.token.lock().ok().and_then(|t| t.clone())
    }

    /// Unix second the next refresh is due; 0 = never.
    pub fn due_at(&self) -> u64 {
        self.due_at.load(Ordering::Acquire)
    }

    pub fn revalidate_secs(&self) -> u64 {
        self.revalidate_secs
    }

    /// Claims this process's right to refresh (no other request here is refreshing);
    /// false when one already is. Released by [`Self::finish`] or [`Self::retry_in`].
    pub fn claim(&self) -> bool {
        self.in_flight
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    fn schedule(&self, now: u64, lifetime: Option<u64>) {
        let has_token = self.token.lock().map(|t| t.is_some()).unwrap_or(false);
        let due = if has_token {
            refresh_due(now, lifetime, self.revalidate_secs)
        } else {
            0
        };
        self.due_at.store(due, Ordering::Release);
    }

    pub fn is_due(&self, now: u64) -> bool {
        let due = self.due_at.load(Ordering::Acquire);
        due != 0 && now >= due
    }

    /// Gives up this process's claim without refreshing (the due time stays).
    pub fn release(&self) {
        self.in_flight.store(false, Ordering::Release);
    }

    /// A refresh succeeded: keep the rotated token (if any) and schedule the next one.
    pub fn finish(&self, rotated: Option<Secret>, lifetime: Option<u64>) {
        if let (Some(new), Ok(mut token)) = (rotated, self.token.lock()) {
            *token = Some(new);
        }
        self.schedule(now_secs(), lifetime);
        self.in_flight.store(false, Ordering::Release);
    }

    /// A refresh failed for a passing reason: try again in `secs`.
    pub fn retry_in(&self, secs: u64) {
        self.due_at
            .store(now_secs().saturating_add(secs).max(1), Ordering::Release);
        self.in_flight.store(false, Ordering::Release);
    }
}

/// When a session holding a refresh token refreshes next (Unix seconds, never 0):
/// after three quarters of `lifetime`, at least 1 s on; every `revalidate_secs`
/// when the IdP stated no lifetime. Saturates instead of overflowing.
fn refresh_due(now: u64, lifetime: Option<u64>, revalidate_secs: u64) -> u64 {
    // `l - l / 4` is `l * 3 / 4` rounded up, without the overflow of `l * 3`.
    let wait = lifetime.map_or(revalidate_secs, |l| l - l / 4);
    now.saturating_add(wait.max(1))
}

/// What the gateway knows about a signed-in shopper. Immutable once created, except
/// for the refresh state, the last use, and the cached gateway token (the last two
/// per process, never stored: see [`crate::store::record`]).
#[derive(Debug)]
pub struct SessionData {
    /// The site the session belongs to (shared, not copied per session).
    pub site: Arc<str>,
    pub customer: Customer,
    /// The IdP's ID token, kept only when logout sends it as `id_token_hint`
    /// (`oidc.logout_id_token_hint`).
    pub id_token: Option<String>,
    /// The IdP's refresh token, when it gave one, and when to use it.
    pub refresh: RefreshState,
    pub created_at: u64,
    /// Absolute expiry (Unix seconds); idle expiry is tracked by the store.
    pub expires_at: u64,
    /// Unix second of the last request this process saw with the session.
    pub last_seen: AtomicU64,
    /// The last `X-Customer-Token` minted for this session and its expiry (one
    /// pointer: a lock and the value inline took 56 bytes, and every byte of a
    /// session counts a million times).
    pub token_cache: ArcSwapOption<(http::HeaderValue, u64)>,
    /// How the shopper signed in: which method, which IdP, which subject.
    pub login: LoginSource,
    /// The handle of the cross-site SSO session this session is linked to, if any
    /// (see [`crate::cross_site`]): a global logout ends them together.
    pub sso: Option<String>,
}

/// How a session was signed in. Stored with the session: logout and refresh go to
/// the IdP that signed the shopper in, and support can tell the IdP subject from the
/// shop's customer id (they differ once a provisioning hook maps one to the other).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginSource {
    pub method: LoginMethod,
    /// The name of the site's IdP (`[[sites.idps]]` name) that signed the shopper
    /// in; `None` for the site's single `[sites.oidc]` or a method without an IdP.
    pub idp: Option<String>,
    /// The IdP's subject (`sub`), or the `customer_id` a customer-login JWT named.
    pub subject: String,
    /// The issuer of the IdP that signed the shopper in (several IdPs only): a reload
    /// that puts another issuer behind the same name does not inherit its sessions.
    pub issuer: Option<String>,
    /// The IdP's session (`sid` of the ID token), when it said: a back-channel
    /// logout naming it ends this session.
    pub idp_session: Option<String>,
    /// The customer namespace of the session's customer id (`sso_config::namespaces`):
    /// the IdP's, the merchant app's, or the provisioning hook's. Empty for a record
    /// written before it was kept.
    pub namespace: String,
    /// When the shopper authenticated (Unix seconds): the IdP's `auth_time`, the
    /// moment of a customer-login JWT, the first sign-in of an SSO session; 0 when
    /// not known (the session's creation stands in for it).
    pub auth_time: u64,
    /// The authentication context class (`acr`) and methods (`amr`) the IdP stated.
    pub acr: Option<String>,
    pub amr: Vec<String>,
    /// The customer's email address is verified: the IdP said `email_verified`; or,
    /// for a customer-login JWT, the token carried an `email` claim, which the
    /// merchant's website vouches for by signing it (docs/customer-login.md); a
    /// one-time-token sign-in keeps what the first sign-in said.
    pub email_verified: bool,
    /// The claims a route of the configuration requires (`require_claims`), as the
    /// ID token and userinfo stated them: `(claim, values)`, only those.
    pub claims: Vec<(String, Vec<String>)>,
}

/// The ways a shopper can be signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginMethod {
    /// The OpenID Connect code flow with an IdP.
    Oidc,
    /// A customer-login JWT signed by the merchant's website.
    CustomerLogin,
    /// A one-time token of the group's auth host (cross-site sign-on): the shopper
    /// signed in on another site of the group.
    Ott,
}

impl LoginMethod {
    /// The metric label and stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            LoginMethod::Oidc => "oidc",
            LoginMethod::CustomerLogin => "customer_login",
            LoginMethod::Ott => "ott",
        }
    }

    pub(crate) fn as_u8(self) -> u8 {
        match self {
            LoginMethod::Oidc => 0,
            LoginMethod::CustomerLogin => 1,
            LoginMethod::Ott => 2,
        }
    }

    pub(crate) fn from_u8(v: u8) -> Option<Self> {
        match v {
            0 => Some(LoginMethod::Oidc),
            1 => Some(LoginMethod::CustomerLogin),
            2 => Some(LoginMethod::Ott),
            _ => None,
        }
    }
}

impl LoginSource {
    /// A sign-in through the site's single IdP as `subject`.
    pub fn oidc(subject: impl Into<String>) -> Self {
        LoginSource {
            method: LoginMethod::Oidc,
            idp: None,
            subject: subject.into(),
            issuer: None,
            idp_session: None,
            namespace: String::new(),
            auth_time: 0,
            acr: None,
            amr: Vec::new(),
            email_verified: false,
            claims: Vec::new(),
        }
    }

    /// The same sign-in, its customer id of `namespace`.
    pub fn in_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }
}

impl SessionData {
    pub fn new(
        site: Arc<str>,
        customer: Customer,
        id_token: Option<String>,
        refresh: RefreshState,
        absolute_ttl: u64,
    ) -> Self {
        let now = now_secs();
        let customer = customer.sanitized();
        SessionData {
            site,
            login: LoginSource::oidc(customer.id.clone()),
            customer,
            id_token,
            refresh,
            created_at: now,
            expires_at: now.saturating_add(absolute_ttl),
            last_seen: AtomicU64::new(now),
            token_cache: ArcSwapOption::empty(),
            sso: None,
        }
    }

    /// The same session signed in by `login` (default: the site's single IdP, with
    /// the customer id as subject).
    pub fn with_login(mut self, login: LoginSource) -> Self {
        self.login = login;
        self
    }

    /// The same session, linked to the cross-site SSO session `handle`.
    pub fn linked_to(mut self, handle: Option<String>) -> Self {
        self.sso = handle;
        self
    }

    /// When the shopper signed in (Unix seconds): the stated `auth_time`, or the
    /// session's creation when none was recorded.
    pub fn signed_in_at(&self) -> u64 {
        match self.login.auth_time {
            0 => self.created_at,
            at => at,
        }
    }

    /// Notes a use at `now` (a store only when the second changed).
    pub fn seen(&self, now: u64) {
        if self.last_seen.load(Ordering::Relaxed) != now {
            self.last_seen.store(now, Ordering::Relaxed);
        }
    }

    pub fn is_live(&self, now: u64) -> bool {
        now < self.expires_at
    }
}

#[cfg(test)]
mod refresh_tests {
    use super::*;

    const FIVE_MIN: Duration = Duration::from_secs(300);

    #[test]
    fn exactly_one_caller_refreshes() {
        let r = RefreshState::new(Some(Secret::new("rt")), Some(4), FIVE_MIN);
        assert!(!r.is_due(now_secs()));
        assert!(r.is_due(now_secs() + 3));
        assert!(r.claim());
        assert_eq!(r.token().as_ref().map(Secret::expose), Some("rt"));
        assert!(!r.claim(), "a second caller does not refresh while one is in flight");
        r.finish(Some(Secret::new("rt2")), Some(400));
        assert!(!r.is_due(now_secs() + 200));
        assert!(r.claim());
        assert_eq!(r.token().as_ref().map(Secret::expose), Some("rt2"));
        r.retry_in(30);
        assert!(r.claim(), "a retry releases the claim");
        r.release();
        assert!(
            RefreshState::new(None, Some(4), FIVE_MIN).token().is_none(),
            "no token, no refresh"
        );
        assert!(!RefreshState::new(None, Some(4), FIVE_MIN).is_due(now_secs() + 100));
    }

    #[test]
    fn lifetime_arithmetic_saturates() {
        assert_eq!(refresh_due(1_000, Some(4), 300), 1_003);
        assert_eq!(refresh_due(1_000, Some(0), 300), 1_001, "at least 1 s on");
        assert_eq!(refresh_due(1_000, Some(1), 300), 1_001);
        // `u64::MAX * 3` would overflow; three quarters of it, rounded up, does not.
        assert_eq!(
            refresh_due(1_000, Some(u64::MAX), 300),
            1_000 + (u64::MAX - u64::MAX / 4)
        );
        assert_eq!(refresh_due(u64::MAX / 2, Some(u64::MAX), 300), u64::MAX, "saturates");
        assert_eq!(refresh_due(u64::MAX - 1, Some(u64::MAX), 300), u64::MAX);
        assert_eq!(refresh_due(u64::MAX, None, u64::MAX), u64::MAX);

        let r = RefreshState::new(Some(Secret::new("rt")), Some(u64::MAX), FIVE_MIN);
        assert!(
            !r.is_due(now_secs() + 10 * 365 * 86_400),
            "a huge expires_in means: not soon"
        );
        r.retry_in(u64::MAX);
        assert!(!r.is_due(now_secs() + 10 * 365 * 86_400));
        let data = SessionData::new("s".into(), Customer::default(), None, r, u64::MAX);
        assert_eq!(data.expires_at, u64::MAX);
    }

    #[test]
    fn no_stated_lifetime_means_revalidation_every_interval() {
        let r = RefreshState::new(Some(Secret::new("rt")), None, FIVE_MIN);
        let now = now_secs();
        assert!(!r.is_due(now + 298));
        assert!(
            r.is_due(now + 301),
            "revalidated after oidc.revalidate_interval, not never"
        );
        assert!(r.claim() && r.token().is_some());
        r.finish(None, None);
        assert!(!r.is_due(now_secs() + 298));
        assert!(r.is_due(now_secs() + 301), "and again after each refresh");
        assert_eq!(refresh_due(1_000, None, 60), 1_060);
        assert!(
            !RefreshState::new(None, None, FIVE_MIN).is_due(u64::MAX),
            "no token, no refresh"
        );
    }
}

#[cfg(test)]
mod size_tests {
    use super::SessionData;

    /// A session in memory is one `Arc` allocation: its two counts and this record.
    /// Within 512 bytes, mimalloc serves it from its 512-byte size class; past that,
    /// from the 640-byte class (a million sessions: 122 MiB more).
    #[test]
    fn a_session_record_fits_the_512_byte_allocation_class() {
        let allocation = std::mem::size_of::<SessionData>() + 2 * std::mem::size_of::<usize>();
        assert!(allocation <= 512, "{allocation} bytes");
    }
}
