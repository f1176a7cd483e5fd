//! The restart checkpoint: what reading a source gave, kept in `<data-dir>/checkpoint` so that
//! a restart takes it from there instead of reading the source again.
//!
//! A source is kept under a key that names it and its identity (`watch/checkpoint.rs`): a
//! transcript archive (a `.zst` file: path, device, inode, size, mtime; a database row: the
//! database's path, device and inode, the table, rowid and archive name), a JSONL file (path,
//! device, inode; size, mtime and a hash of its last bytes in `Resume`), an agent database
//! (path, device, inode; its rows up to the last one read in `DbResume`). A key that matches is
//! the same content (or, for a file or a database, the same content followed by more), and its
//! tally and the health counters reading it gave are taken as they are (a row is binary,
//! `checkpoint/rows.rs`, decoded when its source is met). Anything else is read as at a cold
//! start. The file is refused whole (and a cold index runs) when it is not a database, a row
//! does not match its checksum, or it was written by another format, build or price table;
//! `/api/health` says so (`checkpoint`). A row that matches its checksum and still does not
//! decode is not taken: its source is read (`badRows`). What it is not: the ledger
//! (`ledger.rs`, the spend of every session, kept forever); the checkpoint only saves reading,
//! and deleting it costs one slower start.

mod rows;

use crate::model::{SessionMeta, Tally};
use crate::state::IndexHealth;
use foldhash::HashMap;
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use std::hash::BuildHasher;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The layout of the file and of its rows; another one is ignored (and rewritten).
const FORMAT: &str = "4";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sources (key TEXT PRIMARY KEY, sum INTEGER NOT NULL, data BLOB NOT NULL);
";

/// What a source gave when it was read: its tally (its whole content up to `resume`) and the
/// health counters.
#[derive(Debug, Clone, Default)]
pub struct Saved {
    pub tally: Tally,
    pub health: IndexHealth,
    /// A JSONL file: how far it was read, to go on from there when it only grew.
    pub resume: Option<Resume>,
    /// An agent database: how far it was read, and each session's figures.
    pub db: Option<DbResume>,
    /// A session index (`sessions.json`) or an agent database: the session records it holds
    /// (a database's up to `DbResume::meta_since` and `window_rowid`).
    pub metas: Vec<SessionMeta>,
}

/// Where an agent database was read to: its highest rowid read, the rows up to it, the highest
/// seq of each session then (a restart checks that the rows up to `max_rowid` are still these:
/// the same sessions with the same highest seq, and as many rows), and what each session's
/// rows gave.
#[derive(Debug, Clone, Default)]
pub struct DbResume {
    pub max_rowid: i64,
    pub rows: u64,
    pub seqs: Vec<(String, i64)>,
    pub sessions: Vec<(String, Tally)>,
    /// Where its session records (`Saved::metas`) were read to: the highest `updated_at` and
    /// window rowid (`sqlite_store::sessions_since`); a restart reads only the records past them.
    pub meta_since: i64,
    pub window_rowid: i64,
}

/// Where a JSONL file was read to: its size and mtime then (the same now: nothing to read),
/// its lines, and a hash of the `tail_len` bytes before `size` (the same now: the file only
/// grew, and is read from `size`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Resume {
    pub size: u64,
    pub mtime_ns: i64,
    pub lines: u64,
    pub tail_len: u64,
    pub tail_hash: u64,
}

/// The checkpoint's part of /api/health.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckpointHealth {
    pub path: Option<PathBuf>,
    pub enabled: bool,
    /// A checkpoint was found and used at this start.
    pub loaded: bool,
    /// Sources taken from it (`sourcesResumed` of them JSONL files or databases that grew, read
    /// from where the checkpoint left them), and sources read because it had no match for them.
    pub sources_reused: u64,
    pub sources_resumed: u64,
    pub sources_reread: u64,
    /// Checkpoints refused at start (corrupt, another format or build or price table).
    pub ignored: u64,
    /// Rows that matched their checksum but did not decode when their source was met (written
    /// by a faulty build): those sources were read.
    pub bad_rows: u64,
    pub error: Option<String>,
    /// Sources written to it since start.
    pub written: u64,
    pub last_write_ms: Option<i64>,
}

pub struct Checkpoint {
    conn: Mutex<Connection>,
    pub path: PathBuf,
    /// Sources loaded at start and not yet claimed: what is left once the cold index ends are
    /// sources gone, dropped from the file at the next write.
    kept: Mutex<Kept>,
    /// Sources read since the last write (or `offer`'s last flush), to be written.
    fresh: Mutex<Fresh>,
    /// Keys loaded but not claimed, to drop (set by `prune`).
    stale: Mutex<Vec<String>>,
    reused: AtomicU64,
    resumed: AtomicU64,
    reread: AtomicU64,
    /// Rows that matched their checksum but did not decode when taken (their sources read).
    bad_rows: AtomicU64,
    /// Offered rows past this many bytes are written at once (`offer`), not held until the
    /// next write: at 100k sessions they were ~45 MB, a fifth of a first start's peak RSS.
    flush_at: usize,
    /// Rows written that way since the last `write`, and the error of one that failed.
    flushed: AtomicU64,
    flush_error: Mutex<Option<String>>,
}

/// [`Checkpoint::flush_at`]: 8 MiB.
const FLUSH_AT: usize = 8 << 20;

