//! The OTLP decoders, protobuf and JSON, for traces, metrics and logs, and what is made of a
//! decoded export.
#![no_main]
use clawmetry::otlp::{decode_logs, decode_metrics, decode_traces, Encoding};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else { return };
    let enc = if sel & 1 == 0 { Encoding::Protobuf } else { Encoding::Json };
    match (sel >> 1) % 3 {
        0 => {
            let _ = decode_traces(body, enc);
        }
        1 => {
            let _ = decode_metrics(body, enc);
        }
        _ => {
            let _ = decode_logs(body, enc);
        }
    }
});
