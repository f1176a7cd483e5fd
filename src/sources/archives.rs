//! What OpenClaw keeps of a session that is no longer live: transcript archives.
//!
//! - In an agent database (2026.8+): `session_transcript_archives` (one row per archived
//!   generation: `reason` deleted or reset, `encoding` identity or zstd, the whole transcript as
//!   JSONL in `archive_blob`, named by the unique `archive_name`) and
//!   `session_transcript_cold_archives` (`storage` sqlite: the blob is in the row; `storage`
//!   file: it is `sessions/cold/<archive_name>` or `sessions/<archive_name>` beside the agent
//!   dir).
//! - As files in `agents/<agent>/sessions/`: `<id>.jsonl.deleted.<ts>` and `<id>.jsonl.reset.<ts>`
//!   (file era; counted by the JSONL store itself) and their zstd forms
//!   `<id>.jsonl.deleted.<ts>[.<hash>].zst`, `<id>.jsonl.reset.<ts>[.<hash>].zst`.
//!
//! Everything is read as a stream (a blob through SQLite's incremental I/O, a file through the
//! zstd decoder), so an archive of any size costs one read buffer, never its whole text.

use rusqlite::{Connection, MAIN_DB};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Why OpenClaw archived a transcript; shown to the user as the session's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reason {
    Reset,
    Archived,
    Deleted,
}

impl Reason {
    pub fn parse(s: &str) -> Option<Reason> {
        match s {
            "deleted" => Some(Reason::Deleted),
            "reset" => Some(Reason::Reset),
            "archived" | "cold" => Some(Reason::Archived),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Reset => "reset",
            Reason::Archived => "archived",
            Reason::Deleted => "deleted",
        }
    }
}

/// Where an archive's bytes are.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Place {
    /// A row of `table` in an agent database, by rowid.
    Row { db: PathBuf, table: &'static str, rowid: i64 },
    /// A file (`.zst` when compressed).
    File(PathBuf),
}

/// One archived transcript, described without reading it.
#[derive(Debug, Clone)]
pub struct Archive {
    pub session_id: String,
    pub session_key: Option<String>,
    pub reason: Reason,
    /// The unique archive name (a DB row's `archive_name`, or the file name): the same archive
    /// kept both as a row and as a file is one archive.
    pub name: String,
    pub zstd: bool,
    pub created_ms: Option<i64>,
    pub place: Place,
}

/// Largest transcript line accepted from an archive (the live stores use the same bound).
const MAX_INFLATED: u64 = 64 * 1024 * 1024 * 1024;

/// The columns a table has (none when it does not exist).
fn columns(conn: &Connection, table: &str) -> Vec<String> {
    let Ok(mut stmt) = conn.prepare(&format!("PRAGMA table_info({table})")) else { return Vec::new() };
    stmt.query_map([], |r| r.get::<_, String>(1)).map(|rows| rows.flatten().collect()).unwrap_or_default()
}

