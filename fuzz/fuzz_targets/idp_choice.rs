//! Several IdPs: `<sso_prefix>/login` queries rendered into the chooser page, and the
//! callback's `iss` parameter. The input format and invariants are documented on
//! `sso_filters::fuzzing::idp_choice`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sso_filters::fuzzing::idp_choice(data));
