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

/// An archive's lines from `from` on; read to its end the first time (to count them), and kept
/// inflated when small enough ([`Inflated`]): its next pages are read from there.
fn archive_lines_at(a: &Archive, from: u64, f: &mut PageSink) -> Result<Count, String> {
    archive_lines_kept(a, from, f, INFLATED_CAP)
}

/// [`archive_lines_at`], keeping archives of at most `cap` inflated bytes.
fn archive_lines_kept(a: &Archive, from: u64, f: &mut PageSink, cap: usize) -> Result<Count, String> {
    if let Some(kept) = Inflated::get(a) {
        for seq in from..kept.lines() {
            if !f(seq, kept.line(seq)) {
                break;
            }
        }
        return Ok(Count { lines: kept.lines(), unreadable: 0 });
    }
    // Its line count is kept by name and place (a row of another database may have the name).
    let counted = format!("{}\0{:?}", a.name, a.place);
    let known = marks::archive_lines(&counted);
    let mut more = true;
    // Its lines as read, while they fit in `cap` (an archive without a name is not kept: the
    // name tells archives apart).
    let mut keep = (!a.name.is_empty()).then(|| {
        // The one kept before goes first: one at a time in memory.
        drop(crate::sync::lock(&INFLATED).take());
        Inflated { name: a.name.clone(), place: a.place.clone(), bytes: Vec::new(), ends: Vec::new() }
    });
    let read = read_archive(a, |seq, line| {
        if more && seq >= from {
            more = f(seq, line);
        }
        if let Some(k) = keep.as_mut() {
            // The line's end counts too (a file of short lines).
            if k.bytes.len() + line.len() + 4 * (k.ends.len() + 1) > cap {
                keep = None;
            } else {
                k.bytes.extend_from_slice(line);
                k.ends.push(k.bytes.len() as u32);
            }
        }
        more || known.is_none() || keep.is_some()
    })?;
    let lines = known.unwrap_or_else(|| {
        marks::keep_archive_lines(&counted, read);
        read
    });
    // Still kept: read to its end (the reader went on while it was kept, and a failed read
    // returned above).
    if let Some(k) = keep {
        k.keep();
    }
    Ok(Count { lines, unreadable: 0 })
}

/// The last archive paged through, inflated: its lines one after the other and where each
/// ends, so that the pages after the first (someone reading a deleted session) are not
/// inflated from its start each time (the last page of a 1,030-event archive took 7.5 ms, five
/// times a live one's). One archive of at most [`INFLATED_CAP`] bytes; replaced by the next
/// one paged, dropped after [`INFLATED_IDLE`] unused (the monitor's loop calls
/// [`drop_idle_inflated`]). An archive never changes: its name and place say which one it is
/// (a row of another database may have the same name). A page of
/// a larger one reads on past the page until the bound is passed (at most 8 MiB more).
struct Inflated {
    name: String,
    place: archives::Place,
    bytes: Vec<u8>,
    ends: Vec<u32>,
}

/// See [`Inflated`]: within the memory bound of a page served (1.5x the index's RSS at 1 GB).
const INFLATED_CAP: usize = 8 << 20;
// Line ends are u32.
const _: () = assert!(INFLATED_CAP <= u32::MAX as usize);
const INFLATED_IDLE: std::time::Duration = std::time::Duration::from_secs(60);

static INFLATED: std::sync::Mutex<Option<(Arc<Inflated>, std::time::Instant)>> = std::sync::Mutex::new(None);

impl Inflated {
    fn lines(&self) -> u64 {
        self.ends.len() as u64
    }

    fn line(&self, seq: u64) -> &[u8] {
        let i = seq as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.bytes[start..self.ends[i] as usize]
    }

    /// Archive `a` when it is the one kept (its idle time starts again).
    fn get(a: &Archive) -> Option<Arc<Inflated>> {
        let mut kept = crate::sync::lock(&INFLATED);
        let (k, used) = kept.as_mut().filter(|(k, _)| k.name == a.name && k.place == a.place)?;
        *used = std::time::Instant::now();
        Some(k.clone())
    }

    fn keep(mut self) {
        self.bytes.shrink_to_fit();
        self.ends.shrink_to_fit();
        let old = crate::sync::lock(&INFLATED).replace((Arc::new(self), std::time::Instant::now()));
        drop(old);
    }
}

/// Drops the inflated archive kept for its pages once unused for a minute.
pub fn drop_idle_inflated() {
    drop_inflated_idle_at(std::time::Instant::now());
}

