//! clawmetry as a library: every module of the dashboard, so that `src/main.rs` (the wiring),
//! the fuzz targets (`fuzz/`) and tools can reach the decoders and the router. See
//! ARCHITECTURE.md for the map.

pub mod alerts;
pub mod alloc;
pub mod api;
pub mod cli;
pub mod codec;
pub mod detect;
pub mod fleet;
pub mod fuzz_entry;
pub mod gateway;
pub mod history;
pub mod http;
pub mod ledger;
pub mod model;
pub mod monitor;
pub mod otlp;
pub mod pricing;
pub mod redact;
pub mod sources;
pub mod state;
pub mod sync;
pub mod system;
pub mod timefmt;
pub mod watch;
