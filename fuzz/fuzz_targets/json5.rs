//! The JSON5 config reader (openclaw.json).
//! The body is `clawmetry::fuzz_entry::json5`, shared with `tests/it/fuzz_regressions.rs`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| clawmetry::fuzz_entry::json5(data));
