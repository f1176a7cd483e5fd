//! The OTLP decoders (protobuf and JSON; traces, metrics, logs; gzip) and the ingestion of a decoded export.
//! The body is `clawmetry::fuzz_entry::otlp`, shared with `tests/it/fuzz_regressions.rs`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| clawmetry::fuzz_entry::otlp(data));
