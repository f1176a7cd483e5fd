//! Line marks: where every `stride`-th line of a transcript is (a JSONL file's byte offset, a
//! database session's `seq`) and how many lines it has, so that a late transcript page is read
//! from the mark just before it instead of from the first line, and its total needs no count.
//!
//! Marks are made on demand, the first time a page of a source is asked for, by one pass over
//! it, and kept in a small cache (a few dozen sources, a few KB each) that the index knows
//! nothing of: nothing is kept per session. A file that grew since (a live session) or a
//! database session with rows past the last one seen is read on from where the marks end, not
//! again from the start. An archive (zstd) cannot be entered in the middle: only its line count
//! is kept, so that a page can stop reading once it has its lines.
//!
//! Not for the index nor the search indexer, which read every line anyway.

use super::jsonl_store::{read_chunks, MAX_LINE};
use super::sqlite_store;
use rusqlite::Connection;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// A mark every this many lines at first (a seek then reads past at most that many lines).
const STRIDE: u64 = 128;
/// More marks than this and every other one goes (the stride doubles): a source costs at most
/// 32 KB of marks however long it is.
const MAX_MARKS: usize = 4096;
/// Sources whose marks are kept; the least recently used one goes first.
const SLOTS: usize = 32;
/// Read size while making marks and reading pages (below glibc's 128 KiB mmap threshold: a page
/// costs no mmap and page faults for its buffer).
pub const CHUNK: usize = 64 * 1024;

/// The marks of one source.
#[derive(Debug, Clone, PartialEq)]
pub struct Marks {
    stride: u64,
    /// `at[i]`: where line `i * stride` is (file: byte offset of its first byte; database: its seq).
    at: Vec<u64>,
    /// Readable lines (file: lines a [`super::jsonl_store::LineReader`] hands over; database:
    /// rows whose event can be read).
    pub lines: u64,
    /// Database rows whose event cannot be read (neither column, or a bad zstd frame).
    pub unreadable: u64,
    /// File: bytes up to the end of its last complete line; database: the highest seq seen.
    end: i64,
    /// File: the last complete line was not part of an over-long line being skipped (more can
    /// be read on from `end`).
    clean: bool,
}

impl Default for Marks {
    fn default() -> Marks {
        Marks { stride: STRIDE, at: Vec::new(), lines: 0, unreadable: 0, end: 0, clean: true }
    }
}

impl Marks {
    fn push(&mut self, place: u64) {
        if self.lines % self.stride == 0 {
            self.at.push(place);
            if self.at.len() > MAX_MARKS {
                let kept: Vec<u64> = self.at.iter().step_by(2).copied().collect();
                self.at = kept;
                self.stride *= 2;
            }
        }
        self.lines += 1;
    }

    /// The last mark at or before line `n`: (its line number, where it is).
    pub fn before(&self, n: u64) -> Option<(u64, u64)> {
        let i = usize::try_from(n / self.stride).ok()?.min(self.at.len().checked_sub(1)?);
        Some((i as u64 * self.stride, self.at[i]))
    }

    /// Memory held, for the tests' bound.
    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.at.capacity() * 8
    }
}

/// What identifies a source in the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Key {
    File(PathBuf),
    Db(PathBuf, String),
    Archive(String),
}

/// What the marks were made of: a different stamp means the source changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stamp {
    /// Inode, length, modification time (ns).
    File(u64, u64, i128),
    /// The session's lowest and highest seq.
    Db(i64, i64),
    /// An archive never changes under its name.
    Fixed,
}

struct Slot {
    key: Key,
    stamp: Stamp,
    marks: Arc<Marks>,
}

/// Most recently used last.
static CACHE: Mutex<Vec<Slot>> = Mutex::new(Vec::new());

fn cached(key: &Key) -> Option<(Stamp, Arc<Marks>)> {
    let mut c = crate::sync::lock(&CACHE);
    let i = c.iter().position(|s| &s.key == key)?;
    let slot = c.remove(i);
    let found = (slot.stamp, slot.marks.clone());
    c.push(slot);
    Some(found)
}