/// The archives an agent database lists, without their blobs. Rows whose `encoding` is neither
/// identity nor zstd are returned in `unknown` (counted on /api/health, never read).
pub fn list_db(conn: &Connection, db: &Path, sessions_dir: &Path) -> Result<DbListing, String> {
    let mut out = DbListing::default();
    if !columns(conn, "session_transcript_archives").is_empty() {
        let mut stmt = conn
            .prepare(
                "SELECT rowid, session_id, session_key, reason, encoding, archive_name, created_at \
                 FROM session_transcript_archives ORDER BY rowid",
            )
            .map_err(|e| format!("session_transcript_archives: {e}"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2).ok().flatten(),
                    r.get::<_, Option<String>>(3).ok().flatten().unwrap_or_default(),
                    r.get::<_, Option<String>>(4).ok().flatten().unwrap_or_default(),
                    r.get::<_, Option<String>>(5).ok().flatten().unwrap_or_default(),
                    r.get::<_, Option<i64>>(6).ok().flatten(),
                ))
            })
            .map_err(|e| format!("session_transcript_archives: {e}"))?;
        for row in rows {
            let Ok((rowid, session_id, session_key, reason, encoding, name, created_ms)) = row else {
                out.unreadable += 1;
                continue;
            };
            let zstd = match encoding.as_str() {
                "zstd" => true,
                "identity" | "" | "plain" | "none" => false,
                _ => {
                    out.unknown_encoding.push((name, encoding));
                    continue;
                }
            };
            out.archives.push(Archive {
                session_id,
                session_key: session_key.filter(|k| !k.is_empty()),
                reason: Reason::parse(&reason).unwrap_or(Reason::Deleted),
                name,
                zstd,
                created_ms,
                place: Place::Row { db: db.to_path_buf(), table: "session_transcript_archives", rowid },
            });
        }
    }
    let cold = columns(conn, "session_transcript_cold_archives");
    if !cold.is_empty() {
        let has = |c: &str| cold.iter().any(|x| x == c);
        let sql = format!(
            "SELECT rowid, session_id, archive_name, archived_at, {storage}, {blob} FROM session_transcript_cold_archives \
             ORDER BY rowid",
            storage = if has("storage") { "storage" } else { "'sqlite'" },
            blob = if has("archive_blob") { "archive_blob IS NOT NULL" } else { "0" },
        );
        let mut stmt = conn.prepare(&sql).map_err(|e| format!("session_transcript_cold_archives: {e}"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2).ok().flatten().unwrap_or_default(),
                    r.get::<_, Option<i64>>(3).ok().flatten(),
                    r.get::<_, Option<String>>(4).ok().flatten().unwrap_or_default(),
                    r.get::<_, bool>(5).unwrap_or(false),
                ))
            })
            .map_err(|e| format!("session_transcript_cold_archives: {e}"))?;
        for row in rows {
            let Ok((rowid, session_id, name, created_ms, storage, has_blob)) = row else {
                out.unreadable += 1;
                continue;
            };
            let place = if storage == "sqlite" && has_blob {
                Place::Row { db: db.to_path_buf(), table: "session_transcript_cold_archives", rowid }
            } else {
                // A file: its name is the archive name, under sessions/cold/ (or sessions/).
                let base = Path::new(&name).file_name().map(PathBuf::from).unwrap_or_default();
                let cold_path = sessions_dir.join("cold").join(&base);
                let flat = sessions_dir.join(&base);
                match (cold_path.is_file(), flat.is_file()) {
                    (true, _) => Place::File(cold_path),
                    (false, true) => Place::File(flat),
                    _ => {
                        out.missing_files += 1;
                        continue;
                    }
                }
            };
            out.archives.push(Archive {
                session_id,
                session_key: None,
                reason: Reason::Archived,
                zstd: name.ends_with(".zst")
                    || matches!(&place, Place::File(p) if p.extension().is_some_and(|e| e == "zst")),
                name,
                created_ms,
                place,
            });
        }
    }
    Ok(out)
}

/// What [`list_db`] found.
#[derive(Debug, Default)]
pub struct DbListing {
    pub archives: Vec<Archive>,
    /// Rows with an encoding this version cannot read: (archive name, encoding).
    pub unknown_encoding: Vec<(String, String)>,
    /// Rows that could not be decoded at all.
    pub unreadable: u64,
    /// Cold archives whose file is not there (any more).
    pub missing_files: u64,
}

/// The archive a file in a sessions dir is, when it is one of the zstd forms
/// (`<id>.jsonl.deleted.<ts>[.<hash>].zst`, `<id>.jsonl.reset.<ts>[.<hash>].zst`). Plain
/// `.deleted.`/`.reset.` files are transcripts of the JSONL store.
pub fn classify_file(path: &Path) -> Option<Archive> {
    let name = path.file_name()?.to_str()?;
    let stem = name.strip_suffix(".zst")?;
    let pos = stem.find(".jsonl.")?;
    let (id, rest) = (&stem[..pos], &stem[pos + ".jsonl.".len()..]);
    if id.is_empty() || id.contains(".checkpoint.") || id.contains(".bak") {
        return None;
    }
    let (reason, ts) = if let Some(ts) = rest.strip_prefix("deleted.") {
        (Reason::Deleted, ts)
    } else if let Some(ts) = rest.strip_prefix("reset.") {
        (Reason::Reset, ts)
    } else {
        return None;
    };
    Some(Archive {
        session_id: id.to_string(),
        session_key: None,
        reason,
        name: name.to_string(),
        zstd: true,
        created_ms: crate::timefmt::parse_iso_ms(&archive_ts(ts)),
        place: Place::File(path.to_path_buf()),
    })
}

