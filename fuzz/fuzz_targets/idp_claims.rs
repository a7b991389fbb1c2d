//! The IdP's claims as the gateway reads them for route policies: an ID token payload
//! and userinfo merged (`sso_filters::oidc::claims`). The input format and invariants
//! are documented on `sso_filters::fuzzing::idp_claims`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sso_filters::fuzzing::idp_claims(data));
