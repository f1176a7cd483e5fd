//! Data sources: one file per thing OpenClaw writes. Decoding only; the watcher does the
//! following and the index does the adding up.

pub mod archives;
pub mod crons;
pub mod detect;
pub mod event_json;
pub mod json5;
pub mod json_tape;
pub mod jsonl_store;
pub mod lines;
pub mod logs;
pub mod marks;
pub mod memory;
pub mod sqlite_store;
pub mod subagents;
pub mod transcript;

/// Opens one of OpenClaw's files for reading without following a symlink in its last component
/// (`O_NOFOLLOW`: a transcript replaced by a link to `/etc/passwd` is an error, not its text).
/// The directories above were found by listing the state dir, where links are skipped.
pub fn open_file(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC).open(path)
}

/// A whole text file of OpenClaw's, read through [`open_file`] (no symlink followed).
pub fn read_text(path: &std::path::Path) -> std::io::Result<String> {
    let mut text = String::new();
    std::io::Read::read_to_string(&mut open_file(path)?, &mut text)?;
    Ok(text)
}
