//! Configuration text through `sso_config::parse`.
//! The input format and invariants are documented on `sso_filters::fuzzing::config`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sso_filters::fuzzing::config(data));