fn keep(key: Key, stamp: Stamp, marks: Arc<Marks>) {
    let mut c = crate::sync::lock(&CACHE);
    c.retain(|s| s.key != key);
    if c.len() >= SLOTS {
        c.remove(0);
    }
    c.push(Slot { key, stamp, marks });
}

/// Marks of one JSONL file; None when it is not there (renamed or removed since it was listed).
pub fn of_file(path: &Path) -> Result<Option<Arc<Marks>>, String> {
    let mut file = match super::open_file(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let meta = file.metadata().map_err(|e| format!("{}: {e}", path.display()))?;
    let stamp =
        Stamp::File(meta.ino(), meta.len(), i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()));
    let key = Key::File(path.to_path_buf());
    let mut marks = Marks::default();
    if let Some((old, m)) = cached(&key) {
        if old == stamp {
            return Ok(Some(m));
        }
        // Appended to (same file, longer, still a line end where the marks end): read on.
        if let Stamp::File(ino, len, _) = old {
            if ino == meta.ino() && meta.len() >= len && m.clean && ends_line(&mut file, m.end) {
                marks = (*m).clone();
            }
        }
    }
    scan_file(&mut file, &mut marks).map_err(|e| format!("{}: {e}", path.display()))?;
    let marks = Arc::new(marks);
    keep(key, stamp, marks.clone());
    Ok(Some(marks))
}

/// Whether the byte before `end` is a newline (or `end` is the start).
fn ends_line(file: &mut std::fs::File, end: i64) -> bool {
    if end == 0 {
        return true;
    }
    let mut b = [0u8; 1];
    file.seek(SeekFrom::Start(end as u64 - 1)).is_ok() && file.read_exact(&mut b).is_ok() && b[0] == b'\n'
}

/// Adds the lines of `file` from `marks.end` on, as [`super::jsonl_store::LineReader`] splits
/// them: a line is what ends in a newline, without a trailing `\r`; blank lines are not lines;
/// one longer than [`MAX_LINE`] is skipped.
fn scan_file(file: &mut std::fs::File, marks: &mut Marks) -> std::io::Result<()> {
    file.seek(SeekFrom::Start(marks.end as u64))?;
    let mut base = marks.end as u64;
    // Where the line being read started, and whether it has a byte other than whitespace.
    let mut start = base;
    let mut seen = false;
    read_chunks(file, CHUNK, |chunk| {
        let mut from = 0;
        for nl in memchr::memchr_iter(b'\n', chunk) {
            seen = seen || !chunk[from..nl].iter().all(u8::is_ascii_whitespace);
            let end = base + nl as u64;
            if seen && end - start <= MAX_LINE as u64 {
                marks.push(start);
            }
            start = end + 1;
            seen = false;
            from = nl + 1;
        }
        seen = seen || !chunk[from..].iter().all(u8::is_ascii_whitespace);
        base += chunk.len() as u64;
        true
    })?;
    marks.end = start as i64;
    marks.clean = base - start <= MAX_LINE as u64;
    Ok(())
}

/// Marks of one session's rows in an agent database (seqs of readable rows).
pub fn of_db(conn: &Connection, db: &Path, session_id: &str) -> Result<Arc<Marks>, String> {
    let key = Key::Db(db.to_path_buf(), session_id.to_string());
    let Some((lo, hi)) = sqlite_store::seq_bounds(conn, session_id)? else {
        return Ok(Arc::new(Marks::default()));
    };
    let stamp = Stamp::Db(lo, hi);
    let mut marks = Marks { end: i64::MIN, ..Marks::default() };
    if let Some((old, m)) = cached(&key) {
        if old == stamp {
            return Ok(m);
        }
        // Rows added after the last one seen (the session went on): read those only.
        if let Stamp::Db(old_lo, old_hi) = old {
            if old_lo == lo && hi > old_hi {
                marks = (*m).clone();
            }
        }
    }
    sqlite_store::row_kinds(conn, session_id, marks.end, |seq, readable| {
        if readable {
            marks.push(seq as u64);
        } else {
            marks.unreadable += 1;
        }
        marks.end = marks.end.max(seq);
    })?;
    let marks = Arc::new(marks);
    keep(key, stamp, marks.clone());
    Ok(marks)
}