/// The rows loaded at start, as the file holds them (each checked against its checksum),
/// decoded when taken. The bytes of the rows lie back to back (key, then data) in chunks of
/// about [`CHUNK`]: ~45 MB at 100k sessions, where the rows decoded up front were ~4x that, in
/// 100k allocations which, freed amid the index's own, the allocator could not give back
/// (RSS after a restart at 100k sessions: 207-241 MB then, 138 MB now). A chunk is given back
/// as soon as every row in it is taken for good ([`Kept::finish`]): a database's rows, written
/// together, go when it is taken, not at the end of the cold index (peak RSS of a restart at
/// 100k sessions 214-218 -> 169-177 MB).
#[derive(Default)]
struct Kept {
    /// Shared with a `take` decoding outside the lock; an empty one once given back.
    bufs: Vec<Arc<Vec<u8>>>,
    /// Per chunk, its rows not taken for good yet.
    unfinished: Vec<u32>,
    rows: Vec<Span>,
    /// A row's position by the hash of its key; a row whose hash an earlier row has is in
    /// `clashes` (looked through in full: in practice empty).
    by_hash: HashMap<u64, u32>,
    clashes: Vec<u32>,
    hasher: foldhash::fast::RandomState,
    /// Rows not taken.
    left: usize,
}

/// Sources read since the last write, encoded at once (`rows::encode_to`: a source's `Saved`
/// is ~5x its row, and a first start at 100k sessions held every one of them until the write),
/// back to back in one buffer (key, then data): as 100k pairs of allocations, freed amid the
/// index's own, they left a first start's RSS at 100k sessions ~30 MB higher (179-185 → 150-157
/// MB).
#[derive(Default)]
struct Fresh {
    buf: Vec<u8>,
    /// Each row's key and data lengths, in `buf`'s order.
    rows: Vec<(usize, usize)>,
}

impl Fresh {
    fn push(&mut self, key: &str, s: &Saved) {
        self.buf.extend_from_slice(key.as_bytes());
        let at = self.buf.len();
        rows::encode_to(s, &mut self.buf);
        self.rows.push((key.len(), self.buf.len() - at));
    }

    /// (key, data) of each row.
    fn each(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        let mut at = 0;
        self.rows.iter().map(move |&(k, d)| {
            let row = (&self.buf[at..at + k], &self.buf[at + k..at + k + d]);
            at += k + d;
            row
        })
    }
}

/// Where a row lies: its chunk (a position in `Kept::bufs`) and its place in it.
#[derive(Debug, Clone, Copy)]
struct Span {
    buf: u32,
    at: usize,
    key_len: usize,
    data_len: usize,
    taken: bool,
    /// Taken for good (its chunk's count of unfinished rows went down).
    finished: bool,
}

impl Kept {
    fn key(&self, r: &Span) -> &[u8] {
        &self.bufs[r.buf as usize][r.at..r.at + r.key_len]
    }

    /// The row with this key, when it is not taken.
    fn find(&self, key: &str) -> Option<usize> {
        let hit = |&i: &u32| {
            let r = &self.rows[i as usize];
            (!r.taken && self.key(r) == key.as_bytes()).then_some(i as usize)
        };
        let h = self.hasher.hash_one(key.as_bytes());
        self.by_hash.get(&h).and_then(hit).or_else(|| self.clashes.iter().find_map(hit))
    }

    /// The chunk holding row `r`.
    fn chunk(&self, r: &Span) -> Arc<Vec<u8>> {
        self.bufs[r.buf as usize].clone()
    }

    /// Rows taken for good (decoded, or written again by `flush`): never given back, nor read
    /// again. A chunk all of whose rows are finished is given back (freed once no `take` holds
    /// it).
    fn finish(&mut self, rows: &[usize]) {
        for &i in rows {
            let Some(r) = self.rows.get_mut(i) else { continue };
            if !r.taken || r.finished {
                continue;
            }
            r.finished = true;
            let b = r.buf as usize;
            self.unfinished[b] -= 1;
            if self.unfinished[b] == 0 {
                self.bufs[b] = Arc::default();
            }
        }
    }

    /// Marks row `i` taken or not (none once `prune` dropped the rows).
    fn set_taken(&mut self, i: usize, taken: bool) {
        let Some(r) = self.rows.get_mut(i) else { return };
        if r.taken != taken {
            r.taken = taken;
            if taken {
                self.left -= 1;
            } else {
                self.left += 1;
            }
        }
    }
}

/// The data of row `r`, in its chunk.
fn data_of<'a>(chunk: &'a [u8], r: &Span) -> &'a [u8] {
    let start = r.at + r.key_len;
    &chunk[start..start + r.data_len]
}

/// What became of a source at start (`Checkpoint::count`).
pub enum Use {
    Reused,
    Resumed,
    Reread,
}

