//! Full-text search across every transcript: an SQLite FTS5 index of our own in
//! `<data-dir>/search.db`, filled by the search thread (`indexer.rs`) behind the watcher and
//! read by `GET /api/search` (`api/search.rs`).
//!
//! Why our own index and not OpenClaw's `session_transcript_fts`: OpenClaw's covers the message
//! text of its 2026.9 databases only (21 rows for the lab's 93 transcript rows: no tool
//! arguments, no tool results), nothing of the JSONL era or of archived transcripts, and its
//! `unicode61` tokenizer keeps a run of Chinese or Japanese as one word, so `中文` is not found
//! in `用中文写`. Ours indexes every event kind of every store and archive, and splits CJK text
//! into characters (`text.rs`). It is written by one thread with its own connection, in WAL
//! mode, so a search never waits for the indexer and neither ever takes the state lock for
//! longer than a copy of a session list.
//!
//! The FTS5 table is contentless (it keeps the words' positions, not the text); each event's
//! redacted text, at most [`text::MAX_TEXT`], is kept deflated in `docs.z`, and a hit's
//! snippet is cut from it (`text::snippet`). Measured on the 1 GB bench corpus: 944 MB on disk
//! with FTS5 keeping the text itself, SEE README with the text deflated beside a contentless
//! table. A session whose transcript is gone for good (purged: only the ledger's figures are
//! left) leaves the index too.

use rusqlite::{params, Connection, OpenFlags};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

mod indexer;
pub mod text;

pub use indexer::spawn;

/// The schema's version; another one (older or newer) is dropped and rebuilt.
const VERSION: i64 = 3;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
  num INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  agent TEXT NOT NULL,
  -- The next seq to read, and the session's event count and state when it was read.
  next_seq INTEGER NOT NULL,
  events INTEGER NOT NULL,
  sig INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS docs (
  rowid INTEGER PRIMARY KEY,
  session INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  ts INTEGER,
  kind TEXT NOT NULL,
  tool TEXT,
  -- The redacted text, deflated: the snippets are cut from it.
  z BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS docs_session ON docs(session);
-- `tags`: the event's agent and kind as words of their own (`tag`), so that a filter is one
-- more term FTS5 intersects, not a check of every hit of a common word.
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(
  text, tags, content = '', contentless_delete = 1, tokenize = 'unicode61 remove_diacritics 2'
);
";

/// What the search thread reports (on `/api/health` and with every answer).
#[derive(Debug, Clone, Default)]
pub struct Status {
    /// `off` (no data dir, or `--no-search`), `waiting` (for the first index), `building`,
    /// `ready`, `failed`.
    pub state: &'static str,
    pub sessions_total: u64,
    pub sessions_done: u64,
    pub docs: u64,
    /// Transcript bytes (raw lines) read and text bytes indexed since start.
    pub bytes_read: u64,
    pub text_bytes: u64,
    /// The first build: how long it took.
    pub build_ms: Option<u64>,
    /// Lines that could not be read (counted, skipped).
    pub unreadable: u64,
    pub last_error: Option<String>,
}

/// The search index: where it is and what its thread reports.
pub struct Search {
    pub path: PathBuf,
    pub status: Mutex<Status>,
}

/// A search's answer.
pub struct Found {
    pub items: Vec<Hit>,
    /// The cursor for the next page (older hits), when there may be more.
    pub next: Option<i64>,
}

pub struct Hit {
    pub cursor: i64,
    pub session: String,
    pub seq: i64,
    pub ts: Option<i64>,
    pub kind: String,
    pub tool: Option<String>,
    pub snippet: Vec<Value>,
}

/// Narrows a search.
#[derive(Default)]
pub struct Filter<'a> {
    pub agent: Option<&'a str>,
    pub session: Option<&'a str>,
    pub kind: Option<&'a str>,
    /// Hits older than this cursor only (the next page).
    pub before: Option<i64>,
    pub limit: usize,
}

impl Search {
    /// The index in `<data_dir>/search.db`, not opened yet (the thread opens it).
    pub fn new(data_dir: &Path) -> Search {
        Search {
            path: data_dir.join("search.db"),
            status: Mutex::new(Status { state: "waiting", ..Status::default() }),
        }
    }

    /// A search that is off: every query says so.
    pub fn off() -> Search {
        Search { path: PathBuf::new(), status: Mutex::new(Status { state: "off", ..Status::default() }) }
    }

    pub fn status(&self) -> Status {
        crate::sync::lock(&self.status).clone()
    }

