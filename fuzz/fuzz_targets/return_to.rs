//! `return_to` / post-logout targets (`sso_filters::return_to::safe_return_to`).
//! The input format and invariants are documented on `sso_filters::fuzzing::return_to`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sso_filters::fuzzing::return_to(data));