/// Who wrote a checkpoint: the format, the build and the price table (estimated costs depend
/// on it). The build is the version, the commit, and the executable's size and mtime: two
/// builds of one commit (a work tree with changes) are two builds.
fn stamp(prices: u64) -> [(&'static str, String); 3] {
    let exe = std::env::current_exe().and_then(std::fs::metadata).map(|m| {
        use std::os::unix::fs::MetadataExt;
        format!("{} {}.{:09}", m.len(), m.mtime(), m.mtime_nsec())
    });
    let build = format!(
        "{} {} {}",
        env!("CARGO_PKG_VERSION"),
        env!("CLAWMETRY_GIT_COMMIT"),
        exe.unwrap_or_else(|e| format!("({e})"))
    );
    [("format", FORMAT.to_string()), ("build", build), ("prices", format!("{prices:016x}"))]
}

impl Checkpoint {
    /// Opens `<data_dir>/checkpoint` and loads what it keeps. A file that cannot be used is
    /// removed and a fresh one made; the second value says why it was refused.
    pub fn open(data_dir: &Path, prices: u64) -> Result<(Checkpoint, Option<String>), String> {
        std::fs::create_dir_all(data_dir).map_err(|e| format!("{}: {e}", data_dir.display()))?;
        let path = data_dir.join("checkpoint");
        let (kept, refused) = if path.exists() {
            match load(&path, prices) {
                Ok(kept) => (kept, None),
                Err(e) => {
                    for suffix in ["", "-journal", "-wal", "-shm"] {
                        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                    }
                    (Kept::default(), Some(e))
                }
            }
        } else {
            (Kept::default(), None)
        };
        let err = |e: rusqlite::Error| format!("{}: {e}", path.display());
        let conn = Connection::open(&path).map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(2)).ok();
        // A rollback journal, not a WAL: the file alone is the checkpoint (a write is rare, one
        // transaction after the cold index and when archives appear).
        conn.execute_batch("PRAGMA journal_mode = DELETE; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -256;")
            .and_then(|_| conn.execute_batch(SCHEMA))
            .map_err(err)?;
        for (k, v) in stamp(prices) {
            conn.execute("INSERT OR REPLACE INTO meta VALUES (?1, ?2)", params![k, v]).map_err(err)?;
        }
        let cp = Checkpoint {
            conn: Mutex::new(conn),
            path,
            kept: Mutex::new(kept),
            fresh: Mutex::default(),
            stale: Mutex::default(),
            reused: AtomicU64::new(0),
            resumed: AtomicU64::new(0),
            reread: AtomicU64::new(0),
            bad_rows: AtomicU64::new(0),
            flush_at: FLUSH_AT,
            flushed: AtomicU64::new(0),
            flush_error: Mutex::default(),
        };
        Ok((cp, refused))
    }

    /// Rows loaded at start and not taken yet (a database's sessions are rows of their own; 0
    /// when none was loaded, or the file was refused).
    pub fn loaded(&self) -> usize {
        crate::sync::lock(&self.kept).left
    }

    /// What the source with this key gave, when the checkpoint has it (taken: once). The
    /// caller says what it did with it (`count`). A database's sessions are rows of their own
    /// (`session_key`): one missing and the database is not taken (its rows stay to be pruned).
    /// A row that does not decode (it matched its checksum: written by a faulty build) is not
    /// taken either: its source is read, and /api/health counts it (`badRows`). A key is met
    /// by one reader only (one source), and `prune` comes once every reader is done.
    pub fn take(&self, key: &str) -> Option<Saved> {
        let (chunk, at, row) = {
            let mut kept = crate::sync::lock(&self.kept);
            let at = kept.find(key)?;
            kept.set_taken(at, true);
            (kept.chunk(&kept.rows[at]), at, kept.rows[at])
        };
        // Decoded outside the lock: the cold index's readers take rows side by side.
        let give_back = |rows: &[usize]| {
            let mut kept = crate::sync::lock(&self.kept);
            for &i in rows {
                kept.set_taken(i, false);
            }
        };
        let Some(mut got) = rows::decode(data_of(&chunk, &row)) else {
            self.bad_rows.fetch_add(1, Ordering::Relaxed);
            give_back(&[at]);
            return None;
        };
        drop(chunk);
        if let Some(db) = got.db.as_mut() {
            let mut taken = Vec::with_capacity(db.sessions.len() + 1);
            taken.push(at);
            let mut spans = Vec::with_capacity(db.sessions.len());
            {
                let mut kept = crate::sync::lock(&self.kept);
                for (id, _) in &db.sessions {
                    match kept.find(&session_key(key, id)) {
                        Some(i) => {
                            kept.set_taken(i, true);
                            taken.push(i);
                            spans.push((kept.rows[i], kept.chunk(&kept.rows[i])));
                        }
                        None => {
                            for &i in &taken {
                                kept.set_taken(i, false);
                            }
                            return None;
                        }
                    }
                }
            }
            for ((_, t), (r, chunk)) in db.sessions.iter_mut().zip(&spans) {
                match rows::decode(data_of(chunk, r)) {
                    Some(s) => *t = s.tally,
                    None => {
                        self.bad_rows.fetch_add(1, Ordering::Relaxed);
                        give_back(&taken);
                        return None;
                    }
                }
            }
            drop(spans);
            crate::sync::lock(&self.kept).finish(&taken);
        } else {
            crate::sync::lock(&self.kept).finish(&[at]);
        }
        Some(got)
    }

    /// Counts a source met at start: taken from the checkpoint whole, resumed, or read.
    pub fn count(&self, how: Use) {
        let c = match how {
            Use::Reused => &self.reused,
            Use::Resumed => &self.resumed,
            Use::Reread => &self.reread,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// A source read now, to be kept at the next write (a database's sessions each as a row
    /// of its own: no row, decoded whole, as big as a database). Encoded now; what was given
    /// comes back, its database's tallies taken (the session records stay: the caller's).
    /// Once the rows offered since the last write pass `flush_at` bytes they are written at
    /// once, in a transaction of their own (a database's rows always together: one offer).
    pub fn offer(&self, key: String, mut saved: Saved) -> Saved {
        let mut fresh = crate::sync::lock(&self.fresh);
        if let Some(db) = saved.db.as_mut() {
            for (id, t) in db.sessions.iter_mut() {
                let one = Saved { tally: std::mem::take(t), ..Saved::default() };
                fresh.push(&session_key(&key, id), &one);
            }
        }
        fresh.push(&key, &saved);
        if fresh.buf.len() >= self.flush_at {
            let full = std::mem::take(&mut *fresh);
            drop(fresh);
            self.flush(full);
        }
        saved
    }

    /// Writes rows offered during the cold index before its end (`offer`). A row loaded at
    /// start under the same key (a source that changed, or a row that did not decode) is taken
    /// now: else `prune` would list it, and the next write delete what was just written. Two
    /// readers' flushes may commit in either order: a source is offered once per cold index,
    /// so no key is in both.
    fn flush(&self, fresh: Fresh) {
        {
            let mut kept = crate::sync::lock(&self.kept);
            if kept.left > 0 {
                for (k, _) in fresh.each() {
                    if let Some(i) = std::str::from_utf8(k).ok().and_then(|k| kept.find(k)) {
                        kept.set_taken(i, true);
                        kept.finish(&[i]);
                    }
                }
            }
        }
        match self.insert(&fresh, &[]) {
            Ok(n) => {
                self.flushed.fetch_add(n, Ordering::Relaxed);
            }
            // The rows are not kept: their sources are read at the next start.
            Err(e) => *crate::sync::lock(&self.flush_error) = Some(e),
        }
    }

    /// After the cold index: the sources loaded and not met are gone (or changed), and are
    /// dropped from the file at the next write.
    pub fn prune(&self) {
        // Taken whole: the loaded rows' buffers are given back.
        let kept = std::mem::take(&mut *crate::sync::lock(&self.kept));
        let left = kept.rows.iter().filter(|r| !r.taken);
        let left: Vec<String> = left.map(|r| String::from_utf8_lossy(kept.key(r)).into_owned()).collect();
        crate::sync::lock(&self.stale).extend(left);
    }

    /// (reused, resumed, reread, rows that did not decode) since start.
    pub fn counts(&self) -> (u64, u64, u64, u64) {
        let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
        (n(&self.reused) + n(&self.resumed), n(&self.resumed), n(&self.reread), n(&self.bad_rows))
    }

    /// Writes the sources read since the last write and drops the stale ones, in one
    /// transaction (a crash leaves the file as it was before this write; rows `offer` wrote
    /// since are in it). Returns how many rows were written, those `offer` wrote included; an
    /// error (this write's, or one of `offer`'s) comes with how many were written all the same.
    pub fn write(&self) -> Result<u64, (u64, String)> {
        let fresh = std::mem::take(&mut *crate::sync::lock(&self.fresh));
        let stale = std::mem::take(&mut *crate::sync::lock(&self.stale));
        let written = self.insert(&fresh, &stale);
        let flushed = self.flushed.swap(0, Ordering::Relaxed);
        let flush_error = crate::sync::lock(&self.flush_error).take();
        match (written, flush_error) {
            (Ok(n), None) => Ok(flushed + n),
            (Ok(n), Some(e)) => Err((flushed + n, e)),
            (Err(e), _) => Err((flushed, e)),
        }
    }

    /// Deletes `stale` and writes `fresh`, in one transaction (a crash leaves the file as it
    /// was before); how many rows were written.
    fn insert(&self, fresh: &Fresh, stale: &[String]) -> Result<u64, String> {
        if fresh.rows.is_empty() && stale.is_empty() {
            return Ok(0);
        }
        let err = |e: rusqlite::Error| format!("{}: {e}", self.path.display());
        let mut conn = crate::sync::lock(&self.conn);
        let tx = conn.transaction().map_err(err)?;
        {
            let mut del = tx.prepare_cached("DELETE FROM sources WHERE key = ?1").map_err(err)?;
            for k in stale {
                del.execute(params![k]).map_err(err)?;
            }
            let mut ins = tx.prepare_cached("INSERT OR REPLACE INTO sources VALUES (?1, ?2, ?3)").map_err(err)?;
            for (k, data) in fresh.each() {
                // Pushed as a `&str`.
                let k = std::str::from_utf8(k).map_err(|e| format!("a key: {e}"))?;
                ins.execute(params![k, checksum(k, data), data]).map_err(err)?;
            }
        }
        tx.commit().map_err(err)?;
        Ok(fresh.rows.len() as u64)
    }
}

/// A loader's chunks and its rows: each row's key hash and place (its chunk numbered within
/// the share).
type Share = (Vec<Vec<u8>>, Vec<(u64, Span)>);

/// The size past which a loader starts a new chunk of rows ([`Kept`]).
const CHUNK: usize = 1 << 20;

/// Reads a checkpoint whole; any fault refuses it whole.
fn load(path: &Path, prices: u64) -> Result<Kept, String> {
    // Read-write (never created here): a write cut short (clawmetry killed in its transaction)
    // leaves a hot journal, which only a connection that may write rolls back; read-only, the
    // whole file would be refused for it.
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)
        .map_err(|e| format!("cannot open: {e}"))?;
    let err = |e: rusqlite::Error| format!("unreadable: {e}");
    for (k, want) in stamp(prices) {
        let got: Option<String> = conn
            .query_row("SELECT value FROM meta WHERE key = ?1", params![k], |r| r.get(0))
            .optional()
            .map_err(err)?;
        if got.as_deref() != Some(want.as_str()) {
            return Err(format!("written with another {k} ({}, this is {want})", got.unwrap_or_default()));
        }
    }
    // Read and checked on one thread per core, each with its own connection over a share of
    // the rowids.
    let (lo, hi): (i64, i64) = conn
        .query_row("SELECT ifnull(min(rowid), 0), ifnull(max(rowid), -1) FROM sources", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .map_err(err)?;
    drop(conn);
    let parts = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 4) as i64;
    // In i128: rowids may span the whole i64 range in a hostile file.
    let step = ((i128::from(hi) - i128::from(lo) + 1) / i128::from(parts)).clamp(1, i128::from(i64::MAX)) as i64;
    let hasher = foldhash::fast::RandomState::default();
    let by = &hasher;
    let shares: Vec<Result<Share, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..parts)
            .map(|i| {
                let from = lo.saturating_add(i.saturating_mul(step));
                let to = if i == parts - 1 { hi } else { from.saturating_add(step - 1) };
                s.spawn(move || load_share(path, from, to, CHUNK, by))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err("a reader failed".to_string()))).collect()
    });
    let n = shares.iter().map(|s| s.as_ref().map_or(0, |s| s.1.len())).sum();
    let mut kept = Kept {
        rows: Vec::with_capacity(n),
        by_hash: HashMap::with_capacity_and_hasher(n, Default::default()),
        hasher,
        left: n,
        ..Kept::default()
    };
    let mut spans = Vec::with_capacity(shares.len());
    for share in shares {
        let (chunks, mut s) = share?;
        let first = u32::try_from(kept.bufs.len()).map_err(|_| "more chunks than 2^32".to_string())?;
        for (_, span) in &mut s {
            span.buf += first;
        }
        kept.bufs.extend(chunks.into_iter().map(Arc::new));
        spans.push(s);
    }
    kept.unfinished = vec![0; kept.bufs.len()];
    for (h, span) in spans.into_iter().flatten() {
        let i = u32::try_from(kept.rows.len()).map_err(|_| "more rows than 2^32".to_string())?;
        if let Some(&earlier) = kept.by_hash.get(&h) {
            // A key twice (it is the table's primary key: a file made by hand) would be taken
            // once and pruned once, deleting both; two keys of one hash are rare enough to be
            // looked through in full.
            let same = |j: u32| kept.key(&kept.rows[j as usize]) == kept.key(&span);
            if same(earlier) || kept.clashes.iter().any(|&j| same(j)) {
                return Err(format!("key {:?} is there twice", String::from_utf8_lossy(kept.key(&span))));
            }
            kept.clashes.push(i);
        } else {
            kept.by_hash.insert(h, i);
        }
        kept.unfinished[span.buf as usize] += 1;
        kept.rows.push(span);
    }
    Ok(kept)
}

