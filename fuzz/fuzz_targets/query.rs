//! Query strings of every GET endpoint against an indexed fixture with the monitor running.
//! The body is `clawmetry::fuzz_entry::query`, shared with `tests/it/fuzz_regressions.rs`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| clawmetry::fuzz_entry::query(data));
