//! Every line of one session, from whichever source holds it now: its agent database rows
//! (2026.7+), its JSONL files (current, reset and deleted generations), else the archived copy
//! OpenClaw keeps once the live lines are gone. Used by the transcript pages, the exports, the
//! activity back-fill and the search indexer; nothing here holds the state lock.

use super::archives::{self, Archive};
use super::jsonl_store::read_lines;
use super::marks;
use super::sqlite_store;
use crate::state::Store;
use std::io::{Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;

/// Where a session's lines are, copied out of the state so no lock is held during I/O.
#[derive(Debug, Clone)]
pub struct Location {
    store: Store,
    files: Vec<Arc<Path>>,
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
            id: s.id.to_string(),
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

/// How many lines a session has in all, as [`lines_at`] counts them.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Count {
    /// Lines that can be read (those handed to `f`, wherever the page starts).
    pub lines: u64,
    /// Lines that cannot (a database row without a readable event).
    pub unreadable: u64,
}

/// Calls `f(seq, line)` for the readable lines of a session from the `from`-th one on (counting
/// readable lines from 0, in [`for_each_line`]'s order and source), until `f` returns false;
/// returns the session's line counts. A JSONL file or a database session is entered at the line
/// mark before `from` ([`super::marks`]), so a late page reads a page, not the transcript; an
/// archive is read from its start and only as far as the page once its length is known.
pub fn lines_at(loc: &Location, from: u64, mut f: impl FnMut(u64, &[u8]) -> bool) -> Result<Count, String> {
    let live = match loc.store {
        Store::Sqlite => db_lines_at(loc, from, &mut f),
        Store::Jsonl => file_lines_at(loc, from, &mut f),
        Store::None | Store::Otlp | Store::Archive | Store::Ledger => Ok(Count::default()),
    };
    match (&live, &loc.archive) {
        (Ok(c), Some(a)) if c.lines + c.unreadable == 0 => archive_lines_at(a, from, &mut f),
        (Err(_), Some(a)) => archive_lines_at(a, from, &mut f),
        _ => live,
    }
}

type PageSink<'a> = dyn FnMut(u64, &[u8]) -> bool + 'a;

/// A session's JSONL files, older generations (reset/deleted) first: by modification time.
fn oldest_first(files: &[Arc<Path>]) -> Vec<Arc<Path>> {
    let mut files = files.to_vec();
    files.sort_by_cached_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
    files
}

fn file_lines_at(loc: &Location, from: u64, f: &mut PageSink) -> Result<Count, String> {
    let files = oldest_first(&loc.files);
    let mut parts = Vec::with_capacity(files.len());
    for p in files {
        if let Some(m) = marks::of_file(&p)? {
            parts.push((p, m));
        }
    }
    let lines = parts.iter().map(|(_, m)| m.lines).sum();
    // `base`: the seq of the file's first line (seqs count lines across the files).
    let mut base = 0u64;
    for (p, m) in parts {
        if from < base + m.lines {
            let want = from.saturating_sub(base);
            let more = read_file_from(&p, &m, want, &mut |k, line| f(base + k, line))
                .map_err(|e| format!("{}: {e}", p.display()))?;
            if !more {
                break;
            }
        }
        base += m.lines;
    }
    Ok(Count { lines, unreadable: 0 })
}

/// The lines `want..` of one file, from the mark before `want`; false when `f` asked to stop.
fn read_file_from(
    p: &Path,
    m: &marks::Marks,
    want: u64,
    f: &mut dyn FnMut(u64, &[u8]) -> bool,
) -> std::io::Result<bool> {
    let Some((mut k, at)) = m.before(want) else { return Ok(true) };
    let mut file = super::open_file(p)?;
    file.seek(SeekFrom::Start(at))?;
    let mut more = true;
    read_lines(&mut file, marks::CHUNK, |line| {
        // Lines written after the marks were made are not counted in the total: not shown.
        if k >= m.lines {
            return false;
        }
        if k >= want {
            more = f(k, line);
        }
        k += 1;
        more
    })?;
    Ok(more)
}

fn db_lines_at(loc: &Location, from: u64, f: &mut PageSink) -> Result<Count, String> {
    let db = loc.db.as_ref().ok_or("session has no database")?;
    let conn = sqlite_store::lend(db)?;
    let m = marks::of_db(&conn, db, &loc.id)?;
    if let Some((mut k, seq)) = m.before(from).filter(|_| from < m.lines) {
        sqlite_store::session_events_while(&conn, &loc.id, seq as i64, |s, ev| {
            // Unreadable rows are counted apart, not among the lines.
            let Ok(line) = ev else { return true };
            let go_on = k < from || f(s.max(0) as u64, &line);
            k += 1;
            // Rows added after the marks were made are not counted in the total: not shown.
            go_on && k < m.lines
        })?;
    }
    Ok(Count { lines: m.lines, unreadable: m.unreadable })
}

/// An archive's lines from `from` on; read to its end the first time (to count them).
fn archive_lines_at(a: &Archive, from: u64, f: &mut PageSink) -> Result<Count, String> {
    let known = marks::archive_lines(&a.name);
    let mut more = true;
    let read = read_archive(a, |seq, line| {
        if more && seq >= from {
            more = f(seq, line);
        }
        more || known.is_none()
    })?;
    let lines = known.unwrap_or_else(|| {
        marks::keep_archive_lines(&a.name, read);
        read
    });
    Ok(Count { lines, unreadable: 0 })
}

/// The database rows of the session from `from` on; returns whether the session has any rows
/// at all (asked separately when none is past `from`).
fn for_each_db_line(loc: &Location, from: u64, f: &mut LineSink) -> Result<bool, String> {
    let db = loc.db.as_ref().ok_or("session has no database")?;
    let conn = sqlite_store::lend(db)?;
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
    for p in oldest_first(&loc.files) {
        let mut file = match super::open_file(&p) {
            Ok(f) => f,
            // Renamed or removed since it was indexed: its lines are elsewhere or gone.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            // Unreadable (permissions, I/O): say so instead of an empty transcript.
            Err(e) => return Err(format!("{}: {e}", p.display())),
        };
        // A read error ends the file: the lines read before it are its lines.
        let _ = read_lines(&mut file, 256 * 1024, |line| {
            f(seq, Ok(line));
            seq += 1;
            true
        });
    }
    Ok(seq > 0)
}

/// Calls `f(seq, line)` for every line of an archived transcript, streamed (one buffer).
fn for_each_archive_line(a: &Archive, f: &mut LineSink) -> Result<(), String> {
    read_archive(a, |seq, line| {
        f(seq, Ok(line));
        true
    })
    .map(|_| ())
}

/// Feeds the lines of an archived transcript to `f(seq, line)`, streamed (one buffer), until it
/// returns false; returns how many lines were fed (all of them, unless `f` stopped it).
fn read_archive(a: &Archive, mut f: impl FnMut(u64, &[u8]) -> bool) -> Result<u64, String> {
    let mut r = archives::open(a)?;
    let mut seq = 0u64;
    read_lines(&mut r, marks::CHUNK, |line| {
        let go = f(seq, line);
        seq += 1;
        go
    })
    .map_err(|e| format!("{}: {e}", a.name))?;
    Ok(seq)
}
