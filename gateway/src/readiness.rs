//! What `/readyz` reports: one named check per dependency. Fixed checks (the
//! configuration, ...) are registered flags; the IdP checks come from the running
//! configuration snapshot at each report, so a site removed by a reload stops
//! counting and a site added by one counts at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// A named flag a component sets when it can serve.
#[derive(Clone)]
pub struct ReadyFlag(Arc<AtomicBool>);

impl ReadyFlag {
    pub fn set(&self, ready: bool) {
        self.0.store(ready, Ordering::Release);
    }
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

#[derive(Default)]
pub struct Readiness {
    checks: Mutex<Vec<(String, ReadyFlag)>>,
    /// What the report shows besides the checks (e.g. `redis`: the primary in use).
    details: Mutex<serde_json::Map<String, serde_json::Value>>,
}

/// A check of the running configuration (an IdP): its name, whether it holds,
/// whether it counts for readiness (else only shown), and why it does not hold.
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub counts: bool,
    pub reason: Option<String>,
}

impl Check {
    pub fn new(name: String, ok: bool, counts: bool) -> Self {
        Check {
            name,
            ok,
            counts,
            reason: None,
        }
    }
}

pub struct ReadinessReport {
    pub ready: bool,
    pub json: String,
}

impl Readiness {
    /// Registers a check, not ready until its flag is set.
    pub fn check(&self, name: impl Into<String>) -> ReadyFlag {
        let flag = ReadyFlag(Arc::new(AtomicBool::new(false)));
        if let Ok(mut checks) = self.checks.lock() {
            checks.push((name.into(), flag.clone()));
        }
        flag
    }

    /// Shows `value` under `name` in every report from now on (it decides nothing).
    pub fn set_detail(&self, name: &str, value: serde_json::Value) {
        if let Ok(mut details) = self.details.lock() {
            details.insert(name.to_string(), value);
        }
    }

    /// The registered checks and `current` ones: every check that counts must hold;
    /// the others are only shown. The reasons of failing checks are under `reasons`.
    pub fn report(&self, current: impl IntoIterator<Item = Check>) -> ReadinessReport {
        let mut ready = true;
        let mut map = serde_json::Map::new();
        if let Ok(checks) = self.checks.lock() {
            for (name, flag) in checks.iter() {
                let ok = flag.get();
                ready &= ok;
                map.insert(name.clone(), serde_json::Value::Bool(ok));
            }
        }
        let mut reasons = serde_json::Map::new();
        for check in current {
            ready &= check.ok || !check.counts;
            if let Some(reason) = check.reason {
                reasons.insert(check.name.clone(), serde_json::Value::String(reason));
            }
            map.insert(check.name, serde_json::Value::Bool(check.ok));
        }
        let mut report = serde_json::Map::new();
        report.insert("ready".into(), serde_json::Value::Bool(ready));
        report.insert("checks".into(), serde_json::Value::Object(map));
        if !reasons.is_empty() {
            report.insert("reasons".into(), serde_json::Value::Object(reasons));
        }
        if let Ok(details) = self.details.lock() {
            for (name, value) in details.iter() {
                report.insert(name.clone(), value.clone());
            }
        }
        let json = serde_json::Value::Object(report).to_string();
        ReadinessReport { ready, json }
    }
}
