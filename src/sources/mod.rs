//! Data sources: one file per thing OpenClaw writes. Decoding only; the watcher does the
//! following and the index does the adding up.

pub mod archives;
pub mod crons;
pub mod json5;
pub mod jsonl_store;
pub mod logs;
pub mod memory;
pub mod sqlite_store;
pub mod subagents;
pub mod transcript;
