//! The request headers the CORS feature reads: is it a preflight, is its `Origin`
//! the site's own, an allowed one or another (`sso_filters::features::cors`). The
//! input format and invariants are documented on `sso_filters::fuzzing::cors`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sso_filters::fuzzing::cors(data));
