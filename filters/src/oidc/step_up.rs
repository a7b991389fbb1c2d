//! Step-up authentication (`max_auth_age`, `acr_values` on a route): what a login
//! started for a step-up asks the IdP, and what its answer must show.
//!
//! One rule decides both when a session is too old for a route (the `step_up`
//! feature's gate) and whether the IdP's answer to a step-up is fresh enough (the
//! callback): [`fresh_enough`]. So a compliant IdP's answer always passes the gate it
//! was asked for, and no shopper loops between the two.

use serde::{Deserialize, Serialize};

/// How far an IdP's clock and the way back from it may put `auth_time` behind the
/// gateway's: a sign-in is fresh enough for `max_age` when it is at most
/// `max_age + AUTH_AGE_LEEWAY` seconds old.
pub const AUTH_AGE_LEEWAY: u64 = 2;

/// What a step-up login asks the IdP, and whom it must sign in again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepUpAsk {
    /// `max_age` in seconds (`prompt=login` too when 0), when the route has one.
    pub max_age: Option<u64>,
    /// `acr_values`; the answer's `acr` must be one of them.
    pub acr_values: Vec<String>,
    /// The customer namespace and id of the session stepping up: the new sign-in
    /// must be the same customer.
    pub namespace: String,
    pub customer_id: String,
}

/// Why an IdP's answer to a step-up is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepUpRefusal {
    /// No `auth_time` although `max_age` was asked (OIDC Core 3.1.2.1 requires it).
    NoAuthTime,
    /// An `auth_time` older than `max_age` allows.
    Stale,
    /// An `acr` not among `acr_values` (or none).
    Acr,
}

impl StepUpRefusal {
    /// The error code (page, JSON, metric outcome).
    pub fn code(self) -> &'static str {
        match self {
            StepUpRefusal::NoAuthTime => "step_up_no_auth_time",
            StepUpRefusal::Stale => "step_up_stale",
            StepUpRefusal::Acr => "step_up_acr",
        }
    }
}

/// True when a sign-in at `auth_time` (Unix seconds) is at most `max_age` old at `now`
/// (with [`AUTH_AGE_LEEWAY`]). An `auth_time` in the future counts as now.
pub fn fresh_enough(auth_time: u64, max_age: u64, now: u64) -> bool {
    now.saturating_sub(auth_time) <= max_age.saturating_add(AUTH_AGE_LEEWAY)
}

/// True when `acr` is one of `acr_values` (always when none are asked).
pub fn acr_accepted(acr: Option<&str>, acr_values: &[String]) -> bool {
    acr_values.is_empty() || acr.is_some_and(|a| acr_values.iter().any(|v| v == a))
}

impl StepUpAsk {
    /// Whether the IdP's answer complies: an `auth_time` fresh enough for `max_age`
    /// at `now`, and an accepted `acr`.
    pub fn check(&self, auth_time: Option<u64>, acr: Option<&str>, now: u64) -> Result<(), StepUpRefusal> {
        if let Some(max_age) = self.max_age {
            let at = auth_time.ok_or(StepUpRefusal::NoAuthTime)?;
            if !fresh_enough(at, max_age, now) {
                return Err(StepUpRefusal::Stale);
            }
        }
        match acr_accepted(acr, &self.acr_values) {
            true => Ok(()),
            false => Err(StepUpRefusal::Acr),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(max_age: Option<u64>, acr: &[&str]) -> StepUpAsk {
        StepUpAsk {
            max_age,
            acr_values: acr.iter().map(|s| s.to_string()).collect(),
            namespace: "oidc:x".into(),
            customer_id: "c".into(),
        }
    }

    #[test]
    fn an_old_or_missing_auth_time_or_another_acr_is_refused() {
        let now = 1_000_000;
        let a = ask(Some(10), &[]);
        assert_eq!(a.check(Some(now - 5), None, now), Ok(()));
        assert_eq!(a.check(Some(now - 3600), None, now), Err(StepUpRefusal::Stale));
        assert_eq!(a.check(None, None, now), Err(StepUpRefusal::NoAuthTime));
        assert_eq!(a.check(Some(u64::MAX), None, now), Ok(()), "a future auth_time is now");
        let mfa = ask(None, &["mfa"]);
        assert_eq!(mfa.check(None, Some("mfa"), now), Ok(()));
        assert_eq!(mfa.check(None, Some("pwd"), now), Err(StepUpRefusal::Acr));
        assert_eq!(mfa.check(None, None, now), Err(StepUpRefusal::Acr));
        let zero = ask(Some(0), &[]);
        assert_eq!(zero.check(Some(now - AUTH_AGE_LEEWAY), None, now), Ok(()));
        assert_eq!(
            zero.check(Some(now - AUTH_AGE_LEEWAY - 1), None, now),
            Err(StepUpRefusal::Stale)
        );
    }
}
