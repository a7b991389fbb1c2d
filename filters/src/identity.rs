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

impl Customer {
    /// The same customer with control characters removed from every field, so each
    /// value can be sent as a header as it is (checked once, at login).
    pub fn sanitized(self) -> Customer {
        let clean = |s: String| -> String {
            if s.chars().any(char::is_control) {
                s.chars().filter(|c| !c.is_control()).collect()
            } else {
                s
            }
        };
        Customer {
            id: clean(self.id),
            email: self.email.map(clean),
            name: self.name.map(clean),
            groups: self
                .groups
                .into_iter()
                .map(clean)
                .filter(|g| !g.is_empty() && !g.contains(','))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Customer;

    #[test]
    fn control_characters_never_reach_a_header() {
        let c = Customer {
            id: "a\r\nX-Customer-Id: b".into(),
            email: Some("e@x\u{0}".into()),
            name: None,
            groups: vec!["vip".into(), "a,b".into(), "\n".into()],
        }
        .sanitized();
        assert_eq!(c.id, "aX-Customer-Id: b");
        assert_eq!(c.email.as_deref(), Some("e@x"));
        assert_eq!(c.groups, vec!["vip"]);
    }
}
