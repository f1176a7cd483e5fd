//! The JSON5 config reader (openclaw.json).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = clawmetry::sources::json5::parse(text);
    }
});