/// [`drop_idle_inflated`] as of `now`.
fn drop_inflated_idle_at(now: std::time::Instant) {
    let mut kept = crate::sync::lock(&INFLATED);
    let idle = kept.as_ref().is_some_and(|(_, used)| now.saturating_duration_since(*used) >= INFLATED_IDLE);
    let old = if idle { kept.take() } else { None };
    drop(kept);
    drop(old);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The lines of an archive page by page: (seq, line) as `archive_lines_kept` gives them.
    fn page(a: &Archive, from: u64, n: usize, cap: usize) -> (Vec<(u64, Vec<u8>)>, u64) {
        let mut got = Vec::new();
        let count = archive_lines_kept(
            a,
            from,
            &mut |seq, line| {
                got.push((seq, line.to_vec()));
                got.len() < n
            },
            cap,
        )
        .unwrap();
        (got, count.lines)
    }

    #[test]
    fn an_archive_paged_through_is_kept_inflated_when_small_enough() {
        let dir = std::env::temp_dir().join(format!("clawmetry-inflated-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // Lines of different lengths, an empty one between (not a line).
        let lines: Vec<String> = (0..250)
            .map(|i| format!("{{\"type\":\"message\",\"i\":{i},\"pad\":\"{}\"}}", "x".repeat(i % 37)))
            .collect();
        let text = format!("{}\n\n{}\n", lines[..100].join("\n"), lines[100..].join("\n"));
        let frame = ruzstd::encoding::compress_to_vec(text.as_bytes(), ruzstd::encoding::CompressionLevel::Fastest);
        let name = format!("s{}.jsonl.deleted.2026-12-07T22-00-00.000Z.zst", std::process::id());
        let path = dir.join(&name);
        std::fs::write(&path, &frame).unwrap();
        let a = archives::classify_file(&path).expect("an archive file");
        let want = |from: usize, n: usize| -> Vec<(u64, Vec<u8>)> {
            lines.iter().enumerate().skip(from).take(n).map(|(i, l)| (i as u64, l.as_bytes().to_vec())).collect()
        };
        let kept = || crate::sync::lock(&INFLATED).as_ref().is_some_and(|(k, _)| k.name == name);
        // Too big for the bound: read from the archive each time, not kept.
        *crate::sync::lock(&INFLATED) = None;
        assert_eq!(page(&a, 120, 10, 1000), (want(120, 10), 250));
        assert!(!kept());
        // Small enough: the first page reads it whole and keeps it.
        assert_eq!(page(&a, 0, 100, INFLATED_CAP), (want(0, 100), 250));
        assert!(kept());
        // The next pages come from what is kept: the file may be gone.
        std::fs::remove_file(&path).unwrap();
        assert_eq!(page(&a, 100, 100, INFLATED_CAP), (want(100, 100), 250));
        assert_eq!(page(&a, 200, 100, INFLATED_CAP), (want(200, 50), 250));
        assert_eq!(page(&a, 249, 100, INFLATED_CAP), (want(249, 1), 250));
        assert_eq!(page(&a, 250, 100, INFLATED_CAP), (vec![], 250));
        // Another archive of the same name elsewhere (a row of another database may share it)
        // is not taken for the one kept.
        let other_dir = dir.join("other");
        std::fs::create_dir_all(&other_dir).unwrap();
        let other_path = other_dir.join(&name);
        let other =
            ruzstd::encoding::compress_to_vec(&b"{\"other\":1}\n"[..], ruzstd::encoding::CompressionLevel::Fastest);
        std::fs::write(&other_path, other).unwrap();
        let b = archives::classify_file(&other_path).expect("an archive file");
        assert_eq!(b.name, a.name);
        assert_eq!(page(&b, 0, 100, INFLATED_CAP), (vec![(0, b"{\"other\":1}".to_vec())], 1));
        // ... and paging it replaced the one kept.
        assert!(archive_lines_kept(&a, 0, &mut |_, _| true, INFLATED_CAP).is_err(), "read again: the file is gone");
        assert_eq!(page(&b, 0, 100, INFLATED_CAP).1, 1);
        // Unused for a while: dropped.
        let kept_b = || crate::sync::lock(&INFLATED).as_ref().is_some_and(|(k, _)| k.place == b.place);
        assert!(kept_b());
        drop_inflated_idle_at(std::time::Instant::now() + INFLATED_IDLE / 2);
        assert!(kept_b());
        drop_inflated_idle_at(std::time::Instant::now() + INFLATED_IDLE);
        assert!(!kept_b());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
