//! The HTTP/1.1 request reader on raw bytes, then the auth gate and the router for every request
//! it accepts. The body is `clawmetry::fuzz_entry::http`, shared with `tests/it/fuzz_regressions.rs`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| clawmetry::fuzz_entry::http(data));
