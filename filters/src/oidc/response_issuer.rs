//! The `iss` authorization response parameter (RFC 9207), part of the mix-up defence
//! of a site with several IdPs: a response is accepted only from the issuer the login
//! was started with.
//!
//! Checked at every callback, after the state was taken and found to belong to this
//! IdP, before the `error` parameter or the code is looked at.

use super::flow::CallbackError;

/// Longest refused `iss` value kept for the log.
const MAX_SHOWN: usize = 200;

/// RFC 9207 §2.4: `iss`, when present, must equal `expected` (the issuer identifier
/// from the IdP's metadata, compared as a plain string: no normalisation, no trailing
/// slash forgiven). When absent it is refused only if the IdP's metadata says it
/// always sends it (`required`); IdPs that do not implement RFC 9207 still work and
/// rely on the per-IdP state binding and redirect URI.
pub fn check_response_issuer(iss: Option<&str>, expected: &str, required: bool) -> Result<(), CallbackError> {
    match iss {
        Some(iss) if iss == expected => Ok(()),
        Some(other) => {
            let mut shown: String = other.chars().filter(|c| !c.is_control()).take(MAX_SHOWN).collect();
            shown.shrink_to_fit();
            Err(CallbackError::IssuerMismatch(shown))
        }
        None if required => Err(CallbackError::IssuerMismatch(String::new())),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUER: &str = "http://127.0.0.1:9000";

    #[test]
    fn only_the_exact_issuer_is_accepted() {
        assert!(check_response_issuer(Some(ISSUER), ISSUER, true).is_ok());
        assert!(check_response_issuer(Some(ISSUER), ISSUER, false).is_ok());
        for forged in [
            "http://127.0.0.1:9001",
            "http://127.0.0.1:9000/",
            "HTTP://127.0.0.1:9000",
            "http://127.0.0.1:9000\n",
            "",
        ] {
            assert!(
                matches!(
                    check_response_issuer(Some(forged), ISSUER, false),
                    Err(CallbackError::IssuerMismatch(_))
                ),
                "{forged:?}"
            );
        }
    }

    #[test]
    fn a_missing_issuer_is_refused_only_when_the_idp_promises_it() {
        assert!(matches!(
            check_response_issuer(None, ISSUER, true),
            Err(CallbackError::IssuerMismatch(_))
        ));
        assert!(check_response_issuer(None, ISSUER, false).is_ok());
    }

    #[test]
    fn a_refused_issuer_is_logged_short_and_printable() {
        let long = format!("x\r\n{}", "y".repeat(10_000));
        match check_response_issuer(Some(&long), ISSUER, false) {
            Err(CallbackError::IssuerMismatch(shown)) => {
                assert!(shown.len() <= MAX_SHOWN && !shown.contains(['\r', '\n']), "{shown:?}");
            }
            other => panic!("{other:?}"),
        }
    }
}