/// The line count of an archive, when a page read it to the end before (`id`: what tells the
/// archive apart, its name and place).
pub fn archive_lines(id: &str) -> Option<u64> {
    cached(&Key::Archive(id.to_string())).map(|(_, m)| m.lines)
}

/// Keeps the line count of an archive read to its end.
pub fn keep_archive_lines(id: &str, lines: u64) {
    keep(Key::Archive(id.to_string()), Stamp::Fixed, Arc::new(Marks { lines, ..Marks::default() }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::jsonl_store::LineReader;

    /// Lines and their offsets as `LineReader` hands them over (the independent count).
    fn reference(text: &[u8]) -> Vec<(u64, Vec<u8>)> {
        let mut out = Vec::new();
        let mut r = LineReader::default();
        r.feed(text, |l| out.push(l.to_vec()));
        // Offsets: each line's first byte, found by walking the text line by line.
        let mut offsets = Vec::new();
        let mut at = 0usize;
        for part in text.split_inclusive(|&b| b == b'\n') {
            if part.ends_with(b"\n") && !part.iter().all(u8::is_ascii_whitespace) {
                offsets.push(at as u64);
            }
            at += part.len();
        }
        offsets.into_iter().zip(out).collect()
    }

    #[test]
    fn file_marks_match_the_line_reader_and_follow_appends() {
        let dir = std::env::temp_dir().join(format!("clawmetry-marks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("s.jsonl");
        let mut text = Vec::new();
        for i in 0..1000 {
            text.extend_from_slice(format!("{{\"n\":{i}}}\n").as_bytes());
            if i % 97 == 0 {
                text.extend_from_slice(b"  \r\n\n");
            }
        }
        text.extend_from_slice(b"{\"partial\":");
        std::fs::write(&p, &text).unwrap();
        let want = reference(&text);
        assert_eq!(want.len(), 1000);
        let m = of_file(&p).unwrap().unwrap();
        assert_eq!(m.lines, 1000);
        for n in [0u64, 1, 127, 128, 129, 500, 999] {
            let (k, off) = m.before(n).unwrap();
            assert!(k <= n && n - k < STRIDE);
            assert_eq!(off, want[k as usize].0, "line {k}");
        }
        // The partial line is finished and more appended: the marks go on from where they ended.
        let mut more = b"1}\n".to_vec();
        for i in 0..300 {
            more.extend_from_slice(format!("{{\"m\":{i}}}\n").as_bytes());
        }
        std::io::Write::write_all(&mut std::fs::OpenOptions::new().append(true).open(&p).unwrap(), &more).unwrap();
        text.extend_from_slice(&more);
        let want = reference(&text);
        let m2 = of_file(&p).unwrap().unwrap();
        assert_eq!(m2.lines, 1301);
        let (k, off) = m2.before(1300).unwrap();
        assert_eq!((k, off), (1280, want[1280].0));
        // What a fresh pass makes is the same.
        let mut fresh = Marks::default();
        scan_file(&mut std::fs::File::open(&p).unwrap(), &mut fresh).unwrap();
        assert_eq!(*m2, fresh);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn marks_thin_out_past_the_bound() {
        let mut m = Marks::default();
        let n = STRIDE * MAX_MARKS as u64 * 3;
        for i in 0..n {
            m.push(i * 10);
        }
        assert_eq!(m.lines, n);
        assert!(m.at.len() <= MAX_MARKS);
        assert!(m.bytes() <= 2 * MAX_MARKS * 8);
        for line in [0, 1, STRIDE * 5 + 3, n / 2 + 7, n - 1] {
            let (k, at) = m.before(line).unwrap();
            assert!(k <= line && line - k < m.stride, "{line}: mark {k}, stride {}", m.stride);
            assert_eq!(at, k * 10);
        }
    }
}
