//! Session cookies: `Cookie` headers, `find_cookie` and `CookieCodec::decode`.
//! The input format and invariants are documented on `sso_filters::fuzzing::cookie`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sso_filters::fuzzing::cookie(data));
