//! The transcript line decoder: the fast summary and the full render of any bytes as one line,
//! and the transcript page's writer checked against the render, byte for byte.
//! The body is `clawmetry::fuzz_entry::transcript`, shared with `tests/it/fuzz_regressions.rs`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| clawmetry::fuzz_entry::transcript(data));
