//! The integration tests: the real `clawmetry` binary as a user meets it, in one test crate (one
//! compile and link step, one process) instead of one binary per file. Each file below is one
//! subject; its tests are named `<file>::<test>`, so `cargo test --test it ui_browser::` runs
//! one file. Unit tests stay next to the code in src/.
//!
//! All files' tests share one process and run side by side (cargo's usual thread count), not one
//! file after another: nothing here may rely on process-global state (environment, current dir)
//! being its own. The real OpenClaw gateway tests (gateway_lab.rs) are `#[ignore]`d: `make
//! test-gateway-lab`.

// Shared helpers, no tests of their own.
mod browser;
mod common;
mod monitor_support;

mod activity;
mod api_fixtures;
mod archives;
mod checkpoint;
mod context;
mod cron_health;
mod export;
mod fleet;
mod fuzz_regressions;
mod gateway_fake;
mod gateway_lab;
mod guard;
mod health_truth;
mod hostile_db;
mod http_limits;
mod http_methods;
mod insight;
mod live;
mod login_link;
mod logs_memory;
mod monitor_api;
mod monitor_channels;
mod monitor_pause;
mod monitor_ui;
mod otlp;
mod otlp_export;
mod profiles;
mod prometheus;
mod query_sweep;
mod search;
mod security;
mod spend;
mod time_zones;
mod tls;
mod transcript_pages;
mod ui_browser;
mod ui_export;
mod ui_guard;
mod ui_insight;
mod ui_otlp_fleet;
mod ui_phone;
mod ui_spend;
mod ui_static;
