//! The names of the headers that hand the verified identity to the origin
//! (`[sites.identity_headers]`), part of the configuration model.

/// Header names used to hand the identity to the origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityHeaderNames {
    pub id: String,
    pub email: String,
    pub name: String,
    pub groups: String,
    pub token: String,
    /// When the customer signed in (Unix seconds), the sign-in's `acr`, and how the
    /// request's session was signed in (`oidc`, `customer_login`, `ott`, `api_token`).
    pub auth_time: String,
    pub acr: String,
    pub login_method: String,
}

impl IdentityHeaderNames {
    pub fn all(&self) -> [&str; 8] {
        [
            &self.id,
            &self.email,
            &self.name,
            &self.groups,
            &self.token,
            &self.auth_time,
            &self.acr,
            &self.login_method,
        ]
    }
}

impl Default for IdentityHeaderNames {
    fn default() -> Self {
        IdentityHeaderNames {
            id: "X-Customer-Id".into(),
            email: "X-Customer-Email".into(),
            name: "X-Customer-Name".into(),
            groups: "X-Customer-Groups".into(),
            token: "X-Customer-Token".into(),
            auth_time: "X-Customer-Auth-Time".into(),
            acr: "X-Customer-Acr".into(),
            login_method: "X-Customer-Login-Method".into(),
        }
    }
}
