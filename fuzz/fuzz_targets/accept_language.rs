//! `Accept-Language` as the gateway's pages read it (`sso_filters::pages::language`).
//! The invariants are documented on `sso_filters::fuzzing::accept_language`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sso_filters::fuzzing::accept_language(data));
