//! Every line of one session, from whichever source holds it now: its agent database rows
//! (2026.7+), its JSONL files (current, reset and deleted generations), else the archived copy
//! OpenClaw keeps once the live lines are gone. Used by the transcript pages, the exports, the
//! activity back-fill and the search indexer; nothing here holds the state lock.

use super::archives::{self, Archive};
use super::jsonl_store::LineReader;
use super::sqlite_store;
use crate::state::Store;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where a session's lines are, copied out of the state so no lock is held during I/O.
#[derive(Debug, Clone)]
pub struct Location {
    store: Store,
    files: Vec<PathBuf>,
    db: Option<Arc<Path>>,
    archive: Option<Arc<Archive>>,
    id: String,
}

/// What receives a transcript's lines: (seq, the raw line or why it could not be read).
type LineSink<'a> = dyn FnMut(u64, Result<&[u8], String>) + 'a;

impl Location {
    pub fn of(s: &crate::state::Session) -> Location {
        Location {
            store: s.store.clone(),
            files: s.files.clone(),
            db: s.db.clone(),
            archive: s.archive.clone(),
            id: s.id.clone(),
        }
    }
}

/// Calls `f(seq, line)` for every raw line of a session, in order: from its live source, else
/// (deleted, reset, archived) from the archive OpenClaw keeps.
pub fn for_each_line(loc: &Location, f: impl FnMut(u64, Result<&[u8], String>)) -> Result<(), String> {
    for_each_line_from(loc, 0, f)
}

/// [`for_each_line`] for the lines with `seq >= from` only (a database is asked for those rows
/// alone; files and archives are scanned up to there without decoding). The archive is read
/// only when the live source has no line of the session at all.
pub fn for_each_line_from(
    loc: &Location,
    from: u64,
    mut f: impl FnMut(u64, Result<&[u8], String>),
) -> Result<(), String> {
    let mut live_lines = false;
    let mut sink = |seq: u64, line: Result<&[u8], String>| {
        live_lines = true;
        if seq >= from {
            f(seq, line)
        }
    };
    let live = match loc.store {
        Store::Sqlite => for_each_db_line(loc, from, &mut sink),
        Store::Jsonl => for_each_file_line(loc, &mut sink),
        // Telemetry has no transcript: its model calls are in the index only; an archive is
        // read below; a purged session's transcript is gone.
        Store::None | Store::Otlp | Store::Archive | Store::Ledger => Ok(false),
    };
    let has_live = live_lines || matches!(live, Ok(true));
    if !has_live {
        if let Some(a) = &loc.archive {
            return for_each_archive_line(a, &mut |seq, line| {
                if seq >= from {
                    f(seq, line)
                }
            });
        }
    }
    live.map(|_| ())
}

/// The database rows of the session from `from` on; returns whether the session has any rows
/// at all (asked separately when none is past `from`).
fn for_each_db_line(loc: &Location, from: u64, f: &mut LineSink) -> Result<bool, String> {
    let db = loc.db.as_ref().ok_or("session has no database")?;
    let conn = sqlite_store::open(db)?;
    let n = sqlite_store::session_events(&conn, &loc.id, from.min(i64::MAX as u64) as i64, |s, ev| {
        let s = s.max(0) as u64;
        match ev {
            Ok(b) => f(s, Ok(&b)),
            Err(e) => f(s, Err(e)),
        }
    })?;
    Ok(n > 0 || (from > 0 && sqlite_store::has_events(&conn, &loc.id)?))
}

/// The lines of the session's JSONL files, older generations (reset/deleted) first, by
/// modification time; `seq` counts lines across them.
fn for_each_file_line(loc: &Location, f: &mut LineSink) -> Result<bool, String> {
    let mut seq = 0u64;
    let mut files = loc.files.clone();
    files.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
    for p in files {
        let mut file = match super::open_file(&p) {
            Ok(f) => f,
            // Renamed or removed since it was indexed: its lines are elsewhere or gone.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            // Unreadable (permissions, I/O): say so instead of an empty transcript.
            Err(e) => return Err(format!("{}: {e}", p.display())),
        };
        let mut reader = LineReader::default();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = match file.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            reader.feed(&buf[..n], |line| {
                f(seq, Ok(line));
                seq += 1;
            });
        }
    }
    Ok(seq > 0)
}

/// Calls `f(seq, line)` for every line of an archived transcript, streamed (one buffer).
fn for_each_archive_line(a: &Archive, f: &mut LineSink) -> Result<(), String> {
    let mut r = archives::open(a)?;
    let mut reader = LineReader::default();
    let mut buf = vec![0u8; 256 * 1024];
    let mut seq = 0u64;
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("{}: {e}", a.name)),
        };
        reader.feed(&buf[..n], |line| {
            f(seq, Ok(line));
            seq += 1;
        });
    }
    Ok(())
}
