//! The verified customer identity handed to the origin.

use serde::Serialize;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Customer {
    /// The shop's customer id, or the IdP subject until provisioning exists.
    pub id: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub groups: Vec<String>,
}
