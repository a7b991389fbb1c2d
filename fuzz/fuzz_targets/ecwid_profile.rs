//! A customer's id, email and name through the Ecwid SSO profile script.
//! The input format and invariants are documented on `sso_filters::fuzzing::ecwid_profile`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sso_filters::fuzzing::ecwid_profile(data));