/// The rows with rowids `from..=to`, checked against their checksums (any fault refuses the
/// file), into chunks of about `chunk` bytes (`Kept`).
fn load_share(
    path: &Path,
    from: i64,
    to: i64,
    chunk: usize,
    hasher: &foldhash::fast::RandomState,
) -> Result<Share, String> {
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)
        .map_err(|e| format!("cannot open: {e}"))?;
    let err = |e: rusqlite::Error| format!("unreadable: {e}");
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    let mut buf = Vec::new();
    // `buf` holds a row (maybe of no bytes): it is a chunk.
    let mut open = false;
    let mut spans = Vec::new();
    let mut stmt = conn.prepare("SELECT key, sum, data FROM sources WHERE rowid BETWEEN ?1 AND ?2").map_err(err)?;
    let mut rows = stmt.query(params![from, to]).map_err(err)?;
    while let Some(r) = rows.next().map_err(err)? {
        // Borrowed from SQLite's row, not copied.
        let key = r.get_ref(0).map_err(err)?.as_str().map_err(|e| format!("a key: {e}"))?;
        let sum: i64 = r.get(1).map_err(err)?;
        let data = r.get_ref(2).map_err(err)?.as_blob().map_err(|e| format!("row {key:?}: {e}"))?;
        if sum != checksum(key, data) {
            return Err(format!("row {key:?} does not match its checksum"));
        }
        if open && buf.len() >= chunk {
            // Grown by doubling: the spare capacity was never touched, and is given back.
            buf.shrink_to_fit();
            chunks.push(std::mem::take(&mut buf));
        }
        // A row of no bytes (a file made by hand) has a chunk all the same.
        open = true;
        let at = chunks.len() as u32;
        let span =
            Span { buf: at, at: buf.len(), key_len: key.len(), data_len: data.len(), taken: false, finished: false };
        spans.push((hasher.hash_one(key.as_bytes()), span));
        buf.extend_from_slice(key.as_bytes());
        buf.extend_from_slice(data);
    }
    if open {
        buf.shrink_to_fit();
        chunks.push(buf);
    }
    Ok((chunks, spans))
}

