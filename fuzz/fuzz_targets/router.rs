//! The HTTP router: a request made of fuzz bytes (method, path, query, body) against an empty state.
//! The body is `clawmetry::fuzz_entry::router`, shared with `tests/it/fuzz_regressions.rs`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| clawmetry::fuzz_entry::router(data));
