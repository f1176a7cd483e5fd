//! The transcript line decoder: the fast summary and the full render of any bytes as one line.
#![no_main]
use clawmetry::sources::transcript::{render, summarize, KindFilter};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = summarize(data);
    for f in [KindFilter::All, KindFilter::Messages, KindFilter::Tools, KindFilter::Thinking, KindFilter::Errors] {
        let _ = render(data, 7, f);
    }
});