    /// The status as JSON (health, answers).
    pub fn status_json(&self) -> Value {
        let s = self.status();
        let bytes = std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0)
            + std::fs::metadata(self.path.with_extension("db-wal")).map(|m| m.len()).unwrap_or(0);
        json!({
            "state": s.state, "sessions": s.sessions_total, "sessionsIndexed": s.sessions_done,
            "docs": s.docs, "bytesRead": s.bytes_read, "textBytes": s.text_bytes, "buildMs": s.build_ms,
            "diskBytes": bytes, "unreadable": s.unreadable, "lastError": s.last_error,
        })
    }

    /// Runs a query (see [`text::parse_query`]) newest first: hits in the order they were
    /// indexed, which is the order of the sessions' last activity at the first build and the
    /// order of arrival after it.
    pub fn find(&self, q: &text::Query, f: &Filter) -> Result<Found, String> {
        let conn =
            Connection::open_with_flags(&self.path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
                .map_err(|e| format!("the search index cannot be opened: {e}"))?;
        conn.busy_timeout(std::time::Duration::from_secs(2)).ok();
        conn.execute_batch("PRAGMA cache_size = -1024").ok();
        let mut sql = String::from(
            "SELECT fts.rowid, s.id, d.seq, d.ts, d.kind, d.tool, d.z \
             FROM fts JOIN docs d ON d.rowid = fts.rowid JOIN sessions s ON s.num = d.session \
             WHERE fts MATCH ?1 AND fts.rowid < ?2",
        );
        // Agent and kind are terms of the match; the session (one session's few hits) a join.
        let mut fts = format!("text : ({})", q.fts);
        for t in [f.agent.map(|a| tag("ag", a)), f.kind.map(|k| tag("kd", k))].into_iter().flatten() {
            fts.push_str(&format!(" AND tags : {t}"));
        }
        let mut args: Vec<rusqlite::types::Value> = vec![fts.into(), f.before.unwrap_or(i64::MAX).into()];
        if let Some(id) = f.session {
            args.push(id.to_string().into());
            sql.push_str(&format!(" AND s.id = ?{}", args.len()));
        }
        sql.push_str(&format!(" ORDER BY fts.rowid DESC LIMIT {}", f.limit + 1));
        let mut stmt = conn.prepare(&sql).map_err(|e| format!("search: {e}"))?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args), |r| {
                Ok(Hit {
                    cursor: r.get(0)?,
                    session: r.get(1)?,
                    seq: r.get(2)?,
                    ts: r.get(3)?,
                    kind: r.get(4)?,
                    tool: r.get(5)?,
                    snippet: text::snippet(&inflate(&r.get::<_, Vec<u8>>(6)?), q),
                })
            })
            .map_err(|e| format!("search: {e}"))?;
        let mut items = Vec::new();
        for r in rows {
            items.push(r.map_err(|e| format!("search: {e}"))?);
        }
        let next = if items.len() > f.limit {
            items.truncate(f.limit);
            items.last().map(|h| h.cursor)
        } else {
            None
        };
        Ok(Found { items, next })
    }
}

/// Opens (creating, or rebuilding when its version differs or it cannot be read) the index
/// for writing.
fn open_for_writing(path: &Path) -> Result<Connection, String> {
    let open = || -> Result<Connection, String> {
        let conn = Connection::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).ok();
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA journal_size_limit = 16777216; \
             PRAGMA cache_size = -2048;",
        )
        .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(conn)
    };
    let version = open().ok().and_then(|conn| {
        let v: Option<i64> = conn
            .query_row("SELECT value FROM meta WHERE key = 'version'", [], |r| r.get::<_, String>(0))
            .ok()
            .and_then(|v| v.parse().ok());
        Some((conn, v?))
    });
    if let Some((conn, VERSION)) = version {
        return Ok(conn);
    }
    drop(version);
    // A foreign, damaged or new index: start again from nothing.
    for ext in ["db", "db-wal", "db-shm"] {
        let _ = std::fs::remove_file(path.with_extension(ext));
    }
    let conn = open()?;
    conn.execute_batch(SCHEMA)
        .and_then(|_| {
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('version', ?1)", params![VERSION.to_string()]).map(|_| ())
        })
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(conn)
}

/// A document's text, deflated for `docs.z` (fast level: the first build of a big history
/// writes hundreds of megabytes).
fn deflate(text: &str) -> Vec<u8> {
    use std::io::Write;
    let mut e =
        flate2::write::DeflateEncoder::new(Vec::with_capacity(text.len() / 3 + 16), flate2::Compression::new(3));
    let _ = e.write_all(text.as_bytes());
    e.finish().unwrap_or_default()
}

/// `docs.z` back to text (at most a little over [`text::MAX_TEXT`]; a damaged blob gives what
/// could be read).
fn inflate(z: &[u8]) -> String {
    use std::io::Read;
    let mut out = Vec::new();
    let _ = flate2::read::DeflateDecoder::new(z).take(text::MAX_TEXT as u64 + 4096).read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// A filter value as one word of the `tags` column: a prefix and the value's bytes in hex
/// (letters and digits only, so the tokenizer keeps it whole; the same on every build).
fn tag(prefix: &str, value: &str) -> String {
    format!("{prefix}{}", crate::codec::hex(value.as_bytes()))
}

/// The `tags` of an event.
fn tags(agent: &str, kind: &str) -> String {
    format!("{} {}", tag("ag", agent), tag("kd", kind))
}
