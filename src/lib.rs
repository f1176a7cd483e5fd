//! clawmetry as a library. Its surface is two things: [`main`] (the program, `src/app.rs`),
//! which `src/main.rs` runs, and [`fuzz_entry`], which the fuzz targets (`fuzz/`) and
//! `tests/it/fuzz_regressions.rs` call. Every other module is private to the crate, so code
//! nothing uses is reported as dead. See ARCHITECTURE.md for the map.

mod activity;
mod alerts;
mod alloc;
mod api;
mod app;
mod audit;
mod checkpoint;
mod cli;
mod codec;
mod cron_health;
mod fleet;
pub mod fuzz_entry;
mod gateway;
mod guard;
mod history;
mod http;
mod insight;
mod ledger;
mod login_link;
mod model;
mod monitor;
mod otlp;
mod otlp_export;
mod pricing;
mod redact;
mod search;
mod sources;
mod spend;
mod state;
mod sync;
mod system;
mod timefmt;
mod tz;
mod watch;

pub use app::main;
