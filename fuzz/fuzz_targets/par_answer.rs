//! Answers of an IdP's pushed authorization request endpoint (RFC 9126), as the
//! gateway reads them (`sso_filters::oidc::par::read_answer`). The input format and
//! invariants are documented on `sso_filters::fuzzing::par_answer`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sso_filters::fuzzing::par_answer(data));
