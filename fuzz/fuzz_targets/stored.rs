//! Values read back from a shared store: session records, sealed records, pending logins.
//! The input format and invariants are documented on `sso_filters::fuzzing::stored`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sso_filters::fuzzing::stored(data));