/// `2026-12-06T01-22-03.123Z[.<hash>]` (OpenClaw's ISO time with `:` turned into `-`) as ISO.
fn archive_ts(ts: &str) -> String {
    let ts = ts.split_once('Z').map(|(a, _)| format!("{a}Z")).unwrap_or_else(|| ts.to_string());
    match ts.split_once('T') {
        Some((date, time)) => format!("{date}T{}", time.replacen('-', ":", 2)),
        None => ts,
    }
}

/// Opens an archive as a stream of its (inflated) JSONL bytes.
pub fn open(a: &Archive) -> Result<Box<dyn Read>, String> {
    let raw: Box<dyn Read> = match &a.place {
        Place::File(p) => Box::new(super::open_file(p).map_err(|e| format!("{}: {e}", p.display()))?),
        Place::Row { db, table, rowid } => Box::new(RowBlob::open(db, table, *rowid)?),
    };
    if !a.zstd {
        return Ok(raw);
    }
    // The decoder reads block headers a few bytes at a time: buffered, a file costs one read
    // and a row one blob handle per 128 KiB, not per header.
    let raw = std::io::BufReader::with_capacity(128 * 1024, raw);
    let dec = ruzstd::decoding::StreamingDecoder::new(raw).map_err(|e| format!("{}: zstd: {e}", a.name))?;
    Ok(Box::new(dec.take(MAX_INFLATED)))
}

/// A blob read in pieces through SQLite's incremental blob I/O, on a connection of its own
/// (read-only) that lives as long as the reader.
struct RowBlob {
    conn: Connection,
    table: &'static str,
    rowid: i64,
    pos: usize,
    len: usize,
}

impl RowBlob {
    fn open(db: &Path, table: &'static str, rowid: i64) -> Result<RowBlob, String> {
        let conn = super::sqlite_store::open(db)?;
        let len = conn
            .blob_open(MAIN_DB, table, "archive_blob", rowid, true)
            .map_err(|e| format!("{}: {table} row {rowid}: {e}", db.display()))?
            .len();
        Ok(RowBlob { conn, table, rowid, pos: 0, len })
    }
}

impl Read for RowBlob {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.len || buf.is_empty() {
            return Ok(0);
        }
        // A blob handle per read keeps no statement open between reads, so OpenClaw's writers
        // and checkpoints never wait on a half-read archive.
        let blob = self
            .conn
            .blob_open(MAIN_DB, self.table, "archive_blob", self.rowid, true)
            .map_err(std::io::Error::other)?;
        let n = buf.len().min(self.len - self.pos);
        blob.read_at_exact(&mut buf[..n], self.pos).map_err(std::io::Error::other)?;
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_file_names() {
        let a =
            classify_file(Path::new("/s/0f1e2d3c-aaaa.jsonl.deleted.2026-12-06T01-22-03.123Z.9f86d081884c7d65.zst"))
                .unwrap();
        assert_eq!((a.session_id.as_str(), a.reason, a.zstd), ("0f1e2d3c-aaaa", Reason::Deleted, true));
        assert_eq!(a.created_ms, crate::timefmt::parse_iso_ms("2026-12-06T01:22:03.123Z"));
        let r = classify_file(Path::new("/s/abc.jsonl.reset.2026-04-05T04-22-28.629Z.zst")).unwrap();
        assert_eq!((r.session_id.as_str(), r.reason), ("abc", Reason::Reset));
        assert!(r.created_ms.is_some());
        for not in [
            "abc.jsonl",
            "abc.jsonl.deleted.2026-04-05T04-22-28.629Z",
            "abc.jsonl.bak.1.zst",
            "x.zst",
            ".jsonl.reset.1.zst",
        ] {
            assert!(classify_file(Path::new(not)).is_none(), "{not}");
        }
    }
}