/// The row of one session of the database kept under `db`.
fn session_key(db: &str, id: &str) -> String {
    format!("{db}\0session\0{id}")
}

/// A row's checksum ([`crate::codec::stable_hasher`] over key and data), as SQLite's signed
/// integer.
fn checksum(key: &str, data: &[u8]) -> i64 {
    crate::codec::stable_hash(&(key, data)) as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{HourUsage, Turn, Usage};

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("clawmetry-checkpoint-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn saved() -> Saved {
        let mut t = Tally { events: 5, tool_calls: 2, heartbeat_cost: 0.5, ..Tally::default() };
        t.models = vec!["a/x".into()];
        t.tools.add("exec", 2);
        t.tools.add_cost("exec", 0.1 + 0.2);
        t.usage = Usage { input: 10, cost: 0.1 + 0.2, ..Usage::default() };
        t.hourly = vec![HourUsage { hour: 7, model: 0, calls: 1, usage: t.usage }];
        t.opened = true;
        t.turn = Turn { cost: 0.3, tools: 1, heartbeat: true };
        t.head = Turn { cost: 0.7, tools: 0, heartbeat: false };
        let health = IndexHealth { lines: 5, archives: 1, bytes_read: 999, ..IndexHealth::default() };
        let resume = Some(Resume { size: 10, mtime_ns: -3, lines: 4, tail_len: 2, tail_hash: u64::MAX });
        let sessions = vec![("s1".to_string(), t.clone())];
        let db = Some(DbResume {
            max_rowid: 9,
            rows: 12,
            seqs: vec![("s1".into(), 11)],
            sessions,
            meta_since: 3,
            window_rowid: 4,
        });
        let metas = vec![SessionMeta { id: "s1".into(), label: Some("x".into()), ..SessionMeta::default() }];
        Saved { tally: t, health, resume, db, metas }
    }

    #[test]
    fn sources_round_trip_and_are_taken_once() {
        let d = dir("rt");
        {
            let (cp, refused) = Checkpoint::open(&d, 1).unwrap();
            assert_eq!((cp.loaded(), refused), (0, None));
            cp.offer("k1".into(), saved());
            // The source and its database's one session, a row each.
            assert_eq!(cp.write().unwrap(), 2);
        }
        let (cp, refused) = Checkpoint::open(&d, 1).unwrap();
        assert_eq!((cp.loaded(), refused), (2, None));
        let got = cp.take("k1").expect("kept");
        let want = saved();
        assert_eq!(got.tally.usage, want.tally.usage);
        assert_eq!(got.tally.tools, want.tally.tools);
        assert_eq!(got.tally.hourly, want.tally.hourly);
        assert_eq!((got.tally.turn, got.tally.head, got.tally.opened), (want.tally.turn, want.tally.head, true));
        assert_eq!(got.tally.heartbeat_cost, want.tally.heartbeat_cost);
        assert_eq!((got.health.lines, got.health.archives, got.health.bytes_read), (5, 1, 999));
        assert_eq!(got.resume, want.resume);
        let (db, want_db) = (got.db.unwrap(), want.db.unwrap());
        assert_eq!((db.max_rowid, db.rows, &db.seqs, db.meta_since, db.window_rowid), (9, 12, &want_db.seqs, 3, 4));
        assert_eq!(got.metas, want.metas);
        assert_eq!(db.sessions[0].0, "s1");
        assert_eq!((db.sessions[0].1.turn, db.sessions[0].1.usage), (want.tally.turn, want.tally.usage));
        assert!(cp.take("k1").is_none());
        // Met at this start: kept.
        cp.prune();
        cp.write().unwrap();
        drop(cp);
        let (cp, _) = Checkpoint::open(&d, 1).unwrap();
        assert_eq!(cp.loaded(), 2);
        drop(cp);
        // A database one of whose session rows is missing is not taken.
        let raw = Connection::open(d.join("checkpoint")).unwrap();
        raw.execute("DELETE FROM sources WHERE key = ?1", [session_key("k1", "s1")]).unwrap();
        drop(raw);
        let (cp, _) = Checkpoint::open(&d, 1).unwrap();
        assert_eq!(cp.loaded(), 1);
        assert!(cp.take("k1").is_none());
        assert_eq!(cp.loaded(), 1);
        // Not met at this start: dropped at the next write.
        cp.prune();
        cp.write().unwrap();
        drop(cp);
        assert_eq!(Checkpoint::open(&d, 1).unwrap().0.loaded(), 0);
        let _ = std::fs::remove_dir_all(&d);
    }

    /// A checkpoint in `d` of two sources: k1, a database with its session row (`saved`), and
    /// k2, a file with session records.
    fn write_two_sources(d: &Path) {
        let (cp, _) = Checkpoint::open(d, 1).unwrap();
        cp.offer("k1".into(), saved());
        cp.offer("k2".into(), Saved { metas: saved().metas, ..Saved::default() });
        assert_eq!(cp.write().unwrap(), 3);
    }

    #[test]
    fn a_row_that_does_not_decode_is_not_taken() {
        let d = dir("undecodable");
        write_two_sources(&d);
        // The session row of k1's database: bytes that are no row, with their checksum.
        let raw = Connection::open(d.join("checkpoint")).unwrap();
        let (key, junk) = (session_key("k1", "s1"), [0xffu8; 16]);
        raw.execute(
            "UPDATE sources SET data = ?2, sum = ?3 WHERE key = ?1",
            params![key, &junk[..], checksum(&key, &junk)],
        )
        .unwrap();
        drop(raw);
        let (cp, refused) = Checkpoint::open(&d, 1).unwrap();
        assert_eq!((cp.loaded(), refused), (3, None));
        assert!(cp.take("k1").is_none());
        assert_eq!((cp.loaded(), cp.counts().3), (3, 1), "given back whole, counted");
        assert_eq!(cp.take("k2").map(|s| s.metas), Some(saved().metas));
        assert_eq!(cp.loaded(), 2);
        cp.prune();
        let mut stale = cp.stale.lock().unwrap().clone();
        stale.sort();
        assert_eq!(stale, vec!["k1".to_string(), key]);
        let _ = std::fs::remove_dir_all(&d);
    }

    /// Rows are loaded in chunks (one per row here), a row of no bytes included; a database
    /// taken gives back the chunks of its rows, the rows `flush` wrote again theirs.
    #[test]
    fn chunks_are_given_back_as_their_rows_are_taken() {
        let d = dir("chunks");
        write_two_sources(&d);
        let path = d.join("checkpoint");
        let raw = Connection::open(&path).unwrap();
        raw.execute("INSERT INTO sources (key, sum, data) VALUES ('', ?1, x'')", params![checksum("", b"")]).unwrap();
        drop(raw);
        let hasher = foldhash::fast::RandomState::default();
        let (chunks, spans) = load_share(&path, i64::MIN, i64::MAX, 1, &hasher).unwrap();
        assert_eq!((chunks.len(), spans.len()), (4, 4), "a chunk per row, the empty one too");
        assert!(spans.iter().all(|(_, s)| (s.buf as usize) < chunks.len()));
        let (chunks, spans) = load_share(&path, i64::MIN, i64::MAX, CHUNK, &hasher).unwrap();
        assert_eq!((chunks.len(), spans.len()), (1, 4));
        // Loaded with one chunk per row: taking k1 (a database and its session row) gives
        // back two chunks; k2 re-offered and flushed, a third; the empty row's stays.
        let (cp, refused) = Checkpoint::open(&d, 1).unwrap();
        assert_eq!(refused, None);
        {
            let mut kept = cp.kept.lock().unwrap();
            let fresh = load(&path, 1).unwrap();
            assert_eq!(fresh.rows.len(), 4);
            // The same rows, one chunk each.
            let mut k = Kept { hasher: kept.hasher.clone(), left: 4, ..Kept::default() };
            let (chunks, spans) = load_share(&path, i64::MIN, i64::MAX, 1, &k.hasher).unwrap();
            k.bufs = chunks.into_iter().map(Arc::new).collect();
            k.unfinished = vec![1; k.bufs.len()];
            for (i, (h, span)) in spans.into_iter().enumerate() {
                k.by_hash.insert(h, i as u32);
                k.rows.push(span);
            }
            *kept = k;
        }
        let live = |cp: &Checkpoint| cp.kept.lock().unwrap().bufs.iter().filter(|b| !b.is_empty()).count();
        assert_eq!(live(&cp), 3, "the empty row's chunk holds no bytes");
        assert!(cp.take("k1").is_some());
        assert_eq!((live(&cp), cp.loaded()), (1, 2));
        cp.offer("k2".into(), saved());
        let full = std::mem::take(&mut *cp.fresh.lock().unwrap());
        cp.flush(full);
        assert_eq!((live(&cp), cp.loaded()), (0, 1));
        cp.prune();
        assert_eq!(cp.stale.lock().unwrap().clone(), vec![String::new()]);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn rows_past_the_threshold_are_written_at_once_and_not_pruned() {
        let d = dir("flush");
        {
            let (cp, _) = Checkpoint::open(&d, 1).unwrap();
            cp.offer("k1".into(), saved());
            cp.offer("k2".into(), saved());
            cp.write().unwrap();
        }
        let (mut cp, _) = Checkpoint::open(&d, 1).unwrap();
        assert_eq!(cp.loaded(), 4);
        cp.flush_at = 1;
        // k1 changed: read again and offered under its key; written at once, in the file
        // before the cold index ends.
        let mut changed = saved();
        changed.tally.events = 77;
        cp.offer("k1".into(), changed);
        assert!(crate::sync::lock(&cp.fresh).rows.is_empty());
        let raw = Connection::open(d.join("checkpoint")).unwrap();
        let n: i64 = raw.query_row("SELECT count(*) FROM sources", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 4);
        // Its loaded rows are taken: not pruned (which would delete what was just written).
        assert_eq!(cp.loaded(), 2);
        assert_eq!(cp.take("k2").map(|s| s.tally.events), Some(5));
        cp.prune();
        assert!(crate::sync::lock(&cp.stale).is_empty());
        assert_eq!(cp.write().unwrap(), 2, "the flushed rows count at the write");
        drop(cp);
        let (cp, _) = Checkpoint::open(&d, 1).unwrap();
        assert_eq!(cp.loaded(), 4);
        assert_eq!(cp.take("k1").map(|s| (s.tally.events, s.db.unwrap().sessions[0].1.events)), Some((77, 5)));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_key_twice_refuses_the_file() {
        let d = dir("twice");
        {
            let (cp, _) = Checkpoint::open(&d, 1).unwrap();
            cp.offer("k2".into(), Saved { metas: saved().metas, ..Saved::default() });
            cp.write().unwrap();
        }
        // A table without its primary key, the row in it twice (a file made by hand).
        let raw = Connection::open(d.join("checkpoint")).unwrap();
        raw.execute_batch(
            "CREATE TABLE s2 AS SELECT * FROM sources; DROP TABLE sources; ALTER TABLE s2 RENAME TO sources;
             INSERT INTO sources SELECT * FROM sources;",
        )
        .unwrap();
        drop(raw);
        let (cp, refused) = Checkpoint::open(&d, 1).unwrap();
        assert_eq!(cp.loaded(), 0);
        assert!(refused.unwrap().contains("twice"));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_key_whose_hash_another_has_is_found() {
        let span = |at, taken| Span { buf: 0, at, key_len: 1, data_len: 1, taken, finished: false };
        let mut kept = Kept {
            bufs: vec![Arc::new(b"aXbY".to_vec())],
            unfinished: vec![2],
            rows: vec![span(0, false), span(2, false)],
            left: 2,
            ..Kept::default()
        };
        // "b" as if its hash were "a"'s: only in `clashes`.
        let h = kept.hasher.hash_one(b"a".as_slice());
        kept.by_hash.insert(h, 0);
        kept.clashes.push(1);
        assert_eq!((kept.find("a"), kept.find("b"), kept.find("c")), (Some(0), Some(1), None));
        kept.set_taken(1, true);
        assert_eq!((kept.find("b"), kept.left), (None, 1));
        assert_eq!(data_of(&kept.bufs[0], &kept.rows[1]), b"Y");
    }

    #[test]
    fn a_chunk_is_given_back_once_every_row_in_it_is_taken_for_good() {
        let span = |buf, at| Span { buf, at, key_len: 1, data_len: 1, taken: false, finished: false };
        let mut kept = Kept {
            bufs: vec![Arc::new(b"aXbY".to_vec()), Arc::new(b"cZ".to_vec())],
            unfinished: vec![2, 1],
            rows: vec![span(0, 0), span(0, 2), span(1, 0)],
            left: 3,
            ..Kept::default()
        };
        for (i, k) in ["a", "b", "c"].iter().enumerate() {
            kept.by_hash.insert(kept.hasher.hash_one(k.as_bytes()), i as u32);
        }
        // A row not taken is not finished; one taken and given back (it did not decode) is
        // not taken any more.
        kept.finish(&[1]);
        kept.set_taken(0, true);
        kept.set_taken(0, false);
        kept.finish(&[0]);
        assert_eq!((kept.unfinished.clone(), kept.bufs[0].len()), (vec![2, 1], 4));
        // One row of the first chunk taken for good, twice: the chunk stays for the other.
        kept.set_taken(0, true);
        kept.finish(&[0, 0]);
        assert_eq!((kept.unfinished.clone(), kept.bufs[0].len()), (vec![1, 1], 4));
        assert_eq!(kept.find("b"), Some(1));
        // A `take` still decoding holds its chunk: given back by the index, freed by the taker.
        let held = kept.chunk(&kept.rows[1]);
        kept.set_taken(1, true);
        kept.finish(&[1]);
        assert!(kept.bufs[0].is_empty());
        assert_eq!(data_of(&held, &kept.rows[1]), b"Y");
        assert_eq!((kept.find("c"), kept.bufs[1].len()), (Some(2), 2));
        assert_eq!(kept.left, 1);
    }

    #[test]
    fn another_price_table_garbage_or_a_bad_row_is_refused() {
        let d = dir("refuse");
        {
            let (cp, _) = Checkpoint::open(&d, 1).unwrap();
            cp.offer("k1".into(), saved());
            cp.write().unwrap();
        }
        let (cp, refused) = Checkpoint::open(&d, 2).unwrap();
        assert_eq!(cp.loaded(), 0);
        assert!(refused.unwrap().contains("prices"));
        cp.offer("k1".into(), saved());
        cp.write().unwrap();
        // Zeros of the same length: the rows no longer match their checksums.
        cp.conn.lock().unwrap().execute("UPDATE sources SET data = zeroblob(length(data))", []).unwrap();
        drop(cp);
        let (cp, refused) = Checkpoint::open(&d, 2).unwrap();
        assert_eq!(cp.loaded(), 0);
        assert!(refused.unwrap().contains("checksum"));
        drop(cp);
        std::fs::write(d.join("checkpoint"), b"not a database, not at all; just some bytes").unwrap();
        let (cp, refused) = Checkpoint::open(&d, 2).unwrap();
        assert_eq!(cp.loaded(), 0);
        assert!(refused.is_some());
        // The fresh file works.
        cp.offer("k2".into(), saved());
        cp.write().unwrap();
        drop(cp);
        assert_eq!(Checkpoint::open(&d, 2).unwrap().0.loaded(), 2);
        let _ = std::fs::remove_dir_all(&d);
    }
}
